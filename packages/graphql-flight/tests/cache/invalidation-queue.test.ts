/** The invalidation queue on its own, with a store that acknowledges when the test says (fake timers). */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidationQueue } from '../../src/cache/invalidation-queue.js';
import { InvalidationFailedError } from '../../src/index.js';

describe('InvalidationQueue', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A store that is down until `up` is set. */
  function store() {
    const state = { up: false, sends: 0 };
    const send = async () => {
      state.sends++;
      return state.up;
    };
    return { state, send };
  }

  it('refuses past maxPendingInvalidations, says it is NOT queued, and reads nothing from the store until drained', async () => {
    const { state, send } = store();
    const queue = new InvalidationQueue({ send, timeoutMs: 100, maxPendingIds: 2 });
    const first = queue.submit(['a', 'b'], []);
    first.catch(() => {});
    const refused = queue.submit(['c'], []);
    await expect(refused).rejects.toMatchObject({ code: 'E_INVALIDATION_FAILED', queued: false });
    await expect(refused).rejects.toThrow(/NOT queued/);
    // Which ids the store still lacks is not known any more: none is read from it.
    expect(queue.isPending('unrelated')).toBe(true);
    await vi.advanceTimersByTimeAsync(150);
    await expect(first).rejects.toBeInstanceOf(InvalidationFailedError);
    await expect(first).rejects.toMatchObject({ queued: true });
    state.up = true;
    await vi.advanceTimersByTimeAsync(300);
    expect(queue.stats()).toMatchObject({ pending: 0, sent: 1 });
    expect(queue.isPending('unrelated')).toBe(false);
    expect(queue.isPending('a')).toBe(false);
  });

  it('accepts one invalidation larger than maxPendingInvalidations when nothing else waits', async () => {
    const { state, send } = store();
    state.up = true;
    const queue = new InvalidationQueue({ send, timeoutMs: 100, maxPendingIds: 2 });
    await expect(queue.submit(['a', 'b', 'c'], ['d'])).resolves.toBeUndefined();
    expect(queue.isPending('unrelated')).toBe(false);
  });

  it('stays short during a long outage: invalidations whose callers were answered become one entry', async () => {
    const { state, send } = store();
    const queue = new InvalidationQueue({ send, timeoutMs: 10, maxPendingIds: 10_000 });
    const settled: Promise<unknown>[] = [];
    for (let i = 0; i < 500; i++) {
      settled.push(queue.submit([], ['sales', `order:${i}`]).catch((error: unknown) => error));
      await vi.advanceTimersByTimeAsync(20);
    }
    expect(queue.stats().pending).toBeLessThanOrEqual(65);
    expect((await Promise.all(settled)).every((error) => error instanceof InvalidationFailedError)).toBe(
      true,
    );
    // Nothing lost: every id is still pending, and all land once the store is back.
    expect(queue.isPending('order:0')).toBe(true);
    expect(queue.isPending('order:499')).toBe(true);
    state.up = true;
    await vi.advanceTimersByTimeAsync(300);
    expect(queue.stats().pending).toBe(0);
    expect(queue.isPending('order:0')).toBe(false);
    expect(queue.isPending('sales')).toBe(false);
  });
});
