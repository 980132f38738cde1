import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCache, type FlightCache } from '../../src/index.js';
import { deferred } from '../helpers/deferred.js';
import {
  cachesOn,
  eventually,
  freePort,
  type OwnRedis,
  rawClient,
  recordValue,
  redisSuiteEnabled,
  startRedis,
  untilStored,
  valueKey,
} from '../helpers/redis.js';

const enabled = await redisSuiteEnabled();

describe.skipIf(!enabled)('FlightCache on the shared Redis', () => {
  const caches = cachesOn('shared');
  const { namespace } = caches;
  const open = caches.open;
  afterEach(() => caches.closeAll());

  it("lets two instances on the same Redis and namespace see each other's values", async () => {
    const writer = open();
    const reader = open();
    await expect(writer.remember(['product', 1], async () => ({ name: 'Lamp' }))).resolves.toEqual({
      name: 'Lamp',
    });
    await untilStored([valueKey(namespace, `product|\\d1`)]);

    const load = vi.fn(async () => ({ name: 'not this' }));
    await expect(reader.remember(['product', 1], load)).resolves.toEqual({ name: 'Lamp' });
    expect(load).not.toHaveBeenCalled();
    expect(reader.stats()).toMatchObject({ storeHits: 1, loads: 0, misses: 1 });
  });

  it('stores with a Redis PX expiry and no writer timestamp, so a reader with a skewed clock still reads it', async () => {
    const writer = open();
    await writer.remember('skew', async () => 'value', { ttlMs: 30_000 });
    const client = await rawClient();
    try {
      await eventually(async () => (await client.exists(valueKey(namespace, `skew`))) === 1);
      const pttl = await client.pTTL(valueKey(namespace, `skew`));
      expect(pttl).toBeGreaterThan(25_000);
      expect(pttl).toBeLessThanOrEqual(30_000);
      const raw = await client.get(valueKey(namespace, `skew`));
      expect(recordValue(raw)).toBe('value');

      // A reader whose wall clock is two minutes ahead: nothing is judged expired, nothing deleted.
      const skewed = vi
        .spyOn(Date, 'now')
        .mockImplementation(() => performance.timeOrigin + performance.now() + 120_000);
      try {
        const reader = open();
        const load = vi.fn(async () => 'reloaded');
        await expect(reader.remember('skew', load)).resolves.toBe('value');
        expect(load).not.toHaveBeenCalled();
      } finally {
        skewed.mockRestore();
      }
      expect(await client.exists(valueKey(namespace, `skew`))).toBe(1);
    } finally {
      client.destroy();
    }
  });

  it('keeps user keys apart from prefixed-looking keys and from the store layout', async () => {
    const cache = open();
    const other = open();
    await cache.remember('user:1', async () => 'plain');
    await cache.remember('keyv:user:1', async () => 'keyv-prefixed');
    await cache.remember(`${namespace}:v:user:1`, async () => 'namespace-prefixed');
    // Read from another instance, so the answers come from Redis rather than a memory tier.
    await eventually(async () => {
      const client = await rawClient();
      try {
        // Three values (the namespace also holds its invalidation sequence).
        return (await client.keys(`${namespace}:*:v`)).length === 3;
      } finally {
        client.destroy();
      }
    });
    const load = vi.fn(async () => 'loaded');
    await expect(other.remember('user:1', load)).resolves.toBe('plain');
    await expect(other.remember('keyv:user:1', load)).resolves.toBe('keyv-prefixed');
    await expect(other.remember(`${namespace}:v:user:1`, load)).resolves.toBe('namespace-prefixed');
    expect(load).not.toHaveBeenCalled();
  });

  it('reads the keys of a batch from Redis at once and loads only those Redis does not have', async () => {
    const writer = open();
    await writer.rememberMany([1, 3], async (keys) => keys.map((key) => `stored${key}`));
    await untilStored([valueKey(namespace, `\\d1`), valueKey(namespace, `\\d3`)]);
    const reader = open();
    const loadMany = vi.fn(async (keys: number[]) => keys.map((key) => `loaded${key}`));
    await expect(reader.rememberMany([1, 2, 3, 4], loadMany)).resolves.toEqual([
      'stored1',
      'loaded2',
      'stored3',
      'loaded4',
    ]);
    expect(loadMany).toHaveBeenCalledTimes(1);
    expect(loadMany).toHaveBeenCalledWith([2, 4], expect.any(AbortSignal));
    expect(reader.stats()).toMatchObject({ storeHits: 2, loads: 2 });
  });

  it('deletes from Redis too, and a load that began before the delete never writes back', async () => {
    const cache = open();
    const reader = open();
    await cache.remember('d', async () => 'v1');
    await cache.delete('d');
    const load = vi.fn(async () => 'v2');
    await expect(reader.remember('d', load)).resolves.toBe('v2');
    expect(load).toHaveBeenCalledTimes(1);

    const slow = deferred<string>();
    const pending = cache.remember('race', () => slow.promise);
    await cache.delete('race');
    slow.resolve('stale');
    await expect(pending).resolves.toBe('stale');
    const client = await rawClient();
    try {
      // Give a (wrong) background write every chance to land before looking.
      await client.ping();
      await cache.close();
      expect(await client.exists(valueKey(namespace, `race`))).toBe(0);
    } finally {
      client.destroy();
    }
  });

  it('lets the in-process tier of another instance keep a deleted value no longer than localTtlMs', async () => {
    let now = 0;
    const writer = open();
    const reader = open({ localTtlMs: 100, now: () => now });
    await writer.remember('bounded', async () => 'old');
    await untilStored([valueKey(namespace, `bounded`)]);
    const load = vi.fn(async () => 'new');
    await expect(reader.remember('bounded', load)).resolves.toBe('old');
    await writer.delete('bounded');

    now += 100;
    // Within the bound the reader may still answer from its memory tier...
    await expect(reader.remember('bounded', load)).resolves.toBe('old');
    now += 1;
    // ...and past it, it reads Redis again, where the value is gone.
    await expect(reader.remember('bounded', load)).resolves.toBe('new');
    expect(load).toHaveBeenCalledTimes(1);
  });
});

describe.skipIf(!enabled)('FlightCache when its Redis fails', () => {
  let redis: OwnRedis;
  const caches: FlightCache[] = [];
  const unhandled = vi.fn();
  const open = (options: Parameters<typeof createCache>[0] = {}) => {
    const cache = createCache({
      redisUrl: redis.url,
      namespace: 'faults',
      storeTimeoutMs: 100,
      breakerThreshold: 3,
      breakerCooldownMs: 200,
      ...options,
    });
    caches.push(cache);
    return cache;
  };

  beforeAll(async () => {
    process.on('unhandledRejection', unhandled);
    redis = await startRedis();
  });
  afterEach(async () => {
    redis.resume();
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
    expect(unhandled).not.toHaveBeenCalled();
  });
  afterAll(async () => {
    process.off('unhandledRejection', unhandled);
    await redis.kill();
  });

  /** Times a call; the loader answers at once, so the time is what the store costs the caller. */
  async function timed<T>(call: Promise<T>): Promise<{ value: T; ms: number }> {
    const started = performance.now();
    const value = await call;
    return { value, ms: performance.now() - started };
  }

  it('serves from the loader, without hanging, while Redis is dead; counts store errors; opens the circuit', async () => {
    const cache = open();
    await cache.remember('warm', async () => 'connected');
    await redis.kill();

    for (let i = 0; i < 6; i++) {
      const { value, ms } = await timed(cache.remember(`dead-${i}`, async () => `loaded-${i}`));
      expect(value).toBe(`loaded-${i}`);
      // Each call pays at most the read deadline (the write is in the background).
      expect(ms).toBeLessThan(1_000);
    }
    const stats = cache.stats();
    expect(stats.loads).toBe(7);
    expect(stats.storeErrors).toBeGreaterThanOrEqual(3);
    expect(stats.store.breaker).toBe('open');
    expect(stats.store.skipped).toBeGreaterThan(0);

    // Back up: after the cooldown one probe closes the circuit and values reach Redis again.
    await redis.restart();
    await eventually(async () => {
      await cache.remember(`probe-${performance.now()}`, async () => 'p');
      return cache.stats().store.breaker === 'closed';
    });
    await cache.remember('after-restart', async () => 'back');
    await untilStored([valueKey('faults', 'after-restart')], redis.url);
  });

  it('answers within the store deadline while Redis is frozen, and recovers when it resumes', async () => {
    const cache = open({ breakerThreshold: 100 });
    await cache.remember('warm', async () => 'connected');
    redis.pause();
    const { value, ms } = await timed(cache.remember('frozen', async () => 'from-loader'));
    expect(value).toBe('from-loader');
    expect(ms).toBeGreaterThanOrEqual(90);
    expect(ms).toBeLessThan(1_000);
    expect(cache.stats().storeErrors).toBeGreaterThanOrEqual(1);

    redis.resume();
    await cache.remember('thawed', async () => 'written');
    await untilStored([valueKey('faults', 'thawed')], redis.url);
  });

  it('answers ping() while Redis answers and not while it is dead; reports each breaker change; ping is the probe that closes it', async () => {
    const changes: string[] = [];
    const cache = open({ onStoreStateChange: ({ from, to }) => changes.push(`${from}->${to}`) });
    await expect(cache.ping()).resolves.toBe(true);
    await redis.kill();
    // breakerThreshold 3: three failed pings open the circuit; the next is skipped (no call).
    for (let i = 0; i < 3; i++) await expect(cache.ping()).resolves.toBe(false);
    expect(cache.stats().store.breaker).toBe('open');
    expect(changes).toEqual(['closed->open']);
    const skipped = cache.stats().store.skipped;
    await expect(cache.ping()).resolves.toBe(false);
    expect(cache.stats().store.skipped).toBe(skipped + 1);

    await redis.restart();
    // After the 200 ms cooldown a ping is the probe, and its answer closes the circuit.
    await eventually(() => cache.ping());
    expect(cache.stats().store.breaker).toBe('closed');
    expect(changes.at(-2)).toBe('open->half-open');
    expect(changes.at(-1)).toBe('half-open->closed');
    await cache.close();
    await expect(cache.ping()).resolves.toBe(false);
  });

  it('answers ping() true without Redis', async () => {
    const cache = createCache();
    await expect(cache.ping()).resolves.toBe(true);
    await cache.close();
  });

  it('starts and serves when no Redis answers at all, without crashing on connection errors', async () => {
    const port = await freePort();
    const errors: unknown[] = [];
    const cache = createCache({
      redisUrl: `redis://127.0.0.1:${port}`,
      storeTimeoutMs: 50,
      onStoreError: (e) => errors.push(e),
    });
    caches.push(cache);
    const results = await Promise.all([1, 2, 3].map((i) => cache.remember(`k${i}`, async () => i)));
    expect(results).toEqual([1, 2, 3]);
    // The value is still answered from this process's memory tier.
    const load = vi.fn(async () => 0);
    await expect(cache.remember('k1', load)).resolves.toBe(1);
    expect(load).not.toHaveBeenCalled();
    expect(errors.length).toBeGreaterThan(0);
  });
});
