import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { dropShopSchema, openShopData, type ShopData } from '../../src/app/data/index.js';

// Included by vitest.config.ts only when DATABASE_URL is set (as .ci/run's PostgreSQL pass does).
const url = process.env.DATABASE_URL ?? '';
const SMALL = { products: 50, customers: 40, orders: 2_000 };
const SMALL_SUMMARY = { orderCount: 2_000, revenueCents: 8_233_700, averageOrderCents: 4_117 };
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
