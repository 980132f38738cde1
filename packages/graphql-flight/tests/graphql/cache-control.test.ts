import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildSchema,
  type ExecutionResult,
  execute,
  GraphQLObjectType,
  type GraphQLSchema,
  parse,
} from 'graphql';
import { createSchema } from 'graphql-yoga';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ApplyCachePoliciesOptions,
  applyCachePolicies,
  cacheControlDirective,
  defaultKeyParts,
  fieldCacheKey,
  POLICY_EXTENSION,
  responsePolicy,
} from '../../src/graphql/index.js';
import { createCache, type FlightCache, InvalidOptionError } from '../../src/index.js';
import { type Deferred, deferred, flushMicrotasks } from '../helpers/deferred.js';

interface Context {
  cache: FlightCache;
  viewerId: string | null;
}

const typeDefs = /* GraphQL */ `
  type Query {
    hot: String @cacheControl(maxAge: 60)
    plain: String
    never: String @cacheControl(maxAge: 0)
    greeting(name: String!): String @cacheControl(maxAge: 60)
    product(id: ID!): Product @cacheControl(maxAge: 30)
    viewer: Me
    mine: String @cacheControl(maxAge: 60, scope: PRIVATE)
    account: Account @cacheControl(maxAge: 60)
    search: [SearchResult] @cacheControl(maxAge: 60)
  }
  type Mutation {
    touch: String @cacheControl(maxAge: 60)
  }
  type Me {
    secret: String @cacheControl(maxAge: 60)
    announcement: String @cacheControl(maxAge: 60, scope: PUBLIC)
  }
  type Product @cacheControl(maxAge: 120) {
    id: ID!
    name: String
    price: Int @cacheControl(maxAge: 10)
  }
  type Account @cacheControl(scope: PRIVATE) {
    balance: Int
  }
  union SearchResult @cacheControl(maxAge: 15) = Product
`;

/** An SDL schema (graphql-yoga's createSchema) whose resolvers count their calls. */
function buildSdlSchema(options: Partial<ApplyCachePoliciesOptions<Context>> = {}) {
  const calls: Record<string, number> = {};
  const count = (name: string) => {
    calls[name] = (calls[name] ?? 0) + 1;
  };
  const gates: Deferred<string>[] = [];
  const source = createSchema<Context>({
    typeDefs: [cacheControlDirective, typeDefs],
    resolvers: {
      Query: {
        hot: () => {
          count('hot');
          const gate = deferred<string>();
          gates.push(gate);
          return gate.promise;
        },
        plain: () => {
          count('plain');
          return 'plain';
        },
        never: () => {
          count('never');
          return 'never';
        },
        greeting: (_root: unknown, args: { name: string }) => {
          count('greeting');
          return `hello ${args.name}`;
        },
        product: (_root: unknown, args: { id: string }) => {
          count('product');
          return { id: args.id };
        },
        // The same parent for every viewer: only the viewer part of a PRIVATE key tells them apart.
        viewer: () => ({}),
        mine: (_root: unknown, _args: unknown, ctx: Context) => {
          count('mine');
          return `mine: ${ctx.viewerId}`;
        },
        account: (_root: unknown, _args: unknown, ctx: Context) => {
          count('account');
          return { balance: ctx.viewerId === 'alice' ? 100 : 5 };
        },
        search: () => [],
      },
      Mutation: {
        touch: () => {
          count('touch');
          return 'touched';
        },
      },
      Me: {
        secret: (_me: unknown, _args: unknown, ctx: Context) => {
          count('secret');
          return `secret of ${ctx.viewerId ?? 'nobody'}`;
        },
        announcement: () => {
          count('announcement');
          return 'sale today';
        },
      },
      Product: {
        name: (product: { id: string }) => {
          count('name');
          return `product ${product.id}`;
        },
        price: () => {
          count('price');
          return 9;
        },
      },
      SearchResult: { __resolveType: () => 'Product' },
    },
  });
  const schema = applyCachePolicies<Context>(source, {
    cache: (ctx) => ctx.cache,
    viewer: (ctx) => ctx.viewerId,
    ...options,
  });
  return { source, schema, calls, release: (value: string) => gates.shift()?.resolve(value) };
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

function extensionOf(schema: GraphQLSchema, coordinate: string): unknown {
  const [typeName = '', fieldName] = coordinate.split('.');
  const type = schema.getType(typeName);
  if (type === null || type === undefined) throw new Error(`no type ${typeName}`);
  if (fieldName === undefined) return type.extensions[POLICY_EXTENSION];
  if (!(type instanceof GraphQLObjectType)) throw new Error(`no object type ${typeName}`);
  return type.getFields()[fieldName]?.extensions[POLICY_EXTENSION];
}

describe('cacheControlDirective', () => {
  it("is Apollo Server's definition of @cacheControl and CacheControlScope, with issue 13's freshness arguments", () => {
    expect(cacheControlDirective).toBe(`enum CacheControlScope {
  PUBLIC
  PRIVATE
}

directive @cacheControl(
  maxAge: Int
  scope: CacheControlScope
  inheritMaxAge: Boolean
  staleWhileRevalidate: Int
  staleIfError: Int
  softTimeoutMs: Int
  earlyRefreshBeta: Float
) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
`);
  });
});

describe('applyCachePolicies: the field cache', () => {
  it('concurrent identical executions of a @cacheControl field run its resolver once, and later ones read the stored value', async () => {
    cache = createCache();
    const { schema, calls, release } = buildSdlSchema();
    const first = run(schema, '{ hot }');
    const second = run(schema, '{ a: hot }');
    await flushMicrotasks();
    expect(calls.hot).toBe(1);
    release('hot value');
    expect(await first).toEqual({ data: { hot: 'hot value' } });
    expect(await second).toEqual({ data: { a: 'hot value' } });
    expect(await run(schema, '{ hot }')).toEqual({ data: { hot: 'hot value' } });
    expect(calls.hot).toBe(1);
  });

  it('stores a result under the key the Pothos plugin builds: coordinate, parent id and arguments', async () => {
    cache = createCache();
    const { schema, calls } = buildSdlSchema();
    await run(schema, '{ greeting(name: "ada") product(id: "7") { price } }');
    expect(
      cache.peek(fieldCacheKey('Query.greeting', null, defaultKeyParts(undefined, { name: 'ada' }))),
    ).toBe('hello ada');
    expect(cache.peek(fieldCacheKey('Product.price', null, defaultKeyParts({ id: '7' }, {})))).toBe(9);
    await run(schema, '{ greeting(name: "bob") }');
    expect(calls.greeting).toBe(2);
  });

  it('leaves unwrapped a field without a hint, with maxAge 0, with only a type hint, and a mutation field', async () => {
    cache = createCache();
    const { schema, calls } = buildSdlSchema();
    for (let i = 0; i < 2; i++) {
      await run(schema, '{ plain never product(id: "1") { name } }');
      await execute({
        schema,
        document: parse('mutation { touch }'),
        contextValue: { cache, viewerId: null },
      });
    }
    expect(calls).toMatchObject({ plain: 2, never: 2, name: 2, touch: 2, product: 1 });
  });

  it('does not change the schema it was given', async () => {
    cache = createCache();
    const { source, calls } = buildSdlSchema();
    await run(source, '{ greeting(name: "ada") }');
    await run(source, '{ greeting(name: "ada") }');
    expect(calls.greeting).toBe(2);
    expect(extensionOf(source, 'Query.greeting')).toBeUndefined();
  });
});

describe('applyCachePolicies: PRIVATE fields', () => {
  it('keeps a PRIVATE field per viewer and does not cache it without a viewer', async () => {
    cache = createCache();
    const { schema, calls } = buildSdlSchema();
    expect(await run(schema, '{ mine }', 'alice')).toEqual({ data: { mine: 'mine: alice' } });
    expect(await run(schema, '{ mine }', 'bob')).toEqual({ data: { mine: 'mine: bob' } });
    expect(await run(schema, '{ mine }', 'alice')).toEqual({ data: { mine: 'mine: alice' } });
    expect(calls.mine).toBe(2);
    await run(schema, '{ mine }');
    await run(schema, '{ mine }');
    expect(calls.mine).toBe(4);
  });

  it('makes a field under the viewer root PRIVATE, also when the client aliases it (me: viewer)', async () => {
    cache = createCache();
    const { schema, calls } = buildSdlSchema();
    expect(await run(schema, '{ me: viewer { secret } }', 'alice')).toEqual({
      data: { me: { secret: 'secret of alice' } },
    });
    expect(await run(schema, '{ me: viewer { secret } }', 'bob')).toEqual({
      data: { me: { secret: 'secret of bob' } },
    });
    expect(await run(schema, '{ viewer { secret } }', 'alice')).toEqual({
      data: { viewer: { secret: 'secret of alice' } },
    });
    expect(calls.secret).toBe(2);
    await run(schema, '{ me: viewer { secret } }');
    await run(schema, '{ me: viewer { secret } }');
    expect(calls.secret).toBe(4);
  });

  it('a field under the viewer root with scope PUBLIC is shared by all viewers', async () => {
    cache = createCache();
    const { schema, calls } = buildSdlSchema();
    await run(schema, '{ viewer { announcement } }', 'alice');
    await run(schema, '{ viewer { announcement } }', 'bob');
    expect(calls.announcement).toBe(1);
  });

  it('a field whose return type is PRIVATE is cached per viewer, though its own hint has no scope', async () => {
    cache = createCache();
    const { schema, calls } = buildSdlSchema();
    expect(await run(schema, '{ account { balance } }', 'alice')).toEqual({
      data: { account: { balance: 100 } },
    });
    expect(await run(schema, '{ account { balance } }', 'bob')).toEqual({
      data: { account: { balance: 5 } },
    });
    expect(calls.account).toBe(2);
  });

  it('takes other private roots when privateRoots names them', async () => {
    cache = createCache();
    const { schema, calls } = buildSdlSchema({ privateRoots: [] });
    await run(schema, '{ viewer { secret } }', 'alice');
    await run(schema, '{ viewer { secret } }', 'bob');
    expect(calls.secret).toBe(1);
    expect(extensionOf(schema, 'Query.viewer')).toBeUndefined();
    expect(extensionOf(buildSdlSchema({ privateRoots: ['product'] }).schema, 'Query.product')).toEqual({
      ttlMs: 30_000,
      privateRoot: true,
    });
  });
});

describe('applyCachePolicies: published hints', () => {
  it('publishes field and type hints in milliseconds, and marks the viewer root', () => {
    const { schema } = buildSdlSchema();
    expect(extensionOf(schema, 'Query.hot')).toEqual({ ttlMs: 60_000 });
    expect(extensionOf(schema, 'Query.never')).toEqual({ ttlMs: 0 });
    expect(extensionOf(schema, 'Query.mine')).toEqual({ ttlMs: 60_000, scope: 'PRIVATE' });
    expect(extensionOf(schema, 'Query.plain')).toBeUndefined();
    expect(extensionOf(schema, 'Query.viewer')).toEqual({ privateRoot: true });
    expect(extensionOf(schema, 'Product')).toEqual({ ttlMs: 120_000 });
    expect(extensionOf(schema, 'Account')).toEqual({ scope: 'PRIVATE' });
    expect(extensionOf(schema, 'SearchResult')).toEqual({ ttlMs: 15_000 });
    expect(extensionOf(schema, 'Me')).toBeUndefined();
  });

  it('reads a type hint from a type extension (extend type)', () => {
    const source = buildSchema(`${cacheControlDirective}
      type Query { a: A }
      type A { x: Int }
      extend type A @cacheControl(maxAge: 9)
    `);
    const schema = applyCachePolicies(source, { cache: createCache(), viewer: () => null });
    expect(extensionOf(schema, 'A')).toEqual({ ttlMs: 9_000 });
    expect(responsePolicy(schema, parse('{ a { x } }'), undefined)).toEqual({
      cacheable: true,
      ttlMs: 9_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Query.a'],
    });
  });
});

describe('applyCachePolicies: the policies map', () => {
  it('gives a field without a directive a policy, wrapped in the field cache', async () => {
    cache = createCache();
    const { schema, calls } = buildSdlSchema({ policies: { 'Query.plain': { ttlMs: 5_000 } } });
    await run(schema, '{ plain }');
    await run(schema, '{ plain }');
    expect(calls.plain).toBe(1);
    expect(extensionOf(schema, 'Query.plain')).toEqual({ ttlMs: 5_000 });
  });

  it('wins over the directive of the same coordinate; hintOnly publishes without wrapping', async () => {
    cache = createCache();
    const { schema, calls } = buildSdlSchema({
      policies: {
        'Query.greeting': { ttlMs: 2_000, hintOnly: true },
        Product: { ttlMs: 7_000, scope: 'PUBLIC' },
      },
    });
    await run(schema, '{ greeting(name: "ada") }');
    await run(schema, '{ greeting(name: "ada") }');
    expect(calls.greeting).toBe(2);
    expect(extensionOf(schema, 'Query.greeting')).toEqual({ ttlMs: 2_000 });
    expect(extensionOf(schema, 'Product')).toEqual({ ttlMs: 7_000, scope: 'PUBLIC' });
  });

  it('works on a schema without the directive at all (graphql-js buildSchema)', async () => {
    cache = createCache();
    let calls = 0;
    const source = buildSchema('type Query { report(year: Int!): String }');
    const schema = applyCachePolicies<Context>(source, {
      cache,
      viewer: () => null,
      policies: { 'Query.report': { ttlMs: 5_000 } },
    });
    const rootValue = {
      report: ({ year }: { year: number }) => {
        calls++;
        return `report ${year}`;
      },
    };
    const document = parse('{ report(year: 2024) }');
    for (let i = 0; i < 2; i++) {
      expect(await execute({ schema, document, rootValue, contextValue: {} })).toEqual({
        data: { report: 'report 2024' },
      });
    }
    expect(calls).toBe(1);
  });
});

describe('applyCachePolicies: refused options', () => {
  const attempt = (options: Partial<ApplyCachePoliciesOptions<Context>>) => () => buildSdlSchema(options);

  it('refuses a map entry naming a type the schema does not have, naming it', () => {
    const apply = attempt({ policies: { 'Nope.field': { ttlMs: 1_000 } } });
    expect(apply).toThrow(InvalidOptionError);
    expect(apply).toThrow(
      'option "policies" must be keyed by object, interface and union types and their fields (the schema has no type Nope); received "Nope.field"',
    );
    expect(attempt({ policies: { Nope: { ttlMs: 1_000 } } })).toThrow(
      '(the schema has no type Nope); received "Nope"',
    );
    expect(attempt({ policies: { __Type: { ttlMs: 1_000 } } })).toThrow(
      '(the schema has no type __Type); received "__Type"',
    );
  });

  it('refuses a map entry naming a field the type does not have, naming it', () => {
    const apply = attempt({ policies: { 'Query.nope': { ttlMs: 1_000 } } });
    expect(apply).toThrow(InvalidOptionError);
    expect(apply).toThrow('(Query has no field nope); received "Query.nope"');
  });

  it('refuses a map entry on a scalar type, a mutation field, or with a malformed coordinate', () => {
    expect(attempt({ policies: { String: { ttlMs: 1_000 } } })).toThrow(
      '(String is not one); received "String"',
    );
    expect(attempt({ policies: { 'Mutation.touch': { ttlMs: 1_000 } } })).toThrow(
      `option "policies['Mutation.touch']" must be absent: mutation and subscription fields are never cached`,
    );
    expect(attempt({ policies: { 'Query.hot.x': { ttlMs: 1_000 } } })).toThrow('received "Query.hot.x"');
  });

  it('refuses bad values in a map entry, naming the coordinate', () => {
    expect(attempt({ policies: { 'Query.hot': { ttlMs: -1 } } })).toThrow(
      `option "policies['Query.hot'].ttlMs" must be a non-negative, finite number of milliseconds; received -1`,
    );
    expect(attempt({ policies: { Product: { ttlMs: 1_000, scope: 'SHARED' as 'PUBLIC' } } })).toThrow(
      `option "policies['Product'].scope" must be 'PUBLIC' or 'PRIVATE'; received "SHARED"`,
    );
    expect(attempt({ policies: { 'Query.hot': { maxAge: 5 } as never } })).toThrow(
      `option "policies['Query.hot'].maxAge" must be absent`,
    );
    expect(attempt({ policies: { Product: { ttlMs: 1_000, hintOnly: true } } })).toThrow(
      `option "policies['Product'].hintOnly" must be a boolean, on a field entry only; received true`,
    );
  });

  it('refuses a negative maxAge or an unknown scope in @cacheControl, naming the coordinate', () => {
    const apply = (sdl: string) => () =>
      applyCachePolicies(buildSchema(`${cacheControlDirective} ${sdl}`, { assumeValidSDL: true }), {
        cache: createCache(),
        viewer: () => null,
      });
    expect(apply('type Query { a: Int @cacheControl(maxAge: -5) }')).toThrow(InvalidOptionError);
    expect(apply('type Query { a: Int @cacheControl(maxAge: -5) }')).toThrow(
      'option "@cacheControl maxAge of Query.a" must be a non-negative number of seconds; received -5',
    );
    expect(apply('type Query { a: T } type T @cacheControl(scope: SHARED) { x: Int }')).toThrow(
      'option "@cacheControl scope of T" must be PUBLIC or PRIVATE; received "SHARED"',
    );
  });

  it('refuses a cache that is not a FlightCache and a viewer that is not a function', () => {
    expect(attempt({ cache: {} as FlightCache })).toThrow('option "cache" must be a FlightCache');
    expect(attempt({ viewer: 'alice' as never })).toThrow(
      'option "viewer" must be a function of the context',
    );
  });
});

describe('the graphql entry point', () => {
  it('loads nothing of @pothos/core, not even its types', () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/graphql');
    const seen = new Set<string>();
    const offenders: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const [, specifier = ''] of text.matchAll(/(?:from|import)\s*'([^']+)'/g)) {
        if (specifier.startsWith('@pothos/')) offenders.push(`${file}: ${specifier}`);
        if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      }
    };
    visit(resolve(root, 'index.ts'));
    expect(seen.has(resolve(root, 'field-cache.ts'))).toBe(true);
    expect(seen.has(resolve(root, 'apply-cache-policies.ts'))).toBe(true);
    expect(offenders).toEqual([]);
  });
});
