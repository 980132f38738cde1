import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCache, type FlightCache } from '../../src/index.js';
import { deferred } from '../helpers/deferred.js';
import {
  rawClient,
  recordValue,
  REDIS_URL,
  redisSuiteEnabled,
  replyHoldingProxy,
  uniqueNamespace,
  valueKey,
} from '../helpers/redis.js';

const redis = await redisSuiteEnabled();

let caches: FlightCache[] = [];
afterEach(async () => {
  await Promise.all(caches.map((cache) => cache.close()));
  caches = [];
});
function open(options?: Parameters<typeof createCache>[0]): FlightCache {
  const cache = createCache(options);
  caches.push(cache);
  return cache;
}

describe('fetch: where a value came from', () => {
  it('tells the call that loaded (loaded), the calls that joined its flight (joined), and later calls (memory)', async () => {
    const cache = open();
    const gate = deferred<string>();
    const load = vi.fn(() => gate.promise);
    const first = cache.fetch('k', load);
    const second = cache.fetch('k', load);
    gate.resolve('v');
    await expect(first).resolves.toEqual({ value: 'v', source: 'loaded' });
    await expect(second).resolves.toEqual({ value: 'v', source: 'joined' });
    await expect(cache.fetch('k', load)).resolves.toEqual({ value: 'v', source: 'memory' });
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('shares a remember flight with fetch callers and the other way round', async () => {
    const cache = open();
    const gate = deferred<string>();
    const remembered = cache.remember('k', () => gate.promise);
    const fetched = cache.fetch('k', async () => 'not this');
    gate.resolve('v');
    await expect(remembered).resolves.toBe('v');
    await expect(fetched).resolves.toEqual({ value: 'v', source: 'joined' });
  });
});

describe('shouldStore: a loaded value that is not stored', () => {
  it('answers every caller of its flight, stores nothing, counts no error, and the next call loads again', async () => {
    const cache = open();
    const gate = deferred<{ ok: boolean }>();
    const load = vi.fn(() => gate.promise);
    const shouldStore = (value: { ok: boolean }) => value.ok;
    const calls = [cache.fetch('k', load, { shouldStore }), cache.fetch('k', load, { shouldStore })];
    const value = { ok: false };
    gate.resolve(value);
    const [first, second] = await Promise.all(calls);
    expect(first).toEqual({ value, source: 'loaded' });
    expect(second?.source).toBe('joined');
    expect(second?.value).toBe(value);
    expect(cache.stats()).toMatchObject({ entries: 0, errors: 0, loads: 1 });
    await cache.remember('k', async () => ({ ok: true }), { shouldStore });
    expect(cache.stats()).toMatchObject({ entries: 1, loads: 2 });
  });

  it('stores the values of a batch it allows and not the others', async () => {
    const cache = open();
    const shouldStore = (value: number) => value % 2 === 0;
    await cache.rememberMany([1, 2, 3, 4], async (keys) => keys.map((key) => Number(key)), { shouldStore });
    const load = vi.fn(async (keys: number[]) => keys.map((key) => key * 10));
    await expect(cache.rememberMany([1, 2, 3, 4], load, { shouldStore })).resolves.toEqual([10, 2, 30, 4]);
    expect(load).toHaveBeenCalledWith([1, 3], expect.anything());
  });
});

describe('peek', () => {
  it('counts a value it finds as a peek, never as a hit, so hits and misses stay the lookups of remember', async () => {
    const cache = open();
    await cache.remember('k', async () => 'v');
    expect(cache.peek('k')).toBe('v');
    expect(cache.peek('k')).toBe('v');
    expect(cache.peek('absent')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 1, peeks: 2 });
  });
});

describe.skipIf(!redis)('fetch and shouldStore with Redis', () => {
  it('tells a value another process stored in Redis (store), for the call and the ones that joined it', async () => {
    const namespace = uniqueNamespace('sources');
    const writer = open({ redisUrl: REDIS_URL, namespace });
    const reader = open({ redisUrl: REDIS_URL, namespace });
    await writer.remember('k', async () => 'v');
    const load = vi.fn(async () => 'not this');
    const [a, b] = await Promise.all([reader.fetch('k', load), reader.fetch('k', load)]);
    expect(a).toEqual({ value: 'v', source: 'store' });
    expect(b).toEqual({ value: 'v', source: 'store' });
    expect(load).not.toHaveBeenCalled();
  });

  it('writes nothing to Redis for a value not to be stored', async () => {
    const namespace = uniqueNamespace('should-store');
    const writer = open({ redisUrl: REDIS_URL, namespace });
    await writer.remember('k', async () => 'uncacheable', { shouldStore: () => false });
    await writer.close(); // waits for every write it started
    const reader = open({ redisUrl: REDIS_URL, namespace });
    const load = vi.fn(async () => 'fresh');
    await expect(reader.fetch('k', load)).resolves.toEqual({ value: 'fresh', source: 'loaded' });
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('never writes a load that began before a delete back to Redis (fleet: false)', async () => {
    const namespace = uniqueNamespace('redis-guard');
    const writer = open({ redisUrl: REDIS_URL, namespace, fleet: false });
    const gate = deferred<string>();
    const load = vi.fn(() => gate.promise);
    const pending = writer.remember('k', load);
    await vi.waitFor(() => expect(load).toHaveBeenCalled());
    await writer.delete('k');
    gate.resolve('old');
    await expect(pending).resolves.toBe('old');
    await writer.close(); // waits for every write it started
    const reader = open({ redisUrl: REDIS_URL, namespace, fleet: false });
    await expect(reader.fetch('k', async () => 'new')).resolves.toEqual({ value: 'new', source: 'loaded' });
  });

  it('writes nothing to Redis for a value not to be stored (fleet: false)', async () => {
    const namespace = uniqueNamespace('should-store-plain');
    const writer = open({ redisUrl: REDIS_URL, namespace, fleet: false });
    await writer.remember('k', async () => 'uncacheable', { shouldStore: () => false });
    await writer.close();
    const reader = open({ redisUrl: REDIS_URL, namespace, fleet: false });
    await expect(reader.fetch('k', async () => 'fresh')).resolves.toEqual({
      value: 'fresh',
      source: 'loaded',
    });
  });

  it('keeps no value a batch read from Redis once a delete of its key came during the read', async () => {
    const namespace = uniqueNamespace('batch-guard');
    const writer = open({ redisUrl: REDIS_URL, namespace, fleet: false });
    await writer.remember('b1', async () => 'old');
    await writer.close();
    const proxy = await replyHoldingProxy(Number(new URL(REDIS_URL).port || 6379));
    try {
      const reader = open({ redisUrl: proxy.url, namespace, fleet: false, storeTimeoutMs: 5_000 });
      await reader.remember('warm-up', async () => 'connected');
      proxy.hold();
      const batch = reader.rememberMany(['b1'], async () => ['loaded']);
      // Redis has answered the batch's read; the reader has not heard it yet.
      await vi.waitFor(() => expect(proxy.held).toBeGreaterThan(0));
      const deleted = reader.delete('b1');
      proxy.release();
      await expect(batch).resolves.toEqual(['old']);
      await deleted;
      expect(reader.peek('b1')).toBeUndefined();
    } finally {
      await proxy.close();
    }
  });

  it("never lets a batch write back a value it loaded before another process's delete (fleet lease)", async () => {
    const namespace = uniqueNamespace('batch-fence');
    const deleter = open({ redisUrl: REDIS_URL, namespace });
    const proxy = await replyHoldingProxy(Number(new URL(REDIS_URL).port || 6379));
    const client = await rawClient();
    try {
      const loader = open({ redisUrl: proxy.url, namespace, storeTimeoutMs: 5_000 });
      await loader.remember('warm-up', async () => 'connected');
      const gate = deferred<string[]>();
      const loadMany = vi.fn((keys: string[]) =>
        loadMany.mock.calls.length === 1 ? gate.promise : Promise.resolve(keys.map(() => 'new')),
      );
      const batch = loader.rememberMany(['k'], loadMany);
      await vi.waitFor(() => expect(loadMany).toHaveBeenCalled());
      // The loader hears nothing from now on (its delete message is held), so only Redis can
      // refuse the batch's write.
      proxy.hold();
      await deleter.delete('k');
      gate.resolve(['old']);
      // Held: the delete message and the replies to the batch's fill, which Redis has refused.
      await vi.waitFor(() => expect(proxy.held).toBeGreaterThanOrEqual(2));
      expect(await client.get(valueKey(namespace, `k`))).toBeNull();
      proxy.release();
      // Redis showed the load was overtaken: the key is loaded again, and only that is stored.
      await expect(batch).resolves.toEqual(['new']);
      expect(loadMany).toHaveBeenCalledTimes(2);
      await vi.waitFor(async () =>
        expect(recordValue(await client.get(valueKey(namespace, 'k')))).toBe('new'),
      );
      expect(loader.stats().fleet.fillsRefused).toBe(1);
    } finally {
      await client.quit();
      await proxy.close();
    }
  });
});
