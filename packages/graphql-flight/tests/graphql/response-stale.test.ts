/**
 * Stale responses (issue 13): a stored response lives with its windows (the smallest of its
 * fields'), is answered STALE at once inside its revalidate window while one refresh executes
 * (once for the fleet on Redis), and stands in for a failing execution inside its error window.
 * The cache's clock and the wall clock (Date, for Cache-Status's ttl) move together here.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import SchemaBuilder from '@pothos/core';
import { GraphQLError } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import CachePolicyPlugin from '../../src/graphql/pothos.js';
import { OperationCoalescing } from '../../src/graphql/use-operation-coalescing.js';
import { createCache, encodeKey, type FlightCache } from '../../src/index.js';
import { type Deferred, deferred, flushMicrotasks } from '../helpers/deferred.js';
import { cachesOn, eventually, layoutOf, rawClient, redisSuiteEnabled } from '../helpers/redis.js';

interface Context {
  cache: FlightCache;
}

/** The origin behind the resolvers, shared by every server of a test (the fleet's database). */
class Origin {
  /** Resolver runs of `counter` and of `shaky`. */
  counter = 0;
  shaky = 0;
  /** While set, each run waits for a gate of its own (in `gates`) before it answers. */
  holding = false;
  readonly gates: Array<Deferred<void>> = [];
  /** While set, `shaky` fails (after its gate, if held). */
  failing = false;
  /** While set, every context fails to build (a result with errors, without data). */
  contextFails = false;
  /** While set, the params handler throws (a plugin before the response cache's). */
  throwing = false;
  /** The length of what `growing` answers. */
  length = 1;
  /** Resolver runs of `layered`. */
  layered = 0;

  async run(): Promise<void> {
    if (!this.holding) return;
    const gate = deferred<void>();
    this.gates.push(gate);
    await gate.promise;
  }
}

/** The cache's clock and Date, moved together (Date is faked; timers are real). */
function clocks() {
  let now = 1_000;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
      vi.setSystemTime(Date.now() + ms);
    },
  };
}

/**
 * Yoga with the plugin over a Pothos schema whose policies are hints only (the response cache alone
 * decides how often resolvers run): `counter { id n }` (5 s, revalidate 30 s, error window 60 s),
 * `shaky` (5 s, revalidate 1 s, error window 60 s; fails while `origin.failing`), `fractional`
 * (5 s, windows of 1.5 s and 0.999 s), `plain` (5 s, no window), `tagged` (through the field
 * cache: 60 s, the windows of `counter`, tag `Custom:x`), and `Mutation.bump: Counter`.
 * Every context built is recorded with the request it was built for.
 */
function setup(
  options: {
    cache?: FlightCache;
    origin?: Origin;
    clock?: ReturnType<typeof clocks>;
    maxResponseLength?: number;
  } = {},
) {
  const clock = options.clock ?? clocks();
  const cache = options.cache ?? createCache({ now: clock.now });
  const origin = options.origin ?? new Origin();
  /** The initial context of every context built (its request, and the server context's fields). */
  const contexts: Array<{ request: Request; req?: unknown; res?: unknown }> = [];
  const builder = new SchemaBuilder<{ Context: Context }>({
    plugins: [CachePolicyPlugin],
    cachePolicy: { cache: (ctx) => ctx.cache, viewer: () => null },
  });
  const Counter = builder.objectRef<{ id: string; n: number }>('Counter').implement({
    fields: (t) => ({ id: t.exposeID('id'), n: t.exposeInt('n') }),
  });
  const windows = { staleWhileRevalidateMs: 30_000, staleIfErrorMs: 60_000 };
  builder.queryType({
    fields: (t) => ({
      counter: t.field({
        type: Counter,
        cache: { ttlMs: 5_000, ...windows, hintOnly: true },
        resolve: async () => {
          const n = ++origin.counter;
          await origin.run();
          return { id: 'c', n };
        },
      }),
      shaky: t.int({
        nullable: true,
        cache: { ttlMs: 5_000, staleWhileRevalidateMs: 1_000, staleIfErrorMs: 60_000, hintOnly: true },
        resolve: async () => {
          const n = ++origin.shaky;
          await origin.run();
          if (origin.failing) throw new GraphQLError('upstream down');
          return n;
        },
      }),
      fractional: t.int({
        cache: { ttlMs: 5_000, staleWhileRevalidateMs: 1_500, staleIfErrorMs: 999, hintOnly: true },
        resolve: () => 1,
      }),
      plain: t.int({ cache: { ttlMs: 5_000, hintOnly: true }, resolve: () => 1 }),
      // Through the field cache, fresh for a minute, tagged Custom:x: a response reading it
      // inherits the tag.
      tagged: t.int({ cache: { ttlMs: 60_000, ...windows, tags: ['Custom:x'] }, resolve: () => 7 }),
      // Through the field cache, fresh for 1 s with a 30 s revalidate window: its response has the
      // same windows, and a refresh of the response reads it.
      layered: t.int({
        cache: { ttlMs: 1_000, staleWhileRevalidateMs: 30_000 },
        resolve: async () => {
          const n = ++origin.layered;
          await origin.run();
          return n;
        },
      }),
      growing: t.string({
        cache: { ttlMs: 5_000, ...windows, hintOnly: true },
        resolve: () => 'g'.repeat(origin.length),
      }),
    }),
  });
  builder.mutationType({
    fields: (t) => ({
      bump: t.field({ type: Counter, resolve: () => ({ id: 'c', n: -1 }) }),
    }),
  });
  let yogaRequests = 0;
  const probe: Plugin = {
    onRequest: () => {
      yogaRequests++;
    },
  };
  // Before the response cache's plugin: the params handler it wraps is this one's.
  const thrower: Plugin = {
    onParams: ({ paramsHandler, setParamsHandler }) => {
      setParamsHandler((payload) => {
        if (origin.throwing) throw new Error('the params handler threw');
        return paramsHandler(payload);
      });
    },
  };
  const coalescing = new OperationCoalescing({
    responseCache: {
      cache,
      authorize: (authorization) => authorization === 'Bearer good',
      ...(options.maxResponseLength === undefined ? {} : { maxResponseLength: options.maxResponseLength }),
    },
  });
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema: builder.toSchema(),
    plugins: [thrower, coalescing.plugin(), probe],
    logging: false,
    landingPage: false,
    context: (initial) => {
      contexts.push(initial);
      if (origin.contextFails) throw new GraphQLError('no context');
      return { cache };
    },
  });
  const post = async (
    query: string,
    init: { headers?: Record<string, string>; signal?: AbortSignal } = {},
  ) => {
    const response = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...init.headers },
      body: JSON.stringify({ query }),
      ...(init.signal === undefined ? {} : { signal: init.signal }),
    });
    return { status: response.status, headers: response.headers, body: await response.text() };
  };
  return { cache, clock, origin, contexts, coalescing, yoga, post, yogaRequests: () => yogaRequests };
}

const COUNTER = '{ counter { id n } }';
const body = (n: number) => `{"data":{"counter":{"id":"c","n":${n}}}}`;

let opened: FlightCache[] = [];
let server: Server | undefined;
function track<T extends { cache: FlightCache }>(t: T): T {
  opened.push(t.cache);
  return t;
}
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date('2030-01-01T00:00:00.000Z'));
});
afterEach(async () => {
  vi.useRealTimers();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  await Promise.all(opened.map((cache) => cache.close()));
  opened = [];
});

describe('a stale response inside its revalidate window', () => {
  it('answers STALE at once, without waiting for the upstream, while one refresh executes for every request; the refresh is the next HIT', async () => {
    const t = track(setup());
    const miss = await t.post(COUNTER);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    t.clock.advance(7_500); // 2.5 s past its 5 s TTL, inside the 30 s revalidate window

    t.origin.holding = true;
    const stale = await Promise.all(Array.from({ length: 10 }, () => t.post(COUNTER)));
    // Every request was answered while the refresh's resolver is still waiting for its gate.
    await vi.waitFor(() => expect(t.origin.gates).toHaveLength(1));
    for (const response of stale) {
      expect(response.status).toBe(200);
      expect(response.body).toBe(body(1));
      expect(response.headers.get('x-cache')).toBe('STALE');
      expect(response.headers.get('cache-status')).toBe('graphql-flight; hit; fwd=stale; ttl=-2');
      expect(response.headers.get('cache-control')).toBe(
        'public, no-cache, stale-while-revalidate=30, stale-if-error=60',
      );
      expect(response.headers.get('etag')).toBe(miss.headers.get('etag'));
      expect(response.headers.get('vary')).toBe('Accept');
    }
    await flushMicrotasks();
    expect(t.origin.counter).toBe(2); // the miss, and one refresh
    expect(t.coalescing.stats()).toMatchObject({ started: 1, stale: 10, refreshes: 1, hits: 0 });

    t.origin.gates[0]!.resolve();
    await vi.waitFor(() => expect(t.coalescing.stats().stored).toBe(2));
    const hit = await t.post(COUNTER);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.body).toBe(body(2));
    expect(hit.headers.get('cache-status')).toBe('graphql-flight; hit; ttl=5');
    expect(hit.headers.get('etag')).not.toBe(miss.headers.get('etag'));
    expect(t.origin.counter).toBe(2);
  });

  it('answers a stale GET with a matching If-None-Match with 304 and the STALE headers', async () => {
    const t = track(setup());
    const url = `http://localhost/graphql?query=${encodeURIComponent(COUNTER)}`;
    const miss = await t.yoga.fetch(url, { headers: { accept: 'application/json' } });
    const etag = miss.headers.get('etag')!;
    await miss.text();
    t.clock.advance(5_500);
    const stale = await t.yoga.fetch(url, { headers: { accept: 'application/json', 'if-none-match': etag } });
    expect(stale.status).toBe(304);
    expect(stale.headers.get('x-cache')).toBe('STALE');
    expect(stale.headers.get('cache-status')).toBe('graphql-flight; hit; fwd=stale; ttl=0');
    expect(stale.headers.get('etag')).toBe(etag);
    expect(t.coalescing.stats()).toMatchObject({ stale: 1, notModified: 1 });
  });

  it("refreshes with an execution of its own: not the stale request's signal, credentials or context", async () => {
    const t = track(setup());
    await t.post(COUNTER, { headers: { authorization: 'Bearer good', cookie: 'session=ada' } });
    t.clock.advance(6_000);
    t.origin.holding = true;
    const leaving = new AbortController();
    const stale = await t.post(COUNTER, {
      headers: { authorization: 'Bearer good', cookie: 'session=ada', accept: 'application/json' },
      signal: leaving.signal,
    });
    expect(stale.headers.get('x-cache')).toBe('STALE');
    await vi.waitFor(() => expect(t.origin.gates).toHaveLength(1));
    // The stale request built no context; the refresh built its own, from a request of its own.
    expect(t.contexts).toHaveLength(2);
    const refresh = t.contexts[1]!.request;
    expect(refresh.headers.get('authorization')).toBeNull();
    expect(refresh.headers.get('cookie')).toBeNull();
    expect(refresh.headers.get('content-type')).toBe('application/json');
    expect(refresh.headers.get('accept')).toBe('application/json');
    expect([refresh.method, refresh.url]).toEqual(['POST', 'http://localhost/graphql']);
    expect(refresh).not.toBe(t.contexts[0]!.request);
    // The stale request going away does not abort the refresh: it completes and is stored.
    leaving.abort(new Error('the client left'));
    expect(refresh.signal.aborted).toBe(false);
    t.origin.gates[0]!.resolve();
    await vi.waitFor(() => expect(t.coalescing.stats().stored).toBe(2));
    const hit = await t.post(COUNTER);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.body).toBe(body(2));
  });

  it('stores the refresh with what its own execution read: invalidating a tag of a field value it read retires it', async () => {
    const t = track(setup());
    const query = '{ counter { id n } tagged }';
    await t.post(query);
    t.clock.advance(6_000);
    t.origin.holding = true;
    expect((await t.post(query)).headers.get('x-cache')).toBe('STALE');
    await vi.waitFor(() => expect(t.origin.gates).toHaveLength(1));
    t.origin.gates[0]!.resolve();
    await vi.waitFor(() => expect(t.coalescing.stats().stored).toBe(2));
    t.origin.holding = false;
    const hit = await t.post(query);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.body).toBe('{"data":{"counter":{"id":"c","n":2},"tagged":7}}');
    // Custom:x is no tag of the response itself: only the field value its refresh read carries it.
    await t.cache.invalidate({ tags: ['Custom:x'] });
    expect((await t.post(query)).headers.get('x-cache')).toBe('MISS');
  });

  it('does not keep a refresh a mutation invalidated its response during: the next request executes again', async () => {
    const t = track(setup());
    await t.post(COUNTER);
    t.clock.advance(6_000);
    t.origin.holding = true;
    expect((await t.post(COUNTER)).headers.get('x-cache')).toBe('STALE');
    await vi.waitFor(() => expect(t.origin.gates).toHaveLength(1));
    // The mutation's result holds Counter:c: every response holding it is retired.
    const mutation = await t.post('mutation { bump { id n } }');
    expect(JSON.parse(mutation.body)).toEqual({ data: { bump: { id: 'c', n: -1 } } });
    t.origin.gates[0]!.resolve(); // the refresh read its value before the write
    await flushMicrotasks();
    t.origin.holding = false;
    const after = await t.post(COUNTER);
    expect(after.headers.get('x-cache')).toBe('MISS');
    expect(after.body).toBe(body(3));
    expect((await t.post(COUNTER)).headers.get('x-cache')).toBe('HIT');
  });

  it('is kept no longer than its TTL and its longer window: past them the request waits for its execution', async () => {
    const t = track(setup());
    await t.post(COUNTER);
    t.clock.advance(65_000); // TTL 5 s + the 60 s error window
    t.origin.holding = true;
    const pending = t.post(COUNTER);
    await vi.waitFor(() => expect(t.origin.gates).toHaveLength(1));
    let settled = false;
    void pending.then(() => {
      settled = true;
    });
    await flushMicrotasks();
    expect(settled).toBe(false);
    t.origin.gates[0]!.resolve();
    const miss = await pending;
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(miss.body).toBe(body(2));
  });
});

describe('Cache-Control of a stored response with windows', () => {
  it('states stale-while-revalidate and stale-if-error in whole seconds, rounded down, omitting a window under a second', async () => {
    const t = track(setup());
    const miss = await t.post('{ fractional }');
    expect(miss.headers.get('cache-control')).toBe('public, no-cache, stale-while-revalidate=1');
    const hit = await t.post('{ fractional }');
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.headers.get('cache-control')).toBe('public, no-cache, stale-while-revalidate=1');
    // The smallest windows of the fields: `plain` has none.
    const mixed = await t.post('{ fractional plain }');
    expect(mixed.headers.get('cache-control')).toBe('public, no-cache');
    expect((await t.post('{ plain }')).headers.get('cache-control')).toBe('public, no-cache');
  });
});

describe('a stale response inside its error window', () => {
  it('answers a failing execution with the stale response, then the failing origin at once; past the window the error reaches the client', async () => {
    const t = track(setup());
    const miss = await t.post('{ shaky }');
    expect(miss.body).toBe('{"data":{"shaky":1}}');
    t.clock.advance(6_001); // past the TTL (5 s) and the revalidate window (1 s)
    t.origin.failing = true;
    t.origin.holding = true;
    // Three requests share one execution, which fails: each gets the stale response.
    const waiting = Promise.all([t.post('{ shaky }'), t.post('{ shaky }'), t.post('{ shaky }')]);
    await vi.waitFor(() => expect(t.origin.gates).toHaveLength(1));
    t.origin.gates[0]!.resolve();
    const answers = await waiting;
    expect(t.origin.shaky).toBe(2);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body).toBe('{"data":{"shaky":1}}');
      expect(answer.headers.get('x-cache')).toBe('STALE');
      expect(answer.headers.get('cache-status')).toBe(
        'graphql-flight; fwd=stale; ttl=-1; detail=stale-if-error',
      );
      expect(answer.headers.get('cache-control')).toBe(
        'public, no-cache, stale-while-revalidate=1, stale-if-error=60',
      );
    }
    // The origin is known to fail: the next request gets the stale response at once (no execution
    // before the backoff).
    t.origin.holding = false;
    const atOnce = await t.post('{ shaky }');
    expect(atOnce.headers.get('cache-status')).toBe(
      'graphql-flight; fwd=stale; ttl=-1; detail=stale-if-error',
    );
    expect(t.origin.shaky).toBe(2);
    expect(t.cache.stats().staleIfErrorServes).toBe(4);

    t.clock.advance(59_000); // past the TTL and the 60 s error window
    // Concurrent requests share the one failing execution, and each gets its error.
    t.origin.holding = true;
    const failing = Promise.all([t.post('{ shaky }'), t.post('{ shaky }'), t.post('{ shaky }')]);
    await vi.waitFor(() => expect(t.origin.gates).toHaveLength(2));
    t.origin.holding = false;
    t.origin.gates[1]!.resolve();
    const failed = await failing;
    expect(t.origin.shaky).toBe(3);
    expect(failed.map((r) => r.headers.get('x-cache')).sort()).toEqual(['COALESCED', 'COALESCED', 'MISS']);
    for (const answer of failed) {
      expect(JSON.parse(answer.body)).toEqual({
        data: { shaky: null },
        errors: [{ message: 'upstream down', locations: [{ line: 1, column: 3 }], path: ['shaky'] }],
      });
      expect(answer.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('takes a thrown execution and a context that fails as failures too', async () => {
    const t = track(setup());
    await t.post('{ shaky }');
    t.clock.advance(6_001);
    t.origin.throwing = true;
    const thrown = await t.post('{ shaky }');
    expect(thrown.body).toBe('{"data":{"shaky":1}}');
    expect(thrown.headers.get('cache-status')).toBe(
      'graphql-flight; fwd=stale; ttl=-1; detail=stale-if-error',
    );
    t.origin.throwing = false;

    await t.post('{ counter { id n } }');
    t.clock.advance(35_001); // past the TTL and the 30 s revalidate window of `counter`
    t.origin.contextFails = true;
    const failed = await t.post('{ counter { id n } }');
    expect(failed.body).toBe(body(1));
    expect(failed.headers.get('cache-status')).toBe(
      'graphql-flight; fwd=stale; ttl=-30; detail=stale-if-error',
    );
  });

  it('keeps answering stale when a refresh produces a result that is not stored', async () => {
    const t = track(setup({ maxResponseLength: 50 }));
    expect((await t.post('{ growing }')).body).toBe('{"data":{"growing":"g"}}');
    t.clock.advance(6_000);
    t.origin.length = 100; // the refresh's response is longer than maxResponseLength
    expect((await t.post('{ growing }')).headers.get('x-cache')).toBe('STALE');
    await vi.waitFor(() => expect(t.cache.stats().refreshFailures).toBe(1));
    const again = await t.post('{ growing }');
    expect(again.headers.get('x-cache')).toBe('STALE');
    expect(again.body).toBe('{"data":{"growing":"g"}}');
    expect(t.coalescing.stats()).toMatchObject({ refreshes: 1, stored: 1 });
  });

  it('inside the revalidate window keeps answering stale while the refresh fails, and never hands its error out', async () => {
    const t = track(setup());
    await t.post('{ shaky }');
    t.clock.advance(5_500); // inside the 1 s revalidate window
    t.origin.failing = true;
    const stale = await t.post('{ shaky }');
    expect(stale.headers.get('cache-status')).toBe('graphql-flight; hit; fwd=stale; ttl=0');
    await vi.waitFor(() => expect(t.cache.stats().refreshFailures).toBe(1));
    expect(t.origin.shaky).toBe(2);
    const again = await t.post('{ shaky }');
    expect(again.body).toBe('{"data":{"shaky":1}}');
    expect(again.headers.get('x-cache')).toBe('STALE');
    expect(t.coalescing.stats().stored).toBe(1);
  });
});

describe('the front door', () => {
  async function listen(t: ReturnType<typeof setup>) {
    const answered: string[] = [];
    server = createServer(t.coalescing.nodeListener(t.yoga, (answer) => answered.push(answer.outcome)));
    // Bodies read in full: the front door looks a POST up once its body has arrived.
    let bodiesRead = 0;
    server.on('request', (req) => req.once('end', () => bodiesRead++));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    const post = async (query: string) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
      });
      return { headers: response.headers, body: await response.text() };
    };
    /** Resolves once `count` bodies have arrived and the lookups they started have run. */
    const arrived = async (count: number) => {
      await vi.waitFor(() => expect(bodiesRead).toBe(count));
      await new Promise((resolve) => setImmediate(resolve));
    };
    return { url, post, arrived, answered };
  }

  it('answers stale hits at once while the refresh waits for the upstream, then the refresh as a front-door HIT', async () => {
    const t = track(setup());
    const { url, post } = await listen(t);
    await post(COUNTER);
    t.clock.advance(6_000);
    t.origin.holding = true;
    const before = t.yogaRequests();
    const get = fetch(`${url}?query=${encodeURIComponent(COUNTER)}`).then(async (response) => ({
      headers: response.headers,
      body: await response.text(),
    }));
    const stale = await Promise.all([post(COUNTER), post(COUNTER), get]);
    await vi.waitFor(() => expect(t.origin.gates).toHaveLength(1));
    // The refresh's context has none of the node:http request's server context (req, res).
    expect(t.contexts).toHaveLength(2);
    expect(t.contexts[0]!.req).toBeDefined();
    expect(t.contexts[1]!.req).toBeUndefined();
    expect(t.contexts[1]!.res).toBeUndefined();
    // The front door handed them to Yoga, whose hooks answered them; the refresh is no request.
    expect(t.yogaRequests() - before).toBe(3);
    for (const response of stale) {
      expect(response.headers.get('x-cache')).toBe('STALE');
      expect(response.headers.get('cache-status')).toBe('graphql-flight; hit; fwd=stale; ttl=-1');
      expect(response.body).toBe(body(1));
    }
    expect(t.origin.counter).toBe(2);
    t.origin.gates[0]!.resolve();
    await vi.waitFor(() => expect(t.coalescing.stats().stored).toBe(2));
    const hit = await post(COUNTER);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.body).toBe(body(2));
    expect(t.coalescing.stats().frontDoor).toBe(1);
  });

  it('answers the requests it held on a failing execution with the stale response (stale-if-error), outside Yoga', async () => {
    const t = track(setup());
    const { post, arrived, answered } = await listen(t);
    await post('{ shaky }');
    t.clock.advance(6_001);
    t.origin.failing = true;
    t.origin.holding = true;
    const first = post('{ shaky }');
    await vi.waitFor(() => expect(t.origin.gates).toHaveLength(1));
    const before = t.yogaRequests();
    const held = [post('{ shaky }'), post('{ shaky }')];
    await arrived(4); // the miss, the one executing, and the two held at the front door
    t.origin.gates[0]!.resolve();
    for (const response of await Promise.all([first, ...held])) {
      expect(response.headers.get('x-cache')).toBe('STALE');
      expect(response.headers.get('cache-status')).toBe(
        'graphql-flight; fwd=stale; ttl=-1; detail=stale-if-error',
      );
      expect(response.body).toBe('{"data":{"shaky":1}}');
    }
    expect(t.yogaRequests()).toBe(before);
    expect(answered).toEqual(['STALE', 'STALE']);
    expect(t.origin.shaky).toBe(2);
  });
});

const enabled = await redisSuiteEnabled();

describe.skipIf(!enabled)('two servers on one Redis', () => {
  const caches = cachesOn('response-stale');
  afterEach(() => caches.closeAll());

  it('answer a stale response at once on both, and one refresh executes between them', async () => {
    const clock = clocks();
    const origin = new Origin();
    const open = () => caches.open({ now: clock.now, localTtlMs: 1_000, storeTimeoutMs: 1_000 });
    const a = setup({ cache: open(), origin, clock });
    const b = setup({ cache: open(), origin, clock });
    const fetchSpy = vi.spyOn(a.cache, 'fetch');
    expect((await a.post(COUNTER)).headers.get('x-cache')).toBe('MISS');
    const key = fetchSpy.mock.calls[0]![0] as string;
    await eventually(async () => (await b.post(COUNTER)).headers.get('x-cache') === 'HIT');

    // In Redis, 1 s into the revalidate window (64 s of its 65 s left), and past both memory copies.
    const client = await rawClient();
    try {
      expect(await client.pExpire(layoutOf(caches.namespace, encodeKey(key)).value, 59_000)).toBe(1);
    } finally {
      client.destroy();
    }
    clock.advance(1_001);
    origin.holding = true;
    const answers = await Promise.all([a.post(COUNTER), b.post(COUNTER), a.post(COUNTER), b.post(COUNTER)]);
    for (const answer of answers) {
      expect(answer.headers.get('x-cache')).toBe('STALE');
      expect(answer.body).toBe(body(1));
    }
    // Each server started a refresh of the key; only the lease holder executed one.
    await eventually(() => a.cache.stats().refreshes + b.cache.stats().refreshes === 2);
    await eventually(() => origin.gates.length === 1);
    expect(origin.counter).toBe(2);
    expect(a.coalescing.stats().refreshes + b.coalescing.stats().refreshes).toBe(1);
    origin.gates[0]!.resolve();
    for (const server of [a, b]) {
      await eventually(async () => {
        clock.advance(60);
        const answer = await server.post(COUNTER);
        return answer.headers.get('x-cache') === 'HIT' && answer.body === body(2);
      });
    }
    expect(origin.counter).toBe(2);
  });
});

describe('a stale response over a stale field', () => {
  it("makes its refresh wait for the stale field's refresh: STALE meanwhile, one refresh execution, then HIT with the new value", async () => {
    const t = track(setup());
    const LAYERED = '{ layered }';
    expect((await t.post(LAYERED)).headers.get('x-cache')).toBe('MISS');
    t.clock.advance(1_500); // both the response and the field are past their 1 s TTL

    t.origin.holding = true;
    const first = await t.post(LAYERED);
    expect(first.headers.get('x-cache')).toBe('STALE');
    expect(first.body).toBe('{"data":{"layered":1}}');
    // The response's refresh read the field stale (its refresh now waits on the origin): nothing
    // it made is stored, so the next request is STALE again, not a HIT with the old value.
    await vi.waitFor(() => expect(t.origin.gates).toHaveLength(1));
    await flushMicrotasks();
    const second = await t.post(LAYERED);
    expect(second.headers.get('x-cache')).toBe('STALE');
    t.origin.holding = false;
    t.origin.gates[0]!.resolve();
    await vi.waitFor(async () => {
      const next = await t.post(LAYERED);
      expect(next.headers.get('x-cache')).toBe('HIT');
      expect(next.body).toBe('{"data":{"layered":2}}');
    });
    expect(t.origin.layered).toBe(2);
    // The response's one refresh waited for the field's: one refresh execution in all.
    expect(t.coalescing.stats().refreshes).toBe(1);
  });
});
