import { LRUCache } from 'lru-cache';
import { ARRAY_HEADER, estimateSize, stringBytes } from './estimate-size.js';

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
  /** The value's freshness windows, when it has any past its TTL (see Windows). */
  w?: Windows | undefined;
}

/**
 * When a value stops being fresh, and how long it may be served stale after that, on the tier's
 * clock: until `staleUntil` at once while a refresh runs, until `errorUntil` while refreshes fail.
 * The entry stays in the tier until the later of the two.
 */
export interface Windows {
  freshUntil: number;
  staleUntil: number;
  errorUntil: number;
  /** How long the value's load took, in ms (XFetch weighs early refreshes by it). */
  delta: number;
  /** With Redis: the revision of the record it came from (a refresh tells a newer write by it). */
  rev?: string | undefined;
}

export interface MemoryTierOptions {
  /** Most entries kept; the least recently used goes first. */
  maxEntries: number;
  /**
   * Most bytes kept, by estimate; the least recently used go first, and a single entry larger
   * than this is not kept at all. An entry counts its value (`sizeOf`, or the size `set` was
   * given) and what the tier holds for it: its key, the envelope, the ids and their index entries
   * (see entryBytes), and each distinct id the index holds once (INDEX_ID_BYTES and the id).
   * Absent: entries alone bound the tier.
   */
  maxBytes?: number;
  /**
   * The size of a value whose `set` names none, in bytes. Default estimateSize (what the value
   * holds, walked). Callers that know their values better pass a size to `set`.
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
  readonly #maxBytes: number | undefined;
  readonly #sizeOf: (value: unknown) => number;
  /** The bytes of the distinct ids #byId holds (each INDEX_ID_BYTES and its string), beyond the entries' own. */
  #indexBytes = 0;
  #evictions = 0;

  constructor(options: MemoryTierOptions) {
    const now = options.now;
    this.#maxBytes = options.maxBytes;
    this.#sizeOf = options.sizeOf ?? estimateSize;
    this.#lru = new LRUCache<string, Envelope>({
      max: options.maxEntries,
      // Entries without a TTL are allowed (ttl 0), but every write from the cache passes one.
      ttl: 0,
      allowStale: false,
      updateAgeOnGet: false,
      dispose: (envelope, key, reason) => {
        if (reason === 'evict') this.#evictions++;
        this.#unindex(key, envelope.ids);
      },
      // Every set passes its entry's size (see set), so lru-cache needs no sizeCalculation.
      ...(options.maxBytes === undefined ? {} : { maxSize: options.maxBytes }),
      // lru-cache reads a start time of 0 as "no TTL start", so an injected clock is kept above 0.
      ...(now ? { perf: { now: () => now() + 1 }, ttlResolution: 0 } : {}),
    });
  }

  /** The live envelope for `key`, or undefined if absent or expired. */
  get(key: string): Envelope | undefined {
    return this.#lru.get(key);
  }

  /**
   * Keeps `envelope` for `ttlMs`; `size` (bytes) is its value's size, when the caller knows it
   * better than sizeOf (a size that is not a number >= 0 is ignored). With maxBytes, the entry
   * counts that and entryBytes, and least recently used entries leave until the whole tier fits.
   */
  set(key: string, envelope: Envelope, ttlMs?: number, size?: number): boolean {
    const ttl = ttlMs === undefined ? undefined : Math.ceil(ttlMs);
    if (this.#maxBytes === undefined) this.#lru.set(key, envelope, { ttl });
    else {
      const valueBytes = typeof size === 'number' && size >= 0 ? size : this.#sizeOf(envelope.value);
      const bytes = Math.ceil(entryBytes(key, envelope.ids) + valueBytes);
      // Past maxBytes (an infinite estimate included) lru-cache does not keep the entry at all.
      this.#lru.set(key, envelope, { ttl, size: Math.min(bytes, this.#maxBytes + 1) });
    }
    const ids = envelope.ids;
    // A replaced entry was unindexed by dispose, inside set; a value too large was not kept at all.
    if (ids !== undefined && this.#lru.peek(key) === envelope) {
      for (const id of ids) {
        let keys = this.#byId.get(id);
        if (keys === undefined) {
          keys = new Set();
          this.#byId.set(id, keys);
          this.#indexBytes += INDEX_ID_BYTES + stringBytes(id);
        }
        keys.add(key);
      }
    }
    this.#trim();
    return true;
  }

  /** Evicts least recently used entries until the entries and the index fit in maxBytes. */
  #trim(): void {
    const max = this.#maxBytes;
    if (max === undefined) return;
    while (this.#lru.calculatedSize + this.#indexBytes > max && this.#lru.size > 0) this.#lru.pop();
  }

  /** Drops every entry that carries `id` (see Envelope.ids); resolves how many it dropped. */
  invalidate(id: string): number {
    const keys = this.#byId.get(id);
    if (keys === undefined) return 0;
    let dropped = 0;
    for (const key of [...keys]) if (this.#lru.delete(key)) dropped++;
    // Each deleted entry was unindexed (the id left with its last entry); nothing else names it.
    this.#dropId(id);
    return dropped;
  }

  /**
   * A soft purge of `id` at time `now`: an entry carrying it with a revalidate window is stale from
   * now on (its windows start now, none longer than it had), and one without is dropped. Resolves
   * how many entries it softened or dropped.
   */
  soften(id: string, now: number): number {
    const keys = this.#byId.get(id);
    if (keys === undefined) return 0;
    let touched = 0;
    for (const key of [...keys]) {
      const envelope = this.#lru.peek(key);
      if (envelope === undefined) continue;
      touched++;
      const w = envelope.w;
      if (w === undefined || w.staleUntil <= w.freshUntil) {
        this.#lru.delete(key);
        continue;
      }
      if (w.freshUntil <= now) continue; // already stale: its windows run on as they are
      const from = w.freshUntil;
      envelope.w = {
        freshUntil: now,
        staleUntil: Math.min(w.staleUntil, now + (w.staleUntil - from)),
        errorUntil: Math.min(w.errorUntil, now + (w.errorUntil - from)),
        delta: w.delta,
        rev: w.rev,
      };
    }
    return touched;
  }

  #dropId(id: string): void {
    if (this.#byId.delete(id)) this.#indexBytes -= INDEX_ID_BYTES + stringBytes(id);
  }

  #unindex(key: string, ids: readonly string[] | undefined): void {
    if (ids === undefined) return;
    for (const id of ids) {
      const keys = this.#byId.get(id);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) this.#dropId(id);
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
    this.#indexBytes = 0;
  }

  /** Entries held, expired ones not yet swept included (bounded by maxEntries either way). */
  get size(): number {
    return this.#lru.size;
  }

  /** The estimated bytes held, entries and index (see maxBytes); 0 without maxBytes. */
  get bytes(): number {
    return this.#maxBytes === undefined ? 0 : this.#lru.calculatedSize + this.#indexBytes;
  }

  /** Entries that left to make room (for maxEntries or maxBytes), since the tier was made. */
  get evictions(): number {
    return this.#evictions;
  }
}

/**
 * What the tier holds for one entry besides its value, in bytes (measured on Node 20, heap used
 * after a full GC): lru-cache's bookkeeping of the key and the envelope object (ENTRY_BYTES), the
 * key, the array of ids (FlightCache builds it exact), each id and its membership in the index. A distinct id's own Map entry and Set are counted apart, once, while the index holds it.
 */
export function entryBytes(key: string, ids: readonly string[] | undefined): number {
  let bytes = ENTRY_BYTES + stringBytes(key);
  if (ids !== undefined) {
    bytes += ARRAY_HEADER + 8 * ids.length;
    for (const id of ids) bytes += stringBytes(id) + INDEX_MEMBER_BYTES;
  }
  return bytes;
}

/** lru-cache's Map entry and per-entry arrays, and the envelope `{ value, ids, seq }`. */
export const ENTRY_BYTES = 144;
/**
 * One key in the Set of an id: its table entry and bucket (20 bytes a slot), in a table that, as
 * entries come and go (a full tier evicting), holds one to three slots a live key (V8 leaves a
 * deleted entry's slot until the table is rebuilt). Measured under eviction, heap used after GC.
 */
export const INDEX_MEMBER_BYTES = 56;
/** A distinct id in the index: its Map entry and its Set (a small table). */
export const INDEX_ID_BYTES = 160;
