import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheKeySecret } from '../../src/server.js';
import { SalesSummaryDocument } from '../generated/graphql.js';
import {
  dropNamespace,
  eventually,
  REDIS_URL,
  redisSuiteEnabled,
  uniqueNamespace,
  untilStored,
  valueKey,
} from '../../packages/graphql-flight/tests/helpers/redis.js';
import { startTestServer, TEST_SECRET, type TestServer } from '../helpers/server.js';

const enabled = await redisSuiteEnabled();

/** Two deployments (one AUTH_SECRET, one Redis) kept apart by CACHE_NAMESPACE alone. */
describe.skipIf(!enabled)('CACHE_NAMESPACE', () => {
  const [staging, production] = [uniqueNamespace('staging'), uniqueNamespace('production')];
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    const options = { responseCache: false };
    a = await startTestServer({ config: { redisUrl: REDIS_URL, cacheNamespace: staging }, ...options });
    b = await startTestServer({ config: { redisUrl: REDIS_URL, cacheNamespace: production }, ...options });
    // Connected before the first request, so its fill is not lost to a connection still opening.
    await eventually(() => a.server.cache.ping());
    await eventually(() => b.server.cache.ping());
  }, 90_000);
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all([dropNamespace(staging), dropNamespace(production)]);
  });

  it("names the server's Redis keys, so two deployments on one Redis share no entry", async () => {
    await a.request(SalesSummaryDocument);
    const key = 'field|Query.salesSummary|public';
    await untilStored([valueKey(staging, key, cacheKeySecret(TEST_SECRET))]);
    // The other deployment finds nothing of the first one's: it loads the field itself.
    await b.request(SalesSummaryDocument);
    expect(b.server.data.queryCounts().salesSummary).toBe(1);
    expect(b.server.cache.stats().storeHits).toBe(0);
    await untilStored([valueKey(production, key, cacheKeySecret(TEST_SECRET))]);
  });
});
