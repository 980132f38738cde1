import {
  createServer as createHttpServer,
  request as httpRequest,
  type Server as HttpServer,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse, print } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mutationCount, rateLimited, useRateLimit } from '../../src/plugins/rate-limit.js';
import { DEFAULT_RATE_LIMIT, MemoryRateLimiter, resolveRateLimit } from '../../src/plugins/rate-limiter.js';
import { PlaceOrderDocument, UpdateProductPriceDocument, ViewerDocument } from '../generated/graphql.js';
import { errorCodes, type Reply, send } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ORDER = { productId: '3', quantity: 1 };
/** Seeding a server's database takes long on a busy machine: a hang watchdog, not an ordering. */
const SERVER_START_MS = 120_000;

/** An operation of `count` aliased placeOrder fields. */
function orders(count: number): string {
  const fields = Array.from(
    { length: count },
    (_, i) => `o${i}: placeOrder(productId: "3", quantity: 1) { id }`,
  ).join(' ');
  return `mutation { ${fields} }`;
}

function placeOrders(t: TestServer, token: string | undefined, count: number): Promise<Reply[]> {
  return Promise.all(
    Array.from({ length: count }, () =>
      send(t, PlaceOrderDocument, { ...(token === undefined ? {} : { token }), variables: ORDER }),
    ),
  );
}

/** Orders in the database (the whole shop: only this suite's server writes to its database). */
async function orderCount(t: TestServer): Promise<number> {
  return (await t.server.data.salesSummary()).orderCount;
}

function expectRefused(reply: Reply, retryAfter: string): void {
  expect(reply.status).toBe(429);
  expect(reply.headers.get('retry-after')).toBe(retryAfter);
  expect(reply.body.data ?? null).toBeNull();
  expect(errorCodes(reply)).toEqual(['RATE_LIMITED']);
  expect(reply.body.errors?.[0]?.extensions?.retryAfter).toBe(Number(retryAfter));
  expect(reply.body.errors?.[0]?.message).toBe(
    `rate limit: at most 20 mutations at once, then 2 per second; retry in ${retryAfter} s`,
  );
}

describe('the mutation rate limit under the default config', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  }, SERVER_START_MS);
  afterAll(async () => {
    await t?.close();
  });

  it('lets ten concurrent placeOrder of one customer through', async () => {
    expect(t.server.rateLimiter?.limit).toEqual({ burst: 20, perSecond: 2 });
    const before = await orderCount(t);
    const replies = await placeOrders(t, await t.token(4), 10);
    for (const reply of replies) {
      expect(reply.status).toBe(200);
      expect(reply.body.errors).toBeUndefined();
    }
    expect(await orderCount(t)).toBe(before + 10);
  });
});

describe('the mutation rate limit (a token bucket per viewer, on a clock the test moves)', () => {
  let t: TestServer;
  let now = 0;
  const limiter = new MemoryRateLimiter({ limit: DEFAULT_RATE_LIMIT, now: () => now });
  beforeAll(async () => {
    t = await startTestServer({ rateLimiter: limiter });
  }, SERVER_START_MS);
  afterAll(async () => {
    await t?.close();
  });

  it('refuses the 21st mutation of a burst with 429 and Retry-After before it runs, writing nothing', async () => {
    const token = await t.token(1);
    const burst = await placeOrders(t, token, 20);
    expect(burst.map((reply) => reply.status)).toEqual(Array(20).fill(200));
    const before = await orderCount(t);
    const statements = t.server.data.queryCounts().placeOrder;

    const refused = await send(t, PlaceOrderDocument, { token, variables: ORDER });
    expectRefused(refused, '1');
    expect(await orderCount(t)).toBe(before);
    expect(t.server.data.queryCounts().placeOrder).toBe(statements);
  });

  it('refills one token every half second, and never holds more than the burst', async () => {
    const token = await t.token(1);
    now += 499;
    expectRefused(await send(t, PlaceOrderDocument, { token, variables: ORDER }), '1');
    now += 1;
    expect((await send(t, PlaceOrderDocument, { token, variables: ORDER })).status).toBe(200);
    expectRefused(await send(t, PlaceOrderDocument, { token, variables: ORDER }), '1');

    // A long idle time fills the bucket to 20, not to 20 + 2 per second of it.
    now += 60_000;
    const replies = await placeOrders(t, token, 21);
    expect(replies.filter((reply) => reply.status === 200)).toHaveLength(20);
    expect(replies.filter((reply) => reply.status === 429)).toHaveLength(1);
  });

  it('keeps the budgets of different viewers apart', async () => {
    const exhausted = await t.token(1);
    expectRefused(await send(t, PlaceOrderDocument, { token: exhausted, variables: ORDER }), '1');
    const other = await placeOrders(t, await t.token(2), 20);
    expect(other.map((reply) => reply.status)).toEqual(Array(20).fill(200));
  });

  it('does not limit queries, nor count them', async () => {
    const exhausted = await t.token(1);
    const query = await send(t, ViewerDocument, { token: exhausted });
    expect(query.status).toBe(200);
    expect(query.body.data.viewer.id).toBe('1');

    const token = await t.token(3);
    await Promise.all(Array.from({ length: 50 }, () => send(t, ViewerDocument, { token })));
    const mutations = await placeOrders(t, token, 20);
    expect(mutations.map((reply) => reply.status)).toEqual(Array(20).fill(200));
  });

  it('counts each mutation of an operation, and refuses an operation over the budget whole', async () => {
    const token = await t.token(5);
    const fifteen = await send(t, orders(15), { token });
    expect(fifteen.status).toBe(200);
    expect(Object.keys(fifteen.body.data)).toHaveLength(15);

    const before = await orderCount(t);
    const six = await send(t, orders(6), { token });
    expect(six.status).toBe(429);
    expect(six.headers.get('retry-after')).toBe('1');
    expect(errorCodes(six)).toEqual(['RATE_LIMITED']);
    expect(await orderCount(t)).toBe(before);

    expect((await send(t, orders(5), { token })).status).toBe(200);
    expect(await orderCount(t)).toBe(before + 5);
  });

  it('spends nothing on a mutation refused before it executes: an invalid document, a bad token', async () => {
    const token = await t.token(8);
    for (let i = 0; i < 25; i++) {
      const invalid = await send(t, 'mutation { placeOrder(productId: "3") { id } }', { token });
      expect(errorCodes(invalid)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    }
    const forged = `${token.slice(0, -4)}AAAA`;
    for (let i = 0; i < 25; i++) {
      expect((await send(t, PlaceOrderDocument, { token: forged, variables: ORDER })).status).toBe(401);
    }
    const placed = await placeOrders(t, token, 20);
    expect(placed.map((reply) => reply.status)).toEqual(Array(20).fill(200));
  });

  it("limits operators too, on their customer's budget", async () => {
    const operator = await t.token(6, { operator: true });
    const customer = await t.token(6);
    const prices = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        send(t, UpdateProductPriceDocument, { token: operator, variables: { id: '9', priceCents: 100 + i } }),
      ),
    );
    expect(prices.map((reply) => reply.status)).toEqual(Array(10).fill(200));
    const placed = await placeOrders(t, customer, 10);
    expect(placed.map((reply) => reply.status)).toEqual(Array(10).fill(200));
    const refused = await send(t, UpdateProductPriceDocument, {
      token: operator,
      variables: { id: '9', priceCents: 1 },
    });
    expectRefused(refused, '1');
  });

  it('spends one shared budget on anonymous mutations that come without a socket', async () => {
    const anonymous = await placeOrders(t, undefined, 20);
    expect(anonymous.map((reply) => errorCodes(reply))).toEqual(Array(20).fill(['UNAUTHENTICATED']));
    expectRefused(await send(t, PlaceOrderDocument, { variables: ORDER }), '1');
  });

  it('gives anonymous mutations on node:http a budget per client address', async () => {
    const http: HttpServer = createHttpServer(t.server.handler);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    const post = (localAddress: string, forwardedFor?: string) =>
      new Promise<{ status: number; retryAfter: string | undefined }>((resolve, reject) => {
        const body = JSON.stringify({ query: print(PlaceOrderDocument), variables: ORDER });
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port,
            localAddress,
            method: 'POST',
            path: '/graphql',
            headers: {
              'content-type': 'application/json',
              ...(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }),
            },
          },
          (res) => {
            res.resume();
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string }),
            );
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    try {
      const first = [];
      for (let i = 0; i < 20; i++) first.push(await post('127.0.0.2'));
      expect(first.map((reply) => reply.status)).toEqual(Array(20).fill(401));
      expect(await post('127.0.0.2')).toEqual({ status: 429, retryAfter: '1' });
      // X-Forwarded-For is not trusted: the address is the connection's.
      expect(await post('127.0.0.2', '10.1.2.3')).toEqual({ status: 429, retryAfter: '1' });
      expect((await post('127.0.0.3')).status).toBe(401);
    } finally {
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    }
  });
});

describe('the mutation rate limit turned off', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ config: { rateLimit: false } });
  }, SERVER_START_MS);
  afterAll(async () => {
    await t?.close();
  });

  it('lets every mutation through', async () => {
    expect(t.server.rateLimiter).toBeUndefined();
    const replies = await placeOrders(t, await t.token(7), 40);
    expect(replies.map((reply) => reply.status)).toEqual(Array(40).fill(200));
  });
});

describe('useRateLimit in a batching Yoga', () => {
  let writes = 0;
  let now = 0;
  const yoga = createYoga({
    schema: createSchema({
      typeDefs: 'type Query { n: Int! } type Mutation { bump: Int! }',
      resolvers: { Query: { n: () => writes }, Mutation: { bump: () => ++writes } },
    }),
    batching: true,
    logging: false,
    plugins: [
      useRateLimit({
        limiter: new MemoryRateLimiter({ limit: { burst: 2, perSecond: 0.25 }, now: () => now }),
      }),
    ],
  });
  const batch = async (operations: string[]) => {
    const response = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(operations.map((query) => ({ query }))),
    });
    return {
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      body: (await response.json()) as Array<{ errors?: Array<{ extensions?: { code?: string } }> }>,
    };
  };

  it('counts each mutation of a batch; a batch partly refused stays 200 with Retry-After', async () => {
    const reply = await batch(['mutation { bump }', '{ n }', 'mutation { bump }', 'mutation { bump }']);
    expect(writes).toBe(2);
    expect(reply.status).toBe(200);
    expect(reply.retryAfter).toBe('4');
    expect(reply.body.map((entry) => entry.errors?.[0]?.extensions?.code ?? null)).toEqual([
      null,
      null,
      null,
      'RATE_LIMITED',
    ]);
  });

  it('answers a batch refused whole with 429 and Retry-After', async () => {
    now += 1_000;
    const reply = await batch(['mutation { bump }', 'mutation { bump }']);
    expect(writes).toBe(2);
    expect(reply.status).toBe(429);
    expect(reply.retryAfter).toBe('3');
    expect(reply.body.map((entry) => entry.errors?.[0]?.extensions?.code)).toEqual([
      'RATE_LIMITED',
      'RATE_LIMITED',
    ]);
  });
});

describe('the pieces of the rate limit', () => {
  it('is an exact token bucket: the burst at once, then one per interval, whatever the moment', () => {
    let now = 1_000;
    const limiter = new MemoryRateLimiter({ limit: { burst: 20, perSecond: 2 }, now: () => now });
    for (let i = 0; i < 20; i++) expect(limiter.decide('k', 1)).toEqual({ allowed: true });
    expect(limiter.decide('k', 1)).toEqual({ allowed: false, retryAfterMs: 500 });
    // Across any ten seconds from here, 20 more pass (2 per second), not a new burst of 20 on top.
    let passed = 0;
    for (let step = 0; step < 1_000; step++) {
      now += 10;
      while (limiter.decide('k', 1).allowed) passed++;
    }
    expect(passed).toBe(20);
    expect(limiter.decide('k', 3)).toEqual({ allowed: false, retryAfterMs: 1_500 });
  });

  it('never lets an operation of more mutations than the burst through', () => {
    const limiter = new MemoryRateLimiter({ limit: { burst: 3, perSecond: 1 }, now: () => 0 });
    expect(limiter.decide('k', 4)).toEqual({ allowed: false, retryAfterMs: Number.POSITIVE_INFINITY });
    expect(limiter.decide('k', 3)).toEqual({ allowed: true });
    const error = rateLimited(limiter.limit, 4, Number.POSITIVE_INFINITY);
    expect(error.message).toBe(
      'rate limit: this operation holds 4 mutations, more than the 3 mutations at once, then 1 per second allow; send at most 3 per operation',
    );
    expect(error.extensions).toEqual({ code: 'RATE_LIMITED', http: { status: 429 } });
  });

  it('rounds Retry-After up to whole seconds, at least 1', () => {
    const retryAfter = (ms: number) =>
      (rateLimited(DEFAULT_RATE_LIMIT, 1, ms).extensions.http as { headers: Record<string, string> }).headers[
        'Retry-After'
      ];
    expect([0.001, 500, 1_000, 1_000.5, 3_333.4].map(retryAfter)).toEqual(['1', '1', '1', '2', '4']);
  });

  it('counts the root fields of a mutation, through fragments, without __typename', () => {
    const count = (text: string) => {
      const document = parse(text);
      const operation = document.definitions[0] as { selectionSet: Parameters<typeof mutationCount>[1] };
      return mutationCount(document, operation.selectionSet);
    };
    expect(count('mutation { a: bump b: bump }')).toBe(2);
    expect(count('mutation { __typename }')).toBe(1);
    expect(
      count(
        'mutation { ... on Mutation { a: bump b: bump } ...F } fragment F on Mutation { c: bump __typename }',
      ),
    ).toBe(3);
  });

  it('holds at most maxKeys buckets under any number of keys', () => {
    let now = 0;
    const limiter = new MemoryRateLimiter({ limit: DEFAULT_RATE_LIMIT, now: () => now, maxKeys: 100 });
    for (let i = 0; i < 1_000; i++) {
      now += 1;
      limiter.decide(`address:${i}`, 1);
    }
    expect(limiter.size).toBeLessThanOrEqual(100);
  });

  it('refuses a limit that is not one, naming the option', () => {
    expect(() => resolveRateLimit({ burst: 0, perSecond: 2 })).toThrow('rateLimit.burst');
    expect(() => resolveRateLimit({ burst: 20, perSecond: 0 })).toThrow('rateLimit.perSecond');
    expect(() => resolveRateLimit({ burst: 20, perSecond: Number.NaN })).toThrow('rateLimit.perSecond');
  });
});
