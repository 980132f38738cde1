import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCache, type FlightCache } from '../../src/index.js';
import { createCachedLoader, loaderCacheKey } from '../../src/loaders/index.js';
import { deferred, flushMicrotasks } from '../helpers/deferred.js';

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

  it('serves a stale key at once inside its revalidate window and refreshes it alone; a failed load inside the error window answers stale', async () => {
    let now = 1_000;
    cache = createCache({ now: () => now });
    const rows = new Map([
      [1, 'one'],
      [2, 'two'],
    ]);
    const gate = deferred<void>();
    let holding = false;
    let failing = false;
    const load = vi.fn(async (ids: number[]) => {
      if (holding) await gate.promise;
      if (failing) throw new Error('origin down');
      return ids.map((id) => rows.get(id) ?? null);
    });
    const options = { name: 'row', ttlMs: 100, staleWhileRevalidateMs: 1_000, staleIfErrorMs: 10_000, load };
    await createCachedLoader(cache, options).loadMany([1, 2]);
    now += 150;
    rows.set(1, 'ONE');
    holding = true;
    // Inside the window: answered before the refresh's load settles.
    await expect(createCachedLoader(cache, options).load(1)).resolves.toBe('one');
    expect(load.mock.calls.map((call) => call[0])).toEqual([[1, 2], [1]]);
    gate.resolve();
    await flushMicrotasks();
    expect(cache.peek(loaderCacheKey('row', 1))).toBe('ONE');
    // Past the revalidate window, inside the error window: a failed load answers the stale row.
    now += 2_000;
    holding = false;
    failing = true;
    await expect(createCachedLoader(cache, options).load(2)).resolves.toBe('two');
  });

  it('hands softTimeoutMs and earlyRefresh to rememberMany', async () => {
    cache = createCache();
    const spy = vi.spyOn(cache, 'rememberMany');
    const load = async (ids: number[]) => ids;
    const loader = createCachedLoader(cache, {
      name: 'n',
      ttlMs: 100,
      staleIfErrorMs: 1_000,
      softTimeoutMs: 50,
      earlyRefresh: { beta: 2 },
      load,
    });
    await loader.load(1);
    expect(spy.mock.calls[0]![2]).toMatchObject({
      softTimeoutMs: 50,
      earlyRefresh: { beta: 2 },
      staleIfErrorMs: 1_000,
    });
  });
});
