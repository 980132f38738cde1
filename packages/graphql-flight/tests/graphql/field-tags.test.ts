import SchemaBuilder from '@pothos/core';
import type { GraphQLSchema } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterEach, describe, expect, it } from 'vitest';
import { applyCachePolicies, type CachePolicyEntry, OperationCoalescing } from '../../src/graphql/index.js';
import CachePolicyPlugin from '../../src/graphql/pothos.js';
import { createCache, type FlightCache, InvalidOptionError } from '../../src/index.js';

interface Context {
  cache: FlightCache;
}

interface Shelf {
  sku: string;
  aisle: number;
}

/** Resolver runs per field, and what the resolvers answer (the test changes it between reads). */
function origin() {
  const calls = { stock: 0, banner: 0, shelf: 0, clock: 0 };
  return {
    calls,
    stock: (sku: string) => {
      calls.stock++;
      return sku === 'A' ? 10 + calls.stock : 20 + calls.stock;
    },
    banner: () => `sale ${++calls.banner}`,
    shelf: (sku: string): Shelf => {
      calls.shelf++;
      return { sku, aisle: sku === 'A' ? 3 : 4 };
    },
    clock: () => ++calls.clock,
  };
}
type Origin = ReturnType<typeof origin>;

const TYPE_DEFS = /* GraphQL */ `
  type Shelf {
    sku: String!
    aisle: Int!
  }
  type Query {
    stock(sku: String!): Int
    banner: String
    shelf(sku: String!): Shelf
    clock: Int
  }
`;

/** The same four fields with the Pothos option: tags from the arguments, a list, from the value, none. */
function pothosSchema(data: Origin): GraphQLSchema {
  const builder = new SchemaBuilder<{ Context: Context }>({
    plugins: [CachePolicyPlugin],
    cachePolicy: { cache: (context) => context.cache, viewer: () => null },
  });
  const ShelfRef = builder.objectRef<Shelf>('Shelf').implement({
    fields: (t) => ({ sku: t.exposeString('sku'), aisle: t.exposeInt('aisle') }),
  });
  builder.queryType({
    fields: (t) => ({
      stock: t.int({
        nullable: true,
        args: { sku: t.arg.string({ required: true }) },
        cache: { ttlMs: 60_000, tags: (_root, args) => [`sku:${args.sku}`] },
        resolve: (_root, args) => data.stock(args.sku),
      }),
      banner: t.string({
        nullable: true,
        cache: { ttlMs: 60_000, tags: ['banners'] },
        resolve: () => data.banner(),
      }),
      shelf: t.field({
        type: ShelfRef,
        nullable: true,
        args: { sku: t.arg.string({ required: true }) },
        cache: { ttlMs: 60_000, tags: (_root, _args, _context, value) => [`aisle:${value?.aisle}`] },
        resolve: (_root, args) => data.shelf(args.sku),
      }),
      clock: t.int({ nullable: true, cache: { ttlMs: 60_000 }, resolve: () => data.clock() }),
    }),
  });
  return builder.toSchema();
}

const POLICIES: Readonly<Record<string, CachePolicyEntry>> = {
  'Query.stock': { ttlMs: 60_000, tags: (_root: unknown, args: { sku: string }) => [`sku:${args.sku}`] },
  'Query.banner': { ttlMs: 60_000, tags: ['banners'] },
  'Query.shelf': {
    ttlMs: 60_000,
    tags: (_root: unknown, _args: unknown, _context: unknown, value: Shelf | null) => [
      `aisle:${value?.aisle}`,
    ],
  },
  'Query.clock': { ttlMs: 60_000 },
};

/** The same four fields from SDL, with the `policies` map of applyCachePolicies. */
function sdlSchema(data: Origin, cache: FlightCache): GraphQLSchema {
  return applyCachePolicies(
    createSchema<Context>({
      typeDefs: TYPE_DEFS,
      resolvers: {
        Query: {
          stock: (_root: unknown, args: { sku: string }) => data.stock(args.sku),
          banner: () => data.banner(),
          shelf: (_root: unknown, args: { sku: string }) => data.shelf(args.sku),
          clock: () => data.clock(),
        },
      },
    }),
    { cache, viewer: () => null, policies: POLICIES },
  );
}

let opened: FlightCache[] = [];
afterEach(async () => {
  await Promise.all(opened.map((cache) => cache.close()));
  opened = [];
});

function server(build: (data: Origin, cache: FlightCache) => GraphQLSchema) {
  const cache = createCache();
  opened.push(cache);
  const data = origin();
  const coalescing = new OperationCoalescing({ responseCache: { cache } });
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema: build(data, cache),
    plugins: [coalescing.plugin()],
    logging: false,
    landingPage: false,
    context: () => ({ cache }),
  });
  const post = async (query: string) => {
    const response = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    });
    const body = await response.text();
    return { outcome: response.headers.get('x-cache'), data: (JSON.parse(body) as { data: unknown }).data };
  };
  return { cache, calls: data.calls, post };
}

describe.each([
  ['the Pothos option', pothosSchema],
  ['the SDL policies map', sdlSchema],
])('field tags (%s)', (_name, build) => {
  it('retires the field values and every stored response that read them, by a tag from the arguments', async () => {
    const t = server(build);
    expect(await t.post('{ stock(sku: "A") }')).toEqual({ outcome: 'MISS', data: { stock: 11 } });
    expect(await t.post('{ stock(sku: "B") }')).toEqual({ outcome: 'MISS', data: { stock: 22 } });
    // Reads stock(sku: "A") from the field cache (no resolver run): its response carries the tag too.
    expect(await t.post('{ stock(sku: "A") clock }')).toEqual({
      outcome: 'MISS',
      data: { stock: 11, clock: 1 },
    });
    expect(t.calls.stock).toBe(2);
    for (const query of ['{ stock(sku: "A") }', '{ stock(sku: "B") }', '{ stock(sku: "A") clock }'])
      expect((await t.post(query)).outcome).toBe('HIT');

    await t.cache.invalidate({ tags: ['sku:A'] });
    // The field value is gone: the resolver runs again. clock's value is not.
    expect(await t.post('{ stock(sku: "A") clock }')).toEqual({
      outcome: 'MISS',
      data: { stock: 13, clock: 1 },
    });
    expect(await t.post('{ stock(sku: "A") }')).toEqual({ outcome: 'MISS', data: { stock: 13 } });
    expect(await t.post('{ stock(sku: "B") }')).toEqual({ outcome: 'HIT', data: { stock: 22 } });
    expect(t.calls).toMatchObject({ stock: 3, clock: 1 });
  });

  it('retires by a tag of a fixed list', async () => {
    const t = server(build);
    await t.post('{ banner clock }');
    expect(await t.post('{ banner clock }')).toEqual({
      outcome: 'HIT',
      data: { banner: 'sale 1', clock: 1 },
    });
    await t.cache.invalidate({ tags: ['banners'] });
    expect(await t.post('{ banner clock }')).toEqual({
      outcome: 'MISS',
      data: { banner: 'sale 2', clock: 1 },
    });
  });

  it('retires by a tag computed from the resolved value', async () => {
    const t = server(build);
    await t.post('{ a: shelf(sku: "A") { aisle } }');
    await t.post('{ b: shelf(sku: "B") { aisle } }');
    await t.cache.invalidate({ tags: ['aisle:3'] });
    expect(await t.post('{ a: shelf(sku: "A") { aisle } }')).toEqual({
      outcome: 'MISS',
      data: { a: { aisle: 3 } },
    });
    expect((await t.post('{ b: shelf(sku: "B") { aisle } }')).outcome).toBe('HIT');
    expect(t.calls.shelf).toBe(3);
  });

  it('keeps the coordinate as a tag beside the own tags', async () => {
    const t = server(build);
    await t.post('{ stock(sku: "A") }');
    await t.post('{ stock(sku: "B") }');
    await t.cache.invalidate({ tags: ['Query.stock'] });
    expect((await t.post('{ stock(sku: "A") }')).outcome).toBe('MISS');
    expect((await t.post('{ stock(sku: "B") }')).outcome).toBe('MISS');
    expect(t.calls.stock).toBe(4);
  });
});

describe('a bad tags option', () => {
  const expected = 'a list of non-empty strings or a function returning one';

  function pothosWith(tags: unknown): () => GraphQLSchema {
    return () => {
      const builder = new SchemaBuilder<{ Context: Context }>({
        plugins: [CachePolicyPlugin],
        cachePolicy: { cache: (context) => context.cache, viewer: () => null },
      });
      builder.queryType({
        fields: (t) => ({
          stock: t.int({ cache: { ttlMs: 60_000, tags: tags as readonly string[] }, resolve: () => 1 }),
        }),
      });
      return builder.toSchema();
    };
  }

  function sdlWith(policies: Record<string, unknown>): () => GraphQLSchema {
    const cache = createCache();
    opened.push(cache);
    return () =>
      applyCachePolicies(createSchema({ typeDefs: TYPE_DEFS, resolvers: { Query: { stock: () => 1 } } }), {
        cache,
        viewer: () => null,
        policies: policies as Record<string, CachePolicyEntry>,
      });
  }

  it.each([
    ['a string', 'sku', '"sku"'],
    ['an empty tag', [''], 'object'],
    ['a number in the list', [42], 'object'],
  ])('fails the Pothos schema build for %s, naming the option', (_name, tags, received) => {
    const build = pothosWith(tags);
    expect(build).toThrow(InvalidOptionError);
    expect(build).toThrow(`option "Query.stock cache.tags" must be ${expected}; received ${received}`);
    try {
      build();
    } catch (error) {
      expect((error as InvalidOptionError).code).toBe('E_INVALID_OPTION');
    }
  });

  it.each([
    ['a string', 'sku', '"sku"'],
    ['an empty tag', [''], 'object'],
  ])('fails applyCachePolicies for %s, naming the entry', (_name, tags, received) => {
    const build = sdlWith({ 'Query.stock': { ttlMs: 60_000, tags } });
    expect(build).toThrow(InvalidOptionError);
    expect(build).toThrow(`option "policies['Query.stock'].tags" must be ${expected}; received ${received}`);
  });

  it('fails applyCachePolicies for tags on a type entry', () => {
    const build = sdlWith({ Shelf: { ttlMs: 60_000, tags: ['shelves'] } });
    expect(build).toThrow(InvalidOptionError);
    expect(build).toThrow(`option "policies['Shelf'].tags" must be on a field entry only; received object`);
  });
});
