import type { CacheKey } from 'graphql-flight';
import { fieldCacheKey, invalidateAfterWrite } from 'graphql-flight/graphql';
import type { AppContext } from './context.js';
import type { OrderRow, ProductRow } from './data/index.js';

/** `topProducts` caches the top TOP_PRODUCTS_MAX once and slices it for every smaller limit. */
export const TOP_PRODUCTS_MAX = 100;
export const TOP_PRODUCTS_KEY: CacheKey = ['topProducts', TOP_PRODUCTS_MAX];
export const SALES_SUMMARY_KEY: CacheKey = fieldCacheKey('Query.salesSummary', null, []);
/** `recentOrders` takes a limit of 1..RECENT_ORDERS_MAX. */
export const RECENT_ORDERS_MAX = 50;

/**
 * The demo's tags. Entities are tagged `Type:id` by the library (and `Type:*`); these name what
 * an entity tag cannot: aggregates over many rows, and one customer's list of orders.
 */
export const TAGS = {
  /** Every value computed from all orders: salesSummary, topProducts. */
  sales: 'sales',
  /** A product's sales figures (Product.stats). */
  productStats: (productId: number) => `Product:${productId}:stats`,
  /** A customer's orders (Customer.recentOrders, every limit). */
  customerOrders: (customerId: number) => `Customer:${customerId}:orders`,
  product: (productId: number) => `Product:${productId}`,
} as const;

/**
 * After an order is written: the aggregates, the product's stats and the customer's orders are
 * stale, in every process, with every cached response that read them (a response inherits the
 * tags of the values it read). Awaited before the mutation answers, so a read sent after its
 * response never sees the old values. When Redis does not acknowledge, the mutation still
 * answers its order, with an error of code CACHE_INVALIDATION_PENDING (see invalidateAfterWrite).
 */
export async function invalidateAfterOrder(ctx: AppContext, order: OrderRow): Promise<void> {
  ctx.loaders.productStats.clear(order.productId);
  await invalidateAfterWrite(ctx, ctx.cache, {
    tags: [TAGS.sales, TAGS.productStats(order.productId), TAGS.customerOrders(order.customerId)],
  });
}

/**
 * After a price change: `Product:<id>` (its row, and every value and response holding it, the
 * best-seller list included), before the mutation answers. The library also retires the entities
 * of the mutation's result, but a result can come back without them (an error elsewhere in the
 * operation nulls it) while the write is made: the write itself names what it changed.
 */
export async function invalidateAfterPriceChange(ctx: AppContext, product: ProductRow): Promise<void> {
  ctx.loaders.product.clear(product.id).prime(product.id, product);
  await invalidateAfterWrite(ctx, ctx.cache, { tags: [TAGS.product(product.id)] });
}
