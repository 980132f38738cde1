import { parse } from 'graphql';
import { createSchema } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import {
  applyCachePolicies,
  cacheControlDirective,
  type ResponsePolicy,
  responsePolicy,
} from '../../src/graphql/index.js';
import { createCache } from '../../src/index.js';

// Apollo Server's cache-control rules, read from an SDL schema through applyCachePolicies and
// applied by responsePolicy. Resolvers do not matter here: the policy comes from the schema alone.
const typeDefs = /* GraphQL */ `
  type Query {
    plain: String
    hot: String @cacheControl(maxAge: 60)
    never: String @cacheControl(maxAge: 0)
    product: Product @cacheControl(maxAge: 30)
    featured: Product
    publicProduct: Product @cacheControl(scope: PUBLIC)
    zeroProduct: Product @cacheControl(maxAge: 0)
    supplier: Supplier @cacheControl(inheritMaxAge: true)
    tag: Tag
    node: Node
    search: [SearchResult]
    account: Account @cacheControl(maxAge: 60)
    publicAccount: Account @cacheControl(scope: PUBLIC)
    mine: String @cacheControl(scope: PRIVATE)
  }
  type Product @cacheControl(maxAge: 120) {
    id: ID!
    name: String
    price: Int @cacheControl(maxAge: 10)
    supplier: Supplier
    inheritingSupplier: Supplier @cacheControl(inheritMaxAge: true)
    inheritingProduct: Product @cacheControl(inheritMaxAge: true)
    tag: Tag
    secret: String @cacheControl(scope: PRIVATE)
  }
  type Supplier {
    name: String
    rating: Int @cacheControl(maxAge: 20)
  }
  type Tag @cacheControl(inheritMaxAge: true) {
    label: String
  }
  interface Node @cacheControl(maxAge: 50) {
    id: ID!
  }
  type Article implements Node {
    id: ID!
  }
  union SearchResult @cacheControl(maxAge: 15) = Product | Article
  type Account @cacheControl(maxAge: 90, scope: PRIVATE) {
    balance: Int
  }
`;

const schema = applyCachePolicies(
  createSchema({
    typeDefs: [cacheControlDirective, typeDefs],
    resolvers: {
      Node: { __resolveType: () => 'Article' },
      SearchResult: { __resolveType: () => 'Article' },
    },
  }),
  { cache: createCache(), viewer: () => null },
);

const policyOf = (source: string): ResponsePolicy => responsePolicy(schema, parse(source), undefined);
const uncacheable = (reason: string): ResponsePolicy => ({ cacheable: false, reason });
const cacheable = (ttlMs: number, ...coordinates: string[]): ResponsePolicy => ({
  cacheable: true,
  ttlMs,
  staleWhileRevalidateMs: 0,
  staleIfErrorMs: 0,
  coordinates: coordinates.sort(),
});

describe('Apollo cache-control rules: defaults', () => {
  it('a root field without a hint has maxAge 0: the response is not cacheable', () => {
    expect(policyOf('{ hot plain }')).toEqual(uncacheable('Query.plain has no cache policy'));
  });

  it('a scalar field without a hint inherits its parent maxAge', () => {
    expect(policyOf('{ product { id name } }')).toEqual(cacheable(30_000, 'Query.product'));
  });

  it('a field returning an object type without any hint has maxAge 0', () => {
    expect(policyOf('{ product { supplier { name } } }')).toEqual(
      uncacheable('Product.supplier has no cache policy'),
    );
  });

  it('an explicit maxAge: 0 makes the response uncacheable', () => {
    expect(policyOf('{ hot never }')).toEqual(uncacheable('Query.never has an invalid ttlMs'));
  });

  it('maxAge is in seconds: maxAge 60 is 60 000 ms', () => {
    expect(policyOf('{ hot }')).toEqual(cacheable(60_000, 'Query.hot'));
  });
});

describe('Apollo cache-control rules: type hints', () => {
  it('a type hint applies to a field returning that type', () => {
    expect(policyOf('{ featured { name } }')).toEqual(cacheable(120_000, 'Query.featured'));
  });

  it("a field hint's maxAge beats its return type's", () => {
    expect(policyOf('{ product { name } }')).toEqual(cacheable(30_000, 'Query.product'));
  });

  it("a field hint with a scope only keeps its return type's maxAge", () => {
    expect(policyOf('{ publicProduct { name } }')).toEqual(cacheable(120_000, 'Query.publicProduct'));
  });

  it("a field's maxAge: 0 beats its return type's maxAge", () => {
    expect(policyOf('{ zeroProduct { name } }')).toEqual(
      uncacheable('Query.zeroProduct has an invalid ttlMs'),
    );
  });

  it('a type hint on an interface or a union applies to fields returning it', () => {
    expect(policyOf('{ node { id } }')).toEqual(cacheable(50_000, 'Query.node'));
    expect(policyOf('{ search { __typename } }')).toEqual(cacheable(15_000, 'Query.search'));
  });
});

describe('Apollo cache-control rules: inheritMaxAge', () => {
  it('a composite field with inheritMaxAge inherits its parent maxAge instead of 0', () => {
    expect(policyOf('{ product { inheritingSupplier { name } } }')).toEqual(
      cacheable(30_000, 'Query.product'),
    );
  });

  it('a type with inheritMaxAge makes the fields returning it inherit', () => {
    expect(policyOf('{ featured { tag { label } } }')).toEqual(cacheable(120_000, 'Query.featured'));
  });

  it("a field with inheritMaxAge whose return type has a maxAge takes the type's maxAge", () => {
    expect(policyOf('{ product { inheritingProduct { name } } }')).toEqual(
      cacheable(30_000, 'Product.inheritingProduct', 'Query.product'),
    );
    expect(policyOf('{ featured { inheritingProduct { price } } }')).toEqual(
      cacheable(10_000, 'Product.inheritingProduct', 'Product.price', 'Query.featured'),
    );
  });

  it('a field below an inheriting field still gets its own hint', () => {
    expect(policyOf('{ product { inheritingSupplier { rating } } }')).toEqual(
      cacheable(20_000, 'Query.product', 'Supplier.rating'),
    );
  });

  it('a root field has maxAge 0 without a maxAge, inheritMaxAge or not', () => {
    expect(policyOf('{ supplier { rating } }')).toEqual(uncacheable('Query.supplier has no cache policy'));
    expect(policyOf('{ tag { label } }')).toEqual(uncacheable('Query.tag has no cache policy'));
  });
});

describe('Apollo cache-control rules: the response policy', () => {
  it('the lowest maxAge among the fields wins', () => {
    expect(policyOf('{ hot product { price } featured { name } }')).toEqual(
      cacheable(10_000, 'Product.price', 'Query.featured', 'Query.hot', 'Query.product'),
    );
  });

  it('a PRIVATE field anywhere makes the response not cacheable here', () => {
    expect(policyOf('{ hot mine }')).toEqual(uncacheable('Query.mine is private'));
    expect(policyOf('{ product { name secret } }')).toEqual(uncacheable('Product.secret is private'));
  });

  it('a PRIVATE type hint makes a field returning it PRIVATE', () => {
    expect(policyOf('{ account { balance } }')).toEqual(uncacheable('Query.account is private'));
  });

  it("a field hint's scope beats its return type's", () => {
    expect(policyOf('{ publicAccount { balance } }')).toEqual(cacheable(90_000, 'Query.publicAccount'));
  });
});
