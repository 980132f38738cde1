import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCache } from 'graphql-flight';
import {
  FleetStatsDocument,
  ProductsDocument,
  SalesSummaryDocument,
  ViewerDocument,
} from '../generated/graphql.js';
import {
  dropNamespace,
  REDIS_URL,
  redisSuiteEnabled,
  uniqueNamespace,
  untilStored,
  valueKey,
} from '../../packages/graphql-flight/tests/helpers/redis.js';
import { startTestServer, TEST_SEED, type TestServer } from '../helpers/server.js';

const enabled = await redisSuiteEnabled();

describe.skipIf(!enabled)('two servers sharing one Redis-backed cache namespace', () => {
  const namespace = uniqueNamespace('server');
  let first: TestServer;
  let second: TestServer;
  beforeAll(async () => {
    // Two servers, each with its own database seeded identically, as two processes of a fleet.
    // Field entries are what this suite follows, so whole responses are not cached here
    // (tests/server/response-cache.test.ts shares those through Redis).
    const options = { responseCache: false };
    first = await startTestServer({ cache: createCache({ redisUrl: REDIS_URL, namespace }), ...options });
    second = await startTestServer({ cache: createCache({ redisUrl: REDIS_URL, namespace }), ...options });
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await dropNamespace(namespace);
  });

  it('serves a hot field once per process, and the second server reads it from Redis without a query', async () => {
    const responses = await Promise.all(
      Array.from({ length: 200 }, () => first.request(SalesSummaryDocument)),
    );
    expect(first.server.data.queryCounts().salesSummary).toBe(1);
    for (const response of responses) expect(response.body).toEqual(responses[0]!.body);
    expect(responses[0]!.body.data?.salesSummary.orderCount).toBe(TEST_SEED.orders);

    await untilStored([valueKey(namespace, `field|Query.salesSummary|public`)]);
    const fromRedis = await second.request(SalesSummaryDocument);
    expect(fromRedis.body).toEqual(responses[0]!.body);
    expect(second.server.data.queryCounts().salesSummary).toBe(0);
    expect(second.server.cache.stats().storeHits).toBe(1);
  });

  it('shows the fleet figures to operators: one server won the lease, the other read the fill', async () => {
    const operator = await first.token(1, { operator: true });
    const [a, b] = await Promise.all([
      first.request(FleetStatsDocument, { token: operator }),
      second.request(FleetStatsDocument, { token: operator }),
    ]);
    expect(a.body.data?.flightStats.store).toEqual({ kind: 'redis', healthy: true, breaker: 'closed' });
    expect(a.body.data?.flightStats.fleet).toMatchObject({
      enabled: true,
      leasesWon: 1,
      fillsRefused: 0,
      fallbacks: 0,
    });
    expect(b.body.data?.flightStats.fleet).toMatchObject({ enabled: true, leasesWon: 0 });
  });

  it('round-trips rows and absent (null) products through Redis', async () => {
    const ids = ['1', '2', '999'];
    const loaded = await first.request(ProductsDocument, { variables: { ids } });
    expect(loaded.body.data?.products.map((product) => product?.id ?? null)).toEqual(['1', '2', null]);
    await untilStored(['1', '2', '999'].map((id) => valueKey(namespace, `loader|product|\\d${id}`)));
    const shared = await second.request(ProductsDocument, { variables: { ids } });
    expect(shared.body).toEqual(loaded.body);
    expect(second.server.data.queryCounts().productsByIds).toBe(0);
  });

  it("keeps each viewer's private entries apart in the shared store", async () => {
    const [alice, bob] = await Promise.all([first.token(1), first.token(2)]);
    const a = await first.request(ViewerDocument, { token: alice });
    const b = await second.request(ViewerDocument, { token: bob });
    expect(a.body.data?.viewer?.id).toBe('1');
    expect(b.body.data?.viewer?.id).toBe('2');
    const bFromFirst = await first.request(ViewerDocument, { token: bob });
    expect(bFromFirst.body).toEqual(b.body);
  });
});
