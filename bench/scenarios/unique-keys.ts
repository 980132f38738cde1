/**
 * Unique keys: 200,000 distinct keys through each system's get-or-load with a trivial loader, in
 * waves of 1,000 concurrent calls, each system with its default memory bound. Heap growth is the
 * heap in use after the run minus before it, both after forced full collections (global.gc, so
 * node must run with --expose-gc), while the cache is still alive: what the cache keeps.
 */
import { createPeer, type PeerId } from '../lib/peers.js';
import { medianRow } from '../lib/stats.js';
import type { Row, Scenario } from '../lib/types.js';

const KEYS = 200_000;
const WAVE = 1_000;
const MB = 1024 * 1024;
const SYSTEMS: PeerId[] = ['graphql-flight', 'async-cache-dedupe', 'bentocache', 'cacheable', 'keyv-naive'];

const gc = (globalThis as { gc?: () => void }).gc;

function heapAfterGc(): number | null {
  if (gc === undefined) return null;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

async function round(id: PeerId, keys: number) {
  let loads = 0;
  const peer = createPeer(id, {
    ttlMs: 600_000,
    load: async (key) => {
      loads++;
      return { key, n: loads };
    },
  });
  try {
    const before = heapAfterGc();
    const started = performance.now();
    for (let base = 0; base < keys; base += WAVE) {
      const wave: Promise<unknown>[] = [];
      for (let i = base; i < Math.min(keys, base + WAVE); i++) wave.push(peer.get(`user:${i}:profile`));
      await Promise.all(wave);
    }
    const ms = performance.now() - started;
    const after = heapAfterGc();
    const loaded = loads;
    // The peer is used after the measurement, so nothing it holds was collectable during it.
    await peer.get('user:0:profile');
    return {
      name: peer.name,
      note: peer.note,
      values: {
        heapMb: before === null || after === null ? null : (after - before) / MB,
        ms,
        loads: loaded,
      },
    };
  } finally {
    await peer.close();
  }
}

export const scenario: Scenario = {
  id: 'unique-keys',
  title: 'Unique keys',
  async run(ctx) {
    const rows: Row[] = [];
    for (const id of SYSTEMS) {
      const rounds: Array<Record<string, number | null>> = [];
      let name = '';
      let note = '';
      for (let r = 1; r <= ctx.rounds; r++) {
        ctx.progress(`unique-keys: ${id}, round ${r}/${ctx.rounds}`);
        const result = await round(id, KEYS);
        rounds.push(result.values);
        name = result.name;
        note = result.note;
      }
      rows.push({ system: name, values: medianRow(rounds), note });
    }
    const flight = rows.find((row) => row.system === 'graphql-flight')!.values;
    const heap = flight.heapMb;
    return {
      id: 'unique-keys',
      title: 'Unique keys',
      description:
        `${KEYS.toLocaleString('en-US')} distinct keys through each system's get-or-load (trivial loader), ` +
        `in waves of ${WAVE.toLocaleString('en-US')} concurrent calls, each system with its default memory bound. ` +
        'Heap growth = heap used after minus before, both after forced full GCs, with the cache still alive. ' +
        `Medians of ${ctx.rounds} round(s).`,
      baseline: 'naive Keyv get-then-set',
      metrics: [
        { key: 'heapMb', label: 'heap growth MB', better: 'lower', ratio: true, digits: 1 },
        { key: 'ms', label: 'time ms', better: 'lower', ratio: true },
        { key: 'loads', label: 'loads', better: 'lower' },
      ],
      rows,
      goals: [
        {
          text: 'graphql-flight: heap growth < 5 MB with the default bound (200,000 unique keys)',
          met: typeof heap === 'number' && heap < 5,
          detail:
            typeof heap === 'number'
              ? `${heap.toFixed(2)} MB with maxEntries 10,000`
              : 'not measured: global.gc is unavailable (run node with --expose-gc)',
        },
      ],
      ...(gc === undefined
        ? {
            notes: [
              'Heap growth not measured: node was started without --expose-gc, so figures would be GC noise.',
            ],
          }
        : {}),
      chart: [
        { metric: 'heapMb', title: `heap growth (MB) after ${KEYS.toLocaleString('en-US')} unique keys` },
      ],
    };
  },
};
