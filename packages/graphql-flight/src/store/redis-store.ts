import KeyvRedis, { createClient } from '@keyv/redis';
import { defaultDeserialize, defaultSerialize } from '@keyv/serialize';
import { Keyv } from 'keyv';

export interface RedisKeyvOptions {
  /** Socket-level timeout: a connection silent this long is dropped and re-opened (frozen server). */
  socketTimeoutMs: number;
  connectTimeoutMs: number;
  /** Receives client and adapter errors (an unlistened `error` event would crash the process). */
  onError: (error: unknown) => void;
}

export type RedisClient = ReturnType<typeof connectClient>;

function connectClient(url: string, options: RedisKeyvOptions) {
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs,
      socketTimeout: options.socketTimeoutMs,
      reconnectStrategy: (retries: number) =>
        Math.min(50 * 2 ** retries, 2_000) + Math.floor(Math.random() * 50),
    },
  });
}

export interface RedisKeyv {
  keyv: Keyv;
  /** The client under Keyv, for the fleet's scripts and pub/sub (Keyv has no atomic primitives). */
  client: RedisClient;
  /**
   * Settles when the first connection attempt has succeeded or failed. Commands sent before it
   * would fail at once (no offline queue), so callers wait for it, under their own deadline.
   */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * A Keyv on @keyv/redis, configured so that a dead or frozen Redis cannot hang its callers:
 * - no offline queue: while disconnected, commands fail at once instead of piling up until a
 *   reconnect (@keyv/redis otherwise hangs on a dead server, keyv#1496);
 * - a socket timeout: a frozen server (SIGSTOP) drops the connection, failing the commands
 *   already written, and the client reconnects with capped backoff;
 * - no key prefixing by Keyv or the adapter: the cache builds complete keys itself, so a user key
 *   can never be taken for a prefixed one (Keyv skips its prefix for keys that look prefixed);
 * - no `expires` in the stored envelope: expiry is Redis's PX alone, so no process compares its
 *   clock with the writer's (Keyv deletes entries its own clock thinks expired).
 * The caller still puts its own deadline on every call (StoreGuard); these settings bound what
 * piles up underneath.
 */
export function createRedisKeyv(url: string, options: RedisKeyvOptions): RedisKeyv {
  const client = connectClient(url, options);
  client.on('error', options.onError);
  const adapter = new KeyvRedis(client, { throwOnConnectError: true, throwOnErrors: true });
  adapter.namespace = undefined;
  const keyv = new Keyv(adapter, {
    namespace: undefined,
    useKeyPrefix: false,
    throwOnErrors: true,
    serialize: (data) => encodeStored(data.value),
    deserialize: (text) => defaultDeserialize(text),
  });
  keyv.on('error', options.onError);
  // Connect now rather than on the first request; failures surface as errors and reconnects.
  const ready = new Promise<void>((resolve) => {
    client.once('ready', resolve);
    client.once('error', () => resolve());
  });
  client.connect().catch(options.onError);
  return {
    keyv,
    client,
    ready,
    async close() {
      client.off('error', options.onError);
      client.on('error', () => {});
      if (client.isOpen) client.destroy();
    },
  };
}

/**
 * The one format of a value in Redis, `{"value": ...}` (@keyv/serialize: Buffers and the like
 * survive), written by Keyv and by the fleet's fill script alike, so either can read the other's.
 */
export function encodeStored(value: unknown): string {
  return defaultSerialize({ value });
}

export function decodeStored<T>(text: string): T {
  return (defaultDeserialize(text) as { value: T }).value;
}

/**
 * A cache key's keys in the shared store, in its namespace: the value (`v`), and the fleet's
 * lease (`l`) and epoch (`e`).
 */
export function storeKey(namespace: string, kind: 'v' | 'l' | 'e', k: string): string {
  return `${namespace}:${kind}:${k}`;
}
