import type { CacheKey } from 'graphql-flight';
import { fieldCacheKey, invalidateResponses } from 'graphql-flight/graphql';
import { loaderCacheKey } from 'graphql-flight/loaders';
import type { AppContext } from './context.js';
import type { OrderRow, ProductRow } from './data/index.js';

/** `topProducts` caches the top TOP_PRODUCTS_MAX once and slices it for every smaller limit. */
export const TOP_PRODUCTS_MAX = 100;
export const TOP_PRODUCTS_KEY: CacheKey = ['topProducts', TOP_PRODUCTS_MAX];
export const SALES_SUMMARY_KEY: CacheKey = fieldCacheKey('Query.salesSummary', null, []);
/** `recentOrders` takes a limit of 1..RECENT_ORDERS_MAX: a customer's entries are one per limit. */
export const RECENT_ORDERS_MAX = 50;

/** Every entry of a customer's `recentOrders` (one per limit a client may ask, 1..50). */
function recentOrdersKeys(customerId: number): CacheKey[] {
  return Array.from({ length: RECENT_ORDERS_MAX }, (_, i) =>
    fieldCacheKey('Customer.recentOrders', customerId, [customerId, i + 1]),
  );
}

/** Cached whole responses that touched these fields are stale after an order (see invalidateResponses). */
export const STALE_AFTER_ORDER = ['Product.stats', 'Query.salesSummary', 'Query.topProducts'] as const;
/** ... and after a price change: every field that returns products (they carry the price). */
export const STALE_AFTER_PRICE_CHANGE = ['Query.product', 'Query.products', 'Query.topProducts'] as const;

/**
 * After an order is written: the product's stats, the aggregates and the customer's recent
 * orders are stale, and so are the cached responses that touched them. The deletes finish
 * before the mutation answers, so a read that follows the response never sees the old value
 * (loads already running are kept from writing back by the cache's invalidation guard).
 */
export async function invalidateAfterOrder(ctx: AppContext, order: OrderRow): Promise<void> {
  ctx.loaders.productStats.clear(order.productId);
  await Promise.all(
    [
      loaderCacheKey('productStats', order.productId),
      SALES_SUMMARY_KEY,
      TOP_PRODUCTS_KEY,
      ...recentOrdersKeys(order.customerId),
    ]
      .map((key) => ctx.cache.delete(key))
      .concat(invalidateResponses(ctx.cache, STALE_AFTER_ORDER)),
  );
}

/** After a price change: the product row, the best-seller list (it carries prices), and their responses. */
export async function invalidateAfterPriceChange(ctx: AppContext, product: ProductRow): Promise<void> {
  ctx.loaders.product.clear(product.id).prime(product.id, product);
  await Promise.all(
    [loaderCacheKey('product', product.id), TOP_PRODUCTS_KEY]
      .map((key) => ctx.cache.delete(key))
      .concat(invalidateResponses(ctx.cache, STALE_AFTER_PRICE_CHANGE)),
  );
}
