import SchemaBuilder from '@pothos/core';
import { createYoga } from 'graphql-yoga';
import CachePolicyPlugin from '../../src/graphql/pothos.js';
import {
  OperationCoalescing,
  type OperationCoalescingOptions,
} from '../../src/graphql/use-operation-coalescing.js';
import type { FlightCache } from '../../src/index.js';
import { type Deferred, deferred } from './deferred.js';

export interface Product {
  id: string;
  name: string;
  priceCents: number;
}

/** A read of `product(id)` the test holds after it has read its row (see Catalog.holdNextRead). */
export interface HeldRead {
  /** Resolves once the read has its row (the price of that moment) and waits. */
  entered: Promise<void>;
  /** Lets the read return the row it read. */
  release(): void;
}

/**
 * The shop's data, shared by every server instance of a test (the database of the fleet): 42
 * (Chair) and 7 (Desk). Every read returns a copy, as a database does: a cached value never
 * changes under the cache's feet, so only invalidation can make a reader see a write.
 */
export class Catalog {
  readonly #rows = new Map<string, Product>([
    ['42', { id: '42', name: 'Chair', priceCents: 1999 }],
    ['7', { id: '7', name: 'Desk', priceCents: 15000 }],
  ]);
  readonly #held: Array<{ entered: Deferred<void>; release: Deferred<void> }> = [];
  /** Resolver runs, per root field. */
  readonly calls = { product: 0, products: 0, updateProductPrice: 0, visits: 0 };

  /** The next `product(id)` read reads its row, then waits until `release()`. */
  holdNextRead(): HeldRead {
    const held = { entered: deferred<void>(), release: deferred<void>() };
    this.#held.push(held);
    return { entered: held.entered.promise, release: () => held.release.resolve() };
  }

  async product(id: string): Promise<Product | null> {
    this.calls.product++;
    const row = this.#rows.get(id);
    const copy = row === undefined ? null : { ...row };
    const held = this.#held.shift();
    if (held !== undefined) {
      held.entered.resolve();
      await held.release.promise;
    }
    return copy;
  }

  products(): Product[] {
    this.calls.products++;
    return [...this.#rows.values()].map((row) => ({ ...row }));
  }

  setPrice(id: string, priceCents: number): Product | null {
    this.calls.updateProductPrice++;
    const row = this.#rows.get(id);
    if (row === undefined) return null;
    row.priceCents = priceCents;
    return { ...row };
  }
}

interface ShopContext {
  cache: FlightCache;
}

/**
 * The shop schema (Pothos): `Product { id name priceCents related }` (`name` and `related`, the
 * other products, with a hint-only policy),
 * `Query.product(id)` and `Query.products` through the field cache (PUBLIC, 60 s), `Query.featured`
 * (product 7) with a hint-only policy, `Query.visits` without a policy, and
 * `Mutation.updateProductPrice(id, priceCents): Product`.
 */
export function shopSchema(catalog: Catalog) {
  const builder = new SchemaBuilder<{ Context: ShopContext }>({
    plugins: [CachePolicyPlugin],
    cachePolicy: { cache: (context) => context.cache, viewer: () => null },
  });
  const ProductRef = builder.objectRef<Product>('Product');
  ProductRef.implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      // A hint only: no field value of its own, yet a coordinate its responses carry.
      name: t.exposeString('name', { cache: { ttlMs: 60_000, hintOnly: true } }),
      priceCents: t.exposeInt('priceCents'),
      // Entities below an entity (a hint only, as name).
      related: t.field({
        type: [ProductRef],
        cache: { ttlMs: 60_000, hintOnly: true },
        resolve: (product) => catalog.products().filter((other) => other.id !== product.id),
      }),
    }),
  });
  builder.queryType({
    fields: (t) => ({
      product: t.field({
        type: ProductRef,
        nullable: true,
        args: { id: t.arg.id({ required: true }) },
        cache: { ttlMs: 60_000 },
        resolve: (_root, args) => catalog.product(String(args.id)),
      }),
      products: t.field({
        type: [ProductRef],
        cache: { ttlMs: 60_000 },
        resolve: () => catalog.products(),
      }),
      // A hint only (no field value): its responses hold product 7 by their body alone.
      featured: t.field({
        type: ProductRef,
        nullable: true,
        cache: { ttlMs: 60_000, hintOnly: true },
        resolve: () => catalog.product('7'),
      }),
      // No policy: a query selecting it is not cacheable (it still coalesces).
      visits: t.int({ resolve: () => ++catalog.calls.visits }),
    }),
  });
  builder.mutationType({
    fields: (t) => ({
      updateProductPrice: t.field({
        type: ProductRef,
        nullable: true,
        args: { id: t.arg.id({ required: true }), priceCents: t.arg.int({ required: true }) },
        resolve: (_root, args) => catalog.setPrice(String(args.id), args.priceCents),
      }),
    }),
  });
  return builder.toSchema();
}

export interface Answer {
  status: number;
  headers: Headers;
  body: string;
  /** `X-Cache`: HIT, MISS, COALESCED, or null. */
  outcome: string | null;
}

/**
 * One server instance of the shop: Yoga over the shop schema with OperationCoalescing (its
 * options as given; the field cache uses `cache`), and `post` sending a JSON POST in-process.
 * `beforeContext` runs where Yoga builds a request's context: after the document is parsed and
 * validated, before it executes (a test holds a request there).
 */
export function shop(options: {
  cache: FlightCache;
  catalog?: Catalog;
  coalescing?: OperationCoalescingOptions;
  beforeContext?: (request: Request) => Promise<void> | undefined;
}) {
  const catalog = options.catalog ?? new Catalog();
  const coalescing = new OperationCoalescing(options.coalescing);
  const yoga = createYoga<Record<string, unknown>, ShopContext>({
    schema: shopSchema(catalog),
    plugins: [coalescing.plugin()],
    logging: false,
    landingPage: false,
    context: async ({ request }) => {
      await options.beforeContext?.(request);
      return { cache: options.cache };
    },
  });
  const post = async (
    query: string,
    variables?: Record<string, unknown>,
    init: { operationName?: string; headers?: Record<string, string> } = {},
  ): Promise<Answer> => {
    const response = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...init.headers },
      body: JSON.stringify({ query, variables, operationName: init.operationName }),
    });
    const body = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body,
      outcome: response.headers.get('x-cache'),
    };
  };
  return { cache: options.cache, catalog, coalescing, yoga, post };
}

/** The price of product `id` in a body of `{ product(id) { … priceCents } }` or `{ products { id priceCents } }`. */
export function priceIn(body: string, id = '42'): number | undefined {
  const data = (JSON.parse(body) as { data?: Record<string, unknown> }).data ?? {};
  if (data.product !== undefined) return (data.product as { priceCents?: number } | null)?.priceCents;
  const products = data.products as Array<{ id: string; priceCents: number }> | undefined;
  return products?.find((product) => product.id === id)?.priceCents;
}
