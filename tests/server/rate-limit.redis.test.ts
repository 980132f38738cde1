import { createHmac } from 'node:crypto';
import { setTimeout as wait } from 'node:timers/promises';
import { createCache } from 'graphql-flight';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { RedisRateLimiter } from '../../src/plugins/rate-limiter.js';
import { cacheKeySecret } from '../../src/server.js';
import { PlaceOrderDocument } from '../generated/graphql.js';
import {
  eventually,
  type OwnRedis,
  rawClient,
  redisSuiteEnabled,
  startRedis,
  uniqueNamespace,
} from '../../packages/graphql-flight/tests/helpers/redis.js';
import { errorCodes, send } from '../helpers/http.js';
import { startTestServer, TEST_SECRET, type TestServer } from '../helpers/server.js';

const enabled = await redisSuiteEnabled();
const ORDER = { productId: '3', quantity: 1 };
/** One token per 100 s: nothing refills while a test runs, so the counts are exact. */
const SLOW = { burst: 20, perSecond: 0.01 };

async function rateLimitConnections(redis: OwnRedis): Promise<number> {
  const client = await rawClient(redis.url);
  try {
    const list = await client.clientList();
    return list.filter((entry) => entry.name === 'graphql-flight-rate-limit').length;
  } finally {
    client.destroy();
  }
}

describe.skipIf(!enabled)('the mutation rate limit on Redis', () => {
  let redis: OwnRedis;
  const namespace = uniqueNamespace('rate');
  let first: TestServer;
  let second: TestServer;
  const server = async (url: string) => {
    const t = await startTestServer({
      cache: createCache({ redisUrl: url, namespace }),
      config: { redisUrl: url, rateLimit: SLOW },
    });
    expect(await (t.server.rateLimiter as RedisRateLimiter).connected).toBe(true);
    return t;
  };
  beforeAll(async () => {
    redis = await startRedis();
    first = await server(redis.url);
    second = await server(redis.url);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await redis?.stop();
  });

  it('shares one budget per viewer between two servers on one Redis', async () => {
    const token = await first.token(1);
    const onFirst = await Promise.all(
      Array.from({ length: 12 }, () => send(first, PlaceOrderDocument, { token, variables: ORDER })),
    );
    const onSecond = await Promise.all(
      Array.from({ length: 8 }, () => send(second, PlaceOrderDocument, { token, variables: ORDER })),
    );
    expect([...onFirst, ...onSecond].map((reply) => reply.status)).toEqual(Array(20).fill(200));

    const before = (await second.server.data.salesSummary()).orderCount;
    for (const t of [second, first]) {
      const refused = await send(t, PlaceOrderDocument, { token, variables: ORDER });
      expect(refused.status).toBe(429);
      expect(errorCodes(refused)).toEqual(['RATE_LIMITED']);
      // The next token comes 100 s after the bucket was last full (less the time this test took).
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(90);
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(100);
    }
    expect((await second.server.data.salesSummary()).orderCount).toBe(before);
    expect(first.server.rateLimiter?.stats()).toMatchObject({ kind: 'redis', fallbacks: 0 });
  });

  it('keeps the budgets of different viewers apart across the fleet', async () => {
    const other = await second.token(2);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        send(i % 2 === 0 ? first : second, PlaceOrderDocument, { token: other, variables: ORDER }),
      ),
    );
    expect(replies.map((reply) => reply.status)).toEqual(Array(20).fill(200));
    expect((await first.request(PlaceOrderDocument, { token: other, variables: ORDER })).status).toBe(429);
  });

  it('names each bucket by an HMAC of the viewer under the cache namespace, never the viewer in clear', async () => {
    const client = await rawClient(redis.url);
    try {
      const keys: string[] = [];
      for await (const batch of client.scanIterator({ MATCH: `${namespace}:*:r`, COUNT: 500 }))
        keys.push(...batch);
      const secret = cacheKeySecret(TEST_SECRET);
      const bucket = (viewer: string) =>
        `${namespace}:{${createHmac('sha256', secret).update('r\0').update(viewer).digest('base64url').slice(0, 22)}}:r`;
      expect(keys.sort()).toEqual([bucket('viewer:1'), bucket('viewer:2')].sort());
      for (const key of keys) expect(key).not.toMatch(/viewer/);
      // Expiring when the bucket is full again: 20 tokens at one per 100 s.
      const ttl = await client.pTTL(keys[0]!);
      expect(ttl).toBeGreaterThan(1_900_000);
      expect(ttl).toBeLessThanOrEqual(2_000_000);
    } finally {
      client.destroy();
    }
  });

  it('closes its Redis connection with the server', { timeout: 120_000 }, async () => {
    const extra = await server(redis.url);
    await eventually(async () => (await rateLimitConnections(redis)) === 3);
    await extra.close();
    await eventually(async () => (await rateLimitConnections(redis)) === 2);
  });
});

describe.skipIf(!enabled)('RedisRateLimiter', () => {
  let redis: OwnRedis;
  const open: RedisRateLimiter[] = [];
  const logs: string[] = [];
  const limiter = (limit: { burst: number; perSecond: number }, options: { retryMs?: number } = {}) => {
    const made = new RedisRateLimiter({
      limit,
      url: redis.url,
      namespace: uniqueNamespace('rl'),
      secret: 'a-secret-of-the-test-0123456789',
      onStateChange: (message) => logs.push(message),
      ...options,
    });
    open.push(made);
    return made;
  };
  const connected = async (made: RedisRateLimiter) => {
    expect(await made.connected).toBe(true);
    return made;
  };
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((made) => made.close()));
    logs.length = 0;
    redis.resume();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it("refills at the rate, on Redis's clock", async () => {
    // Four tokens a second: one every 250 ms.
    const bucket = await connected(limiter({ burst: 2, perSecond: 4 }));
    expect(await bucket.consume('k', 2)).toEqual({ allowed: true });
    const refused = await bucket.consume('k', 1);
    expect(refused.allowed).toBe(false);
    const retryAfterMs = (refused as { retryAfterMs: number }).retryAfterMs;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(250);
    // A bounded real wait: Redis's TIME cannot be moved by the test.
    await wait(retryAfterMs + 5);
    expect(await bucket.consume('k', 1)).toEqual({ allowed: true });
    expect((await bucket.consume('k', 1)).allowed).toBe(false);
    expect(bucket.stats()).toEqual({ kind: 'redis', allowed: 2, refused: 2, fallbacks: 0 });
  });

  it('never holds more than the burst, even in a bucket whose key outlived it', async () => {
    const namespace = uniqueNamespace('rl');
    const secret = 'a-secret-of-the-test-0123456789';
    const bucket = await connected(
      new RedisRateLimiter({ limit: { burst: 2, perSecond: 4 }, url: redis.url, namespace, secret }),
    );
    open.push(bucket);
    const client = await rawClient(redis.url);
    try {
      // A theoretical arrival time 1,000 s in the past, in a key without expiry.
      const [seconds] = await client.time();
      const digest = createHmac('sha256', secret).update('r\0').update('k').digest('base64url').slice(0, 22);
      await client.set(`${namespace}:{${digest}}:r`, String((Number(seconds) - 1_000) * 1_000_000));
    } finally {
      client.destroy();
    }
    expect(await bucket.consume('k', 2)).toEqual({ allowed: true });
    expect((await bucket.consume('k', 1)).allowed).toBe(false);
    expect(bucket.stats().fallbacks).toBe(0);
  });

  it('limits each process on its own bucket while Redis is dead, answers at once, logs it once, and uses Redis again when it is back', async () => {
    const bucket = await connected(limiter({ burst: 3, perSecond: 0.01 }, { retryMs: 50 }));
    expect(await bucket.consume('k', 1)).toEqual({ allowed: true });
    await redis.kill();
    const started = performance.now();
    const decisions = [];
    for (let i = 0; i < 4; i++) decisions.push(await bucket.consume('k', 1));
    expect(performance.now() - started).toBeLessThan(1_000);
    // A fresh bucket of 3 in this process: neither the gate left open nor every mutation refused.
    expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, true, false]);
    expect(bucket.stats().fallbacks).toBe(4);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(
      /^rate limit: Redis unavailable \(.+\); each process limits mutations on its own until it answers$/,
    );

    await redis.restart();
    await eventually(async () => {
      await bucket.consume('other', 1);
      return logs.length === 2;
    });
    expect(logs[1]).toBe('rate limit: Redis answers again; the fleet-wide budgets are back');
  });

  it('bounds a consume by its timeout while Redis is frozen', async () => {
    const bucket = await connected(limiter({ burst: 3, perSecond: 0.01 }));
    expect(await bucket.consume('k', 1)).toEqual({ allowed: true });
    redis.pause();
    const started = performance.now();
    expect(await bucket.consume('k', 1)).toEqual({ allowed: true });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(1_000);
    // Within retryMs (1 s) Redis is not asked again: the next consume does not wait.
    const next = performance.now();
    await bucket.consume('k', 1);
    expect(performance.now() - next).toBeLessThan(100);
    expect(bucket.stats().fallbacks).toBe(2);
    expect(logs[0]).toContain('Redis did not answer within 200 ms');
  });
});

describe.skipIf(!enabled)('a server whose Redis is dead', () => {
  let redis: OwnRedis;
  let t: TestServer;
  beforeAll(async () => {
    redis = await startRedis();
    t = await startTestServer({
      cache: createCache({ redisUrl: redis.url, namespace: uniqueNamespace('rate-dead') }),
      config: { redisUrl: redis.url, rateLimit: SLOW },
    });
    await redis.kill();
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
  });

  it('still answers every mutation, still refuses the 21st of a burst, and logs the fault once', async () => {
    const warn = vi.spyOn(t.server.yoga.logger, 'warn');
    const token = await t.token(3);
    const started = performance.now();
    const replies = await Promise.all(
      Array.from({ length: 21 }, () => send(t, PlaceOrderDocument, { token, variables: ORDER })),
    );
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(replies.filter((reply) => reply.status === 200)).toHaveLength(20);
    const refused = replies.filter((reply) => reply.status === 429);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.headers.get('retry-after')).toBe('100');
    expect(t.server.rateLimiter?.stats().fallbacks).toBe(21);
    expect(warn.mock.calls.map(([message]) => message)).toEqual([
      expect.stringMatching(
        /^rate limit: Redis unavailable \(.+\); each process limits mutations on its own until it answers$/,
      ),
    ]);
  });
});
