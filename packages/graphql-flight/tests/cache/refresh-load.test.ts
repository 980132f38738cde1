// Two things the response cache needs from the core (issue 13): a background refresh that runs a
// load of its own (`refreshLoad`), and a stale answer that says whether it is one of the error
// window (`staleIfError` on what `fetch` resolves).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCache, type FlightCache } from '../../src/index.js';
import { deferred, flushMicrotasks } from '../helpers/deferred.js';
import { manualClock } from '../helpers/clock.js';

let cache: FlightCache;
afterEach(async () => {
  await cache?.close();
});

describe('refreshLoad', () => {
  it("is what a stale hit's background refresh runs, with the refresh flight's own signal; the caller's load never runs", async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    const options = { ttlMs: 100, staleWhileRevalidateMs: 1_000, tags: ['T'] };
    await cache.remember('k', async () => 'v1', options);
    clock.advance(150);

    const caller = new AbortController();
    const load = vi.fn(async () => 'from the caller');
    const gate = deferred<string>();
    const signals: AbortSignal[] = [];
    const refreshLoad = vi.fn((signal: AbortSignal) => {
      signals.push(signal);
      return gate.promise;
    });
    await expect(cache.fetch('k', load, { ...options, signal: caller.signal, refreshLoad })).resolves.toEqual(
      { value: 'v1', source: 'stale' },
    );
    expect(load).not.toHaveBeenCalled();
    expect(refreshLoad).toHaveBeenCalledTimes(1);
    // The caller leaving does not abort the refresh.
    caller.abort(new Error('the request ended'));
    expect(signals[0]!.aborted).toBe(false);
    gate.resolve('v2');
    await flushMicrotasks();
    await expect(cache.fetch('k', load, options)).resolves.toEqual({ value: 'v2', source: 'memory' });
    // It was kept with the call's other options: its tags retire it.
    await cache.invalidate({ tags: ['T'] });
    await expect(cache.fetch('k', async () => 'v3', options)).resolves.toEqual({
      value: 'v3',
      source: 'loaded',
    });
    expect(load).not.toHaveBeenCalled();
  });

  it('defaults to load', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    const options = { ttlMs: 100, staleWhileRevalidateMs: 1_000 };
    await cache.remember('k', async () => 'v1', options);
    clock.advance(150);
    const load = vi.fn(async () => 'v2');
    await expect(cache.remember('k', load, options)).resolves.toBe('v1');
    expect(load).toHaveBeenCalledTimes(1);
  });
});

describe('staleIfError on a stale answer of fetch', () => {
  it('is absent inside the revalidate window, and true when a failed load made the answer stale', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    const options = { ttlMs: 100, staleWhileRevalidateMs: 100, staleIfErrorMs: 10_000 };
    await cache.remember('k', async () => 'old', options);
    clock.advance(150);
    const gate = deferred<string>();
    const inWindow = await cache.fetch('k', () => gate.promise, options);
    expect(inWindow).toEqual({ value: 'old', source: 'stale' });
    expect('staleIfError' in inWindow).toBe(false);
    gate.reject(new Error('down'));
    await flushMicrotasks();

    // Past the revalidate window, while the origin fails: stale because of the error.
    clock.advance(100);
    await expect(cache.fetch('k', async () => 'unused', options)).resolves.toEqual({
      value: 'old',
      source: 'stale',
      staleIfError: true,
    });
    expect(cache.stats().staleIfErrorServes).toBe(1);
  });

  it('is true for the answer of a load that failed inside the error window', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    const options = { ttlMs: 100, staleIfErrorMs: 10_000 };
    await cache.remember('k', async () => 'old', options);
    clock.advance(200);
    await expect(cache.fetch('k', async () => Promise.reject(new Error('down')), options)).resolves.toEqual({
      value: 'old',
      source: 'stale',
      staleIfError: true,
    });
  });
});
