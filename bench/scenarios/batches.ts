/**
 * Overlapping DataLoader batches across concurrent requests: 200 simulated requests arrive within
 * 10 ms, each loads 10 distinct ids drawn from a pool of 100 (so requests overlap heavily), through
 *  (a) a per-request DataLoader over the row loader (DataLoader's recommended use), and
 *  (b) graphql-flight's createCachedLoader per request (DataLoader batching per request, and
 *      rememberMany across requests through one shared cache).
 * The row loader is counted (ids handed to it, batch calls) and takes 5 ms. Ids and arrival times
 * come from a fixed seed, so both systems see the same traffic.
 */
import DataLoader from 'dataloader';
import { createCache } from '../../packages/graphql-flight/src/index.js';
import { createCachedLoader } from '../../packages/graphql-flight/src/loaders/index.js';
import { medianRow, percentile, sleep } from '../lib/stats.js';
import type { Row, Scenario } from '../lib/types.js';

const REQUESTS = 200;
const IDS_PER_REQUEST = 10;
const POOL = 100;
const ARRIVAL_MS = 10;
const ROW_MS = 5;

interface Product {
  id: number;
  name: string;
}

/** Deterministic traffic: mulberry32 PRNG. */
function traffic(seed: number): Array<{ delay: number; ids: number[] }> {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: REQUESTS }, () => {
    const ids = new Set<number>();
    while (ids.size < IDS_PER_REQUEST) ids.add(1 + Math.floor(random() * POOL));
    return { delay: Math.floor(random() * ARRIVAL_MS), ids: [...ids] };
  });
}

type Kind = 'dataloader' | 'graphql-flight';

async function round(kind: Kind, seed: number) {
  let rows = 0;
  let batchCalls = 0;
  const loadRows = async (ids: readonly number[]): Promise<Product[]> => {
    batchCalls++;
    rows += ids.length;
    await sleep(ROW_MS);
    return ids.map((id) => ({ id, name: `product ${id}` }));
  };
  const cache = kind === 'graphql-flight' ? createCache({ defaultTtlMs: 60_000 }) : undefined;
  const newLoader = (): DataLoader<number, Product> =>
    cache === undefined
      ? new DataLoader<number, Product>((ids) => loadRows(ids))
      : createCachedLoader<number, Product>(cache, {
          name: 'product',
          ttlMs: 60_000,
          load: (ids) => loadRows(ids),
        });
  try {
    const latencies = await Promise.all(
      traffic(seed).map(async ({ delay, ids }) => {
        await sleep(delay);
        const started = performance.now();
        const loader = newLoader(); // one per request, as DataLoader recommends
        const products = await loader.loadMany(ids);
        for (const [i, product] of products.entries()) {
          if (product instanceof Error || product.id !== ids[i])
            throw new Error(`batches: wrong row for id ${ids[i]}`);
        }
        return performance.now() - started;
      }),
    );
    latencies.sort((a, b) => a - b);
    return { rows, batchCalls, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
  } finally {
    await cache?.close();
  }
}

export const scenario: Scenario = {
  id: 'batches',
  title: 'Overlapping batches',
  async run(ctx) {
    const systems: Array<{ kind: Kind; name: string; note: string }> = [
      {
        kind: 'dataloader',
        name: 'per-request DataLoader',
        note: 'new DataLoader(batch) per request: batches and memoises within the request only',
      },
      {
        kind: 'graphql-flight',
        name: 'graphql-flight',
        note: 'createCachedLoader per request over one shared createCache(): ids in memory or in flight are not loaded again',
      },
    ];
    const rows: Row[] = [];
    const distinct = new Set(traffic(1).flatMap((request) => request.ids)).size;
    for (const system of systems) {
      const rounds: Array<Record<string, number>> = [];
      // Round 0 warms the JIT and is not counted; every round replays the same traffic on a cold cache.
      for (let r = 0; r <= ctx.rounds; r++) {
        ctx.progress(`batches: ${system.name}, round ${r}/${ctx.rounds}`);
        const figures = await round(system.kind, 1);
        if (r > 0) rounds.push(figures);
      }
      rows.push({ system: system.name, values: medianRow(rounds), note: system.note });
    }
    return {
      id: 'batches',
      title: 'Overlapping batches',
      description:
        `${REQUESTS} simulated requests arriving within ${ARRIVAL_MS} ms, each loading ${IDS_PER_REQUEST} distinct ids ` +
        `from a pool of ${POOL} (fixed seed; ${distinct} distinct ids and ${REQUESTS * IDS_PER_REQUEST} id requests in all), ` +
        `with a new loader per request over a counted ${ROW_MS} ms row loader, cold cache each round. ` +
        `rows loaded = ids handed to the row loader. Medians of ${ctx.rounds} round(s).`,
      baseline: 'per-request DataLoader',
      metrics: [
        { key: 'rows', label: 'rows loaded', better: 'lower', ratio: true },
        { key: 'batchCalls', label: 'batch calls', better: 'lower', ratio: true },
        { key: 'p50', label: 'p50 request ms', better: 'lower', digits: 2 },
        { key: 'p99', label: 'p99 request ms', better: 'lower', digits: 2 },
      ],
      rows,
      chart: [{ metric: 'rows', title: `rows loaded for ${REQUESTS} overlapping requests` }],
    };
  },
};
