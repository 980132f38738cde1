import { GraphQLInt, GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OperationCoalescing, useResponseCache } from '../../src/graphql/use-operation-coalescing.js';
import { createCache, type FlightCache } from '../../src/index.js';
import { deferred } from '../helpers/deferred.js';
import { slowSchema } from '../helpers/schemas.js';

let cache: FlightCache | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await cache?.close();
});

function setup(gate: Promise<void>) {
  cache = createCache();
  const { schema, runs } = slowSchema(gate);
  const coalescing = new OperationCoalescing({ responseCache: { cache } });
  const yoga = createYoga({ schema, plugins: [coalescing.plugin()], logging: false });
  const post = () =>
    yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ slow }' }),
    });
  return { cache, post, runs, yoga };
}

const BODY = '{"data":{"slow":42}}';

describe('the stored bytes of one execution', () => {
  it('answer every request of a cold burst, the one that ran it included: no parse, one serialisation', async () => {
    const gate = deferred<void>();
    const { post, runs } = setup(gate.promise);
    const parse = vi.spyOn(JSON, 'parse');
    const stringify = vi.spyOn(JSON, 'stringify');
    const burst = Array.from({ length: 50 }, () => post());
    // Every request is inside the one execution before it finishes.
    await vi.waitFor(() => expect(runs()).toBe(1));
    gate.resolve();
    const responses = await Promise.all(burst);
    const bodies = await Promise.all(responses.map((response) => response.text()));
    expect(new Set(bodies)).toEqual(new Set([BODY]));
    expect(responses.map((response) => response.headers.get('x-cache')).sort()).toEqual([
      ...Array.from({ length: 49 }, () => 'COALESCED'),
      'MISS',
    ]);
    expect(responses[0]?.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(runs()).toBe(1);
    // Nobody parsed the stored body, and results were serialised once: to store them.
    expect(parse.mock.calls.filter(([text]) => text === BODY)).toHaveLength(0);
    expect(stringify.mock.calls.filter(([value]) => isResult(value))).toHaveLength(1);
  });

  it('counts a hit answered before Yoga as peeks of the cache, never as hits of its field lookups', async () => {
    const gate = deferred<void>();
    gate.resolve();
    const { cache, post } = setup(gate.promise);
    await post();
    const before = cache.stats();
    const hit = await post();
    expect(hit.headers.get('x-cache')).toBe('HIT');
    const after = cache.stats();
    expect(after.hits).toBe(before.hits);
    expect(after.misses).toBe(before.misses);
    // One peek, for the stored response (a response key carries no generation to look up).
    expect(after.peeks - before.peeks).toBe(1);
  });
});

describe("a stored response's size in the memory tier (issue 12)", () => {
  it('counts its body as V8 keeps it: an ASCII body at one byte a character, not two', async () => {
    cache = createCache();
    const text = 'a'.repeat(100_000);
    const schema = new GraphQLSchema({
      query: new GraphQLObjectType({
        name: 'Query',
        fields: {
          text: {
            type: GraphQLString,
            extensions: { graphqlFlightCache: { ttlMs: 60_000 } },
            resolve: () => text,
          },
        },
      }),
    });
    const coalescing = new OperationCoalescing({ responseCache: { cache } });
    const yoga = createYoga({ schema, plugins: [coalescing.plugin()], logging: false });
    const response = await yoga.fetch('http://yoga/graphql?query=%7B%20text%20%7D');
    expect(response.headers.get('x-cache')).toBe('MISS');
    expect((await response.text()).length).toBe(100_000 + '{"data":{"text":""}}'.length);
    expect(cache.stats().entries).toBe(1);
    // The body (100 020 bytes), its ETag and expiry, the key, the tags and their index.
    const bytes = cache.stats().bytes;
    expect(bytes).toBeGreaterThan(100_020);
    expect(bytes).toBeLessThan(102_000);
  });
});

describe('a plugin after the response cache', () => {
  it('that replaces the result of a stored reply gets it serialised by Yoga, not the stored bytes', async () => {
    cache = createCache();
    const gate = deferred<void>();
    gate.resolve();
    const { schema } = slowSchema(gate.promise);
    const coalescing = new OperationCoalescing({ responseCache: { cache } });
    let seen: unknown;
    const replacing: Plugin = {
      onResultProcess: ({ result, setResult }) => {
        seen = (result as { data?: unknown }).data;
        setResult({ data: { slow: 7 } });
      },
    };
    const yoga = createYoga({ schema, plugins: [coalescing.plugin(), replacing], logging: false });
    const response = await yoga.fetch('http://yoga/graphql?query=%7B%20slow%20%7D');
    expect(response.headers.get('x-cache')).toBe('MISS');
    expect(await response.text()).toBe('{"data":{"slow":7}}');
    // Read as a result, the stored reply is the stored data.
    expect(seen).toEqual({ slow: 42 });
  });
});

describe('a batched request', () => {
  it('gets no cache headers of any one of its operations: no-store, no ETag, whatever they were', async () => {
    cache = createCache();
    const schema = new GraphQLSchema({
      query: new GraphQLObjectType({
        name: 'Query',
        fields: {
          pub: { type: GraphQLInt, extensions: { graphqlFlightCache: { ttlMs: 60_000 } }, resolve: () => 1 },
          secret: { type: GraphQLInt, resolve: () => 7 },
        },
      }),
    });
    const coalescing = new OperationCoalescing({ responseCache: { cache } });
    const yoga = createYoga({ schema, plugins: [coalescing.plugin()], logging: false, batching: true });
    const batch = () =>
      yoga.fetch('http://yoga/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ query: '{ secret }' }, { query: '{ pub }' }]),
      });
    const one = () =>
      yoga.fetch('http://yoga/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ query: '{ pub }' }]),
      });
    // Stored and served as a HIT on its own, inside a batch of one it is not labelled or tagged.
    await yoga.fetch('http://yoga/graphql?query=%7B%20pub%20%7D');
    for (let i = 0; i < 2; i++) {
      const response = await one();
      expect(await response.json()).toEqual([{ data: { pub: 1 } }]);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('etag')).toBeNull();
      expect(response.headers.get('x-cache')).toBeNull();
    }
    for (let i = 0; i < 2; i++) {
      const response = await batch();
      expect(await response.json()).toEqual([{ data: { secret: 7 } }, { data: { pub: 1 } }]);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('etag')).toBeNull();
      expect(response.headers.get('x-cache')).toBeNull();
    }
  });
});

describe('an execution that fails', () => {
  it('answers the requests that waited for it with its error, executed once and stored nowhere', async () => {
    cache = createCache();
    const gate = deferred<void>();
    const { schema } = slowSchema(gate.promise);
    let contexts = 0;
    const coalescing = new OperationCoalescing({ responseCache: { cache } });
    const yoga = createYoga({
      schema,
      plugins: [coalescing.plugin()],
      logging: false,
      context: async () => {
        contexts++;
        // The first execution's context fails once the others wait on it.
        if (contexts === 1) {
          await gate.promise;
          throw new Error('context failed');
        }
        return {};
      },
    });
    const get = () => yoga.fetch('http://yoga/graphql?query=%7B%20slow%20%7D');
    const first = get();
    await vi.waitFor(() => expect(contexts).toBe(1));
    const waiting = [get(), get()];
    await vi.waitFor(() => expect(cache!.stats().coalesced).toBe(2));
    gate.resolve();
    const failed = await first;
    const error = await failed.text();
    expect(failed.status).toBe(500);
    expect(JSON.parse(error).errors[0].message).toBe('Unexpected error.');
    const others = await Promise.all(waiting);
    expect(others.map((response) => response.headers.get('x-cache'))).toEqual(['COALESCED', 'COALESCED']);
    expect(await Promise.all(others.map((response) => response.text()))).toEqual([error, error]);
    expect(contexts).toBe(1);
    // Nothing was stored: the next request executes (and succeeds).
    const next = await get();
    expect(await next.text()).toBe(BODY);
    expect(contexts).toBe(2);
  });
});

describe('useResponseCache', () => {
  it('is the response cache and coalescing in one plugin: a repeat is a HIT, a burst runs once', async () => {
    cache = createCache();
    const gate = deferred<void>();
    const { schema, runs } = slowSchema(gate.promise);
    const yoga = createYoga({ schema, plugins: [useResponseCache({ cache })], logging: false });
    const get = () => yoga.fetch('http://yoga/graphql?query=%7B%20slow%20%7D');
    const burst = [get(), get(), get()];
    await vi.waitFor(() => expect(runs()).toBe(1));
    gate.resolve();
    expect((await Promise.all(burst)).map((response) => response.headers.get('x-cache')).sort()).toEqual([
      'COALESCED',
      'COALESCED',
      'MISS',
    ]);
    const hit = await get();
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(await hit.text()).toBe(BODY);
    expect(runs()).toBe(1);
  });
});

function isResult(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'data' in value;
}
