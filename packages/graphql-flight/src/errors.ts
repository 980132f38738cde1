/**
 * Error classes with stable `code`s. Callers branch on `code`, never on message text.
 * Messages name the key (or its fingerprint) and the cause; they never carry store credentials.
 */

export type FlightErrorCode =
  | 'E_FLIGHT_TIMEOUT'
  | 'E_FLIGHT_ABANDONED'
  | 'E_LOAD_FAILED'
  | 'E_LOAD_UNDEFINED'
  | 'E_INVALID_KEY'
  | 'E_VALUE_TOO_DEEP'
  | 'E_INVALID_OPTION'
  | 'E_CACHE_CLOSED'
  | 'E_INVALIDATION_FAILED';

export class FlightError extends Error {
  readonly code: FlightErrorCode;
  /** The key the failure concerns, when there is one. */
  readonly key: string | undefined;

  constructor(code: FlightErrorCode, message: string, options?: { key?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.key = options?.key;
  }
}

/** A flight outlived its deadline. Every waiter of that flight receives the same instance. */
export class FlightTimeoutError extends FlightError {
  readonly timeoutMs: number;
  constructor(key: string, timeoutMs: number) {
    super('E_FLIGHT_TIMEOUT', `flight for key "${key}" timed out after ${timeoutMs} ms`, { key });
    this.timeoutMs = timeoutMs;
  }
}

/** The reason a flight's AbortSignal carries when its last waiter left before it settled. */
export class FlightAbandonedError extends FlightError {
  constructor(key: string) {
    super('E_FLIGHT_ABANDONED', `flight for key "${key}" was abandoned by all its waiters`, { key });
  }
}

/** A batch loader broke its contract (wrong result count, or no result for a key). */
export class LoadFailedError extends FlightError {
  constructor(key: string, message: string, cause?: unknown) {
    super('E_LOAD_FAILED', message, { key, cause });
  }
}

/** A loader resolved `undefined`, which a cache cannot tell apart from a miss. Use `null` for "absent". */
export class LoadUndefinedError extends FlightError {
  constructor(key: string) {
    super(
      'E_LOAD_UNDEFINED',
      `loader for key "${key}" resolved undefined; return null to cache an absent value`,
      { key },
    );
  }
}

export class InvalidKeyError extends FlightError {
  constructor(message: string) {
    super('E_INVALID_KEY', message);
  }
}

/**
 * A value given to encodeValue nests deeper than its `maxDepth`. Apart from E_INVALID_KEY because
 * a client can cause it (deeply nested variables), where the other refusals are the server's bugs.
 */
export class ValueTooDeepError extends FlightError {
  readonly maxDepth: number;
  constructor(maxDepth: number) {
    super('E_VALUE_TOO_DEEP', `arguments nest deeper than ${maxDepth} levels`);
    this.maxDepth = maxDepth;
  }
}

export class InvalidOptionError extends FlightError {
  constructor(option: string, expected: string, received: unknown) {
    super('E_INVALID_OPTION', `option "${option}" must be ${expected}; received ${describe(received)}`);
  }
}

export class CacheClosedError extends FlightError {
  constructor() {
    super('E_CACHE_CLOSED', 'the cache is closed');
  }
}

/**
 * Redis did not acknowledge an invalidation within the cache's `invalidationTimeoutMs`. It was
 * applied in this process at once, and it stays queued and is re-sent until Redis acknowledges
 * it; until then this process reads none of its keys or tags from Redis. Other processes may
 * serve the old values until it lands.
 */
export class InvalidationFailedError extends FlightError {
  readonly keys: number;
  readonly tags: number;
  /** Whether it stays queued and is re-sent (false: refused, the queue was full). */
  readonly queued: boolean;
  constructor(keys: number, tags: number, detail: string, queued = true) {
    super(
      'E_INVALIDATION_FAILED',
      `the invalidation of ${keys} key(s) and ${tags} tag(s) ${detail}; ${
        queued
          ? 'it stays queued and is re-sent until Redis acknowledges it'
          : 'it is NOT queued: other processes may serve the old values until they expire (this one reads nothing from Redis until its queue drains)'
      }`,
    );
    this.queued = queued;
    this.keys = keys;
    this.tags = tags;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  return typeof value;
}

/** `value` if it is a positive, finite number of milliseconds; else InvalidOptionError naming `option`. */
export function positiveMs(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptionError(option, 'a positive, finite number of milliseconds', value);
  }
  return value;
}

/** `value` if it is a finite number of milliseconds >= 0; else InvalidOptionError naming `option`. */
export function nonNegativeMs(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(option, 'a finite number of milliseconds >= 0', value);
  }
  return value;
}
