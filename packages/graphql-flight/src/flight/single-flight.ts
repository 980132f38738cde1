import { FlightAbandonedError, FlightTimeoutError, InvalidOptionError } from '../errors.js';

/** The work a flight runs once for all its waiters. It should stop when `signal` aborts. */
export type FlightFn<T> = (signal: AbortSignal) => T | PromiseLike<T>;

export interface SingleFlightOptions {
  /**
   * Deadline of every flight, in milliseconds, unless the call that starts it passes its own.
   * Past it every waiter rejects with one `FlightTimeoutError`, the fn's signal aborts, the key is
   * freed and a late result is dropped. `Infinity` disables it. Default 10 000.
   */
  timeoutMs?: number;
}

export interface RunOptions {
  /** This caller's own way out: when it aborts, only this caller rejects (with `signal.reason`). */
  signal?: AbortSignal;
  /**
   * For the call that starts a flight: the flight's deadline. For a call that joins one: this
   * caller's own deadline, applied only when it ends before the flight's (the first caller's
   * deadline is the flight's; a joiner can shorten its own wait, never the others').
   */
  timeoutMs?: number;
}

export interface FlightSnapshot {
  key: string;
  /** Callers still waiting on the flight. */
  waiters: number;
  /** Milliseconds since the flight started (monotonic clock). */
  ageMs: number;
}

export interface SingleFlightStats {
  /** Flights in progress now (the same as `size`). */
  inFlight: number;
  /** Flights started (each one a single execution of a fn). */
  started: number;
  /** Calls that joined a flight already in progress instead of starting one. */
  joined: number;
  succeeded: number;
  failed: number;
  /** Flights that passed their deadline. */
  timedOut: number;
  /** Flights whose waiters all left (by their own signal or deadline) before it settled. */
  aborted: number;
  flights: FlightSnapshot[];
}

/** What `join()` returns: the caller's result, and whether it shared a flight another call started. */
export interface Joined<T> {
  result: Promise<T>;
  shared: boolean;
}

const DEFAULT_TIMEOUT_MS = 10_000;
// setTimeout fires at once for delays above 2^31 - 1 ms; longer deadlines are treated as none.
const MAX_TIMER_MS = 2_147_483_647;

interface Waiter<T> {
  resolve(value: T): void;
  reject(reason: unknown): void;
  /** Detaches this waiter's abort listener and personal timer. */
  detach(): void;
}

/**
 * One flight: owned by the SingleFlight that created it. `done` turns true exactly once, when the
 * flight settles, times out or is abandoned; after that nothing it produces reaches anyone.
 */
interface Flight<T> {
  readonly key: string;
  readonly controller: AbortController;
  readonly startedAt: number;
  readonly deadlineAt: number;
  readonly waiters: Set<Waiter<T>>;
  timer: ReturnType<typeof setTimeout> | undefined;
  done: boolean;
}

/**
 * One pending execution per key, shared by every concurrent caller in the process.
 *
 * A caller that arrives while a flight for its key is in progress joins it and receives the same
 * value or the same error; a caller that arrives after the flight settled starts a new one.
 * Nothing is remembered after settlement: this is a de-duplicator, not a cache.
 */
export class SingleFlight {
  readonly #flights = new Map<string, Flight<unknown>>();
  readonly #timeoutMs: number;
  #started = 0;
  #joined = 0;
  #succeeded = 0;
  #failed = 0;
  #timedOut = 0;
  #aborted = 0;

  constructor(options: SingleFlightOptions = {}) {
    this.#timeoutMs = validateTimeout('timeoutMs', options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }

  /** Flights in progress. */
  /** The deadline of a flight whose first call names none, in milliseconds (Infinity: none). */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  get size(): number {
    return this.#flights.size;
  }

  isInFlight(key: string): boolean {
    return this.#flights.has(key);
  }

  /** Runs `fn` once for all concurrent callers of `key` and gives each caller the shared outcome. */
  run<T>(key: string, fn: FlightFn<T>, options?: RunOptions): Promise<T> {
    return this.join(key, fn, options).result;
  }

  /** Like `run`, and also reports whether this call joined a flight another call started. */
  join<T>(key: string, fn: FlightFn<T>, options?: RunOptions): Joined<T> {
    const signal = options?.signal;
    let timeoutMs: number | undefined;
    try {
      if (options?.timeoutMs !== undefined) timeoutMs = validateTimeout('timeoutMs', options.timeoutMs);
    } catch (error) {
      return { result: Promise.reject(error), shared: false };
    }
    if (signal?.aborted) return { result: Promise.reject(signal.reason), shared: false };

    const existing = this.#flights.get(key) as Flight<T> | undefined;
    if (existing !== undefined) {
      this.#joined++;
      return { result: this.#wait(existing, signal, timeoutMs), shared: true };
    }
    const flight = this.#start(key, fn, timeoutMs ?? this.#timeoutMs);
    // The caller's own deadline is the flight's; it needs no timer of its own.
    return { result: this.#wait(flight, signal, undefined), shared: false };
  }

  /**
   * Later callers of `key` start a new flight instead of joining the current one. The current
   * flight runs on and its waiters still get its outcome; its settlement never removes the entry
   * of a newer flight for the same key.
   */
  forget(key: string): void {
    this.#flights.delete(key);
  }

  stats(): SingleFlightStats {
    const now = performance.now();
    const flights: FlightSnapshot[] = [];
    for (const flight of this.#flights.values()) {
      flights.push({ key: flight.key, waiters: flight.waiters.size, ageMs: now - flight.startedAt });
    }
    return {
      inFlight: this.#flights.size,
      started: this.#started,
      joined: this.#joined,
      succeeded: this.#succeeded,
      failed: this.#failed,
      timedOut: this.#timedOut,
      aborted: this.#aborted,
      flights,
    };
  }

  #start<T>(key: string, fn: FlightFn<T>, timeoutMs: number): Flight<T> {
    const startedAt = performance.now();
    const flight: Flight<T> = {
      key,
      controller: new AbortController(),
      startedAt,
      deadlineAt: startedAt + timeoutMs,
      waiters: new Set(),
      timer: undefined,
      done: false,
    };
    // In the map before fn runs, so a call that fn makes synchronously for the same key joins.
    this.#flights.set(key, flight as Flight<unknown>);
    this.#started++;
    if (timeoutMs <= MAX_TIMER_MS) {
      flight.timer = setTimeout(() => this.#expire(flight, timeoutMs), timeoutMs);
      flight.timer.unref?.();
    }

    let outcome: PromiseLike<T> | T;
    try {
      outcome = fn(flight.controller.signal);
    } catch (error) {
      // A synchronous throw is a rejection like any other: shared, not remembered.
      outcome = Promise.reject(error);
    }
    // Both handlers are attached here, so a rejection is handled even when every waiter has left.
    Promise.resolve(outcome).then(
      (value) => this.#settle(flight, true, value),
      (error: unknown) => this.#settle(flight, false, error),
    );
    return flight;
  }

  #wait<T>(flight: Flight<T>, signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => this.#leave(flight, waiter, signal?.reason);
      const waiter: Waiter<T> = {
        resolve,
        reject,
        detach() {
          signal?.removeEventListener('abort', onAbort);
          if (timer !== undefined) clearTimeout(timer);
        },
      };
      flight.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined && performance.now() + timeoutMs < flight.deadlineAt) {
        timer = setTimeout(
          () => this.#leave(flight, waiter, new FlightTimeoutError(flight.key, timeoutMs)),
          timeoutMs,
        );
        timer.unref?.();
      }
    });
  }

  /** Frees the key, unless a newer flight owns it now (after `forget`). */
  #release(flight: Flight<unknown>): void {
    if (this.#flights.get(flight.key) === flight) this.#flights.delete(flight.key);
    if (flight.timer !== undefined) clearTimeout(flight.timer);
  }

  #settle<T>(flight: Flight<T>, ok: boolean, outcome: unknown): void {
    if (flight.done) return; // timed out or abandoned: a late result reaches no one
    if (ok) this.#succeeded++;
    else this.#failed++;
    this.#end(flight);
    this.#notify(flight, ok, outcome);
  }

  #expire<T>(flight: Flight<T>, timeoutMs: number): void {
    if (flight.done) return;
    this.#timedOut++;
    this.#end(flight);
    const error = new FlightTimeoutError(flight.key, timeoutMs);
    flight.controller.abort(error);
    this.#notify(flight, false, error);
  }

  /**
   * Ends a flight and frees its key, before any waiter is told: a waiter only continues in a
   * later microtask, so whatever it does next (including calling run for the same key) sees no
   * trace of this flight and starts a new one.
   */
  #end(flight: Flight<unknown>): void {
    flight.done = true;
    this.#release(flight);
  }

  #notify<T>(flight: Flight<T>, ok: boolean, outcome: unknown): void {
    for (const waiter of flight.waiters) {
      waiter.detach();
      if (ok) waiter.resolve(outcome as T);
      else waiter.reject(outcome);
    }
    flight.waiters.clear();
  }

  /** One waiter leaves (its signal aborted or its own deadline passed); the flight goes on for the rest. */
  #leave<T>(flight: Flight<T>, waiter: Waiter<T>, reason: unknown): void {
    if (!flight.waiters.delete(waiter)) return;
    waiter.detach();
    waiter.reject(reason);
    if (flight.waiters.size > 0 || flight.done) return;
    // Nobody is waiting any more: free the key and tell the fn to stop.
    this.#aborted++;
    this.#end(flight);
    flight.controller.abort(new FlightAbandonedError(flight.key));
  }
}

function validateTimeout(option: string, value: number): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw new InvalidOptionError(option, 'a positive number of milliseconds (or Infinity)', value);
  }
  return value;
}
