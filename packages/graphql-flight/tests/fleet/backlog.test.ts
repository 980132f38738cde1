/**
 * A backlog of invalidations queued through an outage lands when Redis is back, however large:
 * thousands of ids are sent in chunks, each well within the store deadline.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createCache, type FlightCache } from '../../src/index.js';
import {
  eventually,
  type OwnRedis,
  redisSuiteEnabled,
  startRedis,
  uniqueNamespace,
} from '../helpers/redis.js';

const enabled = await redisSuiteEnabled();

describe.skipIf(!enabled)('a backlog of invalidations', () => {
  let redis: OwnRedis | undefined;
  let cache: FlightCache | undefined;
  afterEach(async () => {
    await cache?.close();
    await redis?.stop();
    redis = undefined;
    cache = undefined;
  });

  it('lands 40 000 queued tag ids after Redis is back', async () => {
    redis = await startRedis();
    cache = createCache({
      redisUrl: redis.url,
      namespace: uniqueNamespace('backlog'),
      invalidationTimeoutMs: 200,
      maxPendingInvalidations: 50_000,
    });
    await cache.remember('warm', async () => 'connected');
    redis.pause();
    const tags = Array.from({ length: 40_000 }, (_, i) => `Order:${i}`);
    await expect(cache.invalidate({ tags })).rejects.toMatchObject({ code: 'E_INVALIDATION_FAILED' });
    expect(cache.stats().invalidations.pending).toBe(1);
    redis.resume();
    await eventually(async () => cache!.stats().invalidations.pending === 0, 10_000);
    expect(cache.stats().invalidations).toMatchObject({ sent: 1, failed: 1, pending: 0 });
  });
});
