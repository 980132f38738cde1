import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CacheClosedError,
  createCache,
  type FlightCache,
  FlightTimeoutError,
  InvalidKeyError,
  InvalidOptionError,
  LoadFailedError,
  LoadUndefinedError,
  SingleFlight,
} from '../../src/index.js';
import { type Deferred, deferred, flushMicrotasks, track } from '../helpers/deferred.js';
import { manualClock } from '../helpers/clock.js';

let cache: FlightCache;
afterEach(async () => {
  await cache?.close();
});

describe('remember', () => {
  it('loads once for concurrent callers, shares the value, and answers later calls from memory', async () => {
    cache = createCache();
    const gate = deferred<{ id: number }>();
    const load = vi.fn(() => gate.promise);

    const calls = Array.from({ length: 50 }, () => cache.remember('product:1', load));
    expect(load).toHaveBeenCalledTimes(1);
    const value = { id: 1 };
    gate.resolve(value);
    for (const result of await Promise.all(calls)) expect(result).toBe(value);

    await expect(cache.remember('product:1', load)).resolves.toBe(value);
    expect(load).toHaveBeenCalledTimes(1);
    expect(cache.stats()).toMatchObject({
      hits: 1,
      misses: 50,
      coalesced: 49,
      loads: 1,
      errors: 0,
      entries: 1,
    });
    expect(cache.stats().flights.inFlight).toBe(0);
  });

  it('loads different keys independently', async () => {
    cache = createCache();
    const a = deferred<string>();
    const b = deferred<string>();
    const callA = track(cache.remember('a', () => a.promise));
    const callB = cache.remember('b', () => b.promise);
    b.resolve('B');
    await expect(callB).resolves.toBe('B');
    expect(callA.settled).toBe(false);
    a.resolve('A');
    await expect(callA.promise).resolves.toBe('A');
  });

  it('keeps a value for its TTL and loads again once it has expired', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now, defaultTtlMs: 60_000 });
    const load = vi.fn(async () => `v${load.mock.calls.length}`);

    await expect(cache.remember('k', load, { ttlMs: 1_000 })).resolves.toBe('v1');
    clock.advance(999);
    await expect(cache.remember('k', load, { ttlMs: 1_000 })).resolves.toBe('v1');
    clock.advance(2);
    await expect(cache.remember('k', load, { ttlMs: 1_000 })).resolves.toBe('v2');

    // Without ttlMs the cache's defaultTtlMs applies.
    await cache.remember('d', load);
    clock.advance(59_999);
    await expect(cache.remember('d', load)).resolves.toBe('v3');
    clock.advance(2);
    await expect(cache.remember('d', load)).resolves.toBe('v4');
  });

  it('gives every waiter the same loader error and caches nothing', async () => {
    cache = createCache();
    const gate = deferred<string>();
    const error = new Error('database unavailable');
    const calls = [1, 2, 3].map(() => cache.remember('k', () => gate.promise));
    gate.reject(error);
    for (const outcome of await Promise.allSettled(calls)) {
      expect(outcome).toMatchObject({ status: 'rejected', reason: error });
      expect((outcome as PromiseRejectedResult).reason).toBe(error);
    }
    const retry = vi.fn(async () => 'ok');
    await expect(cache.remember('k', retry)).resolves.toBe('ok');
    expect(retry).toHaveBeenCalledTimes(1);
    expect(cache.stats()).toMatchObject({ errors: 1, loads: 2 });
  });

  it('rejects a loader result of undefined and caches null as a value', async () => {
    cache = createCache();
    const undefinedLoad = vi.fn(async () => undefined);
    const rejection = cache.remember('u', undefinedLoad);
    await expect(rejection).rejects.toBeInstanceOf(LoadUndefinedError);
    await expect(cache.remember('u', undefinedLoad)).rejects.toMatchObject({
      code: 'E_LOAD_UNDEFINED',
      message: 'loader for key "u" resolved undefined; return null to cache an absent value',
    });
    expect(undefinedLoad).toHaveBeenCalledTimes(2);

    const nullLoad = vi.fn(async () => null);
    await expect(cache.remember('n', nullLoad)).resolves.toBeNull();
    await expect(cache.remember('n', nullLoad)).resolves.toBeNull();
    expect(nullLoad).toHaveBeenCalledTimes(1);
  });

  it('passes the flight signal to the loader', async () => {
    cache = createCache();
    let seen: AbortSignal | undefined;
    await cache.remember('k', async (signal) => {
      seen = signal;
      return 1;
    });
    expect(seen).toBeInstanceOf(AbortSignal);
  });

  it('rejects invalid options and keys with errors that name them', async () => {
    cache = createCache();
    await expect(cache.remember('k', async () => 1, { ttlMs: -1 })).rejects.toThrow(
      'option "ttlMs" must be a positive, finite number of milliseconds; received -1',
    );
    await expect(cache.remember([], async () => 1)).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(cache.remember(['a', {} as never], async () => 1)).rejects.toThrow(
      'key part 1 must be a string or a finite number; received object',
    );
    await expect(cache.remember(['a', Number.NaN], async () => 1)).rejects.toMatchObject({
      code: 'E_INVALID_KEY',
    });
    await expect(cache.remember('bad\uD800', async () => 1)).rejects.toThrow('lone UTF-16 surrogate');
    expect(() => createCache({ maxEntries: 0 })).toThrow(
      'option "maxEntries" must be a positive integer; received 0',
    );
    expect(() => createCache({ namespace: 'a*b' })).toThrow(InvalidOptionError);
    expect(() => createCache({ redisUrl: 'http://x' })).toThrow('option "redisUrl"');
    expect(() => createCache({ storeTimeoutMs: Number.POSITIVE_INFINITY })).toThrow(
      'option "storeTimeoutMs"',
    );
  });

  it('rejects calls after close()', async () => {
    cache = createCache();
    await cache.close();
    await expect(cache.remember('k', async () => 1)).rejects.toBeInstanceOf(CacheClosedError);
    await expect(cache.rememberMany(['k'], async () => [1])).rejects.toMatchObject({
      code: 'E_CACHE_CLOSED',
    });
  });
});

describe('keys', () => {
  it('never lets two different part lists share an entry', async () => {
    cache = createCache();
    const load = (label: string) => vi.fn(async () => label);
    const pairs: Array<[Parameters<FlightCache['remember']>[0], Parameters<FlightCache['remember']>[0]]> = [
      [
        ['a:b', 'c'],
        ['a', 'b:c'],
      ],
      [['a|b'], ['a', 'b']],
      [
        ['a\\', 'b'],
        ['a', '\\b'],
      ],
      [
        ['x', 1],
        ['x', '1'],
      ],
      [
        ['x', '\\d1'],
        ['x', 1],
      ],
      [[''], ['', '']],
    ];
    for (const [left, right] of pairs) {
      await cache.close();
      cache = createCache();
      const loadLeft = load('left');
      const loadRight = load('right');
      await expect(cache.remember(left, loadLeft)).resolves.toBe('left');
      await expect(cache.remember(right, loadRight)).resolves.toBe('right');
      expect(loadRight).toHaveBeenCalledTimes(1);
    }
  });

  it('treats a string key as the key of one part', async () => {
    cache = createCache();
    await cache.remember('solo', async () => 'v');
    const load = vi.fn(async () => 'other');
    await expect(cache.remember(['solo'], load)).resolves.toBe('v');
    expect(load).not.toHaveBeenCalled();
  });

  it('hashes a long key instead of truncating it, so keys that differ only at the end stay apart', async () => {
    cache = createCache();
    const prefix = 'x'.repeat(500);
    await expect(cache.remember(`${prefix}-a`, async () => 'a')).resolves.toBe('a');
    await expect(cache.remember(`${prefix}-b`, async () => 'b')).resolves.toBe('b');
    await expect(cache.remember([prefix, 'a'], async () => 'parts')).resolves.toBe('parts');
    const flights = new SingleFlight();
    const seen: string[] = [];
    const spy = vi.spyOn(flights, 'join').mockImplementation((key, fn) => {
      seen.push(key);
      return SingleFlight.prototype.join.call(flights, key, fn);
    });
    const local = createCache({ flight: flights, namespace: 'ns' });
    await local.remember(`${prefix}-a`, async () => 1);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(seen[0]).toMatch(/^ns:\\h[A-Za-z0-9_-]{43}$/);
    await local.close();
  });
});

describe('bounded memory', () => {
  it('keeps at most maxEntries under 200,000 unique keys and leaves no flight behind', async () => {
    cache = createCache({ maxEntries: 10_000 });
    const load = async () => 1;
    for (let base = 0; base < 200_000; base += 5_000) {
      const batch: Promise<number>[] = [];
      for (let i = base; i < base + 5_000; i++) batch.push(cache.remember(`user:${i}`, load));
      await Promise.all(batch);
      expect(cache.stats().entries).toBeLessThanOrEqual(10_000);
    }
    const stats = cache.stats();
    expect(stats.loads).toBe(200_000);
    expect(stats.entries).toBe(10_000);
    expect(stats.flights.inFlight).toBe(0);
    // The most recent keys are the ones kept.
    const reload = vi.fn(load);
    await cache.remember('user:199999', reload);
    await cache.remember('user:0', reload);
    expect(reload).toHaveBeenCalledTimes(1);
  });

  it('keeps at most maxBytes of large values (by estimate), least recently used out first', async () => {
    // Each 10,000-character string counts 10,016 bytes, and its entry about 500 more (key, ids,
    // index): six fit in 64 KB, seven do not.
    cache = createCache({ maxBytes: 64_000 });
    const big = (label: string) => async () => label.repeat(10_000);
    for (const label of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) await cache.remember(label, big(label));
    expect(cache.stats().entries).toBe(6);
    expect(cache.stats().bytes).toBeLessThanOrEqual(64_000);
    const reload = vi.fn(big('a'));
    await cache.remember('a', reload); // evicted: loads again
    await cache.remember('g', reload); // kept
    expect(reload).toHaveBeenCalledTimes(1);

    // A value larger than the whole bound is returned, and not kept.
    const huge = vi.fn(async () => 'x'.repeat(70_000));
    expect(await cache.remember('huge', huge)).toHaveLength(70_000);
    await cache.remember('huge', huge);
    expect(huge).toHaveBeenCalledTimes(2);
    expect(() => createCache({ maxBytes: 0 })).toThrow(
      'option "maxBytes" must be a positive integer; received 0',
    );
  });

  it('bounds values by the size their caller gives: a flood of distinct large objects stays under maxBytes', async () => {
    cache = createCache({ maxBytes: 1_000_000 });
    const sizeOf = (value: { body: string }) => 128 + 2 * value.body.length;
    for (let i = 0; i < 200; i++) {
      await cache.remember(`response:${i}`, async () => ({ body: 'r'.repeat(20_000) }), { sizeOf });
    }
    // Each counts the 40,128 bytes its caller says, and its entry about 500 more: 24 fit in 1 MB.
    expect(cache.stats().entries).toBe(24);
    // Without a size, an object counts what it holds (a one-byte body: about 20 KB).
    await cache.close();
    cache = createCache({ maxBytes: 1_000_000 });
    for (let i = 0; i < 200; i++)
      await cache.remember(`response:${i}`, async () => ({ body: 'r'.repeat(20_000) }));
    expect(cache.stats().entries).toBe(48);
  });
});

describe('delete', () => {
  it('removes a value so the next call loads again', async () => {
    cache = createCache();
    const load = vi.fn(async () => `v${load.mock.calls.length}`);
    await cache.remember(['product', 1], load);
    await cache.delete(['product', 1]);
    await expect(cache.remember(['product', 1], load)).resolves.toBe('v2');
    expect(cache.stats().entries).toBe(1);
  });

  it('never lets a load that started before the delete write its result back', async () => {
    cache = createCache();
    const before = deferred<string>();
    const beforeCall = cache.remember('k', () => before.promise);
    await cache.delete('k');
    before.resolve('stale');
    // The callers that were waiting still get the result of the load they joined...
    await expect(beforeCall).resolves.toBe('stale');
    // ...but it was not stored.
    const load = vi.fn(async () => 'fresh');
    await expect(cache.remember('k', load)).resolves.toBe('fresh');
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('makes calls after the delete start a new load instead of joining the one in progress', async () => {
    cache = createCache();
    const old = deferred<string>();
    const oldCall = cache.remember('k', () => old.promise);
    await cache.delete('k');
    const fresh = deferred<string>();
    const freshCall = cache.remember('k', () => fresh.promise);
    fresh.resolve('new');
    await expect(freshCall).resolves.toBe('new');
    old.resolve('old');
    await expect(oldCall).resolves.toBe('old');
    // The fresh value is the one kept, not the old load's late result.
    await expect(cache.remember('k', async () => 'unused')).resolves.toBe('new');
  });
});

describe('flight deadline through the cache', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('rejects a hung load with FlightTimeoutError, aborts it, frees the key and stores no late result', async () => {
    cache = createCache({ flight: new SingleFlight({ timeoutMs: 500 }) });
    const hung = deferred<string>();
    let signal: AbortSignal | undefined;
    const calls = [1, 2].map(() =>
      cache.remember('k', (s) => {
        signal = s;
        return hung.promise;
      }),
    );
    const outcomes = Promise.allSettled(calls);
    await vi.advanceTimersByTimeAsync(500);
    for (const outcome of await outcomes) {
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(FlightTimeoutError);
    }
    expect(signal?.aborted).toBe(true);
    expect(cache.stats().flights.inFlight).toBe(0);

    hung.resolve('late');
    await flushMicrotasks();
    const load = vi.fn(async () => 'fresh');
    await expect(cache.remember('k', load)).resolves.toBe('fresh');
    expect(load).toHaveBeenCalledTimes(1);
  });
});

describe('rememberMany', () => {
  /** A batch loader whose calls the test settles. */
  function batchLoader() {
    const calls: Array<{ keys: number[]; gate: Deferred<ReadonlyArray<string | Error>> }> = [];
    const loadMany = vi.fn((keys: number[]) => {
      const gate = deferred<ReadonlyArray<string | Error>>();
      calls.push({ keys, gate });
      return gate.promise;
    });
    const answer = (index: number) => calls[index]!.gate.resolve(calls[index]!.keys.map((key) => `v${key}`));
    return { calls, loadMany, answer };
  }

  it('loads [1,2,3] and [4] for overlapping concurrent batches [1,2,3] and [2,3,4]', async () => {
    cache = createCache();
    const { calls, loadMany, answer } = batchLoader();
    const first = cache.rememberMany([1, 2, 3], loadMany);
    const second = cache.rememberMany([2, 3, 4], loadMany);
    const secondState = track(second);
    expect(calls.map((call) => call.keys)).toEqual([[1, 2, 3], [4]]);

    // Key 4 is loaded, but the second batch still waits for 2 and 3 from the first one.
    answer(1);
    await flushMicrotasks();
    expect(secondState.settled).toBe(false);
    answer(0);
    await expect(first).resolves.toEqual(['v1', 'v2', 'v3']);
    await expect(second).resolves.toEqual(['v2', 'v3', 'v4']);
    expect(loadMany).toHaveBeenCalledTimes(2);
    expect(cache.stats()).toMatchObject({ loads: 4, coalesced: 2, misses: 6 });
  });

  it('answers keys in memory at once and loads only the rest, in key order', async () => {
    cache = createCache();
    await cache.remember(2, async () => 'cached2');
    const loadMany = vi.fn(async (keys: number[]) => keys.map((key) => `v${key}`));
    await expect(cache.rememberMany([1, 2, 3], loadMany)).resolves.toEqual(['v1', 'cached2', 'v3']);
    expect(loadMany).toHaveBeenCalledWith([1, 3], expect.any(AbortSignal));
    await expect(cache.rememberMany([3, 1, 2], loadMany)).resolves.toEqual(['v3', 'v1', 'cached2']);
    expect(loadMany).toHaveBeenCalledTimes(1);
  });

  it('joins a key that remember() is loading, and remember() joins a key a batch is loading', async () => {
    cache = createCache();
    const single = deferred<string>();
    const singleCall = cache.remember(2, () => single.promise);
    const { calls, loadMany, answer } = batchLoader();
    const batch = cache.rememberMany([1, 2, 3], loadMany);
    expect(calls[0]!.keys).toEqual([1, 3]);

    const load = vi.fn(async () => 'unused');
    const joiner = cache.remember(3, load);
    expect(load).not.toHaveBeenCalled();

    single.resolve('s2');
    answer(0);
    await expect(batch).resolves.toEqual(['v1', 's2', 'v3']);
    await expect(singleCall).resolves.toBe('s2');
    await expect(joiner).resolves.toBe('v3');
  });

  it('sends a duplicated key to the loader once and answers every position', async () => {
    cache = createCache();
    const loadMany = vi.fn(async (keys: number[]) => keys.map((key) => `v${key}`));
    await expect(cache.rememberMany([1, 1, 2, 1], loadMany)).resolves.toEqual(['v1', 'v1', 'v2', 'v1']);
    expect(loadMany).toHaveBeenCalledWith([1, 2], expect.any(AbortSignal));
  });

  it('gives a per-key Error to that key only and caches nothing for it', async () => {
    cache = createCache();
    const notFound = new Error('product 2 not found');
    const loadMany = vi.fn(async (keys: number[]) => keys.map((key) => (key === 2 ? notFound : `v${key}`)));
    const joiner = cache.remember(2, async () => 'unused');
    const batch = cache.rememberMany([2, 3], loadMany);
    const results = await cache.rememberMany([1, 2, 3], loadMany);
    expect(results).toEqual(['v1', 'unused', 'v3']);
    // remember(2) started first, so both batches joined it for key 2.
    await expect(joiner).resolves.toBe('unused');
    await expect(batch).resolves.toEqual(['unused', 'v3']);
    expect(loadMany.mock.calls.map(([keys]) => keys)).toEqual([[3], [1]]);

    const second = await cache.rememberMany([4, 5], async (keys: number[]) =>
      keys.map((key) => (key === 5 ? notFound : `v${key}`)),
    );
    expect(second).toEqual(['v4', notFound]);
    const retry = vi.fn(async (keys: number[]) => keys.map((key) => `again${key}`));
    await expect(cache.rememberMany([4, 5], retry)).resolves.toEqual(['v4', 'again5']);
    expect(retry).toHaveBeenCalledWith([5], expect.any(AbortSignal));
    expect(cache.stats().errors).toBe(1);
  });

  it('gives the per-key Error to every waiter of that key, in every batch', async () => {
    cache = createCache();
    const notFound = new Error('product 2 not found');
    const gate = deferred<ReadonlyArray<string | Error>>();
    const first = cache.rememberMany([1, 2], () => gate.promise);
    const second = cache.rememberMany([2], async () => ['unused']);
    gate.resolve(['v1', notFound]);
    await expect(first).resolves.toEqual(['v1', notFound]);
    const [shared] = await second;
    expect(shared).toBe(notFound);
  });

  it('gives a rejection of loadMany to every key it was asked for, and caches none of them', async () => {
    cache = createCache();
    const error = new Error('batch failed');
    const joiner = track(cache.remember(2, async () => 'unused'));
    await joiner.promise;
    const results = await cache.rememberMany([1, 3], async () => Promise.reject(error));
    expect(results[0]).toBe(error);
    expect(results[1]).toBe(error);
    const retry = vi.fn(async (keys: number[]) => keys.map(String));
    await cache.rememberMany([1, 3], retry);
    expect(retry).toHaveBeenCalledWith([1, 3], expect.any(AbortSignal));
  });

  it('fails every key with E_LOAD_FAILED when loadMany returns the wrong number of results', async () => {
    cache = createCache();
    const results = await cache.rememberMany([1, 2, 3], async () => ['only one']);
    expect(results[0]).toBeInstanceOf(LoadFailedError);
    expect(results[0]).toMatchObject({
      code: 'E_LOAD_FAILED',
      message:
        'loadMany must resolve an array with one result per missing key: expected 3, received 1 results',
    });
    expect(results[2]).toBe(results[0]);
  });

  it('answers an undefined result for a key with E_LOAD_UNDEFINED for that key only', async () => {
    cache = createCache();
    const results = await cache.rememberMany(['a', 'b'], async () => ['A', undefined as unknown as string]);
    expect(results[0]).toBe('A');
    expect(results[1]).toMatchObject({ code: 'E_LOAD_UNDEFINED', key: 'b' });
  });

  it('does not call loadMany when every key is in memory', async () => {
    cache = createCache();
    await cache.rememberMany(['a', 'b'], async (keys) => keys.map((key) => key.toUpperCase()));
    const loadMany = vi.fn(async (keys: string[]) => keys);
    await expect(cache.rememberMany(['b', 'a'], loadMany)).resolves.toEqual(['B', 'A']);
    expect(loadMany).not.toHaveBeenCalled();
  });

  it('answers an invalid key with an Error in its position and loads the others', async () => {
    cache = createCache();
    const results = await cache.rememberMany(['ok', [] as unknown as string], async (keys) => keys);
    expect(results[0]).toBe('ok');
    expect(results[1]).toBeInstanceOf(InvalidKeyError);
  });
});

describe('rememberMany bookkeeping, invalidation and close', () => {
  it('counts one miss per distinct key of a batch, and a hit for each key answered from memory', async () => {
    cache = createCache();
    const loadMany = vi.fn(async (keys: number[]) => keys.map((key) => `v${key}`));
    await expect(cache.rememberMany([1, 1, 2, 1], loadMany)).resolves.toEqual(['v1', 'v1', 'v2', 'v1']);
    expect(cache.stats()).toMatchObject({ misses: 2, coalesced: 0, hits: 0, loads: 2 });
    expect(cache.stats().flights).toMatchObject({ started: 2, joined: 0 });

    await expect(cache.rememberMany([2, 1], loadMany)).resolves.toEqual(['v2', 'v1']);
    expect(loadMany).toHaveBeenCalledTimes(1);
    expect(cache.stats()).toMatchObject({ misses: 2, hits: 2 });
  });

  it('counts every key of a rejected loadMany as an error', async () => {
    cache = createCache();
    const error = new Error('batch failed');
    await expect(cache.rememberMany([1, 3], async () => Promise.reject(error))).resolves.toEqual([
      error,
      error,
    ]);
    expect(cache.stats()).toMatchObject({ errors: 2, loads: 2, entries: 0 });
  });

  it('never lets a batch load that started before a delete write that key back', async () => {
    cache = createCache();
    const gate = deferred<ReadonlyArray<string>>();
    const batch = cache.rememberMany(['a', 'b'], () => gate.promise);
    await cache.delete('a');
    gate.resolve(['staleA', 'B']);
    await expect(batch).resolves.toEqual(['staleA', 'B']);
    const load = vi.fn(async () => 'freshA');
    await expect(cache.remember('a', load)).resolves.toBe('freshA');
    expect(load).toHaveBeenCalledTimes(1);
    // The key that was not deleted was stored.
    await expect(cache.remember('b', async () => 'unused')).resolves.toBe('B');
  });

  it('stores nothing a load finishes after close()', async () => {
    cache = createCache();
    const gate = deferred<string>();
    const call = cache.remember('k', () => gate.promise);
    await cache.close();
    gate.resolve('late');
    await expect(call).resolves.toBe('late');
    expect(cache.stats().entries).toBe(0);
  });

  describe('batch deadline', () => {
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it('rejects a hung batch with FlightTimeoutError per key, aborts its signal and stores no late result', async () => {
      cache = createCache({ flight: new SingleFlight({ timeoutMs: 500 }) });
      const gate = deferred<ReadonlyArray<string>>();
      let batchSignal: AbortSignal | undefined;
      const batch = cache.rememberMany(['a', 'b'], (_keys, signal) => {
        batchSignal = signal;
        return gate.promise;
      });
      await vi.advanceTimersByTimeAsync(499);
      expect(batchSignal?.aborted).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      const results = await batch;
      expect(results[0]).toBeInstanceOf(FlightTimeoutError);
      expect(results[1]).toBeInstanceOf(FlightTimeoutError);
      expect(batchSignal?.aborted).toBe(true);

      gate.resolve(['lateA', 'lateB']);
      await flushMicrotasks();
      expect(cache.stats().entries).toBe(0);
      const loadMany = vi.fn(async (keys: string[]) => keys.map((key) => `fresh-${key}`));
      await expect(cache.rememberMany(['a', 'b'], loadMany)).resolves.toEqual(['fresh-a', 'fresh-b']);
      expect(loadMany).toHaveBeenCalledTimes(1);
    });
  });
});
