import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StoreGuard } from '../../src/store/store-guard.js';
import { deferred, track } from '../helpers/deferred.js';

/**
 * The guard's deadline against a controlled clock: fake timers decide when the deadline timer
 * fires, and a separate monotonic clock (performance.now) says how late it fired, as it would
 * after this process's event loop stalled.
 */
describe('StoreGuard deadline', () => {
  let now = 0;
  beforeEach(() => {
    now = 1_000;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate'] });
    vi.spyOn(performance, 'now').mockImplementation(() => now);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  const guard = () => new StoreGuard({ timeoutMs: 100, failureThreshold: 5, cooldownMs: 1_000 });
  /** Moves the clock and fires the timers due in `ms`, the way a loop that kept up would. */
  const elapse = async (ms: number) => {
    now += ms;
    await vi.advanceTimersByTimeAsync(ms);
  };
  /** The loop was blocked for `ms`: the clock moved, no timer could fire meanwhile. */
  const stall = (ms: number) => {
    now += ms;
  };

  it('returns the fallback and counts an error when the store stays silent past the deadline', async () => {
    const g = guard();
    const call = track(g.run(() => new Promise<string>(() => {}), 'fallback'));
    await elapse(99);
    expect(call.settled).toBe(false);
    await elapse(1);
    // The timeout is declared one turn later (setImmediate), after pending I/O had its chance.
    await vi.runOnlyPendingTimersAsync();
    await expect(call.promise).resolves.toBe('fallback');
    expect(g.stats().errors).toBe(1);
  });

  it('grants another window when the deadline fires late because this process stalled, not the store', async () => {
    const g = guard();
    const reply = deferred<string>();
    const call = track(g.run(() => reply.promise, 'fallback'));
    stall(250); // the timer, due at +100, can only fire now, 150 ms late
    await vi.advanceTimersByTimeAsync(100);
    await vi.advanceTimersByTimeAsync(1); // what that timer scheduled with setImmediate runs too
    expect(call.settled).toBe(false);
    reply.resolve('stored');
    await expect(call.promise).resolves.toBe('stored');
    expect(g.stats().errors).toBe(0);
  });

  it('gives up after three windows even if every one of them fired late', async () => {
    const g = guard();
    const call = track(g.run(() => new Promise<string>(() => {}), 'fallback'));
    for (let window = 1; window <= 3; window++) {
      stall(250);
      await vi.advanceTimersByTimeAsync(100);
    }
    await vi.advanceTimersByTimeAsync(1); // no fourth window: the timeout is declared now
    expect(call.settled).toBe(true);
    await expect(call.promise).resolves.toBe('fallback');
    expect(g.stats().errors).toBe(1);
  });

  it('opens the circuit after failureThreshold consecutive failures and skips the store while open', async () => {
    const g = new StoreGuard({ timeoutMs: 100, failureThreshold: 2, cooldownMs: 1_000 });
    const failing = () => Promise.reject(new Error('ECONNREFUSED'));
    await g.run(failing, null);
    await g.run(failing, null);
    expect(g.stats().state).toBe('open');
    const call = vi.fn(async () => 'unused');
    await expect(g.run(call, 'skipped')).resolves.toBe('skipped');
    expect(call).not.toHaveBeenCalled();
    expect(g.stats()).toMatchObject({ skipped: 1, opened: 1 });

    // After the cooldown one probe goes through; its success closes the circuit.
    now += 1_000;
    await expect(g.run(async () => 'back', null)).resolves.toBe('back');
    expect(g.stats().state).toBe('closed');
  });

  it('tells onStateChange of every change of the circuit, once each, in order', async () => {
    const changes: string[] = [];
    const g = new StoreGuard({
      timeoutMs: 100,
      failureThreshold: 2,
      cooldownMs: 1_000,
      onStateChange: ({ from, to }) => changes.push(`${from}->${to}`),
    });
    const failing = () => Promise.reject(new Error('ECONNREFUSED'));
    await g.run(failing, null);
    expect(changes).toEqual([]);
    await g.run(failing, null);
    expect(changes).toEqual(['closed->open']);
    await g.run(failing, null); // skipped while open: no change
    now += 1_000;
    await g.run(failing, null); // the probe fails
    expect(changes).toEqual(['closed->open', 'open->half-open', 'half-open->open']);
    now += 1_000;
    await g.run(async () => 'back', null);
    await g.run(async () => 'again', null); // closed stays closed: no change
    expect(changes).toEqual([
      'closed->open',
      'open->half-open',
      'half-open->open',
      'open->half-open',
      'half-open->closed',
    ]);
  });

  it('keeps working when onStateChange throws', async () => {
    const g = new StoreGuard({
      timeoutMs: 100,
      failureThreshold: 1,
      cooldownMs: 1_000,
      onStateChange: () => {
        throw new Error('a broken logger');
      },
    });
    await expect(g.run(() => Promise.reject(new Error('down')), 'fallback')).resolves.toBe('fallback');
    expect(g.stats().state).toBe('open');
  });
});
