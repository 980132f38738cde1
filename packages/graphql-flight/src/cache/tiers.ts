import type { Keyv } from 'keyv';
import { FleetLease, type FleetOptions, type FleetStats, fleetStats } from '../fleet/redis-lease.js';
import type { RedisKeyv } from '../store/redis-store.js';
import { storeKey } from '../store/redis-store.js';
import type { StoreGuard } from '../store/store-guard.js';

/** Where a tier's value came from: the shared store, or the load this flight ran. */
export type TierSource = 'store' | 'loaded';

export interface TierFetch<T> {
  value: T;
  source: TierSource;
  /** For `store`: the value's remaining TTL there, in ms (Redis's clock), when the store says. */
  pttl?: number;
}

/** One value to write, by its encoded key, with the fence its key's read gave (see TierRead). */
export interface TierEntry<T> {
  k: string;
  value: T;
  fence?: string | undefined;
}

/**
 * A batch's read of one key: its value in the shared store (undefined: absent, or the read
 * failed), and, with the lease, the key's epoch then: the fence a later write of it must pass.
 */
export interface TierRead<T> {
  value: T | undefined;
  fence?: string | undefined;
}

/**
 * What FlightCache does beyond its memory tier, for one store setup: memory only, Redis, or
 * Redis with the fleet lease. FlightCache keeps the memory tier, the flights and the stale
 * write-back guard; a tier strategy reads and writes the shared store and invalidates there, so
 * the single-key and batch paths of FlightCache share one strategy instead of branching.
 *
 * `keep(value)` is asked, synchronously, right before a value this tier loaded is written to the
 * shared store; false: the value is not written (invalidated during its load, past its flight's
 * deadline, or not to be stored).
 */
export interface TierStrategy {
  readonly kind: 'memory' | 'redis';
  /** How long a value read or written now stays in this process's memory tier. */
  localTtl(ttlMs: number, pttl?: number): number;
  /** One key's flight beyond the memory tier: the shared store, else `load` (written when kept). */
  fetch<T>(
    k: string,
    ttlMs: number,
    load: () => Promise<T>,
    signal: AbortSignal,
    keep: (value: T) => boolean,
  ): Promise<TierFetch<T>>;
  /** The shared store's values of `ks` in one call (absent, or on a failure: no value). */
  getMany<T>(ks: readonly string[]): Promise<Array<TierRead<T>>>;
  /**
   * Writes loaded values to the shared store, in the background (callers do not wait for it).
   * With the lease, each write is fenced by its entry's `fence`, and one without a fence is not
   * written to the store at all.
   */
  setMany<T>(entries: ReadonlyArray<TierEntry<T>>, ttlMs: number): void;
  /** Removes `k` from the shared store (and, with the lease, tells every process). */
  delete(k: string): Promise<void>;
  /** Waits for pending writes and closes the store connection. */
  close(): Promise<void>;
  fleetStats(): FleetStats;
}

/** No shared store: a miss loads, and the memory tier (written by FlightCache) is the whole cache. */
export class MemoryStrategy implements TierStrategy {
  readonly kind = 'memory';

  localTtl(ttlMs: number): number {
    return ttlMs;
  }

  async fetch<T>(_k: string, _ttlMs: number, load: () => Promise<T>): Promise<TierFetch<T>> {
    return { value: await load(), source: 'loaded' };
  }

  async getMany<T>(ks: readonly string[]): Promise<Array<TierRead<T>>> {
    return ks.map(() => ({ value: undefined }));
  }

  setMany(): void {}

  async delete(): Promise<void> {}

  async close(): Promise<void> {}

  fleetStats(): FleetStats {
    return fleetStats(false);
  }
}

/**
 * Redis through Keyv: values are shared by every process on the namespace; each process loads a
 * missing key itself (its own single flight). Every call runs under the StoreGuard (deadline and
 * circuit), so a dead or frozen Redis is a miss for a read and nothing for a write.
 */
export class RedisStrategy implements TierStrategy {
  readonly kind = 'redis';
  protected readonly redis: RedisKeyv;
  readonly #keyv: Keyv;
  readonly #guard: StoreGuard;
  readonly #namespace: string;
  readonly #localTtlMs: number;
  /** Shared-store writes not yet acknowledged, per key; a delete of the key waits for them. */
  readonly #writes = new Map<string, Promise<unknown>>();

  constructor(redis: RedisKeyv, options: { guard: StoreGuard; namespace: string; localTtlMs: number }) {
    this.redis = redis;
    this.#keyv = redis.keyv;
    this.#guard = options.guard;
    this.#namespace = options.namespace;
    this.#localTtlMs = options.localTtlMs;
  }

  localTtl(ttlMs: number, pttl?: number): number {
    return Math.min(pttl ?? ttlMs, ttlMs, this.#localTtlMs);
  }

  async fetch<T>(
    k: string,
    ttlMs: number,
    load: () => Promise<T>,
    _signal: AbortSignal,
    keep: (value: T) => boolean,
  ): Promise<TierFetch<T>> {
    const stored = await this.#store(() => this.#keyv.get<T>(this.#storeKey(k)), undefined);
    if (stored !== undefined) return { value: stored, source: 'store' };
    const value = await load();
    if (keep(value)) this.setMany([{ k, value }], ttlMs);
    return { value, source: 'loaded' };
  }

  async getMany<T>(ks: readonly string[]): Promise<Array<TierRead<T>>> {
    const stored = await this.#store(
      () => this.#keyv.getMany<T>(ks.map((k) => this.#storeKey(k))),
      undefined,
    );
    return ks.map((_, i) => ({ value: stored?.[i] }));
  }

  setMany<T>(entries: ReadonlyArray<TierEntry<T>>, ttlMs: number): void {
    if (entries.length === 0) return;
    const ttl = Math.ceil(ttlMs);
    const write = this.#store(
      () => this.#keyv.setMany(entries.map(({ k, value }) => ({ key: this.#storeKey(k), value, ttl }))),
      undefined,
    );
    for (const { k } of entries) this.#writes.set(k, write);
    void write.then(() => {
      for (const { k } of entries) if (this.#writes.get(k) === write) this.#writes.delete(k);
    });
  }

  async delete(k: string): Promise<void> {
    // A write of this key still on its way to Redis must land before the delete, not after it.
    await this.#writes.get(k);
    await this.deleteStored(k);
  }

  /** The delete itself, once pending writes of the key have landed. */
  protected async deleteStored(k: string): Promise<void> {
    await this.#store(() => this.#keyv.delete(this.#storeKey(k)), false);
  }

  async close(): Promise<void> {
    await Promise.all(this.#writes.values());
    await this.closeFleet();
    await this.redis.close();
  }

  /** Stops what runs beside the store connection (the fleet's subscriber), before it closes. */
  protected async closeFleet(): Promise<void> {}

  fleetStats(): FleetStats {
    return fleetStats(false);
  }

  /** One call to the shared store: after the first connection attempt, under the deadline and circuit. */
  #store<T, F>(call: () => Promise<T>, fallback: F): Promise<T | F> {
    const ready = this.redis.ready;
    return this.#guard.run(() => ready.then(call), fallback);
  }

  /** The key in the shared store: namespaced and typed (`v` for values), so nothing else can collide. */
  #storeKey(k: string): string {
    return storeKey(this.#namespace, 'v', k);
  }
}

/**
 * Redis with the fleet lease: a single key's miss is loaded by one process of the whole fleet
 * (FleetLease), whose fill is fenced by the key's epoch; a delete is a new epoch that every
 * process hears of (`onDeleted`). Batches read and write through Keyv as RedisStrategy does.
 */
export class LeaseStrategy extends RedisStrategy {
  readonly #fleet: FleetLease;

  constructor(
    redis: RedisKeyv,
    options: {
      guard: StoreGuard;
      namespace: string;
      localTtlMs: number;
      fleet: FleetOptions | undefined;
      onDeleted: (k: string) => void;
      onError: (error: unknown) => void;
    },
  ) {
    super(redis, options);
    this.#fleet = new FleetLease(redis.client, {
      ...options.fleet,
      namespace: options.namespace,
      guard: options.guard,
      ready: redis.ready,
      onDeleted: options.onDeleted,
      onError: options.onError,
    });
  }

  override async fetch<T>(
    k: string,
    ttlMs: number,
    load: () => Promise<T>,
    signal: AbortSignal,
    keep: (value: T) => boolean,
  ): Promise<TierFetch<T>> {
    const fetched = await this.#fleet.fetch(k, ttlMs, load, signal, keep);
    return fetched.source === 'redis'
      ? {
          value: fetched.value,
          source: 'store',
          ...(fetched.pttl === undefined ? {} : { pttl: fetched.pttl }),
        }
      : { value: fetched.value, source: 'loaded' };
  }

  /** Values and their keys' epochs, in one script (the epochs fence the batch's fill). */
  override async getMany<T>(ks: readonly string[]): Promise<Array<TierRead<T>>> {
    const read = await this.#fleet.readMany<T>(ks);
    return read === undefined
      ? ks.map(() => ({ value: undefined }))
      : read.map(({ value, epoch }) => ({ value, fence: epoch }));
  }

  /**
   * A batch's writes, each fenced by the epoch its read saw: an invalidation since, by any
   * process, wins. Entries without a fence (their read failed) are not written to Redis.
   */
  override setMany<T>(entries: ReadonlyArray<TierEntry<T>>, ttlMs: number): void {
    const fenced = entries.flatMap(({ k, value, fence }) =>
      fence === undefined ? [] : [{ k, value, epoch: fence }],
    );
    if (fenced.length > 0) void this.#fleet.fillMany(fenced, ttlMs);
  }

  /** New epoch (fills of loads begun before are refused), value gone, every process told. */
  protected override async deleteStored(k: string): Promise<void> {
    await this.#fleet.invalidate(k);
  }

  protected override async closeFleet(): Promise<void> {
    await this.#fleet.close();
  }

  override fleetStats(): FleetStats {
    return this.#fleet.stats();
  }
}
