/**
 * invalidate() when Redis does not acknowledge: it rejects with InvalidationFailedError past
 * invalidationTimeoutMs, stays queued and is re-sent until Redis does; meanwhile the process reads
 * none of its keys or tags from Redis. Each test runs a redis-server of its own, to freeze, kill
 * or break it; two FlightCache instances stand for two processes.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCache, type FlightCache, InvalidationFailedError } from '../../src/index.js';
import {
  eventually,
  type OwnRedis,
  rawClient,
  recordValue,
  redisSuiteEnabled,
  startRedis,
  uniqueNamespace,
  untilListening,
  valueKey,
} from '../helpers/redis.js';

const enabled = await redisSuiteEnabled();

const INVALIDATION_TIMEOUT_MS = 300;
/** Scheduling allowance on a busy 2-core machine. */
const SLACK_MS = 400;
const tags = ['Product:1'];

describe.skipIf(!enabled)('the invalidation queue', () => {
  let redis: OwnRedis | undefined;
  const open: FlightCache[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((cache) => cache.close()));
    await redis?.stop();
    redis = undefined;
  });

  function cache(url: string, namespace: string, options: Parameters<typeof createCache>[0] = {}) {
    const created = createCache({ redisUrl: url, namespace, ...options });
    open.push(created);
    return created;
  }

  /**
   * Polls `reader` for `key` every 20 ms for `windowMs` (bounded by count too), and resolves when
   * it last answered 'old', in ms after `since` (-Infinity: never).
   */
  async function lastOld(reader: FlightCache, key: string, since: number, windowMs: number) {
    let last = Number.NEGATIVE_INFINITY;
    const fresh = async () => 'fresh';
    for (let i = 0; i < 200 && performance.now() - since < windowMs; i++) {
      const value = await reader.remember(key, fresh, { tags });
      if (value === 'old') last = performance.now() - since;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return last;
  }

  /** The shared start: A wrote 'old' (tagged), B read it from Redis and holds it in memory. */
  async function twoProcesses(own: OwnRedis, label: string, bOptions: Parameters<typeof createCache>[0]) {
    const namespace = uniqueNamespace(label);
    const a = cache(own.url, namespace, { invalidationTimeoutMs: INVALIDATION_TIMEOUT_MS });
    const b = cache(own.url, namespace, bOptions);
    await untilListening(namespace, 2, own.url);
    await a.remember('p', async () => 'old', { tags });
    await expect(b.remember('p', async () => 'unused', { tags })).resolves.toBe('old');
    expect(b.stats().storeHits).toBe(1);
    return { namespace, a, b };
  }

  /**
   * Redis is out: invalidate() rejects with InvalidationFailedError within about the timeout and
   * stays queued; the process serves locally meanwhile, and its requests open its circuit.
   */
  async function expectRejectedAndQueued(a: FlightCache) {
    const started = performance.now();
    const error = await a.invalidate({ tags }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(InvalidationFailedError);
    expect(error).toMatchObject({ code: 'E_INVALIDATION_FAILED', keys: 0, tags: 1 });
    expect(elapsed).toBeGreaterThanOrEqual(INVALIDATION_TIMEOUT_MS - 5);
    expect(elapsed).toBeLessThan(INVALIDATION_TIMEOUT_MS + SLACK_MS);
    expect(a.stats().invalidations).toEqual({ sent: 0, failed: 1, pending: 1 });
    // While it is queued this process loads locally (and its memory copy was retired at once).
    const local = vi.fn(async () => 'local');
    await expect(a.remember('p', local, { tags })).resolves.toBe('local');
    expect(local).toHaveBeenCalledTimes(1);
    // The outage lasts: the process's own requests, served locally, open its circuit.
    for (let i = 0; i < 10 && a.stats().store.breaker !== 'open'; i++)
      await a.remember(`other-${i}`, async () => 'local');
    expect(a.stats().store.breaker).toBe('open');
  }

  it('Redis frozen (SIGSTOP) then resumed: rejects, stays queued, lands after SIGCONT, and the other process drops its copy within 1 s', async () => {
    const own = await startRedis();
    redis = own;
    // A long local TTL on B: only the invalidation's message can make it drop its copy.
    const { namespace, a, b } = await twoProcesses(own, 'frozen', { localTtlMs: 60_000 });

    own.pause();
    await expectRejectedAndQueued(a);
    // B's copy outlives the outage: nothing told it yet.
    expect(b.peek('p')).toBe('old');

    own.resume();
    const resumedAt = performance.now();
    const polled = lastOld(b, 'p', resumedAt, 1_500);
    await eventually(() => a.stats().invalidations.pending === 0, 3_000);
    expect(a.stats().invalidations).toEqual({ sent: 1, failed: 1, pending: 0 });
    expect(await polled).toBeLessThan(1_000);
    // B's next read found the record in Redis retired by the tag, and dropped it there.
    expect(b.stats().fleet.staleDropped).toBe(1);
    const c = cache(own.url, namespace);
    await expect(c.remember('p', async () => 'fresh', { tags })).resolves.toBe('fresh');
  });

  it('Redis killed then restarted on the same port (its data kept): rejects, stays queued, lands after the restart, and the other process stops serving the old value within 1 s', async () => {
    const own = await startRedis({ persist: true });
    redis = own;
    // B reads Redis on nearly every call (a short local TTL, a circuit that stays closed): what it
    // serves after the restart is what Redis holds.
    const { namespace, a, b } = await twoProcesses(own, 'killed', {
      localTtlMs: 50,
      breakerThreshold: 1_000,
    });

    await own.kill();
    await expectRejectedAndQueued(a);

    await own.restart();
    const restartedAt = performance.now();
    const polled = lastOld(b, 'p', restartedAt, 1_500);
    // The restarted Redis still holds the old value: only the queued invalidation can retire it.
    const client = await rawClient(own.url);
    try {
      expect(recordValue(await client.get(valueKey(namespace, 'p')))).toBe('old');
    } finally {
      client.destroy();
    }
    await eventually(() => a.stats().invalidations.pending === 0, 4_000);
    expect(a.stats().invalidations).toEqual({ sent: 1, failed: 1, pending: 0 });
    expect(await polled).toBeLessThan(1_000);
    const c = cache(own.url, namespace);
    await expect(c.remember('p', async () => 'fresh', { tags })).resolves.toBe('fresh');
  });

  it('while an invalidation is queued, the process reads none of its keys or tags from a Redis that answers, and loads them locally', async () => {
    const own = await startRedis();
    redis = own;
    const namespace = uniqueNamespace('pending');
    // A circuit that never opens: every read below reaches Redis unless the queue forbids it.
    const a = cache(own.url, namespace, { invalidationTimeoutMs: 200, breakerThreshold: 1_000 });
    const b = cache(own.url, namespace, { localTtlMs: 60_000 });
    await untilListening(namespace, 2, own.url);
    await a.rememberMany(['p', 'r'], async (keys) => keys.map(() => 'old'), { tags });
    await a.rememberMany(['q', 's'], async (keys) => keys.map(() => 'old'));
    // Written by B, so A holds no memory copy of it.
    await b.remember('u', async () => 'old');
    const client = await rawClient(own.url);
    try {
      // Redis answers, but refuses the invalidation's INCR: nothing of it lands.
      const seq = (await client.get(`${namespace}:{seq}`)) ?? '0';
      await client.set(`${namespace}:{seq}`, 'not-a-number');
      await expect(a.invalidate({ keys: ['q', 's'], tags })).rejects.toMatchObject({
        code: 'E_INVALIDATION_FAILED',
      });
      expect(a.stats().invalidations).toMatchObject({ sent: 0, pending: 1 });

      // B has nothing pending: it reads the old values Redis still holds.
      for (const key of ['p', 'q', 'r', 's'])
        await expect(b.remember(key, async () => 'unused')).resolves.toBe('old');
      // A loads locally: a key it invalidated (q), a value carrying a tag it invalidated (p), in
      // remember and in a batch (r, s); a key it did not invalidate (u) is read from Redis.
      const local = vi.fn(async () => 'local');
      const localMany = vi.fn(async (keys: string[]) => keys.map(() => 'local'));
      const fallbacks = a.stats().fleet.fallbacks;
      await expect(a.remember('q', local)).resolves.toBe('local');
      await expect(a.remember('p', local, { tags })).resolves.toBe('local');
      await expect(a.rememberMany(['r', 's', 'u'], localMany, { tags })).resolves.toEqual([
        'local',
        'local',
        'old',
      ]);
      expect(local).toHaveBeenCalledTimes(2);
      expect(localMany.mock.calls.map(([keys]) => keys)).toEqual([['r', 's']]);
      expect(a.stats().fleet.fallbacks - fallbacks).toBe(4);
      // Nothing A loaded meanwhile was written.
      for (const key of ['p', 'q', 'r', 's'])
        expect(recordValue(await client.get(valueKey(namespace, key)))).toBe('old');

      // Redis repaired: the queued invalidation lands, and B is told.
      await client.set(`${namespace}:{seq}`, seq);
      await eventually(() => a.stats().invalidations.pending === 0, 2_000);
      expect(a.stats().invalidations).toMatchObject({ sent: 1, pending: 0 });
      expect(await client.exists([valueKey(namespace, 'q'), valueKey(namespace, 's')])).toBe(0);
      await eventually(() => b.peek('p') === undefined && b.peek('q') === undefined, 2_000);
      for (const key of ['p', 'q', 'r', 's'])
        await expect(b.remember(key, async () => 'fresh')).resolves.toBe('fresh');
    } finally {
      client.destroy();
    }
  });
});
