import type { DocumentNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_INVALIDATION_TAGS } from '../../src/app/schema.js';
import {
  PlaceOrderDocument,
  SalesSummaryDocument,
  UpdateProductPriceDocument,
} from '../generated/graphql.js';
import { errorCodes, send } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const RECENT_ORDERS =
  '{ viewer { short: recentOrders(limit: 3) { id } long: recentOrders(limit: 50) { id } } }';
const product = (id: number) => `{ product(id: ${id}) { id priceCents } }`;
const PRODUCTS_7_9 = '{ products(ids: [7, 9]) { id priceCents } }';
/** Every product of the test seed (60), so product 7 is in it whatever the ranking. */
const TOP_ALL = '{ topProducts(limit: 60) { id priceCents } }';
const INVALIDATE =
  'mutation ($tags: [String!], $types: [String!]) { invalidateCache(tags: $tags, types: $types) { tags pending } }';
const SOFT_INVALIDATE =
  'mutation ($tags: [String!]) { invalidateCache(tags: $tags, soft: true) { tags pending } }';

/** Sends `query` until the response cache answers it (a second identical request is a HIT). */
async function cached(t: TestServer, query: string | DocumentNode): Promise<void> {
  const first = await send(t, query);
  expect(first.body.errors).toBeUndefined();
  expect((await send(t, query)).xCache).toBe('HIT');
}

describe('reads right after a write (one server, memory cache)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("shows a customer's new order in every cached limit of recentOrders, and in salesSummary", async () => {
    const token = await t.token(5);
    const before = await send(t, RECENT_ORDERS, { token });
    expect(before.body.data.viewer.short).toHaveLength(3);
    // Cached: the second read sends no statement.
    const statements = t.server.data.queryCounts().recentOrders;
    expect((await send(t, RECENT_ORDERS, { token })).body).toEqual(before.body);
    expect(t.server.data.queryCounts().recentOrders).toBe(statements);

    const sales = await send(t, SalesSummaryDocument);
    expect((await send(t, SalesSummaryDocument)).xCache).toBe('HIT');

    const order = await send(t, PlaceOrderDocument, { token, variables: { productId: '3', quantity: 2 } });
    expect(order.body.errors).toBeUndefined();
    const id = order.body.data.placeOrder.id;

    const after = await send(t, RECENT_ORDERS, { token });
    expect(after.body.data.viewer.short.map((o: { id: string }) => o.id)).toEqual([
      id,
      ...before.body.data.viewer.short.slice(0, 2).map((o: { id: string }) => o.id),
    ]);
    expect(after.body.data.viewer.long[0].id).toBe(id);
    expect(after.body.data.viewer.long).toHaveLength(50);

    const salesAfter = await send(t, SalesSummaryDocument);
    expect(salesAfter.xCache).toBe('MISS');
    expect(salesAfter.body.data.salesSummary.orderCount).toBe(sales.body.data.salesSummary.orderCount + 1);
  });

  it('retires exactly the product a price change returns: its responses, lists and best sellers', async () => {
    const operator = await t.token(1, { operator: true });
    for (const query of [product(7), product(8), PRODUCTS_7_9, TOP_ALL]) await cached(t, query);
    const old = (await send(t, product(7))).body.data.product.priceCents;
    const price = old + 111;

    const changed = await send(t, UpdateProductPriceDocument, {
      token: operator,
      variables: { id: '7', priceCents: price },
    });
    expect(changed.body).toEqual({ data: { updateProductPrice: { id: '7', priceCents: price } } });

    const seven = await send(t, product(7));
    expect(seven.xCache).toBe('MISS');
    expect(seven.body.data.product.priceCents).toBe(price);
    expect((await send(t, product(8))).xCache).toBe('HIT');
    const list = await send(t, PRODUCTS_7_9);
    expect(list.xCache).toBe('MISS');
    expect(list.body.data.products.map((p: { priceCents: number }) => p.priceCents)[0]).toBe(price);
    const top = await send(t, TOP_ALL);
    expect(top.xCache).toBe('MISS');
    expect(top.body.data.topProducts.find((p: { id: string }) => p.id === '7').priceCents).toBe(price);
  });
});

describe('invalidateCache (one server, memory cache)', () => {
  let t: TestServer;
  let operator: string;
  beforeAll(async () => {
    t = await startTestServer();
    operator = await t.token(2, { operator: true });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is FORBIDDEN to anonymous callers and to customers, and retires nothing for them', async () => {
    await cached(t, product(20));
    const customer = await t.token(3);
    for (const token of [undefined, customer]) {
      const refused = await send(t, INVALIDATE, {
        ...(token === undefined ? {} : { token }),
        variables: { types: ['Product'] },
      });
      expect(refused.body.data).toBeNull();
      expect(errorCodes(refused)).toEqual(['FORBIDDEN']);
    }
    expect((await send(t, product(20))).xCache).toBe('HIT');
  });

  it('refuses an unknown type, a type without id and too many tags as BAD_USER_INPUT, retiring nothing', async () => {
    await cached(t, product(21));
    await cached(t, SalesSummaryDocument);
    const refusals = [
      { types: ['Nope'] },
      { types: ['SalesSummary'] },
      // One bad type in an otherwise valid request: the whole request is checked first.
      { tags: ['sales'], types: ['Product', 'Nope'] },
      { tags: Array.from({ length: MAX_INVALIDATION_TAGS + 1 }, (_, i) => `custom:${i}`) },
      { tags: ['sales'], types: Array.from({ length: MAX_INVALIDATION_TAGS }, () => 'Product') },
    ];
    for (const variables of refusals) {
      const refused = await send(t, INVALIDATE, { token: operator, variables });
      expect(refused.body.data).toBeNull();
      expect(errorCodes(refused)).toEqual(['BAD_USER_INPUT']);
    }
    expect((await send(t, product(21))).xCache).toBe('HIT');
    expect((await send(t, SalesSummaryDocument)).xCache).toBe('HIT');
  });

  it("retires every product with types: ['Product'], and salesSummary with tags: ['sales']", async () => {
    for (const query of [product(22), product(23), PRODUCTS_7_9]) await cached(t, query);
    await cached(t, SalesSummaryDocument);
    const loads = t.server.data.queryCounts().productsByIds ?? 0;

    const products = await send(t, INVALIDATE, { token: operator, variables: { types: ['Product'] } });
    expect(products.body).toEqual({ data: { invalidateCache: { tags: ['Product:*'], pending: false } } });
    for (const query of [product(22), product(23), PRODUCTS_7_9]) {
      expect((await send(t, query)).xCache).toBe('MISS');
    }
    // The rows themselves were loaded again, not only the responses re-executed.
    expect(t.server.data.queryCounts().productsByIds).toBeGreaterThan(loads);
    expect((await send(t, SalesSummaryDocument)).xCache).toBe('HIT');

    const sales = await send(t, INVALIDATE, { token: operator, variables: { tags: ['sales'] } });
    expect(sales.body).toEqual({ data: { invalidateCache: { tags: ['sales'], pending: false } } });
    expect((await send(t, SalesSummaryDocument)).xCache).toBe('MISS');
    expect((await send(t, product(22))).xCache).toBe('HIT');
  });
});

describe('invalidateCache(soft: true) (field cache only)', () => {
  it('serves topProducts stale at once while one refresh runs, and retires salesSummary (no window)', async () => {
    const t = await startTestServer({ responseCache: false });
    try {
      const operator = await t.token(2, { operator: true });
      await send(t, TOP_ALL);
      await send(t, SalesSummaryDocument);
      const before = t.server.cache.stats();
      const soft = await send(t, SOFT_INVALIDATE, { token: operator, variables: { tags: ['sales'] } });
      expect(soft.body).toEqual({ data: { invalidateCache: { tags: ['sales'], pending: false } } });
      const summaries = t.server.data.queryCounts().salesSummary ?? 0;
      await send(t, TOP_ALL);
      await send(t, SalesSummaryDocument);
      const after = t.server.cache.stats();
      expect(after.staleHits - before.staleHits).toBe(1);
      expect(after.refreshes - before.refreshes).toBe(1);
      expect(t.server.data.queryCounts().salesSummary).toBe(summaries + 1);
    } finally {
      await t.close();
    }
  });
});
