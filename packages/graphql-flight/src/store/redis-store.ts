import { createClient } from '@keyv/redis';
import { defaultDeserialize, defaultSerialize } from '@keyv/serialize';

export interface RedisOptions {
  /** Socket-level timeout: a connection silent this long is dropped and re-opened (frozen server). */
  socketTimeoutMs: number;
  connectTimeoutMs: number;
  /** Receives client and adapter errors (an unlistened `error` event would crash the process). */
  onError: (error: unknown) => void;
}

export type RedisClient = ReturnType<typeof connectClient>;

function connectClient(url: string, options: RedisOptions) {
  return createClient({
    url,
    disableOfflineQueue: true,
    // node-redis's socketTimeout is an idle timeout: without traffic an idle connection would be
    // dropped (an error reported) and re-opened every socketTimeoutMs, and a request arriving
    // while it reconnects would load locally. A PING at half that keeps it busy; a frozen
    // server, which answers nothing, is still dropped.
    pingInterval: Math.floor(options.socketTimeoutMs / 2),
    socket: {
      connectTimeout: options.connectTimeoutMs,
      socketTimeout: options.socketTimeoutMs,
      // Capped at half a second: a Redis that comes back is reached again, and the invalidations
      // queued for it land, well within a second (the README's bound), after any outage.
      reconnectStrategy: (retries: number) =>
        Math.min(50 * 2 ** retries, 500) + Math.floor(Math.random() * 50),
    },
  });
}

export interface RedisConnection {
  /** The client the cache's scripts, reads and pub/sub go through. */
  client: RedisClient;
  /**
   * Settles when the first connection attempt has succeeded or failed. Commands sent before it
   * would fail at once (no offline queue), so callers wait for it, under their own deadline.
   */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * A Redis client (node-redis, as @keyv/redis creates it), configured so that a dead or frozen
 * Redis cannot hang its callers:
 * - no offline queue: while disconnected, commands fail at once instead of piling up until a
 *   reconnect (@keyv/redis otherwise hangs on a dead server, keyv#1496);
 * - a socket timeout: a frozen server (SIGSTOP) drops the connection, failing the commands
 *   already written, and the client reconnects with capped backoff; a PING every half timeout
 *   keeps an idle connection to a healthy server from being dropped.
 * Values are read and written by the fleet's scripts (fenced writes and tag-checked reads need
 * compare-and-set, which Keyv's get/set interface has no word for), so no Keyv instance sits on it;
 * expiry is Redis's PX alone, so no process compares its clock with the writer's. The caller still
 * puts its own deadline on every call (StoreGuard); these settings bound what piles up underneath.
 */
export function connectRedis(url: string, options: RedisOptions): RedisConnection {
  const client = connectClient(url, options);
  client.on('error', options.onError);
  // Connect now rather than on the first request; failures surface as errors and reconnects.
  const ready = new Promise<void>((resolve) => {
    client.once('ready', resolve);
    client.once('error', () => resolve());
  });
  client.connect().catch(options.onError);
  return {
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
 * The payload of a value in Redis, `{"value": ...}` (@keyv/serialize: Buffers and the like
 * survive), inside the record the fleet's fill script writes (see encodeRecord).
 */
export function encodeStored(value: unknown): string {
  return defaultSerialize({ value });
}

export function decodeStored<T>(text: string): T {
  return (defaultDeserialize(text) as { value: T }).value;
}
