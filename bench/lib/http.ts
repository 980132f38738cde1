/**
 * Shared by the HTTP scenarios: the systems under test, and their processes. Each system is one
 * server process (bench/servers/<file>.ts, under tsx) over one counted upstream process
 * (bench/servers/upstream.ts); both listen on free loopback ports and talk to this process over
 * IPC. Every wait is bounded and `close()` always ends both children (SIGKILL as a last resort).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { sleep } from './stats.js';
import type { Row } from './types.js';

/** The TTL every system caches the hot value for. */
export const TTL_MS = 2_000;
/** How long the upstream takes to answer GET /hot. */
export const UPSTREAM_DELAY_MS = 20;

export const QUERY = '{ hot { total updatedAt } }';
export const BODY = JSON.stringify({ query: QUERY });

export interface SystemDef {
  /** Row name in the tables. */
  system: string;
  /** bench/servers/<file>.ts */
  file: string;
  /** Environment for the server process (variants of one server file). */
  env?: Record<string, string>;
  /** The TTL this system caches the hot value for, when not TTL_MS (the http-steady expiry rows). */
  ttlMs?: number;
  /**
   * A header a warm server must answer the query with (checked by checkHit before measuring), so
   * a row that claims a cache is not measured without it.
   */
  hitHeader?: { name: string; value: string };
  note: string;
}

export const BASELINE = 'graphql-yoga, no cache';
/** graphql-flight as src/server.ts builds it by default: the response cache over the field cache. */
export const FLIGHT = 'graphql-flight (response cache)';
export const YOGA_RESPONSE_CACHE = 'graphql-yoga + response cache';
export const MERCURIUS = 'mercurius + mercurius-cache';

const FIELD_CACHE = `Pothos \`cache: { ttlMs: ${TTL_MS} }\` on Query.hot over createCache()`;

export const SYSTEMS: readonly SystemDef[] = [
  {
    system: FLIGHT,
    file: 'graphql-flight',
    env: { BENCH_MODE: 'response' },
    hitHeader: { name: 'x-cache', value: 'HIT' },
    note:
      `graphql-yoga + OperationCoalescing with responseCache over the field cache (${FIELD_CACHE}), one ` +
      'FlightCache for both, served as src/main.ts serves it: the public query is stored whole for its smallest ' +
      "field TTL and a repeat is answered by the plugin's node:http front door (X-Cache: HIT) before " +
      'whatwg-node or any Yoga hook runs; concurrent misses share one execution',
  },
  {
    system: 'graphql-flight (response cache, Yoga plugin only)',
    file: 'graphql-flight',
    env: { BENCH_MODE: 'plugin' },
    hitHeader: { name: 'x-cache', value: 'HIT' },
    note:
      "the same plugin without its front door (a Yoga server on any runtime): a hit is answered in Yoga's " +
      "onRequest hook, behind whatwg-node's Request and Response",
  },
  {
    system: 'graphql-flight, field cache only',
    file: 'graphql-flight',
    env: { BENCH_MODE: 'field' },
    note: `graphql-yoga + ${FIELD_CACHE}, no plugin: every request is parsed, validated and executed; the field cache coalesces the upstream calls process-wide`,
  },
  {
    system: 'graphql-flight, field cache + operation coalescing',
    file: 'graphql-flight',
    env: { BENCH_MODE: 'coalescing' },
    note:
      'the field-cache-only server with useOperationCoalescing() and no response cache: identical concurrent ' +
      'operations execute once, but every request is still parsed and validated',
  },
  { system: BASELINE, file: 'yoga', note: 'graphql-yoga, the resolver fetches on every request' },
  {
    system: YOGA_RESPONSE_CACHE,
    file: 'yoga-response-cache',
    note: `@graphql-yoga/plugin-response-cache, session null (public), ttl ${TTL_MS} ms, in-memory`,
  },
  {
    system: MERCURIUS,
    file: 'mercurius',
    note: `fastify + mercurius, mercurius-cache policy on Query.hot, ttl ${TTL_MS / 1_000} s, memory storage`,
  },
];

/**
 * Whether a response body is a good answer to QUERY: data with the hot value and no `errors`
 * (GraphQL errors come back with status 200 in every server, so status alone misses them).
 */
export function goodBody(body: string | Buffer | undefined): boolean {
  const text = typeof body === 'string' ? body : (body?.toString() ?? '');
  return text.includes('"total":') && !text.includes('"errors"');
}

/** The row of a system that could not be measured: every figure null, the reason in `failed`. */
export function failedRow(def: SystemDef, error: unknown, keys: readonly string[]): Row {
  const message = error instanceof Error ? error.message : String(error);
  return {
    system: def.system,
    values: Object.fromEntries(keys.map((key) => [key, null])),
    failed: message.split('\n')[0] ?? message,
  };
}

/** A scenario in which no system could be measured fails as a whole (the runner reports it). */
export function throwIfAllFailed(rows: readonly Row[]): void {
  if (rows.length > 0 && rows.every((row) => row.failed !== undefined)) {
    throw new Error(rows.map((row) => `${row.system}: ${row.failed}`).join('; '));
  }
}

const root = new URL('../../', import.meta.url);

/** Starts bench/servers/<file>.ts in a child process and waits (bounded) for its `ready` port. */
export function spawn(
  file: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(new URL(`../servers/${file}.ts`, import.meta.url), [], {
    cwd: root,
    env: { ...process.env, ...env },
    execArgv: ['--conditions=@graphql-flight/source', '--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${file}: not ready within 30 s`)), 30_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${error.message}${stderr ? `\n${stderr.trim()}` : ''}`));
    };
    child.once('exit', (code, signal) => fail(new Error(`${file}: exited (${code ?? signal}) before ready`)));
    child.once('error', fail);
    child.on('message', function onReady(message: { type?: string; port?: number }) {
      if (message?.type !== 'ready' || typeof message.port !== 'number') return;
      clearTimeout(timer);
      child.off('message', onReady);
      child.removeAllListeners('exit');
      child.removeAllListeners('error');
      child.on('error', () => {});
      resolve({ child, port: message.port });
    });
  });
}

/** Stops a child: `stop` over IPC, then SIGKILL if it has not exited within 3 s. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    if (child.connected) child.send({ type: 'stop' });
  } catch {
    // Channel already closed: the kill below ends it.
  }
  const timer = (ms: number) =>
    new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
  if ((await Promise.race([exited, timer(3_000)])) === 'timeout') {
    child.kill('SIGKILL');
    await Promise.race([exited, timer(2_000)]);
  }
}

export interface RunningSystem {
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  port: number;
  /** Upstream calls so far (one IPC round trip, bounded). */
  calls(): Promise<number>;
  /**
   * Upstream calls once the count has stopped moving (requests still in flight when the client
   * stopped are finished by the server): polled every 150 ms until two equal readings, at most 5 s.
   */
  settledCalls(): Promise<number>;
  close(): Promise<void>;
}

/** Starts a fresh upstream and a fresh server of `def` on it. */
export async function startSystem(def: SystemDef): Promise<RunningSystem> {
  const upstream = await spawn('upstream', { BENCH_UPSTREAM_DELAY_MS: String(UPSTREAM_DELAY_MS) });
  let server: { child: ChildProcess; port: number };
  try {
    server = await spawn(def.file, {
      ...def.env,
      BENCH_UPSTREAM_URL: `http://127.0.0.1:${upstream.port}`,
      BENCH_TTL_MS: String(def.ttlMs ?? TTL_MS),
    });
  } catch (error) {
    await stop(upstream.child);
    throw error;
  }
  const calls = () =>
    new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error('upstream: no count within 2 s')), 2_000);
      const onMessage = (message: { type?: string; calls?: number }) => {
        if (message?.type === 'count' && typeof message.calls === 'number') done(undefined, message.calls);
      };
      const done = (error?: Error, value?: number) => {
        clearTimeout(timer);
        upstream.child.off('message', onMessage);
        if (error) reject(error);
        else resolve(value!);
      };
      upstream.child.on('message', onMessage);
      upstream.child.send({ type: 'count' });
    });
  return {
    url: `http://127.0.0.1:${server.port}/graphql`,
    port: server.port,
    calls,
    async settledCalls() {
      let last = await calls();
      const deadline = performance.now() + 5_000;
      for (let equal = 0; equal < 2 && performance.now() < deadline; ) {
        await sleep(150);
        const now = await calls();
        equal = now === last ? equal + 1 : 0;
        last = now;
      }
      return last;
    },
    async close() {
      await Promise.allSettled([stop(server.child), stop(upstream.child)]);
    },
  };
}

/** One request of QUERY (bounded); throws unless it is a good answer; resolves its headers. */
async function postOnce(url: string): Promise<Headers> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: BODY,
    signal: AbortSignal.timeout(5_000),
  });
  const text = await response.text();
  if (!response.ok || !goodBody(text)) {
    throw new Error(`${url} answered ${response.status}: ${text.slice(0, 300)}`);
  }
  return response.headers;
}

/** Checks a server answers QUERY before measuring it. */
export async function checkOnce(url: string): Promise<void> {
  await postOnce(url);
}

/**
 * For a system with `hitHeader`: two requests of QUERY (the first may fill the cache), the second
 * must carry the header, else the row would not measure the cache it is named after.
 */
export async function checkHit(def: SystemDef, url: string): Promise<void> {
  if (def.hitHeader === undefined) return;
  const { name, value } = def.hitHeader;
  await postOnce(url);
  const found = (await postOnce(url)).get(name);
  if (found !== value) {
    throw new Error(
      `${def.system}: a repeated request was answered with ${name}: ${found ?? '(none)'}, not ${value}`,
    );
  }
}
