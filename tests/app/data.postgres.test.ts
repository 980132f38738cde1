import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { dropShopSchema, openShopData, type ShopData } from '../../src/app/data/index.js';

// Included by vitest.config.ts only when DATABASE_URL is set (as .ci/run's PostgreSQL pass does).
const url = process.env.DATABASE_URL ?? '';
const SMALL = { products: 50, customers: 40, orders: 2_000 };
const SMALL_SUMMARY = { orderCount: 2_000, revenueCents: '8233700', averageOrderCents: '4117' };
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const uniqueSchema = (label: string) => `t_${label}_${randomBytes(4).toString('hex')}`;

describe('shop data on a shared Postgres', () => {
  it('seeds an empty schema once when four opens race for it', async () => {
    const schema = uniqueSchema('race');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const opened: ShopData[] = [];
    try {
      const results = await Promise.allSettled(
        range(1, 4).map(() => openShopData({ databaseUrl: url, schema, seed: SMALL })),
      );
      for (const result of results) if (result.status === 'fulfilled') opened.push(result.value);
      expect(results.map((result) => result.status)).toEqual([
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'fulfilled',
      ]);

      const count = async (table: string) =>
        Number((await client.query(`SELECT count(*) AS n FROM ${schema}.${table}`)).rows[0].n);
      expect(await count('products')).toBe(SMALL.products);
      expect(await count('customers')).toBe(SMALL.customers);
      expect(await count('orders')).toBe(SMALL.orders);
      for (const data of opened) expect(await data.salesSummary()).toEqual(SMALL_SUMMARY);

      // A later open with other sizes finds the schema seeded and leaves it as it is.
      const later = await openShopData({ databaseUrl: url, schema, seed: { products: 5, orders: 10 } });
      opened.push(later);
      expect(await later.salesSummary()).toEqual(SMALL_SUMMARY);
    } finally {
      await Promise.all(opened.map((data) => data.close()));
      await dropShopSchema(url, schema);
      const left = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
      await client.end();
      expect(left.rowCount).toBe(0);
    }
  });
});

describe('money past 2^53 on Postgres', () => {
  it('answers revenue, averages, stats and order totals exactly when sums pass 2^53', async () => {
    const schema = uniqueSchema('money');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    let data: ShopData | undefined;
    try {
      data = await openShopData({ databaseUrl: url, schema, seed: SMALL });
      const [[statsBefore], summaryBefore] = await Promise.all([
        data.productStatsByIds([3]),
        data.salesSummary(),
      ]);
      // placeOrder stops at 1e10 per order; orders written directly put the sums past 2^53 at once:
      // two of 2^53 + 1 (the first integer a JS number cannot hold), then three near the bigint
      // maximum, so the revenue passes 2^64 (numeric) and the average itself passes 2^53.
      const big = 2n ** 53n + 1n;
      const huge = 9_100_000_000_000_000_001n;
      await client.query(
        `INSERT INTO ${schema}.orders (customer_id, product_id, quantity, total_cents, created_at)
         VALUES (1, 3, 1, $2, now()), (1, 3, 1, $2, now()), (1, 3, 1, $2, now()),
           (1, 3, 1, $1, now() + interval '1 minute'), (1, 3, 2, $1, now() + interval '1 minute')`,
        [big.toString(), huge.toString()],
      );
      const newest = await data.recentOrders(1, 5);
      expect(newest.map((order) => order.totalCents).sort()).toEqual([
        '9007199254740993',
        '9007199254740993',
        '9100000000000000001',
        '9100000000000000001',
        '9100000000000000001',
      ]);

      const revenue = BigInt(summaryBefore.revenueCents) + 2n * big + 3n * huge;
      const orders = BigInt(summaryBefore.orderCount + 5);
      // 13624944837165943: past 2^53 and odd, so no double holds it (a double quotient gives ...942).
      expect((2n * revenue + orders) / (2n * orders)).toBe(13_624_944_837_165_943n);
      expect(await data.salesSummary()).toEqual({
        orderCount: summaryBefore.orderCount + 5,
        revenueCents: revenue.toString(),
        averageOrderCents: ((2n * revenue + orders) / (2n * orders)).toString(),
      });
      const productRevenue = (BigInt(statsBefore!.revenueCents) + 2n * big + 3n * huge).toString();
      expect(await data.productStatsByIds([3])).toEqual([
        { productId: 3, unitsSold: statsBefore!.unitsSold + 6, revenueCents: productRevenue },
      ]);
      expect((await data.topProducts(100)).find((row) => row.id === 3)?.revenueCents).toBe(productRevenue);
    } finally {
      await data?.close();
      await client.end();
      await dropShopSchema(url, schema);
    }
  });
});
