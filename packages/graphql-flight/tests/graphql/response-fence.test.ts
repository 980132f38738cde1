/**
 * A stored response is only as fresh as its oldest input: built in one process from a field value
 * another process had already invalidated (its message lost), it never reaches Redis.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cachesOn, invalidateSilently, redisSuiteEnabled } from '../helpers/redis.js';
import { Catalog, priceIn, shop } from '../helpers/shop.js';

const enabled = await redisSuiteEnabled();

describe.skipIf(!enabled)('the fence of a stored response', () => {
  const caches = cachesOn('response-fence');
  const { namespace } = caches;
  afterEach(() => caches.closeAll());

  function server(catalog: Catalog, localTtlMs: number) {
    const cache = caches.open({ localTtlMs, storeTimeoutMs: 1_000 });
    return shop({ cache, catalog, coalescing: { responseCache: { cache } } });
  }

  it('is fenced from the field value it read, not from its own execution', async () => {
    const catalog = new Catalog();
    // B keeps what it read for a minute: only Redis's fence can stop the old price.
    const b = server(catalog, 60_000);
    expect(priceIn((await b.post('{ product(id: 42) { priceCents } }')).body)).toBe(1999);
    catalog.setPrice('42', 2500);
    await invalidateSilently(namespace, { tags: ['Product:42'] });
    // A new response on B, built from B's old copy of the field value.
    const other = '{ product(id: 42) { name priceCents } }';
    expect(priceIn((await b.post(other)).body)).toBe(1999);
    // Another process must not get that response from Redis: it builds its own, with the new price.
    const c = server(catalog, 1_000);
    const fresh = await c.post(other);
    expect(fresh.outcome).not.toBe('HIT');
    expect(priceIn(fresh.body)).toBe(2500);
  });
});
