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
   * Most bytes kept, by estimate (see estimateSize); the least recently used go first, and a
   * single value larger than this is not kept at all. Absent: entries alone bound the tier.
   */
  maxBytes?: number;
  /** Monotonic clock in milliseconds (tests inject one). */
  now?: () => number;
}

/**
 * The in-process tier: a bounded LRU (lru-cache) with per-entry TTLs on a monotonic clock.
 *
 * It is read synchronously on the hit path, and it is also a Map-like Keyv store adapter
 * (`get`, `set(key, value, ttl)`, `delete`, `clear`, `has`), so in memory mode Keyv writes into
 * it directly and there is one copy of each value. Expiry is decided by the TTL given to `set`
 * on this process's monotonic clock; the wall-clock `expires` Keyv puts in its envelope is not
 * consulted.
 */
export class MemoryTier {
  readonly #lru: LRUCache<string, Envelope>;

  constructor(options: MemoryTierOptions) {
    const now = options.now;
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
            sizeCalculation: (envelope: Envelope) => estimateSize(envelope.value),
          }),
      // lru-cache reads a start time of 0 as "no TTL start", so an injected clock is kept above 0.
      ...(now ? { perf: { now: () => now() + 1 }, ttlResolution: 0 } : {}),
    });
  }

  /** The live envelope for `key`, or undefined if absent or expired. */
  get(key: string): Envelope | undefined {
    return this.#lru.get(key);
  }

  set(key: string, envelope: Envelope, ttlMs?: number): boolean {
    this.#lru.set(key, envelope, ttlMs === undefined ? undefined : { ttl: Math.ceil(ttlMs) });
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
 * A value's size in bytes, as the memory tier counts it: a string by its length (UTF-16, 2 bytes a
 * unit), a stored response (`{ body: string }`) by its body, anything else at a nominal 256. It
 * bounds what can grow with a client's input (cached responses, large strings) without walking
 * every object that is cached.
 */
export function estimateSize(value: unknown): number {
  if (typeof value === 'string') return 64 + 2 * value.length;
  if (typeof value === 'object' && value !== null) {
    const body = (value as { body?: unknown }).body;
    if (typeof body === 'string') return 128 + 2 * body.length;
  }
  return 256;
}
