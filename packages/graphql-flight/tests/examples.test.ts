// The README's two examples, run: each behaviour the README claims for them is checked here, and
// the README's code blocks are checked to be these files (so the README cannot drift from them).
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as pothosExample from '../examples/pothos-server.js';
import * as sdlExample from '../examples/sdl-server.js';
import type { FlightCache } from '../src/index.js';
import { type Deferred, deferred } from './helpers/deferred.js';

/** The README shows the examples with package imports: each relative import, and what it becomes. */
const PACKAGE_IMPORTS: ReadonlyArray<readonly [string, string]> = [
  ["'../src/index.js'", "'graphql-flight'"],
  ["'../src/graphql/index.js'", "'graphql-flight/graphql'"],
  ["'../src/loaders/index.js'", "'graphql-flight/loaders'"],
  ["'../src/graphql/pothos.js'", "'graphql-flight/pothos'"],
];

const EXAMPLES = [
  { name: 'sdl-server', module: sdlExample },
  { name: 'pothos-server', module: pothosExample },
] as const;

/** A latency the test holds and releases: the data source answers only when the test says. */
function gate() {
  let held: Deferred<void> | undefined;
  return {
    latency: (): Promise<void> => held?.promise ?? Promise.resolve(),
    hold() {
      held = deferred<void>();
    },
    release() {
      const wasHeld = held;
      held = undefined;
      wasHeld?.resolve();
    },
  };
}

type ExampleModule = (typeof EXAMPLES)[number]['module'];

const started: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((example) => example.close()));
});

/** An example server on a data source whose latency the test holds, and a POST helper. */
function start<M extends ExampleModule>(module: M) {
  const latency = gate();
  const db = new module.ShopDb(latency.latency) as InstanceType<M['ShopDb']>;
  const example = module.createExampleServer({ db: db as never });
  started.push(example);
  const post = async (query: string, headers: Record<string, string> = {}) => {
    const response = await example.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query }),
    });
    return { headers: response.headers, body: await response.text() };
  };
  return { cache: example.cache, db, latency, post };
}

/** Waiters of the flight in progress whose key contains `part` (0 when there is none). */
function waitersOf(cache: FlightCache, part: string): number {
  return cache.stats().flights.flights.find((flight) => flight.key.includes(part))?.waiters ?? 0;
}

const SUMMARY = '{ salesSummary { orderCount revenueCents } }';
const SUMMARY_DATA = { salesSummary: { orderCount: 1_204, revenueCents: 3_512_900 } };

describe.each(EXAMPLES)('the $name example', ({ module }) => {
  it('runs the slow resolver once for 50 concurrent identical queries, and all get one response', async () => {
    const t = start(module);
    t.latency.hold();
    const responses = Array.from({ length: 50 }, () => t.post(SUMMARY));
    await vi.waitFor(() => expect(waitersOf(t.cache, ':response:')).toBe(50));
    expect(t.db.calls.salesSummary).toBe(1);
    t.latency.release();
    const all = await Promise.all(responses);
    expect(t.db.calls.salesSummary).toBe(1);
    expect(new Set(all.map((r) => r.body))).toEqual(new Set([JSON.stringify({ data: SUMMARY_DATA })]));
    const outcomes = all.map((r) => r.headers.get('x-cache'));
    expect(outcomes.filter((o) => o === 'MISS')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'COALESCED')).toHaveLength(49);
  });

  it('answers a repeat from the response cache (X-Cache: HIT, an ETag) without calling the resolver', async () => {
    const t = start(module);
    const first = await t.post(SUMMARY);
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(first.headers.get('cache-status')).toBe('graphql-flight; fwd=miss; stored; ttl=10');
    const repeat = await t.post(SUMMARY);
    expect(repeat.headers.get('x-cache')).toBe('HIT');
    expect(repeat.headers.get('etag')).toMatch(/^"/);
    expect(repeat.headers.get('cache-control')).toBe('public, no-cache');
    expect(repeat.body).toBe(first.body);
    expect(t.db.calls.salesSummary).toBe(1);
    // Valid credentials may get the public response too.
    const withToken = await t.post(SUMMARY, { authorization: 'Bearer token-ada' });
    expect(withToken.headers.get('x-cache')).toBe('HIT');
  });

  it('shares one load of a cached field between different concurrent operations (the field cache)', async () => {
    const t = start(module);
    t.latency.hold();
    const a = t.post('{ salesSummary { orderCount } }');
    const b = t.post('{ salesSummary { revenueCents } }');
    await vi.waitFor(() => expect(waitersOf(t.cache, 'Query.salesSummary')).toBe(2));
    t.latency.release();
    expect(JSON.parse((await a).body)).toEqual({ data: { salesSummary: { orderCount: 1_204 } } });
    expect(JSON.parse((await b).body)).toEqual({ data: { salesSummary: { revenueCents: 3_512_900 } } });
    expect(t.db.calls.salesSummary).toBe(1);
  });

  it("batches a request's loads into one call of the loader", async () => {
    const t = start(module);
    const response = await t.post('{ a: product(id: "1") { name } b: product(id: "2") { name } }');
    expect(JSON.parse(response.body)).toEqual({ data: { a: { name: 'Kettle' }, b: { name: 'Teapot' } } });
    expect(t.db.calls.productBatches).toEqual([['1', '2']]);
  });

  it('shares loader keys across requests: overlapping batches [1,2,3] and [2,3,4] load [1,2,3] and [4]', async () => {
    const t = start(module);
    t.latency.hold();
    const first = t.post('{ products(ids: ["1", "2", "3"]) { name } }');
    await vi.waitFor(() => expect(t.db.calls.productBatches).toHaveLength(1));
    const second = t.post('{ products(ids: ["2", "3", "4"]) { name } }');
    await vi.waitFor(() => expect(t.db.calls.productBatches).toHaveLength(2));
    t.latency.release();
    expect(JSON.parse((await second).body)).toEqual({
      data: { products: [{ name: 'Teapot' }, { name: 'Mug' }, { name: 'Tea towel' }] },
    });
    expect(JSON.parse((await first).body).data.products).toHaveLength(3);
    expect(t.db.calls.productBatches).toEqual([['1', '2', '3'], ['4']]);
    // A later request finds the rows in the cache: no batch at all.
    await t.post('{ a: product(id: "4") { name } b: product(id: "1") { name } }');
    expect(t.db.calls.productBatches).toHaveLength(2);
  });

  it('reads fresh data after a mutation that deletes the entries and retires the responses', async () => {
    const t = start(module);
    const query = '{ product(id: "1") { name priceCents } }';
    await t.post(query);
    const cached = await t.post(query);
    expect(cached.headers.get('x-cache')).toBe('HIT');
    expect(JSON.parse(cached.body)).toEqual({ data: { product: { name: 'Kettle', priceCents: 2_500 } } });

    const mutation = await t.post('mutation { setPrice(id: "1", priceCents: 2000) { priceCents } }');
    expect(JSON.parse(mutation.body)).toEqual({ data: { setPrice: { priceCents: 2_000 } } });

    const fresh = await t.post(query);
    expect(fresh.headers.get('x-cache')).toBe('MISS');
    expect(JSON.parse(fresh.body)).toEqual({ data: { product: { name: 'Kettle', priceCents: 2_000 } } });
    const list = await t.post('{ products(ids: ["1"]) { priceCents } }');
    expect(JSON.parse(list.body)).toEqual({ data: { products: [{ priceCents: 2_000 }] } });
    expect(t.db.calls.productBatches).toEqual([['1'], ['1']]);
  });

  it('keeps PRIVATE data per verified viewer, caches it per viewer, and never in the response cache', async () => {
    const t = start(module);
    const query = '{ viewer { id cart { name } } }';
    const ada = await t.post(query, { authorization: 'Bearer token-ada' });
    const bob = await t.post(query, { authorization: 'Bearer token-bob' });
    expect(JSON.parse(ada.body)).toEqual({
      data: { viewer: { id: 'ada', cart: [{ name: 'Kettle' }, { name: 'Mug' }] } },
    });
    expect(JSON.parse(bob.body)).toEqual({ data: { viewer: { id: 'bob', cart: [{ name: 'Teapot' }] } } });

    const adaAgain = await t.post(query, { authorization: 'Bearer token-ada' });
    expect(adaAgain.body).toBe(ada.body);
    expect(adaAgain.headers.get('x-cache')).toBe('MISS');
    expect(adaAgain.headers.get('cache-status')).toBe('graphql-flight; fwd=bypass');
    expect(adaAgain.headers.get('cache-control')).toBe('no-store');
    // The cart field ran once per viewer: Ada's second read came from her own entry.
    expect(t.db.calls.carts).toEqual(['ada', 'bob']);

    const anonymous = await t.post(query);
    expect(JSON.parse(anonymous.body)).toEqual({ data: { viewer: null } });
  });

  it('answers a hit over node:http from the front door, and a GET with a matching If-None-Match with a 304', async () => {
    const served = await module.startExampleServer({ port: 0, host: '127.0.0.1' });
    started.push(served);
    const address = served.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const url = `http://127.0.0.1:${address.port}/graphql?query=${encodeURIComponent(SUMMARY)}`;

    const miss = await fetch(url);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(await miss.json()).toEqual({ data: SUMMARY_DATA });
    const hit = await fetch(url);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(await hit.json()).toEqual({ data: SUMMARY_DATA });
    const etag = hit.headers.get('etag');
    expect(etag).not.toBeNull();
    const notModified = await fetch(url, { headers: { 'if-none-match': etag! } });
    expect(notModified.status).toBe(304);
    expect(served.coalescing.stats().frontDoor).toBe(2);
    expect(served.db.calls.salesSummary).toBe(1);
  });
});

describe('the sdl-server example', () => {
  it('caches topProducts through cache.remember (a hint-only policy) and reloads it after setPrice', async () => {
    const t = start(sdlExample);
    const query = '{ topProducts { name priceCents } }';
    const first = await t.post(query);
    expect(JSON.parse(first.body).data.topProducts[0]).toEqual({ name: 'Teapot', priceCents: 3_900 });
    expect((await t.post(query)).headers.get('x-cache')).toBe('HIT');
    expect(t.db.calls.topProducts).toBe(1);

    await t.post('mutation { setPrice(id: "2", priceCents: 100) { id } }');
    const fresh = await t.post(query);
    expect(fresh.headers.get('x-cache')).toBe('MISS');
    expect(JSON.parse(fresh.body).data.topProducts[0]).toEqual({ name: 'Kettle', priceCents: 2_500 });
    expect(t.db.calls.topProducts).toBe(2);
  });
});

describe('the pothos-server example', () => {
  it("keys suggest by the lowercased prefix (the field's own key): 'te' and 'TE' load once", async () => {
    const t = start(pothosExample);
    const lower = await t.post('{ suggest(prefix: "te") }');
    const upper = await t.post('{ suggest(prefix: "TE") }');
    expect(JSON.parse(lower.body)).toEqual({ data: { suggest: ['Teapot', 'Tea towel'] } });
    expect(upper.body).toBe(lower.body);
    expect(t.db.calls.suggestions).toBe(1);
  });
});

describe('README.md', () => {
  it.each(EXAMPLES)('shows examples/$name as it is, with package imports', ({ name }) => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const source = readFileSync(new URL(`../examples/${name}.ts`, import.meta.url), 'utf8');
    let expected = source;
    for (const [relative, published] of PACKAGE_IMPORTS) expected = expected.replaceAll(relative, published);
    expect(expected).not.toMatch(/from '\.\.?\//);
    const marker = `<!-- example: ${name} -->\n\`\`\`ts\n`;
    const start = readme.indexOf(marker);
    expect(start, `README.md has no block marked ${marker.trim()}`).toBeGreaterThanOrEqual(0);
    const end = readme.indexOf('\n```\n', start + marker.length);
    expect(readme.slice(start + marker.length, end + 1)).toBe(expected);
  });
});
