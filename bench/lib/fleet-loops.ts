/**
 * The fleet of caller loops (fleet-expiry, origin-outage): N processes on one Redis
 * (bench/scenarios/fleet-loop-worker.ts), each running the same caller loops on one hot key for a
 * window, with an origin whose attempts INCR one counter in Redis, so the fleet's total is read in
 * one place (and cross-checked against the counts the processes report). Every wait is bounded;
 * `stop()` kills a process that overstays.
 */
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { FleetProcess } from './fleet-process.js';
import type { Outage } from './origin.js';
import { epochNow } from './origin.js';
import type { PeerId } from './peers.js';

export interface LoopJob {
  type: 'prepare';
  system: PeerId;
  redisUrl: string;
  namespace: string;
  key: string;
  /** The Redis key every counted origin attempt INCRs. */
  counterKey: string;
  ttlMs: number;
  loaderMs: number;
  staleMs?: number;
  staleIfErrorMs?: number;
  /** Caller loops in this process. */
  loops: number;
  /** A call at least this slow is blocked. */
  blockedMs: number;
}

export interface LoopGo {
  type: 'go';
  /** When the loops stop (epoch ms). */
  endAt: number;
  outage?: Outage;
}

export type ToLoopWorker = LoopJob | { type: 'warm' } | LoopGo | { type: 'close' } | { type: 'exit' };

export interface LoopDone {
  type: 'done';
  /** When this process started its loops (epoch ms). */
  startedAt: number;
  calls: number;
  blocked: number;
  p999: number;
  max: number;
  errors: number;
  /** Origin attempts this process started in the window, and those that failed (the outage). */
  attempts: number;
  failed: number;
  /** When a caller here first got a value loaded after the outage (epoch ms), or null. */
  firstFreshAt: number | null;
}

export type FromLoopWorker =
  | { type: 'hello' }
  | { type: 'ready' }
  | { type: 'warmed' }
  | LoopDone
  | { type: 'closed' }
  | { type: 'error'; message: string };

type Worker = FleetProcess<ToLoopWorker, FromLoopWorker>;

export interface FleetRound {
  done: LoopDone[];
  /** Origin attempts of the fleet in the window, as the Redis counter has them. */
  origin: number;
  /** The window measured: from the first process's start to the end (ms). */
  windowMs: number;
  /** Something the round saw that the figures do not show (a count mismatch). */
  notes: string[];
}

export class LoopFleet {
  readonly #workers: Worker[];
  readonly #redis: Redis;

  private constructor(workers: Worker[], redis: Redis) {
    this.#workers = workers;
    this.#redis = redis;
  }

  /** Starts `size` processes and waits (bounded) until each has said hello. */
  static async start(size: number, redisUrl: string): Promise<LoopFleet> {
    const script = fileURLToPath(new URL('../scenarios/fleet-loop-worker.ts', import.meta.url));
    const tsx = import.meta.resolve('tsx');
    const workers: Worker[] = [];
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    const fleet = new LoopFleet(workers, redis);
    try {
      for (let i = 0; i < size; i++)
        workers.push(new FleetProcess<ToLoopWorker, FromLoopWorker>(script, tsx));
      await Promise.all(workers.map((worker) => worker.expect('hello')));
    } catch (error) {
      await fleet.stop();
      throw error;
    }
    return fleet;
  }

  get exited(): boolean {
    return this.#workers.some((worker) => worker.exited);
  }

  /**
   * One round: every process sets the system up; the first loads the hot key, then the others
   * read it (so the window starts on a fresh, shared value); all start their loops together
   * (`go`), for `windowMs`; the round ends when every process has reported, and closes the systems.
   */
  async round(
    job: Omit<LoopJob, 'type'>,
    windowMs: number,
    outage?: (startAt: number) => Outage,
  ): Promise<FleetRound> {
    const workers = this.#workers;
    const notes: string[] = [];
    try {
      for (const worker of workers) worker.send({ type: 'prepare', ...job });
      await Promise.all(workers.map((worker) => worker.expect('ready')));
      const [first, ...rest] = workers;
      first?.send({ type: 'warm' });
      await first?.expect('warmed');
      for (const worker of rest) worker.send({ type: 'warm' });
      await Promise.all(rest.map((worker) => worker.expect('warmed')));
      const now = epochNow();
      const go: LoopGo = { type: 'go', endAt: now + windowMs, ...(outage ? { outage: outage(now) } : {}) };
      for (const worker of workers) worker.send(go); // the barrier
      const done = await Promise.all(workers.map((worker) => worker.expect('done', windowMs + 15_000)));
      const origin = Number((await this.#redis.get(job.counterKey)) ?? 0);
      const reported = done.reduce((sum, d) => sum + d.attempts, 0);
      if (reported !== origin)
        notes.push(`Redis counted ${origin} origin attempts, the processes reported ${reported}`);
      for (const worker of workers) worker.send({ type: 'close' });
      await Promise.all(workers.map((worker) => worker.expect('closed')));
      return { done, origin, windowMs: go.endAt - Math.min(...done.map((d) => d.startedAt)), notes };
    } catch (error) {
      // Leave the processes in a known state for the next round (or the stop that follows).
      if (!this.exited) {
        for (const worker of workers) worker.send({ type: 'close' });
        await Promise.allSettled(workers.map((worker) => worker.next(5_000)));
      }
      throw error;
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.stop({ type: 'exit' })));
    await this.#redis.quit().catch(() => {});
  }
}
