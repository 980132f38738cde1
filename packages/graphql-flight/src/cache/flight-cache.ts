import {
  CacheClosedError,
  InvalidOptionError,
  LoadFailedError,
  LoadUndefinedError,
  positiveMs,
} from '../errors.js';
import type { FleetOptions, FleetStats } from '../fleet/redis-lease.js';
import { SingleFlight, type SingleFlightStats } from '../flight/single-flight.js';
import { MemoryTier } from '../store/memory-tier.js';
import { createRedisKeyv } from '../store/redis-store.js';
import { type BreakerState, StoreGuard } from '../store/store-guard.js';
import { type CacheKey, encodeKey } from './keys.js';
import { LeaseStrategy, MemoryStrategy, RedisStrategy, type TierEntry, type TierStrategy } from './tiers.js';

export interface CacheOptions {
  /** Redis to share values through (`redis://` or `rediss://`). Without it the store is the memory tier. */
  redisUrl?: string;
  /** Prefix of every key this cache writes to a shared store: `[a-z0-9][a-z0-9_-]*`. Default `gf`. */
  namespace?: string;
  /** Bound of the in-process memory tier, in entries (least recently used evicted). Default 10 000. */
  maxEntries?: number;
  /**
   * Bound of the memory tier in bytes, by estimate: a string counts 64 + 2 bytes per UTF-16 unit,
   * a value whose call passed `sizeOf` what that says (the response cache sizes a stored response
   * by its body), any other value a nominal 256 bytes. Default 64 MiB.
   */
  maxBytes?: number;
  /** TTL of a value when the call passes none, in milliseconds. Default 60 000. */
  defaultTtlMs?: number;
  /** Deadline of every shared-store call; past it a read is a miss and a write is dropped. Default 100. */
  storeTimeoutMs?: number;
  /**
   * With Redis: the longest a value stays in this process's memory tier after it was read or
   * written, so a delete made by another process is seen within this bound. Default 1 000.
   */
  localTtlMs?: number;
  /** Consecutive store failures that open the circuit (calls then skip the store). Default 5. */
  breakerThreshold?: number;
  /** How long an open circuit waits before one probe call. Default 2 000. */
  breakerCooldownMs?: number;
  /** The single-flight map to share pending loads through. Default: one owned by this cache. */
  flight?: SingleFlight;
  /**
   * With Redis: one load per key for the whole fleet of processes on this Redis and namespace (a
   * lease in Redis), on by default. `false`: values are shared, loads are coalesced per process.
   */
  fleet?: false | FleetOptions;
  /** Called with every store error or missed deadline (for logs); it must not throw. */
  onStoreError?: (error: unknown) => void;
  /** Monotonic clock for the memory tier's TTLs, in milliseconds (tests inject one). */
  now?: () => number;
}

export interface RememberOptions<T = unknown> {
  /** How long the value stays fresh, in milliseconds. Default: the cache's `defaultTtlMs`. */
  ttlMs?: number;
  /**
   * Whether a value this call's load produced is stored. false: it answers the callers of this
   * flight and is written nowhere (an uncacheable result, no error thrown). Default: stored.
   * Values read from the shared store are kept as they are.
   */
  shouldStore?: (value: T) => boolean;
  /**
   * The value's size in bytes for the memory tier's `maxBytes` bound, when the caller knows it
   * (large objects). Default: a string 64 + 2 bytes per UTF-16 unit, anything else 256 bytes.
   */
  sizeOf?: (value: T) => number;
}

/**
 * Where a value came from: this process's memory tier, a flight another call started that
 * loaded it, the shared store (Redis, read by this call's flight or one it joined), or this
 * call's own load.
 */
export type ValueSource = 'memory' | 'joined' | 'store' | 'loaded';

/** What `fetch` resolves: the value, and where it came from. */
export interface Fetched<T> {
  value: T;
  source: ValueSource;
}

/** Loads the values of the keys nobody else is loading; one result per key, in the same order. */
export type LoadMany<K, T> = (missing: K[], signal: AbortSignal) => Promise<ReadonlyArray<T | Error>>;

export interface CacheStats {
  /** Calls (per key) answered from the memory tier without waiting. */
  hits: number;
  /** `peek` calls that found a fresh value (counted apart from hits: a peek never loads). */
  peeks: number;
  /** Calls (per key) not answered from the memory tier: they started or joined a flight. */
  misses: number;
  /** Misses that joined a flight another call had started. */
  coalesced: number;
  /** Flights answered by the shared store (Redis) without loading. */
  storeHits: number;
  /** Keys handed to a loader. */
  loads: number;
  /** Keys whose load failed (a throw, a rejection, a per-key Error, or `undefined`). Never cached. */
  errors: number;
  /** Shared-store calls that failed or missed their deadline. */
  storeErrors: number;
  /** Entries in the memory tier. */
  entries: number;
  store: { kind: 'memory' | 'redis'; breaker: BreakerState; skipped: number };
  flights: SingleFlightStats;
  /** The fleet-wide flight (Redis only); `enabled: false` otherwise. */
  fleet: FleetStats;
}

const NAMESPACE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

/** A key this call started the flight for, inside `rememberMany`. */
interface Leader<K, T> {
  k: string;
  key: K;
  signal: AbortSignal;
  result: Deferred<Fetched<T>>;
  /** The fence its shared-store read gave (the lease's epoch of the key), for its write. */
  fence?: string | undefined;
  ticket: number;
}

/** Invalidation bookkeeping for a key while loads of it are running (see `#begin`). */
interface Generation {
  gen: number;
  active: number;
}

/**
 * Keyed cache-then-load: a memory-tier hit returns at once; otherwise one flight per key (shared
 * by every concurrent caller in the process, through SingleFlight) reads the shared store, loads,
 * writes with the TTL and hands the one result to every waiter.
 *
 * Values handed to several waiters are the same object: the cache never mutates them, and callers
 * must not either. Loader errors reach every waiter of that flight and are never cached.
 */
export class FlightCache {
  readonly #memory: MemoryTier;
  readonly #tier: TierStrategy;
  readonly #guard: StoreGuard;
  readonly #flight: SingleFlight;
  readonly #namespace: string;
  readonly #defaultTtlMs: number;
  /** Keys with loads running, and how often they were invalidated since (owned by #begin/#end). */
  readonly #generations = new Map<string, Generation>();
  #closed = false;
  #hits = 0;
  #peeks = 0;
  #misses = 0;
  #coalesced = 0;
  #storeHits = 0;
  #loads = 0;
  #errors = 0;

  constructor(options: CacheOptions = {}) {
    this.#namespace = options.namespace ?? 'gf';
    if (typeof this.#namespace !== 'string' || !NAMESPACE.test(this.#namespace)) {
      throw new InvalidOptionError(
        'namespace',
        'a string matching [a-z0-9][a-z0-9_-]{0,63}',
        options.namespace,
      );
    }
    const maxEntries = positiveInteger('maxEntries', options.maxEntries ?? 10_000);
    this.#defaultTtlMs = positiveMs('defaultTtlMs', options.defaultTtlMs ?? 60_000);
    const localTtlMs = positiveMs('localTtlMs', options.localTtlMs ?? 1_000);
    const storeTimeoutMs = positiveMs('storeTimeoutMs', options.storeTimeoutMs ?? 100);
    if (options.flight !== undefined && !(options.flight instanceof SingleFlight)) {
      throw new InvalidOptionError('flight', 'a SingleFlight', options.flight);
    }
    this.#flight = options.flight ?? new SingleFlight();
    const maxBytes = positiveInteger('maxBytes', options.maxBytes ?? 64 * 1024 * 1024);
    this.#memory = new MemoryTier({ maxEntries, maxBytes, ...(options.now ? { now: options.now } : {}) });

    const onStoreError = options.onStoreError ?? (() => {});
    this.#guard = new StoreGuard({
      timeoutMs: storeTimeoutMs,
      failureThreshold: positiveInteger('breakerThreshold', options.breakerThreshold ?? 5),
      cooldownMs: positiveMs('breakerCooldownMs', options.breakerCooldownMs ?? 2_000),
      onError: onStoreError,
    });
    if (options.redisUrl !== undefined) {
      if (typeof options.redisUrl !== 'string' || !/^rediss?:\/\//.test(options.redisUrl)) {
        throw new InvalidOptionError('redisUrl', 'a redis:// or rediss:// URL', options.redisUrl);
      }
      const redis = createRedisKeyv(options.redisUrl, {
        socketTimeoutMs: Math.max(1_000, storeTimeoutMs * 10),
        connectTimeoutMs: Math.max(1_000, storeTimeoutMs * 10),
        // Connection-level errors are logged; the calls they fail are counted by the guard.
        onError: onStoreError,
      });
      const store = { guard: this.#guard, namespace: this.#namespace, localTtlMs };
      this.#tier =
        options.fleet === false
          ? new RedisStrategy(redis, store)
          : new LeaseStrategy(redis, {
              ...store,
              fleet: options.fleet,
              // Another process deleted the key: this process stops serving and writing it too.
              onDeleted: (k) => this.#dropLocal(k),
              onError: onStoreError,
            });
    } else {
      this.#tier = new MemoryStrategy();
    }
  }

  /**
   * The value of `key`: from the memory tier at once if it is there and fresh; otherwise from the
   * one flight for this key (joined if another call started it), which reads the shared store and
   * on a miss calls `load` and stores its result for `ttlMs`.
   *
   * `load` must resolve a value or `null`; `undefined` rejects with E_LOAD_UNDEFINED. The first
   * caller's `load` and options serve everybody who joins its flight. `signal` aborts when the
   * flight's deadline passes or every waiter has left.
   */
  remember<T>(
    key: CacheKey,
    load: (signal: AbortSignal) => Promise<T>,
    options?: RememberOptions<T>,
  ): Promise<T> {
    const k = this.#usableKey(key);
    if (typeof k !== 'string') return k;
    const hit = this.#memory.get(k);
    if (hit !== undefined) {
      this.#hits++;
      return Promise.resolve(hit.value as T);
    }
    return this.#rememberMiss(k, load, options).then(valueOfFetched);
  }

  /**
   * `remember`, and where the value came from (see ValueSource): a response cache tells a hit
   * from its own execution and from one it joined.
   */
  fetch<T>(
    key: CacheKey,
    load: (signal: AbortSignal) => Promise<T>,
    options?: RememberOptions<T>,
  ): Promise<Fetched<T>> {
    const k = this.#usableKey(key);
    if (typeof k !== 'string') return k;
    const hit = this.#memory.get(k);
    if (hit !== undefined) {
      this.#hits++;
      return Promise.resolve({ value: hit.value as T, source: 'memory' });
    }
    return this.#rememberMiss(k, load, options);
  }

  /**
   * The value of `key` if this process's memory tier holds it fresh, else undefined: no flight,
   * no shared-store read, no waiting (the response cache's hit path). Found, it counts as a peek,
   * not a hit (`stats().peeks`).
   * Throws InvalidKeyError for a key `remember` would reject.
   */
  peek<T>(key: CacheKey): T | undefined {
    if (this.#closed) return undefined;
    const hit = this.#memory.get(encodeKey(key));
    if (hit === undefined) return undefined;
    this.#peeks++;
    return hit.value as T;
  }

  /** The encoded key, or the rejection a call gets for it (a closed cache, an invalid key). */
  #usableKey(key: CacheKey): string | Promise<never> {
    if (this.#closed) return Promise.reject(new CacheClosedError());
    try {
      return encodeKey(key);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #rememberMiss<T>(
    k: string,
    load: (signal: AbortSignal) => Promise<T>,
    options: RememberOptions<T> | undefined,
  ): Promise<Fetched<T>> {
    this.#misses++;
    let ttlMs: number;
    try {
      ttlMs = this.#ttlOf(options);
      if (typeof load !== 'function') throw new InvalidOptionError('load', 'a function', load);
    } catch (error) {
      return Promise.reject(error);
    }
    const joined = this.#flight.join(this.#flightKey(k), (signal) =>
      this.#fill(k, load, ttlMs, options, signal),
    );
    if (!joined.shared) return joined.result;
    this.#coalesced++;
    return joined.result.then(asJoined);
  }

  /** The body of one flight for `remember`. */
  async #fill<T>(
    k: string,
    load: (signal: AbortSignal) => Promise<T>,
    ttlMs: number,
    options: RememberOptions<T> | undefined,
    signal: AbortSignal,
  ): Promise<Fetched<T>> {
    const ticket = this.#begin(k);
    const shouldStore = options?.shouldStore;
    const loadOnce = async (): Promise<T> => {
      this.#loads++;
      let value: T;
      try {
        value = await load(signal);
      } catch (error) {
        this.#errors++;
        throw error;
      }
      if (value === undefined) {
        this.#errors++;
        throw new LoadUndefinedError(k);
      }
      // Asked once, right after the load: whether this value may be stored at all.
      storable = shouldStore?.(value) !== false;
      return value;
    };
    let storable = true;
    try {
      const keep = () => storable && this.#wanted(k, ticket, signal);
      const fetched = await this.#tier.fetch(k, ttlMs, loadOnce, signal, keep);
      if (fetched.source === 'store') this.#storeHits++;
      else if (!storable) return { value: fetched.value, source: 'loaded' };
      // The check and the memory write are one step: a delete in between is seen (see #begin).
      // A flight past its deadline or abandoned drops its late result: it is not kept either.
      // A value about to expire in Redis (PTTL 0) is not kept: a TTL of 0 would mean no expiry.
      const localTtl = this.#tier.localTtl(ttlMs, fetched.pttl);
      if (localTtl > 0 && this.#wanted(k, ticket, signal)) {
        this.#memory.set(k, { value: fetched.value }, localTtl, options?.sizeOf?.(fetched.value));
      }
      return { value: fetched.value, source: fetched.source };
    } finally {
      this.#end(k);
    }
  }

  /**
   * Values for many keys, in key order, each a value or an Error. Keys in the memory tier are
   * answered at once; keys another call is loading (through `remember` or `rememberMany`, in any
   * operation) join that flight; the rest are read from the shared store at once (one `getMany`)
   * and `loadMany` is called once with only the keys still missing. So overlapping concurrent
   * batches `[1,2,3]` and `[2,3,4]` load `[1,2,3]` and `[4]`.
   *
   * `loadMany` receives the keys as given (first occurrence of duplicates) and must return one
   * result per key in the same order; a per-key Error reaches only that key's waiters and is not
   * cached. A rejection of `loadMany` reaches every key it was asked for.
   */
  rememberMany<T, K extends CacheKey = CacheKey>(
    keys: readonly K[],
    loadMany: LoadMany<K, T>,
    options?: RememberOptions<T>,
  ): Promise<Array<T | Error>> {
    if (this.#closed) return Promise.reject(new CacheClosedError());
    let ttlMs: number;
    try {
      ttlMs = this.#ttlOf(options);
      if (!Array.isArray(keys)) throw new InvalidOptionError('keys', 'an array of keys', keys);
      if (typeof loadMany !== 'function') throw new InvalidOptionError('loadMany', 'a function', loadMany);
    } catch (error) {
      return Promise.reject(error);
    }
    const results = new Array<T | Error>(keys.length);
    const waits: Promise<void>[] = [];
    const byKey = new Map<string, Promise<Fetched<T>>>();
    const leaders: Leader<K, T>[] = [];
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as K;
      let k: string;
      try {
        k = encodeKey(key);
      } catch (error) {
        results[i] = error as Error;
        continue;
      }
      let pending = byKey.get(k);
      if (pending === undefined) {
        const hit = this.#memory.get(k);
        if (hit !== undefined) {
          this.#hits++;
          results[i] = hit.value as T;
          continue;
        }
        this.#misses++;
        const joined = this.#flight.join<Fetched<T>>(this.#flightKey(k), (signal) => {
          // Runs synchronously inside join() when this call starts the flight.
          const result = deferred<Fetched<T>>();
          leaders.push({ k, key, signal, result, ticket: this.#begin(k) });
          return result.promise;
        });
        if (joined.shared) this.#coalesced++;
        pending = joined.result;
        byKey.set(k, pending);
      }
      waits.push(
        pending.then(
          (fetched) => {
            results[i] = fetched.value;
          },
          (error: unknown) => {
            results[i] = toError(error);
          },
        ),
      );
    }
    if (leaders.length > 0) void this.#fillMany(leaders, loadMany, ttlMs, options);
    return Promise.all(waits).then(() => results);
  }

  /** The body of the flights one `rememberMany` call started. Settles every leader; never rejects. */
  async #fillMany<K, T>(
    leaders: Leader<K, T>[],
    loadMany: LoadMany<K, T>,
    ttlMs: number,
    options: RememberOptions<T> | undefined,
  ): Promise<void> {
    let missing = leaders;
    try {
      if (this.#tier.kind !== 'memory') {
        const stored = await this.#tier.getMany<T>(leaders.map((leader) => leader.k));
        missing = [];
        for (const [i, leader] of leaders.entries()) {
          const read = stored[i];
          leader.fence = read?.fence;
          const value = read?.value;
          if (value === undefined) {
            missing.push(leader);
            continue;
          }
          this.#storeHits++;
          if (this.#wanted(leader.k, leader.ticket, leader.signal)) {
            this.#memory.set(leader.k, { value }, this.#tier.localTtl(ttlMs), options?.sizeOf?.(value));
          }
          leader.result.resolve({ value, source: 'store' });
        }
      }
      // Keys whose waiters all left (or whose deadline passed) are not loaded at all.
      missing = missing.filter((leader) => !leader.signal.aborted);
      if (missing.length === 0) return;
      this.#loads += missing.length;
      let values: ReadonlyArray<T | Error>;
      try {
        values = await loadMany(
          missing.map((leader) => leader.key),
          whenAllAborted(missing.map((leader) => leader.signal)),
        );
      } catch (error) {
        this.#errors += missing.length;
        for (const leader of missing) leader.result.reject(error);
        return;
      }
      if (!Array.isArray(values) || values.length !== missing.length) {
        const error = new LoadFailedError(
          missing[0]!.k,
          `loadMany must resolve an array with one result per missing key: expected ${missing.length}, ` +
            `received ${Array.isArray(values) ? `${values.length} results` : typeof values}`,
        );
        this.#errors += missing.length;
        for (const leader of missing) leader.result.reject(error);
        return;
      }
      const writes: Array<TierEntry<T>> = [];
      for (const [i, leader] of missing.entries()) {
        const value = values[i];
        if (value instanceof Error || value === undefined) {
          this.#errors++;
          leader.result.reject(value ?? new LoadUndefinedError(leader.k));
          continue;
        }
        if (this.#wanted(leader.k, leader.ticket, leader.signal) && options?.shouldStore?.(value) !== false)
          writes.push({ k: leader.k, value, fence: leader.fence });
        leader.result.resolve({ value, source: 'loaded' });
      }
      this.#writeMany(writes, ttlMs, options?.sizeOf);
    } catch (error) {
      // Unexpected (a bug or a store adapter throwing synchronously): nobody is left hanging.
      for (const leader of leaders) leader.result.reject(error);
    } finally {
      for (const leader of leaders) this.#end(leader.k);
    }
  }

  /**
   * Removes `key` everywhere this process can reach: the memory tier, the shared store, and the
   * flight in progress (later callers start a new load). A load of the key that started before
   * this call never writes its result back (it still answers the callers that were waiting).
   * With Redis, another process's memory tier may serve the old value for up to `localTtlMs`.
   */
  async delete(key: CacheKey): Promise<void> {
    const k = encodeKey(key);
    this.#dropLocal(k);
    await this.#tier.delete(k);
  }

  /** This process forgets `k`: memory tier, flight in progress, and any write-back of a running load. */
  #dropLocal(k: string): void {
    const generation = this.#generations.get(k);
    if (generation !== undefined) generation.gen++;
    this.#flight.forget(this.#flightKey(k));
    this.#memory.delete(k);
  }

  stats(): CacheStats {
    const store = this.#guard.stats();
    return {
      hits: this.#hits,
      peeks: this.#peeks,
      misses: this.#misses,
      coalesced: this.#coalesced,
      storeHits: this.#storeHits,
      loads: this.#loads,
      errors: this.#errors,
      storeErrors: store.errors,
      entries: this.#memory.size,
      store: { kind: this.#tier.kind, breaker: store.state, skipped: store.skipped },
      flights: this.#flight.stats(),
      fleet: this.#tier.fleetStats(),
    };
  }

  /** Stops accepting calls, waits for pending store writes, and closes the store connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#tier.close();
    this.#memory.clear();
  }

  #ttlOf(options: { ttlMs?: number } | undefined): number {
    return options?.ttlMs === undefined ? this.#defaultTtlMs : positiveMs('ttlMs', options.ttlMs);
  }

  #flightKey(k: string): string {
    return `${this.#namespace}:${k}`;
  }

  /**
   * Stale write-back guard. A load registers here when it starts and takes the key's current
   * generation as its ticket; `delete` bumps the generation; the load writes only if its ticket is
   * still current. Entries live only while loads of the key run, so the map is bounded by flights.
   */
  #begin(k: string): number {
    let generation = this.#generations.get(k);
    if (generation === undefined) {
      generation = { gen: 0, active: 0 };
      this.#generations.set(k, generation);
    }
    generation.active++;
    return generation.gen;
  }

  #isCurrent(k: string, ticket: number): boolean {
    return !this.#closed && this.#generations.get(k)?.gen === ticket;
  }

  /** Whether a load's value may still be kept: its flight is live and no delete came since it began. */
  #wanted(k: string, ticket: number, signal: AbortSignal): boolean {
    return !signal.aborted && this.#isCurrent(k, ticket);
  }

  #end(k: string): void {
    const generation = this.#generations.get(k);
    if (generation !== undefined && --generation.active === 0) this.#generations.delete(k);
  }

  /**
   * Writes loaded values: the memory tier synchronously (so the check that the load is still
   * current and the write are one step, and the entry is there before the flight settles), then
   * the shared store in the background (waiters do not wait for Redis).
   */
  #writeMany<T>(
    entries: Array<TierEntry<T>>,
    ttlMs: number,
    sizeOf: ((value: T) => number) | undefined,
  ): void {
    if (entries.length === 0) return;
    const localTtl = this.#tier.localTtl(ttlMs);
    for (const { k, value } of entries) this.#memory.set(k, { value }, localTtl, sizeOf?.(value));
    this.#tier.setMany(entries, ttlMs);
  }
}

/** Creates a FlightCache (see CacheOptions for defaults). */
export function createCache(options?: CacheOptions): FlightCache {
  return new FlightCache(options);
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A signal that aborts once every one of `signals` has aborted (a batch stops when nobody needs it). */
function whenAllAborted(signals: AbortSignal[]): AbortSignal {
  const controller = new AbortController();
  let left = signals.length;
  const onAbort = (signal: AbortSignal) => {
    if (--left === 0) controller.abort(signal.reason);
  };
  for (const signal of signals) {
    if (signal.aborted) onAbort(signal);
    else signal.addEventListener('abort', () => onAbort(signal), { once: true });
  }
  return controller.signal;
}

function valueOfFetched<T>(fetched: Fetched<T>): T {
  return fetched.value;
}

/** What a call that joined another's flight gets: `joined` when that flight loaded the value. */
function asJoined<T>(fetched: Fetched<T>): Fetched<T> {
  return fetched.source === 'loaded' ? { value: fetched.value, source: 'joined' } : fetched;
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

function positiveInteger(option: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new InvalidOptionError(option, 'a positive integer', value);
  return value;
}
