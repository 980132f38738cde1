import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCache, type FlightCache } from '../../src/index.js';
import { createCachedLoader, loaderCacheKey } from '../../src/loaders/index.js';
import { deferred } from '../helpers/deferred.js';

/** DataLoader batches wait here until the test dispatches them. */
function manualScheduler() {
  const queued: Array<() => void> = [];
  return {
    batchScheduleFn: (callback: () => void) => {
      queued.push(callback);
    },
    dispatch() {
      for (const callback of queued.splice(0)) callback();
    },
  };
}

let cache: FlightCache;
afterEach(async () => {
  await cache?.close();
});

describe('cached DataLoader', () => {
  it('keeps batching within a request: keys asked in one tick reach the loader as one batch', async () => {
    cache = createCache();
    const load = vi.fn(async (ids: number[]) => ids.map((id) => ({ id })));
    const loader = createCachedLoader(cache, { name: 'product', ttlMs: 60_000, load });
    const rows = await Promise.all([loader.load(1), loader.load(2), loader.load(3)]);
    expect(rows).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    expect(load).toHaveBeenCalledTimes(1);
    expect(load).toHaveBeenCalledWith([1, 2, 3], expect.any(AbortSignal));
  });

  it("joins other requests' keys in flight: batches [1,2,3] and [2,3,4] of two requests load [1,2,3] and [4]", async () => {
    cache = createCache();
    const scheduler = manualScheduler();
    const gate = deferred<void>();
    const load = vi.fn(async (ids: number[]) => {
      await gate.promise;
      return ids.map((id) => `row${id}`);
    });
    const requestA = createCachedLoader(cache, { name: 'product', ttlMs: 60_000, load, ...scheduler });
    const requestB = createCachedLoader(cache, { name: 'product', ttlMs: 60_000, load, ...scheduler });
    const a = requestA.loadMany([1, 2, 3]);
    const b = requestB.loadMany([2, 3, 4]);
    scheduler.dispatch();
    expect(load.mock.calls.map(([ids]) => ids)).toEqual([[1, 2, 3], [4]]);
    gate.resolve();
    await expect(a).resolves.toEqual(['row1', 'row2', 'row3']);
    await expect(b).resolves.toEqual(['row2', 'row3', 'row4']);
  });

  it('loads each row once in total for 200 concurrent requests over overlapping id sets', async () => {
    cache = createCache();
    const loaded: number[] = [];
    const load = async (ids: number[]) => {
      loaded.push(...ids);
      return ids.map((id) => ({ id }));
    };
    const requests = Array.from({ length: 200 }, (_, r) => {
      const loader = createCachedLoader(cache, { name: 'product', ttlMs: 60_000, load });
      const ids = Array.from({ length: 10 }, (_, i) => ((r * 7 + i * 13) % 60) + 1);
      return loader.loadMany(ids).then((rows) => ({ ids, rows }));
    });
    for (const { ids, rows } of await Promise.all(requests)) expect(rows).toEqual(ids.map((id) => ({ id })));
    expect([...loaded].sort((x, y) => x - y)).toEqual([...new Set(loaded)].sort((x, y) => x - y));
    expect(new Set(loaded).size).toBe(loaded.length);
  });

  it('answers later requests from the cache without calling the loader', async () => {
    cache = createCache();
    const load = vi.fn(async (ids: number[]) => ids.map((id) => id * 10));
    await createCachedLoader(cache, { name: 'n', ttlMs: 60_000, load }).loadMany([1, 2]);
    await expect(
      createCachedLoader(cache, { name: 'n', ttlMs: 60_000, load }).loadMany([2, 1]),
    ).resolves.toEqual([20, 10]);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('rejects only the key whose result is an Error, and does not cache it', async () => {
    cache = createCache();
    const missing = new Error('no product 2');
    const load = vi.fn(async (ids: number[]) => ids.map((id) => (id === 2 ? missing : id)));
    const loader = createCachedLoader(cache, { name: 'product', ttlMs: 60_000, load });
    const [one, two] = await Promise.allSettled([loader.load(1), loader.load(2)]);
    expect(one).toEqual({ status: 'fulfilled', value: 1 });
    expect(two).toEqual({ status: 'rejected', reason: missing });
    await createCachedLoader(cache, { name: 'product', ttlMs: 60_000, load })
      .load(2)
      .catch(() => {});
    expect(load).toHaveBeenLastCalledWith([2], expect.any(AbortSignal));
  });

  it('keeps loaders of different names apart and can be invalidated by loaderCacheKey', async () => {
    cache = createCache();
    const products = createCachedLoader(cache, {
      name: 'product',
      ttlMs: 60_000,
      load: async (ids: number[]) => ids.map(() => 'p'),
    });
    const customers = createCachedLoader(cache, {
      name: 'customer',
      ttlMs: 60_000,
      load: async (ids: number[]) => ids.map(() => 'c'),
    });
    await expect(products.load(1)).resolves.toBe('p');
    await expect(customers.load(1)).resolves.toBe('c');
    await cache.delete(loaderCacheKey('product', 1));
    const load = vi.fn(async (ids: number[]) => ids.map(() => 'p2'));
    await expect(createCachedLoader(cache, { name: 'product', ttlMs: 60_000, load }).load(1)).resolves.toBe(
      'p2',
    );
  });

  it('respects maxBatchSize', async () => {
    cache = createCache();
    const load = vi.fn(async (ids: number[]) => ids);
    const loader = createCachedLoader(cache, { name: 'n', ttlMs: 60_000, load, maxBatchSize: 2 });
    await loader.loadMany([1, 2, 3, 4, 5]);
    expect(load.mock.calls.map(([ids]) => ids)).toEqual([[1, 2], [3, 4], [5]]);
  });
});
