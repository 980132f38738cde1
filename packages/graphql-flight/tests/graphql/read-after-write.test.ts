import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCache, type FlightCache } from '../../src/index.js';
import { track } from '../helpers/deferred.js';
import { priceIn, shop } from '../helpers/shop.js';

const P42 = '{ product(id: 42) { id priceCents } }';
const REPRICE = 'mutation { updateProductPrice(id: 42, priceCents: 2500) { id priceCents } }';

let opened: FlightCache[] = [];
let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  await Promise.all(opened.map((cache) => cache.close()));
  opened = [];
});

function memoryCache(): FlightCache {
  const cache = createCache();
  opened.push(cache);
  return cache;
}

/**
 * Every case: a read of product 42 begins (it has read the old price and is held), a mutation
 * changes the price and answers, and an identical read arrives. The late read must neither join
 * the held execution (it would get the price of before the write, and wait for it) nor be
 * answered with what that execution stores. It is awaited while the early one is still held: had
 * it joined, it would never settle before the release.
 */
describe('read after write', () => {
  it('with coalescing only: a query received after a mutation answered never joins an execution begun before it', async () => {
    const cache = memoryCache();
    const t = shop({ cache, coalescing: { cache } });
    const held = t.catalog.holdNextRead();
    const early = track(t.post(P42));
    await held.entered;

    const mutation = await t.post(REPRICE);
    expect(JSON.parse(mutation.body).data.updateProductPrice.priceCents).toBe(2500);

    const late = await t.post(P42);
    expect(late.outcome).toBe('MISS');
    expect(priceIn(late.body)).toBe(2500);
    expect(early.settled).toBe(false);
    expect(t.catalog.calls.product).toBe(2);
    expect(t.coalescing.stats()).toMatchObject({ started: 2, joined: 0 });

    held.release();
    const first = await early.promise;
    // The early read began before the write: it answers what it read.
    expect(first.outcome).toBe('MISS');
    expect(priceIn(first.body)).toBe(1999);
    // It was not kept either (the field cache refuses a load begun before an invalidation of its tags).
    expect(priceIn((await t.post(P42)).body)).toBe(2500);
    expect(t.catalog.calls.product).toBe(2);
  });

  it('still joins identical queries while no invalidation came between them', async () => {
    const cache = memoryCache();
    const t = shop({ cache, coalescing: { cache } });
    const held = t.catalog.holdNextRead();
    const early = t.post(P42);
    await held.entered;
    const joining = t.post(P42);
    await vi.waitFor(() => expect(t.coalescing.stats().joined).toBe(1));
    held.release();
    const answers = await Promise.all([early, joining]);
    expect(answers.map((answer) => answer.outcome).sort()).toEqual(['COALESCED', 'MISS']);
    expect(t.catalog.calls.product).toBe(1);
  });

  it('with the response cache: the late request is not COALESCED with the old flight, and what is stored is the new price', async () => {
    const cache = memoryCache();
    const t = shop({ cache, coalescing: { responseCache: { cache } } });
    const held = t.catalog.holdNextRead();
    const early = track(t.post(P42));
    await held.entered;

    await t.post(REPRICE);
    const late = await t.post(P42);
    expect(late.outcome).toBe('MISS');
    expect(priceIn(late.body)).toBe(2500);
    expect(early.settled).toBe(false);
    expect(t.catalog.calls.product).toBe(2);

    held.release();
    const first = await early.promise;
    expect(first.outcome).toBe('MISS');
    expect(priceIn(first.body)).toBe(1999);
    // The early execution's response was not stored over the late one's.
    const after = await t.post(P42);
    expect(after.outcome).toBe('HIT');
    expect(after.body).toBe(late.body);
    expect(t.coalescing.stats()).toMatchObject({ started: 2, joined: 0 });
  });

  it('through the node:http front door: the late request is not held on the flight begun before the write', async () => {
    const cache = memoryCache();
    const t = shop({ cache, coalescing: { responseCache: { cache } } });
    const answered: string[] = [];
    server = createServer(t.coalescing.nodeListener(t.yoga, (answer) => answered.push(answer.outcome)));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    const post = async (query: string) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
      });
      return { outcome: response.headers.get('x-cache'), body: await response.text() };
    };
    const held = t.catalog.holdNextRead();
    const early = track(post(P42));
    await held.entered;

    await post(REPRICE);
    const late = await post(P42);
    expect(late.outcome).toBe('MISS');
    expect(priceIn(late.body)).toBe(2500);
    expect(early.settled).toBe(false);
    // The front door held nothing and answered nothing: both reads went through Yoga.
    expect(answered).toEqual([]);

    held.release();
    expect(priceIn((await early.promise).body)).toBe(1999);
    const hit = await post(P42);
    expect(hit.outcome).toBe('HIT');
    expect(priceIn(hit.body)).toBe(2500);
    expect(answered).toEqual(['HIT']);
  });
});
