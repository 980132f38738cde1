/**
 * Tags across processes on the machine's Redis. Two FlightCache instances stand for two processes:
 * each has its own connections, subscription and memory tier. An invalidation reaches the other
 * process by message; when the message is lost (an invalidation made in Redis by hand, exactly as
 * the protocol makes it, without its PUBLISH), Redis's fences still refuse the retired value.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { deferred, flushMicrotasks, track } from '../helpers/deferred.js';
import {
  cachesOn,
  eventually,
  invalidateSilently,
  rawClient,
  recordValue,
  redisSuiteEnabled,
  untilListening,
  valueKey,
} from '../helpers/redis.js';
import { manualClock } from '../helpers/clock.js';

const enabled = await redisSuiteEnabled();

const LOOSE_STORE_TIMEOUT_MS = 1_000;

describe.skipIf(!enabled)('tags across processes', () => {
  const caches = cachesOn('tags');
  const { namespace } = caches;
  /** A process; a store deadline loose enough for a busy machine (deadlines are not under test here). */
  const open = (options: Parameters<typeof caches.open>[0] = {}) =>
    caches.open({ storeTimeoutMs: LOOSE_STORE_TIMEOUT_MS, ...options });
  afterEach(() => caches.closeAll());

  /** What Redis holds as the value of `key`: the decoded value, or null when there is none. */
  async function stored(key: string): Promise<unknown> {
    const client = await rawClient();
    try {
      const raw = await client.get(valueKey(namespace, key));
      return raw === null ? null : recordValue(raw);
    } finally {
      client.destroy();
    }
  }

  const tags = ['Product:1'];

  describe('a value in the other process', () => {
    it("retires the other process's memory copy by message, and its next Redis read does not serve the old value", async () => {
      const a = open();
      // A long local TTL: only the message can make B drop its copy.
      const b = open({ localTtlMs: 60_000 });
      await untilListening(namespace, 2);
      await a.remember('p', async () => 'old', { tags });
      await expect(b.remember('p', async () => 'unused', { tags })).resolves.toBe('old');
      expect(b.stats().storeHits).toBe(1);
      expect(b.peek('p')).toBe('old');

      await a.invalidate({ tags });
      await eventually(() => b.peek('p') === undefined, 2_000);

      // Redis still holds the record (a tag invalidation moves the tag's state only): B's read
      // finds it retired, drops it there, and loads.
      const load = vi.fn(async () => 'new');
      await expect(b.remember('p', load, { tags })).resolves.toBe('new');
      expect(load).toHaveBeenCalledTimes(1);
      expect(b.stats().fleet.staleDropped).toBe(1);
      expect(await stored('p')).toBe('new');
    });

    it('with the message lost: the memory copy lasts at most localTtlMs, then the Redis read refuses the retired value', async () => {
      const a = open();
      const clock = manualClock();
      const b = open({ localTtlMs: 1_000, now: clock.now });
      await a.remember('p', async () => 'old', { tags });
      await expect(b.remember('p', async () => 'unused', { tags })).resolves.toBe('old');

      await invalidateSilently(namespace, { tags });
      // B was not told: its memory copy stands until its local TTL.
      clock.advance(999);
      await expect(b.remember('p', async () => 'unused', { tags })).resolves.toBe('old');
      clock.advance(2);
      expect(b.peek('p')).toBeUndefined();

      const load = vi.fn(async () => 'new');
      await expect(b.remember('p', load, { tags })).resolves.toBe('new');
      expect(load).toHaveBeenCalledTimes(1);
      expect(b.stats().fleet.staleDropped).toBe(1);
      expect(await stored('p')).toBe('new');
      // A, which wrote the old value and was not told either, does not get it from Redis any more.
      const aLoad = vi.fn(async () => 'unused');
      await eventually(async () => (await a.remember('p', aLoad, { tags })) === 'new', 3_000);
      expect(aLoad).not.toHaveBeenCalled();
    });
  });

  describe('a load in the other process begun before the invalidation', () => {
    it('message on time: never stored in Redis, and callers after the invalidation get a new load', async () => {
      const a = open();
      const b = open();
      await untilListening(namespace, 2);
      const gate = deferred<string>();
      const first = vi.fn(() => gate.promise);
      const before = b.remember('p', first, { tags });
      // The load has begun: B read Redis's sequence before it called the loader.
      await eventually(() => first.mock.calls.length === 1);

      await a.invalidate({ tags });
      // The message reached B: its flight is no longer joined.
      await eventually(() => b.stats().flights.inFlight === 0, 2_000);
      const fresh = deferred<string>();
      const second = vi.fn(() => fresh.promise);
      const after = track(b.remember('p', second, { tags }));

      gate.resolve('old');
      // The load's own callers still get its value...
      await expect(before).resolves.toBe('old');
      // ...which Redis never held: the caller after the invalidation loads anew.
      await eventually(() => second.mock.calls.length === 1);
      expect(await stored('p')).toBeNull();
      await flushMicrotasks();
      expect(after.settled).toBe(false);
      fresh.resolve('new');
      await expect(after.promise).resolves.toBe('new');
      expect(b.stats().fleet.fillsRefused).toBe(1);
      expect(first).toHaveBeenCalledTimes(1);
      expect(await stored('p')).toBe('new');
      await expect(b.remember('p', async () => 'unused', { tags })).resolves.toBe('new');
    });

    it('message lost: Redis refuses the fill and the leader loads again, so no caller gets the retired value', async () => {
      const b = open();
      const gate = deferred<string>();
      const load = vi.fn(async () => 'new');
      load.mockImplementationOnce(() => gate.promise);
      const before = b.remember('p', load, { tags });
      await eventually(() => load.mock.calls.length === 1);

      await invalidateSilently(namespace, { tags });
      // B was not told, so a caller now joins the flight in progress.
      const joined = b.remember('p', async () => 'unused', { tags });

      gate.resolve('old');
      await expect(Promise.all([before, joined])).resolves.toEqual(['new', 'new']);
      expect(load).toHaveBeenCalledTimes(2);
      expect(b.stats().fleet.fillsRefused).toBe(1);
      expect(await stored('p')).toBe('new');
    });

    it('message lost, key invalidated: the fence refuses the fill and the leader loads again', async () => {
      const b = open();
      const gate = deferred<string>();
      const load = vi.fn(async () => 'new');
      load.mockImplementationOnce(() => gate.promise);
      const before = b.remember('p', load);
      await eventually(() => load.mock.calls.length === 1);

      await invalidateSilently(namespace, { keys: ['p'] });
      gate.resolve('old');
      await expect(before).resolves.toBe('new');
      expect(load).toHaveBeenCalledTimes(2);
      expect(b.stats().fleet.fillsRefused).toBe(1);
      expect(await stored('p')).toBe('new');
    });
  });

  describe('a batch in the other process begun before the invalidation', () => {
    const tagsOf = (key: string) => [`Product:${key}`];
    const loaded = (keys: string[], suffix: string) => keys.map((key) => `${key}-${suffix}`);

    it('message on time: the invalidated key is never stored, the others are, and a later batch loads it anew', async () => {
      const a = open();
      const b = open();
      await untilListening(namespace, 2);
      const gate = deferred<string[]>();
      const loadMany = vi.fn((_keys: string[]) => gate.promise);
      const before = b.rememberMany(['x', 'y'], loadMany, { tags: tagsOf });
      await eventually(() => loadMany.mock.calls.length === 1);

      await a.invalidate({ tags: ['Product:x'] });
      await eventually(() => b.stats().flights.inFlight === 0, 2_000);
      const fresh = deferred<string[]>();
      const freshLoad = vi.fn((_keys: string[]) => fresh.promise);
      const after = track(b.rememberMany(['x'], freshLoad, { tags: tagsOf }));

      gate.resolve(['x-old', 'y-old']);
      await expect(before).resolves.toEqual(['x-old', 'y-old']);
      await eventually(() => freshLoad.mock.calls.length === 1);
      expect(freshLoad.mock.calls.map(([keys]) => keys)).toEqual([['x']]);
      expect(await stored('x')).toBeNull();
      expect(await stored('y')).toBe('y-old');
      await flushMicrotasks();
      expect(after.settled).toBe(false);
      fresh.resolve(['x-new']);
      await expect(after.promise).resolves.toEqual(['x-new']);
      expect(await stored('x')).toBe('x-new');
      expect(b.stats().fleet.fillsRefused).toBe(1);
    });

    it('message lost: Redis refuses the invalidated key, which is loaded again alone; every caller gets the new value', async () => {
      const b = open();
      const gate = deferred<string[]>();
      const loadMany = vi.fn(async (keys: string[]) => loaded(keys, 'new'));
      loadMany.mockImplementationOnce(() => gate.promise);
      const before = b.rememberMany(['x', 'y'], loadMany, { tags: tagsOf });
      await eventually(() => loadMany.mock.calls.length === 1);

      await invalidateSilently(namespace, { tags: ['Product:x'] });
      const joined = b.rememberMany(['x', 'y'], async () => ['unused', 'unused'], { tags: tagsOf });

      gate.resolve(['x-old', 'y-old']);
      await expect(Promise.all([before, joined])).resolves.toEqual([
        ['x-new', 'y-old'],
        ['x-new', 'y-old'],
      ]);
      expect(loadMany.mock.calls.map(([keys]) => keys)).toEqual([['x', 'y'], ['x']]);
      expect(b.stats().fleet.fillsRefused).toBe(1);
      expect(await stored('x')).toBe('x-new');
      expect(await stored('y')).toBe('y-old');
    });

    it('a batch value read from Redis whose tag was invalidated while the message was lost is dropped and loaded', async () => {
      const a = open();
      const b = open();
      await a.rememberMany(['x', 'y'], async (keys) => loaded(keys, 'old'), { tags: tagsOf });
      await invalidateSilently(namespace, { tags: ['Product:y'] });

      const loadMany = vi.fn(async (keys: string[]) => loaded(keys, 'new'));
      await expect(b.rememberMany(['x', 'y'], loadMany, { tags: tagsOf })).resolves.toEqual([
        'x-old',
        'y-new',
      ]);
      expect(loadMany.mock.calls.map(([keys]) => keys)).toEqual([['y']]);
      expect(b.stats().fleet.staleDropped).toBe(1);
      expect(await stored('y')).toBe('y-new');
    });
  });
});
