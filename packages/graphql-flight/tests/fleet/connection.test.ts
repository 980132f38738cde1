/**
 * The cache's connection to Redis between requests. node-redis's socket timeout (which drops a
 * connection to a frozen server) counts any silence: without the cache's PING, an idle connection
 * was dropped and re-opened every second, with a store error each time, and a request arriving
 * while it reconnected loaded locally (outside the fleet's lease) instead of reading Redis.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cachesOn, redisSuiteEnabled } from '../helpers/redis.js';

const enabled = await redisSuiteEnabled();

describe.skipIf(!enabled)('the connection to Redis', () => {
  const caches = cachesOn('idle');
  afterEach(() => caches.closeAll());

  it('stays open through 1.5 s without requests: no store error, and the next read is answered by Redis', async () => {
    const errors: string[] = [];
    const onStoreError = (error: unknown) => errors.push(String(error));
    const writer = caches.open({ onStoreError });
    const reader = caches.open({ onStoreError });
    await writer.remember('k', async () => 'v');
    await reader.remember('warm', async () => 'w');

    // The idle period is what is under test (longer than the 1 000 ms socket timeout), not an ordering.
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    expect(errors).toEqual([]);
    const load = vi.fn(async () => 'local');
    await expect(reader.remember('k', load)).resolves.toBe('v');
    expect(load).not.toHaveBeenCalled();
    expect(reader.stats().fleet.fallbacks).toBe(0);
    expect(errors).toEqual([]);
  });
});
