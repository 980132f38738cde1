import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import SchemaBuilder from '@pothos/core';
import { GraphQLError } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { afterEach, describe, expect, it, vi } from 'vitest';
import CachePolicyPlugin from '../../src/graphql/pothos.js';
import {
  invalidateResponses,
  OperationCoalescing,
  type ResponseCacheOptions,
} from '../../src/graphql/use-operation-coalescing.js';
import { createCache, type FlightCache, SingleFlight } from '../../src/index.js';
import { deferred } from '../helpers/deferred.js';

interface Context {
  cache: FlightCache;
}

/**
 * A Yoga server with the plugin over a small Pothos schema: `hot` (PUBLIC, 5 s) and `warm`
 * (PUBLIC, 60 s) with a scalar leaf each, `item(id)` (PUBLIC, 60 s), `big` (a long string),
 * `flaky` (throws while `failing` is set) and `uncached` (no policy). A probe plugin counts what
 * Yoga does after onRequest; the clock of the cache is the test's.
 */
function setup(
  options: {
    responseCache?: Partial<ResponseCacheOptions> | false;
    itemGate?: Promise<void>;
    flightTimeoutMs?: number;
    coalescingTimeoutMs?: number;
  } = {},
) {
  let now = 1_000;
  const cache = createCache({
    now: () => now,
    ...(options.flightTimeoutMs === undefined
      ? {}
      : { flight: new SingleFlight({ timeoutMs: options.flightTimeoutMs }) }),
  });
  const calls = { hot: 0, warm: 0, item: 0, flaky: 0, uncached: 0, big: 0 };
  const yogaSteps = { params: 0, context: 0 };
  let yogaRequests = 0;
  let failing = false;
  const builder = new SchemaBuilder<{ Context: Context }>({
    plugins: [CachePolicyPlugin],
    cachePolicy: { cache: (ctx) => ctx.cache, viewer: () => null },
  });
  const Value = builder.objectRef<{ n: number }>('Value').implement({
    fields: (t) => ({ n: t.exposeInt('n') }),
  });
  builder.queryType({
    fields: (t) => ({
      hot: t.field({ type: Value, cache: { ttlMs: 5_000 }, resolve: () => ({ n: ++calls.hot }) }),
      warm: t.int({ cache: { ttlMs: 60_000 }, resolve: () => ++calls.warm }),
      item: t.int({
        args: { id: t.arg.int({ required: true }), scale: t.arg.int() },
        // A hint only: the response cache alone decides how often it runs.
        cache: { ttlMs: 60_000, hintOnly: true },
        resolve: async (_root, args) => {
          calls.item++;
          await options.itemGate;
          return args.id * (args.scale ?? 1);
        },
      }),
      big: t.string({ cache: { ttlMs: 60_000 }, resolve: () => 'x'.repeat(2_000 + calls.big++) }),
      flaky: t.int({
        cache: { ttlMs: 60_000 },
        resolve: () => {
          calls.flaky++;
          if (failing) throw new GraphQLError('upstream down');
          return calls.flaky;
        },
      }),
      uncached: t.int({ resolve: () => ++calls.uncached }),
    }),
  });
  const probe: Plugin = {
    // Every response Yoga makes passes here, those its onRequest hooks end early included.
    onResponse: () => {
      yogaRequests++;
    },
    onParams: () => {
      yogaSteps.params++;
    },
    onContextBuilding: () => {
      yogaSteps.context++;
    },
  };
  const coalescing = new OperationCoalescing({
    ...(options.coalescingTimeoutMs === undefined ? {} : { timeoutMs: options.coalescingTimeoutMs }),
    responseCache:
      options.responseCache === false
        ? false
        : {
            cache,
            authorize: (authorization) => authorization === 'Bearer good',
            ...options.responseCache,
          },
  });
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema: builder.toSchema(),
    plugins: [coalescing.plugin(), probe],
    logging: false,
    landingPage: false,
    context: ({ request }) => {
      const authorization = request.headers.get('authorization');
      if (authorization !== null && authorization !== 'Bearer good') {
        throw new GraphQLError('bad token', {
          extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
        });
      }
      return { cache };
    },
  });
  const post = async (
    query: string,
    init: { variables?: unknown; headers?: Record<string, string>; operationName?: string } = {},
  ) => {
    const response = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...init.headers },
      body: JSON.stringify({ query, variables: init.variables, operationName: init.operationName }),
    });
    return { status: response.status, headers: response.headers, body: await response.text() };
  };
  const get = async (query: string, headers: Record<string, string> = {}) => {
    const response = await yoga.fetch(`http://localhost/graphql?query=${encodeURIComponent(query)}`, {
      headers: { accept: 'application/json', ...headers },
    });
    return { status: response.status, headers: response.headers, body: await response.text() };
  };
  return {
    cache,
    coalescing,
    yoga,
    calls,
    yogaSteps,
    post,
    get,
    advance(ms: number) {
      now += ms;
    },
    /** Requests Yoga answered (whatever answered them inside Yoga). */
    yogaRequests: () => yogaRequests,
    fail(on: boolean) {
      failing = on;
    },
  };
}

let opened: FlightCache[] = [];
function track<T extends { cache: FlightCache }>(t: T): T {
  opened.push(t.cache);
  return t;
}
afterEach(async () => {
  await Promise.all(opened.map((cache) => cache.close()));
  opened = [];
});

const HOT = '{ hot { n } warm }';

describe('the response cache', () => {
  it('answers a repeat from the cache before Yoga parses it or builds a context, with the same bytes', async () => {
    const t = track(setup());
    const miss = await t.post(HOT);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(miss.headers.get('cache-status')).toBe('graphql-flight; fwd=miss; stored; ttl=5');
    expect(t.yogaSteps).toEqual({ params: 1, context: 1 });

    const hit = await t.post(HOT);
    expect(hit.status).toBe(200);
    expect(hit.body).toBe(miss.body);
    expect(JSON.parse(hit.body)).toEqual({ data: { hot: { n: 1 }, warm: 1 } });
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.headers.get('cache-status')).toBe('graphql-flight; hit; ttl=5');
    expect(hit.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(hit.headers.get('etag')).toBe(miss.headers.get('etag'));
    expect(hit.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect(hit.headers.get('cache-control')).toBe('public, no-cache');
    expect(miss.headers.get('cache-control')).toBe('public, no-cache');
    expect(hit.headers.get('vary')).toBe('Accept');
    // Nothing past onRequest ran for the hit, and no resolver.
    expect(t.yogaSteps).toEqual({ params: 1, context: 1 });
    expect(t.calls).toMatchObject({ hot: 1, warm: 1 });
    expect(t.coalescing.stats()).toMatchObject({ started: 1, hits: 1, stored: 1 });
  });

  it('keeps a response for the smallest TTL of the fields it touches', async () => {
    const t = track(setup());
    await t.post(HOT); // hot 5 s, warm 60 s: the response lives 5 s
    t.advance(4_999);
    expect((await t.post(HOT)).headers.get('x-cache')).toBe('HIT');
    t.advance(2);
    const after = await t.post(HOT);
    expect(after.headers.get('x-cache')).toBe('MISS');
    expect(JSON.parse(after.body).data.hot.n).toBe(2);

    await t.post('{ warm }');
    t.advance(59_000);
    expect((await t.post('{ warm }')).headers.get('x-cache')).toBe('HIT');
  });

  it('never stores an operation that touches a field without a policy', async () => {
    const t = track(setup());
    const first = await t.post('{ warm uncached }');
    const second = await t.post('{ warm uncached }');
    expect([first, second].map((r) => r.headers.get('x-cache'))).toEqual(['MISS', 'MISS']);
    expect(second.headers.get('cache-status')).toBe('graphql-flight; fwd=bypass');
    expect(second.headers.get('cache-control')).toBe('no-store');
    expect(second.headers.get('etag')).toBeNull();
    expect(t.calls.uncached).toBe(2);
    expect(t.coalescing.stats().stored).toBe(0);
  });

  it('never stores a response with errors, and shares it with the requests that waited for it', async () => {
    const t = track(setup());
    t.fail(true);
    const failed = await Promise.all([t.post('{ flaky }'), t.post('{ flaky }')]);
    expect(failed.map((r) => r.headers.get('x-cache')).sort()).toEqual(['COALESCED', 'MISS']);
    expect(failed[0]!.body).toBe(failed[1]!.body);
    expect(JSON.parse(failed[0]!.body).errors[0].message).toBe('upstream down');
    expect(failed[0]!.headers.get('cache-control')).toBe('no-store');
    expect(t.calls.flaky).toBe(1);
    t.fail(false);
    const next = await t.post('{ flaky }');
    expect(next.headers.get('x-cache')).toBe('MISS');
    expect(JSON.parse(next.body)).toEqual({ data: { flaky: 2 } });
    expect((await t.post('{ flaky }')).headers.get('x-cache')).toBe('HIT');
  });

  it('shares one execution among concurrent misses, whatever their valid credentials', async () => {
    const gate = deferred<void>();
    const t = track(setup({ itemGate: gate.promise }));
    const send = (headers: Record<string, string>) =>
      t.post('{ item(id: 7) }', { headers }).then((r) => ({ cache: r.headers.get('x-cache'), body: r.body }));
    const pending = Promise.all([send({}), send({ authorization: 'Bearer good' }), send({})]);
    // All three requests, of both credentials, wait on one flight before it may finish.
    await expectEventually(() => t.cache.stats().flights.flights.some((flight) => flight.waiters === 3));
    gate.resolve();
    const responses = await pending;
    expect(responses.map((r) => r.cache).sort()).toEqual(['COALESCED', 'COALESCED', 'MISS']);
    expect(new Set(responses.map((r) => r.body))).toEqual(new Set(['{"data":{"item":7}}']));
    expect(t.calls.item).toBe(1);
  });

  it('past the flight deadline, answers the waiters 503 and lets the execution finish once for its own request', async () => {
    const gate = deferred<void>();
    const t = track(setup({ itemGate: gate.promise, flightTimeoutMs: 1_000 }));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const leader = t.post('{ item(id: 4) }');
      const waiter = t.post('{ item(id: 4) }');
      await expectEventually(() => t.cache.stats().flights.flights.some((flight) => flight.waiters === 2));
      await vi.advanceTimersByTimeAsync(1_000);
      const late = await waiter;
      expect(late.status).toBe(503);
      expect(JSON.parse(late.body).errors[0].extensions.code).toBe('EXECUTION_TIMEOUT');
      expect(late.headers.get('x-cache')).toBe('COALESCED');
      gate.resolve();
      const first = await leader;
      expect(JSON.parse(first.body)).toEqual({ data: { item: 4 } });
      expect(first.headers.get('x-cache')).toBe('MISS');
      expect(t.calls.item).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('without the response cache too, past the deadline the waiters get a 503 and the starter its own result', async () => {
    const gate = deferred<void>();
    const t = track(setup({ responseCache: false, itemGate: gate.promise, coalescingTimeoutMs: 1_000 }));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const leader = t.post('{ item(id: 5) }');
      const waiter = t.post('{ item(id: 5) }');
      await expectEventually(() => t.coalescing.stats().joined === 1);
      await vi.advanceTimersByTimeAsync(1_000);
      const late = await waiter;
      expect(late.status).toBe(503);
      expect(JSON.parse(late.body).errors[0].extensions.code).toBe('EXECUTION_TIMEOUT');
      gate.resolve();
      const first = await leader;
      expect(JSON.parse(first.body)).toEqual({ data: { item: 5 } });
      expect(t.calls.item).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps variables apart, and shares equal variables in any key order', async () => {
    const t = track(setup());
    const query = 'query I($id: Int!, $scale: Int) { item(id: $id, scale: $scale) }';
    const a = await t.post(query, { variables: { id: 2, scale: 3 } });
    const b = await t.post(query, { variables: { scale: 3, id: 2 } });
    const c = await t.post(query, { variables: { id: 2, scale: 4 } });
    expect([a, b, c].map((r) => r.headers.get('x-cache'))).toEqual(['MISS', 'HIT', 'MISS']);
    expect(JSON.parse(c.body)).toEqual({ data: { item: 8 } });
    const named = await t.post(`${query} query J { warm }`, {
      variables: { id: 2, scale: 3 },
      operationName: 'I',
    });
    expect(named.headers.get('x-cache')).toBe('MISS'); // another document
  });

  it('keeps an empty operation name apart from no name: Yoga refuses it, and it is never a HIT', async () => {
    const t = track(setup());
    const query = 'query P { warm }';
    expect((await t.post(query)).status).toBe(200);
    expect((await t.post(query)).headers.get('x-cache')).toBe('HIT');
    for (let i = 0; i < 2; i++) {
      const empty = await t.post(query, { operationName: '' });
      expect(empty.status).toBe(400);
      expect(empty.headers.get('x-cache')).not.toBe('HIT');
    }
    // Concurrent no-name and empty-name requests do not share an execution either.
    const [none, empty] = await Promise.all([
      t.post('query Q { uncached }'),
      t.post('query Q { uncached }', { operationName: '' }),
    ]);
    expect(none.status).toBe(200);
    expect(empty.status).toBe(400);
  });

  it('answers a GET with a matching If-None-Match with 304, and a changed one in full', async () => {
    const t = track(setup());
    const first = await t.get(HOT);
    const etag = first.headers.get('etag')!;
    expect(first.status).toBe(200);
    const notModified = await t.get(HOT, { 'if-none-match': `W/"other", ${etag}` });
    expect(notModified.status).toBe(304);
    expect(notModified.body).toBe('');
    expect(notModified.headers.get('etag')).toBe(etag);
    expect(notModified.headers.get('x-cache')).toBe('HIT');
    const changed = await t.get(HOT, { 'if-none-match': '"something-else"' });
    expect(changed.status).toBe(200);
    expect(changed.body).toBe(first.body);
    // A POST is never answered 304 (RFC 9110 allows it for GET and HEAD only): it gets the body.
    const post = await t.post(HOT, { headers: { 'if-none-match': etag } });
    expect(post.status).toBe(200);
    expect(post.body).toBe(first.body);
    expect(t.coalescing.stats().notModified).toBe(1);
  });

  it('answers 304 on a miss too, once the executed response matches the If-None-Match', async () => {
    const t = track(setup());
    const first = await t.get('{ item(id: 1) }');
    await invalidateResponses(t.cache, ['Query.item']);
    // The value is unchanged (item(id: 1) is always 1), so the ETag is too.
    const again = await t.get('{ item(id: 1) }', { 'if-none-match': first.headers.get('etag')! });
    expect(t.calls.item).toBe(2);
    expect(again.headers.get('x-cache')).toBe('MISS');
    expect(again.status).toBe(304);
  });

  it('serves each media type its own representation, and leaves stream-only requests to Yoga', async () => {
    const t = track(setup());
    await t.post(HOT);
    const graphqlResponse = await t.post(HOT, { headers: { accept: 'application/graphql-response+json' } });
    expect(graphqlResponse.headers.get('x-cache')).toBe('HIT');
    expect(graphqlResponse.headers.get('content-type')).toBe(
      'application/graphql-response+json; charset=utf-8',
    );
    const json = await t.post(HOT, { headers: { accept: 'application/json' } });
    expect(graphqlResponse.headers.get('etag')).not.toBe(json.headers.get('etag'));
    const stream = await t.post(HOT, { headers: { accept: 'text/event-stream' } });
    expect(stream.headers.get('x-cache')).not.toBe('HIT');
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
  });

  it('serves cached responses to requests with credentials only when authorize accepts them', async () => {
    const t = track(setup());
    await t.post(HOT);
    const good = await t.post(HOT, { headers: { authorization: 'Bearer good' } });
    expect(good.headers.get('x-cache')).toBe('HIT');
    const bad = await t.post(HOT, { headers: { authorization: 'Bearer bad' } });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('x-cache')).toBe('MISS');
    expect(bad.headers.get('cache-status')).toBe('graphql-flight; fwd=bypass');

    const strict = track(setup({ responseCache: { authorize: undefined } }));
    await strict.post(HOT);
    const withToken = await strict.post(HOT, { headers: { authorization: 'Bearer good' } });
    expect(withToken.headers.get('x-cache')).toBe('MISS');
  });

  it('retires the responses that touched an invalidated field, and only those', async () => {
    const t = track(setup());
    await t.post(HOT);
    await t.post('{ warm }');
    await invalidateResponses(t.cache, ['Query.hot']);
    expect((await t.post(HOT)).headers.get('x-cache')).toBe('MISS');
    expect((await t.post('{ warm }')).headers.get('x-cache')).toBe('HIT');
    await invalidateResponses(t.cache, ['Query.warm']);
    expect((await t.post(HOT)).headers.get('x-cache')).toBe('MISS');
    expect((await t.post('{ warm }')).headers.get('x-cache')).toBe('MISS');
  });

  it('does not store a response longer than maxResponseLength', async () => {
    const t = track(setup({ responseCache: { maxResponseLength: 1_000 } }));
    const first = await t.post('{ big }');
    expect(JSON.parse(first.body).data.big).toHaveLength(2_000);
    expect((await t.post('{ big }')).headers.get('x-cache')).toBe('MISS');
    expect(t.coalescing.stats().stored).toBe(0);
  });

  it('reads a body without Content-Length through Yoga, and leaves a bad body to Yoga', async () => {
    const t = track(setup());
    await t.post(HOT);
    const body = new TextEncoder().encode(JSON.stringify({ query: HOT }));
    const chunked = await t.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(body);
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    // Not read ahead (no length to bound it), so Yoga parses it: the response cache still answers.
    expect(chunked.headers.get('x-cache')).toBe('HIT');
    expect(JSON.parse(await chunked.text())).toEqual({ data: { hot: { n: 1 }, warm: 1 } });

    const bad = await t.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": ',
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).errors[0].message).toBe('POST body sent invalid JSON.');

    // A body read ahead is handed to Yoga's own checks: not an object, or a batch (batching is off).
    const post = (body: string) =>
      t.yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    const scalar = await post('5');
    expect(scalar.status).toBe(400);
    expect((await scalar.json()).errors[0].message).toBe(
      'POST body is expected to be object but received number',
    );
    const batch = await post(JSON.stringify([{ query: HOT }, { query: HOT }]));
    expect(batch.status).toBe(400);
    expect((await batch.json()).errors[0].message).toMatch(/batching is not supported/i);
  });

  it('adds CORS headers to a hit as Yoga does to a miss', async () => {
    const t = track(setup());
    const origin = { origin: 'https://shop.example' };
    const miss = await t.post(HOT, { headers: origin });
    const hit = await t.post(HOT, { headers: origin });
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.headers.get('access-control-allow-origin')).toBe(
      miss.headers.get('access-control-allow-origin'),
    );
    expect(hit.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    // Both Vary fields survive: the representation depends on Accept and, with CORS, on Origin.
    for (const response of [miss, hit])
      expect(response.headers.get('vary')).toMatch(/^(Origin, Accept|Accept, Origin)$/);
  });

  it('takes a failed lookup as a miss: the request still executes', async () => {
    const t = track(setup());
    vi.spyOn(t.cache, 'peek').mockImplementation(() => {
      throw new Error('lookup failed');
    });
    const response = await t.post('{ warm }');
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ data: { warm: 1 } });
    expect(response.headers.get('cache-status')).toBe('graphql-flight; fwd=bypass');
    vi.restoreAllMocks();
    expect((await t.post('{ warm }')).headers.get('x-cache')).toBe('MISS');
    expect((await t.post('{ warm }')).headers.get('x-cache')).toBe('HIT');
  });

  it('is off without responseCache: identical sequential queries both execute', async () => {
    const t = track(setup({ responseCache: false }));
    const first = await t.post(HOT);
    const second = await t.post(HOT);
    expect([first, second].map((r) => r.headers.get('x-cache'))).toEqual(['MISS', 'MISS']);
    expect(second.headers.get('etag')).toBeNull();
    // Both ran through Yoga (the fields themselves come from the field cache).
    expect(t.yogaSteps).toEqual({ params: 2, context: 2 });
    expect(t.coalescing.stats()).toMatchObject({ hits: 0, stored: 0 });
  });
});

/** Waits (bounded, on microtasks and the event loop, no timers of its own) for a condition. */
async function expectEventually(check: () => boolean, rounds = 1_000): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (check()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(check()).toBe(true);
}

describe('the front door (node:http listener in front of Yoga)', () => {
  let http: Server | undefined;
  afterEach(async () => {
    http?.closeAllConnections();
    await new Promise((resolve) => http?.close(resolve) ?? resolve(undefined));
    http = undefined;
  });

  /** setup() served over HTTP through nodeListener; `answered` collects what it told onAnswered. */
  async function serve(t: ReturnType<typeof setup>) {
    const answered: Array<{ status: number; startedAt: number }> = [];
    http = createServer(t.coalescing.nodeListener(t.yoga, (answer) => answered.push(answer)));
    await new Promise<void>((resolve) => http!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/graphql`;
    const post = async (body: string, headers: Record<string, string> = {}) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      return { status: response.status, headers: response.headers, body: await response.text() };
    };
    return { url, answered, post };
  }

  it('answers a hit before Yoga sees the request, with the bytes and headers Yoga gave the miss', async () => {
    const t = track(setup());
    const { answered, post } = await serve(t);
    const body = JSON.stringify({ query: HOT });
    const miss = await post(body);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(t.yogaRequests()).toBe(1);
    const hit = await post(body);
    expect(hit.status).toBe(200);
    expect(hit.body).toBe(miss.body);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.headers.get('etag')).toBe(miss.headers.get('etag'));
    expect(hit.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(hit.headers.get('content-length')).toBe(String(Buffer.byteLength(miss.body)));
    // Yoga never saw the hit; onAnswered did.
    expect(t.yogaRequests()).toBe(1);
    expect(answered.map((a) => a.status)).toEqual([200]);
    expect(t.coalescing.stats()).toMatchObject({ hits: 1, frontDoor: 1 });
  });

  it('hands a miss, a mutation-like body or a bad body on to Yoga without losing the body it read', async () => {
    const t = track(setup());
    const { post } = await serve(t);
    const miss = await post(
      JSON.stringify({ query: 'query I($id: Int!) { item(id: $id) }', variables: { id: 6 } }),
    );
    expect(JSON.parse(miss.body)).toEqual({ data: { item: 6 } });
    const uncached = await post(JSON.stringify({ query: '{ uncached }' }));
    expect(JSON.parse(uncached.body)).toEqual({ data: { uncached: 1 } });
    const bad = await post('{"query": ');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).errors[0].message).toBe('POST body sent invalid JSON.');
    const scalar = await post('5');
    expect(JSON.parse(scalar.body).errors[0].message).toBe(
      'POST body is expected to be object but received number',
    );
    expect(t.yogaRequests()).toBe(4);
  });

  it('answers a GET with a matching If-None-Match with 304 in front of Yoga', async () => {
    const t = track(setup());
    const { url } = await serve(t);
    const get = (headers: Record<string, string> = {}) =>
      fetch(`${url}?query=${encodeURIComponent(HOT)}`, {
        headers: { accept: 'application/json', ...headers },
      });
    const first = await get();
    await first.text();
    const etag = first.headers.get('etag')!;
    const revalidated = await get({ 'if-none-match': etag });
    expect(revalidated.status).toBe(304);
    expect(await revalidated.text()).toBe('');
    expect(t.yogaRequests()).toBe(1);
  });

  it('leaves requests with an Origin header, other paths and other methods to Yoga', async () => {
    const t = track(setup());
    const { url, post } = await serve(t);
    const body = JSON.stringify({ query: HOT });
    await post(body);
    const cors = await post(body, { origin: 'https://shop.example' });
    expect(cors.headers.get('x-cache')).toBe('HIT'); // Yoga's own onRequest hook answered it
    expect(cors.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(t.yogaRequests()).toBe(2);
    const health = await fetch(url.replace('/graphql', '/health'));
    expect(health.status).toBe(200);
    expect(t.yogaRequests()).toBe(3);
  });

  it('survives a client that goes away in the middle of its body, and keeps serving', async () => {
    const t = track(setup());
    const { url, post } = await serve(t);
    const { port } = new URL(url);
    await new Promise<void>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(
          'POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"query"',
        );
        socket.destroy();
        resolve();
      });
    });
    const after = await post(JSON.stringify({ query: HOT }));
    expect(after.status).toBe(200);
    expect(JSON.parse(after.body).data.warm).toBe(1);
  });
});
