import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropShopSchema, openShopData, type ShopData, type WriteProgress } from '../../src/app/data/index.js';

/** Postgres suites run when DATABASE_URL is set (e.g. postgres://postgres@127.0.0.1:5432/test). */
const DATABASE_URL = process.env.DATABASE_URL;
const SMALL = { products: 10, customers: 10, orders: 100 };

const drivers: Array<[string, string | undefined]> = [
  ['PGlite', undefined],
  ...(DATABASE_URL === undefined ? [] : ([['Postgres', DATABASE_URL]] as Array<[string, string]>)),
];

/** Signals and write progress, the same on both drivers. */
describe.each(drivers)('statements on %s', (_name, databaseUrl) => {
  const schema = databaseUrl === undefined ? undefined : `t_statements_${randomBytes(4).toString('hex')}`;
  let data: ShopData;
  const ordersOf = async (customerId: number) => (await data.recentOrders(customerId, 50)).length;

  beforeAll(async () => {
    data = await openShopData({
      seed: SMALL,
      ...(databaseUrl === undefined ? {} : { databaseUrl }),
      ...(schema === undefined ? {} : { schema }),
    });
  });
  afterAll(async () => {
    await data?.close();
    if (databaseUrl !== undefined && schema !== undefined) await dropShopSchema(databaseUrl, schema);
  });

  it('commits a write and reports its progress in order', async () => {
    const before = await ordersOf(1);
    const progress: WriteProgress[] = [];
    await data.placeOrder(
      { customerId: 1, productId: 1, quantity: 1 },
      { progress: (s) => progress.push(s) },
    );
    expect(progress).toEqual(['writing', 'committing', 'committed']);
    expect(await ordersOf(1)).toBe(before + 1);
  });

  it('rolls back a write whose signal aborts before it commits', async () => {
    const before = await ordersOf(2);
    const controller = new AbortController();
    const reason = new Error('past the deadline');
    const progress: WriteProgress[] = [];
    const placed = data.placeOrder(
      { customerId: 2, productId: 1, quantity: 1 },
      {
        signal: controller.signal,
        progress: (state) => {
          progress.push(state);
          // The transaction is open: the deadline passes now, while the statement runs.
          if (state === 'writing') controller.abort(reason);
        },
      },
    );
    await expect(placed).rejects.toBe(reason);
    expect(progress).toEqual(['writing']);
    expect(await ordersOf(2)).toBe(before);
  });

  it('sends no statement for a signal already aborted, and does not count it', async () => {
    const before = data.queryCounts().salesSummary;
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await expect(data.salesSummary({ signal: controller.signal })).rejects.toThrow('gone');
    expect(data.queryCounts().salesSummary).toBe(before);
  });
});
