import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cachesOn, eventually, type OwnRedis, redisSuiteEnabled, startRedis } from '../helpers/redis.js';
import { Catalog, priceIn, shop } from '../helpers/shop.js';

const enabled = await redisSuiteEnabled();

const P42 = '{ product(id: 42) { id priceCents } }';
const REPRICE = 'mutation { updateProductPrice(id: 42, priceCents: 2500) { id priceCents } }';

/**
 * Two server instances (each its own FlightCache: its connections and memory tier, a process of
 * the fleet) on one catalog and a redis-server of the test's own, which it freezes (SIGSTOP).
 */
describe.skipIf(!enabled)('a mutation whose invalidation Redis does not acknowledge', () => {
  let redis: OwnRedis;
  let caches: ReturnType<typeof cachesOn>;
  beforeAll(async () => {
    redis = await startRedis();
    caches = cachesOn('pending', redis.url);
  });
  afterEach(async () => {
    redis.resume();
    await caches.closeAll();
  });
  afterAll(() => redis?.stop());

  function fleetOfTwo() {
    const catalog = new Catalog();
    const options = { invalidationTimeoutMs: 300, breakerCooldownMs: 200, localTtlMs: 60_000 };
    const a = caches.open(options);
    const b = caches.open(options);
    return {
      a: shop({ cache: a, catalog, coalescing: { responseCache: { cache: a } } }),
      b: shop({ cache: b, catalog, coalescing: { responseCache: { cache: b } } }),
    };
  }

  it('answers with its data and CACHE_INVALIDATION_PENDING; the queued invalidation lands later, and another instance stops serving the old price', async () => {
    const { a, b } = fleetOfTwo();
    expect((await a.post(P42)).outcome).toBe('MISS');
    await b.post(P42);
    // B serves the old price from its own memory tier (kept up to localTtlMs: 60 s).
    const before = await b.post(P42);
    expect(before.outcome).toBe('HIT');
    expect(priceIn(before.body)).toBe(1999);

    redis.pause();
    const mutation = await a.post(REPRICE);
    expect(mutation.status).toBe(200);
    expect(JSON.parse(mutation.body)).toEqual({
      data: { updateProductPrice: { id: '42', priceCents: 2500 } },
      errors: [
        {
          message:
            'the write is saved, but the cache invalidation it needs is still queued for Redis: cached reads may show the old value until it lands',
          extensions: { code: 'CACHE_INVALIDATION_PENDING', cause: 'E_INVALIDATION_FAILED' },
        },
      ],
    });
    expect(a.cache.stats().invalidations).toMatchObject({ failed: 1, pending: 1 });
    // This instance applied it at once: it no longer serves the old price, Redis or not.
    expect(priceIn((await a.post(P42)).body)).toBe(2500);

    const generation = b.cache.generation;
    redis.resume();
    await eventually(() => a.cache.stats().invalidations.pending === 0);
    expect(a.cache.stats().invalidations.sent).toBe(1);
    // Its message reaches B (another process's state: waited for, bounded).
    await eventually(() => b.cache.generation > generation);
    const after = await b.post(P42);
    expect(after.outcome).toBe('MISS');
    expect(priceIn(after.body)).toBe(2500);
  });

  it('answers without an error when Redis acknowledges in time', async () => {
    const { a, b } = fleetOfTwo();
    await b.post(P42);
    await b.post(P42);
    const generation = b.cache.generation;
    const mutation = await a.post(REPRICE);
    expect(mutation.body).toBe('{"data":{"updateProductPrice":{"id":"42","priceCents":2500}}}');
    expect(a.cache.stats().invalidations).toMatchObject({ sent: 1, failed: 0, pending: 0 });
    await eventually(() => b.cache.generation > generation);
    expect(priceIn((await b.post(P42)).body)).toBe(2500);
  });
});
