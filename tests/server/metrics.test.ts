import { randomBytes } from 'node:crypto';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCache } from 'graphql-flight';
import { createSchema, createYoga } from 'graphql-yoga';
import { createMetrics, METRICS_LISTENER } from '../../src/plugins/use-metrics.js';
import type { Server } from '../../src/server.js';
import { PlaceOrderDocument, SalesSummaryDocument, TopProductsDocument } from '../generated/graphql.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** One sample line of the Prometheus text format: `name{labels} value`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels);
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [
        m[1],
        m[2],
      ]),
    );
    if (wanted.every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

describe('/metrics, served to operators on the main listener', () => {
  let t: TestServer;
  let operator: string;
  const scrape = async (token = operator) =>
    t.server.yoga.fetch('http://localhost/metrics', { headers: { authorization: `Bearer ${token}` } });
  beforeAll(async () => {
    t = await startTestServer();
    operator = await t.token(1, { operator: true });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 401 without a token or with a bad one, 403 to a customer, and 200 to an operator', async () => {
    const none = await t.server.yoga.fetch('http://localhost/metrics');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="graphql-flight"');
    expect(await none.text()).toBe('an operator bearer token is required\n');
    const bad = await scrape('not.a-valid.token');
    expect(bad.status).toBe(401);
    const expired = await scrape(await t.token(1, { operator: true, expiresIn: '-1m' }));
    expect(expired.status).toBe(401);
    const customer = await scrape(await t.token(2));
    expect(customer.status).toBe(403);
    expect(await customer.text()).not.toMatch(/graphql_flight_/);

    const allowed = await scrape();
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await allowed.text();
    expect(text).toContain('# HELP graphql_flight_cache_hits_total ');
    expect(text).toContain('# TYPE graphql_flight_cache_hits_total counter');
    expect(text).toContain('# TYPE graphql_flight_http_request_duration_seconds histogram');
    expect(
      (await t.server.yoga.fetch('http://localhost/metrics', { method: 'POST', headers: {} })).status,
    ).toBe(405);
  });

  it('shows the cache, store, flight and fleet figures and the query counts as they are when scraped', async () => {
    await Promise.all([t.request(SalesSummaryDocument), t.request(TopProductsDocument)]);
    // Another limit is another response, but the same cached best-seller list: field-cache hits.
    await t.request(TopProductsDocument, { variables: { limit: 4 } });
    const text = await (await scrape()).text();
    const stats = t.server.cache.stats();
    const counts = t.server.data.queryCounts();
    expect(stats.hits).toBeGreaterThan(0);
    expect(sample(text, 'graphql_flight_cache_hits_total')).toBe(stats.hits);
    expect(sample(text, 'graphql_flight_cache_misses_total')).toBe(stats.misses);
    expect(sample(text, 'graphql_flight_cache_coalesced_total')).toBe(stats.coalesced);
    expect(sample(text, 'graphql_flight_cache_loads_total')).toBe(stats.loads);
    expect(sample(text, 'graphql_flight_cache_entries')).toBe(stats.entries);
    expect(stats.bytes).toBeGreaterThan(0);
    expect(sample(text, 'graphql_flight_cache_bytes')).toBe(stats.bytes);
    expect(sample(text, 'graphql_flight_cache_evictions_total')).toBe(stats.evictions);
    expect(sample(text, 'graphql_flight_flights_started_total')).toBe(stats.flights.started);
    expect(sample(text, 'graphql_flight_flights_in_flight')).toBe(0);
    expect(sample(text, 'graphql_flight_store_errors_total')).toBe(0);
    expect(sample(text, 'graphql_flight_store_breaker_state', { kind: 'memory', state: 'closed' })).toBe(1);
    expect(sample(text, 'graphql_flight_store_breaker_state', { kind: 'memory', state: 'open' })).toBe(0);
    expect(sample(text, 'graphql_flight_fleet_enabled')).toBe(0);
    expect(sample(text, 'graphql_flight_fleet_wakeups_total', { by: 'poll' })).toBe(0);
    expect(counts.salesSummary).toBeGreaterThan(0);
    for (const [statement, count] of Object.entries(counts)) {
      expect(sample(text, 'graphql_flight_db_queries_total', { statement })).toBe(count);
    }
    expect(sample(text, 'graphql_flight_operations_executed_total')).toBe(
      t.server.coalescing.stats().started,
    );

    // Counters follow the cache: the next scrape shows the next figures, not a sum of scrapes.
    await t.request(SalesSummaryDocument);
    const next = await (await scrape()).text();
    expect(sample(next, 'graphql_flight_cache_hits_total')).toBe(t.server.cache.stats().hits);
  });

  it('counts and times GraphQL requests by operation type, status and X-Cache outcome', async () => {
    const before = await (await scrape()).text();
    const count = (text: string, labels: Record<string, string>) =>
      sample(text, 'graphql_flight_http_requests_total', labels) ?? 0;
    const misses = { operation_type: 'query', status: '200', cache: 'miss' };
    const coalesced = { operation_type: 'query', status: '200', cache: 'coalesced' };
    const hits = { operation_type: 'query', status: '200', cache: 'hit' };
    const mutation = { operation_type: 'mutation', status: '401', cache: 'none' };
    const syntax = { operation_type: 'unknown', status: '200', cache: 'none' };

    const query = `{ salesSummary { orderCount } m${randomBytes(3).toString('hex')}: __typename }`;
    const burst = await Promise.all(Array.from({ length: 5 }, () => t.request(query)));
    for (const response of burst) expect(response.body.errors).toBeUndefined();
    // The same query again: answered by the response cache, before any validation.
    expect((await t.request(query)).body.errors).toBeUndefined();
    const anonymousOrder = await t.request(PlaceOrderDocument, {
      variables: { productId: '1', quantity: 1 },
    });
    expect(anonymousOrder.status).toBe(401);
    await t.request('{ salesSummary { ');
    const after = await (await scrape()).text();

    expect(count(after, misses) - count(before, misses)).toBe(1);
    expect(count(after, coalesced) - count(before, coalesced)).toBe(4);
    expect(count(after, hits) - count(before, hits)).toBe(1);
    expect(sample(after, 'graphql_flight_responses_hits_total')).toBe(t.server.coalescing.stats().hits);
    expect(sample(after, 'graphql_flight_responses_stored_total')).toBe(t.server.coalescing.stats().stored);
    expect(count(after, mutation) - count(before, mutation)).toBe(1);
    expect(count(after, syntax) - count(before, syntax)).toBe(1);
    const durations = (text: string) =>
      sample(text, 'graphql_flight_http_request_duration_seconds_count', misses) ?? 0;
    expect(durations(after) - durations(before)).toBe(1);
    expect(
      sample(after, 'graphql_flight_http_request_duration_seconds_bucket', { ...misses, le: '+Inf' }),
    ).toBe(durations(after));
    // Scrapes are not GraphQL requests: the customer's 403 scrape above is not counted.
    expect(after).not.toMatch(/status="403"/);
    expect(sample(after, 'graphql_flight_operations_coalesced_total')).toBe(
      t.server.coalescing.stats().joined,
    );
  });
});

describe('/metrics on a separate listener (METRICS_PORT)', () => {
  let t: TestServer;
  let server: Server;
  beforeAll(async () => {
    t = await startTestServer({ config: { metricsPort: 9464 } });
    server = t.server;
  });
  afterAll(async () => {
    await t.close();
  });

  it('serves /metrics there without a token, nothing else there, and not on the main listener', async () => {
    const listener = { [METRICS_LISTENER]: true };
    const operator = await t.token(1, { operator: true });
    const main = await server.yoga.fetch('http://localhost/metrics', {
      headers: { authorization: `Bearer ${operator}` },
    });
    expect(main.status).toBe(404);

    const metrics = await server.yoga.fetch('http://localhost/metrics', {}, listener);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('graphql_flight_cache_hits_total');
    const graphql = await server.yoga.fetch(
      'http://localhost/graphql',
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: print(SalesSummaryDocument) }),
      },
      listener,
    );
    expect(graphql.status).toBe(404);
  });

  it("keeps each server's metrics in a registry of its own", async () => {
    const other = await startTestServer();
    try {
      await other.request(TopProductsDocument, { variables: { limit: 3 } });
      await other.request(TopProductsDocument, { variables: { limit: 4 } });
      const mine = await (
        await server.yoga.fetch('http://localhost/metrics', {}, { [METRICS_LISTENER]: true })
      ).text();
      const theirs = await (
        await other.server.yoga.fetch('http://localhost/metrics', {
          headers: { authorization: `Bearer ${await other.token(1, { operator: true })}` },
        })
      ).text();
      expect(sample(mine, 'graphql_flight_cache_hits_total')).toBe(server.cache.stats().hits);
      expect(sample(theirs, 'graphql_flight_cache_hits_total')).toBe(other.server.cache.stats().hits);
      expect(other.server.cache.stats().hits).toBeGreaterThan(server.cache.stats().hits);
    } finally {
      await other.close();
    }
  });
});

describe('requests the front door answers itself', () => {
  it('are counted as hits, or as coalesced when they waited for the execution of another request', async () => {
    const cache = createCache();
    try {
      const metrics = createMetrics({ cacheStats: () => cache.stats(), authorize: async () => true });
      const yoga = createYoga({
        schema: createSchema({ typeDefs: 'type Query { a: Int }' }),
        plugins: [metrics.plugin],
        logging: false,
      });
      metrics.recordHit({ status: 200, startedAt: performance.now() });
      metrics.recordHit({ status: 200, startedAt: performance.now(), outcome: 'COALESCED' });
      metrics.recordHit({ status: 503, startedAt: performance.now(), outcome: 'COALESCED' });
      const text = await (
        await yoga.fetch('http://localhost/metrics', { headers: { authorization: 'Bearer operator' } })
      ).text();
      const count = (labels: string) =>
        Number(new RegExp(`graphql_flight_http_requests_total\\{${labels}\\} (\\d+)`).exec(text)?.[1]);
      expect(count('operation_type="query",status="200",cache="hit"')).toBe(1);
      expect(count('operation_type="query",status="200",cache="coalesced"')).toBe(1);
      expect(count('operation_type="query",status="503",cache="coalesced"')).toBe(1);
    } finally {
      await cache.close();
    }
  });
});

describe('the memory tier figures', () => {
  it("report the tier's estimated bytes and its evictions, as sizing it needs (issue 12)", async () => {
    const cache = createCache({ maxEntries: 2 });
    try {
      for (const key of ['a', 'b', 'c', 'd']) await cache.remember(key, async () => key.repeat(1_000));
      const metrics = createMetrics({ cacheStats: () => cache.stats(), authorize: async () => true });
      const yoga = createYoga({
        schema: createSchema({ typeDefs: 'type Query { a: Int }' }),
        plugins: [metrics.plugin],
        logging: false,
      });
      const text = await (
        await yoga.fetch('http://localhost/metrics', { headers: { authorization: 'Bearer operator' } })
      ).text();
      const stats = cache.stats();
      expect(stats.evictions).toBe(2);
      expect(stats.bytes).toBeGreaterThan(2 * 1_000);
      expect(sample(text, 'graphql_flight_cache_evictions_total')).toBe(2);
      expect(sample(text, 'graphql_flight_cache_bytes')).toBe(stats.bytes);
    } finally {
      await cache.close();
    }
  });
});
