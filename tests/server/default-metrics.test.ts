import { createCache } from 'graphql-flight';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, type MetricsOptions } from '../../src/plugins/use-metrics.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe("/metrics: prom-client's default process and Node.js metrics", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  }, 90_000);
  afterAll(async () => {
    await t?.close();
  });

  it('serves process and Node series beside the graphql_flight_ ones', async () => {
    const token = await t.token(1, { operator: true });
    const response = await t.server.yoga.fetch('http://localhost/metrics', {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(text).toContain('# TYPE graphql_flight_cache_hits_total counter');
  });

  /** A Yoga with only the metrics plugin, scraped as an operator would be. */
  async function scrapeWith(options: Partial<MetricsOptions>): Promise<string> {
    const cache = createCache();
    const yoga = createYoga({
      schema: createSchema({ typeDefs: 'type Query { ok: Boolean }' }),
      plugins: [
        createMetrics({ cacheStats: () => cache.stats(), authorize: async () => true, ...options }).plugin,
      ],
    });
    const response = await yoga.fetch('http://localhost/metrics', { headers: { authorization: 'Bearer x' } });
    await cache.close();
    expect(response.status).toBe(200);
    return response.text();
  }

  it('registers them once per server: several servers in one process each serve their own', async () => {
    const [a, b] = await Promise.all([scrapeWith({}), scrapeWith({})]);
    for (const text of [a, b]) expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
  });

  it('leaves them out with defaultMetrics: false', async () => {
    const text = await scrapeWith({ defaultMetrics: false });
    expect(text).toContain('graphql_flight_cache_hits_total');
    expect(text).not.toContain('process_cpu_seconds_total');
  });
});
