/**
 * With Redis, a memory copy lives `localTtlMs` from when its data was read, not from when a slow
 * load finished: the bound of a lost invalidation message holds however long the load took.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cachesOn, redisSuiteEnabled } from '../helpers/redis.js';

const enabled = await redisSuiteEnabled();

describe.skipIf(!enabled)('the age of a memory copy', () => {
  const caches = cachesOn('copy-age');
  afterEach(() => caches.closeAll());

  it('keeps no copy of a value whose load took longer than localTtlMs', async () => {
    const cache = caches.open({ localTtlMs: 200, storeTimeoutMs: 1_000 });
    // A data source slower than the local TTL (the wait stands for the source, not for ordering).
    const slow = () => new Promise<string>((resolve) => setTimeout(() => resolve('slow'), 300));
    await expect(cache.remember('slow', slow)).resolves.toBe('slow');
    expect(cache.peek('slow')).toBeUndefined();
    // A fast one is kept.
    await expect(cache.remember('fast', async () => 'fast')).resolves.toBe('fast');
    expect(cache.peek('fast')).toBe('fast');
  });
});
