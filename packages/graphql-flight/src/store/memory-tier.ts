import { LRUCache } from 'lru-cache';

/** What the memory tier holds for a key: Keyv's envelope shape, so Keyv can use the tier as its store. */
export interface Envelope<T = unknown> {
  value: T;
  expires?: number | undefined;
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

  constructor(options: MemoryTierOptions) {
    const now = options.now;
    const sizeOf = options.sizeOf ?? estimateSize;
    this.#lru = new LRUCache<string, Envelope>({
      max: options.maxEntries,
      // Entries without a TTL are allowed (ttl 0), but every write from the cache passes one.
      ttl: 0,
      allowStale: false,
      updateAgeOnGet: false,
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
    return true;
  }

  has(key: string): boolean {
    return this.#lru.has(key);
  }

  delete(key: string): boolean {
    return this.#lru.delete(key);
  }

  clear(): void {
    this.#lru.clear();
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
