/**
 * Cold stampede: 1,000 concurrent callers of one cold key, a 20 ms loader (setTimeout). Each round
 * gives every system a fresh instance (cold), starts the 1,000 calls in one synchronous loop and
 * times each call from its start to its resolution.
 */
import { createPeer, type PeerId } from '../lib/peers.js';
import { medianRow, percentile, sleep } from '../lib/stats.js';
import type { Row, Scenario } from '../lib/types.js';

const CALLERS = 1_000;
const LOADER_MS = 20;
const SYSTEMS: PeerId[] = [
  'graphql-flight',
  'async-cache-dedupe',
  'bentocache',
  'cacheable',
  'keyv-naive',
  'dataloader',
];

async function round(id: PeerId, round: number): Promise<Record<string, number>> {
  let loads = 0;
  const peer = createPeer(id, {
    ttlMs: 60_000,
    load: async () => {
      loads++;
      await sleep(LOADER_MS);
      return { total: 42 };
    },
  });
  try {
    const key = `sales-summary:${round}`;
    const waits = await Promise.all(
      Array.from({ length: CALLERS }, async () => {
        const started = performance.now();
        await peer.get(key);
        return performance.now() - started;
      }),
    );
    waits.sort((a, b) => a - b);
    const p99 = percentile(waits, 0.99);
    return {
      loads,
      p50: percentile(waits, 0.5),
      p99,
      max: waits[waits.length - 1]!,
      p99Ratio: p99 / LOADER_MS,
    };
  } finally {
    await peer.close();
  }
}

export const scenario: Scenario = {
  id: 'cold-stampede',
  title: 'Cold stampede',
  async run(ctx) {
    // A round costs tens of milliseconds, so even a quick run takes the median of 5: one round is
    // at the mercy of a single GC pause or a neighbour's burst on a shared machine.
    const ROUNDS = Math.max(ctx.rounds, 5);
    const rows: Row[] = [];
    for (const id of SYSTEMS) {
      const rounds: Array<Record<string, number>> = [];
      let name = id as string;
      let note = '';
      // Round 0 warms the JIT for this system's code paths and is not counted.
      for (let r = 0; r <= ROUNDS; r++) {
        ctx.progress(`cold-stampede: ${id}, round ${r}/${ROUNDS}`);
        const figures = await round(id, r);
        if (r > 0) rounds.push(figures);
        // Let the previous round's timers and background writes settle before the next one.
        await sleep(20);
      }
      const probe = createPeer(id, { ttlMs: 1_000, load: async () => 0 });
      name = probe.name;
      note = probe.note;
      await probe.close();
      rows.push({ system: name, values: medianRow(rounds), note });
    }
    const flight = rows.find((row) => row.system === 'graphql-flight')!.values;
    const loads = flight.loads ?? Number.NaN;
    const p99Ratio = flight.p99Ratio ?? Number.NaN;
    return {
      id: 'cold-stampede',
      title: 'Cold stampede',
      description:
        `${CALLERS.toLocaleString('en-US')} concurrent callers of one cold key, ${LOADER_MS} ms loader (setTimeout); ` +
        'each round a fresh instance of each system (plus one uncounted warm-up round); wait = call start to resolution. ' +
        `Medians of ${ROUNDS} rounds.`,
      baseline: 'naive Keyv get-then-set',
      metrics: [
        { key: 'loads', label: 'loads', better: 'lower' },
        { key: 'p50', label: 'p50 wait ms', better: 'lower', digits: 2 },
        { key: 'p99', label: 'p99 wait ms', better: 'lower', digits: 2 },
        { key: 'max', label: 'max wait ms', better: 'lower', digits: 2 },
        { key: 'p99Ratio', label: 'p99 / loader', better: 'lower', digits: 2 },
      ],
      rows,
      goals: [
        {
          text: 'graphql-flight: 1 load',
          met: loads === 1,
          detail: `${loads} load(s) for ${CALLERS} callers`,
        },
        {
          text: 'graphql-flight: p99 wait <= 1.05x the loader time',
          met: p99Ratio <= 1.05,
          detail: `p99 ${(flight.p99 ?? Number.NaN).toFixed(2)} ms = ${p99Ratio.toFixed(3)}x the ${LOADER_MS} ms loader`,
        },
      ],
      chart: [{ metric: 'loads', title: `loads for ${CALLERS.toLocaleString('en-US')} concurrent callers` }],
    };
  },
};
