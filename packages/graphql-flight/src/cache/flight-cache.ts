import {
  CacheClosedError,
  FlightTimeoutError,
  InvalidOptionError,
  LoadFailedError,
  LoadUndefinedError,
  nonNegativeMs,
  positiveMs,
} from '../errors.js';
import { type FleetOptions, type FleetStats, RefreshThrottledError } from '../fleet/redis-lease.js';
import { SingleFlight, type SingleFlightStats } from '../flight/single-flight.js';
import { type Envelope, MemoryTier, type Windows } from '../store/memory-tier.js';
import { connectRedis } from '../store/redis-store.js';
import { type BreakerState, StoreGuard } from '../store/store-guard.js';
import { InvalidationQueue, type InvalidationStats } from './invalidation-queue.js';
import { type CacheKey, encodeKey } from './keys.js';
import {
  type BatchKey,
  type FetchMode,
  type Held,
  type Lifetime,
  type Loaded,
  MemoryStrategy,
  RedisStrategy,
  type StoreFound,
  type TierFetch,
  type TierStrategy,
} from './tiers.js';

export interface CacheOptions {
  /** Redis to share values through (`redis://` or `rediss://`). Without it the store is the memory tier. */
  redisUrl?: string;
  /** Prefix of every key this cache writes to a shared store: `[a-z0-9][a-z0-9_-]*`. Default `gf`. */
  namespace?: string;
  /**
   * With Redis: the key of the digests that name keys and tags there (HMAC-SHA256), at least 16
   * characters, the same for every process of a fleet. Without it the digests are plain SHA-256:
   * Redis holds no key or tag in the clear either way, but whoever can read Redis can then confirm
   * a guessed key (say, a viewer id) by hashing it.
   */
  secret?: string;
  /**
   * With Redis: how long `invalidate` waits for Redis to acknowledge (retried with backoff) before
   * it rejects with InvalidationFailedError; the invalidation stays queued and is re-sent. Default 1 000.
   */
  invalidationTimeoutMs?: number;
  /** With Redis: most key and tag ids queued for Redis at once (see invalidate). Default 10 000. */
  maxPendingInvalidations?: number;
  /** Bound of the in-process memory tier, in entries (least recently used evicted). Default 10 000. */
  maxEntries?: number;
  /**
   * Bound of the memory tier in bytes, by an estimate of what it holds (see estimateSize): each
   * value as walked (a string 1 byte a character when V8 keeps it one-byte, 2 otherwise, objects
   * and arrays by their contents) or as its call's `sizeOf` says, plus per entry its key, ids
   * (key and tags) and their index, and lru-cache's bookkeeping. Heap used grows by at most
   * 1.25x this under a flood of distinct entries (README, "Sizing memory"). Default 64 MiB.
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
  /**
   * Deadline of every flight (its store round trips and its load), in milliseconds: past it every
   * waiter rejects with FlightTimeoutError and the load's signal aborts. A server sets it from its
   * execution deadline (a little past it, so an operation's own deadline answers first). Default
   * 10 000; not with `flight`, which has its own.
   */
  timeoutMs?: number;
  /** The single-flight map to share pending loads through. Default: one owned by this cache. */
  flight?: SingleFlight;
  /**
   * With Redis: one load per key for the whole fleet of processes on this Redis and namespace (a
   * lease in Redis), on by default. `false`: values are shared, loads are coalesced per process.
   */
  fleet?: false | FleetOptions;
  /** Called with every store error or missed deadline (for logs); it must not throw. */
  onStoreError?: (error: unknown) => void;
  /**
   * Called on every change of the store's circuit breaker: closed to open (`breakerThreshold`
   * consecutive failures), open to half-open (a probe let through after `breakerCooldownMs`),
   * half-open to closed (the probe answered) or back to open; for logs, it must not throw.
   */
  onStoreStateChange?: (change: { from: BreakerState; to: BreakerState }) => void;
  /** Monotonic clock for the memory tier's TTLs, in milliseconds (tests inject one). */
  now?: () => number;
  /**
   * The wait between refresh attempts of one key after a failure (see `staleIfErrorMs`): from
   * `initialMs`, doubled with each failure up to `maxMs`. Default 100 and 1 000, so an origin that
   * is back is seen within about a second.
   */
  refreshBackoff?: { initialMs?: number; maxMs?: number };
  /** Called with the error of every failed background refresh (for logs); it must not throw. */
  onRefreshError?: (error: unknown) => void;
  /** XFetch's random numbers, in [0, 1) (tests seed it). Default Math.random. */
  random?: () => number;
}

/** A value's tags: fixed, or computed from the loaded value. */
export type Tags<T> = readonly string[] | ((value: T) => readonly string[]);

/**
 * The cached values one computation read (their keys' and tags' ids), collected through
 * `readInto`, so that what it produces can be stored with `inherits`: retired, everywhere, with
 * any value it was made from (a stored response with the field values it read).
 */
export class Reads {
  readonly ids = new Set<string>();
  /** The oldest invalidation sequence among the values read (with Redis): what they are as fresh as. */
  minSeq = Number.POSITIVE_INFINITY;
  /** A value was read whose sequence is unknown (loaded while Redis failed, or no Redis at all). */
  unsequenced = false;
  /**
   * A value was read stale (past its TTL, inside a window): what is made from it (`inherits`) is
   * not stored, so it is never kept as fresher than its inputs; it answers its own callers, and the
   * next call makes it again, from the inputs their refreshes bring.
   */
  stale = false;
  /**
   * The computation is itself a refresh (a stale response's, run in the background): a stale value
   * it reads is refreshed first and waited for, so what it makes can be stored; it reads the stale
   * value only when that refresh cannot give a fresh one (held by another process, or failing).
   */
  waitFresh = false;
}

/**
 * How long a value is fresh, and what callers get after that (README, "Freshness"). All in
 * milliseconds; the windows count from the end of `ttlMs`, and a value is kept until the later one ends.
 */
export interface Freshness {
  /** How long the value stays fresh, in milliseconds. Default: the cache's `defaultTtlMs`. */
  ttlMs?: number;
  /**
   * After `ttlMs`, for this long: a caller gets the stale value at once, without waiting for any
   * load, and one refresh of the key runs in the background (with Redis: one for the fleet).
   */
  staleWhileRevalidateMs?: number;
  /**
   * After `ttlMs`, for this long: while refreshes fail, the stale value is served instead of the
   * error (counted, and reported to `onRefreshError`). Attempts are throttled: one at a time, and
   * after a failure none before the backoff (`refreshBackoff`) has passed.
   */
  staleIfErrorMs?: number;
  /**
   * Past the revalidate window, inside the error window, when the origin is not known to fail: a
   * caller waits this long for the load, then gets the stale value (the load goes on and fills).
   * Absent: it waits for the load (and gets the stale value if the load fails).
   */
  softTimeoutMs?: number;
  /**
   * Probabilistic early refresh (XFetch: Vattani, Chierichetti and Lowenstein, VLDB 2015): a fresh
   * hit starts one background refresh when `now - delta * beta * ln(random())` reaches the end of
   * `ttlMs`, `delta` being how long the value's load took. So a hot key is refreshed before it
   * expires. `beta` (default 1) > 1 refreshes earlier, < 1 later.
   */
  earlyRefresh?: { beta?: number };
}

export interface RememberOptions<T = unknown> extends Freshness {
  /**
   * Tags of the value (an entity `Product:42`, a coordinate, anything): `invalidate({ tags })`
   * retires every value carrying one of them, everywhere. A list, or a function of the loaded value.
   */
  tags?: Tags<T>;
  /**
   * Whether a value this call's load produced is stored. false: it answers the callers of this
   * flight and is written nowhere (an uncacheable result, no error thrown). Default: stored.
   * Values read from the shared store are kept as they are.
   */
  shouldStore?: (value: T) => boolean;
  /**
   * The value's size in bytes for the memory tier's `maxBytes` bound, when the caller knows it
   * better (values whose state the walk does not see: private fields, closures). Default:
   * estimateSize, the value walked. The tier adds the entry's own overhead either way.
   */
  sizeOf?: (value: T) => number;
  /** Collects the ids of the value this call gets (hit, joined, read or loaded); see Reads. */
  readInto?: Reads;
  /** The value is also retired with every value these reads saw (read once its load is done). */
  inherits?: Reads;
  /**
   * This caller's way out (a request's or an execution's signal): when it aborts, this call
   * rejects with its reason at once. The flight goes on for the callers still waiting, and its
   * load's signal aborts when none is left.
   */
  signal?: AbortSignal;
  /**
   * What a background refresh this call starts (a stale hit's, an early refresh's) runs instead of
   * `load`, called like it with the refresh flight's own signal: for a caller whose `load` is bound
   * to what the refresh outlives (a request, its signal and its context). Its value is kept with
   * this call's other options (`tags`, `inherits`, `shouldStore`). Default: `load`.
   */
  refreshLoad?: (signal: AbortSignal) => Promise<T>;
}

export interface RememberManyOptions<T = unknown, K = CacheKey>
  extends Omit<RememberOptions<T>, 'tags' | 'refreshLoad'> {
  /** Tags of each value: a list for all, or a function of the key and its loaded value. */
  tags?: readonly string[] | ((key: K, value: T) => readonly string[]);
}

/** What `invalidate` retires: entries under any of `keys`, and entries carrying any of `tags`. */
export interface Invalidation {
  keys?: readonly CacheKey[];
  tags?: readonly string[];
  /**
   * A soft purge: entries with a revalidate window are marked stale instead of retired (served
   * within that window, counted from now, while one refresh runs); entries without one are
   * retired. No load begun before it is kept after it either way. Default false: retired.
   */
  soft?: boolean;
}

/**
 * Where a value came from: this process's memory tier, a flight another call started that
 * loaded it, the shared store (Redis, read by this call's flight or one it joined), this
 * call's own load, or a stale value (past its `ttlMs`, inside a window of Freshness).
 */
export type ValueSource = 'memory' | 'joined' | 'store' | 'loaded' | 'stale';

/** What `fetch` resolves: the value, and where it came from. */
export interface Fetched<T> {
  value: T;
  source: ValueSource;
  /**
   * With `source: 'stale'`: true when it is stale because of an error (counted in
   * `staleIfErrorServes`: a load failed, the origin was failing past the revalidate window, or the
   * soft timeout passed), absent inside the revalidate window.
   */
  staleIfError?: true;
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
  /** Calls (per key) answered with a stale value: a revalidate window, a soft purge, an error window. */
  staleHits: number;
  /** Background refreshes this process started (for stale hits and early refreshes). */
  refreshes: number;
  /** Of `refreshes`, those XFetch started before the value expired. */
  earlyRefreshes: number;
  /** Background refreshes that failed (each counted in `errors` too). */
  refreshFailures: number;
  /** Of `staleHits`, calls answered stale because a load failed, the origin was failing or the soft timeout passed. */
  staleIfErrorServes: number;
  /** Shared-store calls that failed or missed their deadline. */
  storeErrors: number;
  /** Entries in the memory tier. */
  entries: number;
  /** The memory tier's estimated bytes, entries and their index (bounded by `maxBytes`). */
  bytes: number;
  /** Entries the memory tier evicted to stay within `maxEntries` or `maxBytes`. */
  evictions: number;
  /** Invalidations sent to Redis, failed (rejected, still re-sent) and queued now. */
  invalidations: InvalidationStats;
  store: { kind: 'memory' | 'redis'; breaker: BreakerState; skipped: number };
  flights: SingleFlightStats;
  /** The fleet-wide flight (Redis only); `enabled: false` otherwise. */
  fleet: FleetStats;
}

const NAMESPACE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** Longest tag, in UTF-16 units. */
const MAX_TAG_LENGTH = 1_024;

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

/**
 * One load of a key in this process, from its start to its end: where it started in this
 * process's invalidation sequence, and the ids it is known by before it loads (its key's, and its
 * tags' when they are a list). An invalidation after `start` of any id the value ends up with
 * keeps the value from being kept (see #current).
 */
interface Run {
  k: string;
  start: number;
  /** Known ids; undefined when the tags depend on the value (any invalidation may concern it). */
  ids: readonly string[] | undefined;
  /** Still the flight later callers join (false once an invalidation made them start a new one). */
  live: boolean;
}

/** A key this call started the flight for, inside `rememberMany`. */
interface Leader<K, T> {
  k: string;
  id: string;
  key: K;
  signal: AbortSignal;
  result: Deferred<Flown<T>>;
  run: Run;
}

/**
 * Keyed cache-then-load: a memory-tier hit returns at once; otherwise one flight per key (shared
 * by every concurrent caller in the process, through SingleFlight) reads the shared store, loads,
 * writes with the TTL and hands the one result to every waiter.
 *
 * Values carry keys and tags; `invalidate({ keys, tags })` retires them in the memory tier, in
 * Redis and in every process, and no value whose load began before it is kept after it (see
 * README, "Invalidation").
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
  readonly #localTtlMs: number;
  /** The memory tier's clock (monotonic; tests inject one): the age of a copy is measured on it. */
  readonly #clock: () => number;
  readonly #queue: InvalidationQueue | undefined;
  /** This process's invalidation sequence: one step per invalidation, local or from another process. */
  #seq = 0;
  /** The sequence of each id's last invalidation, while loads that began before it may run. */
  readonly #invalidatedAt = new Map<string, number>();
  readonly #runs = new Set<Run>();
  /** The sequence at which this process last forgot everything (see #retireAll). */
  #retiredAllAt = 0;
  #closed = false;
  #hits = 0;
  #peeks = 0;
  #misses = 0;
  #coalesced = 0;
  #storeHits = 0;
  #loads = 0;
  #errors = 0;
  #staleHits = 0;
  #refreshes = 0;
  #earlyRefreshes = 0;
  #refreshFailures = 0;
  #staleIfErrorServes = 0;
  /**
   * Per key that has windows: when its next refresh may start (after a failure: the backoff;
   * with Redis, while another process holds its refresh: that lease's end), and its failures in a
   * row. A key leaves it with its next successful load; bounded like the memory tier.
   */
  readonly #refreshState = new Map<string, { failures: number; nextAt: number }>();
  readonly #maxEntries: number;
  readonly #backoffInitialMs: number;
  readonly #backoffMaxMs: number;
  readonly #onRefreshError: (error: unknown) => void;
  readonly #random: () => number;

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
    this.#maxEntries = maxEntries;
    this.#backoffInitialMs = positiveMs('refreshBackoff.initialMs', options.refreshBackoff?.initialMs ?? 100);
    this.#backoffMaxMs = positiveMs('refreshBackoff.maxMs', options.refreshBackoff?.maxMs ?? 1_000);
    if (this.#backoffMaxMs < this.#backoffInitialMs) {
      throw new InvalidOptionError(
        'refreshBackoff.maxMs',
        'at least refreshBackoff.initialMs',
        this.#backoffMaxMs,
      );
    }
    this.#onRefreshError = options.onRefreshError ?? (() => {});
    this.#random = options.random ?? Math.random;
    this.#defaultTtlMs = positiveMs('defaultTtlMs', options.defaultTtlMs ?? 60_000);
    const localTtlMs = positiveMs('localTtlMs', options.localTtlMs ?? 1_000);
    this.#localTtlMs = localTtlMs;
    this.#clock = options.now ?? (() => performance.now());
    const storeTimeoutMs = positiveMs('storeTimeoutMs', options.storeTimeoutMs ?? 100);
    const invalidationTimeoutMs = positiveMs('invalidationTimeoutMs', options.invalidationTimeoutMs ?? 1_000);
    const maxPendingIds = positiveInteger(
      'maxPendingInvalidations',
      options.maxPendingInvalidations ?? 10_000,
    );
    if (options.secret !== undefined && (typeof options.secret !== 'string' || options.secret.length < 16)) {
      throw new InvalidOptionError('secret', 'a string of at least 16 characters', '(hidden)');
    }
    if (options.flight !== undefined && !(options.flight instanceof SingleFlight)) {
      throw new InvalidOptionError('flight', 'a SingleFlight', options.flight);
    }
    if (options.flight !== undefined && options.timeoutMs !== undefined) {
      throw new InvalidOptionError(
        'timeoutMs',
        'unset when `flight` is given (it has its own)',
        options.timeoutMs,
      );
    }
    this.#flight =
      options.flight ??
      new SingleFlight(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs });
    const maxBytes = positiveInteger('maxBytes', options.maxBytes ?? 64 * 1024 * 1024);
    this.#memory = new MemoryTier({ maxEntries, maxBytes, ...(options.now ? { now: options.now } : {}) });

    const onStoreError = options.onStoreError ?? (() => {});
    this.#guard = new StoreGuard({
      timeoutMs: storeTimeoutMs,
      failureThreshold: positiveInteger('breakerThreshold', options.breakerThreshold ?? 5),
      cooldownMs: positiveMs('breakerCooldownMs', options.breakerCooldownMs ?? 2_000),
      onError: onStoreError,
      onStateChange: options.onStoreStateChange,
    });
    if (options.redisUrl !== undefined) {
      if (typeof options.redisUrl !== 'string' || !/^rediss?:\/\//.test(options.redisUrl)) {
        throw new InvalidOptionError('redisUrl', 'a redis:// or rediss:// URL', options.redisUrl);
      }
      const redis = connectRedis(options.redisUrl, {
        socketTimeoutMs: Math.max(1_000, storeTimeoutMs * 10),
        connectTimeoutMs: Math.max(1_000, storeTimeoutMs * 10),
        // Connection-level errors are logged; the calls they fail are counted by the guard.
        onError: onStoreError,
      });
      const queue = new InvalidationQueue({
        send: (hard, soft) => this.#tier.invalidate(hard, soft),
        timeoutMs: invalidationTimeoutMs,
        maxPendingIds,
      });
      this.#queue = queue;
      this.#tier = new RedisStrategy(redis, {
        guard: this.#guard,
        namespace: this.#namespace,
        secret: options.secret,
        localTtlMs,
        fleet: options.fleet,
        // A fence outlives any load that may have begun before it: the flight's deadline, twice.
        fenceTtlMs: fenceTtl(this.#flight.timeoutMs),
        // Another process invalidated: this process stops serving and keeping those ids too.
        onInvalidated: (ids, soft) => this.#retire(ids, soft),
        onResubscribed: () => this.#retireAll(),
        isPending: (id) => queue.isPending(id),
        onError: onStoreError,
      });
    } else {
      this.#tier = new MemoryStrategy();
    }
  }

  /**
   * The value of `key`: from the memory tier at once if it is there and fresh; otherwise from the
   * one flight for this key (joined if another call started it), which reads the shared store and
   * on a miss calls `load` and stores its result for `ttlMs`, with its `tags`.
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
      const fresh = hit.w === undefined ? FRESH : this.#freshness(hit.w, options?.earlyRefresh);
      if (fresh !== STALE) {
        if (fresh === REFRESH_EARLY) this.#refresh(k, hit.w!, load, options, true);
        this.#hits++;
        if (options?.readInto !== undefined) readInto(options.readInto, hit.ids, hit.seq);
        return Promise.resolve(hit.value as T);
      }
      return this.#notFresh(k, hit, load, options).then(valueOfFetched);
    }
    return this.#rememberMiss(k, load, options).then(valueOfFetched);
  }

  /**
   * `remember`, and where the value came from (see ValueSource): a response cache tells a hit
   * from its own execution and from one it joined, and a stale value from a fresh one.
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
      const fresh = hit.w === undefined ? FRESH : this.#freshness(hit.w, options?.earlyRefresh);
      if (fresh !== STALE) {
        if (fresh === REFRESH_EARLY) this.#refresh(k, hit.w!, load, options, true);
        this.#hits++;
        if (options?.readInto !== undefined) readInto(options.readInto, hit.ids, hit.seq);
        return Promise.resolve({ value: hit.value as T, source: 'memory' });
      }
      return this.#notFresh(k, hit, load, options).then(publicFetched);
    }
    return this.#rememberMiss(k, load, options).then(publicFetched);
  }

  /**
   * The value of `key` if this process's memory tier holds it fresh, else undefined: no flight,
   * no shared-store read, no waiting (the response cache's hit path). Found, it counts as a peek,
   * not a hit (`stats().peeks`). A stale value (past its `ttlMs`) is not found.
   * Throws InvalidKeyError for a key `remember` would reject.
   */
  peek<T>(key: CacheKey): T | undefined {
    if (this.#closed) return undefined;
    const hit = this.#memory.get(encodeKey(key));
    if (hit === undefined || (hit.w !== undefined && this.#clock() >= hit.w.freshUntil)) return undefined;
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

  /**
   * Whether a hit that has windows is still fresh, and if so whether XFetch says to refresh it
   * early now: `now - delta * beta * ln(random())` has reached the end of its freshness.
   */
  #freshness(w: Windows, early: { beta?: number } | undefined): FreshState {
    const now = this.#clock();
    if (now >= w.freshUntil) return STALE;
    if (early === undefined) return FRESH;
    return now - w.delta * (early.beta ?? 1) * Math.log(this.#random()) >= w.freshUntil
      ? REFRESH_EARLY
      : FRESH;
  }

  /**
   * A hit past its freshness. Inside its revalidate window, or inside its error window while the
   * origin fails: the stale value at once, and one refresh in the background (throttled). Else
   * (error window, origin not known to fail): a load, with the stale value as its fallback.
   */
  #notFresh<T>(
    k: string,
    hit: Envelope,
    load: (signal: AbortSignal) => Promise<T>,
    options: RememberOptions<T> | undefined,
  ): Promise<Flown<T>> {
    const w = hit.w!;
    const now = this.#clock();
    const reads = options?.readInto;
    if (this.#servesStale(k, w, now)) {
      this.#refresh(k, w, load, options, false);
      // A refresh reading this value waits for its refresh, and takes the stale value only if
      // that gives none fresh.
      const refreshing = reads?.waitFresh === true ? this.#joinRefresh<T>(k, options) : undefined;
      if (refreshing === undefined)
        return Promise.resolve(this.#servedStale<T>(hit, reads, now >= w.staleUntil));
      return refreshing.then(
        (fetched) => read(reads!, fetched),
        () => this.#servedStale<T>(hit, reads, now >= w.staleUntil),
      );
    }
    // The error window, the origin not known to fail: a refresh running is the load to wait for.
    const refreshing = this.#joinRefresh<T>(k, options);
    return refreshing === undefined
      ? this.#rememberMiss(k, load, options)
      : this.#orStale(k, refreshing, options);
  }

  /**
   * Whether a value past its freshness is answered stale at once: inside its revalidate window,
   * or inside its error window while the origin is known to fail (its last load failed).
   */
  #servesStale(k: string, w: Windows, now: number): boolean {
    if (now < w.staleUntil) return true;
    return (
      now < w.errorUntil && this.#refreshState.size > 0 && (this.#refreshState.get(k)?.failures ?? 0) > 0
    );
  }

  /** The result of the refresh of `k` running now (joined, as a miss that coalesced), or undefined when none runs. */
  #joinRefresh<T>(k: string, options: RememberOptions<T> | undefined): Promise<Flown<T>> | undefined {
    const rk = this.#refreshKey(k);
    if (!this.#flight.isInFlight(rk)) return undefined;
    this.#misses++;
    this.#coalesced++;
    return this.#flight.join<Flown<T>>(rk, never, callerSignal(options)).result.then(asJoined);
  }

  /** A stale hit's answer, counted. */
  #servedStale<T>(hit: Envelope, reads: Reads | undefined, becauseOfError: boolean): Flown<T> {
    this.#staleHits++;
    if (becauseOfError) this.#staleIfErrorServes++;
    if (reads !== undefined) {
      readInto(reads, hit.ids, hit.seq);
      reads.stale = true;
    }
    const stale: Flown<T> = { value: hit.value as T, source: 'stale', ids: hit.ids ?? [], seq: hit.seq };
    if (becauseOfError) stale.staleIfError = true;
    return stale;
  }

  /**
   * Starts one refresh of `k` in the background (nobody waits on it), unless a flight of the key
   * is running already (it fills), or the key's backoff after a failure (or another process's
   * refresh) has not passed. With Redis it takes the key's lease: one refresh for the fleet.
   */
  #refresh<T>(
    k: string,
    w: Windows,
    load: (signal: AbortSignal) => Promise<T>,
    options: RememberOptions<T> | undefined,
    early: boolean,
  ): void {
    if (this.#closed) return;
    // A refresh is a flight of its own: a caller who misses meanwhile (its copy expired) reads the
    // stale value itself rather than wait for the refresh's load.
    const rk = this.#refreshKey(k);
    if (this.#flight.isInFlight(rk) || this.#flight.isInFlight(this.#flightKey(k))) return;
    const now = this.#clock();
    const state = this.#refreshState.size > 0 ? this.#refreshState.get(k) : undefined;
    if (state !== undefined && now < state.nextAt) return;
    let life: Lifetime;
    let fixedTagIds: readonly string[] | undefined;
    const refreshLoad = options?.refreshLoad ?? load;
    try {
      life = this.#lifetimeOf(options);
      if (typeof refreshLoad !== 'function')
        throw new InvalidOptionError('refreshLoad', 'a function', refreshLoad);
      fixedTagIds = this.#fixedTagIds(options?.tags);
    } catch (error) {
      this.#onRefreshError(error);
      return;
    }
    this.#refreshes++;
    if (early) this.#earlyRefreshes++;
    // With Redis, a value of another revision than this copy's is a newer write: another process
    // refreshed it, and it is taken instead of loading. A copy without one (a record of an older
    // version) is refreshed by a load.
    const refresh: RefreshMode = w.rev === undefined ? {} : { staleRev: w.rev };
    this.#flight
      .join(rk, (signal) => this.#fill(k, refreshLoad, life, options, fixedTagIds, signal, refresh))
      .result.catch(() => {}); // counted and reported where it failed (#failed)
  }

  /** A load of a key that has windows failed: its next refresh waits out the backoff. */
  #failed(k: string, error: unknown, refresh: RefreshMode | undefined): void {
    const state = this.#refreshState.get(k) ?? { failures: 0, nextAt: 0 };
    state.failures++;
    state.nextAt =
      this.#clock() + Math.min(this.#backoffMaxMs, this.#backoffInitialMs * 2 ** (state.failures - 1));
    this.#track(k, state);
    if (refresh !== undefined) {
      this.#refreshFailures++;
      this.#onRefreshError(error);
    }
  }

  #track(k: string, state: { failures: number; nextAt: number }): void {
    this.#refreshState.delete(k);
    this.#refreshState.set(k, state);
    if (this.#refreshState.size > this.#maxEntries) {
      this.#refreshState.delete(this.#refreshState.keys().next().value!);
    }
  }

  /**
   * `pending`, or, when it fails (or `softTimeoutMs` passes first), the stale value of `k` if the
   * memory tier holds one inside its error window.
   */
  #orStale<T>(
    k: string,
    pending: Promise<Flown<T>>,
    options: RememberOptions<T> | undefined,
  ): Promise<Flown<T>> {
    const stale = (): Flown<T> | undefined => {
      const held = this.#memory.get(k);
      const w = held?.w;
      const now = this.#clock();
      if (w === undefined || now < w.freshUntil || now >= w.errorUntil) return undefined;
      return this.#servedStale<T>(held!, options?.readInto, true);
    };
    const settled = pending.catch((error: unknown) => {
      const fallback = stale();
      if (fallback === undefined) throw error;
      return fallback;
    });
    const softTimeoutMs = options?.softTimeoutMs;
    if (softTimeoutMs === undefined) return settled;
    return new Promise<Flown<T>>((resolve, reject) => {
      // Past it the caller gets the stale value; the load goes on, and fills.
      const timer = setTimeout(() => {
        const fallback = stale();
        if (fallback !== undefined) resolve(fallback);
      }, softTimeoutMs);
      settled.then(
        (fetched) => {
          clearTimeout(timer);
          resolve(fetched);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  #rememberMiss<T>(
    k: string,
    load: (signal: AbortSignal) => Promise<T>,
    options: RememberOptions<T> | undefined,
  ): Promise<Flown<T>> {
    this.#misses++;
    let life: Lifetime;
    let fixedTagIds: readonly string[] | undefined;
    try {
      life = this.#lifetimeOf(options);
      if (typeof load !== 'function') throw new InvalidOptionError('load', 'a function', load);
      fixedTagIds = this.#fixedTagIds(options?.tags);
    } catch (error) {
      return Promise.reject(error);
    }
    const joined = this.#flight.join(
      this.#flightKey(k),
      (signal) => this.#fill(k, load, life, options, fixedTagIds, signal, undefined),
      callerSignal(options),
    );
    const reads = options?.readInto;
    let result = joined.result;
    if (joined.shared) this.#coalesced++;
    if (life.swrMs > 0 || life.sieMs > 0) result = this.#withWindows(k, result, life, load, options);
    if (!joined.shared) return reads === undefined ? result : result.then((f) => read(reads, f));
    return result.then((fetched) => asJoined(reads === undefined ? fetched : read(reads, fetched)));
  }

  /**
   * A miss's flight for a key with windows: a value it read from Redis inside its revalidate window
   * is stale, and a refresh starts; so does a caller the fleet's backoff answered stale, once that
   * backoff is over; and with an error window a failure (or the soft timeout) answers stale.
   */
  #withWindows<T>(
    k: string,
    pending: Promise<Flown<T>>,
    life: Lifetime,
    load: (signal: AbortSignal) => Promise<T>,
    options: RememberOptions<T> | undefined,
  ): Promise<Flown<T>> {
    const refreshed = pending.then(
      (fetched) => {
        if (fetched.source === 'stale') {
          this.#staleHits++;
          const w = this.#memory.get(k)?.w;
          if (w !== undefined) this.#refresh(k, w, load, options, false);
        }
        return fetched;
      },
      (error: unknown) => {
        const w = error instanceof RefreshThrottledError ? this.#memory.get(k)?.w : undefined;
        if (w !== undefined) this.#refresh(k, w, load, options, false);
        throw error;
      },
    );
    return life.sieMs > 0 ? this.#orStale(k, refreshed, options) : refreshed;
  }

  /**
   * The body of one flight for `remember`: the shared store, else the load. A refresh (`refresh`)
   * loads whatever the store holds, unless the store holds a value fresher than the stale one
   * (another process refreshed it) or another process is refreshing it (the stale value answers).
   */
  async #fill<T>(
    k: string,
    load: (signal: AbortSignal) => Promise<T>,
    life: Lifetime,
    options: RememberOptions<T> | undefined,
    fixedTagIds: readonly string[] | undefined,
    signal: AbortSignal,
    refresh: RefreshMode | undefined,
  ): Promise<Flown<T>> {
    const id = this.#tier.keyId(k);
    // A value that inherits is not known by its own ids alone: any invalidation may concern it.
    const known =
      fixedTagIds === undefined || options?.inherits !== undefined ? undefined : [id, ...fixedTagIds];
    const run = this.#begin(k, known, signal);
    const shouldStore = options?.shouldStore;
    const tags = options?.tags;
    const windowed = life.swrMs > 0 || life.sieMs > 0;
    // A load past the flight's deadline (a hung origin) failed too, for the backoff and the stats.
    let loading = false;
    if (windowed) {
      signal.addEventListener(
        'abort',
        () => {
          if (loading && signal.reason instanceof FlightTimeoutError) {
            loading = false;
            this.#failed(k, signal.reason, refresh);
          }
        },
        { once: true },
      );
    }
    let storable = true;
    // Where the latest load began in this process's sequence (a leader may load again when Redis
    // shows its first load was overtaken): what a later invalidation is checked against.
    let started = run.start;
    // When that load (or this flight's read) began, on the monotonic clock: see #keep.
    let startedAt = this.#clock();
    const loadOnce = async (): Promise<Loaded<T>> => {
      this.#loads++;
      started = this.#seq;
      startedAt = this.#clock();
      let value: T;
      let tagIds: readonly string[];
      try {
        loading = true;
        value = await load(signal);
        if (value === undefined) throw new LoadUndefinedError(k);
        tagIds = fixedTagIds ?? this.#tagIds((tags as (value: T) => readonly string[])(value));
      } catch (error) {
        this.#errors++;
        // Counted once: not again when the deadline already counted it.
        if (windowed && loading) this.#failed(k, error, refresh);
        loading = false;
        throw error;
      }
      loading = false;
      // Asked once, right after the load: whether this value may be stored at all.
      storable = shouldStore?.(value) !== false && options?.inherits?.stale !== true;
      const loaded = loadedWith(value, tagIds, options?.inherits);
      loaded.delta = this.#clock() - startedAt;
      return loaded;
    };
    try {
      const keep = (loaded: Loaded<T>) => storable && this.#current(started, id, loaded.tagIds, signal);
      // A value past its revalidate window is loaded (by one process), not served as found; the
      // stale copy seen on the way is kept here as the fallback if the load fails.
      const mode: FetchMode<T> = {
        // Judged by the record's own windows (its writer's), whatever this caller's are.
        minPttl: refresh !== undefined ? Number.MAX_SAFE_INTEGER : windowed ? 'record' : -1,
        refresh: refresh !== undefined,
        ...(refresh?.staleRev === undefined ? {} : { staleRev: refresh.staleRev }),
        ...(life.sieMs > 0
          ? {
              onStale: (found: StoreFound<T>) =>
                void this.#keep(
                  k,
                  started,
                  startedAt,
                  idsOf(id, found.tagIds),
                  found,
                  life,
                  options?.sizeOf,
                  signal,
                ),
            }
          : {}),
        ...(windowed ? { backoff: { initialMs: this.#backoffInitialMs, maxMs: this.#backoffMaxMs } } : {}),
      };
      let fetched: TierFetch<T> | Held;
      try {
        fetched = await this.#tier.fetch(k, id, life, loadOnce, signal, keep, mode);
      } catch (error) {
        // The fleet's attempts are failing and throttled: this process waits them out too.
        if (error instanceof RefreshThrottledError) {
          const failures = Math.max(1, this.#refreshState.get(k)?.failures ?? 0);
          this.#track(k, { failures, nextAt: this.#clock() + error.retryInMs });
        }
        throw error;
      }
      if ('held' in fetched) {
        // Another process is refreshing the key: look again shortly (or when its value lands).
        this.#track(k, {
          failures: this.#refreshState.get(k)?.failures ?? 0,
          nextAt: this.#clock() + Math.min(fetched.held, HELD_RECHECK_MS),
        });
        const stale = this.#memory.get(k);
        if (stale !== undefined)
          return { value: stale.value as T, source: 'stale', ids: stale.ids ?? [id], seq: stale.seq };
        fetched = (await this.#tier.fetch(k, id, life, loadOnce, signal, keep, {
          minPttl: -1,
          refresh: false,
        })) as TierFetch<T>;
      }
      const ids = idsOf(id, fetched.tagIds);
      const seq = fetched.seq;
      if (fetched.source === 'store') this.#storeHits++;
      else if (!storable || fetched.retired === true) {
        if (this.#refreshState.size > 0) this.#refreshState.delete(k);
        return { value: fetched.value, source: 'loaded', ids, seq };
      }
      const w = this.#keep(run.k, started, startedAt, ids, fetched, life, options?.sizeOf, signal);
      const source =
        fetched.source === 'store' && w !== undefined && this.#clock() >= w.freshUntil
          ? 'stale'
          : fetched.source;
      // A fresh value (loaded here, or another process's from Redis): the origin answers again.
      if (this.#refreshState.size > 0 && source !== 'stale') this.#refreshState.delete(k);
      return { value: fetched.value, source, ids, seq };
    } finally {
      this.#end(run);
    }
  }

  /**
   * Writes a fetched value to the memory tier, if no invalidation of its key or tags came since
   * its load began and its flight is live. The check and the write are one synchronous step.
   * Returns the windows it was kept with (undefined: none, or not kept).
   */
  #keep<T>(
    k: string,
    started: number,
    startedAt: number,
    ids: readonly string[],
    fetched: StoreFound<T> | TierFetch<T>,
    life: Lifetime,
    sizeOf: ((value: T) => number) | undefined,
    signal: AbortSignal,
  ): Windows | undefined {
    // A value read from Redis has its writer's windows, and what is left of its life there.
    const swr = fetched.life?.swrMs ?? life.swrMs;
    const sie = fetched.life?.sieMs ?? life.sieMs;
    const grace = Math.max(swr, sie);
    const lifeLeft = fetched.pttl ?? life.ttlMs + grace;
    // A value about to expire in Redis (PTTL 0) is not kept: a TTL of 0 would mean no expiry.
    // With Redis, a copy lives `localTtlMs` from when its data was read, not from now: an
    // invalidation whose message is lost came after that at the earliest, so the bound holds
    // from the invalidation however long the load took.
    const now = this.#clock();
    const age = this.#tier.kind === 'redis' ? now - startedAt : 0;
    const localTtl = this.#tier.localTtl(lifeLeft) - age;
    if (localTtl <= 0 || !this.#current(started, ids[0]!, fetched.tagIds, signal)) return undefined;
    let w: Windows | undefined;
    if (grace > 0 || life.early) {
      const freshUntil = now - age + lifeLeft - grace;
      w = {
        freshUntil,
        staleUntil: freshUntil + swr,
        errorUntil: freshUntil + sie,
        delta: fetched.delta ?? 0,
        rev: fetched.rev,
      };
    }
    this.#memory.set(
      k,
      { value: fetched.value, ids, seq: fetched.seq, w },
      localTtl,
      sizeOf?.(fetched.value),
    );
    return w;
  }

  /**
   * Values for many keys, in key order, each a value or an Error. Keys in the memory tier are
   * answered at once; keys another call is loading (through `remember` or `rememberMany`, in any
   * operation) join that flight; the rest are read from the shared store at once (with the fleet
   * lease: leased key by key, so each key is loaded once per fleet) and `loadMany` is called once
   * with only the keys still missing. So overlapping concurrent batches `[1,2,3]` and `[2,3,4]`
   * load `[1,2,3]` and `[4]`.
   *
   * `loadMany` receives the keys as given (first occurrence of duplicates) and must return one
   * result per key in the same order; a per-key Error reaches only that key's waiters and is not
   * cached. A rejection of `loadMany` reaches every key it was asked for.
   */
  rememberMany<T, K extends CacheKey = CacheKey>(
    keys: readonly K[],
    loadMany: LoadMany<K, T>,
    options?: RememberManyOptions<T, K>,
  ): Promise<Array<T | Error>> {
    if (this.#closed) return Promise.reject(new CacheClosedError());
    let life: Lifetime;
    let fixedTagIds: readonly string[] | undefined;
    try {
      life = this.#lifetimeOf(options);
      if (!Array.isArray(keys)) throw new InvalidOptionError('keys', 'an array of keys', keys);
      if (typeof loadMany !== 'function') throw new InvalidOptionError('loadMany', 'a function', loadMany);
      fixedTagIds = this.#fixedTagIds(options?.tags);
    } catch (error) {
      return Promise.reject(error);
    }
    const results = new Array<T | Error>(keys.length);
    const waits: Promise<void>[] = [];
    const byKey = new Map<string, Promise<Flown<T>>>();
    const reads = options?.readInto;
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
          const w = hit.w;
          const fresh = w === undefined ? FRESH : this.#freshness(w, options?.earlyRefresh);
          if (fresh !== STALE) {
            if (fresh === REFRESH_EARLY) {
              const one = oneOf(key, loadMany, options);
              this.#refresh(k, w!, one.load, one.options, true);
            }
            this.#hits++;
            if (reads !== undefined) readInto(reads, hit.ids, hit.seq);
            results[i] = hit.value as T;
            continue;
          }
          const now = this.#clock();
          if (this.#servesStale(k, w!, now)) {
            const one = oneOf(key, loadMany, options);
            this.#refresh(k, w!, one.load, one.options, false);
            results[i] = this.#servedStale<T>(hit, reads, now >= w!.staleUntil).value;
            continue;
          }
        }
        this.#misses++;
        const joined = this.#flight.join<Flown<T>>(
          this.#flightKey(k),
          (signal) => {
            // Runs synchronously inside join() when this call starts the flight.
            const result = deferred<Flown<T>>();
            const id = this.#tier.keyId(k);
            const known =
              fixedTagIds === undefined || options?.inherits !== undefined ? undefined : [id, ...fixedTagIds];
            const run = this.#begin(k, known, signal);
            leaders.push({ k, id, key, signal, result, run });
            return result.promise;
          },
          callerSignal(options),
        );
        if (joined.shared) this.#coalesced++;
        pending = joined.result;
        if (life.swrMs > 0 || life.sieMs > 0) {
          const one = oneOf(key, loadMany, options);
          pending = this.#withWindows(k, pending, life, one.load, one.options);
        }
        byKey.set(k, pending);
      }
      waits.push(
        pending.then(
          (fetched) => {
            if (reads !== undefined) read(reads, fetched);
            results[i] = fetched.value;
          },
          (error: unknown) => {
            results[i] = toError(error);
          },
        ),
      );
    }
    if (leaders.length > 0) this.#fillMany(leaders, loadMany, life, options, fixedTagIds);
    return Promise.all(waits).then(() => results);
  }

  /** The body of the flights one `rememberMany` call started. Settles every leader; never rejects. */
  #fillMany<K, T>(
    leaders: Leader<K, T>[],
    loadMany: LoadMany<K, T>,
    life: Lifetime,
    options: RememberManyOptions<T, K> | undefined,
    fixedTagIds: readonly string[] | undefined,
  ): void {
    const windowed = life.swrMs > 0 || life.sieMs > 0;
    const tags = options?.tags;
    const storable = new Set<number>();
    // Per key, where its latest load began (see #fill's `started`).
    const starts = leaders.map((leader) => leader.run.start);
    const startedAt = leaders.map(() => this.#clock());
    const batch: Array<BatchKey<T>> = leaders.map((leader, i) => ({
      k: leader.k,
      id: leader.id,
      signal: leader.signal,
      keep: (loaded) => storable.has(i) && this.#current(starts[i]!, leader.id, loaded.tagIds, leader.signal),
    }));
    // The loader of the keys at `which`, checked: one result per key, errors counted, tags computed.
    const load = async (which: number[], signal: AbortSignal): Promise<Array<Loaded<T> | Error>> => {
      this.#loads += which.length;
      for (const i of which) {
        starts[i] = this.#seq;
        startedAt[i] = this.#clock();
      }
      let values: ReadonlyArray<T | Error>;
      try {
        values = await loadMany(
          which.map((i) => leaders[i]!.key),
          signal,
        );
        if (!Array.isArray(values) || values.length !== which.length) {
          throw new LoadFailedError(
            leaders[which[0]!]!.k,
            `loadMany must resolve an array with one result per missing key: expected ${which.length}, ` +
              `received ${Array.isArray(values) ? `${values.length} results` : typeof values}`,
          );
        }
      } catch (error) {
        this.#errors += which.length;
        if (windowed) for (const i of which) this.#failed(leaders[i]!.k, error, undefined);
        throw error;
      }
      const delta = this.#clock() - startedAt[which[0]!]!;
      return which.map((i, j) => {
        const value = values[j];
        const leader = leaders[i]!;
        try {
          if (value instanceof Error) throw value;
          if (value === undefined) throw new LoadUndefinedError(leader.k);
          const tagIds =
            fixedTagIds ?? this.#tagIds((tags as (key: K, value: T) => readonly string[])(leader.key, value));
          if (options?.shouldStore?.(value) !== false && options?.inherits?.stale !== true) storable.add(i);
          const loaded = loadedWith(value, tagIds, options?.inherits);
          loaded.delta = delta;
          if (windowed && this.#refreshState.size > 0) this.#refreshState.delete(leader.k);
          return loaded;
        } catch (error) {
          this.#errors++;
          if (windowed) this.#failed(leader.k, error, undefined);
          return toError(error);
        }
      });
    };
    let fetches: Array<Promise<TierFetch<T>>>;
    try {
      fetches = this.#tier.fetchMany(batch, life, load);
    } catch (error) {
      // Unexpected (a bug or a store adapter throwing synchronously): nobody is left hanging.
      for (const leader of leaders) {
        leader.result.reject(error);
        this.#end(leader.run);
      }
      return;
    }
    for (const [i, leader] of leaders.entries()) {
      fetches[i]!.then(
        (fetched) => {
          if (fetched.source === 'store') this.#storeHits++;
          const ids = idsOf(leader.id, fetched.tagIds);
          let source: ValueSource = fetched.source;
          if (fetched.source === 'store' || (storable.has(i) && fetched.retired !== true)) {
            const w = this.#keep(
              leader.k,
              starts[i]!,
              startedAt[i]!,
              ids,
              fetched,
              life,
              options?.sizeOf,
              leader.signal,
            );
            if (source === 'store' && w !== undefined && this.#clock() >= w.freshUntil) source = 'stale';
          }
          leader.result.resolve({ value: fetched.value, source, ids, seq: fetched.seq });
        },
        (error: unknown) => leader.result.reject(error),
      ).finally(() => this.#end(leader.run));
    }
  }

  /**
   * Retires every entry under one of `keys` or carrying one of `tags`: in this process at once
   * (memory tier, flights in progress: later callers start a new load), and with Redis there and
   * in every other process. A load of any of them that began before this call is never kept or
   * written after it (it still answers the callers that were already waiting).
   *
   * Resolves once Redis has acknowledged it and every process has been told (without Redis: at
   * once). When Redis does not acknowledge within `invalidationTimeoutMs` it rejects with
   * InvalidationFailedError; the invalidation stays queued and is re-sent until Redis does, and
   * meanwhile this process reads none of those keys or tags from Redis.
   */
  async invalidate(what: Invalidation): Promise<void> {
    if (this.#closed) throw new CacheClosedError();
    if (typeof what !== 'object' || what === null) {
      throw new InvalidOptionError('invalidate', 'an object with keys and/or tags', what);
    }
    const { keys = [], tags = [], soft = false } = what;
    if (!Array.isArray(keys)) throw new InvalidOptionError('keys', 'an array of cache keys', keys);
    if (typeof soft !== 'boolean') throw new InvalidOptionError('soft', 'a boolean', soft);
    const ks = keys.map((key) => encodeKey(key));
    const keyIds = ks.map((k) => this.#tier.keyId(k));
    const tagIds = this.#tagIds(tags);
    if (keyIds.length + tagIds.length === 0) return;
    this.#retire([...keyIds, ...tagIds], soft);
    if (this.#queue !== undefined) await this.#queue.submit(keyIds, tagIds, soft);
  }

  /** The deadline of a flight, in milliseconds (the `timeoutMs` option, or its `flight`'s). */
  get timeoutMs(): number {
    return this.#flight.timeoutMs;
  }

  /**
   * This process's invalidation generation: it moves on with every invalidation this process
   * applies (its own, and another process's as its message arrives). Work keyed by it (coalesced
   * executions) is never joined across an invalidation.
   */
  get generation(): number {
    return this.#seq;
  }

  /** The namespace of this cache's Redis keys (`namespace`, default `gf`). */
  get namespace(): string {
    return this.#namespace;
  }

  /**
   * How long another process may still serve a value after an invalidation whose message this
   * one never got: `localTtlMs` with Redis (its memory copies expire, and Redis's fences decide),
   * Infinity without Redis (there is no other process).
   */
  get lostMessageBoundMs(): number {
    return this.#tier.kind === 'redis' ? this.#localTtlMs : Number.POSITIVE_INFINITY;
  }

  /** `invalidate({ keys: [key] })`. */
  delete(key: CacheKey): Promise<void> {
    return this.invalidate({ keys: [key] });
  }

  /**
   * This process forgets the ids: entries carrying them leave the memory tier, flights that may
   * hold them are no longer joined, and loads begun before now never keep their values.
   */
  #retire(ids: readonly string[], soft = false): void {
    const seq = ++this.#seq;
    if (this.#runs.size > 0) {
      for (const id of ids) this.#invalidatedAt.set(id, seq);
      const retired = new Set(ids);
      for (const run of this.#runs) {
        if (run.live && (run.ids === undefined || run.ids.some((id) => retired.has(id)))) {
          run.live = false;
          this.#flight.forget(this.#flightKey(run.k));
          this.#flight.forget(this.#refreshKey(run.k));
        }
      }
      if (this.#invalidatedAt.size > 4_096) this.#prune();
    }
    if (!soft) for (const id of ids) this.#memory.invalidate(id);
    else {
      const now = this.#clock();
      for (const id of ids) this.#memory.soften(id, now);
    }
  }

  /**
   * Messages may have been lost (the subscription was down): this process forgets everything it
   * holds from before, as if each had been invalidated. Redis's fences still decide what it reads.
   */
  #retireAll(): void {
    const seq = ++this.#seq;
    this.#retiredAllAt = seq;
    for (const run of this.#runs) {
      if (run.live) {
        run.live = false;
        this.#flight.forget(this.#flightKey(run.k));
        this.#flight.forget(this.#refreshKey(run.k));
      }
    }
    this.#memory.clear();
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
      staleHits: this.#staleHits,
      refreshes: this.#refreshes,
      earlyRefreshes: this.#earlyRefreshes,
      refreshFailures: this.#refreshFailures,
      staleIfErrorServes: this.#staleIfErrorServes,
      storeErrors: store.errors,
      entries: this.#memory.size,
      bytes: this.#memory.bytes,
      evictions: this.#memory.evictions,
      invalidations: this.#queue?.stats() ?? { sent: 0, failed: 0, pending: 0 },
      store: { kind: this.#tier.kind, breaker: store.state, skipped: store.skipped },
      flights: this.#flight.stats(),
      fleet: this.#tier.fleetStats(),
    };
  }

  /**
   * Whether the shared store answers: one PING to Redis, a store call like any other (under
   * `storeTimeoutMs` and the circuit: while the circuit is open it resolves false without a call,
   * and after the cooldown it is the probe whose answer closes the circuit). Resolves false on
   * any failure, never rejects; true without Redis; false after close().
   */
  async ping(): Promise<boolean> {
    if (this.#closed) return false;
    return this.#tier.ping();
  }

  /** Stops accepting calls, drops queued invalidations, and closes the store connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue?.close();
    await this.#tier.close();
    this.#memory.clear();
  }

  #ttlOf(options: { ttlMs?: number } | undefined): number {
    return options?.ttlMs === undefined ? this.#defaultTtlMs : positiveMs('ttlMs', options.ttlMs);
  }

  /** A call's freshness, checked (see Freshness). */
  #lifetimeOf(options: Freshness | undefined): Lifetime {
    const ttlMs = this.#ttlOf(options);
    if (options === undefined) return { ttlMs, swrMs: 0, sieMs: 0, early: false };
    const { staleWhileRevalidateMs, staleIfErrorMs, softTimeoutMs, earlyRefresh } = options;
    const swrMs =
      staleWhileRevalidateMs === undefined
        ? 0
        : nonNegativeMs('staleWhileRevalidateMs', staleWhileRevalidateMs);
    const sieMs = staleIfErrorMs === undefined ? 0 : nonNegativeMs('staleIfErrorMs', staleIfErrorMs);
    if (softTimeoutMs !== undefined) positiveMs('softTimeoutMs', softTimeoutMs);
    if (earlyRefresh !== undefined) {
      if (typeof earlyRefresh !== 'object' || earlyRefresh === null) {
        throw new InvalidOptionError('earlyRefresh', 'an object { beta }', earlyRefresh);
      }
      const beta = earlyRefresh.beta;
      if (beta !== undefined && (typeof beta !== 'number' || !Number.isFinite(beta) || beta <= 0)) {
        throw new InvalidOptionError('earlyRefresh.beta', 'a positive, finite number', beta);
      }
    }
    return { ttlMs, swrMs, sieMs, early: earlyRefresh !== undefined };
  }

  /** The ids of a fixed list of tags (checked now), or undefined when the tags are a function. */
  #fixedTagIds(tags: unknown): readonly string[] | undefined {
    if (tags === undefined) return [];
    if (typeof tags === 'function') return undefined;
    return this.#tagIds(tags);
  }

  /** The ids of tags, each checked: a non-empty string of at most 1 024 units, well formed. */
  #tagIds(tags: unknown): string[] {
    if (!Array.isArray(tags)) throw new InvalidOptionError('tags', 'an array of strings', tags);
    const ids = new Set<string>();
    for (const tag of tags) {
      if (typeof tag !== 'string' || tag.length === 0 || tag.length > MAX_TAG_LENGTH || !tag.isWellFormed()) {
        throw new InvalidOptionError(
          'tags',
          `non-empty strings of at most ${MAX_TAG_LENGTH} characters`,
          tag,
        );
      }
      ids.add(this.#tier.tagId(tag));
    }
    return [...ids];
  }

  #flightKey(k: string): string {
    return `${this.#namespace}:${k}`;
  }

  /** The flight key of a background refresh of `k` ('!' is never in a namespace, so never a #flightKey). */
  #refreshKey(k: string): string {
    return `${this.#namespace}!r:${k}`;
  }

  /** A load of `k` starts (see Run). Runs live only while their loads do, so the set is bounded by flights. */
  #begin(k: string, ids: readonly string[] | undefined, signal: AbortSignal): Run {
    const run: Run = { k, start: this.#seq, ids, live: true };
    this.#runs.add(run);
    // A load that ignores its signal may never settle: its run ends with its flight (past the
    // deadline, or abandoned), since nothing it brings back is kept then anyway (#current).
    signal.addEventListener('abort', () => this.#end(run), { once: true });
    return run;
  }

  /** Whether a load's value may still be kept: its flight is live, and no invalidation of its key or tags came since it began. */
  #current(start: number, id: string, tagIds: readonly string[], signal: AbortSignal): boolean {
    if (this.#closed || signal.aborted) return false;
    if (start < this.#retiredAllAt) return false;
    if (this.#invalidatedAt.size === 0) return true;
    if ((this.#invalidatedAt.get(id) ?? 0) > start) return false;
    for (const tagId of tagIds) if ((this.#invalidatedAt.get(tagId) ?? 0) > start) return false;
    return true;
  }

  #end(run: Run): void {
    if (this.#runs.delete(run) && this.#runs.size === 0) this.#invalidatedAt.clear();
  }

  /** Forgets invalidations no running load began before. */
  #prune(): void {
    let oldest = this.#seq;
    for (const run of this.#runs) oldest = Math.min(oldest, run.start);
    for (const [id, seq] of this.#invalidatedAt) if (seq <= oldest) this.#invalidatedAt.delete(id);
  }
}

/** A memory-tier hit with windows: past its freshness, fresh, or fresh and due an early refresh. */
const STALE = 0;
const FRESH = 1;
const REFRESH_EARLY = 2;
type FreshState = typeof STALE | typeof FRESH | typeof REFRESH_EARLY;

/** How soon a key another process is refreshing is looked at again in Redis (its new value, or its lease gone). */
const HELD_RECHECK_MS = 50;

/**
 * A background refresh: it loads whatever value Redis holds (a refresh asks the lease for any
 * value), unless that value is of another revision than the stale copy's: a newer write.
 */
interface RefreshMode {
  staleRev?: string;
}

/** How long a fence is kept in Redis: twice the flight's deadline, at least a minute, at most a day. */
function fenceTtl(flightTimeoutMs: number): number {
  return Math.min(24 * 60 * 60 * 1000, Math.max(60_000, 2 * flightTimeoutMs));
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

/** What a flight resolves inside the cache: the value, its source, and the ids it is known by. */
type Flown<T> = Fetched<T> & { ids: readonly string[]; seq?: number | undefined };

function valueOfFetched<T>(fetched: Fetched<T>): T {
  return fetched.value;
}

function publicFetched<T>(fetched: Flown<T>): Fetched<T> {
  return fetched.staleIfError === true
    ? { value: fetched.value, source: fetched.source, staleIfError: true }
    : { value: fetched.value, source: fetched.source };
}

/** What a call that joined another's flight gets: `joined` when that flight loaded the value. */
function asJoined<T>(fetched: Flown<T>): Flown<T> {
  return fetched.source === 'loaded' ? { ...fetched, source: 'joined' } : fetched;
}

function readInto(reads: Reads, ids: readonly string[] | undefined, seq: number | undefined): void {
  if (ids !== undefined) for (const id of ids) reads.ids.add(id);
  if (seq === undefined) reads.unsequenced = true;
  else if (seq < reads.minSeq) reads.minSeq = seq;
}

function read<T>(reads: Reads, fetched: Flown<T>): Flown<T> {
  readInto(reads, fetched.ids, fetched.seq);
  if (fetched.source === 'stale') reads.stale = true;
  return fetched;
}

/**
 * A loaded value and its tags, with what it inherits (see Reads): the ids of what it was made
 * from join its tags (deduplicated), and their freshness sets its fence (Loaded.floor, localOnly).
 */
function loadedWith<T>(value: T, tagIds: readonly string[], inherits: Reads | undefined): Loaded<T> {
  if (inherits === undefined) return { value, tagIds };
  const loaded: Loaded<T> = {
    value,
    tagIds: inherits.ids.size === 0 ? tagIds : [...new Set([...tagIds, ...inherits.ids])],
  };
  if (inherits.unsequenced) loaded.localOnly = true;
  if (Number.isFinite(inherits.minSeq)) loaded.floor = inherits.minSeq;
  return loaded;
}

/**
 * The ids a value is known by: its key's, then its tags'. An exact-length array (concat; a spread
 * leaves up to 18 spare slots), as the memory tier's estimate counts it (issue 12).
 */
function idsOf(id: string, tagIds: readonly string[]): readonly string[] {
  return tagIds.length === 0 ? [id] : [id].concat(tagIds);
}

/** One key of a batch as `remember` would take it (a background refresh of that key alone). */
function oneOf<T, K>(
  key: K,
  loadMany: LoadMany<K, T>,
  options: RememberManyOptions<T, K> | undefined,
): { load: (signal: AbortSignal) => Promise<T>; options: RememberOptions<T> | undefined } {
  const load = async (signal: AbortSignal): Promise<T> => {
    const [result] = await loadMany([key], signal);
    if (result instanceof Error) throw result;
    return result as T;
  };
  const tags = options?.tags;
  if (typeof tags !== 'function') return { load, options: options as RememberOptions<T> | undefined };
  return { load, options: { ...options, tags: (value: T) => tags(key, value) } };
}

/** The work of a flight that is known to be in flight already (join never calls it). */
function never(): Promise<never> {
  return Promise.reject(new Error('graphql-flight: joined a flight that was not in flight'));
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

function positiveInteger(option: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new InvalidOptionError(option, 'a positive integer', value);
  return value;
}

/** The run options of a call that brings its own signal. */
function callerSignal(options: { signal?: AbortSignal } | undefined): { signal: AbortSignal } | undefined {
  return options?.signal === undefined ? undefined : { signal: options.signal };
}
