import { execute, parse } from 'graphql';
import { createSchema } from 'graphql-yoga';
import { afterEach, describe, expect, it } from 'vitest';
import {
  applyCachePolicies,
  cacheControlDirective,
  fieldCacheKey,
  responsePolicy,
} from '../../src/graphql/index.js';
import { InvalidOptionError } from '../../src/index.js';
import { createCache, type FlightCache } from '../../src/index.js';

interface Context {
  viewer: string | null;
}

let cache: FlightCache;
afterEach(async () => {
  await cache?.close();
});

/**
 * Apollo-style hints where the field cache must not share what Apollo would only mark in headers:
 * PRIVATE from a parent type or a parent field, and hints on fields below the root.
 */
function setup(typeDefs: string, resolvers: Record<string, Record<string, unknown>>) {
  cache = createCache();
  const schema = applyCachePolicies<Context>(
    createSchema({ typeDefs: [cacheControlDirective, typeDefs], resolvers }),
    { cache, viewer: (ctx) => ctx.viewer },
  );
  return (query: string, viewer: string | null) =>
    execute({ schema, document: parse(query), contextValue: { viewer } });
}

describe('PRIVATE reached through a parent', () => {
  for (const [name, typeDefs] of [
    [
      'a PRIVATE type hint on the parent',
      `type Query { me: Account }
       type Account @cacheControl(scope: PRIVATE) { id: ID! balance: Int @cacheControl(maxAge: 60) }`,
    ],
    [
      'a PRIVATE hint on the field that returns the parent',
      `type Query { me: Account @cacheControl(scope: PRIVATE) }
       type Account { id: ID! balance: Int @cacheControl(maxAge: 60) }`,
    ],
    [
      'a PRIVATE type two levels up',
      `type Query { me: Account }
       type Account @cacheControl(scope: PRIVATE) { id: ID! wallet: Wallet }
       type Wallet { id: ID! balance: Int @cacheControl(maxAge: 60) }`,
    ],
  ] as const) {
    it(`keys the field by the viewer, and caches nothing without one, under ${name}`, async () => {
      let runs = 0;
      // Both viewers' accounts have one id: only the viewer can keep their balances apart.
      const balances: Record<string, number> = { alice: 100, bob: 5 };
      const balance = (_: unknown, __: unknown, ctx: Context) => {
        runs++;
        return ctx.viewer === null ? 0 : balances[ctx.viewer];
      };
      const run = setup(typeDefs, {
        Query: { me: () => ({ id: 'me' }) },
        ...(typeDefs.includes('Wallet')
          ? { Account: { wallet: () => ({ id: 'w' }) }, Wallet: { balance } }
          : { Account: { balance } }),
      });
      const query = typeDefs.includes('Wallet') ? '{ me { wallet { balance } } }' : '{ me { balance } }';
      const read = async (viewer: string | null) => {
        const { data } = await run(query, viewer);
        const me = data?.me as { balance?: number; wallet?: { balance: number } };
        return me.balance ?? me.wallet?.balance;
      };
      expect(await read('alice')).toBe(100);
      expect(await read('bob')).toBe(5);
      expect(await read('alice')).toBe(100);
      expect(runs).toBe(2);
      // Anonymous: not cached at all (fail closed), so the resolver runs every time.
      await read(null);
      await read(null);
      expect(runs).toBe(4);
      const coordinate = typeDefs.includes('Wallet') ? 'Wallet.balance' : 'Account.balance';
      const id = typeDefs.includes('Wallet') ? 'w' : 'me';
      expect(cache.peek(fieldCacheKey(coordinate, 'alice', [id, '{}']))).toBe(100);
      expect(cache.peek(fieldCacheKey(coordinate, null, [id, '{}']))).toBeUndefined();
    });
  }

  it('keeps a field PUBLIC under a PRIVATE parent when its own hint says PUBLIC', async () => {
    let runs = 0;
    const run = setup(
      `type Query { me: Account }
       type Account @cacheControl(scope: PRIVATE) { id: ID! motd: String @cacheControl(maxAge: 60, scope: PUBLIC) }`,
      { Query: { me: () => ({ id: 'me' }) }, Account: { motd: () => `motd ${++runs}` } },
    );
    await run('{ me { motd } }', 'alice');
    await run('{ me { motd } }', null);
    expect(runs).toBe(1);
  });
});

describe('hints below the root', () => {
  it('never cache a field without a resolver of its own: each parent keeps its own value', async () => {
    const run = setup(
      `type Query { books: [Book] @cacheControl(maxAge: 60) }
       type Book { isbn: String title: String @cacheControl(maxAge: 60) }`,
      {
        Query: {
          books: () => [
            { isbn: '1', title: 'A' },
            { isbn: '2', title: 'B' },
          ],
        },
      },
    );
    expect((await run('{ books { title } }', null)).data).toEqual({
      books: [{ title: 'A' }, { title: 'B' }],
    });
    expect(cache.stats().misses).toBe(1); // Query.books only
  });

  it('never share a resolved field between parents that have no id', async () => {
    let runs = 0;
    const run = setup(
      `type Query { books: [Book] @cacheControl(maxAge: 60) }
       type Book { isbn: String shout: String @cacheControl(maxAge: 60) }`,
      {
        Query: { books: () => [{ isbn: '1' }, { isbn: '2' }] },
        Book: {
          shout: (book: { isbn: string }) => {
            runs++;
            return `BOOK ${book.isbn}`;
          },
        },
      },
    );
    expect((await run('{ books { shout } }', null)).data).toEqual({
      books: [{ shout: 'BOOK 1' }, { shout: 'BOOK 2' }],
    });
    expect(runs).toBe(2);
  });

  it('tell the objects of a root field with arguments apart only by their id: without one, not cached', async () => {
    let runs = 0;
    const run = setup(
      `type Query { shelf(name: String!): Shelf @cacheControl(maxAge: 60) }
       type Shelf { label: String @cacheControl(maxAge: 60) }`,
      {
        Query: { shelf: (_: unknown, args: { name: string }) => ({ name: args.name }) },
        Shelf: {
          label: (shelf: { name: string }) => {
            runs++;
            return `shelf ${shelf.name}`;
          },
        },
      },
    );
    expect((await run('{ a: shelf(name: "a") { label } b: shelf(name: "b") { label } }', null)).data).toEqual(
      {
        a: { label: 'shelf a' },
        b: { label: 'shelf b' },
      },
    );
    expect(runs).toBe(2);
  });

  it('key the one object of a root field without arguments by that field, so it is cached', async () => {
    let runs = 0;
    const run = setup(
      `type Query { settings: Settings @cacheControl(maxAge: 60) }
       type Settings { theme: String @cacheControl(maxAge: 60) }`,
      { Query: { settings: () => ({}) }, Settings: { theme: () => `theme ${++runs}` } },
    );
    await run('{ settings { theme } }', null);
    await run('{ s: settings { theme } }', null);
    expect(runs).toBe(1);
  });
});

describe('interfaces and unions with a PRIVATE implementation', () => {
  const typeDefs = `
    interface Node { id: ID! }
    type Account implements Node @cacheControl(maxAge: 30, scope: PRIVATE) { id: ID! owner: String balance: Int }
    type Shelf implements Node @cacheControl(maxAge: 30) { id: ID! label: String }
    union Found = Account | Shelf
    type Query {
      lookup(id: ID!): Node @cacheControl(maxAge: 20)
      find(text: String!): [Found!]! @cacheControl(maxAge: 20)
      shelf: Shelf @cacheControl(maxAge: 20)
    }`;
  const resolvers = {
    Query: {
      lookup: (_: unknown, args: { id: string }, ctx: Context) =>
        ctx.viewer === null ? null : { __typename: 'Account', id: args.id, owner: ctx.viewer, balance: 1 },
      find: (_: unknown, __: unknown, ctx: Context) => [
        { __typename: 'Account', id: 'a', owner: ctx.viewer },
      ],
      shelf: () => ({ id: 's', label: 'books' }),
    },
    Node: { __resolveType: (value: { __typename: string }) => value.__typename },
    Found: { __resolveType: (value: { __typename: string }) => value.__typename },
  };

  it('never lets the response cache store an operation that reaches the PRIVATE type through them', () => {
    cache = createCache();
    const schema = applyCachePolicies<Context>(
      createSchema({ typeDefs: [cacheControlDirective, typeDefs], resolvers }),
      { cache, viewer: (ctx) => ctx.viewer },
    );
    const policy = (query: string) => responsePolicy(schema, parse(query), undefined);
    expect(policy('{ lookup(id: "a") { id } }')).toEqual({ cacheable: false, reason: 'Account is private' });
    expect(policy('{ lookup(id: "a") { ... on Account { owner } } }')).toMatchObject({ cacheable: false });
    expect(policy('{ find(text: "a") { ... on Shelf { label } } }')).toEqual({
      cacheable: false,
      reason: 'Account is private',
    });
    // A type with no PRIVATE implementation is still cacheable.
    expect(policy('{ shelf { id label } }')).toMatchObject({ cacheable: true, ttlMs: 20_000 });
  });

  it('keys their field-cache entries by the viewer', async () => {
    const run = setup(typeDefs, resolvers);
    const owner = async (viewer: string | null) =>
      (
        (await run('{ lookup(id: "a") { ... on Account { owner } } }', viewer)).data?.lookup as {
          owner?: string;
        } | null
      )?.owner;
    expect(await owner('alice')).toBe('alice');
    expect(await owner('bob')).toBe('bob');
    expect(await owner(null)).toBeUndefined();
    expect(cache.peek(fieldCacheKey('Query.lookup', null, ['', '{"id":"a"}']))).toBeUndefined();
  });
});

describe('privateRoots', () => {
  it('refuses a name that is no field of the query type, naming it', () => {
    cache = createCache();
    const schema = createSchema({ typeDefs: [cacheControlDirective, 'type Query { viewer: String }'] });
    expect(() => applyCachePolicies(schema, { cache, viewer: () => null, privateRoots: ['veiwer'] })).toThrow(
      new InvalidOptionError(
        'privateRoots',
        'names of fields of the query type (it has no field veiwer)',
        'veiwer',
      ),
    );
    expect(() =>
      applyCachePolicies(schema, { cache, viewer: () => null, privateRoots: ['viewer'] }),
    ).not.toThrow();
  });
});
