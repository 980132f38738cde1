import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_URL, startTestServer, type TestServer } from '../helpers/server.js';

const database = DATABASE_URL === undefined ? 'embedded PGlite' : 'PostgreSQL at DATABASE_URL';

const PLACE_ORDER = `mutation($productId: ID!, $quantity: Int!) {
  placeOrder(productId: $productId, quantity: $quantity) { id quantity totalCents createdAt product { id } }
}`;
const SET_PRICE = `mutation($id: ID!, $priceCents: Int!) {
  updateProductPrice(id: $id, priceCents: $priceCents) { id priceCents stats { unitsSold revenueCents } }
}`;
const SUMMARY = '{ salesSummary { orderCount revenueCents averageOrderCents } }';
const STATS = 'query($id: ID!) { product(id: $id) { stats { unitsSold revenueCents } } }';

/** `total / count` rounded half up, in bigint: what averageOrderCents must say. */
const halfUp = (total: bigint, count: number) =>
  ((2n * total + BigInt(count)) / (2n * BigInt(count))).toString();

describe(`money and counts that cannot overflow (${database})`, () => {
  let t: TestServer;
  let operator: string;
  beforeAll(async () => {
    t = await startTestServer();
    operator = await t.token(1, { operator: true });
  });
  afterAll(async () => {
    await t.close();
  });

  /** Orders in the database, read past every cache. */
  const ordersInDatabase = async () => (await t.server.data.salesSummary()).orderCount;

  const setPrice = async (id: number, priceCents: number) => {
    const reply = await t.request(SET_PRICE, { token: operator, variables: { id: String(id), priceCents } });
    expect(reply.body.errors).toBeUndefined();
  };

  const placeOrder = async (customerId: number, productId: number, quantity: number) =>
    t.request<{ placeOrder: Record<string, unknown> }, Record<string, unknown>>(PLACE_ORDER, {
      token: await t.token(customerId),
      variables: { productId: String(productId), quantity },
    });

  /** The customer's newest order as the database holds it, in the shape the mutation answers. */
  const newestRow = async (customerId: number) => {
    const [row] = await t.server.data.recentOrders(customerId, 1);
    return (
      row && {
        id: String(row.id),
        quantity: row.quantity,
        totalCents: row.totalCents,
        createdAt: row.createdAt,
        product: { id: String(row.productId) },
      }
    );
  };

  it('places the largest accepted order (1000 at 10,000,000 cents) and answers its exact total, the row it wrote', async () => {
    await setPrice(31, 10_000_000);
    const before = await ordersInDatabase();
    const reply = await placeOrder(11, 31, 1_000);
    expect(reply.status).toBe(200);
    expect(reply.body.errors).toBeUndefined();
    expect(reply.body.data?.placeOrder).toMatchObject({ quantity: 1_000, totalCents: '10000000000' });
    expect(await ordersInDatabase()).toBe(before + 1);
    expect(reply.body.data?.placeOrder).toEqual(await newestRow(11));
    const viewer = await t.request('{ viewer { recentOrders(limit: 1) { totalCents } } }', {
      token: await t.token(11),
    });
    expect(viewer.body).toEqual({ data: { viewer: { recentOrders: [{ totalCents: '10000000000' }] } } });
  });

  it('answers revenue past 2^31 exactly in salesSummary and the product stats, for every client', async () => {
    const summaryBefore = (await t.request(SUMMARY)).body.data as {
      salesSummary: { orderCount: number; revenueCents: string };
    };
    const statsBefore = (await t.request(STATS, { variables: { id: '32' } })).body.data as {
      product: { stats: { unitsSold: number; revenueCents: string } };
    };
    await setPrice(32, 10_000_000);
    for (const customer of [12, 13])
      expect((await placeOrder(customer, 32, 1_000)).body.errors).toBeUndefined();

    const revenue = BigInt(summaryBefore.salesSummary.revenueCents) + 20_000_000_000n;
    expect(revenue).toBeGreaterThan(2n ** 31n);
    const orderCount = summaryBefore.salesSummary.orderCount + 2;
    const expected = {
      data: {
        salesSummary: {
          orderCount,
          revenueCents: revenue.toString(),
          averageOrderCents: halfUp(revenue, orderCount),
        },
      },
    };
    // Each of several clients (and a repeat, from the caches) gets the exact figures.
    for (let i = 0; i < 3; i++) expect((await t.request(SUMMARY)).body).toEqual(expected);
    expect((await t.request(STATS, { variables: { id: '32' } })).body).toEqual({
      data: {
        product: {
          stats: {
            unitsSold: statsBefore.product.stats.unitsSold + 2_000,
            revenueCents: (BigInt(statsBefore.product.stats.revenueCents) + 20_000_000_000n).toString(),
          },
        },
      },
    });
  });

  it('refuses a quantity out of 1..1000 with BAD_USER_INPUT before the data layer writes anything', async () => {
    await setPrice(33, 10_000_000);
    const before = await ordersInDatabase();
    const sentBefore = t.server.data.queryCounts().placeOrder;
    for (const quantity of [0, -1, 1_001, 2_147_483_647]) {
      const reply = await placeOrder(14, 33, quantity);
      expect(reply.body, String(quantity)).toEqual({
        data: null,
        errors: [
          expect.objectContaining({
            message: `quantity must be an integer from 1 to 1000; received ${quantity}`,
            extensions: { code: 'BAD_USER_INPUT' },
          }),
        ],
      });
    }
    // Past Int itself, or not an integer: GraphQL's own variable coercion refuses it (a 400).
    for (const quantity of [2_147_483_648, 1.5]) {
      const reply = await placeOrder(14, 33, quantity);
      expect(reply.status).toBe(400);
      expect(reply.body.errors?.[0]?.message).toMatch(/^Variable "\$quantity" got invalid value /);
    }
    expect(t.server.data.queryCounts().placeOrder).toBe(sentBefore);
    expect(await ordersInDatabase()).toBe(before);
  });

  it('refuses a price out of 0..10,000,000 with BAD_USER_INPUT and leaves the price as it was', async () => {
    await setPrice(34, 1_234);
    const sentBefore = t.server.data.queryCounts().updateProductPrice;
    for (const priceCents of [10_000_001, -1, 2_147_483_647]) {
      const reply = await t.request(SET_PRICE, { token: operator, variables: { id: '34', priceCents } });
      expect(reply.body, String(priceCents)).toEqual({
        data: null,
        errors: [
          expect.objectContaining({
            message: `priceCents must be an integer from 0 to 10000000; received ${priceCents}`,
            extensions: { code: 'BAD_USER_INPUT' },
          }),
        ],
      });
    }
    expect(t.server.data.queryCounts().updateProductPrice).toBe(sentBefore);
    expect(await t.server.data.productsByIds([34])).toEqual([
      { id: 34, name: 'Product 34', priceCents: 1_234 },
    ]);
  });

  it('never commits and then fails: an error wrote nothing, and every answer is the row written', async () => {
    const outcomes: Array<{ order: string; answered: 'error' | 'order'; written: number }> = [];
    const answers: Array<{ order: string; answer: unknown; row: unknown; total: string }> = [];
    for (const priceCents of [0, 10_000_000]) {
      await setPrice(35, priceCents);
      for (const quantity of [0, 1, 999, 1_000, 1_001]) {
        const before = await ordersInDatabase();
        const reply = await placeOrder(15, 35, quantity);
        const order = `${quantity} at ${priceCents}`;
        const written = (await ordersInDatabase()) - before;
        outcomes.push({ order, answered: reply.body.errors === undefined ? 'order' : 'error', written });
        if (reply.body.errors === undefined) {
          answers.push({
            order,
            answer: reply.body.data?.placeOrder,
            row: await newestRow(15),
            total: String(BigInt(quantity) * BigInt(priceCents)),
          });
        } else {
          expect(reply.body.data, order).toBeNull();
        }
      }
    }
    // An error wrote nothing and an answer wrote one order; every accepted quantity (1, 999, 1000)
    // at every accepted price (0, the largest) was placed.
    const expected = (order: string, accepted: boolean) =>
      accepted ? { order, answered: 'order', written: 1 } : { order, answered: 'error', written: 0 };
    expect(outcomes).toEqual(
      [0, 10_000_000].flatMap((price) =>
        [0, 1, 999, 1_000, 1_001].map((quantity) =>
          expected(`${quantity} at ${price}`, quantity >= 1 && quantity <= 1_000),
        ),
      ),
    );
    // What each answer says is the row in the database, total included.
    for (const { order, answer, row, total } of answers) {
      expect(answer, order).toEqual(row);
      expect((answer as { totalCents: unknown }).totalCents, order).toBe(total);
    }

    // A price change answers the product with its stats, whose revenue is now past 2^31: the
    // answer is the row written, not an error after the write.
    const reply = await t.request(SET_PRICE, {
      token: operator,
      variables: { id: '35', priceCents: 9_999_999 },
    });
    expect(reply.body.errors).toBeUndefined();
    const [row] = await t.server.data.productsByIds([35]);
    const [stats] = await t.server.data.productStatsByIds([35]);
    expect(BigInt(stats!.revenueCents)).toBeGreaterThan(2n ** 31n);
    expect(reply.body.data).toEqual({
      updateProductPrice: {
        id: '35',
        priceCents: row!.priceCents,
        stats: { unitsSold: stats!.unitsSold, revenueCents: stats!.revenueCents },
      },
    });
    expect(row!.priceCents).toBe(9_999_999);
  });
});
