import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { print } from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SALES_SUMMARY_KEY, TOP_PRODUCTS_KEY } from '../../src/app/invalidation.js';
import {
  FlightStatsDocument,
  PlaceOrderDocument,
  ProductDocument,
  ProductsDocument,
  SalesSummaryDocument,
  TopProductsDocument,
  UpdateProductPriceDocument,
  ViewerDocument,
} from '../generated/graphql.js';
import { deferred } from '../../packages/graphql-flight/tests/helpers/deferred.js';
import {
  DATABASE_URL,
  startTestServer,
  TEST_SEED,
  type TestServer,
  untilFlightWaiters,
} from '../helpers/server.js';

const database = DATABASE_URL === undefined ? 'embedded PGlite' : 'PostgreSQL at DATABASE_URL';

describe(`the GraphQL server (${database})`, () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('sends one aggregate query for 500 concurrent salesSummary operations that only the field cache can share', async () => {
    // 500 operation names make 500 distinct operations: neither operation coalescing nor the
    // response cache shares any two of them, so only the field's own flight can.
    const documents = Array.from(
      { length: 500 },
      (_, i) => `query SalesSummary${i} { salesSummary { orderCount revenueCents averageOrderCents } }`,
    );
    const gate = deferred<void>();
    const original = t.server.data.salesSummary.bind(t.server.data);
    const salesSummary = vi.spyOn(t.server.data, 'salesSummary').mockImplementation(async () => {
      await gate.promise;
      return original();
    });
    await t.server.cache.delete(SALES_SUMMARY_KEY);
    const queriesBefore = t.server.data.queryCounts().salesSummary ?? 0;
    const operationsBefore = t.server.coalescing.stats();

    const pending = Promise.all(documents.map((document) => t.request(document)));
    try {
      // The data source answers only once every operation waits on one field flight.
      await untilFlightWaiters(t.server.cache, 500);
    } finally {
      gate.resolve();
    }
    const responses = await pending;

    expect(salesSummary).toHaveBeenCalledTimes(1);
    expect(t.server.data.queryCounts().salesSummary ?? 0).toBe(queriesBefore + 1);
    const operations = t.server.coalescing.stats();
    expect(operations.started - operationsBefore.started).toBe(500);
    expect(operations.joined - operationsBefore.joined).toBe(0);
    const first = responses[0]!;
    expect(first.status).toBe(200);
    expect(first.body.errors).toBeUndefined();
    expect((first.body.data as { salesSummary: { orderCount: number } }).salesSummary.orderCount).toBe(
      TEST_SEED.orders,
    );
    for (const response of responses) expect(response.body).toEqual(first.body);
  });

  it('loads each product row once in total for 200 concurrent products(ids) operations over overlapping ids', async () => {
    const asked: number[] = [];
    const productsByIds = t.server.data.productsByIds.bind(t.server.data);
    vi.spyOn(t.server.data, 'productsByIds').mockImplementation(async (ids) => {
      asked.push(...ids);
      return productsByIds(ids);
    });
    const idSets = Array.from({ length: 200 }, (_, r) =>
      Array.from({ length: 8 }, (_, i) => String(((r * 11 + i * 7) % TEST_SEED.products) + 1)),
    );
    const responses = await Promise.all(
      idSets.map((ids) => t.request(ProductsDocument, { variables: { ids } })),
    );
    responses.forEach((response, r) => {
      expect(response.body.errors).toBeUndefined();
      expect(response.body.data?.products.map((product) => product?.id)).toEqual(idSets[r]);
    });
    const distinct = new Set(idSets.flat());
    expect(asked.length).toBe(distinct.size);
    expect(new Set(asked).size).toBe(asked.length);
  });

  it("never shows one viewer another viewer's data, concurrently or in sequence", async () => {
    const tokens = await Promise.all([1, 2, 3].map((id) => t.token(id)));
    const expected = await Promise.all(
      [1, 2, 3].map(async (id) => (await t.server.data.recentOrders(id, 5)).map((order) => String(order.id))),
    );
    const check = (response: Awaited<ReturnType<typeof t.request<unknown, unknown>>>, index: number) => {
      const viewer = (response.body.data as { viewer: { id: string; recentOrders: Array<{ id: string }> } })
        .viewer;
      expect(viewer.id).toBe(String(index + 1));
      expect(viewer.recentOrders.map((order) => order.id)).toEqual(expected[index]);
    };
    const concurrent = await Promise.all(
      Array.from({ length: 90 }, (_, i) =>
        t.request(ViewerDocument, { token: tokens[i % 3]! }).then((r) => [r, i % 3] as const),
      ),
    );
    for (const [response, index] of concurrent) check(response, index);
    for (let round = 0; round < 2; round++) {
      for (const index of [2, 0, 1]) check(await t.request(ViewerDocument, { token: tokens[index]! }), index);
    }
    const anonymous = await t.request(ViewerDocument);
    expect(anonymous.body).toEqual({ data: { viewer: null } });
  });

  it("shows an order's effect on the next read of the aggregates, the product's stats and the viewer's orders", async () => {
    const token = await t.token(4);
    const summaryBefore = (await t.request(SalesSummaryDocument)).body.data!.salesSummary;
    const productBefore = (await t.request(ProductDocument, { variables: { id: '5' } })).body.data!.product!;
    await t.request(TopProductsDocument);
    await t.request(ViewerDocument, { token, variables: { limit: 3 } });

    const placed = await t.request(PlaceOrderDocument, { token, variables: { productId: '5', quantity: 3 } });
    expect(placed.body.errors).toBeUndefined();
    const order = placed.body.data!.placeOrder;
    expect(order.totalCents).toBe(String(productBefore.priceCents * 3));

    const summaryAfter = (await t.request(SalesSummaryDocument)).body.data!.salesSummary;
    expect(summaryAfter.orderCount).toBe(summaryBefore.orderCount + 1);
    expect(summaryAfter.revenueCents).toBe(
      String(BigInt(summaryBefore.revenueCents) + BigInt(order.totalCents)),
    );
    const productAfter = (await t.request(ProductDocument, { variables: { id: '5' } })).body.data!.product!;
    expect(productAfter.stats.unitsSold).toBe(productBefore.stats.unitsSold + 3);
    const viewer = (await t.request(ViewerDocument, { token, variables: { limit: 3 } })).body.data!.viewer!;
    expect(viewer.recentOrders[0]?.id).toBe(order.id);
  });

  it('shows a price change on the next read of the product and of topProducts', async () => {
    const operator = await t.token(1, { operator: true });
    const top = (await t.request(TopProductsDocument, { variables: { limit: 1 } })).body.data!
      .topProducts[0]!;
    await t.request(ProductDocument, { variables: { id: top.id } });
    const updated = await t.request(UpdateProductPriceDocument, {
      token: operator,
      variables: { id: top.id, priceCents: top.priceCents + 100 },
    });
    expect(updated.body.data?.updateProductPrice.priceCents).toBe(top.priceCents + 100);
    const product = (await t.request(ProductDocument, { variables: { id: top.id } })).body.data!.product!;
    expect(product.priceCents).toBe(top.priceCents + 100);
    const topAfter = (await t.request(TopProductsDocument, { variables: { limit: 1 } })).body.data!
      .topProducts[0]!;
    expect(topAfter.priceCents).toBe(top.priceCents + 100);
  });

  it('forbids flightStats without the operator role and shows fingerprints, not keys, to operators', async () => {
    const anonymous = await t.request(FlightStatsDocument);
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(anonymous.body.data).toBeNull();
    const customer = await t.request(FlightStatsDocument, { token: await t.token(2) });
    expect(customer.body.errors?.[0]).toMatchObject({
      message: 'flightStats is for operators only',
      extensions: { code: 'FORBIDDEN' },
    });

    const operator = await t.request(FlightStatsDocument, { token: await t.token(1, { operator: true }) });
    expect(operator.body.errors).toBeUndefined();
    const stats = operator.body.data!.flightStats;
    expect(stats.store).toEqual({ kind: 'memory', healthy: true, breaker: 'closed', errors: 0 });
    expect(stats.started).toBeGreaterThan(0);
    expect(stats.hits + stats.misses).toBeGreaterThan(0);
    expect(stats.hitRatio).toBeCloseTo(stats.hits / (stats.hits + stats.misses));
    expect(stats.queries.find((q) => q.statement === 'salesSummary')?.count).toBeGreaterThanOrEqual(1);
  });

  it('lists flights in progress by fingerprint, with their waiters', async () => {
    const gate = deferred<void>();
    const salesSummary = t.server.data.salesSummary.bind(t.server.data);
    vi.spyOn(t.server.data, 'salesSummary').mockImplementation(async () => {
      await gate.promise;
      return salesSummary();
    });
    await t.server.cache.delete(SALES_SUMMARY_KEY);
    // Three different documents (aliases), so they are three operations sharing one field flight.
    const waiting = Promise.all(
      ['a', 'b', 'c'].map((alias) => t.request(`{ ${alias}: salesSummary { orderCount } }`)),
    );
    // Four flights: each document's response (one waiter each) and the one field flight they share.
    await vi.waitFor(() => expect(t.server.cache.stats().flights.inFlight).toBe(4));
    await vi.waitFor(() =>
      expect(
        t.server.cache
          .stats()
          .flights.flights.map((f) => f.waiters)
          .sort(),
      ).toEqual([1, 1, 1, 3]),
    );
    const stats = (await t.request(FlightStatsDocument, { token: await t.token(1, { operator: true }) })).body
      .data!.flightStats;
    expect(stats.inFlight.map((flight) => flight.waiters).sort()).toEqual([1, 1, 1, 3]);
    for (const flight of stats.inFlight) expect(flight.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.stringify(stats.inFlight)).not.toMatch(/salesSummary|field|public|response/);
    gate.resolve();
    await waiting;
  });

  it('answers a malformed query, bad variables or a bad body with a GraphQL error and keeps serving', async () => {
    const syntax = await t.request('{ salesSummary { orderCount ');
    expect(syntax.body.errors?.[0]?.message).toMatch(/Syntax Error/);
    const unknownField = await t.request('{ nope }');
    expect(unknownField.body.errors?.[0]?.message).toBe('Cannot query field "nope" on type "Query".');
    const badVariables = await t.request(ProductDocument, { variables: { id: { $gt: 1 } } as never });
    expect(badVariables.body.errors?.[0]?.message).toMatch(/Variable "\$id"/);
    const badId = await t.request(ProductDocument, { variables: { id: 'abc' } });
    expect(badId.body.errors?.[0]).toMatchObject({
      message: 'id must be a positive integer id; received "abc"',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    const tooMany = await t.request(ProductsDocument, {
      variables: { ids: Array.from({ length: 101 }, (_, i) => String(i + 1)) },
    });
    expect(tooMany.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const badLimit = await t.request(TopProductsDocument, { variables: { limit: 0 } });
    expect(badLimit.body.errors?.[0]?.message).toBe('limit must be an integer from 1 to 100; received 0');

    const notJson = await t.server.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": ',
    });
    expect(notJson.status).toBe(400);

    const healthy = await t.request(SalesSummaryDocument);
    expect(healthy.body.errors).toBeUndefined();
  });

  it('rejects a bad or expired token with UNAUTHENTICATED (401), never serving it as anonymous', async () => {
    for (const header of [
      'Bearer not-a-token',
      'Basic abc',
      `Bearer ${(await t.token(1)).slice(0, -4)}AAAA`,
    ]) {
      const response = await t.request(ViewerDocument, { headers: { authorization: header } });
      expect(response.status).toBe(401);
      expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(response.body.data).toBeUndefined();
    }
    const expired = await t.token(1, { expiresIn: '-1m' });
    const response = await t.request(ViewerDocument, { token: expired });
    expect(response.status).toBe(401);
    expect(response.body.errors?.[0]?.message).toBe('the token has expired');
  });

  it('requires a viewer to place an order and the operator role to change a price', async () => {
    const anonymous = await t.request(PlaceOrderDocument, { variables: { productId: '1', quantity: 1 } });
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const anonymousPrice = await t.request(UpdateProductPriceDocument, {
      variables: { id: '1', priceCents: 1 },
    });
    expect(anonymousPrice.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const customer = await t.request(UpdateProductPriceDocument, {
      token: await t.token(3),
      variables: { id: '1', priceCents: 1 },
    });
    expect(customer.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const bad = await t.request(PlaceOrderDocument, {
      token: await t.token(3),
      variables: { productId: '1', quantity: 0 },
    });
    expect(bad.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('masks unexpected errors: no message, stack or connection detail reaches the client', async () => {
    vi.spyOn(t.server.data, 'topProducts').mockRejectedValue(
      new Error('connect ECONNREFUSED postgres://admin:hunter2@db'),
    );
    await t.server.cache.delete(TOP_PRODUCTS_KEY);
    const response = await t.request(TopProductsDocument);
    expect(response.body.errors?.[0]).toMatchObject({
      message: 'Unexpected error.',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(JSON.stringify(response.body)).not.toMatch(/hunter2|ECONNREFUSED|stack/);
  });
});

describe('the GraphQL server over a real HTTP port', () => {
  let t: TestServer;
  let http: HttpServer;
  let url: string;
  beforeAll(async () => {
    t = await startTestServer();
    http = createHttpServer(t.server.handler); // as main.ts serves it
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => http.close(resolve));
    await t.close();
  });

  it('serves queries and the health check over HTTP', async () => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: print(SalesSummaryDocument) }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data: { salesSummary: { orderCount: number } } };
    expect(body.data.salesSummary.orderCount).toBe(TEST_SEED.orders);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it('answers a repeat from the response cache in front of Yoga, and counts it in /metrics', async () => {
    const query = JSON.stringify({ query: '{ product(id: 3) { id name } }' });
    const send = () =>
      fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: query,
      });
    const miss = await send();
    const missBody = await miss.text();
    const hit = await send();
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(await hit.text()).toBe(missBody);
    // Answered by the front door main.ts serves, not by the plugin inside Yoga.
    expect(t.server.coalescing.stats().frontDoor).toBe(1);

    const operator = await t.token(1, { operator: true });
    const metrics = await (
      await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${operator}` } })
    ).text();
    const hits =
      /graphql_flight_http_requests_total\{operation_type="query",status="200",cache="hit"\} (\d+)/.exec(
        metrics,
      );
    expect(Number(hits?.[1])).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(
      /graphql_flight_http_request_duration_seconds_count\{operation_type="query",status="200",cache="hit"\} [1-9]/,
    );
  });
});
