/**
 * Core benchmark (layers 1 and 2), `npm run bench:core`:
 *  - hot hit: `remember()` answered from the memory tier, against a bare `Map.get` in an async
 *    function (the limit), sequential awaited calls;
 *  - cold stampede: 1,000 concurrent callers of one cold key with a 20 ms loader, against a naive
 *    get-then-set cache without a single flight.
 * Figures are medians of several rounds on this machine; compare the ratios, not the absolutes.
 * Writes bench/results/core-<date>.json with the date, Node version and CPU.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Bench } from 'tinybench';
import { createCache } from '../packages/graphql-flight/src/index.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 3 : 5;
const BATCH = 1_000; // calls per tinybench iteration, so the timer's own cost is amortised
const CALLERS = 1_000;
const LOADER_MS = 20;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
const progress = (text: string) => process.stderr.write(`\r\x1b[K${text}`);

async function hotHits(): Promise<{ mapOps: number; rememberOps: number }> {
  const keys = Array.from({ length: 1_000 }, (_, i) => `product:${i}`);
  const map = new Map(keys.map((key, i) => [key, { id: i }]));
  const mapGet = async (key: string) => map.get(key);
  const cache = createCache({ maxEntries: 10_000 });
  for (const [i, key] of keys.entries()) await cache.remember(key, async () => ({ id: i }));
  const load = async () => ({ id: -1 });

  const mapRuns: number[] = [];
  const rememberRuns: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    progress(`hot hits: round ${round}/${ROUNDS}`);
    const bench = new Bench({ time: quick ? 200 : 500, warmup: true });
    bench.add('Map.get in an async function', async () => {
      for (let i = 0; i < BATCH; i++) await mapGet(keys[i]!);
    });
    bench.add('remember() memory-tier hit', async () => {
      for (let i = 0; i < BATCH; i++) await cache.remember(keys[i]!, load);
    });
    await bench.run();
    const [mapTask, rememberTask] = bench.tasks;
    mapRuns.push(opsPerCall(mapTask?.result));
    rememberRuns.push(opsPerCall(rememberTask?.result));
  }
  if (cache.stats().loads !== keys.length) throw new Error('hot-hit bench loaded during the measurement');
  await cache.close();
  return { mapOps: median(mapRuns), rememberOps: median(rememberRuns) };
}

function opsPerCall(result: unknown): number {
  const throughput = (result as { throughput?: { p50?: number } } | undefined)?.throughput?.p50;
  if (throughput === undefined) throw new Error('tinybench produced no throughput');
  return throughput * BATCH;
}

interface StampedeRound {
  loads: number;
  p50: number;
  p99: number;
  max: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function stampede(kind: 'graphql-flight' | 'naive get-then-set'): Promise<StampedeRound> {
  let loads = 0;
  const loader = async () => {
    loads++;
    await sleep(LOADER_MS);
    return { total: 42 };
  };
  let call: () => Promise<unknown>;
  let close = async () => {};
  if (kind === 'graphql-flight') {
    const cache = createCache();
    call = () => cache.remember('sales-summary', loader);
    close = () => cache.close();
  } else {
    const map = new Map<string, unknown>();
    call = async () => {
      const hit = map.get('sales-summary');
      if (hit !== undefined) return hit;
      const value = await loader();
      map.set('sales-summary', value);
      return value;
    };
  }
  const waits = await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      const started = performance.now();
      await call();
      return performance.now() - started;
    }),
  );
  await close();
  waits.sort((a, b) => a - b);
  return { loads, p50: percentile(waits, 0.5), p99: percentile(waits, 0.99), max: waits[waits.length - 1]! };
}

async function stampedes() {
  const out: Record<string, StampedeRound> = {};
  for (const kind of ['graphql-flight', 'naive get-then-set'] as const) {
    const rounds: StampedeRound[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`cold stampede (${kind}): round ${round}/${ROUNDS}`);
      rounds.push(await stampede(kind));
    }
    out[kind] = {
      loads: median(rounds.map((r) => r.loads)),
      p50: median(rounds.map((r) => r.p50)),
      p99: median(rounds.map((r) => r.p99)),
      max: median(rounds.map((r) => r.max)),
    };
  }
  return out;
}

const hits = await hotHits();
const storm = await stampedes();
progress('');

const hitRatio = hits.rememberOps / hits.mapOps;
console.log(
  `\ngraphql-flight core bench — ${new Date().toISOString()} — Node ${process.version} — ${cpus()[0]?.model} x${cpus().length}`,
);
console.log(
  `medians of ${ROUNDS} rounds; ratios are what to compare (absolute figures drift on a shared machine)\n`,
);
console.table({
  'Map.get in an async function (limit)': { 'ops/s': Math.round(hits.mapOps), 'x baseline': 1 },
  'remember() memory-tier hit': { 'ops/s': Math.round(hits.rememberOps), 'x baseline': round2(hitRatio) },
});
console.log(
  `goal: a hit costs at most 2x the Map baseline (ratio >= 0.5): ${hitRatio >= 0.5 ? 'met' : 'NOT met'}\n`,
);
const stormRows = Object.fromEntries(
  Object.entries(storm).map(([kind, r]) => [
    kind,
    {
      'loader calls': r.loads,
      'p50 ms': round2(r.p50),
      'p99 ms': round2(r.p99),
      'max ms': round2(r.max),
      'p99 / loader': round2(r.p99 / LOADER_MS),
    },
  ]),
);
console.log(`cold stampede: ${CALLERS} concurrent callers, one cold key, ${LOADER_MS} ms loader`);
console.table(stormRows);
const flightLoads = storm['graphql-flight']?.loads;
console.log(`goal: exactly 1 loader call: ${flightLoads === 1 ? 'met' : `NOT met (${flightLoads})`}`);

const results = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: `${cpus()[0]?.model} x${cpus().length}`,
  rounds: ROUNDS,
  hotHits: { mapGetOpsPerSec: hits.mapOps, rememberHitOpsPerSec: hits.rememberOps, ratio: hitRatio },
  coldStampede: { callers: CALLERS, loaderMs: LOADER_MS, ...storm },
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const file = new URL(`./results/core-${results.date.slice(0, 10)}.json`, import.meta.url);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nwrote ${file.pathname}`);

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
