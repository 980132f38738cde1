import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type OwnRedis,
  redisSuiteEnabled,
  startRedis,
} from '../../packages/graphql-flight/tests/helpers/redis.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** GET /ready through Yoga: the status and the parsed body. */
async function ready(t: TestServer) {
  const response = await t.server.yoga.fetch('http://localhost/ready');
  return {
    status: response.status,
    cacheControl: response.headers.get('cache-control'),
    body: (await response.json()) as {
      ready: boolean;
      database: { kind: string; ok: boolean; error?: string };
      cache: { kind: string; ok: boolean; breaker: string; error?: string };
    },
  };
}

describe('/ready on the embedded defaults (PGlite, memory cache)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  }, 90_000);
  afterAll(async () => {
    await t.close();
  });

  it('answers 200 with what it checked, apart from /health (liveness)', async () => {
    const reply = await ready(t);
    expect(reply).toEqual({
      status: 200,
      cacheControl: 'no-store',
      body: {
        ready: true,
        database: { kind: DATABASE_KIND, ok: true },
        cache: { kind: 'memory', ok: true, breaker: 'closed' },
      },
    });
    expect((await t.server.yoga.fetch('http://localhost/health')).status).toBe(200);
  });

  it('answers only GET and HEAD', async () => {
    const post = await t.server.yoga.fetch('http://localhost/ready', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await t.server.yoga.fetch('http://localhost/ready', { method: 'HEAD' })).status).toBe(200);
  });

  // Last in this suite: it closes the suite's data source.
  it('says the database is down once the data source is closed, and /health still answers', async () => {
    await t.server.data.close();
    await vi.waitFor(
      async () => {
        const reply = await ready(t);
        expect(reply.status).toBe(503);
        expect(reply.body.ready).toBe(false);
        expect(reply.body.database).toEqual({ kind: DATABASE_KIND, ok: false, error: 'E_DATA_CLOSED' });
        expect(reply.body.cache.ok).toBe(true);
      },
      { timeout: 5_000, interval: 100 },
    );
    expect((await t.server.yoga.fetch('http://localhost/health')).status).toBe(200);
  });
});

const DATABASE_KIND = process.env.DATABASE_URL === undefined ? 'pglite' : 'postgres';

const enabled = await redisSuiteEnabled();

/**
 * A server on a redis-server of the test's own, which the test kills and restarts: /ready, the
 * log lines an operator sees, and /health, while Redis is down and when it is back.
 */
describe.skipIf(!enabled)('/ready and the log when Redis dies and comes back', () => {
  let redis: OwnRedis;
  let t: TestServer;
  const lines: string[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    t = await startTestServer({
      config: { redisUrl: redis.url, cacheNamespace: 'ready-suite' },
      log: (level, line) => lines.push(`${level} ${line}`),
    });
  }, 90_000);
  afterEach(() => {
    vi.useRealTimers();
  });
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
  });

  it('answers 200 while Redis answers, 503 while it is dead (with the breaker), and 200 again once it is back', async () => {
    // Once connected (a loaded machine may take longer than one store deadline to connect).
    await vi.waitFor(
      async () =>
        expect(await ready(t)).toMatchObject({
          status: 200,
          body: { ready: true, cache: { kind: 'redis', ok: true, breaker: 'closed' } },
        }),
      { timeout: 10_000, interval: 100 },
    );

    await redis.kill();
    // Redis is no longer answering: the next check (at most maxAgeMs after the last) says so.
    await vi.waitFor(
      async () => {
        const reply = await ready(t);
        expect(reply.status).toBe(503);
        expect(reply.body.database.ok).toBe(true);
        expect(reply.body.cache).toMatchObject({ kind: 'redis', ok: false });
        expect(reply.body.cache.error).toEqual(expect.any(String));
      },
      { timeout: 10_000, interval: 100 },
    );
    // Requests still succeed, loading locally; their failing store calls open the circuit.
    for (let id = 1; id <= 12; id++) {
      const reply = await t.request(`{ products(ids: [${id}]) { id } }`);
      expect(reply.body).toEqual({ data: { products: [{ id: String(id) }] } });
    }
    expect(t.server.cache.stats().store.breaker).toBe('open');
    await vi.waitFor(
      async () => {
        const reply = await ready(t);
        expect(reply.status).toBe(503);
        expect(reply.body.cache).toEqual({
          kind: 'redis',
          ok: false,
          breaker: 'open',
          error: 'circuit open',
        });
      },
      { timeout: 10_000, interval: 100 },
    );
    expect((await t.server.yoga.fetch('http://localhost/health')).status).toBe(200);
    // What else an operator sees meanwhile: flightStats and /metrics.
    const operator = await t.token(1, { operator: true });
    const stats = await t.request('{ flightStats { store { kind healthy breaker } } }', { token: operator });
    expect(stats.body.data).toEqual({
      flightStats: { store: { kind: 'redis', healthy: false, breaker: 'open' } },
    });
    const metrics = await (
      await t.server.yoga.fetch('http://localhost/metrics', {
        headers: { authorization: `Bearer ${operator}` },
      })
    ).text();
    expect(metrics).toContain('graphql_flight_store_breaker_state{kind="redis",state="open"} 1');
    expect(metrics).toMatch(/^graphql_flight_store_errors_total [1-9]/m);
    expect(metrics).toMatch(/^graphql_flight_fleet_fallbacks_total [1-9]/m);
    expect(lines).toContain(
      'warn redis circuit open: store calls failed in a row; calls skip Redis and values load from the database (this process only) until a probe answers',
    );
    // Many failed store calls, few lines: one per kind of error in the window.
    const errorLines = lines.filter((line) => line.startsWith('warn redis store error'));
    expect(errorLines.length).toBeGreaterThan(0);
    expect(t.server.cache.stats().storeErrors).toBeGreaterThan(errorLines.length);
    expect(new Set(errorLines).size).toBe(errorLines.length);

    // No request traffic from here on: /ready's own PING is the probe that closes the circuit.
    await redis.restart();
    await vi.waitFor(
      async () => {
        const reply = await ready(t);
        expect(reply.status).toBe(200);
        expect(reply.body.cache).toEqual({ kind: 'redis', ok: true, breaker: 'closed' });
      },
      { timeout: 15_000, interval: 100 },
    );
    const opened = lines.indexOf(
      'warn redis circuit open: store calls failed in a row; calls skip Redis and values load from the database (this process only) until a probe answers',
    );
    const probed = lines.indexOf('info redis circuit half-open: one probe call to Redis');
    const closed = lines.indexOf('info redis circuit closed: Redis answers again');
    expect(opened).toBeGreaterThanOrEqual(0);
    expect(probed).toBeGreaterThan(opened);
    expect(closed).toBeGreaterThan(probed);
  }, 40_000);
});
