import {
  type BatchKey,
  type BatchLoad,
  type FetchMode,
  type FleetDependencies,
  type FleetFetch,
  type FleetFound,
  FleetLease,
  type FleetOptions,
  type FleetStats,
  fleetStats,
  type Held,
  type InvalidationIds,
  type Lifetime,
  type Loaded,
  whenAllAborted,
} from '../fleet/redis-lease.js';
import { RedisKeys } from '../store/redis-keys.js';
import type { RedisConnection } from '../store/redis-store.js';
import type { StoreGuard } from '../store/store-guard.js';

export type { BatchKey, BatchLoad, FetchMode, Held, InvalidationIds, Lifetime, Loaded };
/** A servable value found in the shared store (a stale one, handed to FetchMode.onStale). */
export type StoreFound<T> = FleetFound<T>;

/** Where a tier's value came from: the shared store, or the load this flight ran. */
export type TierSource = 'store' | 'loaded';

export interface TierFetch<T> {
  value: T;
  source: TierSource;
  /** The ids of the value's tags. */
  tagIds: readonly string[];
  /** For `store`: the value's remaining TTL there, in ms (Redis's clock), when the store says. */
  pttl?: number;
  /** The invalidation sequence its data is as fresh as, when Redis said (see FleetFetch). */
  seq?: number;
  /** Redis kept refusing its fill: it answers its callers and is kept nowhere. */
  retired?: boolean;
  /** For `store`: the windows it was written with (see Lifetime). */
  life?: { swrMs: number; sieMs: number };
  /** How long its load took, in ms. */
  delta?: number;
  /** The revision of its record in Redis (windowed values). */
  rev?: string | undefined;
}

/**
 * What FlightCache does beyond its memory tier, for one store setup: memory only, or Redis (with
 * or without the fleet lease). FlightCache keeps the memory tier, the flights and this process's
 * fence; a tier strategy names keys and tags (`keyId`, `tagId`: the ids invalidations use), reads
 * and writes the shared store, fenced, and invalidates there, so the single-key and batch paths of
 * FlightCache share one strategy instead of branching.
 *
 * `keep(loaded)` is asked, synchronously, right before a value this tier loaded is written to the
 * shared store; false: it is not written (invalidated during its load, past its flight's deadline,
 * or not to be stored).
 */
export interface TierStrategy {
  readonly kind: 'memory' | 'redis';
  keyId(k: string): string;
  tagId(tag: string): string;
  /** How long a value with `lifeMs` left, read or written now, stays in this process's memory tier. */
  localTtl(lifeMs: number): number;
  /**
   * One key's flight beyond the memory tier: the shared store, else `load` (written when kept).
   * `mode` says which stored values are served as found, and whether this is a refresh (which
   * resolves `held` when another process is refreshing the key). Without a shared store it loads.
   */
  fetch<T>(
    k: string,
    id: string,
    life: Lifetime,
    load: () => Promise<Loaded<T>>,
    signal: AbortSignal,
    keep: (loaded: Loaded<T>) => boolean,
    mode: FetchMode<T>,
  ): Promise<TierFetch<T> | Held>;
  /** A batch's flights: the shared store for all, one `loadMany` for the keys still missing. */
  fetchMany<T>(
    batch: ReadonlyArray<BatchKey<T>>,
    life: Lifetime,
    loadMany: BatchLoad<T>,
  ): Array<Promise<TierFetch<T>>>;
  /**
   * Invalidates in the shared store and tells every process (`soft`: marks stale instead, see
   * Invalidation.soft); false when it did not acknowledge.
   */
  invalidate(hard: InvalidationIds, soft: InvalidationIds): Promise<boolean>;
  /** Whether the shared store answers a PING under the store guard (true without one). */
  ping(): Promise<boolean>;
  /** Closes the store connection. */
  close(): Promise<void>;
  fleetStats(): FleetStats;
}

/** No shared store: a miss loads, and the memory tier (written by FlightCache) is the whole cache. */
export class MemoryStrategy implements TierStrategy {
  readonly kind = 'memory';

  // Ids need not be secret or short here: they never leave the process.
  keyId(k: string): string {
    return `k\0${k}`;
  }

  tagId(tag: string): string {
    return `t\0${tag}`;
  }

  localTtl(lifeMs: number): number {
    return lifeMs;
  }

  async fetch<T>(
    _k: string,
    _id: string,
    _life: Lifetime,
    load: () => Promise<Loaded<T>>,
  ): Promise<TierFetch<T>> {
    const loaded = await load();
    return { value: loaded.value, tagIds: loaded.tagIds, source: 'loaded', delta: loaded.delta };
  }

  fetchMany<T>(
    batch: ReadonlyArray<BatchKey<T>>,
    _life: Lifetime,
    loadMany: BatchLoad<T>,
  ): Array<Promise<TierFetch<T>>> {
    // Keys whose waiters all left (or whose deadline passed) are not loaded at all.
    const wanted = batch.flatMap((key, i) => (key.signal.aborted ? [] : [i]));
    const loading =
      wanted.length === 0
        ? Promise.resolve([])
        : loadMany(wanted, whenAllAborted(wanted.map((i) => batch[i]!.signal)));
    return batch.map(async (key, i) => {
      const j = wanted.indexOf(i);
      if (j < 0) throw key.signal.reason;
      const loaded = (await loading)[j]!;
      if (loaded instanceof Error) throw loaded;
      return { value: loaded.value, tagIds: loaded.tagIds, source: 'loaded' as const, delta: loaded.delta };
    });
  }

  async invalidate(): Promise<boolean> {
    return true;
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {}

  fleetStats(): FleetStats {
    return fleetStats(false);
  }
}

/**
 * Redis: values shared by every process on the namespace, fenced by the invalidation sequence
 * (see FleetLease), under keyed digests (see RedisKeys). With the lease (the default) one process
 * of the fleet loads a missing key; without it each process loads it itself. Every call runs under
 * the StoreGuard (deadline and circuit), so a dead or frozen Redis is a local load and no write.
 */
export class RedisStrategy implements TierStrategy {
  readonly kind = 'redis';
  readonly #redis: RedisConnection;
  readonly #keys: RedisKeys;
  readonly #fleet: FleetLease;
  readonly #localTtlMs: number;

  constructor(
    redis: RedisConnection,
    options: {
      guard: StoreGuard;
      namespace: string;
      secret: string | undefined;
      localTtlMs: number;
      fleet: false | FleetOptions | undefined;
    } & Omit<FleetDependencies, 'keys' | 'guard' | 'ready' | 'lease'>,
  ) {
    this.#redis = redis;
    this.#localTtlMs = options.localTtlMs;
    this.#keys = new RedisKeys(options.namespace, options.secret);
    this.#fleet = new FleetLease(redis.client, options.fleet === false ? undefined : options.fleet, {
      keys: this.#keys,
      guard: options.guard,
      ready: redis.ready,
      lease: options.fleet !== false,
      fenceTtlMs: options.fenceTtlMs,
      onInvalidated: options.onInvalidated,
      onResubscribed: options.onResubscribed,
      isPending: options.isPending,
      onError: options.onError,
    });
  }

  keyId(k: string): string {
    return this.#keys.keyId(k);
  }

  tagId(tag: string): string {
    return this.#keys.tagId(tag);
  }

  localTtl(lifeMs: number): number {
    return Math.min(lifeMs, this.#localTtlMs);
  }

  async fetch<T>(
    k: string,
    id: string,
    life: Lifetime,
    load: () => Promise<Loaded<T>>,
    signal: AbortSignal,
    keep: (loaded: Loaded<T>) => boolean,
    mode: FetchMode<T>,
  ): Promise<TierFetch<T> | Held> {
    const fetched = await this.#fleet.fetch(k, id, life, load, signal, keep, mode);
    return 'held' in fetched ? fetched : tierFetch(fetched);
  }

  fetchMany<T>(
    batch: ReadonlyArray<BatchKey<T>>,
    life: Lifetime,
    loadMany: BatchLoad<T>,
  ): Array<Promise<TierFetch<T>>> {
    return this.#fleet.fetchMany(batch, life, loadMany).map((pending) => pending.then(tierFetch));
  }

  invalidate(hard: InvalidationIds, soft: InvalidationIds): Promise<boolean> {
    return this.#fleet.invalidate(hard, soft);
  }

  ping(): Promise<boolean> {
    return this.#fleet.ping();
  }

  async close(): Promise<void> {
    await this.#fleet.close();
    await this.#redis.close();
  }

  fleetStats(): FleetStats {
    return this.#fleet.stats();
  }
}

/** A fleet fetch as the tier reports it: from Redis it is `store`, any load of this process `loaded`. */
function tierFetch<T>(fetched: FleetFetch<T>): TierFetch<T> {
  const { value, tagIds, pttl, seq, retired, life, delta, rev } = fetched;
  const source = fetched.source === 'redis' ? 'store' : 'loaded';
  return { value, tagIds, source, pttl, seq, retired, life, delta, rev };
}
