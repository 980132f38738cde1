import type DataLoader from 'dataloader';
import type { FlightCache, Reads } from 'graphql-flight';
import type { OperationStats } from 'graphql-flight/graphql';
import { typeTag } from 'graphql-flight/graphql';
import { createCachedLoader } from 'graphql-flight/loaders';
import type { Viewer } from './auth.js';
import type { CustomerRow, ProductRow, ProductStatsRow, ShopData } from './data/index.js';
import { TAGS } from './invalidation.js';

/** How long entries of the demo domain stay fresh. */
export const TTL = {
  product: 60_000,
  customer: 60_000,
  productStats: 10_000,
  salesSummary: 10_000,
  topProducts: 10_000,
  recentOrders: 30_000,
} as const;

/**
 * Revalidate windows (issue 13): after its TTL, for this long, a value is served stale at once while
 * one refresh runs. Only where a moment of staleness is honest: the best-seller ranking is public
 * and read by everyone, and a write that changes it (an order, a price change) still invalidates it
 * at once; the window only spares readers the wait at each expiry.
 */
export const STALE_WHILE_REVALIDATE = {
  topProducts: 30_000,
} as const;

export interface AppLoaders {
  product: DataLoader<number, ProductRow | null>;
  productStats: DataLoader<number, ProductStatsRow>;
  customer: DataLoader<number, CustomerRow | null>;
}

/** Everything a resolver may use; built per request. */
export interface AppContext {
  cache: FlightCache;
  data: ShopData;
  viewer: Viewer | null;
  loaders: AppLoaders;
  /** Secret for key fingerprints in flightStats (per server). */
  fingerprintSecret: Uint8Array;
  /** Operation coalescing and the response cache, for flightStats (absent: none). */
  operationStats?: () => OperationStats;
}

/** Rows in `ids` order, `null` where no row exists (an absent product is cached as `null`). */
function byId<R extends { id: number }>(ids: readonly number[], rows: readonly R[]): Array<R | null> {
  const found = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => found.get(id) ?? null);
}

/**
 * The request's loaders. Their entries are tagged (`Product:<id>` and `Product:*` for a row, the
 * product's stats tag for its figures), and `readInto` hands what a request reads to the response
 * cache, so a stored response is retired with the rows it was made from. `signal` is the
 * execution's: a batch no request waits for any more is not sent (or is cancelled).
 */
export function createLoaders(
  cache: FlightCache,
  data: ShopData,
  readInto: () => Reads | undefined = () => undefined,
  signal: () => AbortSignal | undefined = () => undefined,
): AppLoaders {
  return {
    product: createCachedLoader(cache, {
      name: 'product',
      ttlMs: TTL.product,
      tags: (id: number) => [TAGS.product(id), typeTag('Product')],
      readInto,
      signal,
      load: async (ids: number[], signal) => byId(ids, await data.productsByIds(ids, { signal })),
    }),
    productStats: createCachedLoader(cache, {
      name: 'productStats',
      ttlMs: TTL.productStats,
      tags: (id: number) => [TAGS.productStats(id)],
      readInto,
      signal,
      load: async (ids: number[], signal) => {
        const rows = new Map(
          (await data.productStatsByIds(ids, { signal })).map((row) => [row.productId, row]),
        );
        return ids.map((id) => rows.get(id) ?? { productId: id, unitsSold: 0, revenueCents: '0' });
      },
    }),
    customer: createCachedLoader(cache, {
      name: 'customer',
      ttlMs: TTL.customer,
      tags: (id: number) => [`Customer:${id}`, typeTag('Customer')],
      readInto,
      signal,
      load: async (ids: number[], signal) => byId(ids, await data.customersByIds(ids, { signal })),
    }),
  };
}
