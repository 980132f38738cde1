/**
 * The origin of the expiry and outage scenarios: a loader that takes `loaderMs` and answers a
 * stamp of when it ran, or fails while the origin is down. The outage is a span of wall-clock
 * time (epoch milliseconds, so every process of a fleet agrees on it): an attempt that starts
 * inside it fails after the loader time, like an origin that answers 503. Attempts are counted
 * only while `counting` is on (the measured window), those that failed apart.
 */
import { sleep } from './stats.js';

/** What a load answers: when its attempt started and when it answered (epoch ms). */
export interface Stamp {
  startedAt: number;
  at: number;
}

/**
 * Wall-clock time in milliseconds, comparable across the processes of a fleet. Date.now(), not
 * performance.timeOrigin + performance.now(): on this machine the monotonic clock drifts from the
 * wall clock by milliseconds per second, so two processes started minutes apart disagree on it.
 */
export const epochNow = (): number => Date.now();

/** The origin is down for attempts starting in [startAt, endAt) (epoch ms). */
export interface Outage {
  startAt: number;
  endAt: number;
}

export interface OriginOptions {
  loaderMs: number;
  /** Called for every counted attempt before it runs (the fleet INCRs a counter in Redis). */
  onAttempt?: () => Promise<unknown>;
}

export class Origin {
  counting = false;
  outage: Outage | undefined;
  /** Attempts started while counting. */
  attempts = 0;
  /** Of them, those that started during the outage (and failed). */
  failed = 0;
  readonly #options: OriginOptions;

  constructor(options: OriginOptions) {
    this.#options = options;
  }

  readonly load = async (): Promise<Stamp> => {
    const { loaderMs, onAttempt } = this.#options;
    const outage = this.outage;
    const startedAt = epochNow();
    const down = outage !== undefined && startedAt >= outage.startAt && startedAt < outage.endAt;
    if (this.counting) {
      this.attempts++;
      if (down) this.failed++;
      await onAttempt?.();
    }
    await sleep(loaderMs);
    if (down) throw new Error('origin down (simulated outage)');
    return { startedAt, at: epochNow() };
  };
}

/**
 * The most refresh attempts of one key a backoff that starts at `initialMs` and doubles up to
 * `maxMs` allows in `windowMs`: one at once, then one after each delay (attempt durations not
 * counted, so this is an upper bound).
 */
export function allowedAttempts(windowMs: number, initialMs = 100, maxMs = 1_000): number {
  let attempts = 1;
  let elapsed = 0;
  let delay = initialMs;
  for (let guard = 0; guard < 100_000 && elapsed + delay <= windowMs; guard++) {
    elapsed += delay;
    attempts++;
    delay = Math.min(delay * 2, maxMs);
  }
  return attempts;
}
