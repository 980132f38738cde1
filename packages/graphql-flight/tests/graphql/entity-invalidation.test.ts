import { afterEach, describe, expect, it } from 'vitest';
import { invalidateResponses } from '../../src/graphql/index.js';
import { createCache, type FlightCache } from '../../src/index.js';
import { priceIn, shop } from '../helpers/shop.js';

const P42 = '{ product(id: 42) { id name priceCents } }';
const P7 = '{ product(id: 7) { id name priceCents } }';
const PRODUCTS = '{ products { id priceCents } }';
/** Selects no key field: the response cache adds `id` for the execution and strips it again. */
const P42_PRICE = '{ product(id: 42) { priceCents } }';
const P42_NAME = '{ product(id: 42) { name } }';
const REPRICE = 'mutation { updateProductPrice(id: 42, priceCents: 2500) { id priceCents } }';
const REPRICE_7 = 'mutation { updateProductPrice(id: 7, priceCents: 100) { id } }';
/**
 * Product 7 through a field with a hint only (no field value is read): the response knows its
 * entity from its body alone, here without the client selecting `id`.
 */
const FEATURED = '{ featured { priceCents } }';
/** Product 42 below product 7 (`related`, a hint only): the field value read is product 7's. */
const RELATED_7 = '{ product(id: 7) { related { priceCents } } }';

let opened: FlightCache[] = [];
afterEach(async () => {
  await Promise.all(opened.map((cache) => cache.close()));
  opened = [];
});

/** The shop on a memory cache, with the response cache (and the mutation results' invalidation unless told). */
function setup(options: { invalidateMutationResults?: boolean } = {}) {
  const cache = createCache();
  opened.push(cache);
  return shop({ cache, coalescing: { responseCache: { cache }, ...options } });
}

/** Stores each query's response: a MISS, then a HIT. */
async function store(t: ReturnType<typeof setup>, ...queries: string[]): Promise<void> {
  for (const query of queries) {
    expect((await t.post(query)).outcome).toBe('MISS');
    expect((await t.post(query)).outcome).toBe('HIT');
  }
}

describe('entity tags, end to end', () => {
  it("retires exactly the responses holding the entity a mutation returns, before the mutation's answer", async () => {
    const t = setup();
    await store(t, P42, P7, PRODUCTS);
    expect(t.catalog.calls).toMatchObject({ product: 2, products: 1 });

    const mutation = await t.post(REPRICE);
    expect(JSON.parse(mutation.body)).toEqual({
      data: { updateProductPrice: { id: '42', priceCents: 2500 } },
    });

    const p42 = await t.post(P42);
    expect(p42.outcome).toBe('MISS');
    expect(JSON.parse(p42.body)).toEqual({
      data: { product: { id: '42', name: 'Chair', priceCents: 2500 } },
    });
    // The field cache's value of product(id: 42) was retired with it (tagged Product:42): read again.
    expect(t.catalog.calls.product).toBe(3);
    const p7 = await t.post(P7);
    expect(p7.outcome).toBe('HIT');
    expect(priceIn(p7.body, '7')).toBe(15000);
    // The list holds Product 42: retired, and its field value too.
    const products = await t.post(PRODUCTS);
    expect(products.outcome).toBe('MISS');
    expect(priceIn(products.body, '42')).toBe(2500);
    expect(priceIn(products.body, '7')).toBe(15000);
    expect(t.catalog.calls.products).toBe(2);
    // What was stored again is served again.
    expect((await t.post(P42)).outcome).toBe('HIT');
    expect((await t.post(PRODUCTS)).outcome).toBe('HIT');
  });

  it('reads the entities of a mutation too long for the plugin to plan by its text (past maxDocumentLength)', async () => {
    const t = setup();
    await store(t, P42_PRICE);
    // The same mutation padded past 10 000 characters (a comment): Yoga parses it, the plugin does not.
    const long = `${REPRICE.replace('{ id priceCents }', '{ priceCents }')}\n#${'x'.repeat(10_050)}`;
    const mutation = await t.post(long);
    expect(JSON.parse(mutation.body)).toEqual({ data: { updateProductPrice: { priceCents: 2500 } } });
    const after = await t.post(P42_PRICE);
    expect(after.outcome).toBe('MISS');
    expect(priceIn(after.body)).toBe(2500);
  });

  it('retires a response by the entities its body holds, beyond those of the field values it read', async () => {
    const t = setup();
    await store(t, FEATURED, RELATED_7);
    await t.post(REPRICE);
    const related = await t.post(RELATED_7);
    expect(related.outcome).toBe('MISS');
    expect(related.body).toBe('{"data":{"product":{"related":[{"priceCents":2500}]}}}');
    expect((await t.post(FEATURED)).outcome).toBe('HIT');

    await t.post(REPRICE_7);
    const featured = await t.post(FEATURED);
    expect(featured.outcome).toBe('MISS');
    expect(featured.body).toBe('{"data":{"featured":{"priceCents":100}}}');
  });

  it("retires every response and field value holding a Product with the type's tag Product:*", async () => {
    const t = setup();
    await store(t, P42, P7, PRODUCTS, FEATURED);
    await t.cache.invalidate({ tags: ['Product:*'] });
    for (const query of [P42, P7, PRODUCTS, FEATURED]) expect((await t.post(query)).outcome).toBe('MISS');
    // featured reads product 7 from the catalog each time it executes: 2 + 1 + 2 + 1.
    expect(t.catalog.calls).toMatchObject({ product: 6, products: 2 });
  });

  it('retires the response of a client that selected no id, whose body never shows the added key field', async () => {
    const t = setup();
    const miss = await t.post(P42_PRICE);
    expect(miss.body).toBe('{"data":{"product":{"priceCents":1999}}}');
    const hit = await t.post(P42_PRICE);
    expect(hit.outcome).toBe('HIT');
    expect(hit.body).toBe(miss.body);

    await t.post(REPRICE);
    const after = await t.post(P42_PRICE);
    expect(after.outcome).toBe('MISS');
    expect(after.body).toBe('{"data":{"product":{"priceCents":2500}}}');
    expect((await t.post(P42_PRICE)).body).toBe(after.body);

    // Where no field value names the entity, the added key field alone does.
    await store(t, FEATURED);
    expect((await t.post(FEATURED)).body).toBe('{"data":{"featured":{"priceCents":15000}}}');
    await t.post(REPRICE_7);
    expect((await t.post(FEATURED)).outcome).toBe('MISS');
  });
});

describe("a mutation's result", () => {
  it('answers exactly what the client selected, and still invalidates the entity by the id it did not select', async () => {
    const t = setup();
    await store(t, P42);
    await store(t, FEATURED);
    const mutation = await t.post('mutation { updateProductPrice(id: 7, priceCents: 100) { priceCents } }');
    expect(mutation.status).toBe(200);
    expect(mutation.body).toBe('{"data":{"updateProductPrice":{"priceCents":100}}}');
    // Mutations are neither coalesced nor cached.
    expect(mutation.outcome).toBeNull();
    const after = await t.post(FEATURED);
    expect(after.outcome).toBe('MISS');
    expect(after.body).toBe('{"data":{"featured":{"priceCents":100}}}');
    expect((await t.post(P42)).outcome).toBe('HIT');
  });

  it('invalidates the entities of a mutation sent with variables and an operation name', async () => {
    const t = setup();
    await store(t, P42, P7);
    const reprice = await t.post(
      'mutation Reprice($id: ID!, $price: Int!) { updateProductPrice(id: $id, priceCents: $price) { name } }',
      { id: '7', price: 100 },
    );
    expect(reprice.body).toBe('{"data":{"updateProductPrice":{"name":"Desk"}}}');
    expect((await t.post(P7)).outcome).toBe('MISS');
    expect((await t.post(P42)).outcome).toBe('HIT');
  });

  it('retires nothing with invalidateMutationResults: false (the application invalidates itself)', async () => {
    const t = setup({ invalidateMutationResults: false });
    await store(t, P42, PRODUCTS);
    const generation = t.cache.generation;
    const mutation = await t.post('mutation { updateProductPrice(id: 42, priceCents: 2500) { priceCents } }');
    expect(mutation.body).toBe('{"data":{"updateProductPrice":{"priceCents":2500}}}');
    expect(t.cache.generation).toBe(generation);
    // The stored responses, and the field values, still hold the old price.
    const p42 = await t.post(P42);
    expect(p42.outcome).toBe('HIT');
    expect(priceIn(p42.body)).toBe(1999);
    expect((await t.post(PRODUCTS)).outcome).toBe('HIT');
    await t.cache.invalidate({ tags: ['Product:42'] });
    const fresh = await t.post(P42);
    expect(fresh.outcome).toBe('MISS');
    expect(priceIn(fresh.body)).toBe(2500);
  });

  it('invalidates the entities it returns in the cache given as `cache`, without a response cache', async () => {
    const cache = createCache();
    opened.push(cache);
    const t = shop({ cache, coalescing: { cache } });
    await t.post(P42);
    await t.post(P42);
    // The field cache answered the second one.
    expect(t.catalog.calls.product).toBe(1);
    await t.post(REPRICE);
    expect(priceIn((await t.post(P42)).body)).toBe(2500);
    expect(t.catalog.calls.product).toBe(2);
  });
});

describe('coordinates', () => {
  it('invalidateResponses(cache, [coordinate]) retires every response that touched it and the field values of that coordinate', async () => {
    const t = setup();
    await store(t, P42, P7, PRODUCTS);
    await invalidateResponses(t.cache, ['Query.product']);
    expect((await t.post(P42)).outcome).toBe('MISS');
    expect((await t.post(P7)).outcome).toBe('MISS');
    // The field values of Query.product were retired too: both read again.
    expect(t.catalog.calls.product).toBe(4);
    expect((await t.post(PRODUCTS)).outcome).toBe('HIT');
    expect(t.catalog.calls.products).toBe(1);
  });

  it('retires by the coordinate of a hint-only field below the root the responses that selected it, and no others', async () => {
    const t = setup();
    await store(t, P42_PRICE, P42_NAME, P7, PRODUCTS);
    await invalidateResponses(t.cache, ['Product.name']);
    expect((await t.post(P42_NAME)).outcome).toBe('MISS');
    expect((await t.post(P7)).outcome).toBe('MISS');
    expect((await t.post(P42_PRICE)).outcome).toBe('HIT');
    expect((await t.post(PRODUCTS)).outcome).toBe('HIT');
    // No field value carries it: the re-executions read product(id) from the field cache.
    expect(t.catalog.calls).toMatchObject({ product: 2, products: 1 });
  });
});
