// The freshness figures of issue 13 in flightStats and /metrics, and the demo's hot field with a
// revalidate window (topProducts). The last test needs the cache's stale serving (the core of
// issue 13): until it is there, a call past the TTL is a miss and no stale hit is counted.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parse } from 'graphql';
import { type CacheStats, createCache } from 'graphql-flight';
import { responsePolicy } from 'graphql-flight/graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { STALE_WHILE_REVALIDATE, TTL } from '../../src/app/context.js';
import { TOP_PRODUCTS_KEY } from '../../src/app/invalidation.js';
import { flightStatsSnapshot } from '../../src/plugins/flight-stats.js';
import { createMetrics } from '../../src/plugins/use-metrics.js';
import { FreshnessStatsDocument, TopProductsDocument } from '../generated/graphql.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** The value of the unlabelled sample `name` in a Prometheus text exposition. */
function sampleOf(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

const SERIES = {
  staleHits: 'graphql_flight_cache_stale_hits_total',
  refreshes: 'graphql_flight_cache_refreshes_total',
  earlyRefreshes: 'graphql_flight_cache_early_refreshes_total',
  refreshFailures: 'graphql_flight_cache_refresh_failures_total',
  staleIfErrorServes: 'graphql_flight_cache_stale_if_error_serves_total',
} as const;

describe('the freshness figures (issue 13)', () => {
  it('flightStats passes on each figure of stats() as it is', async () => {
    const cache = createCache();
    try {
      const stats: CacheStats = {
        ...cache.stats(),
        staleHits: 3,
        refreshes: 5,
        earlyRefreshes: 2,
        refreshFailures: 7,
        staleIfErrorServes: 11,
      };
      expect(flightStatsSnapshot(stats, {}, new Uint8Array(16))).toMatchObject({
        staleHits: 3,
        refreshes: 5,
        earlyRefreshes: 2,
        refreshFailures: 7,
        staleIfErrorServes: 11,
      });
    } finally {
      await cache.close();
    }
  });

  it('/metrics serves each figure of stats() as its own counter', async () => {
    const cache = createCache();
    try {
      const figures = {
        staleHits: 3,
        refreshes: 5,
        earlyRefreshes: 2,
        refreshFailures: 7,
        staleIfErrorServes: 11,
      };
      const metrics = createMetrics({
        cacheStats: () => ({ ...cache.stats(), ...figures }),
        authorize: async () => true,
        defaultMetrics: false,
      });
      const yoga = createYoga({
        schema: createSchema({ typeDefs: 'type Query { a: Int }' }),
        plugins: [metrics.plugin],
        logging: false,
      });
      const text = await (
        await yoga.fetch('http://localhost/metrics', { headers: { authorization: 'Bearer operator' } })
      ).text();
      for (const [field, series] of Object.entries(SERIES)) {
        expect(sampleOf(text, series)).toBe(figures[field as keyof typeof SERIES]);
      }
    } finally {
      await cache.close();
    }
  });

  it('are fields of flightStats and series of /metrics on a running server', async () => {
    t = await startTestServer();
    const operator = await t.token(1, { operator: true });
    await t.request(TopProductsDocument, { variables: { limit: 3 } });
    const stats = t.server.cache.stats();
    const answer = await t.request(FreshnessStatsDocument, { token: operator });
    expect(answer.body.errors).toBeUndefined();
    const { hits: _hits, ...figures } = answer.body.data!.flightStats;
    expect(figures).toEqual({
      staleHits: stats.staleHits,
      refreshes: stats.refreshes,
      earlyRefreshes: stats.earlyRefreshes,
      refreshFailures: stats.refreshFailures,
      staleIfErrorServes: stats.staleIfErrorServes,
    });
    const text = await (
      await t.server.yoga.fetch('http://localhost/metrics', {
        headers: { authorization: `Bearer ${operator}` },
      })
    ).text();
    for (const [field, series] of Object.entries(SERIES)) {
      expect(text).toContain(`# TYPE ${series} counter`);
      expect(sampleOf(text, series)).toBe(stats[field as keyof typeof SERIES]);
    }
  });

  it("gives topProducts, the demo's hot public field, a revalidate window on its remember call and its hint", async () => {
    const cache = createCache();
    const remember = vi.spyOn(cache, 'remember');
    t = await startTestServer({ cache, responseCache: false });
    await t.request(TopProductsDocument, { variables: { limit: 3 } });
    const call = remember.mock.calls.find(
      ([key]) => JSON.stringify(key) === JSON.stringify(TOP_PRODUCTS_KEY),
    );
    expect(call?.[2]).toMatchObject({
      ttlMs: TTL.topProducts,
      staleWhileRevalidateMs: STALE_WHILE_REVALIDATE.topProducts,
    });
    const field = t.server.yoga.getEnveloped().schema.getQueryType()!.getFields().topProducts!;
    expect(field.extensions.graphqlFlightCache).toEqual({
      ttlMs: TTL.topProducts,
      staleWhileRevalidateMs: STALE_WHILE_REVALIDATE.topProducts,
    });
    // A response of topProducts alone carries the window; any other field (none has one) makes it 0.
    const policy = (query: string) =>
      responsePolicy(t!.server.yoga.getEnveloped().schema, parse(query), undefined);
    expect(policy('{ topProducts(limit: 3) { id name priceCents } }')).toMatchObject({
      cacheable: true,
      ttlMs: TTL.topProducts,
      staleWhileRevalidateMs: STALE_WHILE_REVALIDATE.topProducts,
      staleIfErrorMs: 0,
    });
    expect(policy('{ topProducts(limit: 3) { id stats { unitsSold } } }')).toMatchObject({
      cacheable: true,
      staleWhileRevalidateMs: 0,
    });
    expect(policy('{ topProducts(limit: 3) { id } salesSummary { orderCount } }')).toMatchObject({
      cacheable: true,
      staleWhileRevalidateMs: 0,
    });
  });

  // Needs the lead's core of issue 13 (stale serving in FlightCache): fails before it is merged.
  it('counts a stale hit of topProducts inside its revalidate window, in flightStats and /metrics', async () => {
    let clock = 1_000_000;
    t = await startTestServer({ cache: createCache({ now: () => clock }), responseCache: false });
    const operator = await t.token(1, { operator: true });
    const first = await t.request(TopProductsDocument, { variables: { limit: 3 } });
    // Past the TTL, inside the window: the ranking is answered at once, stale, and one refresh starts.
    clock += TTL.topProducts + 1;
    const stale = await t.request(TopProductsDocument, { variables: { limit: 3 } });
    expect(stale.body.data).toEqual(first.body.data);
    const answer = await t.request(FreshnessStatsDocument, { token: operator });
    expect(answer.body.data?.flightStats).toMatchObject({
      staleHits: 1,
      refreshes: 1,
      staleIfErrorServes: 0,
    });
    const text = await (
      await t.server.yoga.fetch('http://localhost/metrics', {
        headers: { authorization: `Bearer ${operator}` },
      })
    ).text();
    expect(sampleOf(text, SERIES.staleHits)).toBe(1);
    expect(sampleOf(text, SERIES.refreshes)).toBe(1);
  });

  it('logs a failed background refresh of topProducts while its callers get the stale list', async () => {
    let now = 1_000;
    const lines: string[] = [];
    t = await startTestServer({
      responseCache: false,
      cacheClock: () => now,
      log: (level, line) => lines.push(`${level} ${line}`),
    });
    const first = await t.request(TopProductsDocument, { variables: { limit: 3 } });
    expect(first.body.errors).toBeUndefined();
    now += TTL.topProducts + 1;
    t.server.data.topProducts = async () => {
      throw new Error('database down');
    };
    const stale = await t.request(TopProductsDocument, { variables: { limit: 3 } });
    expect(stale.body).toEqual(first.body);
    await vi.waitFor(() => expect(t!.server.cache.stats().refreshFailures).toBe(1));
    expect(lines).toContain('warn background refresh failed, stale values served: database down');
  });
});
