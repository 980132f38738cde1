/**
 * A fleet of Node processes sharing one Redis, for the multi-process suites (tests/fleet/).
 *
 * Each process is tests/fleet/worker.ts, started as `node --import tsx tests/fleet/worker.ts` with
 * an IPC channel. The parent configures every process ('config': each builds its FlightCache and
 * warms its connections, then says 'ready'), releases them together ('go' is sent to all only when
 * all are ready: the barrier), and collects one report per process and round. Every origin load
 * INCRs `${ns}:origin` and `${ns}:origin:${key}` in Redis, so the fleet's total is read in one place.
 *
 * Every wait here is bounded, and `stopFleets()` (called from afterEach) SIGKILLs every child a
 * test started, frozen or not.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FlightCache } from '../../src/index.js';
import { eventually, layoutOf, rawClient, recordValue, valueKey } from './redis.js';

/** The fleet figures of `cache.stats()`. */
export type FleetStats = ReturnType<FlightCache['stats']>['fleet'];

/** What one worker process is set up with ('config'). Loads are decided per key by the origin count. */
export interface WorkerConfig {
  redisUrl: string;
  namespace: string;
  /** Deadline of every Redis call of the cache (`storeTimeoutMs`). Default: the cache's. */
  storeTimeoutMs?: number;
  /** The cache's `breakerCooldownMs` (the suites that break Redis shorten it). Default: the cache's. */
  breakerCooldownMs?: number;
  /** The load deadline (`new SingleFlight({ timeoutMs })`). Default: the cache's (10 s). */
  flightTimeoutMs?: number;
  /** `fleet: false` turns the fleet protocol off. Default true. */
  fleet?: boolean;
  leaseTtlMs?: number;
  pollMinMs?: number;
  pollMaxMs?: number;
  heartbeat?: boolean;
  /** TTL of the values remembered (`ttlMs`). Default 60 000. */
  ttlMs?: number;
  /** How long the load of origin count 1 (for its key) sleeps before it settles. */
  firstLoadMs: number;
  /** How long every later load sleeps (also a load whose count Redis did not answer in time). */
  loadMs: number;
  /** The load of origin count 1 rejects (after `firstLoadMs`) instead of resolving. */
  failFirst?: boolean;
  /** How long a load waits for its origin INCR; past it the count is unknown (null). Default 1 000. */
  counterTimeoutMs?: number;
}

/** The value a worker's load resolves: whose load it was, and which origin call of the key. */
export interface LoadedValue {
  pid: number;
  /** The key's origin count this load got from Redis; null when Redis did not answer in time. */
  origin: number | null;
  /** The how-manieth load of the key in this process. */
  load: number;
}

export interface Waits {
  p50: number;
  p99: number;
  max: number;
}

/** One process's account of one round ('go'). */
export interface Report {
  pid: number;
  key: string;
  callers: number;
  /** Each distinct value (JSON of a LoadedValue) the callers resolved, with how many got it. */
  values: Record<string, number>;
  /** Each distinct rejection (code and message), with how many callers got it. */
  errors: Array<{ code: string | undefined; message: string; count: number }>;
  /** Each caller's time from its call to its settlement, in ms. */
  waits: Waits;
  /** Origin loads of the round's key this process ran (all rounds so far). */
  loads: number;
  /** The fleet figures gained during the round (end minus start; `enabled` as at the end). */
  fleet: FleetStats;
  breaker: string;
  /** Unhandled rejections and uncaught exceptions in this process since it started. */
  unhandled: string[];
}

/** One process's account of one batch round ('batch'). */
export interface BatchReport {
  pid: number;
  round: string;
  keys: string[];
  /** Each key's result, in key order: the value, or the rejection's code and message. */
  results: Array<LoadedValue | { error: string }>;
  /** The keys of each call of this process's loadMany, in call order. */
  loadManyCalls: string[][];
  /** The fleet figures gained during the round. */
  fleet: FleetStats;
  unhandled: string[];
}

export type ToWorker =
  | { type: 'config'; config: WorkerConfig }
  | { type: 'go'; key: string; callers: number }
  /** One `rememberMany(keys, loadMany)` call; 'started' (with `key: round`) once it is made. */
  | { type: 'batch'; round: string; keys: string[] }
  | { type: 'peek' }
  | { type: 'settle' }
  | { type: 'exit' };

export type FromWorker =
  | { type: 'hello'; pid: number }
  | { type: 'ready'; pid: number }
  /** The round's callers have all called `remember`. */
  | { type: 'started'; pid: number; key: string }
  /** An origin load began (after its INCR). */
  | { type: 'load'; pid: number; key: string; origin: number | null; load: number }
  | { type: 'done'; report: Report }
  | { type: 'batched'; report: BatchReport }
  /** Answer to 'peek': the round so far (the fleet figures since its 'go'). */
  | { type: 'progress'; pid: number; settled: number; callers: number; fleet: FleetStats }
  /** Answer to 'settle': the cache talks to Redis again without errors, its circuit closed. */
  | { type: 'settled'; pid: number }
  | { type: 'error'; pid: number; message: string };

type Message<T extends FromWorker['type']> = Extract<FromWorker, { type: T }>;

const WORKER = fileURLToPath(new URL('../fleet/worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Starting a process (Node + tsx + the sources) and warming its cache, on a busy 2-core machine. */
const START_MS = 15_000;

/** One child process. Messages queue up until a test takes them; `take` waits (bounded) for one. */
export class FleetWorker {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Messages not taken yet, each with its arrival time (performance.now() of this process). */
  readonly #inbox: Array<{ message: FromWorker; at: number }> = [];
  readonly #listeners = new Set<() => void>();
  #stderr = '';
  #exit: string | undefined;

  constructor() {
    this.child = fork(WORKER, [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    if (this.child.pid === undefined) throw new Error('fleet worker did not start');
    this.pid = this.child.pid;
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-2_000);
    });
    this.child.on('message', (message: FromWorker) => {
      this.#inbox.push({ message, at: performance.now() });
      this.#notify();
    });
    this.child.on('exit', (code, signal) => {
      this.#exit = `exited (${signal ?? code})`;
      this.#notify();
    });
    // A child killed while a message is on its way must not fail the parent.
    this.child.on('error', () => {});
  }

  get exited(): boolean {
    return this.#exit !== undefined;
  }

  send(message: ToWorker): void {
    if (!this.exited && this.child.connected) this.child.send(message);
  }

  /**
   * Takes the first queued message of `type` (and `match`), waiting up to `ms` for it. Rejects when
   * the process reports an error, exits, or stays silent past `ms`.
   */
  take<T extends FromWorker['type']>(
    type: T,
    ms: number,
    match: (message: Message<T>) => boolean = () => true,
    signal?: AbortSignal,
  ): Promise<{ message: Message<T>; at: number }> {
    return new Promise((resolve, reject) => {
      const onAbort = () => done(new Error(`stopped waiting for '${type}' from fleet worker ${this.pid}`));
      const check = () => {
        const failure = this.#inbox.find((entry) => entry.message.type === 'error');
        if (failure)
          return done(
            new Error(`fleet worker ${this.pid}: ${(failure.message as Message<'error'>).message}`),
          );
        const i = this.#inbox.findIndex(
          (entry) => entry.message.type === type && match(entry.message as Message<T>),
        );
        if (i >= 0) {
          const [entry] = this.#inbox.splice(i, 1);
          return done(undefined, entry as { message: Message<T>; at: number });
        }
        if (this.#exit !== undefined) {
          return done(new Error(`fleet worker ${this.pid} ${this.#exit} before '${type}'${this.#tail()}`));
        }
      };
      const timer = setTimeout(
        () => done(new Error(`fleet worker ${this.pid} sent no '${type}' within ${ms} ms${this.#tail()}`)),
        ms,
      );
      const done = (error: Error | undefined, entry?: { message: Message<T>; at: number }) => {
        clearTimeout(timer);
        this.#listeners.delete(check);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(entry!);
      };
      this.#listeners.add(check);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort();
      else check();
    });
  }

  /** The round so far, as the process sees it now (for stats that land after the callers settle). */
  async peek(ms = 2_000): Promise<Message<'progress'>> {
    this.send({ type: 'peek' });
    return (await this.take('progress', ms)).message;
  }

  /** Sends `signal` to the process (SIGSTOP freezes it, SIGCONT resumes it). */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    if (!this.exited) this.child.kill(signal);
  }

  /** SIGKILL, and waits (bounded) until the process is gone. */
  async kill(ms = 5_000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGCONT');
    this.child.kill('SIGKILL');
    await within(gone, ms, `fleet worker ${this.pid} to exit after SIGKILL`);
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  #tail(): string {
    const text = this.#stderr.trim();
    return text ? `; stderr: ${text}` : '';
  }
}

const live = new Set<Fleet>();

/** N worker processes on one Redis, configured alike. */
export class Fleet {
  readonly workers: FleetWorker[];

  private constructor(workers: FleetWorker[]) {
    this.workers = workers;
  }

  /** Starts `count` processes and configures them; resolves when every one is ready. */
  static async start(count: number, config: WorkerConfig): Promise<Fleet> {
    const fleet = new Fleet([]);
    live.add(fleet);
    for (let i = 0; i < count; i++) fleet.workers.push(new FleetWorker());
    await Promise.all(fleet.workers.map((worker) => worker.take('hello', START_MS)));
    await fleet.configure(config);
    return fleet;
  }

  /** (Re)configures every process: each closes its cache, if any, and opens a new one. */
  async configure(config: WorkerConfig): Promise<void> {
    for (const worker of this.workers) worker.send({ type: 'config', config });
    await Promise.all(this.workers.map((worker) => worker.take('ready', START_MS)));
  }

  worker(pid: number): FleetWorker {
    const worker = this.workers.find((w) => w.pid === pid);
    if (worker === undefined) throw new Error(`no fleet worker has pid ${pid}`);
    return worker;
  }

  /**
   * Releases `callers` concurrent `remember(key)` calls in each of `workers` (all by default), and
   * waits until every one of them has made its calls.
   */
  async go(key: string, callers: number, workers = this.workers): Promise<void> {
    for (const worker of workers) worker.send({ type: 'go', key, callers });
    await Promise.all(workers.map((worker) => worker.take('started', 5_000, (m) => m.key === key)));
  }

  /** The next origin load of `key` any worker begins (optionally only one with origin count `origin`). */
  async load(key: string, ms = 5_000, origin?: number): Promise<Message<'load'>> {
    const match = (m: Message<'load'>) => m.key === key && (origin === undefined || m.origin === origin);
    const alive = this.workers.filter((worker) => !worker.exited);
    const controller = new AbortController();
    try {
      return await Promise.any(
        alive.map(async (worker) => {
          const entry = await worker.take('load', ms, match, controller.signal);
          return entry.message;
        }),
      );
    } catch (error) {
      const reasons = error instanceof AggregateError ? error.errors.map(String).join('; ') : String(error);
      throw new Error(`no worker began a load of "${key}" within ${ms} ms: ${reasons}`);
    } finally {
      controller.abort();
    }
  }

  /** The round reports of `workers` (all by default), each with its arrival time; bounded by `ms`. */
  async reports(
    key: string,
    ms: number,
    workers = this.workers,
  ): Promise<Array<{ report: Report; at: number }>> {
    return Promise.all(
      workers.map(async (worker) => {
        const { message, at } = await worker.take('done', ms, (m) => m.report.key === key);
        return { report: message.report, at };
      }),
    );
  }

  /**
   * One batch round: worker i calls `rememberMany(keysPerWorker[i])` (all released together, once
   * every one is ready), and the reports of all, bounded by `ms`.
   */
  async batch(round: string, keysPerWorker: readonly string[][], ms = 10_000): Promise<BatchReport[]> {
    if (keysPerWorker.length !== this.workers.length)
      throw new Error(`batch: ${keysPerWorker.length} key lists for ${this.workers.length} workers`);
    for (const [i, worker] of this.workers.entries())
      worker.send({ type: 'batch', round, keys: [...keysPerWorker[i]!] });
    await Promise.all(this.workers.map((worker) => worker.take('started', 5_000, (m) => m.key === round)));
    return Promise.all(
      this.workers.map(
        async (worker) => (await worker.take('batched', ms, (m) => m.report.round === round)).message.report,
      ),
    );
  }

  /** One whole round: go, then every report (bounded by `ms`). */
  async round(key: string, callers: number, ms = 10_000): Promise<Report[]> {
    await this.go(key, callers);
    return (await this.reports(key, ms)).map((entry) => entry.report);
  }

  /** Waits until every process's cache talks to Redis without errors again (after a fault). */
  async settle(ms = 8_000): Promise<void> {
    for (const worker of this.workers) worker.send({ type: 'settle' });
    await Promise.all(this.workers.map((worker) => worker.take('settled', ms)));
  }

  /** SIGKILLs every process (bounded). */
  async stop(): Promise<void> {
    live.delete(this);
    await Promise.allSettled(this.workers.map((worker) => worker.kill()));
  }
}

/** Kills the processes of every fleet still running: afterEach calls it, so no test leaves children. */
export async function stopFleets(): Promise<void> {
  await Promise.allSettled([...live].map((fleet) => fleet.stop()));
}

/** Rejects with a message naming `what` if `promise` has not settled within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`waited more than ${ms} ms for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Origin loads counted in Redis: of `key`, or of the whole namespace. */
export async function originCount(url: string, namespace: string, key?: string): Promise<number> {
  const client = await rawClient(url);
  try {
    const counter = key === undefined ? `${namespace}:origin` : `${namespace}:origin:${key}`;
    return Number((await client.get(counter)) ?? 0);
  } finally {
    client.destroy();
  }
}

/** The value Redis holds for `key` (the cache's layout: `${ns}:v:${key}`, JSON `{"value":...}`). */
export async function storedValue(
  url: string,
  namespace: string,
  key: string,
): Promise<LoadedValue | undefined> {
  const client = await rawClient(url);
  try {
    const raw = await client.get(valueKey(namespace, `${key}`));
    return recordValue<LoadedValue>(raw);
  } finally {
    client.destroy();
  }
}

/**
 * The pid of the process holding the lease of `key` (the lease is `${pid}:${random}`), waiting
 * (bounded) until somebody holds it.
 */
export async function leaderPid(url: string, namespace: string, key: string, ms = 5_000): Promise<number> {
  const client = await rawClient(url);
  try {
    let lease: string | null = null;
    await eventually(async () => {
      lease = await client.get(layoutOf(namespace, key).lease);
      return lease !== null;
    }, ms);
    const pid = Number((lease as string | null)?.split(':')[0]);
    if (!Number.isSafeInteger(pid)) throw new Error(`lease of "${key}" does not start with a pid: ${lease}`);
    return pid;
  } finally {
    client.destroy();
  }
}

/** Processes subscribed to the fleet channel `${ns}:fleet`. */
export async function subscribers(url: string, namespace: string): Promise<number> {
  const client = await rawClient(url);
  try {
    const channel = `${namespace}:fleet`;
    return Number((await client.pubSubNumSub(channel))[channel] ?? 0);
  } finally {
    client.destroy();
  }
}

/** Waits until `count` processes listen on the fleet channel; gives up quietly after `ms`. */
export async function untilSubscribed(
  url: string,
  namespace: string,
  count: number,
  ms = 2_000,
): Promise<void> {
  await eventually(async () => (await subscribers(url, namespace)) >= count, ms).catch(() => {});
}

/** Every distinct value across `reports`, parsed. */
export function distinctValues(reports: readonly Report[]): LoadedValue[] {
  const all = new Set(reports.flatMap((report) => Object.keys(report.values)));
  return [...all].map((json) => JSON.parse(json) as LoadedValue);
}

/** How many callers across `reports` resolved a value / rejected. */
export function tally(reports: readonly Report[]): { resolved: number; rejected: number } {
  let resolved = 0;
  let rejected = 0;
  for (const report of reports) {
    for (const count of Object.values(report.values)) resolved += count;
    for (const error of report.errors) rejected += error.count;
  }
  return { resolved, rejected };
}

/** The sum of one fleet figure over `reports`. */
export function sumOf(reports: readonly Report[], figure: Exclude<keyof FleetStats, 'enabled'>): number {
  return reports.reduce((sum, report) => sum + Number(report.fleet[figure]), 0);
}
