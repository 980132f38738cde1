import {
  buildSchema,
  type DocumentNode,
  type ExecutionResult,
  executeSync,
  type FieldNode,
  type OperationDefinitionNode,
  parse,
  print,
  validate,
} from 'graphql';
import { describe, expect, it, vi } from 'vitest';
import { type EntityKeys, entityPlan, entityTag } from '../../src/graphql/entity-tags.js';
import { InvalidOptionError } from '../../src/index.js';

const schema = buildSchema(/* GraphQL */ `
  interface Node {
    id: ID!
    self: Node
    peer: Node
  }
  type Product implements Node {
    id: ID!
    self: Product
    peer: Node
    name: String
    price: Int
    broken: String
    related: [Node]
    skus: [Sku!]
    reviews: [Review]
  }
  type Article implements Node {
    id: ID!
    self: Article
    peer: Node
    title: String
    author: Author
  }
  "An entity whose id may be null."
  type Author {
    id: ID
    name: String
  }
  "No id: no entity."
  type Review {
    stars: Int
  }
  "Keyed by two fields (KEYS)."
  type Sku {
    code: String!
    region: String!
    stock: Int
  }
  "Keyed by an Int (KEYS)."
  type Warehouse {
    number: Int!
    city: String
  }
  "Keyed by a Boolean (KEYS): never tagged."
  type Toggle {
    enabled: Boolean!
  }
  type Banner {
    text: String
  }
  union SearchResult = Product | Sku | Banner | Article
  type Query {
    product(id: ID!): Product
    products: [Product]
    node(id: ID!): Node
    search: [SearchResult]
    grid: [[Product]]
    author: Author
    warehouse: Warehouse
    toggle: Toggle
    count: Int
  }
  type Mutation {
    renameProduct(id: ID!, name: String!): Product
    "Counts its calls: a key field of Mutation in one test."
    touch: ID
  }
  type Subscription {
    productChanged: Product
  }
`);

const KEYS: EntityKeys = { Sku: ['code', 'region'], Warehouse: ['number'], Toggle: ['enabled'] };

/** Fresh data per test (the mutation renames); objects carry __typename for graphql-js's resolveType. */
function rootValue() {
  const anon = { id: null, name: 'Anon' };
  const article: Record<string, unknown> = { __typename: 'Article', id: '7', title: 'News', author: anon };
  article.self = article;
  const skus = [
    { __typename: 'Sku', code: 'A-1', region: 'eu', stock: 3 },
    { __typename: 'Sku', code: 'A"2,', region: 'us', stock: 0 },
  ];
  const p1: Record<string, unknown> = {
    __typename: 'Product',
    id: '1',
    name: 'Chair',
    price: 10,
    broken: () => {
      throw new Error('broken');
    },
    skus,
    reviews: [{ stars: 5 }, { stars: 3 }],
  };
  const p2: Record<string, unknown> = { __typename: 'Product', id: '2', name: 'Desk', price: 20, skus: [] };
  p1.self = p1;
  p1.peer = article;
  article.peer = p1;
  p2.self = p2;
  p1.related = [article, p2, null];
  p2.related = [p1];
  const products: Record<string, Record<string, unknown>> = { 1: p1, 2: p2 };
  const calls = { renameProduct: 0, touch: 0 };
  return {
    calls,
    product: ({ id }: { id: string }) => products[id] ?? null,
    products: [p1, p2],
    node: ({ id }: { id: string }) => (id === '7' ? article : (products[id] ?? null)),
    search: [p1, skus[0], { __typename: 'Banner', text: 'Sale' }, article, skus[1], p1],
    grid: [[p1, null], [], [p2, p1]],
    author: anon,
    warehouse: { number: 3, city: 'Lyon' },
    toggle: { enabled: true },
    count: 2,
    renameProduct: ({ id, name }: { id: string; name: string }) => {
      calls.renameProduct++;
      const product = products[id]!;
      product.name = name;
      return product;
    },
    touch: () => String(++calls.touch),
  };
}

function execute(document: DocumentNode, variableValues?: Record<string, unknown>, root = rootValue()) {
  return executeSync({ schema, document, rootValue: root, variableValues }) as ExecutionResult;
}

const json = (value: unknown) => JSON.stringify(value);

/**
 * Plans `source`, executes the original and the planned document, and checks what every test
 * relies on: the planned document is valid, executes without errors, and `collect` gives the
 * original's data byte for byte.
 */
function run(source: string, variableValues?: Record<string, unknown>, keys: EntityKeys = KEYS) {
  const document = parse(source);
  const plan = entityPlan(schema, document, undefined, keys);
  if (plan === undefined) throw new Error('no plan');
  expect(validate(schema, plan.document)).toEqual([]);
  const original = execute(document, variableValues);
  const planned = execute(plan.document, variableValues);
  expect(planned.errors).toEqual(original.errors);
  const raw = planned.data as Record<string, unknown> | null | undefined;
  const collected = plan.collect(raw);
  expect(json(collected.data)).toBe(json(original.data));
  return { document, plan, raw, tags: collected.tags, data: collected.data, printed: print(plan.document) };
}

describe('entity tags of a result', () => {
  it('adds the id a client did not select, tags the entity and strips the id again', () => {
    const { tags, data, printed, raw } = run('{ product(id: "1") { name price } }');
    expect(tags).toEqual(['Product:1']);
    expect(json(data)).toBe('{"product":{"name":"Chair","price":10}}');
    expect(printed).toContain('__gf_id: id');
    expect(json(raw)).toBe('{"product":{"name":"Chair","price":10,"__gf_id":"1"}}');
  });

  it('returns the document itself when the client selected every key', () => {
    const { document, plan, tags, data } = run('{ product(id: "1") { id name } count }');
    expect(plan.document).toBe(document);
    expect(tags).toEqual(['Product:1']);
    expect(json(data)).toBe('{"product":{"id":"1","name":"Chair"},"count":2}');
  });

  it('tags the concrete type behind an interface, reading __typename it added', () => {
    const { tags, data, printed } = run(
      '{ a: node(id: "7") { ... on Article { title } } b: node(id: "1") { id } }',
    );
    expect(tags).toEqual(['Article:7', 'Product:1']);
    expect(json(data)).toBe('{"a":{"title":"News"},"b":{"id":"1"}}');
    expect(printed).toContain('__gf_typename: __typename');
  });

  it('tags the members of a union selected through named and inline fragments, with composite keys', () => {
    const { tags, data } = run(`
      { search { ... on Product { name } ...SkuParts ... on Banner { text } } }
      fragment SkuParts on Sku { stock }
    `);
    // Banner and Article have nothing to say here (Banner has no key; Article is selected for nothing).
    expect(tags).toEqual(['Product:1', 'Sku:["A-1","eu"]', 'Article:7', 'Sku:["A\\"2,","us"]']);
    expect(json(data)).toBe(
      '{"search":[{"name":"Chair"},{"stock":3},{"text":"Sale"},{},{"stock":0},{"name":"Chair"}]}',
    );
  });

  it('builds the tags entityTag builds, for one key, several keys and numeric keys', () => {
    const { tags } = run('{ warehouse { city } search { ... on Sku { stock } } }', undefined, {
      ...KEYS,
      Product: [],
      Article: [],
    });
    expect(tags).toEqual([
      entityTag('Warehouse', 3),
      entityTag('Sku', ['A-1', 'eu']),
      entityTag('Sku', ['A"2,', 'us']),
    ]);
    expect(tags).toEqual(['Warehouse:3', 'Sku:["A-1","eu"]', 'Sku:["A\\"2,","us"]']);
    expect(entityTag('Product', [42])).toBe(entityTag('Product', '42'));
    expect(() => entityTag('Product', [])).toThrow(InvalidOptionError);
  });

  it('walks nested lists and nulls, and deduplicates tags in first-seen order', () => {
    const { tags, data } = run('{ grid { price } products { related { ... on Product { price } } } }');
    expect(tags).toEqual(['Product:1', 'Product:2', 'Article:7']);
    expect(json(data)).toBe(
      '{"grid":[[{"price":10},null],[],[{"price":20},{"price":10}]],' +
        '"products":[{"related":[{},{"price":20},null]},{"related":[{"price":10}]}]}',
    );
  });

  it('tags no entity whose key is null, absent or neither a string nor a number', () => {
    expect(run('{ author { name } product(id: "404") { name } toggle { enabled } }').tags).toEqual([]);
    expect(run('{ author { id name } }').tags).toEqual([]);
  });

  it('keeps a client alias on the key response key apart from the key, under a fresh alias', () => {
    const aliased = run('{ product(id: "1") { id: name other: price } }');
    expect(aliased.tags).toEqual(['Product:1']);
    expect(json(aliased.data)).toBe('{"product":{"id":"Chair","other":10}}');
    expect(aliased.printed).toContain('__gf_id: id');

    // The client took __gf_id itself: the added field gets another alias, and its own stays.
    const taken = run('{ product(id: "1") { __gf_id: name } }');
    expect(taken.tags).toEqual(['Product:1']);
    expect(json(taken.data)).toBe('{"product":{"__gf_id":"Chair"}}');
    expect(taken.printed).toContain('__gf_id_2: id');
  });

  it('reads a key the client selected under @include whether it is included or not', () => {
    const source = 'query ($withId: Boolean!) { product(id: "1") { id @include(if: $withId) name } }';
    const included = run(source, { withId: true });
    expect(included.tags).toEqual(['Product:1']);
    expect(json(included.data)).toBe('{"product":{"id":"1","name":"Chair"}}');
    const excluded = run(source, { withId: false });
    expect(excluded.tags).toEqual(['Product:1']);
    expect(json(excluded.data)).toBe('{"product":{"name":"Chair"}}');
    // The added field carries no directive.
    expect(excluded.printed).toMatch(/__gf_id: id\n/);

    const inFragment =
      'query ($withId: Boolean!) { product(id: "1") { ... @include(if: $withId) { id } name } }';
    expect(run(inFragment, { withId: false }).tags).toEqual(['Product:1']);
    expect(run(inFragment, { withId: true }).tags).toEqual(['Product:1']);
  });

  it('strips the added __typename where an interface field returns an object type on the implementation', () => {
    const { tags, data } = run('{ node(id: "1") { ... on Node { self { ... on Product { name } } } } }');
    expect(tags).toEqual(['Product:1']);
    expect(json(data)).toBe('{"node":{"self":{"name":"Chair"}}}');
  });

  it('gives the data of the original document key for key, whatever was added where', () => {
    const documents: [string, Record<string, unknown>?][] = [
      ['{ product(id: "1") { ...F price id } } fragment F on Product { name }'],
      ['{ product(id: "1") { name } product(id: "1") { price skus { stock } } count }'],
      ['query ($x: Boolean!) { product(id: "1") { name ... @include(if: $x) { id } price } }', { x: true }],
      ['query ($x: Boolean!) { product(id: "1") { name ... @include(if: $x) { id } price } }', { x: false }],
      ['{ search { __typename ... on Node { id } ... on Sku { code } } }'],
      ['{ search { kind: __typename ... on Article { author { name } } } }'],
      ['{ node(id: "1") { ... on Product { related { ... on Article { title } id } } } }'],
      ['{ product(id: "1") { __proto__: name reviews { stars } } }'],
      ['{ products { skus { region } self { self { price } } } }'],
      ['{ __typename product(id: "1") { __typename } }'],
    ];
    for (const [source, variables] of documents) run(source, variables);
  });

  it('does not mutate the result, and shares what it removed nothing from', () => {
    const document = parse('{ product(id: "1") { name reviews { stars } } count }');
    const plan = entityPlan(schema, document, undefined, KEYS)!;
    const raw = deepFreeze(execute(plan.document).data as Record<string, unknown>);
    const { data } = plan.collect(raw);
    expect(json(raw)).toBe(
      '{"product":{"name":"Chair","reviews":[{"stars":5},{"stars":3}],"__gf_id":"1"},"count":2}',
    );
    expect(json(data)).toBe('{"product":{"name":"Chair","reviews":[{"stars":5},{"stars":3}]},"count":2}');
    const product = (data as { product: { reviews: unknown } }).product;
    expect(product.reviews).toBe((raw as { product: { reviews: unknown } }).product.reviews);
    expect(plan.collect(null)).toEqual({ tags: [], data: null });
  });

  it('keeps the client’s error locations', () => {
    const document = parse('{\n  product(id: "1") {\n    name\n    broken\n  }\n}');
    const plan = entityPlan(schema, document, undefined, KEYS)!;
    expect(plan.document).not.toBe(document);
    const errors = execute(plan.document).errors;
    expect(errors?.map((error) => error.locations)).toEqual([[{ line: 4, column: 5 }]]);
    expect(errors?.map((error) => error.locations)).toEqual(
      execute(document).errors?.map((e) => e.locations),
    );
  });

  it('tags what a mutation returns, adding nothing to its root selection set', () => {
    const document = parse('mutation { renameProduct(id: "2", name: "Stool") { name } }');
    // Were the root object an entity like any other, its added key would run the `touch` mutation.
    const plan = entityPlan(schema, document, undefined, { ...KEYS, Mutation: ['touch'] })!;
    const root = rootValue();
    const result = execute(plan.document, undefined, root);
    expect(root.calls).toEqual({ renameProduct: 1, touch: 0 });
    const selections = (plan.document.definitions[0] as OperationDefinitionNode).selectionSet.selections;
    expect(selections.map((selection) => (selection as FieldNode).name.value)).toEqual(['renameProduct']);
    const collected = plan.collect(result.data as Record<string, unknown>);
    expect(collected.tags).toEqual(['Product:2']);
    expect(json(collected.data)).toBe('{"renameProduct":{"name":"Stool"}}');
  });

  it('lets keys choose the key fields, make a type no entity, and checks them', () => {
    expect(run('{ product(id: "1") { id name } }', undefined, { Product: ['name'] }).tags).toEqual([
      'Product:Chair',
    ]);
    const opted = run('{ product(id: "1") { name } }', undefined, { Product: [] });
    expect(opted.tags).toEqual([]);
    expect(opted.plan.document).toBe(opted.document);
    // Sku has no id: without KEYS it is no entity.
    const noSkuKeys = { Product: [], Article: [] };
    expect(run('{ search { ... on Sku { stock } } }', undefined, noSkuKeys).tags).toEqual([]);
    const document = parse('{ count }');
    const invalid: EntityKeys[] = [
      { Nope: ['id'] },
      { Node: ['id'] },
      { Sku: ['code', 'code'] },
      { Product: ['related'] },
      { Product: ['reviews'] },
    ];
    for (const keys of invalid) {
      expect(() => entityPlan(schema, document, undefined, keys)).toThrow(InvalidOptionError);
    }
    expect(() => entityPlan(schema, document, undefined, { Sku: ['missing'] })).toThrow(
      'option "keys.Sku" must be a list of distinct fields of Sku returning a scalar or enum, without required arguments',
    );
  });
});

describe('planning cost', () => {
  it('plans each selection set once per type it can hold, however deep the abstract nesting', () => {
    // Each level can be a Product or an Article: planned per path, this would be 2^depth plans.
    const depth = 16;
    const source = `{ node(id: "1") { ${'peer { '.repeat(depth)}__typename${' }'.repeat(depth)} } }`;
    const possibleTypes = vi.spyOn(schema, 'getPossibleTypes');
    try {
      const { tags } = run(source);
      expect(tags).toEqual(['Product:1', 'Article:7']);
      expect(possibleTypes.mock.calls.length).toBeLessThan(10 * depth);
    } finally {
      possibleTypes.mockRestore();
    }
  });
});

describe('coordinates', () => {
  it('lists every field the selections reach, each implementation’s for an interface field', () => {
    const { plan } = run(`
      { node(id: "1") { __typename id ... on Product { name related { ...A } } } count }
      fragment A on Article { title }
    `);
    expect(plan.coordinates).toEqual([
      'Article.id',
      'Article.title',
      'Node.id',
      'Product.id',
      'Product.name',
      'Product.related',
      'Query.count',
      'Query.node',
    ]);
  });

  it('leaves out introspection and __typename', () => {
    const plan = entityPlan(schema, parse('{ __typename __schema { queryType { name } } count }'))!;
    expect(plan.coordinates).toEqual(['Query.count']);
  });
});

describe('documents without a plan', () => {
  it.each([
    ['an unknown operation', '{ count }', 'Other'],
    ['two operations and no name', 'query A { count } query B { count }', undefined],
    ['a subscription', 'subscription { productChanged { name } }', undefined],
    ['an unknown field', '{ product(id: "1") { nope } }', undefined],
    ['an unknown fragment', '{ product(id: "1") { ...F } }', undefined],
    ['a fragment cycle', '{ product(id: "1") { ...F } } fragment F on Product { self { ...F } }', undefined],
    ['a selection set on a leaf', '{ count { x } }', undefined],
    ['no selection set on an object', '{ product(id: "1") }', undefined],
    ['@defer', '{ product(id: "1") { ... @defer { name } } }', undefined],
  ])('gives undefined for %s', (_case, source, operationName) => {
    expect(entityPlan(schema, parse(source), operationName, KEYS)).toBeUndefined();
  });

  it('plans the named operation of several', () => {
    const plan = entityPlan(schema, parse('query A { count } query B { product(id: "1") { name } }'), 'B');
    expect(plan?.coordinates).toEqual(['Product.name', 'Query.product']);
  });
});

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}
