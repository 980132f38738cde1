import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, connect, createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@keyv/redis';
import {
  type CacheKey,
  type CacheOptions,
  createCache,
  encodeKey,
  type FlightCache,
} from '../../src/index.js';
import { decodeRecord, RedisKeys } from '../../src/store/redis-keys.js';
import { decodeStored } from '../../src/store/redis-store.js';

/** The machine's Redis, which the Redis suites use unless they start their own. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Answers whether a Redis answers PING at `url` within a short deadline. */
export async function redisAnswers(url = REDIS_URL): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(Number(port || 6379), hostname, () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/**
 * Whether the Redis suites run. Without a Redis they skip with a printed reason, unless
 * REQUIRE_REDIS=1 (as .ci/run sets), where a missing Redis fails the run instead.
 */
export async function redisSuiteEnabled(): Promise<boolean> {
  if (await redisAnswers()) return true;
  if (process.env.REQUIRE_REDIS === '1') {
    throw new Error(`REQUIRE_REDIS=1 but no Redis answers at ${REDIS_URL}`);
  }
  console.warn(
    `skipping Redis suite: no Redis answers at ${REDIS_URL} (set REQUIRE_REDIS=1 to fail instead)`,
  );
  return false;
}

/** A namespace of its own for each suite, so suites sharing the machine's Redis never meet. */
export function uniqueNamespace(label: string): string {
  return `t-${label}-${randomBytes(4).toString('hex')}`;
}

/** A raw client for assertions on what is in Redis. */
export async function rawClient(url = REDIS_URL) {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Deletes every key under `namespace:` (namespaces are [a-z0-9_-], so the pattern is literal). */
export async function dropNamespace(namespace: string, url = REDIS_URL): Promise<void> {
  const client = await rawClient(url);
  try {
    for await (const keys of client.scanIterator({ MATCH: `${namespace}:*`, COUNT: 500 })) {
      if (keys.length > 0) await client.unlink(keys);
    }
  } finally {
    client.destroy();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** A redis-server of the test's own, on a free loopback port, that the test may stop or freeze. */
export interface OwnRedis {
  url: string;
  port: number;
  pid: number;
  /** SIGSTOP: the socket stays open, nothing answers. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGKILL, and waits for the process to be gone. */
  kill(): Promise<void>;
  /** Starts a fresh server on the same port (after kill); empty unless started with `persist`. */
  restart(): Promise<void>;
  /** kill(), and removes the data directory of a persistent server. */
  stop(): Promise<void>;
}

export interface OwnRedisOptions {
  /**
   * Keep the data across kill() and restart(): an append-only file synced on every write, in a
   * directory of its own (removed by stop()). Default: no persistence, a restart starts empty.
   */
  persist?: boolean;
}

export async function startRedis(options: OwnRedisOptions = {}): Promise<OwnRedis> {
  const port = await freePort();
  const dir = options.persist ? mkdtempSync(join(tmpdir(), 'gf-redis-')) : undefined;
  const args = dir === undefined ? [] : ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir];
  let child: ChildProcess = await spawnRedis(port, args);
  const own: OwnRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return child.pid ?? -1;
    },
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    },
    restart: async () => {
      await own.kill();
      child = await spawnRedis(port, args);
    },
    stop: async () => {
      await own.kill();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
  return own;
}

async function spawnRedis(port: number, extra: readonly string[] = []): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      ...extra,
    ],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null)
      throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`);
    if (await redisAnswers(url)) return child;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server on port ${port} did not answer within 5 s`);
}

/** Waits (bounded) until `check` holds; for state another process (Redis) changes. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits (bounded) until every key exists in Redis: the cache writes Redis in the background. */
export async function untilStored(keys: readonly string[], url = REDIS_URL): Promise<void> {
  const client = await rawClient(url);
  try {
    await eventually(async () => (await client.exists([...keys])) === keys.length);
  } finally {
    client.destroy();
  }
}

/**
 * The caches one test opens on a namespace of its own (each instance stands for a process);
 * `closeAll()` closes them and drops the namespace's keys (call it in afterEach).
 */
export function cachesOn(label: string, url = REDIS_URL) {
  const namespace = uniqueNamespace(label);
  const open: FlightCache[] = [];
  return {
    namespace,
    open(options: CacheOptions = {}): FlightCache {
      const cache = createCache({ redisUrl: url, namespace, ...options });
      open.push(cache);
      return cache;
    },
    async closeAll(): Promise<void> {
      await Promise.all(open.splice(0).map((cache) => cache.close()));
      await dropNamespace(namespace, url);
    },
  };
}

/**
 * A loopback TCP proxy in front of a Redis that can hold the server's replies: while holding,
 * what Redis answers is kept (and counted) and reaches the client only on release. Commands pass
 * at once, so a test knows a command was answered while the client has not heard it yet.
 */
export async function replyHoldingProxy(targetPort: number): Promise<{
  url: string;
  hold(): void;
  /** Reply chunks kept since hold(). */
  readonly held: number;
  release(): void;
  close(): Promise<void>;
}> {
  let holding = false;
  const kept: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (holding) kept.push(() => client.write(chunk));
      else client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    hold() {
      holding = true;
    },
    get held() {
      return kept.length;
    },
    release() {
      holding = false;
      for (const write of kept.splice(0)) write();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The Redis keys of an encoded cache key `k` in `namespace` (see RedisKeys): value, lease, fence, soft state. */
export function layoutOf(namespace: string, k: string, secret?: string) {
  const keys = new RedisKeys(namespace, secret);
  const id = keys.keyId(k);
  return { id, value: keys.value(id), lease: keys.lease(id), fence: keys.tag(id), soft: keys.soft(id) };
}

/** The Redis key of the value of the encoded cache key `k`. */
export function valueKey(namespace: string, k: string, secret?: string): string {
  return layoutOf(namespace, k, secret).value;
}

/** The value a record in Redis holds (see encodeRecord), or undefined for anything else. */
export function recordValue<T>(raw: string | null): T | undefined {
  const record = raw === null ? undefined : decodeRecord(raw);
  return record === undefined ? undefined : decodeStored<T>(record.payload);
}

/** The Redis key of a tag's state (the sequence of its last invalidation) in `namespace`. */
export function tagKey(namespace: string, tag: string, secret?: string): string {
  const keys = new RedisKeys(namespace, secret);
  return keys.tag(keys.tagId(tag));
}

/**
 * An invalidation made in Redis exactly as FlightCache's is (INCR of the sequence; each key's
 * fence set to it, its value and lease deleted; each tag's state set to it), without the PUBLISH
 * that tells the processes: it stands for an invalidation whose message was lost. Resolves the
 * sequence it used.
 */
export async function invalidateSilently(
  namespace: string,
  what: { keys?: readonly CacheKey[]; tags?: readonly string[] },
  options: { url?: string; secret?: string; fenceTtlMs?: number } = {},
): Promise<number> {
  const layout = new RedisKeys(namespace, options.secret);
  const ttl = options.fenceTtlMs ?? 60_000;
  const client = await rawClient(options.url);
  try {
    const seq = await client.incr(layout.seq);
    for (const key of what.keys ?? []) {
      const id = layout.keyId(encodeKey(key));
      await client.set(layout.tag(id), String(seq), { expiration: { type: 'PX', value: ttl } });
      await client.del([layout.value(id), layout.lease(id)]);
    }
    for (const tag of what.tags ?? [])
      await client.set(layout.tag(layout.tagId(tag)), String(seq), {
        expiration: { type: 'PX', value: ttl },
      });
    return seq;
  } finally {
    client.destroy();
  }
}

/** Waits (bounded) until `count` connections listen on the fleet channel of `namespace`. */
export async function untilListening(namespace: string, count: number, url = REDIS_URL): Promise<void> {
  const client = await rawClient(url);
  const channel = `${namespace}:fleet`;
  try {
    await eventually(async () => Number((await client.pubSubNumSub(channel))[channel] ?? 0) >= count);
  } finally {
    client.destroy();
  }
}

/**
 * Sets the PTTL of the value of the cache key `key` in Redis (encoded there as `encodeKey`
 * does): how a test moves a value into a phase on Redis's clock. Resolves whether it was there.
 */
export async function expireValueIn(
  namespace: string,
  key: string,
  ms: number,
  url = REDIS_URL,
): Promise<boolean> {
  const client = await rawClient(url);
  try {
    return (await client.pExpire(valueKey(namespace, encodeKey(key)), ms)) === 1;
  } finally {
    client.destroy();
  }
}

/** The value Redis holds for the cache key `key`, or undefined. */
export async function valueInRedis<T>(
  namespace: string,
  key: string,
  url = REDIS_URL,
): Promise<T | undefined> {
  const client = await rawClient(url);
  try {
    return recordValue<T>(await client.get(valueKey(namespace, encodeKey(key))));
  } finally {
    client.destroy();
  }
}
