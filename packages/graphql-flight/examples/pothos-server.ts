// Code-first with Pothos: the `cache` field option, a cached DataLoader per request, the response
// cache, and invalidation after a write.
import http from 'node:http';
import SchemaBuilder from '@pothos/core';
import { createYoga } from 'graphql-yoga';
import { createCache, type FlightCache } from '../src/index.js';
import { OperationCoalescing, readsOf } from '../src/graphql/index.js';
import CachePolicyPlugin from '../src/graphql/pothos.js';
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
    suggestions: 0,
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

  /** Names of the products that start with `prefix`, whatever its case. */
  async suggest(prefix: string): Promise<string[]> {
    this.calls.suggestions++;
    await this.latency();
    const lower = prefix.toLowerCase();
    return [...this.#products.values()].map((p) => p.name).filter((n) => n.toLowerCase().startsWith(lower));
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

function buildSchema() {
  const builder = new SchemaBuilder<{ Context: Context }>({
    plugins: [CachePolicyPlugin],
    cachePolicy: { cache: (ctx) => ctx.cache, viewer: (ctx) => ctx.viewer },
  });

  const SalesSummary = builder.objectRef<{ orderCount: number; revenueCents: number }>('SalesSummary');
  SalesSummary.implement({
    fields: (t) => ({ orderCount: t.exposeInt('orderCount'), revenueCents: t.exposeInt('revenueCents') }),
  });
  const ProductRef = builder.objectRef<Product>('Product');
  ProductRef.implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      name: t.exposeString('name'),
      priceCents: t.exposeInt('priceCents'),
    }),
  });
  const Viewer = builder.objectRef<{ id: string }>('Viewer');
  Viewer.implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      // PRIVATE (under the `viewer` root): cached per verified viewer, never in the response cache.
      cart: t.field({
        type: [ProductRef],
        cache: { ttlMs: 30_000 },
        resolve: async (viewer, _args, ctx) => {
          const ids = await ctx.db.cartOf(viewer.id);
          const products = await Promise.all(ids.map((id) => ctx.loaders.product.load(id)));
          return products.filter((product) => product !== null);
        },
      }),
    }),
  });

  builder.queryType({
    fields: (t) => ({
      // PUBLIC: one entry for everyone, one load for every concurrent operation.
      salesSummary: t.field({
        type: SalesSummary,
        cache: { ttlMs: 10_000 },
        resolve: (_root, _args, ctx) => ctx.db.salesSummary(),
      }),
      // A key of our own: "TE" and "te" are one entry.
      suggest: t.stringList({
        args: { prefix: t.arg.string({ required: true }) },
        cache: { ttlMs: 60_000, key: (_root, args) => [args.prefix.toLowerCase()] },
        resolve: (_root, args, ctx) => ctx.db.suggest(args.prefix),
      }),
      // The loader caches each product: the policy is a hint for the response cache only.
      product: t.field({
        type: ProductRef,
        nullable: true,
        args: { id: t.arg.id({ required: true }) },
        cache: { ttlMs: 60_000, hintOnly: true },
        resolve: (_root, args, ctx) => ctx.loaders.product.load(String(args.id)),
      }),
      products: t.field({
        type: [ProductRef],
        nullable: { list: false, items: true },
        args: { ids: t.arg.idList({ required: true }) },
        cache: { ttlMs: 60_000, hintOnly: true },
        resolve: (_root, args, ctx) =>
          Promise.all(args.ids.map((id) => ctx.loaders.product.load(String(id)))),
      }),
      viewer: t.field({
        type: Viewer,
        nullable: true,
        resolve: (_root, _args, ctx) => (ctx.viewer === null ? null : { id: ctx.viewer }),
      }),
    }),
  });

  builder.mutationType({
    fields: (t) => ({
      setPrice: t.field({
        type: ProductRef,
        args: { id: t.arg.id({ required: true }), priceCents: t.arg.int({ required: true }) },
        resolve: async (_root, args, ctx) => {
          const id = String(args.id);
          const product = await ctx.db.setPrice(id, args.priceCents);
          // The result (a Product) retires `Product:<id>` before the response is sent: the row
          // and every stored response holding it. Only the request's memo is ours to clear.
          ctx.loaders.product.clear(id);
          return product;
        },
      }),
    }),
  });

  return builder.toSchema();
}

export function createExampleServer({ db = new ShopDb() }: { db?: ShopDb } = {}) {
  const cache = createCache(); // memory only; createCache({ redisUrl }) shares it with the fleet
  const coalescing = new OperationCoalescing({
    responseCache: {
      cache,
      // A request with credentials may get a public cached response only when they are valid.
      authorize: (authorization) => verifyViewer(authorization) !== null,
    },
  });
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema: buildSchema(),
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
