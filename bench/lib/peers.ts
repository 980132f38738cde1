/**
 * The systems the library scenarios compare, behind one small interface, so every scenario sets
 * them up the same way. Each adapter is created with its loader and TTL (async-cache-dedupe binds
 * the loader when a function is defined, so the loader is fixed per adapter for everyone) and uses
 * the peer only through its published API, with its documented stampede protection switched on.
 *
 * `get(key)` is what an application writes: "the value of key, loading it on a miss". No adapter
 * wraps the peer's promise in an extra async function on the hit path, except the naive Keyv
 * get-then-set, whose async function *is* the code users write.
 */
import { createKeyv as createKeyvRedis } from '@keyv/redis';
import { createCache as createDedupeCache } from 'async-cache-dedupe';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis';
import { Cacheable } from 'cacheable';
import DataLoader from 'dataloader';
import { Redis, type RedisOptions } from 'ioredis';
import { Keyv } from 'keyv';
import { createCache } from '../../packages/graphql-flight/src/index.js';

export type PeerId =
  | 'graphql-flight'
  | 'async-cache-dedupe'
  | 'bentocache'
  | 'cacheable'
  | 'keyv-naive'
  | 'dataloader';

/** The name each system has in the tables. */
export const PEER_NAMES: Record<PeerId, string> = {
  'graphql-flight': 'graphql-flight',
  'async-cache-dedupe': 'async-cache-dedupe',
  bentocache: 'bentocache',
  cacheable: 'cacheable',
  'keyv-naive': 'naive Keyv get-then-set',
  dataloader: 'per-request DataLoader',
};

export interface PeerOptions<V> {
  /** How long a loaded value is fresh, in milliseconds. */
  ttlMs: number;
  /** The origin: called on a miss with the key asked for. */
  load: (key: string) => Promise<V>;
  /** Share values through this Redis, every key under `namespace` (the fleet scenario). */
  redis?: { url: string; namespace: string };
  /**
   * Serve the expired value while one caller refreshes it, for this long after the TTL, where the
   * peer documents such a window (graphql-flight `staleWhileRevalidateMs`, bentocache `grace`,
   * async-cache-dedupe `stale`); adapters without one ignore it.
   */
  staleMs?: number;
  /**
   * graphql-flight `staleIfErrorMs`: while refreshes fail, serve the stale value for this long past
   * the TTL. bentocache's `grace` (staleMs) is one window for both; the other adapters ignore it.
   */
  staleIfErrorMs?: number;
  /** graphql-flight `earlyRefresh` (XFetch); the other adapters have no such option and ignore it. */
  earlyRefresh?: { beta?: number };
  /**
   * Bound of the in-memory tier, in entries, for scenarios whose working set would not fit a
   * peer's default (hot hits). Unset: each library's own default (the unique-keys scenario).
   */
  capacity?: number;
}

export interface Peer<V> {
  readonly id: PeerId;
  readonly name: string;
  /** The TTL the peer actually applies (async-cache-dedupe rounds to whole seconds). */
  readonly ttlMs: number;
  /** Which protection is on and any setting that differs from the peer's defaults. */
  readonly note: string;
  get(key: string): Promise<V>;
  close(): Promise<void>;
}

/** Creates the adapter for one system. */
export function createPeer<V>(id: PeerId, options: PeerOptions<V>): Peer<V> {
  if (options.redis !== undefined && (id === 'keyv-naive' || id === 'dataloader')) {
    throw new Error(`${PEER_NAMES[id]} has no Redis adapter here (the fleet scenario does not measure it)`);
  }
  switch (id) {
    case 'graphql-flight':
      return graphqlFlight(options);
    case 'async-cache-dedupe':
      return asyncCacheDedupe(options);
    case 'bentocache':
      return bentocache(options);
    case 'cacheable':
      return cacheable(options);
    case 'keyv-naive':
      return keyvNaive(options);
    case 'dataloader':
      return perRequestDataLoader(options);
  }
}

function graphqlFlight<V>({
  ttlMs,
  load,
  redis,
  capacity,
  staleMs,
  staleIfErrorMs,
  earlyRefresh,
}: PeerOptions<V>): Peer<V> {
  const cache = createCache({
    defaultTtlMs: ttlMs,
    ...(capacity === undefined ? {} : { maxEntries: capacity }),
    ...(redis === undefined ? {} : { redisUrl: redis.url, namespace: redis.namespace }),
  });
  // The freshness windows, one object for every call (none at all when no window is asked for).
  const freshness = {
    ...(staleMs === undefined ? {} : { staleWhileRevalidateMs: staleMs }),
    ...(staleIfErrorMs === undefined ? {} : { staleIfErrorMs }),
    ...(earlyRefresh === undefined ? {} : { earlyRefresh }),
  };
  const notes = [
    `remember(): process-wide single flight per key${redis ? '; values shared through Redis, one loader per fleet (lease)' : ''}`,
  ];
  const windows: string[] = [];
  if (staleMs !== undefined) windows.push(`staleWhileRevalidateMs ${staleMs}`);
  if (staleIfErrorMs !== undefined) windows.push(`staleIfErrorMs ${staleIfErrorMs}`);
  if (earlyRefresh !== undefined) windows.push(`earlyRefresh { beta: ${earlyRefresh.beta ?? 1} }`);
  if (windows.length > 0) notes.push(windows.join(', '));
  if (capacity === undefined) notes.push('default bound (maxEntries 10,000)');
  const suffix =
    earlyRefresh !== undefined
      ? ' (XFetch)'
      : staleIfErrorMs !== undefined
        ? ' (stale-if-error)'
        : staleMs !== undefined
          ? ' (stale)'
          : '';
  return {
    id: 'graphql-flight',
    name: `${PEER_NAMES['graphql-flight']}${suffix}`,
    ttlMs,
    note: notes.join('; '),
    get:
      windows.length === 0
        ? (key) => cache.remember(key, () => load(key))
        : (key) => cache.remember(key, () => load(key), freshness),
    close: () => cache.close(),
  };
}

function asyncCacheDedupe<V>({ ttlMs, load, redis, staleMs, capacity }: PeerOptions<V>): Peer<V> {
  // TTLs are whole seconds in async-cache-dedupe (it rejects fractions), so shorter TTLs round up to 1 s.
  const ttl = Math.max(1, Math.round(ttlMs / 1000));
  const stale = staleMs === undefined ? 0 : Math.max(1, Math.round(staleMs / 1000));
  const client = redis === undefined ? undefined : new Redis(redis.url, { lazyConnect: false });
  const cache = createDedupeCache({
    ttl,
    ...(stale > 0 ? { stale } : {}),
    storage:
      client === undefined
        ? { type: 'memory', ...(capacity === undefined ? {} : { options: { size: capacity } }) }
        : { type: 'redis', options: { client } },
  }).define('fetchValue', (key: string) => load(key));
  // In Redis its keys are `fetchValue~<key>`: the fleet scenario puts its namespace in the key.
  const notes = ['define(): dedupes concurrent calls per key'];
  if (ttl * 1000 !== ttlMs) notes.push(`TTL ${ttl} s (whole seconds only; ${ttlMs} ms asked)`);
  if (stale > 0) notes.push(`stale ${stale} s (serves the old value while refreshing)`);
  if (client !== undefined) notes.push('redis storage');
  if (capacity === undefined && client === undefined) notes.push('default memory bound (1,024 per function)');
  return {
    id: 'async-cache-dedupe',
    name: stale > 0 ? `${PEER_NAMES['async-cache-dedupe']} (stale)` : PEER_NAMES['async-cache-dedupe'],
    ttlMs: ttl * 1000,
    note: notes.join('; '),
    get: (key) => cache.fetchValue(key) as Promise<V>,
    async close() {
      await client?.quit().catch(() => {});
    },
  };
}

function bentocache<V>({ ttlMs, load, redis, staleMs, capacity }: PeerOptions<V>): Peer<V> {
  const store = bentostore().useL1Layer(memoryDriver(capacity === undefined ? {} : { maxItems: capacity }));
  if (redis !== undefined) {
    const connection = redisOptions(redis.url);
    store.useL2Layer(redisDriver({ connection })).useBus(redisBusDriver({ connection }));
  }
  const bento = new BentoCache({
    default: 'cache',
    stores: { cache: store },
    ttl: ttlMs,
    ...(redis === undefined ? {} : { prefix: redis.namespace }),
    // `grace` with the default soft `timeout` of 0: an expired entry is returned at once and the
    // factory refreshes it in the background (bentocache's documented grace behaviour).
    ...(staleMs === undefined ? {} : { grace: staleMs }),
  });
  const notes = ['getOrSet(): per-key lock (stampede protection)', 'memory driver (L1)'];
  if (redis !== undefined) notes.push('Redis L2 + Redis bus');
  if (staleMs !== undefined) notes.push(`grace ${staleMs} ms, soft timeout 0`);
  if (capacity === undefined) notes.push('default memory bound (maxItems 1,000)');
  return {
    id: 'bentocache',
    name: staleMs === undefined ? PEER_NAMES.bentocache : `${PEER_NAMES.bentocache} (grace)`,
    ttlMs,
    note: notes.join('; '),
    get: (key) => bento.getOrSet<V>({ key, factory: () => load(key) }),
    close: () => bento.disconnect(),
  };
}

function cacheable<V>({ ttlMs, load, redis }: PeerOptions<V>): Peer<V> {
  // `capacity` is not needed: the default primary (CacheableMemory) has no LRU bound.
  const cache = new Cacheable({
    ttl: ttlMs,
    ...(redis === undefined ? {} : { secondary: createKeyvRedis(redis.url), namespace: redis.namespace }),
  });
  const notes = ['getOrSet(): coalesces concurrent calls per key (coalesceAsync)'];
  if (redis !== undefined) notes.push('@keyv/redis secondary, blocking (Redis read before the factory)');
  if (redis === undefined) notes.push('default primary (CacheableMemory, no LRU bound)');
  return {
    id: 'cacheable',
    name: PEER_NAMES.cacheable,
    ttlMs,
    note: notes.join('; '),
    get: (key) => cache.getOrSet(key, () => load(key)) as Promise<V>,
    async close() {
      await cache.disconnect().catch(() => {});
    },
  };
}

function keyvNaive<V>({ ttlMs, load }: PeerOptions<V>): Peer<V> {
  const keyv = new Keyv<V>({ ttl: ttlMs });
  return {
    id: 'keyv-naive',
    name: PEER_NAMES['keyv-naive'],
    ttlMs,
    note: 'no protection: await keyv.get(); on a miss load, then keyv.set() (default Map store, unbounded)',
    async get(key) {
      const hit = await keyv.get(key);
      if (hit !== undefined) return hit;
      const value = await load(key);
      await keyv.set(key, value, ttlMs);
      return value;
    },
    async close() {
      await keyv.disconnect();
    },
  };
}

/** A new DataLoader per simulated request, as DataLoader recommends: its memo lives one request. */
function perRequestDataLoader<V>({ ttlMs, load }: PeerOptions<V>): Peer<V> {
  const batch = (keys: readonly string[]) => Promise.all(keys.map((key) => load(key)));
  return {
    id: 'dataloader',
    name: PEER_NAMES.dataloader,
    ttlMs, // not applied: nothing outlives a request
    note: 'a new DataLoader per request (batching and memo within one request only); no TTL cache',
    get: (key) => new DataLoader<string, V>(batch).load(key),
    close: async () => {},
  };
}

/** ioredis connection options from a redis:// URL (bentocache opens its own connections from them). */
export function redisOptions(url: string): RedisOptions {
  const parsed = new URL(url);
  const db = Number(parsed.pathname.slice(1) || 0);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(Number.isInteger(db) && db > 0 ? { db } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** Deletes every key of `namespace` (SCAN, not KEYS), so a run leaves nothing behind in Redis. */
export async function deleteNamespace(url: string, namespace: string): Promise<number> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    let cursor = '0';
    let guard = 0;
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `*${namespace}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await client.del(...keys);
    } while (cursor !== '0' && ++guard < 10_000);
  } finally {
    await client.quit().catch(() => {});
  }
  return deleted;
}
