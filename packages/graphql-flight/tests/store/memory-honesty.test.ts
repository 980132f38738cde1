import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { createCache, type FlightCache } from '../../src/index.js';

// A full collection on demand in this worker (node --expose-gc, for a context made after the flag).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

let cache: FlightCache | undefined;
afterEach(async () => {
  await cache?.close();
  cache = undefined;
});

/**
 * What the memory tier says it holds (`stats().bytes`) against what the heap holds, after a full
 * GC, for entries shaped as the server makes them: within 25% either way (the bound the README
 * gives for heap growth against maxBytes). `fill(cache, from, to)` writes entries from..to-1; it
 * runs once on a cache thrown away first, so the code and shapes its first run compiles are not
 * counted, and the cache is made before the measurement starts, so lru-cache's arrays for
 * maxEntries (allocated up front, see README) are not counted either.
 */
async function measure(
  count: number,
  fill: (cache: FlightCache, from: number, to: number) => Promise<void>,
  maxBytes = 1024 * 1024 * 1024,
): Promise<number> {
  const warm = createCache({ maxBytes, maxEntries: 100_000 });
  await fill(warm, 0, 500);
  await warm.close();
  const local = createCache({ maxBytes, maxEntries: 100_000 });
  cache = local;
  await fill(local, 0, 1);
  const before = heapAfterGc();
  await fill(local, 1, count);
  const heap = heapAfterGc() - before;
  const { bytes, entries, evictions } = local.stats();
  // The cache is still in use here: nothing it holds was collectable during the measurement.
  expect(entries + evictions).toBe(count);
  return heap / bytes;
}

/** A row as a database driver hands it over: flat strings, small integers. */
const row = (id: number) => JSON.parse(`{"id":${id},"name":"Product number ${id}","priceCents":${100 + id}}`);

describe('the memory estimate against the heap (issue 12)', () => {
  it('matches the heap for loader entries: a row each, with two tags', async () => {
    const ratio = await measure(10_000, async (cache, from, to) => {
      for (let base = from; base < to; base += 500) {
        const ids = Array.from({ length: Math.min(500, to - base) }, (_, i) => base + i);
        await cache.rememberMany(
          ids.map((id) => ['loader', 'product', id]),
          async (missing) => missing.map((key) => row(key[2] as number)),
          { tags: (key) => [`Product:${key[2]}`, 'Product:*'] },
        );
      }
    });
    expect(ratio).toBeLessThanOrEqual(1.25);
    expect(ratio).toBeGreaterThanOrEqual(0.75);
  });

  it('matches the heap for stored responses in a full tier that evicts: a 2 KB body each, with 80 tags of 1 000 entities', async () => {
    const maxBytes = 8 * 1024 * 1024;
    let evicting: FlightCache | undefined;
    const ratio = await measure(
      3_000,
      async (cache, from, to) => {
        evicting = cache;
        for (let i = from; i < to; i++) {
          const ids = Array.from({ length: 40 }, (_, j) => (i * 7 + j * 13) % 1_000);
          await cache.remember(
            `response:${i}`,
            async () => {
              const body = JSON.stringify({ data: { products: ids.map(row) } });
              return { body, etag: `${i}`.padStart(27, 'e'), expiresAt: Date.now() + 60_000 };
            },
            {
              tags: [
                'Query.products',
                'Product:*',
                ...ids.flatMap((id) => [`Product:${id}`, `Loaded:${id}`]),
              ],
            },
          );
        }
      },
      maxBytes,
    );
    // About 740 fit: most of the 3 000 came and went, as in a flood.
    expect(evicting!.stats().evictions).toBeGreaterThan(2_000);
    expect(ratio).toBeLessThanOrEqual(1.25);
    expect(ratio).toBeGreaterThanOrEqual(0.75);
  });

  it('matches the heap for field values: lists of 20 rows with nested objects', async () => {
    const ratio = await measure(1_500, async (cache, from, to) => {
      for (let i = from; i < to; i++) {
        await cache.remember(
          ['field', 'Query.topProducts', i],
          async () =>
            JSON.parse(
              JSON.stringify(
                Array.from({ length: 20 }, (_, j) => ({
                  ...row(i * 20 + j),
                  stats: { unitsSold: j, revenueCents: j * 1.5 },
                })),
              ),
            ),
          { tags: ['Query.topProducts'] },
        );
      }
    });
    expect(ratio).toBeLessThanOrEqual(1.25);
    expect(ratio).toBeGreaterThanOrEqual(0.75);
  });

  it("allocates lru-cache's arrays for maxEntries up front, outside maxBytes: about 40 bytes each on the heap, 12 off it", async () => {
    const heapBefore = heapAfterGc();
    const offHeapBefore = process.memoryUsage().arrayBuffers;
    const local = createCache({ maxEntries: 100_000 });
    cache = local;
    await local.remember('one', async () => 1);
    const heap = (heapAfterGc() - heapBefore) / 100_000;
    const offHeap = (process.memoryUsage().arrayBuffers - offHeapBefore) / 100_000;
    expect(local.stats().entries).toBe(1);
    expect(local.stats().bytes).toBeLessThan(1_000);
    expect(heap).toBeGreaterThan(30);
    expect(heap).toBeLessThan(50);
    expect(offHeap).toBeGreaterThan(8);
    expect(offHeap).toBeLessThanOrEqual(16);
  });
});
