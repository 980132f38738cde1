/** Review of issue 13 (freshness), without Redis: defects pinned by tests that fail on the code under review. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCache, type FlightCache } from '../../src/index.js';
import { track } from '../helpers/deferred.js';
import { manualClock } from '../helpers/clock.js';

let cache: FlightCache;
afterEach(async () => {
  vi.useRealTimers();
  await cache?.close();
});

describe('the error window when the origin hangs', () => {
  /** A value past its TTL and an origin that hangs: its loads never answer (and, like many drivers, ignore the signal). */
  async function hanging(onRefreshError?: (error: unknown) => void) {
    vi.useFakeTimers();
    const clock = manualClock();
    cache = createCache({ now: clock.now, timeoutMs: 1_000, ...(onRefreshError ? { onRefreshError } : {}) });
    const options = { ttlMs: 100, staleWhileRevalidateMs: 100, staleIfErrorMs: 60_000 };
    await cache.remember('k', async () => 'old', options);
    const hang = vi.fn(() => new Promise<string>(() => {}));
    clock.advance(150); // revalidate window: stale at once, one refresh starts and hangs
    await expect(cache.remember('k', hang, options)).resolves.toBe('old');
    await vi.advanceTimersByTimeAsync(1_000); // the refresh's flight passes its deadline
    return { clock, options, hang };
  }

  it('counts and reports a refresh that did not answer within the flight deadline', async () => {
    const reported: unknown[] = [];
    await hanging((error) => reported.push(error));
    expect(cache.stats().refreshFailures).toBe(1);
    expect(reported).toHaveLength(1);
  });

  it('takes the origin as failing after a refresh timed out: a caller in the error window gets stale at once', async () => {
    const { clock, options, hang } = await hanging();
    clock.advance(100); // past the revalidate window, inside the error window
    const call = track(cache.remember('k', hang, options));
    await vi.advanceTimersByTimeAsync(0);
    // Its last load never answered: stale at once, not a wait of the whole flight deadline.
    expect(call.settled).toBe(true);
    await expect(call.promise).resolves.toBe('old');
  });
});
