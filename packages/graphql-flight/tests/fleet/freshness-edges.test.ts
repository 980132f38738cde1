/**
 * Review of issue 13 (freshness): defects found, each pinned by a test that fails on the code
 * under review. Redis tests use the machine's Redis; each cache instance stands for a process.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeKey } from '../../src/index.js';
import { RedisKeys } from '../../src/store/redis-keys.js';
import { deferred, flushMicrotasks, track } from '../helpers/deferred.js';
import {
  cachesOn,
  eventually,
  expireValueIn,
  layoutOf,
  rawClient,
  recordValue,
  redisSuiteEnabled,
} from '../helpers/redis.js';
import { manualClock } from '../helpers/clock.js';

const enabled = await redisSuiteEnabled();

/** Sets the PTTL of the key's value in Redis: the value is then that far from its end there. */
async function expireIn(namespace: string, key: string, ms: number): Promise<void> {
  expect(await expireValueIn(namespace, key, ms)).toBe(true);
}

/** Settles within `ms` of real time, or not: for "this caller is not waiting on the load". */
async function settlesWithin(call: { readonly settled: boolean }, ms: number): Promise<boolean> {
  try {
    await eventually(() => call.settled, ms);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!enabled)('freshness across processes', () => {
  const caches = cachesOn('review');
  afterEach(() => caches.closeAll());

  it('a caller inside the revalidate window whose local copy expired does not wait on the running refresh', async () => {
    const clock = manualClock();
    const a = caches.open({ now: clock.now, localTtlMs: 1_000, storeTimeoutMs: 1_000 });
    const options = { ttlMs: 60_000, staleWhileRevalidateMs: 60_000 };
    await a.remember('hot', async () => 'v1', options);
    await expireIn(caches.namespace, 'hot', 59_000); // 1 s into the revalidate window in Redis
    clock.advance(1_001); // past the local copy
    const gate = deferred<string>();
    const load = vi.fn(() => gate.promise);
    try {
      await expect(a.remember('hot', load, options)).resolves.toBe('v1'); // stale; the refresh starts
      await eventually(() => load.mock.calls.length === 1);
      // The stale copy it kept is at most localTtlMs old: gone now, while the refresh still loads.
      // Redis still holds the value inside its revalidate window.
      clock.advance(1_001);
      const second = track(a.remember('hot', load, options));
      // One Redis read away from its stale answer; it must not wait for the refresh's load.
      expect(await settlesWithin(second, 1_000)).toBe(true);
      await expect(second.promise).resolves.toBe('v1');
    } finally {
      gate.resolve('v2');
    }
  });

  it("a caller inside the revalidate window whose local copy expired never gets the refresh's error", async () => {
    const clock = manualClock();
    const a = caches.open({ now: clock.now, localTtlMs: 1_000, storeTimeoutMs: 1_000 });
    const options = { ttlMs: 60_000, staleWhileRevalidateMs: 60_000 };
    await a.remember('hot', async () => 'v1', options);
    await expireIn(caches.namespace, 'hot', 59_000);
    clock.advance(1_001);
    const gate = deferred<string>();
    const load = vi.fn(() => gate.promise);
    await expect(a.remember('hot', load, options)).resolves.toBe('v1');
    await eventually(() => load.mock.calls.length === 1);
    clock.advance(1_001);
    const second = a.remember('hot', load, options);
    second.catch(() => {});
    await flushMicrotasks();
    gate.reject(new Error('origin down'));
    await expect(second).resolves.toBe('v1');
  });

  it('a refresh begun before a soft purge (its message late) is never served as fresh after it: the soft state outlives the value the refresh wrote', async () => {
    const clock = manualClock();
    const a = caches.open({ now: clock.now, localTtlMs: 1_000, storeTimeoutMs: 1_000 });
    const options = { ttlMs: 600_000, staleWhileRevalidateMs: 5_000 };
    await a.remember('p', async () => 'old', options);
    await expireIn(caches.namespace, 'p', 4_000); // 1 s into its revalidate window
    clock.advance(1_001);
    const gate = deferred<string>();
    const load = vi.fn(() => gate.promise);
    await expect(a.remember('p', load, options)).resolves.toBe('old'); // the refresh starts
    await eventually(() => load.mock.calls.length === 1);

    // Another process soft-purges the key; its SOFTEN lands in Redis, its `s|` message reaches
    // `a` only after a's fill (here: never). Exactly what FleetLease.invalidate's SOFTEN does.
    const layout = layoutOf(caches.namespace, encodeKey('p'));
    const client = await rawClient();
    try {
      const seq = await client.incr(new RedisKeys(caches.namespace).seq);
      const pttl = await client.pTTL(layout.value);
      await client.set(layout.soft, String(seq), {
        expiration: { type: 'PX', value: Math.max(pttl, 60_000) },
      });
      gate.resolve('read before the purge');
      await eventually(async () => recordValue(await client.get(layout.value)) === 'read before the purge');
      const softLeft = await client.pTTL(layout.soft);
      const valueLeft = await client.pTTL(layout.value);
      // The soft state is what makes that value stale when read. Time passes (on Redis's clock)
      // to the soft state's last millisecond: both PTTLs move down by as much.
      const passed = softLeft - 1;
      await client.pExpire(layout.soft, 1);
      if (valueLeft - passed > 0) await client.pExpire(layout.value, valueLeft - passed);
      else await client.del(layout.value);
      await eventually(async () => (await client.exists(layout.soft)) === 0);
      const c = caches.open({ storeTimeoutMs: 1_000 });
      const got = await c.fetch('p', async () => 'loaded after', options);
      // A value loaded before the purge is never served as fresh after it.
      expect(got).not.toEqual({ value: 'read before the purge', source: 'store' });
      // "it lives as long as what it marks": 60 s against the 605 s of the value it must mark.
      expect(softLeft).toBeGreaterThanOrEqual(valueLeft);
    } finally {
      client.destroy();
    }
  });

  it('a caller whose stale value a hard invalidation retired while the fleet backs off gets a load, not the throttle error', async () => {
    const clock = manualClock();
    const open = () =>
      caches.open({
        now: clock.now,
        localTtlMs: 1_000,
        storeTimeoutMs: 1_000,
        refreshBackoff: { initialMs: 60_000, maxMs: 60_000 },
      });
    const a = open();
    const options = { ttlMs: 60_000, staleIfErrorMs: 60_000, tags: ['Product:1'] };
    await a.remember('k', async () => 'old', options);
    await expireIn(caches.namespace, 'k', 58_000); // 2 s into its error window
    clock.advance(1_001);
    const failing = vi.fn(async () => {
      throw new Error('origin down');
    });
    await expect(a.remember('k', failing, options)).resolves.toBe('old'); // failed: Redis marks the lease
    expect(failing).toHaveBeenCalledTimes(1);

    // A write retires Product:1 everywhere: nothing stale may be served any more, and the origin is back.
    await a.invalidate({ tags: ['Product:1'] });
    const b = open();
    const fresh = vi.fn(async () => 'after the write');
    await expect(b.remember('k', fresh, options)).resolves.toBe('after the write');
    expect(fresh).toHaveBeenCalledTimes(1);
  });

  it('a stale key read by a caller with a shorter window than its writer is refreshed, without a Redis round trip per call', async () => {
    const clock = manualClock();
    const a = caches.open({ now: clock.now, localTtlMs: 1_000, storeTimeoutMs: 1_000 });
    const b = caches.open({ now: clock.now, localTtlMs: 1_000, storeTimeoutMs: 1_000 });
    // Two call sites of one key (or one across a deploy that changed its policy).
    await a.remember('m', async () => 'old', { ttlMs: 60_000, staleWhileRevalidateMs: 60_000 });
    await expireIn(caches.namespace, 'm', 50_000); // 10 s into the writer's revalidate window
    clock.advance(1_001);
    const load = vi.fn(async () => 'new');
    const mine = { ttlMs: 60_000, staleWhileRevalidateMs: 1_000 };
    await expect(b.fetch('m', load, mine)).resolves.toEqual({ value: 'old', source: 'stale' });
    for (let i = 0; i < 20; i++) {
      // Each call after the refresh its predecessor started has settled.
      await eventually(() => b.stats().flights.inFlight === 0);
      await b.fetch('m', load, mine);
    }
    // Stale for 20 calls, each a refresh: one of them must have loaded.
    expect(b.stats().refreshes).toBeLessThanOrEqual(2);
    expect(load).toHaveBeenCalledTimes(1);
  });
  it('a failed refresh of a key with a revalidate window only is not retried by another process before the backoff', async () => {
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
    const options = { ttlMs: 60_000, staleWhileRevalidateMs: 60_000 };
    await a.remember('k', async () => 'old', options);
    await expireIn(caches.namespace, 'k', 59_000); // 1 s into the revalidate window
    clock.advance(1_001);
    const load = vi.fn(async () => {
      throw new Error('origin down');
    });
    await expect(a.remember('k', load, options)).resolves.toBe('old'); // a's refresh fails
    await eventually(() => a.stats().refreshFailures === 1);
    await expect(b.remember('k', load, options)).resolves.toBe('old');
    // b's refresh ran (and settled) without loading: the mark in Redis held it back.
    await eventually(() => b.stats().refreshes === 1 && b.stats().flights.inFlight === 0);
    // One refresh per key for the fleet, throttled: b's attempt comes 60 s after a's at the earliest.
    expect(load).toHaveBeenCalledTimes(1);
  });
  it('a soft-purged value is served stale for its revalidate window counted from the purge, not from each read: past it the error reaches the caller', async () => {
    const clock = manualClock();
    const a = caches.open({ now: clock.now, localTtlMs: 1_000, storeTimeoutMs: 1_000 });
    const options = { ttlMs: 600_000, staleWhileRevalidateMs: 5_000 };
    await a.remember('p', async () => 'old', options);
    await a.invalidate({ keys: ['p'], soft: true });
    // 6 s pass, on both clocks: past the 5 s window the purge opened. Redis's side: the value's
    // PTTL moves down, and the soft state's purge time (`<seq>:<Redis time>`) moves back.
    const layout = layoutOf(caches.namespace, encodeKey('p'));
    const client = await rawClient();
    try {
      const left = await client.pTTL(layout.value);
      expect(await client.pExpire(layout.value, left - 6_000)).toBe(1);
      const [seq, at] = String(await client.get(layout.soft)).split(':');
      await client.set(layout.soft, `${seq}:${Number(at) - 6_000}`, { KEEPTTL: true });
    } finally {
      client.destroy();
    }
    clock.advance(6_001);
    const failing = vi.fn(async () => {
      throw new Error('origin down');
    });
    // As without Redis (tests/cache/freshness.test.ts, "ends the stale window at its own end").
    await expect(a.remember('p', failing, options)).rejects.toThrow('origin down');
  });
});
