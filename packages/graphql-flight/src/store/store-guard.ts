export type BreakerState = 'closed' | 'open' | 'half-open';

export interface StoreGuardOptions {
  /** Deadline of every store call, in milliseconds. */
  timeoutMs: number;
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one probe call is let through. */
  cooldownMs: number;
  /** Called with every failure (error or deadline), for logging; must not throw. */
  onError?: (error: unknown) => void;
  /**
   * Called on every change of the circuit's state (closed to open, open to half-open when a probe
   * is let through, half-open to closed or back to open), after the change; must not throw.
   */
  onStateChange?: (change: { from: BreakerState; to: BreakerState }) => void;
}

export interface StoreGuardStats {
  state: BreakerState;
  /** Store calls that failed or missed their deadline. */
  errors: number;
  /** Store calls not made because the circuit was open. */
  skipped: number;
  /** Times the circuit opened. */
  opened: number;
}

export class StoreTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`store call missed its ${timeoutMs} ms deadline`);
    this.name = 'StoreTimeoutError';
  }
}

/**
 * Wraps every call to a shared store so that a dead, frozen or slow store never fails or hangs a
 * caller: a call that fails or misses its deadline yields the fallback (a miss for a read, nothing
 * for a write). After `failureThreshold` consecutive failures the circuit opens and calls return
 * the fallback at once; after `cooldownMs` a single probe call goes through, and its outcome closes
 * or re-opens the circuit.
 */
export class StoreGuard {
  readonly #options: StoreGuardOptions;
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #probing = false;
  #errors = 0;
  #skipped = 0;
  #opened = 0;

  constructor(options: StoreGuardOptions) {
    this.#options = options;
  }

  stats(): StoreGuardStats {
    return { state: this.#state, errors: this.#errors, skipped: this.#skipped, opened: this.#opened };
  }

  /**
   * Runs `call` under the deadline and the circuit; resolves its result, or `fallback` on any failure.
   *
   * `outsideCircuit`: the call is made even while the circuit is open, and its outcome neither
   * opens nor closes it (it is still counted in `errors`). For a caller that already bounds how
   * often it calls a failing store, and must reach it as soon as it answers again: the
   * invalidation queue's re-sends, which the cooldown would otherwise hold back for
   * `cooldownMs` after Redis came back, while other processes still read the retired values.
   */
  async run<T, F>(call: () => Promise<T>, fallback: F, outsideCircuit = false): Promise<T | F> {
    if (!outsideCircuit && !this.#admit()) {
      this.#skipped++;
      return fallback;
    }
    const probe = !outsideCircuit && this.#state === 'half-open';
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const pending = call();
      const deadline = new Promise<never>((_, reject) => {
        const arm = (windows: number) => {
          const armedAt = performance.now();
          timer = setTimeout(() => {
            // A timer that fires late means this process's own event loop stalled (a burst of
            // requests, a GC): the store had no fair chance to be heard, so it gets another
            // window, at most twice. A frozen or dead store still fails within about 3 deadlines.
            const late = performance.now() - armedAt - this.#options.timeoutMs;
            if (late > this.#options.timeoutMs / 2 && windows < 3) return arm(windows + 1);
            // Node runs due timers before it polls sockets: give a reply that is already waiting
            // one turn of I/O (setImmediate runs after the poll phase) before calling it late.
            setImmediate(() => reject(new StoreTimeoutError(this.#options.timeoutMs)));
          }, this.#options.timeoutMs);
        };
        arm(1);
      });
      // A late settlement of `pending` after the deadline won must not surface as unhandled.
      pending.catch(() => {});
      const result = await Promise.race([pending, deadline]);
      if (!outsideCircuit) this.#succeed();
      return result;
    } catch (error) {
      this.#fail(error, outsideCircuit);
      return fallback;
    } finally {
      clearTimeout(timer);
      if (probe) this.#probing = false;
    }
  }

  #admit(): boolean {
    if (this.#state === 'closed') return true;
    if (this.#state === 'open' && performance.now() - this.#openedAt < this.#options.cooldownMs) return false;
    // Cooldown over (or already half-open): exactly one probe at a time.
    if (this.#probing) return false;
    this.#probing = true;
    this.#enter('half-open');
    return true;
  }

  #succeed(): void {
    this.#failures = 0;
    this.#enter('closed');
  }

  #fail(error: unknown, outsideCircuit: boolean): void {
    this.#errors++;
    // A call outside the circuit is no vote on it (see run).
    if (!outsideCircuit) {
      this.#failures++;
      if (this.#state === 'half-open' || this.#failures >= this.#options.failureThreshold) {
        if (this.#state !== 'open') this.#opened++;
        this.#openedAt = performance.now();
        this.#enter('open');
      }
    }
    try {
      this.#options.onError?.(error);
    } catch {
      // a logging hook cannot break the request path
    }
  }

  /** Moves the circuit to `to`, and tells onStateChange when that is a change. */
  #enter(to: BreakerState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    try {
      this.#options.onStateChange?.({ from, to });
    } catch {
      // a logging hook cannot break the request path
    }
  }
}
