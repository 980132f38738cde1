import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dropShopSchema,
  InvalidInputError,
  NotFoundError,
  type OrderRow,
  openShopData,
  type ShopData,
} from '../../src/app/data/index.js';

/** Postgres suites run when DATABASE_URL is set (e.g. postgres://postgres@127.0.0.1:5432/test). */
const DATABASE_URL = process.env.DATABASE_URL;

const SMALL = { products: 50, customers: 40, orders: 2_000 };

/**
 * salesSummary of the SMALL seed. Hard-coded, so both drivers (and every run) must produce the
 * same rows: the seed is deterministic arithmetic, not Math.random.
 */
const SMALL_SUMMARY = { orderCount: 2_000, revenueCents: '8233700', averageOrderCents: '4117' };

/** The same for the default seed (1 000 products, 1 000 customers, 200 000 orders). */
const DEFAULT_SUMMARY = { orderCount: 200_000, revenueCents: '788688997', averageOrderCents: '3943' };

/** An amount (Cents, a decimal string) plus cents, as Cents. */
const plus = (cents: string, more: string | number) => String(BigInt(cents) + BigInt(more));
/** `total / count` rounded half up, in bigint (the reference for averageOrderCents). */
const halfUp = (total: string, count: number) =>
  String((2n * BigInt(total) + BigInt(count)) / (2n * BigInt(count)));

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const byId = <T extends { id: number }>(rows: T[]) => [...rows].sort((a, b) => a.id - b.id);

/** Every count by statement name, 0 for those not listed. */
function counts(sent: Record<string, number> = {}): Record<string, number> {
  const zero = Object.fromEntries(
    [
      'productsByIds',
      'productStatsByIds',
      'topProducts',
      'salesSummary',
      'customersByIds',
      'recentOrders',
      'placeOrder',
      'updateProductPrice',
    ].map((name) => [name, 0]),
  );
  return { ...zero, ...sent };
}

/** The difference of two queryCounts() snapshots, names with a change only. */
function sentBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const sent: Record<string, number> = {};
  for (const [name, count] of Object.entries(after)) {
    const delta = count - (before[name] ?? 0);
    if (delta !== 0) sent[name] = delta;
  }
  return sent;
}

/** Newest first: created_at descending, then id descending. */
function expectNewestFirst(orders: OrderRow[]): void {
  for (let i = 1; i < orders.length; i++) {
    const newer = orders[i - 1]!;
    const older = orders[i]!;
    const ordered =
      newer.createdAt > older.createdAt || (newer.createdAt === older.createdAt && newer.id > older.id);
    expect(ordered, `order ${newer.id} before ${older.id}`).toBe(true);
  }
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

interface Target {
  label: string;
  kind: 'pglite' | 'postgres';
  databaseUrl: string | undefined;
}

const targets: Target[] = [
  { label: 'PGlite', kind: 'pglite', databaseUrl: undefined },
  ...(DATABASE_URL === undefined
    ? []
    : [{ label: 'Postgres', kind: 'postgres' as const, databaseUrl: DATABASE_URL }]),
];

/** A schema of its own per suite (a-z0-9_), dropped in afterAll. */
const uniqueSchema = (label: string) => `t_${label}_${randomBytes(4).toString('hex')}`;

describe.each(targets)('shop data on $label', ({ kind, databaseUrl }) => {
  const schemas: string[] = [];
  const opened: ShopData[] = [];
  const open = async (seed: { products?: number; customers?: number; orders?: number }) => {
    const schema = uniqueSchema('data');
    schemas.push(schema);
    const data = await openShopData({ ...(databaseUrl === undefined ? {} : { databaseUrl }), schema, seed });
    opened.push(data);
    return data;
  };
  let data: ShopData;

  beforeAll(async () => {
    data = await open(SMALL);
  });

  afterAll(async () => {
    await Promise.all(opened.map((each) => each.close()));
    if (databaseUrl !== undefined) {
      for (const schema of schemas) await dropShopSchema(databaseUrl, schema);
    }
  });

  it(`runs on ${kind}`, () => {
    expect(data.kind).toBe(kind);
  });

  it('seeds the requested sizes, with ids from 1, with the same rows on every driver', async () => {
    const products = byId(await data.productsByIds(range(1, 60)));
    expect(products.map((row) => row.id)).toEqual(range(1, 50));
    expect(products[0]).toEqual({ id: 1, name: 'Product 1', priceCents: expect.any(Number) });
    for (const row of products) {
      expect(row.name).toBe(`Product ${row.id}`);
      expect(Number.isInteger(row.priceCents) && row.priceCents >= 99 && row.priceCents <= 2_499).toBe(true);
    }
    const customers = byId(await data.customersByIds(range(1, 45)));
    expect(customers).toEqual(range(1, 40).map((id) => ({ id, name: `Customer ${id}` })));
    expect(await data.salesSummary()).toEqual(SMALL_SUMMARY);
  });

  it('returns the rows of the ids that exist, once each, and ignores ids no row can have', async () => {
    const before = data.queryCounts();
    const products = byId(await data.productsByIds([3, 1, 3, 51, 0, -1, 2 ** 31, 1]));
    expect(products.map((row) => row.id)).toEqual([1, 3]);
    const customers = byId(await data.customersByIds([40, 41, 40]));
    expect(customers).toEqual([{ id: 40, name: 'Customer 40' }]);
    expect(sentBetween(before, data.queryCounts())).toEqual({ productsByIds: 1, customersByIds: 1 });
  });

  it('sends nothing for an empty id list, or one whose ids no row can have', async () => {
    const before = data.queryCounts();
    expect(await data.productsByIds([])).toEqual([]);
    expect(await data.productStatsByIds([])).toEqual([]);
    expect(await data.customersByIds([])).toEqual([]);
    expect(await data.productsByIds([0, -4, 2 ** 40])).toEqual([]);
    expect(await data.recentOrders(0, 5)).toEqual([]);
    expect(await data.updateProductPrice(-1, 100)).toBeNull();
    expect(data.queryCounts()).toEqual(before);
  });

  it('counts one statement per call, by statement name, and hands out a copy of the counts', async () => {
    const before = data.queryCounts();
    expect(Object.keys(before).sort()).toEqual(Object.keys(counts()).sort());
    await data.productsByIds([1]);
    await data.productStatsByIds([1, 2]);
    await data.topProducts(3);
    await data.topProducts(4);
    await data.salesSummary();
    await data.customersByIds([1]);
    await data.recentOrders(1, 2);
    expect(sentBetween(before, data.queryCounts())).toEqual({
      productsByIds: 1,
      productStatsByIds: 1,
      topProducts: 2,
      salesSummary: 1,
      customersByIds: 1,
      recentOrders: 1,
    });
    const snapshot = data.queryCounts();
    snapshot.salesSummary = 1_000;
    expect(data.queryCounts().salesSummary).not.toBe(1_000);
  });

  it('gives stats for every existing product asked, summing to the sales summary', async () => {
    const stats = await data.productStatsByIds([...range(1, 50), 51, 1]);
    expect(stats.map((row) => row.productId).sort((a, b) => a - b)).toEqual(range(1, 50));
    const summary = await data.salesSummary();
    expect(stats.reduce((sum, row) => plus(sum, row.revenueCents), '0')).toBe(summary.revenueCents);
    for (const row of stats) {
      expect(Object.keys(row).sort()).toEqual(['productId', 'revenueCents', 'unitsSold']);
      expect(Number.isInteger(row.unitsSold)).toBe(true);
      expect(row.revenueCents).toMatch(/^(0|[1-9][0-9]*)$/);
    }
    expect(summary.averageOrderCents).toBe(halfUp(summary.revenueCents, summary.orderCount));
  });

  it('ranks top products by units sold then id, agreeing with the per-product stats', async () => {
    const [top, stats, products] = await Promise.all([
      data.topProducts(100),
      data.productStatsByIds(range(1, 50)),
      data.productsByIds(range(1, 50)),
    ]);
    const expected = stats
      .map((row) => {
        const product = products.find((each) => each.id === row.productId)!;
        return { ...product, unitsSold: row.unitsSold, revenueCents: row.revenueCents };
      })
      .sort((a, b) => b.unitsSold - a.unitsSold || a.id - b.id);
    expect(top).toEqual(expected);
    // The seed's popularity is skewed: the leader sells far more than the last product.
    expect(top[0]!.unitsSold).toBeGreaterThan(4 * top[49]!.unitsSold);
    expect(await data.topProducts(5)).toEqual(top.slice(0, 5));
  });

  it("lists a customer's orders newest first, up to the limit, with totals at the seeded prices", async () => {
    const orders = await data.recentOrders(1, 50);
    expect(orders.length).toBeGreaterThan(10);
    expectNewestFirst(orders);
    const prices = new Map((await data.productsByIds(orders.map((o) => o.productId))).map((p) => [p.id, p]));
    for (const order of orders) {
      expect(order).toEqual({
        id: expect.any(Number),
        customerId: 1,
        productId: expect.any(Number),
        quantity: expect.any(Number),
        totalCents: String(order.quantity * prices.get(order.productId)!.priceCents),
        createdAt: expect.stringMatching(ISO),
      });
      expect(order.quantity >= 1 && order.quantity <= 5).toBe(true);
      expect(new Date(order.createdAt).toISOString()).toBe(order.createdAt);
    }
    expect(await data.recentOrders(1, 3)).toEqual(orders.slice(0, 3));
    expect(await data.recentOrders(41, 5)).toEqual([]);
  });

  it('rejects invalid arguments with E_INVALID_INPUT naming the argument, sending nothing', async () => {
    const before = data.queryCounts();
    const cases: Array<[string, () => Promise<unknown>]> = [
      ['limit', () => data.topProducts(0)],
      ['limit', () => data.topProducts(101)],
      ['limit', () => data.topProducts(2.5)],
      ['limit', () => data.recentOrders(1, 0)],
      ['limit', () => data.recentOrders(1, 51)],
      ['customerId', () => data.recentOrders(1.5, 5)],
      ['ids[1]', () => data.productsByIds([1, 1.5])],
      ['ids[0]', () => data.productStatsByIds(['1' as unknown as number])],
      ['ids[2]', () => data.customersByIds([1, 2, Number.NaN])],
      ['ids', () => data.customersByIds(7 as unknown as number[])],
      ['input.quantity', () => data.placeOrder({ customerId: 1, productId: 1, quantity: 0 })],
      ['input.quantity', () => data.placeOrder({ customerId: 1, productId: 1, quantity: 1_001 })],
      ['input.customerId', () => data.placeOrder({ customerId: Number.NaN, productId: 1, quantity: 1 })],
      ['input.productId', () => data.placeOrder({ customerId: 1, productId: 0.5, quantity: 1 })],
      ['input', () => data.placeOrder(null as never)],
      ['priceCents', () => data.updateProductPrice(1, -1)],
      ['priceCents', () => data.updateProductPrice(1, 10_000_001)],
      ['priceCents', () => data.updateProductPrice(1, 9.99)],
      ['id', () => data.updateProductPrice(Number.POSITIVE_INFINITY, 100)],
    ];
    for (const [field, call] of cases) {
      const error = await call().then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error, field).toBeInstanceOf(InvalidInputError);
      expect(error, field).toMatchObject({ code: 'E_INVALID_INPUT', field });
    }
    await expect(data.topProducts(0)).rejects.toThrow('limit must be an integer in 1..100; received 0');
    expect(data.queryCounts()).toEqual(before);
  });

  it('rejects an order for an unknown customer or product with E_NOT_FOUND, inserting nothing', async () => {
    const summary = await data.salesSummary();
    const before = data.queryCounts();
    await expect(data.placeOrder({ customerId: 41, productId: 1, quantity: 1 })).rejects.toMatchObject({
      name: 'NotFoundError',
      code: 'E_NOT_FOUND',
      entity: 'customer',
      id: 41,
      message: 'customer 41 does not exist',
    });
    await expect(data.placeOrder({ customerId: 1, productId: 51, quantity: 1 })).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
      entity: 'product',
      id: 51,
    });
    // Both unknown: the customer is named.
    await expect(data.placeOrder({ customerId: 99, productId: 99, quantity: 1 })).rejects.toMatchObject({
      entity: 'customer',
      id: 99,
    });
    // An id no row can have is not found without a statement.
    await expect(data.placeOrder({ customerId: 1, productId: 0, quantity: 1 })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect(sentBetween(before, data.queryCounts())).toEqual({ placeOrder: 3 });
    expect(await data.salesSummary()).toEqual(summary);
  });

  it('places an order at the current price, visible in the summary, the stats and the recent orders', async () => {
    const [summary, [stats], [product]] = await Promise.all([
      data.salesSummary(),
      data.productStatsByIds([7]),
      data.productsByIds([7]),
    ]);
    const before = data.queryCounts();
    const order = await data.placeOrder({ customerId: 3, productId: 7, quantity: 4 });
    expect(sentBetween(before, data.queryCounts())).toEqual({ placeOrder: 1 });
    expect(order).toEqual({
      id: expect.any(Number),
      customerId: 3,
      productId: 7,
      quantity: 4,
      totalCents: String(4 * product!.priceCents),
      createdAt: expect.stringMatching(ISO),
    });
    expect(order.id).toBeGreaterThan(SMALL.orders);
    // Seeded orders are dated before 2024; a placed one is dated now().
    expect(order.createdAt > '2024-01-01T00:00:00.000Z').toBe(true);

    const orderCount = summary.orderCount + 1;
    const revenueCents = plus(summary.revenueCents, order.totalCents);
    expect(await data.salesSummary()).toEqual({
      orderCount,
      revenueCents,
      averageOrderCents: halfUp(revenueCents, orderCount),
    });
    expect(await data.productStatsByIds([7])).toEqual([
      {
        productId: 7,
        unitsSold: stats!.unitsSold + 4,
        revenueCents: plus(stats!.revenueCents, order.totalCents),
      },
    ]);
    const recent = await data.recentOrders(3, 5);
    expect(recent[0]).toEqual(order);
    expectNewestFirst(recent);
  });

  it('updates a price for later orders only, and answers null for an unknown product', async () => {
    const [product] = await data.productsByIds([9]);
    const first = await data.placeOrder({ customerId: 5, productId: 9, quantity: 2 });
    expect(first.totalCents).toBe(String(2 * product!.priceCents));

    const before = data.queryCounts();
    const updated = await data.updateProductPrice(9, 12_345);
    expect(updated).toEqual({ id: 9, name: 'Product 9', priceCents: 12_345 });
    expect(await data.productsByIds([9])).toEqual([updated]);
    expect(await data.updateProductPrice(51, 100)).toBeNull();
    expect(sentBetween(before, data.queryCounts())).toEqual({ updateProductPrice: 2, productsByIds: 1 });

    const second = await data.placeOrder({ customerId: 5, productId: 9, quantity: 3 });
    expect(second.totalCents).toBe(String(3 * 12_345));
    const recent = await data.recentOrders(5, 2);
    expect(recent).toEqual([second, first]);
    expect(await data.updateProductPrice(9, 0)).toEqual({ id: 9, name: 'Product 9', priceCents: 0 });
  });

  it('accepts a total beyond 32 bits, the largest quantity at the largest price, and sums it exactly', async () => {
    const [[statsBefore], summaryBefore] = await Promise.all([
      data.productStatsByIds([11]),
      data.salesSummary(),
    ]);
    await data.updateProductPrice(11, 10_000_000);
    const order = await data.placeOrder({ customerId: 2, productId: 11, quantity: 1_000 });
    expect(order.totalCents).toBe('10000000000');
    expect((await data.recentOrders(2, 1))[0]).toEqual(order);
    const [stats] = await data.productStatsByIds([11]);
    expect(stats).toEqual({
      productId: 11,
      unitsSold: statsBefore!.unitsSold + 1_000,
      revenueCents: plus(statsBefore!.revenueCents, '10000000000'),
    });
    const summary = await data.salesSummary();
    const revenueCents = plus(summaryBefore.revenueCents, '10000000000');
    expect(BigInt(revenueCents)).toBeGreaterThan(2n ** 31n);
    expect(summary).toEqual({
      orderCount: summaryBefore.orderCount + 1,
      revenueCents,
      averageOrderCents: halfUp(revenueCents, summaryBefore.orderCount + 1),
    });
    expect((await data.topProducts(100)).find((row) => row.id === 11)?.revenueCents).toBe(
      stats!.revenueCents,
    );
  });

  it('reports zeros for a shop without orders, then counts its first order exactly', async () => {
    const empty = await open({ products: 3, customers: 2, orders: 0 });
    expect(await empty.salesSummary()).toEqual({ orderCount: 0, revenueCents: '0', averageOrderCents: '0' });
    expect(await empty.productStatsByIds([3, 2, 1, 4])).toEqual(
      expect.arrayContaining([1, 2, 3].map((productId) => ({ productId, unitsSold: 0, revenueCents: '0' }))),
    );
    const products = byId(await empty.productsByIds([1, 2, 3]));
    expect(await empty.topProducts(100)).toEqual(
      products.map((p) => ({ ...p, unitsSold: 0, revenueCents: '0' })),
    );
    expect(await empty.recentOrders(1, 50)).toEqual([]);

    const order = await empty.placeOrder({ customerId: 2, productId: 3, quantity: 3 });
    const total = String(3 * products[2]!.priceCents);
    expect(order).toMatchObject({ id: 1, customerId: 2, productId: 3, quantity: 3, totalCents: total });
    expect(await empty.salesSummary()).toEqual({
      orderCount: 1,
      revenueCents: total,
      averageOrderCents: total,
    });
    expect((await empty.topProducts(1))[0]).toEqual({ ...products[2], unitsSold: 3, revenueCents: total });
    expect(await empty.recentOrders(2, 50)).toEqual([order]);
  });

  it('rejects every call after close with E_DATA_CLOSED, and closes idempotently', async () => {
    const closing = await open({ products: 1, customers: 1, orders: 1 });
    await closing.close();
    await closing.close();
    await expect(closing.salesSummary()).rejects.toMatchObject({ code: 'E_DATA_CLOSED' });
    await expect(closing.productsByIds([1])).rejects.toMatchObject({ code: 'E_DATA_CLOSED' });
    expect(closing.queryCounts()).toEqual(counts());
  });
});

describe('shop data options', () => {
  it('rejects bad options with E_INVALID_OPTION before opening anything', async () => {
    await expect(openShopData({ schema: 'Shop-1' })).rejects.toMatchObject({ code: 'E_INVALID_OPTION' });
    await expect(openShopData({ schema: 'x'.repeat(64) })).rejects.toMatchObject({
      code: 'E_INVALID_OPTION',
    });
    await expect(openShopData({ databaseUrl: 'mysql://localhost/shop' })).rejects.toMatchObject({
      code: 'E_INVALID_OPTION',
    });
    await expect(openShopData({ seed: { orders: -1 } })).rejects.toThrow(
      'option "seed.orders" must be an integer in 0..10000000; received -1',
    );
    await expect(openShopData({ seed: { products: 0 } })).rejects.toMatchObject({ code: 'E_INVALID_OPTION' });
  });
});

describe('the default seed on PGlite', () => {
  // Two opens of the full seed (200,000 orders each) take 10-25 s on a busy 2-core machine: a
  // longer hang watchdog than the suites' 20 s, not an ordering device.
  it('has 1,000 products, 1,000 customers and 200,000 orders, identical on every open', {
    timeout: 60_000,
  }, async () => {
    const first = await openShopData();
    let second: ShopData | undefined;
    try {
      expect(first.kind).toBe('pglite');
      expect((await first.productsByIds(range(1, 1_001))).length).toBe(1_000);
      expect((await first.customersByIds(range(1, 1_001))).length).toBe(1_000);
      const summary = await first.salesSummary();
      expect(summary).toEqual(DEFAULT_SUMMARY);
      const top = await first.topProducts(10);
      // Skewed popularity: a clear leader, and no ties among the top ten.
      expect(top[0]!.unitsSold).toBeGreaterThan(2 * top[9]!.unitsSold);
      for (let i = 1; i < top.length; i++) expect(top[i - 1]!.unitsSold).toBeGreaterThan(top[i]!.unitsSold);

      second = await openShopData();
      expect(await second.salesSummary()).toEqual(DEFAULT_SUMMARY);
      expect(await second.topProducts(10)).toEqual(top);
    } finally {
      await Promise.all([first.close(), second?.close()]);
    }
  });
});
