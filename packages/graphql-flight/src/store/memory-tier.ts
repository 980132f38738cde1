import { LRUCache } from 'lru-cache';

/** What the memory tier holds for a key: Keyv's envelope shape, so Keyv can use the tier as its store. */
export interface Envelope<T = unknown> {
  value: T;
  expires?: number | undefined;
  /**
   * The ids an invalidation may name the entry by (its key's and its tags', see `invalidate`);
   * the tier indexes them while the entry lives.
   */
  ids?: readonly string[] | undefined;
  /** The invalidation sequence the value's data is as fresh as, when Redis said (see Reads). */
  seq?: number | undefined;
}

export interface MemoryTierOptions {
  /** Most entries kept; the least recently used goes first. */
  maxEntries: number;
  /**
   * Most bytes kept, by `sizeOf`; the least recently used go first, and a single value larger
   * than this is not kept at all. Absent: entries alone bound the tier.
   */
  maxBytes?: number;
  /**
   * The size of a value whose `set` names none, in bytes. Default estimateSize (strings by their
   * length, anything else at a nominal 256). Callers that know their values pass a size to `set`.
   */
  sizeOf?: (value: unknown) => number;
  /** Monotonic clock in milliseconds (tests inject one). */
  now?: () => number;
}

/**
 * The in-process tier: a bounded LRU (lru-cache) with per-entry TTLs on a monotonic clock.
 *
 * It is read and written synchronously on the hit and fill paths (FlightCache writes it in the
 * same step as its stale write-back check), and keeps the Map-like shape of a Keyv store
 * adapter (`get`, `set(key, value, ttl)`, `delete`, `clear`, `has`). Expiry is decided by the TTL
 * given to `set` on this process's monotonic clock; a wall-clock `expires` in an envelope is not
 * consulted.
 */
export class MemoryTier {
  readonly #lru: LRUCache<string, Envelope>;
  /** Entries by the ids they carry; an entry leaves it when it leaves the tier (lru-cache's dispose). */
  readonly #byId = new Map<string, Set<string>>();

  constructor(options: MemoryTierOptions) {
    const now = options.now;
    const sizeOf = options.sizeOf ?? estimateSize;
    this.#lru = new LRUCache<string, Envelope>({
      max: options.maxEntries,
      // Entries without a TTL are allowed (ttl 0), but every write from the cache passes one.
      ttl: 0,
      allowStale: false,
      updateAgeOnGet: false,
      dispose: (envelope, key) => this.#unindex(key, envelope.ids),
      ...(options.maxBytes === undefined
        ? {}
        : {
            maxSize: options.maxBytes,
            sizeCalculation: (envelope: Envelope) => sizeOf(envelope.value),
          }),
      // lru-cache reads a start time of 0 as "no TTL start", so an injected clock is kept above 0.
      ...(now ? { perf: { now: () => now() + 1 }, ttlResolution: 0 } : {}),
    });
  }

  /** The live envelope for `key`, or undefined if absent or expired. */
  get(key: string): Envelope | undefined {
    return this.#lru.get(key);
  }

  /** Keeps `envelope` for `ttlMs`; `size` (bytes) is its size, when the caller knows it better than sizeOf. */
  set(key: string, envelope: Envelope, ttlMs?: number, size?: number): boolean {
    const ttl = ttlMs === undefined ? undefined : Math.ceil(ttlMs);
    this.#lru.set(key, envelope, size === undefined ? { ttl } : { ttl, size: Math.max(1, Math.ceil(size)) });
    const ids = envelope.ids;
    // A replaced entry was unindexed by dispose, inside set; a value too large was not kept at all.
    if (ids !== undefined && this.#lru.peek(key) === envelope) {
      for (const id of ids) {
        let keys = this.#byId.get(id);
        if (keys === undefined) {
          keys = new Set();
          this.#byId.set(id, keys);
        }
        keys.add(key);
      }
    }
    return true;
  }

  /** Drops every entry that carries `id` (see Envelope.ids); resolves how many it dropped. */
  invalidate(id: string): number {
    const keys = this.#byId.get(id);
    if (keys === undefined) return 0;
    let dropped = 0;
    for (const key of [...keys]) if (this.#lru.delete(key)) dropped++;
    this.#byId.delete(id);
    return dropped;
  }

  #unindex(key: string, ids: readonly string[] | undefined): void {
    if (ids === undefined) return;
    for (const id of ids) {
      const keys = this.#byId.get(id);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) this.#byId.delete(id);
    }
  }

  has(key: string): boolean {
    return this.#lru.has(key);
  }

  delete(key: string): boolean {
    return this.#lru.delete(key);
  }

  clear(): void {
    this.#lru.clear();
    this.#byId.clear();
  }

  /** Entries held, expired ones not yet swept included (bounded by maxEntries either way). */
  get size(): number {
    return this.#lru.size;
  }
}

/**
 * A value's size in bytes, as the memory tier counts it by default: a string by its length
 * (UTF-16, 2 bytes a unit), anything else at a nominal 256. It bounds what grows with a client's
 * input (large strings) without walking every object that is cached; a caller storing large
 * objects tells their size (FlightCache's `sizeOf` option of remember).
 */
export function estimateSize(value: unknown): number {
  if (typeof value === 'string') return 64 + 2 * value.length;
  return 256;
}
