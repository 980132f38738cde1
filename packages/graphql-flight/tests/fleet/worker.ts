/**
 * One process of the fleet suite: a child of tests/helpers/fleet.ts, started as
 * `node --import tsx tests/fleet/worker.ts` with an IPC channel (see FromWorker / ToWorker there).
 *
 * - 'config': closes its cache if it has one, opens `createCache({ redisUrl, namespace, fleet })`
 *   and a raw Redis client of its own for the origin counter, warms both (a key of this process
 *   alone, which counts no origin load), then says 'ready'.
 * - 'go': makes `callers` concurrent `remember(key, load)` calls at once, says 'started', and when
 *   all have settled sends a report: distinct values and errors, waits, loads, the fleet figures
 *   gained during the round, and every unhandled rejection this process has seen.
 * - 'batch': one `rememberMany(keys, loadMany)` call, says 'started' (`key`: the round), and when it
 *   has settled reports each key's result and the keys of each loadMany call.
 * - 'peek': the round so far; 'settle': waits until its cache reaches Redis cleanly again.
 *
 * The origin load INCRs `${ns}:origin` and `${ns}:origin:${key}` on the raw client, tells the parent
 * ('load'), sleeps (`firstLoadMs` for origin count 1 of its key, `loadMs` otherwise) and resolves
 * `{ pid, origin, load }`, so a test can tell whose load a value came from. It ignores its signal,
 * like an origin that cannot be cancelled: a paused leader finishes its load and tries to fill.
 *
 * It always ends: on 'exit', when the parent goes away (IPC disconnect), or after 60 s without a
 * message from the parent.
 */
import { createClient } from '@keyv/redis';
import { createCache, type FlightCache, SingleFlight } from '../../src/index.js';
import type {
  BatchReport,
  FleetStats,
  FromWorker,
  LoadedValue,
  Report,
  ToWorker,
  WorkerConfig,
} from '../helpers/fleet.js';

const IDLE_MS = 60_000;
const SETTLE_MS = 6_000;

if (process.send === undefined) {
  console.error('tests/fleet/worker.ts runs as a child of tests/helpers/fleet.ts (it needs an IPC channel)');
  process.exit(2);
}

const pid = process.pid;
const send = (message: FromWorker) => {
  if (process.connected) process.send?.(message);
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const unhandled: string[] = [];
process.on('unhandledRejection', (reason) => {
  unhandled.push(`unhandledRejection: ${describe(reason)}`);
});
process.on('uncaughtException', (error) => {
  unhandled.push(`uncaughtException: ${describe(error)}`);
});

let idle = setTimeout(() => process.exit(3), IDLE_MS);
const touch = () => {
  clearTimeout(idle);
  idle = setTimeout(() => process.exit(3), IDLE_MS);
};

type Counter = ReturnType<typeof connectCounter>;

function connectCounter(url: string) {
  return createClient({ url });
}

let config: WorkerConfig | undefined;
let cache: FlightCache | undefined;
let counter: Counter | undefined;
/** Origin loads per key in this process (under the current config). */
let loads = new Map<string, number>();
/** The round in progress, for 'peek'. */
let round: { callers: number; settled: number; before: FleetStats } | undefined;

async function configure(next: WorkerConfig): Promise<void> {
  await closeAll();
  config = next;
  loads = new Map();
  const fleet =
    next.fleet === false
      ? false
      : definedOnly({
          leaseTtlMs: next.leaseTtlMs,
          pollMinMs: next.pollMinMs,
          pollMaxMs: next.pollMaxMs,
          heartbeat: next.heartbeat,
        });
  cache = createCache({
    redisUrl: next.redisUrl,
    namespace: next.namespace,
    fleet,
    ...definedOnly({ storeTimeoutMs: next.storeTimeoutMs, breakerCooldownMs: next.breakerCooldownMs }),
    ...(next.flightTimeoutMs === undefined
      ? {}
      : { flight: new SingleFlight({ timeoutMs: next.flightTimeoutMs }) }),
  });
  const client = connectCounter(next.redisUrl);
  client.on('error', () => {});
  await client.connect();
  counter = client;
  // Open the cache's connections (store, scripts, subscription) before the barrier.
  await cache.remember(`warm-${pid}`, async () => 'warm');
  await client.ping();
}

/** The origin: counts itself in Redis, sleeps as configured, and names its process and count. */
async function load(key: string): Promise<LoadedValue> {
  const current = config!;
  const local = (loads.get(key) ?? 0) + 1;
  loads.set(key, local);
  const origin = await countOrigin(current, key);
  send({ type: 'load', pid, key, origin, load: local });
  const first = origin === 1;
  await sleep(first ? current.firstLoadMs : current.loadMs);
  if (first && current.failFirst) throw new Error(`origin failed (pid ${pid}, origin ${origin})`);
  return { pid, origin, load: local };
}

/**
 * The batch origin: counts each key in Redis as `load` does, sleeps once for all (`firstLoadMs` if
 * any key is at origin count 1, else `loadMs`) and resolves one LoadedValue per key.
 */
async function loadBatch(keys: string[]): Promise<LoadedValue[]> {
  const current = config!;
  const counted = await Promise.all(
    keys.map(async (key) => {
      const local = (loads.get(key) ?? 0) + 1;
      loads.set(key, local);
      const origin = await countOrigin(current, key);
      send({ type: 'load', pid, key, origin, load: local });
      return { pid, origin, load: local };
    }),
  );
  await sleep(counted.some((value) => value.origin === 1) ? current.firstLoadMs : current.loadMs);
  return counted;
}

async function batch(roundName: string, keys: string[]): Promise<void> {
  const active = cache!;
  const current = config!;
  const before = active.stats().fleet;
  const loadManyCalls: string[][] = [];
  const pending = active.rememberMany(
    keys,
    (missing: string[]) => {
      loadManyCalls.push([...missing]);
      return loadBatch(missing);
    },
    { ttlMs: current.ttlMs ?? 60_000 },
  );
  send({ type: 'started', pid, key: roundName });
  const settled = await pending.then(
    (values) => values,
    (error: unknown) => keys.map(() => (error instanceof Error ? error : new Error(String(error)))),
  );
  const report: BatchReport = {
    pid,
    round: roundName,
    keys,
    results: settled.map((result) =>
      result instanceof Error ? { error: `${codeOf(result)} ${describe(result)}` } : result,
    ),
    loadManyCalls,
    fleet: gained(before, active.stats().fleet),
    unhandled: [...unhandled],
  };
  send({ type: 'batched', report });
}

/** INCRs the fleet-wide counters; null when Redis does not answer within `counterTimeoutMs`. */
async function countOrigin(current: WorkerConfig, key: string): Promise<number | null> {
  const client = counter!;
  const ns = current.namespace;
  const incr = client
    .multi()
    .incr(`${ns}:origin`)
    .pExpire(`${ns}:origin`, 600_000)
    .incr(`${ns}:origin:${key}`)
    .pExpire(`${ns}:origin:${key}`, 600_000)
    .exec()
    .then((replies) => Number(replies[2]))
    .catch(() => null);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), current.counterTimeoutMs ?? 1_000);
  });
  try {
    return await Promise.race([incr, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function go(key: string, callers: number): Promise<void> {
  const active = cache!;
  const current = config!;
  const state = { callers, settled: 0, before: active.stats().fleet };
  round = state;
  const outcomes = Array.from({ length: callers }, () => {
    const started = performance.now();
    const elapsed = () => {
      state.settled++;
      return performance.now() - started;
    };
    return active
      .remember(key, () => load(key), { ttlMs: current.ttlMs ?? 60_000 })
      .then(
        (value) => ({ ok: true as const, value, ms: elapsed() }),
        (error: unknown) => ({ ok: false as const, error, ms: elapsed() }),
      );
  });
  send({ type: 'started', pid, key });
  const settled = await Promise.all(outcomes);

  const values: Record<string, number> = {};
  const errors = new Map<string, { code: string | undefined; message: string; count: number }>();
  for (const outcome of settled) {
    if (outcome.ok) {
      const json = JSON.stringify(outcome.value);
      values[json] = (values[json] ?? 0) + 1;
    } else {
      const code = codeOf(outcome.error);
      const message = describe(outcome.error);
      const id = `${code} ${message}`;
      const entry = errors.get(id) ?? { code, message, count: 0 };
      entry.count++;
      errors.set(id, entry);
    }
  }
  const waits = settled.map((outcome) => outcome.ms).sort((a, b) => a - b);
  const report: Report = {
    pid,
    key,
    callers,
    values,
    errors: [...errors.values()],
    waits: { p50: percentile(waits, 0.5), p99: percentile(waits, 0.99), max: waits.at(-1) ?? Number.NaN },
    loads: loads.get(key) ?? 0,
    fleet: gained(state.before, active.stats().fleet),
    breaker: active.stats().store.breaker,
    unhandled: [...unhandled],
  };
  send({ type: 'done', report });
}

/**
 * Calls Redis through the cache (keys of this process alone) until two calls in a row make no store
 * error with the circuit closed: after a Redis fault the connections are back.
 */
async function settleStore(): Promise<void> {
  const active = cache!;
  const started = performance.now();
  let clean = 0;
  for (let i = 0; clean < 2; i++) {
    if (performance.now() - started > SETTLE_MS) {
      throw new Error(
        `cache did not reach Redis cleanly within ${SETTLE_MS} ms: ${JSON.stringify(active.stats().store)}`,
      );
    }
    const errorsBefore = active.stats().storeErrors;
    await active.remember(`settle-${pid}-${Date.now()}-${i}`, async () => 'settle').catch(() => {});
    const stats = active.stats();
    clean = stats.storeErrors === errorsBefore && stats.store.breaker === 'closed' ? clean + 1 : 0;
    if (clean < 2) await sleep(50);
  }
}

async function closeAll(): Promise<void> {
  const open = cache;
  const client = counter;
  cache = undefined;
  counter = undefined;
  await Promise.race([
    Promise.allSettled([open?.close(), client?.isOpen ? client.quit() : undefined]),
    sleep(2_000),
  ]);
}

async function exit(code: number): Promise<never> {
  await closeAll();
  process.exit(code);
}

process.on('message', (message: ToWorker) => {
  touch();
  const handle = async () => {
    switch (message.type) {
      case 'config':
        await configure(message.config);
        send({ type: 'ready', pid });
        break;
      case 'go':
        await go(message.key, message.callers);
        break;
      case 'batch':
        await batch(message.round, message.keys);
        break;
      case 'peek': {
        const active = cache!;
        const state = round ?? { callers: 0, settled: 0, before: active.stats().fleet };
        send({
          type: 'progress',
          pid,
          settled: state.settled,
          callers: state.callers,
          fleet: gained(state.before, active.stats().fleet),
        });
        break;
      }
      case 'settle':
        await settleStore();
        send({ type: 'settled', pid });
        break;
      case 'exit':
        await exit(0);
    }
  };
  handle().catch((error: unknown) => send({ type: 'error', pid, message: describe(error) }));
});
process.on('disconnect', () => void exit(0));
send({ type: 'hello', pid });

/** The fleet figures gained between two snapshots. */
function gained(before: FleetStats, after: FleetStats): FleetStats {
  const delta = { ...after };
  for (const name of Object.keys(after) as Array<keyof FleetStats>) {
    const a = after[name];
    const b = before[name];
    if (typeof a === 'number' && typeof b === 'number') (delta as Record<string, unknown>)[name] = a - b;
  }
  return delta;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function definedOnly<T extends Record<string, unknown>>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
