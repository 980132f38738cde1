import SchemaBuilder from '@pothos/core';
import {
  type ExecutionResult,
  execute,
  GraphQLEnumType,
  type GraphQLFieldConfig,
  GraphQLID,
  GraphQLInt,
  GraphQLInterfaceType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  type GraphQLOutputType,
  GraphQLSchema,
  GraphQLString,
  GraphQLUnionType,
  parse,
} from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CachePolicyExtension,
  POLICY_EXTENSION,
  type ResponsePolicy,
  responsePolicy,
} from '../../src/graphql/index.js';
import CachePolicyPlugin from '../../src/graphql/pothos.js';
import { createCache, type FlightCache, InvalidOptionError } from '../../src/index.js';

// ---------------------------------------------------------------------------------------------
// (a) A schema built with graphql-js alone: the policies are plain field extensions, so the
// analysis is tested independently of the Pothos plugin.
// ---------------------------------------------------------------------------------------------

/** A field of `type` with the given policy extension (none when `policy` is undefined). */
function field(type: GraphQLOutputType, policy?: CachePolicyExtension): GraphQLFieldConfig<unknown, unknown> {
  return {
    type,
    args: { id: { type: GraphQLInt } },
    ...(policy === undefined ? {} : { extensions: { [POLICY_EXTENSION]: policy } }),
  };
}

function buildPlainSchema(): GraphQLSchema {
  const Status = new GraphQLEnumType({ name: 'Status', values: { LIVE: {}, GONE: {} } });
  const Supplier = new GraphQLObjectType({ name: 'Supplier', fields: { label: field(GraphQLString) } });
  const Variant = new GraphQLObjectType({ name: 'Variant', fields: { sku: field(GraphQLString) } });
  const Review = new GraphQLObjectType({
    name: 'Review',
    fields: {
      stars: field(GraphQLInt),
      author: field(GraphQLString, { ttlMs: 1_000, scope: 'PRIVATE' }),
      // A scope without a ttlMs: "PRIVATE", though the extension has no ttlMs.
      note: field(GraphQLString, { scope: 'PRIVATE' }),
    },
  });
  const Me = new GraphQLObjectType({ name: 'Me', fields: { nick: field(GraphQLString, { ttlMs: 60_000 }) } });

  // Node: `name` has a policy on the interface (50 s), a shorter one on Product (20 s) and none on
  // Article (a leaf: it inherits). `link` has a policy on Node and Product, none on Article (an
  // object: uncacheable). `summary` is PUBLIC on Node and Product, PRIVATE on Article.
  const Node: GraphQLInterfaceType = new GraphQLInterfaceType({
    name: 'Node',
    fields: () => ({
      id: field(new GraphQLNonNull(GraphQLID)),
      name: field(GraphQLString, { ttlMs: 50_000 }),
      link: field(Node, { ttlMs: 40_000 }),
      summary: field(GraphQLString, { ttlMs: 40_000, scope: 'PUBLIC' }),
    }),
  });
  const Product: GraphQLObjectType = new GraphQLObjectType({
    name: 'Product',
    interfaces: () => [Node],
    fields: () => ({
      id: field(new GraphQLNonNull(GraphQLID)),
      name: field(GraphQLString, { ttlMs: 20_000 }),
      link: field(Node, { ttlMs: 40_000 }),
      summary: field(GraphQLString, { ttlMs: 40_000 }),
      price: field(GraphQLInt, { ttlMs: 10_000 }),
      status: field(Status),
      reviews: field(new GraphQLList(Review), { ttlMs: 30_000 }),
      supplier: field(Supplier),
      variants: field(new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(Variant)))),
      similar: field(Node),
      mentions: field(new GraphQLList(SearchResult)),
      catalog: field(Query, { ttlMs: 60_000 }),
    }),
  });
  const Article = new GraphQLObjectType({
    name: 'Article',
    interfaces: () => [Node],
    fields: () => ({
      id: field(new GraphQLNonNull(GraphQLID)),
      name: field(GraphQLString),
      link: field(Node),
      summary: field(GraphQLString, { ttlMs: 40_000, scope: 'PRIVATE' }),
      body: field(GraphQLString, { ttlMs: 25_000 }),
    }),
  });
  const SearchResult: GraphQLUnionType = new GraphQLUnionType({
    name: 'SearchResult',
    types: () => [Product, Article],
  });
  const Query: GraphQLObjectType = new GraphQLObjectType({
    name: 'Query',
    fields: () => ({
      hello: field(GraphQLString, { ttlMs: 30_000 }),
      uncached: field(GraphQLString),
      product: field(Product, { ttlMs: 60_000 }),
      products: field(new GraphQLList(Product), { ttlMs: 45_000 }),
      node: field(Node, { ttlMs: 60_000 }),
      search: field(new GraphQLList(SearchResult), { ttlMs: 60_000 }),
      mine: field(GraphQLString, { ttlMs: 5_000, scope: 'PRIVATE' }),
      // Hand-written extensions the plugin would have refused.
      zero: field(GraphQLString, { ttlMs: 0 }),
      nan: field(GraphQLString, { ttlMs: Number.NaN }),
      // A private root without a policy of its own, and one with a PUBLIC-looking ttlMs.
      viewer: field(Me, { privateRoot: true }),
      account: field(Me, { ttlMs: 60_000, privateRoot: true }),
    }),
  });
  const Mutation = new GraphQLObjectType({
    name: 'Mutation',
    fields: { touch: field(GraphQLString, { ttlMs: 1_000 }) },
  });
  const Subscription = new GraphQLObjectType({
    name: 'Subscription',
    fields: { tick: field(GraphQLString, { ttlMs: 1_000 }) },
  });
  return new GraphQLSchema({
    query: Query,
    mutation: Mutation,
    subscription: Subscription,
    types: [Article],
  });
}

const schema = buildPlainSchema();

function policyOf(source: string, operationName?: string | null): ResponsePolicy {
  return responsePolicy(schema, parse(source), operationName);
}

const uncacheable = (reason: string): ResponsePolicy => ({ cacheable: false, reason });

describe('responsePolicy: TTL and coordinates', () => {
  it('takes the smallest ttlMs of the touched fields', () => {
    expect(policyOf('{ hello product(id: 1) { name price } }')).toEqual({
      cacheable: true,
      ttlMs: 10_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Product.name', 'Product.price', 'Query.hello', 'Query.product'],
    });
  });

  it('a single field gives its own ttlMs', () => {
    expect(policyOf('{ hello }')).toEqual({
      cacheable: true,
      ttlMs: 30_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Query.hello'],
    });
  });

  it('lists each coordinate with a policy once, sorted, whatever the order and aliases', () => {
    expect(
      policyOf(
        '{ products { price } hello again: hello p: product(id: 2) { price name } product(id: 1) { price } }',
      ),
    ).toEqual({
      cacheable: true,
      ttlMs: 10_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Product.name', 'Product.price', 'Query.hello', 'Query.product', 'Query.products'],
    });
  });
});

describe('responsePolicy: leaves and __typename', () => {
  it('a scalar leaf without a policy inherits its parent', () => {
    expect(policyOf('{ product(id: 1) { id } }')).toEqual({
      cacheable: true,
      ttlMs: 60_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Query.product'],
    });
  });

  it('an enum leaf without a policy inherits its parent', () => {
    expect(policyOf('{ product(id: 1) { status } }')).toEqual({
      cacheable: true,
      ttlMs: 60_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Query.product'],
    });
  });

  it('__typename is free, nested and at the root', () => {
    expect(policyOf('{ __typename product(id: 1) { __typename price } }')).toEqual({
      cacheable: true,
      ttlMs: 10_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Product.price', 'Query.product'],
    });
  });

  it('an operation touching no field with a policy (only __typename) is uncacheable', () => {
    expect(policyOf('{ __typename }')).toEqual(uncacheable('no field with a policy'));
  });
});

describe('responsePolicy: fields without a policy', () => {
  it('a root scalar field without a policy makes the response uncacheable, naming it', () => {
    expect(policyOf('{ hello uncached }')).toEqual(uncacheable('Query.uncached has no cache policy'));
  });

  it('a field returning an object without a policy makes it uncacheable', () => {
    expect(policyOf('{ product(id: 1) { supplier { label } } }')).toEqual(
      uncacheable('Product.supplier has no cache policy'),
    );
  });

  it('a field returning a (non-null) list of objects without a policy makes it uncacheable', () => {
    expect(policyOf('{ product(id: 1) { variants { sku } } }')).toEqual(
      uncacheable('Product.variants has no cache policy'),
    );
  });

  it('a field returning an interface without a policy makes it uncacheable', () => {
    expect(policyOf('{ product(id: 1) { similar { id } } }')).toEqual(
      uncacheable('Product.similar has no cache policy'),
    );
  });

  it('a field returning a list of a union without a policy makes it uncacheable', () => {
    expect(policyOf('{ product(id: 1) { mentions { __typename } } }')).toEqual(
      uncacheable('Product.mentions has no cache policy'),
    );
  });

  it('a list of objects with a policy is cacheable (its leaves inherit)', () => {
    expect(policyOf('{ product(id: 1) { reviews { stars } } }')).toEqual({
      cacheable: true,
      ttlMs: 30_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Product.reviews', 'Query.product'],
    });
  });
});

describe('responsePolicy: hand-written policies', () => {
  it('a ttlMs that is not a positive, finite number makes the response uncacheable', () => {
    expect(policyOf('{ hello zero }')).toEqual(uncacheable('Query.zero has an invalid ttlMs'));
    expect(policyOf('{ hello nan }')).toEqual(uncacheable('Query.nan has an invalid ttlMs'));
  });
});

describe('responsePolicy: private fields', () => {
  it('a PRIVATE root field makes the response uncacheable', () => {
    expect(policyOf('{ hello mine }')).toEqual(uncacheable('Query.mine is private'));
  });

  it('a PRIVATE field deep in the tree makes it uncacheable', () => {
    expect(policyOf('{ product(id: 1) { reviews { stars author } } }')).toEqual(
      uncacheable('Review.author is private'),
    );
  });

  // A leaf whose extension says PRIVATE without a ttlMs must not inherit its parent's PUBLIC policy.
  it('a PRIVATE field without a ttlMs still makes it uncacheable', () => {
    expect(policyOf('{ product(id: 1) { reviews { note } } }')).toEqual(
      uncacheable('Review.note is private'),
    );
  });

  it('a private root without a policy of its own makes it uncacheable as private', () => {
    expect(policyOf('{ hello viewer { nick } }')).toEqual(uncacheable('Query.viewer is private'));
  });

  it('a private root with a ttlMs, whose fields all have one, is still uncacheable', () => {
    expect(policyOf('{ account { nick } }')).toEqual(uncacheable('Query.account is private'));
  });

  it('a private root reached through an alias is uncacheable', () => {
    expect(policyOf('{ hello me: account { nick } }')).toEqual(uncacheable('Query.account is private'));
  });

  it('a private root reached through a fragment spread at the root is uncacheable', () => {
    expect(policyOf('query { hello ...V } fragment V on Query { me: account { nick } }')).toEqual(
      uncacheable('Query.account is private'),
    );
  });

  it('a private root reached through inline fragments at the root is uncacheable', () => {
    expect(policyOf('{ hello ... on Query { account { nick } } }')).toEqual(
      uncacheable('Query.account is private'),
    );
    expect(policyOf('{ hello ... { account { nick } } }')).toEqual(uncacheable('Query.account is private'));
    expect(policyOf('{ hello ... @include(if: true) { ... on Query { a: account { nick } } } }')).toEqual(
      uncacheable('Query.account is private'),
    );
  });

  it('a private root counts only at the root: below another field it is an ordinary field', () => {
    expect(policyOf('{ product(id: 1) { catalog { account { nick } } } }')).toEqual({
      cacheable: true,
      ttlMs: 60_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Me.nick', 'Product.catalog', 'Query.account', 'Query.product'],
    });
  });

  it('a fragment walked below the root is walked again at the root, where its private root counts', () => {
    const source = '{ product(id: 1) { catalog { ...V } } ...V } fragment V on Query { account { nick } }';
    expect(policyOf(source)).toEqual(uncacheable('Query.account is private'));
  });
});

describe('responsePolicy: fragments', () => {
  it('walks a named fragment', () => {
    expect(policyOf('query Q { product(id: 1) { ...P } } fragment P on Product { name price }')).toEqual({
      cacheable: true,
      ttlMs: 10_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Product.name', 'Product.price', 'Query.product'],
    });
  });

  it('walks an inline fragment with a type condition', () => {
    expect(policyOf('{ product(id: 1) { ... on Product { price } } }')).toEqual({
      cacheable: true,
      ttlMs: 10_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Product.price', 'Query.product'],
    });
  });

  it('walks an inline fragment without a type condition', () => {
    expect(policyOf('{ product(id: 1) { ... @include(if: true) { price } } }')).toEqual({
      cacheable: true,
      ttlMs: 10_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Product.price', 'Query.product'],
    });
  });

  it('finds a missing policy inside a fragment', () => {
    expect(policyOf('{ product(id: 1) { ...P } } fragment P on Product { supplier { label } }')).toEqual(
      uncacheable('Product.supplier has no cache policy'),
    );
    expect(policyOf('{ product(id: 1) { ... { supplier { label } } } }')).toEqual(
      uncacheable('Product.supplier has no cache policy'),
    );
  });

  it('gives the same answer for a fragment spread many times', () => {
    const source = `
      { a: product(id: 1) { ...P ...P } b: product(id: 2) { ...P } products { ...P reviews { stars } } hello }
      fragment P on Product { name price }
    `;
    expect(policyOf(source)).toEqual({
      cacheable: true,
      ttlMs: 10_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: [
        'Product.name',
        'Product.price',
        'Product.reviews',
        'Query.hello',
        'Query.product',
        'Query.products',
      ],
    });
  });

  it('returns for a fragment bomb (each of 30 levels spreads the next twice): the walk is linear', () => {
    const levels = 30;
    const fragments = Array.from({ length: levels }, (_, i) =>
      i === levels - 1
        ? `fragment F${i} on Product { price }`
        : `fragment F${i} on Product { id ...F${i + 1} ...F${i + 1} }`,
    );
    const source = `{ product(id: 1) { ...F0 } } ${fragments.join(' ')}`;
    expect(policyOf(source)).toEqual({
      cacheable: true,
      ttlMs: 10_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Product.price', 'Query.product'],
    });
  });

  it('a fragment cycle is uncacheable', () => {
    expect(
      policyOf(
        '{ product(id: 1) { ...A } } fragment A on Product { price ...B } fragment B on Product { ...A }',
      ),
    ).toEqual(uncacheable('fragment cycle'));
    expect(policyOf('{ product(id: 1) { ...A } } fragment A on Product { ...A }')).toEqual(
      uncacheable('fragment cycle'),
    );
  });

  it('a fragment cycle through a field is uncacheable', () => {
    expect(
      policyOf('{ product(id: 1) { ...A } } fragment A on Product { link { ... on Product { ...A } } }'),
    ).toEqual(uncacheable('fragment cycle'));
  });

  it('an unknown fragment is uncacheable', () => {
    expect(policyOf('{ product(id: 1) { ...Missing } }')).toEqual(uncacheable('unknown fragment Missing'));
  });

  it('a type condition naming an unknown type is uncacheable', () => {
    expect(policyOf('{ product(id: 1) { ... on Nope { price } } }')).toEqual(
      uncacheable('unknown type condition'),
    );
    expect(policyOf('{ product(id: 1) { ...P } } fragment P on Nope { price }')).toEqual(
      uncacheable('unknown type condition'),
    );
  });
});

describe('responsePolicy: interfaces and unions', () => {
  it("a field selected on an interface takes the min over the interface's and every implementation's policy", () => {
    // Node.name 50 s, Product.name 20 s, Article.name none (a leaf: inherits).
    expect(policyOf('{ node(id: 1) { id name } }')).toEqual({
      cacheable: true,
      ttlMs: 20_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Node.name', 'Product.name', 'Query.node'],
    });
  });

  it("an implementation's composite field without a policy makes the interface selection uncacheable", () => {
    // Node.link and Product.link have one; Article.link has none.
    expect(policyOf('{ node(id: 1) { link { id } } }')).toEqual(
      uncacheable('Article.link has no cache policy'),
    );
  });

  it("an implementation's PRIVATE field makes the interface selection uncacheable", () => {
    expect(policyOf('{ node(id: 1) { summary } }')).toEqual(uncacheable('Article.summary is private'));
  });

  it('the same field selected on one implementation counts that implementation only', () => {
    expect(policyOf('{ node(id: 1) { ... on Product { name link { id } summary } } }')).toEqual({
      cacheable: true,
      ttlMs: 20_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Product.link', 'Product.name', 'Product.summary', 'Query.node'],
    });
  });

  it('walks union members through inline fragments', () => {
    expect(policyOf('{ search { __typename ... on Product { price } ... on Article { body } } }')).toEqual({
      cacheable: true,
      ttlMs: 10_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Article.body', 'Product.price', 'Query.search'],
    });
  });

  it('finds a missing policy inside a union member', () => {
    expect(policyOf('{ search { ... on Product { supplier { label } } } }')).toEqual(
      uncacheable('Product.supplier has no cache policy'),
    );
  });
});

describe('responsePolicy: operation selection and invalid documents', () => {
  const document = `
    query A { hello }
    query B { product(id: 1) { price } }
    query C { mine }
    mutation M { touch }
    subscription S { tick }
  `;

  it('selects the named operation among several', () => {
    expect(policyOf(document, 'A')).toEqual({
      cacheable: true,
      ttlMs: 30_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Query.hello'],
    });
    expect(policyOf(document, 'B')).toEqual({
      cacheable: true,
      ttlMs: 10_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Product.price', 'Query.product'],
    });
    expect(policyOf(document, 'C')).toEqual(uncacheable('Query.mine is private'));
  });

  it('selects the only operation of an anonymous document when no name is given', () => {
    const cacheable = {
      cacheable: true,
      ttlMs: 30_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Query.hello'],
    };
    expect(policyOf('{ hello }', null)).toEqual(cacheable);
    expect(policyOf('{ hello }', undefined)).toEqual(cacheable);
    expect(policyOf('query Only { hello }', null)).toEqual(cacheable);
  });

  it('several operations without a name are uncacheable', () => {
    expect(policyOf(document, null)).toEqual(uncacheable('no such operation'));
    expect(policyOf('{ hello } query B { hello }', undefined)).toEqual(uncacheable('no such operation'));
  });

  it('an operation name the document lacks is uncacheable', () => {
    expect(policyOf(document, 'Z')).toEqual(uncacheable('no such operation'));
    expect(policyOf('{ hello }', 'A')).toEqual(uncacheable('no such operation'));
  });

  it('a mutation is not a query', () => {
    expect(policyOf(document, 'M')).toEqual(uncacheable('not a query'));
    expect(policyOf('mutation { touch }')).toEqual(uncacheable('not a query'));
  });

  it('a subscription is not a query', () => {
    expect(policyOf(document, 'S')).toEqual(uncacheable('not a query'));
    expect(policyOf('subscription { tick }')).toEqual(uncacheable('not a query'));
  });

  it('an unknown field is uncacheable, naming it', () => {
    expect(policyOf('{ hello nope }')).toEqual(uncacheable('unknown field Query.nope'));
    expect(policyOf('{ product(id: 1) { nope } }')).toEqual(uncacheable('unknown field Product.nope'));
  });

  it('a field other than __typename selected directly on a union is unknown', () => {
    expect(policyOf('{ search { price } }')).toEqual(uncacheable('unknown field SearchResult.price'));
  });

  it('a selection set on a leaf is uncacheable', () => {
    expect(policyOf('{ hello { x } }')).toEqual(uncacheable('Query.hello has no fields to select'));
  });
});

// ---------------------------------------------------------------------------------------------
// (b) The Pothos plugin publishes the same extensions from the `cache` field option.
// ---------------------------------------------------------------------------------------------

interface Context {
  cache: FlightCache;
}

function buildPothosSchema(privateRoots?: readonly string[]) {
  const calls = { hinted: 0, wrapped: 0, notHinted: 0 };
  const builder = new SchemaBuilder<{ Context: Context }>({
    plugins: [CachePolicyPlugin],
    cachePolicy: {
      cache: (ctx) => ctx.cache,
      viewer: () => null,
      ...(privateRoots === undefined ? {} : { privateRoots }),
    },
  });
  const Me = builder.objectRef<{ id: string }>('Me').implement({
    fields: (t) => ({
      nick: t.string({ cache: { ttlMs: 4_000 }, resolve: () => 'nick' }),
      // Not a root field: the name `viewer` makes nothing private here.
      viewer: t.string({ resolve: () => 'nested' }),
    }),
  });
  builder.queryType({
    fields: (t) => ({
      hello: t.string({ cache: { ttlMs: 1_000 }, resolve: () => 'hello' }),
      pub: t.string({ cache: { ttlMs: 2_000, scope: 'PUBLIC' }, resolve: () => 'pub' }),
      mine: t.string({ cache: { ttlMs: 3_000, scope: 'PRIVATE' }, resolve: () => 'mine' }),
      plain: t.string({ resolve: () => 'plain' }),
      viewer: t.field({ type: Me, resolve: () => ({ id: 'v' }) }),
      account: t.field({ type: Me, cache: { ttlMs: 5_000 }, resolve: () => ({ id: 'a' }) }),
      hinted: t.string({
        cache: { ttlMs: 6_000, hintOnly: true },
        resolve: () => {
          calls.hinted += 1;
          return 'hinted';
        },
      }),
      notHinted: t.string({
        cache: { ttlMs: 6_000, hintOnly: false },
        resolve: () => {
          calls.notHinted += 1;
          return 'not hinted';
        },
      }),
      wrapped: t.string({
        cache: { ttlMs: 6_000 },
        resolve: () => {
          calls.wrapped += 1;
          return 'wrapped';
        },
      }),
    }),
  });
  return { schema: builder.toSchema(), calls };
}

function extensionOf(built: GraphQLSchema, type: string, name: string): unknown {
  const owner = built.getType(type);
  if (!(owner instanceof GraphQLObjectType)) throw new Error(`no object type ${type}`);
  return owner.getFields()[name]?.extensions[POLICY_EXTENSION];
}

let cache: FlightCache | undefined;
afterEach(async () => {
  await cache?.close();
  cache = undefined;
});

describe('the Pothos plugin publishes the policy extensions', () => {
  it('publishes ttlMs and scope, and nothing for a field without a cache option', () => {
    const { schema: built } = buildPothosSchema();
    expect(extensionOf(built, 'Query', 'hello')).toEqual({ ttlMs: 1_000 });
    expect(extensionOf(built, 'Query', 'pub')).toEqual({ ttlMs: 2_000, scope: 'PUBLIC' });
    expect(extensionOf(built, 'Query', 'mine')).toEqual({ ttlMs: 3_000, scope: 'PRIVATE' });
    expect(extensionOf(built, 'Me', 'nick')).toEqual({ ttlMs: 4_000 });
    expect(extensionOf(built, 'Query', 'plain')).toBeUndefined();
  });

  it('marks Query.viewer as a private root by default, and only on Query', () => {
    const { schema: built } = buildPothosSchema();
    expect(extensionOf(built, 'Query', 'viewer')).toEqual({ privateRoot: true });
    expect(extensionOf(built, 'Query', 'account')).toEqual({ ttlMs: 5_000 });
    expect(extensionOf(built, 'Me', 'viewer')).toBeUndefined();
  });

  it('marks the custom privateRoots instead of viewer', () => {
    const { schema: built } = buildPothosSchema(['account']);
    expect(extensionOf(built, 'Query', 'account')).toEqual({ ttlMs: 5_000, privateRoot: true });
    expect(extensionOf(built, 'Query', 'viewer')).toBeUndefined();
  });

  it('the published extensions drive responsePolicy', () => {
    const { schema: built } = buildPothosSchema();
    const policy = (source: string) => responsePolicy(built, parse(source), undefined);
    expect(policy('{ hello pub account { nick } }')).toEqual({
      cacheable: true,
      ttlMs: 1_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Me.nick', 'Query.account', 'Query.hello', 'Query.pub'],
    });
    expect(policy('{ hello viewer { nick } }')).toEqual(uncacheable('Query.viewer is private'));
    expect(policy('{ hello mine }')).toEqual(uncacheable('Query.mine is private'));
    expect(policy('{ hello plain }')).toEqual(uncacheable('Query.plain has no cache policy'));

    const custom = buildPothosSchema(['account']).schema;
    expect(responsePolicy(custom, parse('{ a: account { nick } }'), undefined)).toEqual(
      uncacheable('Query.account is private'),
    );
    expect(responsePolicy(custom, parse('{ viewer { nick } }'), undefined)).toEqual(
      uncacheable('Query.viewer has no cache policy'),
    );
  });

  it('hintOnly: true publishes the hint but leaves the resolver unwrapped', async () => {
    const { schema: built, calls } = buildPothosSchema();
    expect(extensionOf(built, 'Query', 'hinted')).toEqual({ ttlMs: 6_000 });
    expect(responsePolicy(built, parse('{ hinted }'), undefined)).toEqual({
      cacheable: true,
      ttlMs: 6_000,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      coordinates: ['Query.hinted'],
    });
    cache = createCache();
    const contextValue: Context = { cache };
    const document = parse('{ hinted notHinted wrapped }');
    const expected = { data: { hinted: 'hinted', notHinted: 'not hinted', wrapped: 'wrapped' } };
    for (let i = 0; i < 3; i++) {
      expect((await execute({ schema: built, document, contextValue })) as ExecutionResult).toEqual(expected);
    }
    expect(calls).toEqual({ hinted: 3, notHinted: 1, wrapped: 1 });
  });

  it('rejects a hintOnly that is not a boolean when the schema is built', () => {
    const builder = new SchemaBuilder<{ Context: Context }>({
      plugins: [CachePolicyPlugin],
      cachePolicy: { cache: () => createCache(), viewer: () => null },
    });
    builder.queryType({
      fields: (t) => ({
        bad: t.string({ cache: { ttlMs: 1_000, hintOnly: 'yes' as unknown as boolean }, resolve: () => 'x' }),
      }),
    });
    const toSchema = () => builder.toSchema();
    expect(toSchema).toThrow(InvalidOptionError);
    expect(toSchema).toThrow('option "Query.bad cache.hintOnly" must be a boolean; received "yes"');
  });
});
