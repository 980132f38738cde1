/**
 * Expiry under load: one hot key with a 200 ms TTL and a 50 ms loader, read by 100 concurrent
 * caller loops for a fixed window. Each loop calls get, records the call's latency, pauses 1 ms
 * (setTimeout) and calls again until the window ends. A call is *blocked* when its latency is at
 * least 25 ms (half the loader time): it waited for a load instead of being answered from memory.
 * Every expiry without a grace (serve-stale) window blocks every loop for up to a whole load.
 */
import { createPeer, type PeerId, type PeerOptions } from '../lib/peers.js';
import { medianRow, percentile, sleep } from '../lib/stats.js';
import type { Row, Scenario } from '../lib/types.js';

const TTL_MS = 200;
const LOADER_MS = 50;
const LOOPS = 100;
const BLOCKED_MS = LOADER_MS / 2;
const KEY = 'hot-field';

interface System {
  id: PeerId;
  /** Serve-stale window where the peer documents one. */
  staleMs?: number;
}

const SYSTEMS: System[] = [
  { id: 'graphql-flight' },
  { id: 'async-cache-dedupe' },
  { id: 'async-cache-dedupe', staleMs: 1_000 },
  { id: 'bentocache' },
  { id: 'bentocache', staleMs: 10_000 },
  { id: 'cacheable' },
  { id: 'keyv-naive' },
];

async function round(system: System, windowMs: number) {
  let loads = 0;
  let counting = false;
  const options: PeerOptions<{ at: number }> = {
    ttlMs: TTL_MS,
    load: async () => {
      if (counting) loads++;
      await sleep(LOADER_MS);
      return { at: performance.now() };
    },
    ...(system.staleMs === undefined ? {} : { staleMs: system.staleMs }),
  };
  const peer = createPeer(system.id, options);
  try {
    await peer.get(KEY); // warm: the window starts with a fresh value, not a cold miss
    const latencies: number[] = [];
    counting = true;
    const end = performance.now() + windowMs;
    const loop = async () => {
      // Bounded by the window (and by a call count far above what a window can reach).
      for (let i = 0; i < 1_000_000 && performance.now() < end; i++) {
        const started = performance.now();
        await peer.get(KEY);
        latencies.push(performance.now() - started);
        await sleep(1);
      }
    };
    await Promise.all(Array.from({ length: LOOPS }, loop));
    counting = false;
    await sleep(LOADER_MS + 10); // let a refresh started at the end of the window finish before closing
    latencies.sort((a, b) => a - b);
    const blocked = latencies.length - lowerBound(latencies, BLOCKED_MS);
    return {
      name: peer.name,
      note: peer.note,
      values: {
        calls: latencies.length,
        loads,
        blocked,
        blockedPerLoad: loads > 0 ? blocked / loads : null,
        p50us: percentile(latencies, 0.5) * 1000,
        p999: percentile(latencies, 0.999),
        max: latencies[latencies.length - 1] ?? Number.NaN,
      },
    };
  } finally {
    await peer.close();
  }
}

/** Index of the first element >= value in an ascending array. */
function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export const scenario: Scenario = {
  id: 'expiry',
  title: 'Expiry under load',
  async run(ctx) {
    const windowMs = ctx.quick ? 800 : 2_000;
    const rows: Row[] = [];
    for (const system of SYSTEMS) {
      const rounds: Array<Record<string, number | null>> = [];
      let name = '';
      let note = '';
      for (let r = 1; r <= ctx.rounds; r++) {
        ctx.progress(`expiry: ${system.id}${system.staleMs ? ' (stale)' : ''}, round ${r}/${ctx.rounds}`);
        const result = await round(system, windowMs);
        rounds.push(result.values);
        name = result.name;
        note = result.note;
      }
      rows.push({ system: name, values: medianRow(rounds), note });
    }
    const flight = rows.find((row) => row.system === 'graphql-flight')!.values;
    const blocked = flight.blocked ?? Number.NaN;
    return {
      id: 'expiry',
      title: 'Expiry under load',
      description:
        `One key, TTL ${TTL_MS} ms, ${LOADER_MS} ms loader, ${LOOPS} concurrent caller loops for ${windowMs / 1000} s ` +
        '(each loop: get, record latency, pause 1 ms, repeat), started on a fresh value. ' +
        `Blocked call = latency >= ${BLOCKED_MS} ms (half the loader time): it waited for a load. ` +
        `loads = loader calls started in the window. Medians of ${ctx.rounds} round(s).`,
      baseline: 'naive Keyv get-then-set',
      metrics: [
        { key: 'calls', label: 'calls', better: 'higher' },
        { key: 'loads', label: 'loads', better: 'lower' },
        { key: 'blocked', label: 'blocked calls', better: 'lower', ratio: true },
        { key: 'blockedPerLoad', label: 'blocked per load', better: 'lower', digits: 1 },
        { key: 'p50us', label: 'p50 µs', better: 'lower', digits: 1 },
        { key: 'p999', label: 'p99.9 ms', better: 'lower', digits: 2 },
        { key: 'max', label: 'max ms', better: 'lower', digits: 2 },
      ],
      rows,
      goals: [
        {
          text: 'graphql-flight: no blocked calls once the grace window of the freshness work exists',
          met: blocked === 0,
          detail:
            blocked === 0
              ? 'no blocked calls'
              : `${blocked} blocked calls over ${flight.loads} loads: graphql-flight has no grace (serve-stale) window yet ` +
                '(the freshness work is a later issue), so each expiry makes every caller wait for the load',
        },
      ],
      notes: [
        'async-cache-dedupe takes TTLs in whole seconds, so it runs with a 1 s TTL (fewer expiries in the window): compare its blocked calls per load, not its totals.',
        "The (stale)/(grace) rows switch on the peer's documented serve-stale option: bentocache `grace` (with its default soft timeout 0), async-cache-dedupe `stale`.",
      ],
      chart: [{ metric: 'blocked', title: `blocked calls (>= ${BLOCKED_MS} ms) under expiry` }],
    };
  },
};
