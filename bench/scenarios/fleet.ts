/**
 * Fleet stampede: 4 processes on one Redis, 250 concurrent callers each, one cold key, a 50 ms
 * loader that INCRs a shared origin counter in Redis. The processes (fleet-worker.ts, started once
 * per run) set the system up and warm its connections, then wait at a barrier: the parent sends
 * 'go' to all four only when all four are ready. Total origin loads = the counter (cross-checked
 * against the per-process counts sent back over IPC). Keys live under a namespace unique to the
 * run and are deleted at the end. Every wait is bounded; children are killed if they overstay.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { FleetProcess } from '../lib/fleet-process.js';
import { deleteNamespace, PEER_NAMES, type PeerId } from '../lib/peers.js';
import { medianRow } from '../lib/stats.js';
import type { Row, Scenario } from '../lib/types.js';
import type { FromWorker, ToWorker } from './fleet-worker.js';

const PROCESSES = 4;
const CALLERS = 250;
const LOADER_MS = 50;
const SYSTEMS: PeerId[] = ['graphql-flight', 'async-cache-dedupe', 'bentocache', 'cacheable'];
const NOTES: Record<string, string> = {
  'graphql-flight':
    'createCache({ redisUrl, namespace }): a lease in Redis elects one loader for the fleet; the others wait for its fill (pub/sub, polling as the guarantee)',
  'async-cache-dedupe': 'define() with redis storage (ioredis): dedupe per process, values in Redis',
  bentocache: 'getOrSet() with memory L1 + Redis L2 + Redis bus: per-key lock per process',
  cacheable:
    'getOrSet() with a blocking @keyv/redis secondary: coalesced per process, reads Redis before loading',
};

type Worker = FleetProcess<ToWorker, FromWorker>;

export const scenario: Scenario = {
  id: 'fleet',
  title: 'Fleet stampede',
  async run(ctx) {
    const base = {
      id: 'fleet',
      title: 'Fleet stampede',
      description:
        `${PROCESSES} processes on one Redis, ${CALLERS} concurrent callers each (${PROCESSES * CALLERS} in all), one cold key, ` +
        `${LOADER_MS} ms loader that INCRs a shared origin counter in Redis; all processes released together by a barrier ` +
        `after setting up and warming their connections. Medians of ${ctx.rounds} round(s).`,
      baseline: 'cacheable',
      metrics: [
        { key: 'loads', label: 'origin loads (fleet)', better: 'lower' as const, ratio: true },
        { key: 'processesLoading', label: 'processes that loaded', better: 'lower' as const },
        { key: 'p99', label: 'p99 wait ms (worst process)', better: 'lower' as const, digits: 1 },
        { key: 'spread', label: 'release spread ms', better: 'lower' as const, digits: 2 },
      ],
      chart: [{ metric: 'loads', title: `origin loads for ${PROCESSES} processes x ${CALLERS} callers` }],
    };
    const redisUrl = ctx.redisUrl;
    if (redisUrl === undefined) return { ...base, rows: [], skipped: 'no Redis at REDIS_URL' };

    const namespace = `gfbench-${process.pid}-${randomBytes(4).toString('hex')}`;
    const script = fileURLToPath(new URL('./fleet-worker.ts', import.meta.url));
    const tsx = import.meta.resolve('tsx');
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    const workers: Worker[] = [];
    const notes: string[] = [];
    const rows: Row[] = [];
    try {
      ctx.progress(`fleet: starting ${PROCESSES} processes`);
      for (let i = 0; i < PROCESSES; i++) workers.push(new FleetProcess<ToWorker, FromWorker>(script, tsx));
      await Promise.all(workers.map((worker) => worker.expect('hello')));

      for (const system of SYSTEMS) {
        const rounds: Array<Record<string, number | null>> = [];
        for (let r = 1; r <= ctx.rounds; r++) {
          ctx.progress(`fleet: ${system}, round ${r}/${ctx.rounds}`);
          const key = `${namespace}:${system}:${r}:sales-summary`;
          const counterKey = `${namespace}:origin:${system}:${r}`;
          try {
            for (const worker of workers) {
              worker.send({
                type: 'prepare',
                system,
                redisUrl,
                namespace,
                key,
                counterKey,
                callers: CALLERS,
                loaderMs: LOADER_MS,
              });
            }
            await Promise.all(workers.map((worker) => worker.expect('ready')));
            for (const worker of workers) worker.send({ type: 'go' }); // the barrier
            const done = await Promise.all(workers.map((worker) => worker.expect('done')));
            const origin = Number((await redis.get(counterKey)) ?? 0);
            const reported = done.reduce((sum, d) => sum + d.loads, 0);
            if (reported !== origin) {
              notes.push(
                `${system} round ${r}: Redis counted ${origin} loads, processes reported ${reported}`,
              );
            }
            const failed = done.reduce((sum, d) => sum + d.failed, 0);
            if (failed > 0) notes.push(`${system} round ${r}: ${failed} call(s) failed`);
            rounds.push({
              loads: origin,
              processesLoading: done.filter((d) => d.loads > 0).length,
              p99: Math.max(...done.map((d) => d.p99)),
              // How far apart the barrier released the processes (first to last caller wave).
              spread: Math.max(...done.map((d) => d.startedAt)) - Math.min(...done.map((d) => d.startedAt)),
            });
            for (const worker of workers) worker.send({ type: 'close' });
            await Promise.all(workers.map((worker) => worker.expect('closed')));
          } catch (error) {
            notes.push(
              `${system} round ${r} failed: ${error instanceof Error ? error.message : String(error)}`,
            );
            // A worker that stopped answering is of no further use: end the scenario's rounds for it.
            if (workers.some((worker) => worker.exited)) throw error;
            for (const worker of workers) worker.send({ type: 'close' });
            await Promise.allSettled(workers.map((worker) => worker.next(5_000)));
          }
        }
        rows.push({ system: PEER_NAMES[system], values: medianRow(rounds), note: NOTES[system] ?? '' });
      }
    } finally {
      ctx.progress('fleet: stopping processes, deleting keys');
      await Promise.all(workers.map((worker) => worker.stop({ type: 'exit' })));
      await redis.quit().catch(() => {});
      const deleted = await deleteNamespace(redisUrl, namespace).catch(() => -1);
      if (deleted < 0) notes.push(`could not delete the keys of namespace ${namespace}`);
    }
    const flight = rows.find((row) => row.system === 'graphql-flight')?.values.loads ?? null;
    const flightP99 = rows.find((row) => row.system === 'graphql-flight')?.values.p99 ?? null;
    const peers = rows.filter((row) => row.system !== 'graphql-flight').map((row) => row.values.loads);
    return {
      ...base,
      rows,
      goals: [
        {
          text: `graphql-flight: 1 origin load for the whole fleet (${PROCESSES} processes) where every peer makes ${PROCESSES}`,
          met: flight === 1,
          detail:
            flight === 1
              ? `1 load; peers: ${peers.join(', ')}`
              : `${flight ?? 'no'} loads (peers: ${peers.join(', ')})`,
        },
        {
          text: `graphql-flight: p99 wait within 1.5x the origin latency (${LOADER_MS} ms)`,
          met: flightP99 !== null && flightP99 <= 1.5 * LOADER_MS,
          detail:
            flightP99 === null
              ? 'not measured'
              : `worst process p99 ${flightP99.toFixed(1)} ms = ${(flightP99 / LOADER_MS).toFixed(2)}x the origin latency`,
        },
      ],
      ...(notes.length > 0 ? { notes } : {}),
    };
  },
};
