/**
 * Fleet expiry: the expiry scenario across a fleet. 4 processes on one Redis, 25 caller loops
 * each (100 in all, as in the expiry scenario), on one hot key with a 200 ms TTL and a 50 ms
 * loader that INCRs an origin counter in Redis, for a few seconds. Each loop calls, records the
 * call's latency, pauses 1 ms and calls again. The fleet's origin loads are the counter; a call
 * is blocked when it took at least half the loader time. With a revalidate window, one process
 * in the fleet should refresh per expiry while every caller is answered at once.
 */
import { randomBytes } from 'node:crypto';
import { type FleetRound, LoopFleet } from '../lib/fleet-loops.js';
import { deleteNamespace, PEER_NAMES, type PeerId } from '../lib/peers.js';
import { medianRow } from '../lib/stats.js';
import { goalFigures } from '../lib/goals.js';
import type { Goal, Row, Scenario } from '../lib/types.js';

const PROCESSES = 4;
const LOOPS = 25;
const TTL_MS = 200;
const LOADER_MS = 50;
const BLOCKED_MS = LOADER_MS / 2;
const STALE_MS = 1_000;
/** Goal of the graphql-flight (stale) row. */
const LOADS_PER_WINDOW = 1.1;
const STALE_FLIGHT = 'graphql-flight (stale)';

interface System {
  id: PeerId;
  staleMs?: number;
  note: string;
}

const SYSTEMS: System[] = [
  {
    id: 'graphql-flight',
    note: "createCache({ redisUrl, namespace }), no window: at each expiry the callers wait for the fleet lease holder's load",
  },
  {
    id: 'graphql-flight',
    staleMs: STALE_MS,
    note: `the same with staleWhileRevalidateMs ${STALE_MS}: stale at once, the refresh under the fleet lease`,
  },
  {
    id: 'bentocache',
    staleMs: 10_000,
    note: 'getOrSet() with memory L1 + Redis L2 + Redis bus, grace 10 s (soft timeout 0): a refresh per process',
  },
];

const nameOf = (system: System) =>
  system.staleMs === undefined
    ? PEER_NAMES[system.id]
    : `${PEER_NAMES[system.id]} (${system.id === 'bentocache' ? 'grace' : 'stale'})`;

function figures(round: FleetRound): Record<string, number | null> {
  const { done, origin, windowMs } = round;
  return {
    calls: done.reduce((sum, d) => sum + d.calls, 0),
    loads: origin,
    loadsPerWindow: origin / (windowMs / TTL_MS),
    processesLoading: done.filter((d) => d.attempts > 0).length,
    blocked: done.reduce((sum, d) => sum + d.blocked, 0),
    p999: Math.max(...done.map((d) => d.p999)),
    max: Math.max(...done.map((d) => d.max)),
    errors: done.reduce((sum, d) => sum + d.errors, 0),
  };
}

export const scenario: Scenario = {
  id: 'fleet-expiry',
  title: 'Fleet expiry',
  async run(ctx) {
    const windowMs = ctx.quick ? 1_500 : 4_000;
    const base = {
      id: 'fleet-expiry',
      title: 'Fleet expiry',
      description:
        `${PROCESSES} processes on one Redis, ${LOOPS} caller loops each (${PROCESSES * LOOPS} in all; each loop: get, ` +
        `record latency, pause 1 ms, repeat) on one key, TTL ${TTL_MS} ms, ${LOADER_MS} ms loader that INCRs an origin ` +
        `counter in Redis, ${windowMs / 1000} s, started together on a fresh value every process has read. ` +
        `loads = the counter (the fleet's origin loads in the window); loads / TTL window = loads divided by the ` +
        `TTL windows the window holds; blocked call = latency >= ${BLOCKED_MS} ms; p99.9 and max: worst process. ` +
        `Medians of ${ctx.rounds} round(s).`,
      baseline: STALE_FLIGHT,
      metrics: [
        { key: 'calls', label: 'calls (fleet)', better: 'higher' as const },
        { key: 'loads', label: 'origin loads (fleet)', better: 'lower' as const },
        {
          key: 'loadsPerWindow',
          label: 'loads / TTL window',
          better: 'lower' as const,
          digits: 2,
          ratio: true,
        },
        { key: 'processesLoading', label: 'processes that loaded', better: 'lower' as const },
        { key: 'blocked', label: 'blocked calls', better: 'lower' as const },
        { key: 'p999', label: 'p99.9 ms', better: 'lower' as const, digits: 2 },
        { key: 'max', label: 'max ms', better: 'lower' as const, digits: 2 },
        { key: 'errors', label: 'errors', better: 'lower' as const },
      ],
      chart: [{ metric: 'loadsPerWindow', title: `fleet origin loads per ${TTL_MS} ms TTL window` }],
    };
    const redisUrl = ctx.redisUrl;
    if (redisUrl === undefined) return { ...base, rows: [], skipped: 'no Redis at REDIS_URL' };

    const namespace = `gfbench-fx-${process.pid}-${randomBytes(4).toString('hex')}`;
    const notes: string[] = [];
    const rows: Row[] = [];
    let fleet: LoopFleet | undefined;
    try {
      ctx.progress(`fleet-expiry: starting ${PROCESSES} processes`);
      fleet = await LoopFleet.start(PROCESSES, redisUrl);
      for (const [s, system] of SYSTEMS.entries()) {
        const name = nameOf(system);
        const rounds: Array<Record<string, number | null>> = [];
        let failed: string | undefined;
        for (let r = 1; r <= ctx.rounds; r++) {
          ctx.progress(`fleet-expiry: ${name}, round ${r}/${ctx.rounds}`);
          try {
            const round = await fleet.round(
              {
                system: system.id,
                redisUrl,
                namespace,
                key: `${namespace}:${s}:${r}:hot-field`,
                counterKey: `${namespace}:origin:${s}:${r}`,
                ttlMs: TTL_MS,
                loaderMs: LOADER_MS,
                ...(system.staleMs === undefined ? {} : { staleMs: system.staleMs }),
                loops: LOOPS,
                blockedMs: BLOCKED_MS,
              },
              windowMs,
            );
            notes.push(...round.notes.map((note) => `${name} round ${r}: ${note}`));
            rounds.push(figures(round));
          } catch (error) {
            failed = error instanceof Error ? error.message : String(error);
            // A process that stopped answering is of no further use: end the scenario there.
            if (fleet.exited) throw error;
            break;
          }
        }
        rows.push({
          system: name,
          values: medianRow(rounds),
          note: system.note,
          ...(failed === undefined ? {} : { failed }),
        });
      }
    } finally {
      ctx.progress('fleet-expiry: stopping processes, deleting keys');
      await fleet?.stop();
      const deleted = await deleteNamespace(redisUrl, namespace).catch(() => -1);
      if (deleted < 0) notes.push(`could not delete the keys of namespace ${namespace}`);
    }
    return {
      ...base,
      rows,
      goals: goals(rows.find((row) => row.system === STALE_FLIGHT)),
      notes: [
        "bentocache's lock is per process (its bus only tells the other processes to drop their L1 copy), so each process refreshes on its own: see processes that loaded and loads per TTL window.",
        ...notes,
      ],
    };
  },
};

function goals(row: Row | undefined): Goal[] {
  const { value, missing } = goalFigures(row);
  const perWindow = value('loadsPerWindow');
  const blocked = value('blocked');
  return [
    {
      text: `${STALE_FLIGHT}, ${PROCESSES} processes: fleet loads per TTL window <= ${LOADS_PER_WINDOW}`,
      met: perWindow !== null && perWindow <= LOADS_PER_WINDOW,
      detail:
        perWindow === null
          ? missing
          : `${perWindow.toFixed(2)} (${value('loads')} loads, ${value('processesLoading')} process(es) loaded)`,
    },
    {
      text: `${STALE_FLIGHT}, ${PROCESSES} processes: 0 blocked calls`,
      met: blocked === 0,
      detail: blocked === null ? missing : `${blocked} blocked, max ${value('max')?.toFixed(2)} ms`,
    },
  ];
}
