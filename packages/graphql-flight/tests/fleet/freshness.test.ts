/**
 * Freshness across processes on one Redis (issue 13): each cache instance stands for a process.
 * Redis's own clock decides a value's phase (its PTTL), so a test moves a value into a phase by
 * setting its PTTL; the memory tiers run on an injected clock.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCache, encodeKey } from '../../src/index.js';
import { deferred, flushMicrotasks } from '../helpers/deferred.js';
import {
  cachesOn,
  eventually,
  expireValueIn,
  invalidateSilently,
  layoutOf,
  rawClient,
  redisSuiteEnabled,
  startRedis,
  valueInRedis,
} from '../helpers/redis.js';
import { manualClock } from '../helpers/clock.js';

const enabled = await redisSuiteEnabled();

/** Sets the PTTL of the key's value in Redis: the value is then that far from its end there. */
async function expireIn(namespace: string, key: string, ms: number): Promise<void> {
  expect(await expireValueIn(namespace, key, ms)).toBe(true);
}

const stored = valueInRedis;

describe.skipIf(!enabled)('freshness across processes', () => {
  const caches = cachesOn('freshness');
  afterEach(() => caches.closeAll());

  it('refreshes a stale key once for the fleet: every process answers stale at once, one loads, all get the new value', async () => {
    const clock = manualClock();
    const open = () => caches.open({ now: clock.now, localTtlMs: 1_000, storeTimeoutMs: 1_000 });
    const processes = [open(), open(), open()];
    const options = { ttlMs: 60_000, staleWhileRevalidateMs: 60_000 };
    await processes[0]!.remember('hot', async () => 'v1', options);
    for (const cache of processes.slice(1))
      await expect(cache.remember('hot', async () => 'x', options)).resolves.toBe('v1');

    // Past its TTL in Redis (59 s of its 120 s left: 1 s into the revalidate window), and past
    // every process's local copy.
    await expireIn(caches.namespace, 'hot', 59_000);
    clock.advance(1_001);
    const gate = deferred<string>();
    const load = vi.fn(() => gate.promise);
    const answers = await Promise.all(processes.map((cache) => cache.remember('hot', load, options)));
    expect(answers).toEqual(['v1', 'v1', 'v1']); // the load has not settled: nobody waited for it
    await eventually(() => load.mock.calls.length === 1);
    const refreshes = () => processes.reduce((sum, cache) => sum + cache.stats().refreshes, 0);
    await eventually(() => refreshes() === 3);
    gate.resolve('v2');
    await eventually(async () => (await stored(caches.namespace, 'hot')) === 'v2');
    // The others look again at the key (within 50 ms) and take the new value from Redis.
    for (const cache of processes) {
      await eventually(async () => {
        clock.advance(60);
        return (await cache.remember('hot', load, options)) === 'v2';
      });
    }
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("takes another process's refresh by its revision, however little of its freshness is left", async () => {
    const clock = manualClock();
    const open = () => caches.open({ now: clock.now, localTtlMs: 1_000, storeTimeoutMs: 1_000 });
    const a = open();
    const b = open();
    const options = { ttlMs: 60_000, staleWhileRevalidateMs: 60_000 };
    await a.remember('r', async () => 'v1', options);
    await expect(b.remember('r', async () => 'x', options)).resolves.toBe('v1');
    await expireIn(caches.namespace, 'r', 59_000);
    clock.advance(1_001);
    const gate = deferred<string>();
    const load = vi.fn(() => gate.promise);
    await expect(a.remember('r', load, options)).resolves.toBe('v1'); // a refreshes
    await eventually(() => load.mock.calls.length === 1);
    await expect(b.remember('r', load, options)).resolves.toBe('v1'); // held by a
    gate.resolve('v2');
    await eventually(async () => (await stored(caches.namespace, 'r')) === 'v2');
    // By the time b looks again, a's value has 5 ms of freshness left in Redis: still a's write.
    await expireIn(caches.namespace, 'r', 60_005);
    clock.advance(60);
    await expect(b.remember('r', load, options)).resolves.toBe('v1');
    await eventually(async () => {
      await flushMicrotasks();
      return b.peek('r') === 'v2';
    });
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('refuses in Redis the write-back of a refresh an invalidation came during, though its message was lost; the fleet never serves it', async () => {
    const clock = manualClock();
    const a = caches.open({ now: clock.now, storeTimeoutMs: 1_000 });
    const b = caches.open({ now: clock.now, storeTimeoutMs: 1_000 });
    const options = { ttlMs: 60_000, staleWhileRevalidateMs: 60_000, tags: ['Product:1'] };
    await a.remember('p', async () => 'old', options);
    await expireIn(caches.namespace, 'p', 59_000);
    clock.advance(1_001);
    const first = deferred<string>();
    const loads: string[] = [];
    const load = vi.fn(() => {
      loads.push(loads.length === 0 ? 'first' : 'again');
      return loads.length === 1 ? first.promise : Promise.resolve('after the write');
    });
    await expect(a.remember('p', load, options)).resolves.toBe('old'); // the refresh starts
    await eventually(() => load.mock.calls.length === 1);
    // An invalidation whose message never reaches a: only Redis's fence can refuse the refresh.
    await invalidateSilently(caches.namespace, { tags: ['Product:1'] });
    first.resolve('read before the write');
    // Redis refuses the fill (the tag's state is above the load's sequence); the leader loads again.
    await eventually(async () => (await stored(caches.namespace, 'p')) === 'after the write');
    expect(loads).toEqual(['first', 'again']);
    for (const cache of [a, b]) {
      clock.advance(1_001);
      await expect(cache.remember('p', load, options)).resolves.toBe('after the write');
    }
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('throttles failing attempts for the fleet: one attempt, then none before the backoff, stale answers everywhere', async () => {
    const clock = manualClock();
    const open = () =>
      caches.open({
        now: clock.now,
        localTtlMs: 1_000,
        storeTimeoutMs: 1_000,
        refreshBackoff: { initialMs: 60_000, maxMs: 60_000 },
      });
    const a = open();
    const b = open();
    const options = { ttlMs: 60_000, staleWhileRevalidateMs: 1_000, staleIfErrorMs: 60_000 };
    await a.remember('k', async () => 'old', options);
    // 58 s left of 120 s: 2 s past its TTL, past the revalidate window, inside the error window.
    await expireIn(caches.namespace, 'k', 58_000);
    clock.advance(1_001);
    const load = vi.fn(async () => {
      throw new Error('origin down');
    });
    await expect(a.remember('k', load, options)).resolves.toBe('old');
    expect(load).toHaveBeenCalledTimes(1);
    // b has never failed itself: Redis's mark tells it the fleet is failing, and when to try again.
    for (let i = 0; i < 5; i++) {
      clock.advance(1_001);
      await expect(b.remember('k', load, options)).resolves.toBe('old');
      await expect(a.remember('k', load, options)).resolves.toBe('old');
    }
    expect(load).toHaveBeenCalledTimes(1);
    expect(a.stats().staleIfErrorServes + b.stats().staleIfErrorServes).toBe(11);
  });

  it("waits out the fleet's backoff before the next attempt, and the value recovers", async () => {
    const clock = manualClock();
    const open = () =>
      caches.open({
        now: clock.now,
        localTtlMs: 1_000,
        storeTimeoutMs: 1_000,
        refreshBackoff: { initialMs: 300, maxMs: 300 },
      });
    const a = open();
    const b = open();
    const options = { ttlMs: 60_000, staleWhileRevalidateMs: 1_000, staleIfErrorMs: 60_000 };
    await a.remember('k', async () => 'old', options);
    await expireIn(caches.namespace, 'k', 58_000);
    clock.advance(1_001);
    const attempts: number[] = [];
    let up = false;
    const load = vi.fn(async () => {
      attempts.push(performance.now());
      if (!up) throw new Error('origin down');
      return 'new';
    });
    await expect(a.remember('k', load, options)).resolves.toBe('old');
    up = true;
    // Callers keep asking; the next attempt comes only once Redis's clock passed the backoff.
    await eventually(async () => {
      clock.advance(1_001);
      await b.remember('k', load, options);
      return (await stored(caches.namespace, 'k')) === 'new';
    });
    expect(attempts).toHaveLength(2);
    expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(290);
  });

  it('answers stale at once in a process that never failed once the fleet is failing, and refreshes in the background', async () => {
    const clock = manualClock();
    const open = () =>
      caches.open({
        now: clock.now,
        localTtlMs: 1_000,
        storeTimeoutMs: 1_000,
        refreshBackoff: { initialMs: 1, maxMs: 1 },
      });
    const a = open();
    const b = open();
    const options = { ttlMs: 60_000, staleWhileRevalidateMs: 1_000, staleIfErrorMs: 60_000 };
    await a.remember('k', async () => 'old', options);
    await expireIn(caches.namespace, 'k', 58_000); // past the revalidate window, inside the error window
    clock.advance(1_001);
    await expect(a.remember('k', async () => Promise.reject(new Error('down')), options)).resolves.toBe(
      'old',
    );
    // The mark's 1 ms backoff is over (on Redis's clock). b has no copy and has never failed: its
    // caller is answered stale without waiting for the load that takes the next attempt.
    const client = await rawClient();
    try {
      const lease = layoutOf(caches.namespace, encodeKey('k')).lease;
      await eventually(async () => {
        const mark = String(await client.get(lease));
        const [seconds, micros] = (await client.sendCommand(['TIME'])) as [string, string];
        return (
          mark.startsWith('f|') &&
          Number(seconds) * 1_000 + Number(micros) / 1_000 > Number(mark.split('|')[2])
        );
      });
    } finally {
      client.destroy();
    }
    const gate = deferred<string>();
    const load = vi.fn(() => gate.promise);
    await expect(b.remember('k', load, options)).resolves.toBe('old');
    // Its callers go on being answered stale at once; one of them starts the refresh.
    await eventually(async () => {
      clock.advance(2);
      await expect(b.remember('k', load, options)).resolves.toBe('old');
      return load.mock.calls.length === 1;
    });
    expect(b.stats().refreshes).toBe(1);
    expect(b.stats().staleIfErrorServes).toBeGreaterThanOrEqual(2);
    gate.resolve('new');
    await eventually(async () => (await stored(caches.namespace, 'k')) === 'new');
  });

  it('soft-purges across processes and in Redis: stale answers at once, one refresh for the fleet', async () => {
    const clock = manualClock();
    const open = () => caches.open({ now: clock.now, localTtlMs: 1_000, storeTimeoutMs: 1_000 });
    const a = open();
    const b = open();
    const options = { ttlMs: 60_000, staleWhileRevalidateMs: 5_000, tags: ['Product:1'] };
    await a.remember('p', async () => 'old', options);
    await expect(b.remember('p', async () => 'x', options)).resolves.toBe('old');
    await a.invalidate({ tags: ['Product:1'], soft: true });
    // b is told (its copy is stale now), and a process with no copy reads Redis's soft state.
    const c = open();
    const gate = deferred<string>();
    const load = vi.fn(() => gate.promise);
    await eventually(async () => {
      await flushMicrotasks();
      return (await b.fetch('p', load, options)).source === 'stale';
    });
    await expect(c.fetch('p', load, options)).resolves.toEqual({ value: 'old', source: 'stale' });
    await expect(a.fetch('p', load, options)).resolves.toEqual({ value: 'old', source: 'stale' });
    await eventually(() => load.mock.calls.length === 1);
    gate.resolve('new');
    await eventually(async () => (await stored(caches.namespace, 'p')) === 'new');
    for (const cache of [a, b, c]) {
      await eventually(async () => {
        clock.advance(60);
        return (await cache.remember('p', load, options)) === 'new';
      });
    }
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('soft-purges a key in Redis: a process with no copy of it reads it as stale, and one refresh follows', async () => {
    const a = caches.open({ storeTimeoutMs: 1_000 });
    const options = { ttlMs: 60_000, staleWhileRevalidateMs: 5_000 };
    await a.remember('q', async () => 'old', options);
    await a.invalidate({ keys: ['q'], soft: true });
    const c = caches.open({ storeTimeoutMs: 1_000 });
    const gate = deferred<string>();
    const load = vi.fn(() => gate.promise);
    await expect(c.fetch('q', load, options)).resolves.toEqual({ value: 'old', source: 'stale' });
    await eventually(() => load.mock.calls.length === 1);
    gate.resolve('new');
    await eventually(async () => (await stored(caches.namespace, 'q')) === 'new');
  });

  it('refreshes a hot key early with Redis (XFetch): the fleet loads before Redis expires it, and nobody waits', async () => {
    const clock = manualClock();
    const a = caches.open({
      now: clock.now,
      localTtlMs: 1_000,
      storeTimeoutMs: 1_000,
      random: () => 0.000_1,
    });
    const options = { ttlMs: 60_000, earlyRefresh: { beta: 1 } };
    // Its load takes 20 ms: the record keeps that.
    await a.remember(
      'x',
      async () => {
        clock.advance(20);
        return 'v1';
      },
      options,
    );
    await expireIn(caches.namespace, 'x', 500); // 500 ms left in Redis
    clock.advance(1_001); // past the local copy: the next call reads Redis's PTTL
    const load = vi.fn(async () => 'v2');
    await expect(a.remember('x', load, options)).resolves.toBe('v1');
    // Fresh, 500 ms from its end; -20 ms * ln(0.0001) = 184 ms: no early refresh yet.
    await expect(a.remember('x', load, options)).resolves.toBe('v1');
    expect(load).not.toHaveBeenCalled();
    // 100 ms from its end, on both clocks (Redis's PTTL set to agree with the injected one).
    clock.advance(400);
    await expireIn(caches.namespace, 'x', 100);
    await expect(a.remember('x', load, options)).resolves.toBe('v1');
    await eventually(async () => (await stored(caches.namespace, 'x')) === 'v2');
    expect(load).toHaveBeenCalledTimes(1);
    expect(a.stats()).toMatchObject({ earlyRefreshes: 1, staleHits: 0 });
  });

  it("judges a value in Redis by its writer's windows: a reader with a longer error window does not reload a fresh one", async () => {
    const a = caches.open({ storeTimeoutMs: 1_000 });
    const b = caches.open({ storeTimeoutMs: 1_000 });
    await a.remember('w', async () => 'v1', { ttlMs: 60_000, staleWhileRevalidateMs: 1_000 });
    const load = vi.fn(async () => 'v2');
    await expect(b.fetch('w', load, { ttlMs: 60_000, staleIfErrorMs: 120_000 })).resolves.toEqual({
      value: 'v1',
      source: 'store',
    });
    expect(load).not.toHaveBeenCalled();
  });

  it('hands an error to callers past the windows, and never inside them', async () => {
    const clock = manualClock();
    const a = caches.open({ now: clock.now, localTtlMs: 1_000, storeTimeoutMs: 1_000 });
    const options = { ttlMs: 60_000, staleIfErrorMs: 5_000 };
    await a.remember('k', async () => 'old', options);
    await expireIn(caches.namespace, 'k', 4_000); // 1 s past its TTL: inside the error window
    clock.advance(1_001);
    const failing = async () => {
      throw new Error('origin down');
    };
    await expect(a.remember('k', failing, options)).resolves.toBe('old');
    // Gone from Redis and from memory: the error reaches the caller.
    const client = await rawClient();
    await client.del(layoutOf(caches.namespace, encodeKey('k')).value);
    client.destroy();
    clock.advance(60_001);
    await expect(a.remember('k', failing, options)).rejects.toThrow();
  });

  it("with Redis dead, serves a stale value from this process's copy only, for at most localTtlMs", async () => {
    const redis = await startRedis();
    const clock = manualClock();
    const a = createCache({
      redisUrl: redis.url,
      namespace: caches.namespace,
      now: clock.now,
      localTtlMs: 1_000,
    });
    try {
      const options = { ttlMs: 500, staleWhileRevalidateMs: 60_000 };
      await a.remember('d', async () => 'old', options);
      await redis.kill();
      clock.advance(600); // past its TTL, inside the window, inside the copy's localTtlMs
      const load = vi.fn(async () => 'loaded');
      await expect(a.fetch('d', load, options)).resolves.toEqual({ value: 'old', source: 'stale' });
      clock.advance(500); // past localTtlMs: nothing vouches for the value any more
      await expect(a.fetch('d', load, options)).resolves.toMatchObject({ value: 'loaded' });
    } finally {
      await a.close();
      await redis.stop();
    }
  });
});
