/**
 * Hot hits: every call answered from memory. 1,000 keys are loaded once; then each tinybench
 * iteration makes 1,000 calls over them, either awaited one after another (sequential) or started
 * together and awaited with Promise.all (concurrent). ops/s = tinybench's median iteration
 * throughput x 1,000 calls. The baseline is `Map.get` in an async function (the floor of any
 * promise-returning cache). A load during the measurement fails the scenario.
 */
import { Bench } from 'tinybench';
import { createPeer, type Peer, type PeerId } from '../lib/peers.js';
import { medianRow } from '../lib/stats.js';
import type { Row, Scenario } from '../lib/types.js';

const BATCH = 1_000; // calls per tinybench iteration, so the timer's own cost is amortised
const BASELINE = 'Map.get in an async function';
const SYSTEMS: PeerId[] = ['graphql-flight', 'async-cache-dedupe', 'bentocache', 'cacheable', 'keyv-naive'];

interface Target {
  name: string;
  note?: string;
  get(key: string): Promise<unknown>;
}

function opsPerCall(result: unknown): number {
  const throughput = (result as { throughput?: { p50?: number } } | undefined)?.throughput?.p50;
  if (throughput === undefined) throw new Error('tinybench produced no throughput');
  return throughput * BATCH;
}

export const scenario: Scenario = {
  id: 'hot-hits',
  title: 'Hot hits',
  async run(ctx) {
    const keys = Array.from({ length: BATCH }, (_, i) => `product:${i}`);
    let loads = 0;
    const load = async (key: string) => {
      loads++;
      return { id: key };
    };
    const map = new Map(keys.map((key) => [key, { id: key }]));
    const mapGet = async (key: string) => map.get(key);
    const peers: Peer<unknown>[] = SYSTEMS.map((id) =>
      // A TTL far beyond the run, and room for the 1,000 keys in every memory tier.
      createPeer(id, { ttlMs: 600_000, load, capacity: 10_000 }),
    );
    const targets: Target[] = [
      { name: BASELINE, note: 'const map = new Map(); async (key) => map.get(key)', get: mapGet },
      ...peers.map((peer) => ({
        name: peer.name === 'naive Keyv get-then-set' ? 'naive Keyv get' : peer.name,
        note: peer.note,
        get: peer.get, // adapters' get never uses `this`
      })),
    ];
    try {
      for (const peer of peers) for (const key of keys) await peer.get(key);
      const loadedBefore = loads;
      const sequential = new Map<string, number[]>();
      const concurrent = new Map<string, number[]>();
      for (let round = 1; round <= ctx.rounds; round++) {
        const bench = new Bench({
          time: ctx.quick ? 100 : 400,
          warmup: true,
          warmupTime: ctx.quick ? 30 : 100,
        });
        for (const target of targets) {
          const get = target.get;
          bench.add(`seq:${target.name}`, async () => {
            for (let i = 0; i < BATCH; i++) await get(keys[i]!);
          });
          bench.add(`con:${target.name}`, async () => {
            await Promise.all(keys.map((key) => get(key)));
          });
        }
        let done = 0;
        bench.addEventListener('cycle', () => {
          done++;
          ctx.progress(`hot-hits: round ${round}/${ctx.rounds}, task ${done}/${bench.tasks.length}`);
        });
        await bench.run();
        for (const task of bench.tasks) {
          const [mode, ...rest] = task.name.split(':');
          const name = rest.join(':');
          const into = mode === 'seq' ? sequential : concurrent;
          into.set(name, [...(into.get(name) ?? []), opsPerCall(task.result)]);
        }
      }
      if (loads !== loadedBefore) {
        throw new Error(
          `hot-hits: ${loads - loadedBefore} load(s) during the measurement (entries expired or evicted)`,
        );
      }
      const rows: Row[] = targets.map((target) => {
        const values = medianRow(
          (sequential.get(target.name) ?? []).map((seq, i) => ({
            sequential: seq,
            concurrent: concurrent.get(target.name)?.[i] ?? null,
          })),
        );
        return { system: target.name, values, ...(target.note ? { note: target.note } : {}) };
      });
      const base = rows.find((row) => row.system === BASELINE)!.values;
      const flight = rows.find((row) => row.system === 'graphql-flight')!.values;
      const dedupe = rows.find((row) => row.system === 'async-cache-dedupe')!.values;
      const vsMapSeq = ratio(flight.sequential, base.sequential) ?? Number.NaN;
      const vsMapCon = ratio(flight.concurrent, base.concurrent) ?? Number.NaN;
      const vsDedupeSeq = ratio(flight.sequential, dedupe.sequential) ?? Number.NaN;
      const vsDedupeCon = ratio(flight.concurrent, dedupe.concurrent) ?? Number.NaN;
      const fmt = (value: number | null | undefined) => Math.round(value ?? 0).toLocaleString('en-US');
      return {
        id: 'hot-hits',
        title: 'Hot hits',
        description:
          `Memory hits over ${BATCH.toLocaleString('en-US')} loaded keys; each tinybench iteration makes ${BATCH.toLocaleString('en-US')} calls, ` +
          'awaited one after another (sequential) or together with Promise.all (concurrent); ' +
          `ops/s = median iteration throughput x ${BATCH.toLocaleString('en-US')}, median of ${ctx.rounds} round(s). No load happened during the measurement.`,
        baseline: BASELINE,
        metrics: [
          { key: 'sequential', label: 'ops/s sequential', better: 'higher', ratio: true },
          { key: 'concurrent', label: 'ops/s concurrent', better: 'higher', ratio: true },
        ],
        rows,
        goals: [
          {
            text: 'graphql-flight hit >= 0.55x Map.get in an async function (sequential)',
            met: vsMapSeq >= 0.55,
            detail: `${vsMapSeq.toFixed(3)}x sequential (${fmt(flight.sequential)} vs ${fmt(base.sequential)} ops/s); concurrent ${vsMapCon.toFixed(3)}x`,
          },
          {
            text: 'graphql-flight hit >= 4x async-cache-dedupe (sequential)',
            met: vsDedupeSeq >= 4,
            detail: `${vsDedupeSeq.toFixed(2)}x sequential (${fmt(flight.sequential)} vs ${fmt(dedupe.sequential)} ops/s); concurrent ${vsDedupeCon.toFixed(2)}x`,
          },
        ],
        chart: [{ metric: 'sequential', title: 'memory hits per second (sequential)' }],
      };
    } finally {
      for (const peer of peers) await peer.close();
    }
  },
};

function ratio(value: number | null | undefined, base: number | null | undefined): number | null {
  return typeof value === 'number' && typeof base === 'number' && base > 0 ? value / base : null;
}
