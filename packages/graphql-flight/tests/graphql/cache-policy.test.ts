import SchemaBuilder from '@pothos/core';
import { type ExecutionResult, execute, type GraphQLSchema, parse, valueFromASTUntyped } from 'graphql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fieldCacheKey } from '../../src/graphql/index.js';
import CachePolicyPlugin from '../../src/graphql/pothos.js';
import { createCache, type FlightCache, InvalidOptionError } from '../../src/index.js';
import { type Deferred, deferred } from '../helpers/deferred.js';

interface Context {
  cache: FlightCache;
  viewerId: string | null;
}

function buildSchema() {
  const calls: Record<string, number> = {};
  const count = (name: string) => {
    calls[name] = (calls[name] ?? 0) + 1;
  };
  let hotGate: Deferred<string> | undefined;
  const plainResolver = () => {
    count('plain');
    return 'plain';
  };

  const builder = new SchemaBuilder<{
    Context: Context;
    Scalars: { JSON: { Input: Record<string, unknown>; Output: never } };
  }>({
    plugins: [CachePolicyPlugin],
    cachePolicy: { cache: (ctx) => ctx.cache, viewer: (ctx) => ctx.viewerId },
  });
  // Unlike input objects, which GraphQL coerces into their fields' declared order, a custom
  // scalar's value reaches the resolver with its keys in the order the client wrote them.
  builder.scalarType('JSON', {
    serialize: () => {
      throw new Error('JSON is an input scalar');
    },
    parseValue: (value) => value as Record<string, unknown>,
    parseLiteral: (ast) => valueFromASTUntyped(ast) as Record<string, unknown>,
  });
  const Item = builder.objectRef<{ id: number }>('Item').implement({
    fields: (t) => ({
      id: t.exposeInt('id'),
      detail: t.string({
        cache: { ttlMs: 60_000 },
        resolve: (item) => {
          count('detail');
          return `detail of ${item.id}`;
        },
      }),
    }),
  });
  const Me = builder.objectRef<{ id: string | null }>('Me').implement({
    fields: (t) => ({
      secret: t.string({
        cache: { ttlMs: 60_000 },
        resolve: (_me, _args, ctx) => {
          count('secret');
          return `secret of ${ctx.viewerId ?? 'nobody'}`;
        },
      }),
      announcement: t.string({
        cache: { ttlMs: 60_000, scope: 'PUBLIC', key: () => [] },
        resolve: () => {
          count('announcement');
          return 'sale today';
        },
      }),
    }),
  });
  const Filter = builder.inputType('Filter', {
    fields: (t) => ({ a: t.int(), b: t.int() }),
  });
  builder.queryType({
    fields: (t) => ({
      hot: t.string({
        cache: { ttlMs: 60_000 },
        resolve: () => {
          count('hot');
          hotGate = deferred<string>();
          return hotGate.promise;
        },
      }),
      plain: t.string({ resolve: plainResolver }),
      greeting: t.string({
        args: { name: t.arg.string({ required: true }), filter: t.arg({ type: Filter }) },
        cache: { ttlMs: 60_000 },
        resolve: (_root, args) => {
          count('greeting');
          return `hello ${args.name} ${JSON.stringify(args.filter ?? null)}`;
        },
      }),
      lookup: t.string({
        args: { where: t.arg({ type: 'JSON', required: true }) },
        cache: { ttlMs: 60_000 },
        resolve: (_root, args) => {
          count('lookup');
          return `found ${Object.keys(args.where).sort().join(',')}`;
        },
      }),
      item: t.field({
        type: Item,
        args: { id: t.arg.int({ required: true }) },
        resolve: (_root, args) => ({ id: args.id }),
      }),
      // The same parent for every viewer, so only the viewer part of a PRIVATE key tells them apart.
      viewer: t.field({ type: Me, resolve: () => ({ id: 'me' }) }),
      mine: t.string({
        cache: { ttlMs: 60_000, scope: 'PRIVATE' },
        resolve: (_root, _args, ctx) => {
          count('mine');
          return `mine: ${ctx.viewerId}`;
        },
      }),
      flaky: t.string({
        cache: { ttlMs: 60_000 },
        resolve: () => {
          count('flaky');
          if (calls.flaky === 1) throw new Error('first call fails');
          return 'recovered';
        },
      }),
    }),
  });
  return {
    schema: builder.toSchema(),
    calls,
    plainResolver,
    releaseHot: (value: string) => hotGate?.resolve(value),
  };
}

let cache: FlightCache;
afterEach(async () => {
  await cache?.close();
});

function run(schema: GraphQLSchema, query: string, viewerId: string | null = null) {
  return execute({
    schema,
    document: parse(query),
    contextValue: { cache, viewerId },
  }) as Promise<ExecutionResult>;
}

describe('the cache field option', () => {
  it('shares one resolver execution between concurrent operations, then answers from the cache', async () => {
    cache = createCache();
    const { schema, calls, releaseHot } = buildSchema();
    const operations = Array.from({ length: 100 }, () => run(schema, '{ hot }'));
    await vi.waitFor(() => expect(calls.hot).toBe(1));
    releaseHot('hot value');
    for (const result of await Promise.all(operations))
      expect(result).toEqual({ data: { hot: 'hot value' } });
    await expect(run(schema, '{ again: hot }')).resolves.toEqual({ data: { again: 'hot value' } });
    expect(calls.hot).toBe(1);
    expect(cache.stats()).toMatchObject({ coalesced: 99, loads: 1, hits: 1 });
  });

  it('leaves fields without the option untouched: no wrapper, no cache', async () => {
    cache = createCache();
    const { schema, calls, plainResolver } = buildSchema();
    expect(schema.getQueryType()?.getFields().plain?.resolve).toBe(plainResolver);
    await run(schema, '{ plain }');
    await run(schema, '{ plain }');
    expect(calls.plain).toBe(2);
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 0 });
  });

  it('keys a result by its arguments, stably encoded', async () => {
    cache = createCache();
    const { schema, calls } = buildSchema();
    await run(schema, '{ greeting(name: "a", filter: { a: 1, b: 2 }) }');
    await run(schema, '{ greeting(filter: { b: 2, a: 1 }, name: "a") }');
    expect(calls.greeting).toBe(1);
    const other = await run(schema, '{ greeting(name: "b", filter: { a: 1, b: 2 }) }');
    expect(other.data?.greeting).toBe('hello b {"a":1,"b":2}');
    expect(calls.greeting).toBe(2);

    // One value whose keys reach the resolver in two orders, nested ones included: one entry.
    const first = await run(schema, '{ lookup(where: { a: 1, b: { c: 1, d: 2 } }) }');
    const reordered = await run(schema, '{ lookup(where: { b: { d: 2, c: 1 }, a: 1 }) }');
    expect(first.data).toEqual({ lookup: 'found a,b' });
    expect(reordered.data).toEqual({ lookup: 'found a,b' });
    expect(calls.lookup).toBe(1);
    await run(schema, '{ lookup(where: { a: 1, b: { c: 1, d: 3 } }) }');
    expect(calls.lookup).toBe(2);
  });

  it("keys a result by its parent's id", async () => {
    cache = createCache();
    const { schema, calls } = buildSchema();
    const result = await run(
      schema,
      '{ one: item(id: 1) { detail } two: item(id: 2) { detail } again: item(id: 1) { detail } }',
    );
    expect(result.data).toEqual({
      one: { detail: 'detail of 1' },
      two: { detail: 'detail of 2' },
      again: { detail: 'detail of 1' },
    });
    expect(calls.detail).toBe(2);
  });

  it('makes fields under viewer PRIVATE by default: each viewer gets their own entry, aliases included', async () => {
    cache = createCache();
    const { schema, calls } = buildSchema();
    const [alice, bob] = await Promise.all([
      run(schema, '{ viewer { secret } }', 'alice'),
      run(schema, '{ me: viewer { secret } }', 'bob'),
    ]);
    expect(alice.data).toEqual({ viewer: { secret: 'secret of alice' } });
    expect(bob.data).toEqual({ me: { secret: 'secret of bob' } });
    // Another alias, through a fragment: a third viewer gets their own entry, never bob's.
    const aliased = '{ ...F } fragment F on Query { v: viewer { secret } }';
    const carol = await run(schema, aliased, 'carol');
    expect(carol.data).toEqual({ v: { secret: 'secret of carol' } });
    const bobAgain = await run(schema, aliased, 'bob');
    expect(bobAgain.data).toEqual({ v: { secret: 'secret of bob' } });

    expect(calls.secret).toBe(3);
    for (const viewer of ['alice', 'bob', 'carol']) {
      expect(cache.peek(fieldCacheKey('Me.secret', viewer, ['me', '{}']))).toBe(`secret of ${viewer}`);
    }
    expect(cache.peek(fieldCacheKey('Me.secret', null, ['me', '{}']))).toBeUndefined();
  });

  it('keeps an aliased viewer PRIVATE when every viewer uses the alias: one entry per viewer', async () => {
    cache = createCache();
    const { schema, calls } = buildSchema();
    const query = '{ me: viewer { secret } }';
    const first = await Promise.all([run(schema, query, 'alice'), run(schema, query, 'bob')]);
    expect(first.map((result) => result.data)).toEqual([
      { me: { secret: 'secret of alice' } },
      { me: { secret: 'secret of bob' } },
    ]);
    const again = await Promise.all([run(schema, query, 'bob'), run(schema, query, 'alice')]);
    expect(again.map((result) => result.data)).toEqual([
      { me: { secret: 'secret of bob' } },
      { me: { secret: 'secret of alice' } },
    ]);

    expect(calls.secret).toBe(2);
    expect(cache.stats().entries).toBe(2);
    expect(cache.peek(fieldCacheKey('Me.secret', 'alice', ['me', '{}']))).toBe('secret of alice');
    expect(cache.peek(fieldCacheKey('Me.secret', 'bob', ['me', '{}']))).toBe('secret of bob');
    expect(cache.peek(fieldCacheKey('Me.secret', null, ['me', '{}']))).toBeUndefined();
  });

  it('neither caches nor shares a PRIVATE field when there is no viewer', async () => {
    cache = createCache();
    const { schema, calls } = buildSchema();
    await run(schema, '{ viewer { secret } mine }');
    await run(schema, '{ viewer { secret } mine }');
    expect(calls.secret).toBe(2);
    expect(calls.mine).toBe(2);
    expect(cache.stats().misses).toBe(0);

    await run(schema, '{ mine }', 'alice');
    const alice = await run(schema, '{ mine }', 'alice');
    const bob = await run(schema, '{ mine }', 'bob');
    expect(alice.data).toEqual({ mine: 'mine: alice' });
    expect(bob.data).toEqual({ mine: 'mine: bob' });
    expect(calls.mine).toBe(4);
  });

  it('shares an explicitly PUBLIC field under viewer between viewers', async () => {
    cache = createCache();
    const { schema, calls } = buildSchema();
    await run(schema, '{ viewer { announcement } }', 'alice');
    await run(schema, '{ viewer { announcement } }', 'bob');
    expect(calls.announcement).toBe(1);
  });

  it('does not cache a resolver error', async () => {
    cache = createCache();
    const { schema, calls } = buildSchema();
    const failed = await run(schema, '{ flaky }');
    expect(failed.errors?.[0]?.message).toBe('first call fails');
    await expect(run(schema, '{ flaky }')).resolves.toEqual({ data: { flaky: 'recovered' } });
    expect(calls.flaky).toBe(2);
  });

  it('builds the same key that fieldCacheKey gives, so writers can delete it', async () => {
    cache = createCache();
    const { schema, calls } = buildSchema();
    await run(schema, '{ item(id: 7) { detail } }');
    await cache.delete(fieldCacheKey('Item.detail', null, [7, '{}']));
    await run(schema, '{ item(id: 7) { detail } }');
    expect(calls.detail).toBe(2);
    await run(schema, '{ mine }', 'alice');
    await cache.delete(fieldCacheKey('Query.mine', 'alice', ['', '{}']));
    await run(schema, '{ mine }', 'alice');
    expect(calls.mine).toBe(2);
  });
});

describe('cache policies are checked when the schema is built', () => {
  const build = (
    configure: (
      builder: PothosSchemaTypes.SchemaBuilder<PothosSchemaTypes.ExtendDefaultTypes<{ Context: Context }>>,
    ) => void,
    withOption = true,
  ) => {
    const builder = new SchemaBuilder<{ Context: Context }>({
      plugins: [CachePolicyPlugin],
      ...(withOption ? { cachePolicy: { cache: (ctx: Context) => ctx.cache, viewer: () => null } } : {}),
    });
    configure(builder);
    return () => builder.toSchema();
  };

  it('rejects a ttlMs that is not a positive number, naming the field', () => {
    const toSchema = build((builder) =>
      builder.queryType({ fields: (t) => ({ bad: t.string({ cache: { ttlMs: 0 }, resolve: () => 'x' }) }) }),
    );
    expect(toSchema).toThrow(InvalidOptionError);
    expect(toSchema).toThrow(
      'option "Query.bad cache.ttlMs" must be a positive, finite number of milliseconds; received 0',
    );
  });

  it('rejects a cache option on a mutation', () => {
    const toSchema = build((builder) => {
      builder.queryType({ fields: (t) => ({ ok: t.string({ resolve: () => 'x' }) }) });
      builder.mutationType({
        fields: (t) => ({ write: t.string({ cache: { ttlMs: 1 }, resolve: () => 'x' }) }),
      });
    });
    expect(toSchema).toThrow('Mutation.write cache');
  });

  it('rejects a cache option when the builder has no cachePolicy', () => {
    const toSchema = build(
      (builder) =>
        builder.queryType({ fields: (t) => ({ f: t.string({ cache: { ttlMs: 1 }, resolve: () => 'x' }) }) }),
      false,
    );
    expect(toSchema).toThrow('option "cachePolicy"');
  });
});
