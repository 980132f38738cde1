import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  FlightAbandonedError,
  FlightTimeoutError,
  InvalidOptionError,
  type Joined,
  SingleFlight,
} from '../../src/index.js';
import { deferred, flushMicrotasks, track } from '../helpers/deferred.js';

describe('SingleFlight', () => {
  it('runs the fn once for concurrent callers of a key and gives all of them the same value', async () => {
    const flight = new SingleFlight();
    const gate = deferred<{ n: number }>();
    const fn = vi.fn(() => gate.promise);

    const calls = Array.from({ length: 100 }, () => flight.run('k', fn));
    expect(fn).toHaveBeenCalledTimes(1);
    expect(flight.isInFlight('k')).toBe(true);
    expect(flight.size).toBe(1);

    const value = { n: 1 };
    gate.resolve(value);
    const results = await Promise.all(calls);
    for (const result of results) expect(result).toBe(value);
    expect(flight.stats()).toMatchObject({ started: 1, joined: 99, succeeded: 1, inFlight: 0 });
  });

  it('runs different keys independently', async () => {
    const flight = new SingleFlight();
    const a = deferred<string>();
    const b = deferred<string>();
    const fnA = vi.fn(() => a.promise);
    const fnB = vi.fn(() => b.promise);

    const callA = track(flight.run('a', fnA));
    const callB = track(flight.run('b', fnB));
    expect(fnA).toHaveBeenCalledTimes(1);
    expect(fnB).toHaveBeenCalledTimes(1);

    b.resolve('B');
    await expect(callB.promise).resolves.toBe('B');
    expect(callA.settled).toBe(false);
    expect(flight.isInFlight('a')).toBe(true);
    expect(flight.isInFlight('b')).toBe(false);

    a.resolve('A');
    await expect(callA.promise).resolves.toBe('A');
  });

  // A waiter's continuation (a `.then` callback, an `await`) runs in a later microtask, after the
  // whole settlement, so it cannot tell whether the key was freed before or after the waiters were
  // told: both orders pass a test written that way. What does run synchronously while each waiter
  // is told is Promise resolution reading the value's `then`: a getter there sees the flight as the
  // waiter is handed its value, the first step of its continuing.
  it('frees the key before it hands the value to any waiter', async () => {
    const flight = new SingleFlight();
    const gate = deferred<object>();
    let watching = false;
    const inFlightAtHandOver: boolean[] = [];
    const value = {
      // biome-ignore lint/suspicious/noThenProperty: the getter observes the moment Promise resolution reads it
      get then() {
        if (watching) inFlightAtHandOver.push(flight.isInFlight('k'));
        return undefined;
      },
    };
    const calls = [1, 2, 3].map(() => flight.run('k', () => gate.promise));
    // The gate's own resolution reads `then` too, while the flight is still in progress: not watched.
    gate.resolve(value);
    watching = true;
    const results = await Promise.all(calls);
    watching = false;

    expect(inFlightAtHandOver).toEqual([false, false, false]);
    for (const result of results) expect(result).toBe(value);
  });

  it('starts a new flight, never the settled one, for a call made as a waiter is handed the value', async () => {
    const flight = new SingleFlight();
    const gate = deferred<object>();
    const second = vi.fn(async () => 'second');
    let watching = false;
    let nested: Joined<string> | undefined;
    const first = {
      // biome-ignore lint/suspicious/noThenProperty: the getter runs the moment Promise resolution reads it
      get then() {
        if (watching && nested === undefined) nested = flight.join('k', second);
        return undefined;
      },
    };
    const call = flight.run('k', () => gate.promise);
    gate.resolve(first);
    watching = true;
    const value = await call;
    watching = false;

    expect(value).toBe(first);
    expect(nested?.shared).toBe(false);
    await expect(nested?.result).resolves.toBe('second');
    expect(second).toHaveBeenCalledTimes(1);
    expect(flight.stats()).toMatchObject({ started: 2, joined: 0, succeeded: 2, inFlight: 0 });
  });

  it('gives every waiter the same rejection and does not remember it', async () => {
    const flight = new SingleFlight();
    const gate = deferred<string>();
    const failing = vi.fn(() => gate.promise);
    const error = new Error('origin down');

    const calls = [1, 2, 3].map(() => flight.run('k', failing));
    gate.reject(error);
    const outcomes = await Promise.allSettled(calls);
    for (const outcome of outcomes) expect(outcome).toEqual({ status: 'rejected', reason: error });
    for (const outcome of outcomes) expect((outcome as PromiseRejectedResult).reason).toBe(error);
    expect(flight.isInFlight('k')).toBe(false);

    await expect(flight.run('k', async () => 'recovered')).resolves.toBe('recovered');
    expect(failing).toHaveBeenCalledTimes(1);
    expect(flight.stats()).toMatchObject({ failed: 1, succeeded: 1 });
  });

  it('turns a synchronous throw into the same rejection for every waiter and frees the key', async () => {
    const flight = new SingleFlight();
    const error = new Error('sync boom');
    const first = flight.run('k', () => {
      throw error;
    });
    // Joined before the rejection is delivered: it shares the same error.
    const second = flight.run('k', () => 'never');

    await expect(first).rejects.toBe(error);
    await expect(second).rejects.toBe(error);
    expect(flight.isInFlight('k')).toBe(false);
    await expect(flight.run('k', () => 'next')).resolves.toBe('next');
  });

  it('gives the result of a synchronous fn to its waiters', async () => {
    const flight = new SingleFlight();
    await expect(flight.run('k', () => 42)).resolves.toBe(42);
  });

  it('reports whether a call joined a flight another call started', async () => {
    const flight = new SingleFlight();
    const gate = deferred<number>();
    const first = flight.join('k', () => gate.promise);
    const second = flight.join('k', () => gate.promise);
    expect(first.shared).toBe(false);
    expect(second.shared).toBe(true);
    gate.resolve(1);
    expect(await first.result).toBe(await second.result);
  });

  describe('deadline', () => {
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it('rejects every waiter with one FlightTimeoutError, aborts the fn, frees the key and drops the late result', async () => {
      const flight = new SingleFlight({ timeoutMs: 1_000 });
      const gate = deferred<string>();
      let fnSignal: AbortSignal | undefined;
      const calls = [1, 2, 3].map(() =>
        flight.run('k', (signal) => {
          fnSignal = signal;
          return gate.promise;
        }),
      );
      const outcomes = Promise.allSettled(calls);

      await vi.advanceTimersByTimeAsync(999);
      expect(flight.isInFlight('k')).toBe(true);
      expect(fnSignal?.aborted).toBe(false);

      await vi.advanceTimersByTimeAsync(1);
      const settled = await outcomes;
      const reasons = settled.map((outcome) => (outcome as PromiseRejectedResult).reason);
      expect(reasons[0]).toBeInstanceOf(FlightTimeoutError);
      expect(reasons[0]).toMatchObject({ code: 'E_FLIGHT_TIMEOUT', key: 'k', timeoutMs: 1_000 });
      expect(reasons[0].message).toBe('flight for key "k" timed out after 1000 ms');
      expect(reasons[1]).toBe(reasons[0]);
      expect(reasons[2]).toBe(reasons[0]);
      expect(fnSignal?.aborted).toBe(true);
      expect(fnSignal?.reason).toBe(reasons[0]);
      expect(flight.isInFlight('k')).toBe(false);

      // A new flight starts; the old fn's late result reaches nobody.
      const next = deferred<string>();
      const nextCall = flight.run('k', () => next.promise);
      gate.resolve('late');
      await flushMicrotasks();
      next.resolve('fresh');
      await expect(nextCall).resolves.toBe('fresh');
      expect(flight.stats()).toMatchObject({ timedOut: 1, succeeded: 1, started: 2 });
    });

    it('uses the timeoutMs of the call that starts the flight', async () => {
      const flight = new SingleFlight({ timeoutMs: 10_000 });
      const call = flight.run('k', () => new Promise<never>(() => {}), { timeoutMs: 50 });
      const outcome = expect(call).rejects.toMatchObject({ code: 'E_FLIGHT_TIMEOUT', timeoutMs: 50 });
      await vi.advanceTimersByTimeAsync(50);
      await outcome;
    });

    it('lets a joiner with a shorter timeoutMs leave alone while the flight goes on for the others', async () => {
      const flight = new SingleFlight({ timeoutMs: 1_000 });
      const gate = deferred<string>();
      let fnSignal: AbortSignal | undefined;
      const patient = flight.run('k', (signal) => {
        fnSignal = signal;
        return gate.promise;
      });
      const hasty = flight.run('k', () => 'unused', { timeoutMs: 100 });
      const hastyOutcome = expect(hasty).rejects.toMatchObject({ code: 'E_FLIGHT_TIMEOUT', timeoutMs: 100 });

      await vi.advanceTimersByTimeAsync(100);
      await hastyOutcome;
      expect(fnSignal?.aborted).toBe(false);
      expect(flight.stats().flights).toEqual([{ key: 'k', waiters: 1, ageMs: 100 }]);

      gate.resolve('done');
      await expect(patient).resolves.toBe('done');
    });

    it('reports the flights in progress with their waiters and age', async () => {
      const flight = new SingleFlight();
      const gate = deferred<string>();
      const calls = [flight.run('a', () => gate.promise), flight.run('a', () => gate.promise)];
      await vi.advanceTimersByTimeAsync(250);
      calls.push(flight.run('b', () => gate.promise));
      await vi.advanceTimersByTimeAsync(50);

      expect(flight.stats()).toEqual({
        inFlight: 2,
        started: 2,
        joined: 1,
        succeeded: 0,
        failed: 0,
        timedOut: 0,
        aborted: 0,
        flights: [
          { key: 'a', waiters: 2, ageMs: 300 },
          { key: 'b', waiters: 1, ageMs: 50 },
        ],
      });
      gate.resolve('x');
      await Promise.all(calls);
      expect(flight.stats().flights).toEqual([]);
    });
  });

  describe('a caller leaving', () => {
    it("rejects only that caller, with its signal's reason", async () => {
      const flight = new SingleFlight();
      const gate = deferred<string>();
      let fnSignal: AbortSignal | undefined;
      const leaving = new AbortController();
      const staying = flight.run('k', (signal) => {
        fnSignal = signal;
        return gate.promise;
      });
      const leaver = flight.run('k', () => 'unused', { signal: leaving.signal });

      const reason = new Error('client went away');
      leaving.abort(reason);
      await expect(leaver).rejects.toBe(reason);
      expect(fnSignal?.aborted).toBe(false);
      expect(flight.isInFlight('k')).toBe(true);

      gate.resolve('value');
      await expect(staying).resolves.toBe('value');
    });

    it("aborts the flight's signal and frees the key when the last waiter leaves", async () => {
      const flight = new SingleFlight();
      const gate = deferred<string>();
      let fnSignal: AbortSignal | undefined;
      const first = new AbortController();
      const second = new AbortController();
      const calls = [first, second].map((controller) =>
        flight.run(
          'k',
          (signal) => {
            fnSignal = signal;
            return gate.promise;
          },
          { signal: controller.signal },
        ),
      );
      const outcomes = Promise.allSettled(calls);

      first.abort();
      await flushMicrotasks();
      expect(fnSignal?.aborted).toBe(false);
      expect(flight.isInFlight('k')).toBe(true);

      second.abort();
      await outcomes;
      expect(fnSignal?.aborted).toBe(true);
      expect(fnSignal?.reason).toBeInstanceOf(FlightAbandonedError);
      expect(fnSignal?.reason).toMatchObject({ code: 'E_FLIGHT_ABANDONED', key: 'k' });
      expect(flight.isInFlight('k')).toBe(false);
      expect(flight.stats().aborted).toBe(1);

      const fresh = vi.fn(async () => 'fresh');
      await expect(flight.run('k', fresh)).resolves.toBe('fresh');
      expect(fresh).toHaveBeenCalledTimes(1);
      gate.resolve('late');
    });

    it('rejects at once, without running the fn, when the signal is already aborted', async () => {
      const flight = new SingleFlight();
      const fn = vi.fn(async () => 'x');
      const reason = new Error('already gone');
      await expect(flight.run('k', fn, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      expect(fn).not.toHaveBeenCalled();
      expect(flight.isInFlight('k')).toBe(false);
    });

    it('removes its abort listener once the flight settles', async () => {
      const flight = new SingleFlight();
      const controller = new AbortController();
      const add = vi.spyOn(controller.signal, 'addEventListener');
      const remove = vi.spyOn(controller.signal, 'removeEventListener');
      await flight.run('k', async () => 'v', { signal: controller.signal });
      // The very listener it added, not just any function.
      const [, listener] = add.mock.calls.find(([type]) => type === 'abort')!;
      expect(remove).toHaveBeenCalledWith('abort', listener);
    });
  });

  it('lets a new flight start after forget(), and the old flight never removes the new entry', async () => {
    const flight = new SingleFlight();
    const oldGate = deferred<string>();
    const newGate = deferred<string>();
    const oldCall = flight.run('k', () => oldGate.promise);

    flight.forget('k');
    expect(flight.isInFlight('k')).toBe(false);
    const newFn = vi.fn(() => newGate.promise);
    const newCall = flight.run('k', newFn);
    expect(newFn).toHaveBeenCalledTimes(1);

    oldGate.resolve('old');
    await expect(oldCall).resolves.toBe('old');
    expect(flight.isInFlight('k')).toBe(true);
    const joiner = flight.run('k', () => 'unused');

    newGate.resolve('new');
    await expect(newCall).resolves.toBe('new');
    await expect(joiner).resolves.toBe('new');
  });

  it('emits no unhandled rejection when the fn fails after every waiter has left', async () => {
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      const flight = new SingleFlight();
      const gate = deferred<string>();
      const controller = new AbortController();
      const call = flight.run('k', () => gate.promise, { signal: controller.signal });
      controller.abort(new Error('left'));
      await expect(call).rejects.toThrow('left');

      gate.reject(new Error('failed with nobody listening'));
      // Unhandled rejections are reported after the microtask queue drains and a macrotask turn.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).not.toHaveBeenCalled();
      expect(flight.stats()).toMatchObject({ aborted: 1, failed: 0 });
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  it('validates timeoutMs, naming the option and the value received', async () => {
    expect(() => new SingleFlight({ timeoutMs: 0 })).toThrow(InvalidOptionError);
    expect(() => new SingleFlight({ timeoutMs: -5 })).toThrow(
      'option "timeoutMs" must be a positive number of milliseconds (or Infinity); received -5',
    );
    expect(() => new SingleFlight({ timeoutMs: Number.NaN })).toThrow('received NaN');
    expect(() => new SingleFlight({ timeoutMs: Number.POSITIVE_INFINITY })).not.toThrow();
    await expect(new SingleFlight().run('k', async () => 1, { timeoutMs: 0 })).rejects.toThrow(
      InvalidOptionError,
    );
  });
});

describe('SingleFlight ordering and timers', () => {
  it('frees the key before it resolves any waiter (observed by a then-getter on the value)', async () => {
    const flight = new SingleFlight();
    const gate = deferred<object>();
    const seen: boolean[] = [];
    // Promise resolution reads `then` synchronously; returning a non-function keeps it a plain value.
    const value = {
      // biome-ignore lint/suspicious/noThenProperty: the getter observes when Promise resolution reads it
      get then() {
        seen.push(flight.isInFlight('k'));
        return undefined;
      },
    };
    const call = flight.run('k', () => gate.promise);
    gate.resolve(value);
    await expect(call).resolves.toBe(value);
    // The first read is gate.resolve (flight still in progress); every read by a waiter's resolve comes after release.
    expect(seen[0]).toBe(true);
    expect(seen.slice(1)).not.toContain(true);
    expect(seen.length).toBeGreaterThan(1);
  });

  describe('timers', () => {
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it("clears the flight's and a joiner's personal timers when the flight settles", async () => {
      const flight = new SingleFlight({ timeoutMs: 1_000 });
      const gate = deferred<string>();
      const first = flight.run('k', () => gate.promise);
      const joiner = flight.run('k', () => 'unused', { timeoutMs: 100 });
      expect(vi.getTimerCount()).toBe(2);
      gate.resolve('v');
      await expect(Promise.all([first, joiner])).resolves.toEqual(['v', 'v']);
      expect(vi.getTimerCount()).toBe(0);
    });
  });
});
