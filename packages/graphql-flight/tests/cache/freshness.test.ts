import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCache, type FlightCache, InvalidOptionError, Reads } from '../../src/index.js';
import { deferred, flushMicrotasks, track } from '../helpers/deferred.js';
import { manualClock } from '../helpers/clock.js';

/** A seeded PRNG (mulberry32), so the XFetch draws are the same on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

let cache: FlightCache;
afterEach(async () => {
  vi.useRealTimers();
  await cache?.close();
});

/** A loader whose calls the test settles one by one. */
function loader<T>() {
  const calls: Array<ReturnType<typeof deferred<T>>> = [];
  const load = vi.fn(() => {
    const call = deferred<T>();
    calls.push(call);
    return call.promise;
  });
  return { load, calls };
}

describe('the revalidate window (staleWhileRevalidateMs)', () => {
  it('answers stale at once, without awaiting the load, while one refresh runs for every caller', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    const { load, calls } = loader<string>();
    const options = { ttlMs: 100, staleWhileRevalidateMs: 1_000 };
    const first = cache.remember('hot', load, options);
    calls[0]!.resolve('v1');
    await expect(first).resolves.toBe('v1');

    clock.advance(150); // past ttlMs, inside the revalidate window
    const stale = Array.from({ length: 20 }, () => track(cache.remember('hot', load, options)));
    await flushMicrotasks();
    // Every caller is answered although the refresh's load has not settled.
    expect(stale.every((call) => call.settled)).toBe(true);
    for (const call of stale) await expect(call.promise).resolves.toBe('v1');
    expect(load).toHaveBeenCalledTimes(2); // the first load, and one refresh
    expect(cache.stats()).toMatchObject({ staleHits: 20, refreshes: 1, earlyRefreshes: 0 });

    calls[1]!.resolve('v2');
    await flushMicrotasks();
    await expect(cache.remember('hot', load, options)).resolves.toBe('v2');
    expect(load).toHaveBeenCalledTimes(2);
    const fetched = await cache.fetch('hot', load, options);
    expect(fetched).toEqual({ value: 'v2', source: 'memory' });
  });

  it("tells fetch's callers the value is stale", async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    const options = { ttlMs: 100, staleWhileRevalidateMs: 1_000 };
    await cache.remember('k', async () => 'old', options);
    clock.advance(101);
    const gate = deferred<string>();
    await expect(cache.fetch('k', () => gate.promise, options)).resolves.toEqual({
      value: 'old',
      source: 'stale',
    });
    // peek finds fresh values only.
    expect(cache.peek('k')).toBeUndefined();
    gate.resolve('new');
    await flushMicrotasks();
    expect(cache.peek('k')).toBe('new');
  });

  it('loads past the window: the caller waits, and a failure reaches it', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    const options = { ttlMs: 100, staleWhileRevalidateMs: 200 };
    await cache.remember('k', async () => 'old', options);
    clock.advance(301);
    const { load, calls } = loader<string>();
    const call = track(cache.remember('k', load, options));
    await flushMicrotasks();
    expect(call.settled).toBe(false);
    calls[0]!.reject(new Error('origin down'));
    await expect(call.promise).rejects.toThrow('origin down');
  });

  it('keeps a value without windows exactly as before: expired at ttlMs', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    await cache.remember('k', async () => 'old', { ttlMs: 100 });
    clock.advance(101);
    const { load, calls } = loader<string>();
    const call = track(cache.remember('k', load, { ttlMs: 100 }));
    await flushMicrotasks();
    expect(call.settled).toBe(false);
    calls[0]!.resolve('new');
    await expect(call.promise).resolves.toBe('new');
  });

  it('serves stale batch keys at once from rememberMany, and refreshes each of them alone', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    const options = { ttlMs: 100, staleWhileRevalidateMs: 1_000 };
    await cache.rememberMany([1, 2], async (keys) => keys.map((k) => `v${k}`), options);
    clock.advance(150);
    const gate = deferred<void>();
    const loadMany = vi.fn(async (keys: number[]) => {
      await gate.promise;
      return keys.map((k) => `w${k}`);
    });
    const batch = track(cache.rememberMany([1, 2, 3], loadMany, options));
    await flushMicrotasks();
    // Key 3 is a miss: its load is what the batch waits for; 1 and 2 are answered stale.
    expect(batch.settled).toBe(false);
    expect(loadMany.mock.calls.map((call) => call[0])).toEqual([[1], [2], [3]]);
    gate.resolve();
    await expect(batch.promise).resolves.toEqual(['v1', 'v2', 'w3']);
    await flushMicrotasks();
    await expect(cache.rememberMany([1, 2], loadMany, options)).resolves.toEqual(['w1', 'w2']);
    expect(cache.stats()).toMatchObject({ staleHits: 2, refreshes: 2 });
  });
});

describe('values made from stale ones', () => {
  it('stores nothing made from a stale input: it answers its callers, and is made again from the refreshed input', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    const field = { ttlMs: 100, staleWhileRevalidateMs: 1_000 };
    await cache.remember('field', async () => 'old', field);
    clock.advance(150);
    const gate = deferred<string>();
    const derive = async () => {
      const reads = new Reads();
      return cache.remember(
        'response',
        async () => `${await cache.remember('field', () => gate.promise, { ...field, readInto: reads })}!`,
        { ttlMs: 10_000, inherits: reads },
      );
    };
    await expect(derive()).resolves.toBe('old!');
    expect(cache.peek('response')).toBeUndefined(); // not kept as fresher than its input
    gate.resolve('new');
    await flushMicrotasks();
    await expect(derive()).resolves.toBe('new!');
    expect(cache.peek('response')).toBe('new!');
  });
});

describe('a refresh reading a stale value (Reads.waitFresh)', () => {
  it("waits for that value's refresh instead of reading it stale, so what it makes is stored", async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    const field = { ttlMs: 100, staleWhileRevalidateMs: 1_000 };
    await cache.remember('field', async () => 'old', field);
    clock.advance(150);
    const gate = deferred<string>();
    const reads = new Reads();
    reads.waitFresh = true;
    const call = track(cache.remember('field', () => gate.promise, { ...field, readInto: reads }));
    await flushMicrotasks();
    expect(call.settled).toBe(false); // waiting for the refresh, not answered stale
    gate.resolve('new');
    await expect(call.promise).resolves.toBe('new');
    expect(reads.stale).toBe(false);
    expect(cache.stats()).toMatchObject({ refreshes: 1, staleHits: 0 });
  });

  it('takes the stale value when the refresh fails', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    const field = { ttlMs: 100, staleWhileRevalidateMs: 1_000 };
    await cache.remember('field', async () => 'old', field);
    clock.advance(150);
    const reads = new Reads();
    reads.waitFresh = true;
    const failing = async () => Promise.reject(new Error('down'));
    await expect(cache.remember('field', failing, { ...field, readInto: reads })).resolves.toBe('old');
    expect(reads.stale).toBe(true);
  });
});

describe('the error window (staleIfErrorMs)', () => {
  it('serves stale while refreshes fail, one attempt at a time and a doubling backoff capped at 1 s; past the window the error reaches the caller', async () => {
    const clock = manualClock();
    const reported: unknown[] = [];
    cache = createCache({ now: clock.now, onRefreshError: (error) => reported.push(error) });
    const options = { ttlMs: 100, staleWhileRevalidateMs: 100, staleIfErrorMs: 10_000 };
    await cache.remember('k', async () => 'old', options);
    const { load, calls } = loader<string>();

    clock.advance(150); // revalidate window: one refresh starts
    await expect(cache.remember('k', load, options)).resolves.toBe('old');
    await expect(cache.remember('k', load, options)).resolves.toBe('old');
    expect(load).toHaveBeenCalledTimes(1); // one attempt in flight
    calls[0]!.reject(new Error('down'));
    await flushMicrotasks();

    // The attempts that follow wait out 100, 200, 400, 800, 1 000, 1 000 ms.
    const waits = [100, 200, 400, 800, 1_000, 1_000];
    for (const [i, wait] of waits.entries()) {
      clock.advance(wait - 1);
      for (let j = 0; j < 5; j++) await expect(cache.remember('k', load, options)).resolves.toBe('old');
      expect(load).toHaveBeenCalledTimes(i + 1);
      clock.advance(1);
      await expect(cache.remember('k', load, options)).resolves.toBe('old');
      expect(load).toHaveBeenCalledTimes(i + 2);
      calls[i + 1]!.reject(new Error('down'));
      await flushMicrotasks();
    }
    expect(reported).toHaveLength(7);
    expect(cache.stats()).toMatchObject({ refreshFailures: 7, refreshes: 7 });
    expect(cache.stats().staleIfErrorServes).toBeGreaterThan(30);

    // The origin is back: the next attempt fills, and callers get the new value.
    clock.advance(1_000);
    await expect(cache.remember('k', load, options)).resolves.toBe('old');
    calls[7]!.resolve('new');
    await flushMicrotasks();
    await expect(cache.remember('k', load, options)).resolves.toBe('new');

    // Past ttlMs + staleIfErrorMs nothing stale is left: the error reaches the caller.
    clock.advance(100 + 10_000);
    const failing = cache.remember('k', async () => Promise.reject(new Error('still down')), options);
    await expect(failing).rejects.toThrow('still down');
  });

  it('makes a caller past the revalidate window wait for the load, and answers stale if it fails', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    const options = { ttlMs: 100, staleIfErrorMs: 5_000 };
    await cache.remember('k', async () => 'old', options);
    clock.advance(200);
    const { load, calls } = loader<string>();
    const call = track(cache.remember('k', load, options));
    await flushMicrotasks();
    expect(call.settled).toBe(false); // no revalidate window: it waits
    calls[0]!.reject(new Error('down'));
    await expect(call.promise).resolves.toBe('old');
    expect(cache.stats()).toMatchObject({ staleHits: 1, staleIfErrorServes: 1, refreshFailures: 0 });
    // The origin is known to fail now: the next caller gets stale at once, no attempt before the backoff.
    await expect(cache.remember('k', load, options)).resolves.toBe('old');
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('forgets the failures once a load succeeds: the next error window waits for a load again', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    const options = { ttlMs: 100, staleIfErrorMs: 5_000 };
    await cache.remember('k', async () => 'v1', options);
    clock.advance(200);
    await expect(cache.remember('k', async () => Promise.reject(new Error('down')), options)).resolves.toBe(
      'v1',
    );
    clock.advance(100); // the backoff passed: a refresh attempt, failing again
    await expect(cache.remember('k', async () => Promise.reject(new Error('down')), options)).resolves.toBe(
      'v1',
    );
    await flushMicrotasks();
    clock.advance(200); // the next backoff passed: this attempt succeeds
    await expect(cache.remember('k', async () => 'v2', options)).resolves.toBe('v1');
    await flushMicrotasks();
    await expect(cache.remember('k', async () => 'x', options)).resolves.toBe('v2');
    clock.advance(200); // v2 is past its TTL: the origin is not known to fail, so a caller waits
    const { load, calls } = loader<string>();
    const call = track(cache.remember('k', load, options));
    await flushMicrotasks();
    expect(call.settled).toBe(false);
    calls[0]!.resolve('v3');
    await expect(call.promise).resolves.toBe('v3');
  });

  it('hands the error to a caller with no stale value', async () => {
    cache = createCache();
    const options = { ttlMs: 100, staleWhileRevalidateMs: 1_000, staleIfErrorMs: 5_000 };
    await expect(cache.remember('k', async () => Promise.reject(new Error('cold')), options)).rejects.toThrow(
      'cold',
    );
  });
});

describe('the soft timeout (softTimeoutMs)', () => {
  it('answers stale once the soft timeout passes, and the load goes on and fills', async () => {
    vi.useFakeTimers();
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    const options = { ttlMs: 100, staleIfErrorMs: 5_000, softTimeoutMs: 50 };
    await cache.remember('k', async () => 'old', options);
    clock.advance(200);
    const { load, calls } = loader<string>();
    const call = track(cache.remember('k', load, options));
    await vi.advanceTimersByTimeAsync(49);
    expect(call.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expect(call.promise).resolves.toBe('old');
    expect(cache.stats()).toMatchObject({ staleIfErrorServes: 1 });
    calls[0]!.resolve('new');
    await flushMicrotasks();
    await expect(cache.remember('k', load, options)).resolves.toBe('new');
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('does not cut a wait that has no stale value to answer with', async () => {
    vi.useFakeTimers();
    cache = createCache();
    const { load, calls } = loader<string>();
    const call = track(cache.remember('k', load, { ttlMs: 100, staleIfErrorMs: 5_000, softTimeoutMs: 50 }));
    await vi.advanceTimersByTimeAsync(500);
    expect(call.settled).toBe(false);
    calls[0]!.resolve('v');
    await expect(call.promise).resolves.toBe('v');
  });
});

describe('early refresh (earlyRefresh: XFetch)', () => {
  /** A value loaded in `delta` ms of the injected clock, then hit `left` ms before it expires with `r` drawn. */
  async function hitAt(delta: number, left: number, r: number, beta?: number) {
    const clock = manualClock();
    const draws = [r];
    const c = createCache({ now: clock.now, random: () => draws.shift() ?? 0.999_999 });
    const options = { ttlMs: 1_000, earlyRefresh: beta === undefined ? {} : { beta } };
    const gate = deferred<string>();
    const first = c.remember('k', () => gate.promise, options);
    clock.advance(delta);
    gate.resolve('v1');
    await first;
    clock.advance(1_000 - left);
    const refresh = vi.fn(async () => 'v2');
    await expect(c.remember('k', refresh, options)).resolves.toBe('v1'); // fresh: never blocked
    const refreshed = refresh.mock.calls.length;
    await c.close();
    return refreshed;
  }

  it('refreshes a fresh hit exactly when now - delta * beta * ln(random) reaches the expiry', async () => {
    // Triggers when r <= exp(-left / (delta * beta)).
    const at = (left: number, delta: number, beta = 1) => Math.exp(-left / (delta * beta));
    expect(await hitAt(100, 100, at(100, 100) * 0.999)).toBe(1);
    expect(await hitAt(100, 100, at(100, 100) * 1.001)).toBe(0);
    expect(await hitAt(100, 300, at(300, 100) * 0.999)).toBe(1);
    expect(await hitAt(100, 300, at(300, 100) * 1.001)).toBe(0);
    // beta 2 refreshes earlier: the same draw that is too large at beta 1 triggers.
    expect(await hitAt(100, 300, at(300, 100, 2) * 0.999, 2)).toBe(1);
    expect(await hitAt(100, 300, at(300, 100, 2) * 0.999)).toBe(0);
  });

  it('refreshes with the probability the formula gives (seeded draws)', async () => {
    const clock = manualClock();
    const random = mulberry32(13);
    const options = { ttlMs: 1_000, earlyRefresh: { beta: 1 } };
    const trials = 1_000;
    const results: Record<number, number> = {};
    for (const left of [50, 100, 200]) {
      let refreshed = 0;
      for (let i = 0; i < trials; i++) {
        cache = createCache({ now: clock.now, random });
        const gate = deferred<string>();
        const first = cache.remember('k', () => gate.promise, options);
        clock.advance(100); // delta 100 ms
        gate.resolve('v1');
        await first;
        clock.advance(1_000 - left);
        let loads = 0;
        await cache.remember(
          'k',
          async () => {
            loads++;
            return 'v2';
          },
          options,
        );
        refreshed += loads;
        await cache.close();
      }
      results[left] = refreshed / trials;
    }
    // P = exp(-left / delta): 0.607, 0.368, 0.135; 1 000 draws each: within 4 standard deviations.
    for (const [left, rate] of Object.entries(results)) {
      const p = Math.exp(-Number(left) / 100);
      expect(Math.abs(rate - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / trials));
    }
  });

  it('counts early refreshes, serves nothing stale and keeps one refresh in flight', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now, random: () => 0.000_1 });
    const options = { ttlMs: 1_000, earlyRefresh: {} };
    const gate = deferred<string>();
    const first = cache.remember('k', () => gate.promise, options);
    clock.advance(20); // its load took 20 ms
    gate.resolve('v1');
    await first;
    clock.advance(900);
    const { load, calls } = loader<string>();
    for (let i = 0; i < 10; i++) await expect(cache.remember('k', load, options)).resolves.toBe('v1');
    expect(load).toHaveBeenCalledTimes(1);
    expect(cache.stats()).toMatchObject({ refreshes: 1, earlyRefreshes: 1, staleHits: 0 });
    calls[0]!.resolve('v2');
    await flushMicrotasks();
    clock.advance(200); // past the first value's expiry: the refreshed one is fresh
    await expect(cache.remember('k', load, options)).resolves.toBe('v2');
  });

  it('refreshes a batch key early, alone, while the batch is answered from memory', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now, random: () => 0.000_1 });
    const options = { ttlMs: 1_000, earlyRefresh: {} };
    await cache.rememberMany(
      [1, 2],
      async (keys) => {
        clock.advance(20);
        return keys.map((k) => `v${k}`);
      },
      options,
    );
    clock.advance(900);
    const gate = deferred<void>();
    const loadMany = vi.fn(async (keys: number[]) => {
      await gate.promise;
      return keys.map((k) => `w${k}`);
    });
    await expect(cache.rememberMany([1, 2], loadMany, options)).resolves.toEqual(['v1', 'v2']);
    expect(loadMany.mock.calls.map((call) => call[0])).toEqual([[1], [2]]);
    expect(cache.stats()).toMatchObject({ earlyRefreshes: 2, staleHits: 0 });
    gate.resolve();
    await flushMicrotasks();
    await expect(cache.rememberMany([1, 2], loadMany, options)).resolves.toEqual(['w1', 'w2']);
  });

  it('refuses a beta that is not a positive number', async () => {
    cache = createCache();
    await expect(cache.remember('k', async () => 1, { earlyRefresh: { beta: -1 } })).rejects.toBeInstanceOf(
      InvalidOptionError,
    );
    await expect(cache.remember('k', async () => 1, { staleWhileRevalidateMs: -5 })).rejects.toBeInstanceOf(
      InvalidOptionError,
    );
    await expect(cache.remember('k', async () => 1, { softTimeoutMs: 0 })).rejects.toBeInstanceOf(
      InvalidOptionError,
    );
    expect(() => createCache({ refreshBackoff: { initialMs: 500, maxMs: 100 } })).toThrow(InvalidOptionError);
  });
});

describe('refreshes and invalidation', () => {
  it('drops a refresh an invalidation came during: the next caller loads afresh', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    const options = { ttlMs: 100, staleWhileRevalidateMs: 1_000, tags: ['Product:1'] };
    await cache.remember('k', async () => 'old', options);
    clock.advance(150);
    const { load, calls } = loader<string>();
    await expect(cache.remember('k', load, options)).resolves.toBe('old'); // starts the refresh
    await cache.invalidate({ tags: ['Product:1'] });
    calls[0]!.resolve('read before the write');
    await flushMicrotasks();
    const next = track(cache.remember('k', load, options));
    await flushMicrotasks();
    expect(next.settled).toBe(false); // a miss: nothing stale, nothing from the overtaken refresh
    expect(load).toHaveBeenCalledTimes(2);
    calls[1]!.resolve('after the write');
    await expect(next.promise).resolves.toBe('after the write');
  });

  it('soft-purges: stale within the revalidate window from the purge, one refresh, then the new value', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    const options = { ttlMs: 10_000, staleWhileRevalidateMs: 500, tags: ['Product:1'] };
    await cache.remember('k', async () => 'old', options);
    await cache.remember('plain', async () => 'plain-old', { ttlMs: 10_000, tags: ['Product:1'] });
    await cache.invalidate({ tags: ['Product:1'], soft: true });

    const { load, calls } = loader<string>();
    for (let i = 0; i < 5; i++) await expect(cache.remember('k', load, options)).resolves.toBe('old');
    expect(load).toHaveBeenCalledTimes(1);
    expect(cache.stats()).toMatchObject({ staleHits: 5, refreshes: 1 });
    calls[0]!.resolve('new');
    await flushMicrotasks();
    await expect(cache.remember('k', load, options)).resolves.toBe('new');

    // A value without a revalidate window is retired by a soft purge.
    const plain = track(cache.remember('plain', load, { ttlMs: 10_000, tags: ['Product:1'] }));
    await flushMicrotasks();
    expect(plain.settled).toBe(false);
    calls[1]!.resolve('plain-new');
    await expect(plain.promise).resolves.toBe('plain-new');
  });

  it('keeps no load begun before a soft purge, and ends the stale window at its own end', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    const options = { ttlMs: 10_000, staleWhileRevalidateMs: 500, tags: ['T'] };
    await cache.remember('k', async () => 'old', options);
    await cache.invalidate({ tags: ['T'], soft: true });
    const { load, calls } = loader<string>();
    await expect(cache.remember('k', load, options)).resolves.toBe('old'); // refresh 1 starts
    await cache.invalidate({ tags: ['T'], soft: true }); // overtakes it
    calls[0]!.resolve('overtaken');
    await flushMicrotasks();
    await expect(cache.remember('k', load, options)).resolves.toBe('old'); // refresh 2
    expect(load).toHaveBeenCalledTimes(2);
    clock.advance(501); // past the window the purge opened: a caller waits
    const waiting = track(cache.remember('k', load, options));
    await flushMicrotasks();
    expect(waiting.settled).toBe(false);
    calls[1]!.resolve('fresh');
    await expect(waiting.promise).resolves.toBe('fresh');
  });

  it('refuses a soft flag that is not a boolean', async () => {
    cache = createCache();
    await expect(cache.invalidate({ tags: ['T'], soft: 'yes' as unknown as boolean })).rejects.toBeInstanceOf(
      InvalidOptionError,
    );
  });
});
