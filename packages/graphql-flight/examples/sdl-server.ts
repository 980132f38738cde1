// SDL-first: a Yoga server whose policies are Apollo's @cacheControl (and a map), with the field
// cache, the response cache, a cached DataLoader per request, and invalidation after a write.
import http from 'node:http';
import { createSchema, createYoga } from 'graphql-yoga';
import { createCache, type FlightCache } from '../src/index.js';
import {
  applyCachePolicies,
  cacheControlDirective,
  OperationCoalescing,
  readsOf,
} from '../src/graphql/index.js';
import { createCachedLoader } from '../src/loaders/index.js';

interface Product {
  id: string;
  name: string;
  priceCents: number;
}

/** A stand-in for your database: every call waits for `latency()` and is counted. */
export class ShopDb {
  readonly calls = {
    salesSummary: 0,
    topProducts: 0,
    productBatches: [] as string[][],
    carts: [] as string[],
  };
  readonly #products = new Map<string, Product>([
    ['1', { id: '1', name: 'Kettle', priceCents: 2_500 }],
    ['2', { id: '2', name: 'Teapot', priceCents: 3_900 }],
    ['3', { id: '3', name: 'Mug', priceCents: 900 }],
    ['4', { id: '4', name: 'Tea towel', priceCents: 700 }],
  ]);
  readonly #carts = new Map([
    ['ada', ['1', '3']],
    ['bob', ['2']],
  ]);

  constructor(readonly latency: () => Promise<void> = () => new Promise((r) => setTimeout(r, 50))) {}

  async salesSummary() {
    this.calls.salesSummary++;
    await this.latency();
    return { orderCount: 1_204, revenueCents: 3_512_900 };
  }

  async topProducts(): Promise<Product[]> {
    this.calls.topProducts++;
    await this.latency();
    return [...this.#products.values()].sort((a, b) => b.priceCents - a.priceCents).slice(0, 3);
  }

  /** One result per id, in order: the product, or null. */
  async productsByIds(ids: readonly string[]): Promise<Array<Product | null>> {
    this.calls.productBatches.push([...ids]);
    await this.latency();
    return ids.map((id) => this.#products.get(id) ?? null);
  }

  async cartOf(customer: string): Promise<string[]> {
    this.calls.carts.push(customer);
    await this.latency();
    return this.#carts.get(customer) ?? [];
  }

  async setPrice(id: string, priceCents: number): Promise<Product> {
    const product = this.#products.get(id);
    if (product === undefined) throw new Error(`no product ${id}`);
    const changed = { ...product, priceCents };
    this.#products.set(id, changed);
    return changed;
  }
}

/** Stands in for real token verification (a JWT check): the verified viewer, or null. */
export function verifyViewer(authorization: string | null): string | null {
  if (authorization === 'Bearer token-ada') return 'ada';
  if (authorization === 'Bearer token-bob') return 'bob';
  return null;
}

interface Context {
  cache: FlightCache;
  db: ShopDb;
  viewer: string | null;
  loaders: { product: ReturnType<typeof productLoader> };
}

/**
 * A DataLoader for one request: batches within it, and shares keys across requests through the
 * cache. Each row is tagged with its entity, and what a request reads is handed to the response
 * cache (`readInto`), so a stored response is retired with the rows it was made from.
 */
function productLoader(cache: FlightCache, db: ShopDb, context: object) {
  return createCachedLoader(cache, {
    name: 'product',
    ttlMs: 60_000,
    tags: (id: string) => [`Product:${id}`],
    readInto: () => readsOf(context),
    load: (ids: string[]) => db.productsByIds(ids),
  });
}

const typeDefs = /* GraphQL */ `
  type Query {
    salesSummary: SalesSummary! @cacheControl(maxAge: 10)
    product(id: ID!): Product
    products(ids: [ID!]!): [Product]!
    topProducts: [Product!]!
    viewer: Viewer
  }
  type SalesSummary {
    orderCount: Int!
    revenueCents: Int!
  }
  type Product {
    id: ID!
    name: String!
    priceCents: Int!
  }
  type Viewer {
    id: ID!
    cart: [Product!]! @cacheControl(maxAge: 30)
  }
  type Mutation {
    setPrice(id: ID!, priceCents: Int!): Product!
  }
`;

const TOP_PRODUCTS_KEY = ['top-products'];

export function createExampleServer({ db = new ShopDb() }: { db?: ShopDb } = {}) {
  const cache = createCache(); // memory only; createCache({ redisUrl }) shares it with the fleet

  const schema = applyCachePolicies(
    createSchema<Context>({
      typeDefs: [cacheControlDirective, typeDefs],
      resolvers: {
        Query: {
          // Wrapped in the field cache (its own maxAge): one load for every concurrent operation.
          salesSummary: (_root, _args, ctx: Context) => ctx.db.salesSummary(),
          // Through the loader, which caches each product itself.
          product: (_root, args: { id: string }, ctx: Context) => ctx.loaders.product.load(args.id),
          products: (_root, args: { ids: string[] }, ctx: Context) => ctx.loaders.product.loadMany(args.ids),
          // Cached by hand: the policy below is a hint for the response cache only.
          // Cached by hand, tagged with the products it holds (a price change retires it).
          topProducts: (_root, _args, ctx: Context) =>
            ctx.cache.remember(TOP_PRODUCTS_KEY, () => ctx.db.topProducts(), {
              ttlMs: 10_000,
              tags: (top) => top.map((product) => `Product:${product.id}`),
              readInto: readsOf(ctx),
            }),
          viewer: (_root, _args, ctx: Context) => (ctx.viewer === null ? null : { id: ctx.viewer }),
        },
        Viewer: {
          // PRIVATE (under the `viewer` root): cached per verified viewer, never in the response cache.
          cart: async (viewer: { id: string }, _args, ctx: Context) =>
            ctx.loaders.product.loadMany(await ctx.db.cartOf(viewer.id)),
        },
        Mutation: {
          setPrice: async (_root, args: { id: string; priceCents: number }, ctx: Context) => {
            const product = await ctx.db.setPrice(args.id, args.priceCents);
            // The result (a Product) retires `Product:<id>` before the response is sent: the row,
            // topProducts and every stored response holding it. Only the request's memo is ours.
            ctx.loaders.product.clear(args.id);
            return product;
          },
        },
      },
    }),
    {
      cache,
      viewer: (ctx: Context) => ctx.viewer,
      // Hints by coordinate, for what the SDL does not say (or to override it).
      policies: {
        Product: { ttlMs: 60_000 },
        'Query.topProducts': { ttlMs: 10_000, hintOnly: true },
      },
    },
  );

  const coalescing = new OperationCoalescing({
    responseCache: {
      cache,
      // A request with credentials may get a public cached response only when they are valid.
      authorize: (authorization) => verifyViewer(authorization) !== null,
    },
  });
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    plugins: [coalescing.plugin()],
    // Yoga extends this `initial` object into the context resolvers get.
    context: (initial) => ({
      cache,
      db,
      viewer: verifyViewer(initial.request.headers.get('authorization')),
      loaders: { product: productLoader(cache, db, initial) },
    }),
  });

  return { yoga, coalescing, cache, db, close: () => cache.close() };
}

/** Serves the example on node:http; the front door answers response-cache hits before Yoga runs. */
export async function startExampleServer({ port = 4000, host = '127.0.0.1', db = new ShopDb() } = {}) {
  const example = createExampleServer({ db });
  const server = http.createServer(example.coalescing.nodeListener(example.yoga));
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    ...example,
    server,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await example.close();
    },
  };
}
