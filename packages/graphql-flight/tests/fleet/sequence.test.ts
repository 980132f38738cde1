/**
 * The invalidation sequence after Redis lost it (a restart without its data, standing here as the
 * sequence key set back): a load that began before must not pass the fences set after.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RedisKeys } from '../../src/store/redis-keys.js';
import { deferred } from '../helpers/deferred.js';
import {
  cachesOn,
  eventually,
  invalidateSilently,
  rawClient,
  recordValue,
  redisSuiteEnabled,
  valueKey,
} from '../helpers/redis.js';

const enabled = await redisSuiteEnabled();

describe.skipIf(!enabled)('the invalidation sequence', () => {
  const caches = cachesOn('sequence');
  const { namespace } = caches;
  afterEach(() => caches.closeAll());

  it('starts a new namespace at a large random base, never at 0', async () => {
    const cache = caches.open();
    await cache.remember('k', async () => 'v');
    const client = await rawClient();
    try {
      const seq = Number(await client.get(new RedisKeys(namespace).seq));
      expect(seq).toBeGreaterThanOrEqual(2 ** 40);
      expect(seq).toBeLessThan(2 ** 52);
    } finally {
      client.destroy();
    }
  });

  it('refuses, and loads again, a fill whose load began before the sequence went back (Redis lost it)', async () => {
    const cache = caches.open({ storeTimeoutMs: 1_000 });
    const first = deferred<string>();
    let loads = 0;
    const pending = cache.remember('price', () => (++loads === 1 ? first.promise : Promise.resolve('new')), {
      tags: ['Product:1'],
    });
    await eventually(async () => loads === 1);
    const client = await rawClient();
    try {
      // Redis restarted empty: the sequence starts again lower than the one the load read, and an
      // invalidation after the restart marks the tag with a number below it.
      await client.set(new RedisKeys(namespace).seq, '5');
      await invalidateSilently(namespace, { tags: ['Product:1'] });
    } finally {
      client.destroy();
    }
    first.resolve('old');
    await expect(pending).resolves.toBe('new');
    expect(loads).toBe(2);
    expect(cache.stats().fleet.fillsRefused).toBe(1);
    const after = await rawClient();
    try {
      expect(recordValue(await after.get(valueKey(namespace, 'price')))).toBe('new');
    } finally {
      after.destroy();
    }
  });
});
