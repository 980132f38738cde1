import DataLoader from 'dataloader';
import type { FlightCache, Freshness, Reads } from '../cache/flight-cache.js';
import type { KeyPart } from '../cache/keys.js';
import { InvalidOptionError } from '../errors.js';

export interface CachedLoaderOptions<K extends KeyPart, V> extends Omit<Freshness, 'ttlMs'> {
  /** Names this kind of entry in the cache key (`['loader', name, key]`), e.g. `product`. */
  name: string;
  /**
   * How long a loaded value stays fresh, in milliseconds. The windows past it
   * (`staleWhileRevalidateMs`, `staleIfErrorMs`, `softTimeoutMs`, `earlyRefresh`: see Freshness)
   * apply key by key; a stale key is refreshed alone, through `load([key])`.
   */
  ttlMs: number;
  /**
   * Loads the values of keys that no request has in the cache or in flight: one result per key,
   * in the same order, each a value, `null`, or an Error for that key alone.
   */
  load: (keys: K[], signal: AbortSignal) => Promise<ReadonlyArray<V | Error>>;
  /**
   * Tags of each loaded value (`Product:42`, see FlightCache.invalidate): a list for all, or a
   * function of the key and its value. Default: none (the entry is still retired by its key).
   */
  tags?: readonly string[] | ((key: K, value: V) => readonly string[]);
  /**
   * Where this request's reads are collected (see Reads), asked at each batch: with the response
   * cache, `() => readsOf(context)`, so a stored response is retired with the entries it read
   * through this loader. Default: none.
   */
  readInto?: () => Reads | undefined;
  /**
   * The request's way out, asked at each batch (the execution's signal: with Yoga and the
   * hardening deadline, `() => executionSignal(context)`): when it aborts, the batch's keys reject
   * with its reason at once, and a load no other request waits for is aborted. Default: none.
   */
  signal?: () => AbortSignal | undefined;
  /** DataLoader's per-batch bound. Default: none. */
  maxBatchSize?: number;
  /** DataLoader's batch scheduler (tests use a manual one). Default: DataLoader's, after the current tick. */
  batchScheduleFn?: (callback: () => void) => void;
}

/** The cache key of one entry of a cached loader, for deleting it after a write. */
export function loaderCacheKey(name: string, key: KeyPart): readonly KeyPart[] {
  return ['loader', name, key];
}

/**
 * A DataLoader for one request whose batch function goes through `FlightCache.rememberMany`:
 * each request keeps DataLoader's batching and per-request memoisation, while keys are shared
 * across requests: a key in the cache is not loaded, a key another request is loading is joined,
 * and `load` gets only the rest. Create one per request (in the GraphQL context), never share one
 * between requests: its memo is not invalidated by `FlightCache.delete` (call `clear(key)` too).
 */
export function createCachedLoader<K extends KeyPart, V>(
  cache: FlightCache,
  options: CachedLoaderOptions<K, V>,
): DataLoader<K, V> {
  const { name, ttlMs, load, tags, staleWhileRevalidateMs, staleIfErrorMs, softTimeoutMs, earlyRefresh } =
    options;
  if (typeof name !== 'string' || name.length === 0)
    throw new InvalidOptionError('name', 'a non-empty string', name);
  if (typeof load !== 'function') throw new InvalidOptionError('load', 'a function', load);
  const freshness: Freshness = {
    ttlMs,
    ...(staleWhileRevalidateMs === undefined ? {} : { staleWhileRevalidateMs }),
    ...(staleIfErrorMs === undefined ? {} : { staleIfErrorMs }),
    ...(softTimeoutMs === undefined ? {} : { softTimeoutMs }),
    ...(earlyRefresh === undefined ? {} : { earlyRefresh }),
  };
  const remember =
    typeof tags === 'function'
      ? { ...freshness, tags: (key: readonly KeyPart[], value: V) => tags(key[2] as K, value) }
      : { ...freshness, ...(tags === undefined ? {} : { tags }) };
  const readInto = options.readInto;
  const signalOf = options.signal;
  const batch = (keys: readonly K[]) => {
    const reads = readInto?.();
    const signal = signalOf?.();
    return cache.rememberMany<V, readonly KeyPart[]>(
      keys.map((key) => loaderCacheKey(name, key)),
      (missing, signal) =>
        load(
          missing.map((key) => key[2] as K),
          signal,
        ),
      {
        ...remember,
        ...(reads === undefined ? {} : { readInto: reads }),
        ...(signal === undefined ? {} : { signal }),
      },
    );
  };
  return new DataLoader<K, V>(batch, {
    ...(options.maxBatchSize === undefined ? {} : { maxBatchSize: options.maxBatchSize }),
    ...(options.batchScheduleFn === undefined ? {} : { batchScheduleFn: options.batchScheduleFn }),
  });
}
