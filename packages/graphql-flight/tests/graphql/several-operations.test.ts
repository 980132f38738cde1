import { afterEach, describe, expect, it } from 'vitest';
import { createCache, type FlightCache } from '../../src/index.js';
import { deferred } from '../helpers/deferred.js';
import { priceIn, shop } from '../helpers/shop.js';

const P42 = '{ product(id: 42) { id priceCents } }';

let opened: FlightCache[] = [];
afterEach(async () => {
  await Promise.all(opened.map((cache) => cache.close()));
  opened = [];
});

function setup(beforeContext?: (request: Request) => Promise<void> | undefined) {
  const cache = createCache();
  opened.push(cache);
  return shop({
    cache,
    coalescing: { responseCache: { cache } },
    ...(beforeContext ? { beforeContext } : {}),
  });
}

/**
 * One document, several operations, chosen by operationName (a client sending its whole
 * operations file). Yoga's parse cache keeps one document per text, whichever operation parsed
 * it first; each operation must still execute its own selections and be read by its own plan.
 */
describe('a document with several operations', () => {
  it('answers an operation that is not cached without the key fields added to a fragment for another operation', async () => {
    const t = setup();
    const document = /* GraphQL */ `
      fragment Related on Product { related { name } }
      query Cached { product(id: 42) { ...Related } }
      query Counted { desk: product(id: 7) { ...Related } visits }
    `;
    const cached = await t.post(document, undefined, { operationName: 'Cached' });
    expect(cached.body).toBe('{"data":{"product":{"related":[{"name":"Desk"}]}}}');
    expect((await t.post(document, undefined, { operationName: 'Cached' })).outcome).toBe('HIT');
    const counted = await t.post(document, undefined, { operationName: 'Counted' });
    expect(counted.body).toBe('{"data":{"desk":{"related":[{"name":"Chair"}]},"visits":1}}');
    // And the cached operation is still stripped, stored and tagged by its own plan.
    await t.cache.invalidate({ tags: ['Product:7'] });
    const again = await t.post(document, undefined, { operationName: 'Cached' });
    expect(again.outcome).toBe('MISS');
    expect(again.body).toBe(cached.body);
  });

  it('strips the key fields of each operation by its own plan when both are cached', async () => {
    const t = setup();
    const document = /* GraphQL */ `
      fragment Related on Product { related { name } }
      query Chair { product(id: 42) { ...Related } }
      query Desk { desk: product(id: 7) { ...Related } }
    `;
    expect((await t.post(document, undefined, { operationName: 'Chair' })).body).toBe(
      '{"data":{"product":{"related":[{"name":"Desk"}]}}}',
    );
    expect((await t.post(document, undefined, { operationName: 'Desk' })).body).toBe(
      '{"data":{"desk":{"related":[{"name":"Chair"}]}}}',
    );
    expect((await t.post(document, undefined, { operationName: 'Chair' })).outcome).toBe('HIT');
    expect((await t.post(document, undefined, { operationName: 'Desk' })).outcome).toBe('HIT');
  });

  it("invalidates a mutation's entities when a query of the same document executes between its parse and its execution", async () => {
    const entered = deferred<void>();
    const release = deferred<void>();
    const t = setup((request) => {
      if (request.headers.get('x-hold') === null) return undefined;
      entered.resolve();
      return release.promise;
    });
    // Both select every key field: each operation executes the document as the client sent it.
    const document = /* GraphQL */ `
      query Read { product(id: 42) { id priceCents } }
      mutation Write { updateProductPrice(id: 42, priceCents: 2500) { id priceCents } }
    `;
    await t.post(P42);
    expect((await t.post(P42)).outcome).toBe('HIT');

    // The mutation is parsed and held before it executes; the query of its document runs meanwhile.
    const write = t.post(document, undefined, { operationName: 'Write', headers: { 'x-hold': '1' } });
    await entered.promise;
    const read = await t.post(document, undefined, { operationName: 'Read' });
    expect(priceIn(read.body)).toBe(1999);
    release.resolve();
    expect((await write).body).toBe('{"data":{"updateProductPrice":{"id":"42","priceCents":2500}}}');

    const after = await t.post(P42);
    expect(after.outcome).toBe('MISS');
    expect(priceIn(after.body)).toBe(2500);
  });
});
