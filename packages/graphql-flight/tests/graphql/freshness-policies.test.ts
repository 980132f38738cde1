// Issue 13's freshness options on the policy layers: the Pothos `cache` option, `@cacheControl`
// and the policies map hand them to `remember` (checked when the schema is built), and the
// response policy gives a response the smallest windows of its fields.
import SchemaBuilder from '@pothos/core';
import {
  buildSchema,
  type ExecutionResult,
  execute,
  GraphQLObjectType,
  type GraphQLSchema,
  parse,
} from 'graphql';
import { createSchema } from 'graphql-yoga';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OperationPlans } from '../../src/graphql/operation-plans.js';
import { ResponseCache } from '../../src/graphql/response-cache.js';
import {
  type ApplyCachePoliciesOptions,
  applyCachePolicies,
  type CachePolicyExtension,
  cacheControlDirective,
  POLICY_EXTENSION,
  responsePolicy,
} from '../../src/graphql/index.js';
import CachePolicyPlugin from '../../src/graphql/pothos.js';
import { createCache, type FlightCache, InvalidOptionError, type RememberOptions } from '../../src/index.js';

interface Context {
  cache: FlightCache;
}

let cache: FlightCache;
afterEach(async () => {
  vi.restoreAllMocks();
  await cache?.close();
});

/** A real cache whose `remember` calls are recorded (and still run): what each call was handed. */
function spiedCache() {
  cache = createCache();
  const remember = vi.spyOn(cache, 'remember');
  return {
    /** The options of every remember call, in order. */
    options: () => remember.mock.calls.map((call) => call[2] as RememberOptions),
  };
}

function run(schema: GraphQLSchema, query: string) {
  return execute({ schema, document: parse(query), contextValue: { cache } }) as Promise<ExecutionResult>;
}

/** The options of a remember call without the tags function and the per-call fields. */
function freshnessOf(options: RememberOptions | undefined) {
  const { tags: _tags, readInto: _reads, signal: _signal, ...rest } = options ?? {};
  return rest;
}

const ALL = {
  ttlMs: 10_000,
  staleWhileRevalidateMs: 20_000,
  staleIfErrorMs: 60_000,
  softTimeoutMs: 200,
  earlyRefresh: { beta: 1.5 },
};

function fieldExtension(schema: GraphQLSchema, typeName: string, fieldName: string): unknown {
  const type = schema.getType(typeName);
  if (!(type instanceof GraphQLObjectType)) throw new Error(`no object type ${typeName}`);
  return type.getFields()[fieldName]?.extensions[POLICY_EXTENSION];
}

// ---------------------------------------------------------------------------------------------
// Pothos
// ---------------------------------------------------------------------------------------------

function pothosSchema() {
  const builder = new SchemaBuilder<{ Context: Context }>({
    plugins: [CachePolicyPlugin],
    cachePolicy: { cache: (ctx) => ctx.cache, viewer: () => null },
  });
  builder.queryType({
    fields: (t) => ({
      all: t.string({ cache: ALL, resolve: () => 'all' }),
      // Tags that depend on the call: the options object is built per call on this path.
      dynamic: t.string({ cache: { ...ALL, tags: () => ['custom'] }, resolve: () => 'dynamic' }),
      revalidate: t.string({
        cache: { ttlMs: 5_000, staleWhileRevalidateMs: 1_000 },
        resolve: () => 'revalidate',
      }),
      plain: t.string({ cache: { ttlMs: 5_000 }, resolve: () => 'plain' }),
      early: t.string({ cache: { ttlMs: 5_000, earlyRefresh: {} }, resolve: () => 'early' }),
      hinted: t.string({
        cache: { ttlMs: 5_000, staleWhileRevalidateMs: 3_000, staleIfErrorMs: 9_000, hintOnly: true },
        resolve: () => 'hinted',
      }),
    }),
  });
  return builder.toSchema();
}

describe('the Pothos cache option: freshness options reach remember', () => {
  it('hands every freshness option to remember, with fixed tags and with tags of the call', async () => {
    const spied = spiedCache();
    const schema = pothosSchema();
    expect(await run(schema, '{ all }')).toEqual({ data: { all: 'all' } });
    expect(await run(schema, '{ dynamic }')).toEqual({ data: { dynamic: 'dynamic' } });
    const [all, dynamic] = spied.options();
    expect(freshnessOf(all)).toEqual(ALL);
    expect(freshnessOf(dynamic)).toEqual(ALL);
  });

  it('hands remember one options object for every call of a field with fixed tags (built once)', async () => {
    const spied = spiedCache();
    const schema = pothosSchema();
    await run(schema, '{ all }');
    await run(schema, '{ all }');
    const [first, second] = spied.options();
    expect(second).toBe(first);
  });

  it('hands remember only the options the policy sets', async () => {
    const spied = spiedCache();
    const schema = pothosSchema();
    await run(schema, '{ revalidate plain early }');
    expect(spied.options().map(freshnessOf)).toEqual([
      { ttlMs: 5_000, staleWhileRevalidateMs: 1_000 },
      { ttlMs: 5_000 },
      // No beta: the cache's default.
      { ttlMs: 5_000, earlyRefresh: {} },
    ]);
  });

  it('publishes the windows in the field hint, not the options only the field cache reads', () => {
    const schema = pothosSchema();
    expect(fieldExtension(schema, 'Query', 'all')).toEqual({
      ttlMs: 10_000,
      staleWhileRevalidateMs: 20_000,
      staleIfErrorMs: 60_000,
    });
    expect(fieldExtension(schema, 'Query', 'hinted')).toEqual({
      ttlMs: 5_000,
      staleWhileRevalidateMs: 3_000,
      staleIfErrorMs: 9_000,
    });
    expect(fieldExtension(schema, 'Query', 'plain')).toEqual({ ttlMs: 5_000 });
  });
});

describe('the Pothos cache option: freshness options are checked when the schema is built', () => {
  const attempt = (policy: Record<string, unknown>) => () => {
    const builder = new SchemaBuilder<{ Context: Context }>({
      plugins: [CachePolicyPlugin],
      cachePolicy: { cache: (ctx) => ctx.cache, viewer: () => null },
    });
    builder.queryType({
      fields: (t) => ({ f: t.string({ cache: { ttlMs: 1_000, ...policy }, resolve: () => 'x' }) }),
    });
    return builder.toSchema();
  };

  it('refuses a negative or non-finite window, naming the field and the option', () => {
    expect(attempt({ staleWhileRevalidateMs: -1 })).toThrow(InvalidOptionError);
    expect(attempt({ staleWhileRevalidateMs: -1 })).toThrow(
      'option "Query.f cache.staleWhileRevalidateMs" must be a non-negative, finite number of milliseconds; received -1',
    );
    expect(attempt({ staleIfErrorMs: Number.POSITIVE_INFINITY })).toThrow(
      'option "Query.f cache.staleIfErrorMs" must be a non-negative, finite number of milliseconds; received Infinity',
    );
    expect(attempt({ staleIfErrorMs: '5' })).toThrow(
      'option "Query.f cache.staleIfErrorMs" must be a non-negative, finite number of milliseconds; received "5"',
    );
  });

  it('accepts a window of 0 (none)', () => {
    expect(attempt({ staleWhileRevalidateMs: 0, staleIfErrorMs: 0 })).not.toThrow();
  });

  it('refuses a softTimeoutMs that is not positive and finite', () => {
    const options = { staleIfErrorMs: 5_000 };
    expect(attempt({ ...options, softTimeoutMs: 0 })).toThrow(
      'option "Query.f cache.softTimeoutMs" must be a positive, finite number of milliseconds (to answer stale at once, use staleWhileRevalidateMs); received 0',
    );
    expect(attempt({ ...options, softTimeoutMs: Number.NaN })).toThrow('received NaN');
  });

  it('refuses a softTimeoutMs without an error window past the revalidate window to answer from', () => {
    const refused =
      'option "Query.f cache.softTimeoutMs" must be absent unless staleIfErrorMs is longer than staleWhileRevalidateMs';
    expect(attempt({ softTimeoutMs: 100 })).toThrow(refused);
    expect(attempt({ softTimeoutMs: 100, staleIfErrorMs: 0 })).toThrow(refused);
    expect(attempt({ softTimeoutMs: 100, staleWhileRevalidateMs: 5_000, staleIfErrorMs: 5_000 })).toThrow(
      refused,
    );
    expect(
      attempt({ softTimeoutMs: 100, staleWhileRevalidateMs: 5_000, staleIfErrorMs: 5_001 }),
    ).not.toThrow();
  });

  it('refuses an earlyRefresh that is not { beta } with a positive, finite beta', () => {
    expect(attempt({ earlyRefresh: { beta: 0 } })).toThrow(
      'option "Query.f cache.earlyRefresh.beta" must be a positive, finite number; received 0',
    );
    expect(attempt({ earlyRefresh: { beta: -1 } })).toThrow('received -1');
    expect(attempt({ earlyRefresh: { beta: 'high' } })).toThrow('received "high"');
    expect(attempt({ earlyRefresh: 1 })).toThrow(
      'option "Query.f cache.earlyRefresh" must be an object ({ beta }); received 1',
    );
    expect(attempt({ earlyRefresh: { delta: 1 } })).toThrow(
      'option "Query.f cache.earlyRefresh.delta" must be absent (not beta); received "delta"',
    );
    expect(attempt({ earlyRefresh: {} })).not.toThrow();
  });

  it('refuses softTimeoutMs and earlyRefresh with hintOnly (nothing would read them), accepts the windows', () => {
    expect(attempt({ hintOnly: true, staleIfErrorMs: 5_000, softTimeoutMs: 100 })).toThrow(
      'option "Query.f cache.softTimeoutMs" must be absent with hintOnly (the resolver is not wrapped: give it to your own remember call); received 100',
    );
    expect(attempt({ hintOnly: true, earlyRefresh: { beta: 1 } })).toThrow(
      'option "Query.f cache.earlyRefresh" must be absent with hintOnly',
    );
    expect(attempt({ hintOnly: true, staleWhileRevalidateMs: 1_000, staleIfErrorMs: 2_000 })).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
// @cacheControl
// ---------------------------------------------------------------------------------------------

const sdl = /* GraphQL */ `
  type Query {
    all: String
      @cacheControl(maxAge: 60, staleWhileRevalidate: 30, staleIfError: 600, softTimeoutMs: 200, earlyRefreshBeta: 1.0)
    intBeta: String @cacheControl(maxAge: 60, earlyRefreshBeta: 2)
    plain: String @cacheControl(maxAge: 60)
    product: Product @cacheControl(maxAge: 10)
    mapped: String
  }
  type Product @cacheControl(maxAge: 120, staleWhileRevalidate: 60, staleIfError: 300) {
    id: ID!
  }
`;

function sdlSchema(options: Partial<ApplyCachePoliciesOptions<Context>> = {}) {
  const source = createSchema<Context>({
    typeDefs: [cacheControlDirective, sdl],
    resolvers: {
      Query: {
        all: () => 'all',
        intBeta: () => 'intBeta',
        plain: () => 'plain',
        product: () => ({ id: '1' }),
        mapped: () => 'mapped',
      },
    },
  });
  return applyCachePolicies<Context>(source, { cache: (ctx) => ctx.cache, viewer: () => null, ...options });
}

describe('@cacheControl: freshness arguments', () => {
  it('gives remember staleWhileRevalidate and staleIfError in milliseconds (seconds × 1000), softTimeoutMs and the beta as written', async () => {
    const spied = spiedCache();
    const schema = sdlSchema();
    expect(await run(schema, '{ all intBeta plain }')).toEqual({
      data: { all: 'all', intBeta: 'intBeta', plain: 'plain' },
    });
    expect(spied.options().map(freshnessOf)).toEqual([
      {
        ttlMs: 60_000,
        staleWhileRevalidateMs: 30_000,
        staleIfErrorMs: 600_000,
        softTimeoutMs: 200,
        earlyRefresh: { beta: 1 },
      },
      { ttlMs: 60_000, earlyRefresh: { beta: 2 } },
      { ttlMs: 60_000 },
    ]);
  });

  it('publishes the windows of field and type hints, in milliseconds', () => {
    const schema = sdlSchema();
    expect(fieldExtension(schema, 'Query', 'all')).toEqual({
      ttlMs: 60_000,
      staleWhileRevalidateMs: 30_000,
      staleIfErrorMs: 600_000,
    });
    expect(schema.getType('Product')?.extensions[POLICY_EXTENSION]).toEqual({
      ttlMs: 120_000,
      staleWhileRevalidateMs: 60_000,
      staleIfErrorMs: 300_000,
    });
  });

  it("are declared by cacheControlDirective: an SDL using them builds, one with Apollo's definition is refused", () => {
    const typeDefs = 'type Query { a: String @cacheControl(maxAge: 1, staleWhileRevalidate: 2) }';
    expect(() => createSchema({ typeDefs: [cacheControlDirective, typeDefs] })).not.toThrow();
    const apollo = cacheControlDirective.replace(/\n {2}staleWhileRevalidate: Int/, '');
    expect(apollo).not.toContain('staleWhileRevalidate');
    expect(() => createSchema({ typeDefs: [apollo, typeDefs] })).toThrow(
      'Unknown argument "staleWhileRevalidate" on directive "@cacheControl".',
    );
    // Apollo's own definition still serves the arguments it has.
    const withApollo = applyCachePolicies(
      createSchema({
        typeDefs: [
          apollo.replace(/\n {2}(staleIfError|softTimeoutMs|earlyRefreshBeta): \w+/g, ''),
          'type Query { a: String @cacheControl(maxAge: 1) }',
        ],
      }),
      { cache: createCache(), viewer: () => null },
    );
    expect(fieldExtension(withApollo, 'Query', 'a')).toEqual({ ttlMs: 1_000 });
  });

  it('refuses a value of the wrong kind, which SDL validation lets through', () => {
    const source = createSchema({
      typeDefs: [
        cacheControlDirective,
        'type Query { a: String @cacheControl(maxAge: 1, staleIfError: "x") }',
      ],
    });
    expect(() => applyCachePolicies(source, { cache: createCache(), viewer: () => null })).toThrow(
      'option "@cacheControl staleIfError of Query.a" must be a non-negative Int number of seconds; received "x"',
    );
  });
});

describe('@cacheControl: refused freshness arguments', () => {
  const apply = (typeDefs: string) => () =>
    applyCachePolicies(buildSchema(`${cacheControlDirective} ${typeDefs}`, { assumeValidSDL: true }), {
      cache: createCache(),
      viewer: () => null,
    });

  it('refuses a negative or non-Int window, naming the argument and the coordinate', () => {
    expect(apply('type Query { a: Int @cacheControl(maxAge: 5, staleWhileRevalidate: -1) }')).toThrow(
      InvalidOptionError,
    );
    expect(apply('type Query { a: Int @cacheControl(maxAge: 5, staleWhileRevalidate: -1) }')).toThrow(
      'option "@cacheControl staleWhileRevalidate of Query.a" must be a non-negative Int number of seconds; received -1',
    );
    expect(apply('type Query { a: Int @cacheControl(maxAge: 5, staleIfError: 1.5) }')).toThrow(
      'option "@cacheControl staleIfError of Query.a" must be a non-negative Int number of seconds; received "1.5"',
    );
  });

  it('refuses a softTimeoutMs without an error window past the revalidate window, or not positive', () => {
    expect(apply('type Query { a: Int @cacheControl(maxAge: 5, softTimeoutMs: 100) }')).toThrow(
      'option "@cacheControl softTimeoutMs of Query.a" must be absent unless staleIfError is longer than staleWhileRevalidate (after the timeout the caller gets the stale value of that error window; without one there is none); received 100',
    );
    expect(
      apply(
        'type Query { a: Int @cacheControl(maxAge: 5, staleWhileRevalidate: 10, staleIfError: 10, softTimeoutMs: 100) }',
      ),
    ).toThrow('must be absent unless staleIfError is longer than staleWhileRevalidate');
    expect(
      apply('type Query { a: Int @cacheControl(maxAge: 5, staleIfError: 10, softTimeoutMs: 0) }'),
    ).toThrow(
      'option "@cacheControl softTimeoutMs of Query.a" must be a positive, finite number of milliseconds (to answer stale at once, use staleWhileRevalidate); received 0',
    );
  });

  it('refuses an earlyRefreshBeta that is not positive', () => {
    expect(apply('type Query { a: Int @cacheControl(maxAge: 5, earlyRefreshBeta: 0) }')).toThrow(
      'option "@cacheControl earlyRefreshBeta of Query.a" must be a positive, finite number; received 0',
    );
    expect(apply('type Query { a: Int @cacheControl(maxAge: 5, earlyRefreshBeta: -0.5) }')).toThrow(
      'received -0.5',
    );
  });

  it('refuses freshness arguments without a maxAge > 0 in the same directive', () => {
    const refused = 'must be absent without a maxAge > 0 in the same @cacheControl';
    expect(apply('type Query { a: Int @cacheControl(staleWhileRevalidate: 30) }')).toThrow(
      `option "@cacheControl staleWhileRevalidate of Query.a" ${refused} (a window follows the fresh period); received 30`,
    );
    expect(apply('type Query { a: Int @cacheControl(maxAge: 0, staleIfError: 30) }')).toThrow(refused);
    expect(
      apply(
        'type Query { a: T } type T { b: Int @cacheControl(inheritMaxAge: true, maxAge: 5, earlyRefreshBeta: 1) }',
      ),
    ).toThrow(`option "@cacheControl earlyRefreshBeta of T.b" ${refused}`);
  });

  it('refuses softTimeoutMs and earlyRefreshBeta on a type, which wraps no resolver', () => {
    expect(
      apply('type Query { a: T } type T @cacheControl(maxAge: 5, earlyRefreshBeta: 1) { b: Int }'),
    ).toThrow(
      'option "@cacheControl earlyRefreshBeta of T" must be absent on a type (a type hint wraps no resolver): put it on the field; received 1',
    );
    expect(
      apply(
        'type Query { a: T } type T @cacheControl(maxAge: 5, staleIfError: 9, softTimeoutMs: 50) { b: Int }',
      ),
    ).toThrow('option "@cacheControl softTimeoutMs of T" must be absent on a type');
  });
});

// ---------------------------------------------------------------------------------------------
// The policies map
// ---------------------------------------------------------------------------------------------

describe('the policies map: freshness options', () => {
  it('hands them to remember as given, in milliseconds', async () => {
    const spied = spiedCache();
    const schema = sdlSchema({ policies: { 'Query.mapped': ALL } });
    expect(await run(schema, '{ mapped }')).toEqual({ data: { mapped: 'mapped' } });
    expect(spied.options().map(freshnessOf)).toEqual([ALL]);
    expect(fieldExtension(schema, 'Query', 'mapped')).toEqual({
      ttlMs: 10_000,
      staleWhileRevalidateMs: 20_000,
      staleIfErrorMs: 60_000,
    });
  });

  it('refuses bad values, naming the entry and the option', () => {
    const attempt =
      (entry: Record<string, unknown>, coordinate = 'Query.mapped') =>
      () =>
        sdlSchema({ policies: { [coordinate]: entry } });
    expect(attempt({ ttlMs: 1_000, staleWhileRevalidateMs: -5 })).toThrow(
      `option "policies['Query.mapped'].staleWhileRevalidateMs" must be a non-negative, finite number of milliseconds; received -5`,
    );
    expect(attempt({ ttlMs: 1_000, softTimeoutMs: 100 })).toThrow(
      `option "policies['Query.mapped'].softTimeoutMs" must be absent unless staleIfErrorMs is longer than staleWhileRevalidateMs`,
    );
    expect(attempt({ ttlMs: 1_000, earlyRefresh: { beta: Number.NaN } })).toThrow(
      `option "policies['Query.mapped'].earlyRefresh.beta" must be a positive, finite number; received NaN`,
    );
    expect(attempt({ staleIfErrorMs: 1_000 })).toThrow(
      `option "policies['Query.mapped'].staleIfErrorMs" must be absent without a ttlMs > 0 in the same policy (a window follows the fresh period); received 1000`,
    );
    expect(attempt({ ttlMs: 0, staleIfErrorMs: 1_000 })).toThrow('must be absent without a ttlMs > 0');
    expect(attempt({ ttlMs: 1_000, earlyRefresh: {} }, 'Product')).toThrow(
      `option "policies['Product'].earlyRefresh" must be on a field entry only`,
    );
    expect(attempt({ ttlMs: 1_000, staleIfErrorMs: 5_000, softTimeoutMs: 10, hintOnly: true })).toThrow(
      `option "policies['Query.mapped'].softTimeoutMs" must be absent with hintOnly`,
    );
    expect(attempt({ ttlMs: 1_000, staleWhileRevalidate: 5 })).toThrow(
      `option "policies['Query.mapped'].staleWhileRevalidate" must be absent (not ttlMs, scope, inheritMaxAge, hintOnly, tags, staleWhileRevalidateMs, staleIfErrorMs, softTimeoutMs, earlyRefresh); received "staleWhileRevalidate"`,
    );
  });

  it('accepts windows on a type entry: they inform the response cache', () => {
    const schema = sdlSchema({ policies: { Product: { ttlMs: 1_000, staleWhileRevalidateMs: 500 } } });
    expect(schema.getType('Product')?.extensions[POLICY_EXTENSION]).toEqual({
      ttlMs: 1_000,
      staleWhileRevalidateMs: 500,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The response policy
// ---------------------------------------------------------------------------------------------

/** A schema whose policies are hand-written field and type extensions. */
function windowsSchema(): GraphQLSchema {
  const schema = buildSchema(`
    type Query {
      a: String
      b: String
      noWindow: String
      product: Product
      own: Product
      badWindow: String
      negative: String
    }
    type Product {
      id: ID
      name: String
    }
  `);
  const set = (typeName: string, fieldName: string | undefined, policy: CachePolicyExtension) => {
    const type = schema.getType(typeName) as GraphQLObjectType;
    const target = fieldName === undefined ? type : type.getFields()[fieldName]!;
    (target as { extensions: object }).extensions = { [POLICY_EXTENSION]: policy };
  };
  set('Query', 'a', { ttlMs: 10_000, staleWhileRevalidateMs: 5_000, staleIfErrorMs: 60_000 });
  set('Query', 'b', { ttlMs: 30_000, staleWhileRevalidateMs: 2_000, staleIfErrorMs: 120_000 });
  set('Query', 'noWindow', { ttlMs: 30_000 });
  // The type's windows count where its maxAge does (product), not where the field's own does (own).
  set('Product', undefined, { ttlMs: 20_000, staleWhileRevalidateMs: 7_000, staleIfErrorMs: 9_000 });
  set('Query', 'own', { ttlMs: 40_000 });
  set('Query', 'badWindow', { ttlMs: 1_000, staleWhileRevalidateMs: Number.NaN });
  set('Query', 'negative', { ttlMs: 1_000, staleIfErrorMs: -1 });
  return schema;
}

describe("responsePolicy: a response's windows", () => {
  const schema = windowsSchema();
  const policy = (query: string) => responsePolicy(schema, parse(query), undefined);

  it('are the smallest windows among the fields whose maxAge counts', () => {
    expect(policy('{ a b }')).toEqual({
      cacheable: true,
      ttlMs: 10_000,
      staleWhileRevalidateMs: 2_000,
      staleIfErrorMs: 60_000,
      coordinates: ['Query.a', 'Query.b'],
    });
  });

  it('are 0 when one of those fields has no window', () => {
    expect(policy('{ a noWindow }')).toMatchObject({ staleWhileRevalidateMs: 0, staleIfErrorMs: 0 });
  });

  it("are a field's own: one field gives its windows", () => {
    expect(policy('{ a }')).toMatchObject({
      ttlMs: 10_000,
      staleWhileRevalidateMs: 5_000,
      staleIfErrorMs: 60_000,
    });
  });

  it("come from the return type's hint with its maxAge, and leaves that inherit change nothing", () => {
    expect(policy('{ product { id name } }')).toMatchObject({
      ttlMs: 20_000,
      staleWhileRevalidateMs: 7_000,
      staleIfErrorMs: 9_000,
    });
    expect(policy('{ a product { id } }')).toMatchObject({
      staleWhileRevalidateMs: 5_000,
      staleIfErrorMs: 9_000,
    });
  });

  it("go with the maxAge: a field's own maxAge without windows gives 0, whatever its type's windows", () => {
    expect(policy('{ own { id } }')).toMatchObject({
      ttlMs: 40_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
    });
  });

  it('a hand-written window that is not a non-negative, finite number makes the response uncacheable', () => {
    expect(policy('{ a badWindow }')).toEqual({
      cacheable: false,
      reason: 'Query.badWindow has an invalid staleWhileRevalidateMs',
    });
    expect(policy('{ negative }')).toEqual({
      cacheable: false,
      reason: 'Query.negative has an invalid staleIfErrorMs',
    });
  });

  it('come from the Pothos and @cacheControl hints the same way', () => {
    expect(responsePolicy(pothosSchema(), parse('{ all hinted }'), undefined)).toMatchObject({
      ttlMs: 5_000,
      staleWhileRevalidateMs: 3_000,
      staleIfErrorMs: 9_000,
    });
    expect(responsePolicy(sdlSchema(), parse('{ all product { id } }'), undefined)).toMatchObject({
      ttlMs: 10_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
    });
    expect(responsePolicy(sdlSchema(), parse('{ all }'), undefined)).toMatchObject({
      ttlMs: 60_000,
      staleWhileRevalidateMs: 30_000,
      staleIfErrorMs: 600_000,
    });
  });
});

describe('the response cache carries the windows where it reads the TTL', () => {
  it("gives an operation's plan and a found request the policy's windows", () => {
    cache = createCache();
    const plans = new OperationPlans({ maxDocuments: 10, maxDocumentLength: 10_000 });
    plans.setSchema(windowsSchema());
    expect(plans.plan('{ a b }', undefined)).toMatchObject({
      ttlMs: 10_000,
      staleWhileRevalidateMs: 2_000,
      staleIfErrorMs: 60_000,
    });
    expect(plans.plan('{ badWindow }', undefined)).toMatchObject({
      ttlMs: 0,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
    });
    const responses = new ResponseCache({ cache }, plans);
    const found = responses.find({ method: 'POST', headers: new Headers() }, { query: '{ a b }' });
    expect(found).toMatchObject({ ttlMs: 10_000, staleWhileRevalidateMs: 2_000, staleIfErrorMs: 60_000 });
  });
});
