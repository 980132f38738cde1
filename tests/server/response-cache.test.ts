import { print } from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCache } from 'graphql-flight';
import {
  FlightStatsDocument,
  PlaceOrderDocument,
  ProductDocument,
  SalesSummaryDocument,
  TopProductsDocument,
  UpdateProductPriceDocument,
  ViewerDocument,
} from '../generated/graphql.js';
import {
  dropNamespace,
  eventually,
  REDIS_URL,
  redisSuiteEnabled,
  uniqueNamespace,
} from '../../packages/graphql-flight/tests/helpers/redis.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** A response body as JSON; the tests read several operations' shapes from it. */
// biome-ignore lint/suspicious/noExplicitAny: the suite reads the data of many operations
type Reply = { data?: any; errors?: any[] };

/** One request through yoga.fetch, keeping status, headers and the raw body. */
async function send(
  t: TestServer,
  query: string,
  options: {
    variables?: unknown;
    token?: string;
    method?: 'GET' | 'POST';
    headers?: Record<string, string>;
  } = {},
) {
  const headers = {
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    ...options.headers,
  };
  const response =
    options.method === 'GET'
      ? await t.server.yoga.fetch(
          `http://localhost/graphql?query=${encodeURIComponent(query)}${
            options.variables === undefined
              ? ''
              : `&variables=${encodeURIComponent(JSON.stringify(options.variables))}`
          }`,
          { headers },
        )
      : await t.server.yoga.fetch('http://localhost/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ query, variables: options.variables }),
        });
  const body = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body,
    json: body === '' ? undefined : (JSON.parse(body) as Reply),
  };
}

const outcome = (r: { headers: Headers }) => r.headers.get('x-cache');
const SALES = print(SalesSummaryDocument);

describe('the response cache of the server', () => {
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

  it('answers a second burst within the TTL from the cache: all HIT, the data source untouched', async () => {
    const first = await Promise.all(Array.from({ length: 50 }, () => send(t, SALES)));
    expect(first.filter((r) => outcome(r) === 'MISS')).toHaveLength(1);
    const queries = t.server.data.queryCounts().salesSummary;
    const salesSummary = vi.spyOn(t.server.data, 'salesSummary');
    const executed = t.server.coalescing.stats().started;

    const second = await Promise.all(Array.from({ length: 500 }, () => send(t, SALES)));
    expect(second.map(outcome)).toEqual(Array(500).fill('HIT'));
    for (const response of second) {
      expect(response.status).toBe(200);
      expect(response.body).toBe(first[0]!.body);
      expect(response.headers.get('etag')).toBe(first[0]!.headers.get('etag'));
    }
    expect(salesSummary).not.toHaveBeenCalled();
    expect(t.server.data.queryCounts().salesSummary).toBe(queries);
    expect(t.server.coalescing.stats().started).toBe(executed);
  });

  it('makes the next read fresh after an order: aggregates, stats and best sellers', async () => {
    const token = await t.token(4);
    const product = { variables: { id: '5' } };
    const before = {
      sales: await send(t, SALES),
      product: await send(t, print(ProductDocument), product),
      top: await send(t, print(TopProductsDocument), { variables: { limit: 3 } }),
    };
    // Cached now.
    expect(outcome(await send(t, print(ProductDocument), product))).toBe('HIT');
    expect(outcome(await send(t, print(TopProductsDocument), { variables: { limit: 3 } }))).toBe('HIT');

    const order = await send(t, print(PlaceOrderDocument), {
      token,
      variables: { productId: '5', quantity: 7 },
    });
    expect(order.json?.errors).toBeUndefined();
    expect(order.headers.get('cache-control')).toBe('no-store');

    const sales = await send(t, SALES);
    expect(outcome(sales)).toBe('MISS');
    expect(sales.json?.data.salesSummary.orderCount).toBe(
      before.sales.json?.data.salesSummary.orderCount + 1,
    );
    const after = await send(t, print(ProductDocument), product);
    expect(outcome(after)).toBe('MISS');
    expect(after.json?.data.product.stats.unitsSold).toBe(
      before.product.json?.data.product.stats.unitsSold + 7,
    );
    expect(outcome(await send(t, print(TopProductsDocument), { variables: { limit: 3 } }))).toBe('MISS');
    expect(before.top.json?.data.topProducts).toHaveLength(3);
  });

  it('makes the next read fresh after a price change', async () => {
    const operator = await t.token(1, { operator: true });
    const query = print(ProductDocument);
    await send(t, query, { variables: { id: '8' } });
    expect(outcome(await send(t, query, { variables: { id: '8' } }))).toBe('HIT');
    const changed = await send(t, print(UpdateProductPriceDocument), {
      token: operator,
      variables: { id: '8', priceCents: 4_321 },
    });
    expect(changed.json?.data.updateProductPrice.priceCents).toBe(4_321);
    const read = await send(t, query, { variables: { id: '8' } });
    expect(outcome(read)).toBe('MISS');
    expect(read.json?.data.product.priceCents).toBe(4_321);
  });

  it("never shares one viewer's private response with another, nor stores it", async () => {
    const [alice, bob] = await Promise.all([t.token(1), t.token(2)]);
    const stored = t.server.coalescing.stats().stored;
    const query = print(ViewerDocument);
    for (let round = 0; round < 2; round++) {
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) => send(t, query, { token: i % 2 === 0 ? alice : bob })),
      );
      responses.forEach((response, i) => {
        expect(response.json?.data.viewer.id).toBe(i % 2 === 0 ? '1' : '2');
        expect(outcome(response)).not.toBe('HIT');
        expect(response.headers.get('etag')).toBeNull();
        expect(response.headers.get('cache-control')).toBe('no-store');
      });
    }
    expect(t.server.coalescing.stats().stored).toBe(stored);
  });

  it('never caches a PRIVATE operation without a viewer', async () => {
    const stored = t.server.coalescing.stats().stored;
    const query = print(ViewerDocument);
    const responses = [await send(t, query), await send(t, query), await send(t, query, { method: 'GET' })];
    for (const response of responses) {
      expect(response.json).toEqual({ data: { viewer: null } });
      expect(outcome(response)).toBe('MISS');
      expect(response.headers.get('cache-status')).toBe('graphql-flight; fwd=bypass');
    }
    expect(t.server.coalescing.stats().stored).toBe(stored);
  });

  it('answers 304 to a GET whose If-None-Match matches, over HTTP caching headers', async () => {
    const query = print(ProductDocument);
    const first = await send(t, query, { method: 'GET', variables: { id: '11' } });
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const revalidated = await send(t, query, {
      method: 'GET',
      variables: { id: '11' },
      headers: { 'if-none-match': etag },
    });
    expect(revalidated.status).toBe(304);
    expect(revalidated.body).toBe('');
    expect(revalidated.headers.get('x-cache')).toBe('HIT');
  });

  it('never stores an operation over a limit or one that failed, and masks the failure', async () => {
    const stored = t.server.coalescing.stats().stored;
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: salesSummary { orderCount }`).join(' ');
    for (let i = 0; i < 2; i++) {
      const refused = await send(t, `{ ${aliases} }`);
      expect(refused.json?.errors?.[0].message).toMatch(/aliases/i);
      expect(outcome(refused)).toBe('MISS');
    }

    // A loader resolving undefined fails (E_LOAD_UNDEFINED): an unexpected, masked error.
    vi.spyOn(t.server.data, 'topProducts').mockResolvedValue(undefined as never);
    const query = '{ topProducts(limit: 2) { id } }';
    await t.server.cache.delete(['topProducts', 100]);
    const failed = await Promise.all([send(t, query), send(t, query)]);
    for (const response of failed) {
      expect(response.json?.errors).toEqual([
        expect.objectContaining({
          message: 'Unexpected error.',
          extensions: { code: 'INTERNAL_SERVER_ERROR' },
        }),
      ]);
      expect(response.body).not.toMatch(/E_LOAD|stack|undefined/);
    }
    expect(failed.map(outcome).sort()).toEqual(['COALESCED', 'MISS']);
    vi.restoreAllMocks();
    const next = await send(t, query);
    expect(outcome(next)).toBe('MISS');
    expect(next.json?.data.topProducts).toHaveLength(2);
    expect(t.server.coalescing.stats().stored).toBe(stored + 1);
  });

  it("shows operators the response cache's figures in flightStats", async () => {
    const operator = await t.token(1, { operator: true });
    const read = async () =>
      (await send(t, print(FlightStatsDocument), { token: operator })).json?.data.flightStats.operations;
    const before = await read();
    await send(t, '{ product(id: 33) { id } }');
    await send(t, '{ product(id: 33) { id } }');
    const after = await read();
    expect(after).toEqual({
      // The product query, and this flightStats query itself (it coalesces, uncached).
      executed: before.executed + 2,
      coalesced: before.coalesced,
      hits: before.hits + 1,
      stored: before.stored + 1,
      notModified: before.notModified,
    });
  });

  it('serves a valid token the public cached response, and a bad token its 401', async () => {
    await send(t, SALES);
    const token = await t.token(3);
    expect(outcome(await send(t, SALES, { token }))).toBe('HIT');
    const bad = await send(t, SALES, { token: 'bad.token.here' });
    expect(bad.status).toBe(401);
    expect(bad.json?.errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(bad.json?.data).toBeUndefined();
  });
});

describe('the response cache of the server with RESPONSE_CACHE=off', () => {
  it('executes every request (coalescing only)', async () => {
    const t = await startTestServer({ responseCache: false });
    try {
      const first = await send(t, SALES);
      const second = await send(t, SALES);
      expect([outcome(first), outcome(second)]).toEqual(['MISS', 'MISS']);
      expect(t.server.coalescing.stats()).toMatchObject({ started: 2, hits: 0, stored: 0 });
    } finally {
      await t.close();
    }
  });
});

const redis = await redisSuiteEnabled();

describe.skipIf(!redis)('the response cache shared through Redis by two servers', () => {
  const namespace = uniqueNamespace('responses');
  let first: TestServer;
  let second: TestServer;
  beforeAll(async () => {
    // Sharing is what is tested here, not Redis's deadline: a loaded machine must not turn a slow
    // fill into a dropped one (the default 100 ms store deadline).
    const options = { redisUrl: REDIS_URL, namespace, storeTimeoutMs: 2_000 };
    first = await startTestServer({ cache: createCache(options) });
    second = await startTestServer({ cache: createCache(options) });
    // Seeding a server's PGlite blocks the event loop, which can time out its Redis connection
    // (it reconnects): both caches are on Redis before the tests begin.
    await first.server.cache.remember('warm-up', async () => 1);
    await eventually(
      async () => (await second.server.cache.fetch('warm-up', async () => 2)).source === 'store',
    );
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await dropNamespace(namespace);
  });

  it('executes a response once for both servers, and invalidates it on both after a mutation', async () => {
    const query = print(ProductDocument);
    const variables = { id: '21' };
    const filled = await send(first, query, { variables });
    expect(outcome(filled)).toBe('MISS');
    // The second server has it from Redis: no execution, no query of its own.
    await eventually(async () => outcome(await send(second, query, { variables })) === 'HIT');
    expect(second.server.coalescing.stats().started).toBe(0);
    expect(second.server.data.queryCounts().productsByIds ?? 0).toBe(0);
    const fromRedis = await send(second, query, { variables });
    expect(fromRedis.body).toBe(filled.body);

    // A price change on the first server (its own database) retires the response everywhere.
    const operator = await first.token(1, { operator: true });
    await send(first, print(UpdateProductPriceDocument), {
      token: operator,
      variables: { id: '21', priceCents: 1_234 },
    });
    const fresh = await send(first, query, { variables });
    expect(outcome(fresh)).toBe('MISS');
    expect(fresh.json?.data.product.priceCents).toBe(1_234);
    await eventually(
      async () => (await send(second, query, { variables })).json?.data.product.priceCents === 1_234,
    );
  });
});
