/**
 * A flood of distinct cacheable responses through an in-process server's response cache: each
 * request asks `products(ids:)` for 40 ids drawn at random from 1 000 (a seeded generator, so
 * every response is a new entry), in waves of 25 concurrent requests. Run by
 * tests/server/memory.test.ts, and by hand for the README's figures:
 *
 *   node --expose-gc --conditions=@graphql-flight/source --import tsx tests/server/memory-flood.ts \
 *     [maxBytes=16777216] [requests=3000]
 *
 * Prints one JSON line (see Figures). Heap used is measured after full collections (global.gc),
 * before the flood (the server started, one request served) and after it, while the server and
 * its cache are still alive.
 */
import { createServer } from '../../src/server.js';

export interface Figures {
  maxBytes: number;
  requests: number;
  /** Requests whose response was stored (X-Cache: MISS): every one is a distinct entry. */
  stored: number;
  /** The memory tier at the end: entries, estimated bytes, entries evicted. */
  entries: number;
  bytes: number;
  evictions: number;
  heapBefore: number;
  heapAfter: number;
  rssBefore: number;
  rssAfter: number;
  /** Heap growth and RSS growth as multiples of maxBytes. */
  heapRatio: number;
  rssRatio: number;
  ms: number;
}

const PRODUCTS = 1_000;
const IDS = 40;
const WAVE = 25;
const QUERY = 'query Flood($ids: [ID!]!) { products(ids: $ids) { id name priceCents } }';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const collect = gc;

function heapAfterGc(): number {
  collect();
  collect();
  return process.memoryUsage().heapUsed;
}

/** mulberry32: a small seeded generator, so every run floods the same responses. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const maxBytes = Number(process.argv[2] ?? 16 * 1024 * 1024);
const requests = Number(process.argv[3] ?? 3_000);
if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0 || !Number.isSafeInteger(requests) || requests <= 0) {
  throw new Error('usage: memory-flood.ts [maxBytes] [requests], both positive integers');
}

const server = await createServer({
  config: {
    nodeEnv: 'test',
    redisUrl: undefined,
    databaseUrl: undefined,
    authSecret: new TextEncoder().encode('memory-flood-secret-0123456789abcdef'),
    cacheMaxBytes: maxBytes,
  },
  data: { seed: { products: PRODUCTS, customers: 10, orders: 100 } },
});
const random = generator(12);

/** One request for IDS distinct ids; resolves its X-Cache header. */
async function request(): Promise<string | null> {
  const ids = new Set<number>();
  while (ids.size < IDS) ids.add(1 + Math.floor(random() * PRODUCTS));
  const response = await server.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: QUERY, variables: { ids: [...ids].map(String) } }),
  });
  const body = (await response.json()) as { data?: { products?: unknown[] }; errors?: unknown };
  if (response.status !== 200 || body.errors !== undefined || body.data?.products?.length !== IDS) {
    throw new Error(`unexpected response ${response.status}: ${JSON.stringify(body).slice(0, 200)}`);
  }
  return response.headers.get('x-cache');
}

try {
  await request();
  const heapBefore = heapAfterGc();
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  let stored = 0;
  for (let sent = 0; sent < requests; sent += WAVE) {
    const wave = Array.from({ length: Math.min(WAVE, requests - sent) }, () => request());
    for (const outcome of await Promise.all(wave)) if (outcome === 'MISS') stored++;
  }
  const ms = performance.now() - started;
  const heapAfter = heapAfterGc();
  const rssAfter = process.memoryUsage().rss;
  const stats = server.cache.stats();
  const figures: Figures = {
    maxBytes,
    requests,
    stored,
    entries: stats.entries,
    bytes: stats.bytes,
    evictions: stats.evictions,
    heapBefore,
    heapAfter,
    rssBefore,
    rssAfter,
    heapRatio: (heapAfter - heapBefore) / maxBytes,
    rssRatio: (rssAfter - rssBefore) / maxBytes,
    ms: Math.round(ms),
  };
  console.log(JSON.stringify(figures));
} finally {
  await server.close();
}
