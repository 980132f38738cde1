import SchemaBuilder from '@pothos/core';
import { GraphQLError, type GraphQLResolveInfo, type GraphQLSchema, isObjectType } from 'graphql';
import { noteWrite } from '../plugins/hardening.js';
import { type FlightStatsSnapshot, flightStatsSnapshot } from '../plugins/flight-stats.js';
import CachePolicyPlugin from 'graphql-flight/pothos';
import { forbidden, unauthenticated } from './auth.js';
import { type AppContext, STALE_WHILE_REVALIDATE, TTL } from './context.js';
import {
  type Cents,
  type CustomerRow,
  ORDER_QUANTITY_MAX,
  type OrderRow,
  PRICE_CENTS_MAX,
  type ProductRow,
  type ProductStatsRow,
  type SalesSummaryRow,
  type WriteProgress,
} from './data/index.js';
import { invalidateAfterWrite, pendingInvalidation, readsOf, typeTag } from 'graphql-flight/graphql';
import {
  invalidateAfterOrder,
  invalidateAfterPriceChange,
  RECENT_ORDERS_MAX,
  TAGS,
  TOP_PRODUCTS_KEY,
  TOP_PRODUCTS_MAX,
} from './invalidation.js';
import { CentsScalar } from './scalars.js';

/** Most ids one `products` call may ask for (a bound on what one request can make the server load). */
export const MAX_IDS = 100;
/** Most tags and types one `invalidateCache` call may retire. */
export const MAX_INVALIDATION_TAGS = 100;

/** The description of every count that grows with the orders (issue 12). */
const COUNT_NOTE =
  'A Float, not an Int: a count over all orders passes 2^31 - 1 in time. Always an integer, exact up to 2^53 - 1 (centuries of orders).';

export interface SchemaOptions {
  /** Whether `cache` field options take effect (default true). Off only to measure what they buy. */
  fieldCache?: boolean;
}

export function buildSchema(options: SchemaOptions = {}): GraphQLSchema {
  const builder = new SchemaBuilder<{
    Context: AppContext;
    DefaultFieldNullability: false;
    Scalars: { ID: { Input: string; Output: number }; Cents: { Input: Cents; Output: Cents } };
  }>({
    plugins: options.fieldCache === false ? [] : [CachePolicyPlugin],
    defaultFieldNullability: false,
    cachePolicy: {
      cache: (ctx) => ctx.cache,
      viewer: (ctx) => ctx.viewer?.customerId,
    },
  });

  builder.addScalarType('Cents', CentsScalar);

  const ProductStats = builder.objectRef<ProductStatsRow>('ProductStats').implement({
    description: "A product's sales over all orders.",
    fields: (t) => ({
      unitsSold: t.exposeFloat('unitsSold', {
        description: `Units in all orders of the product. ${COUNT_NOTE}`,
      }),
      revenueCents: t.expose('revenueCents', {
        type: 'Cents',
        description: 'Sum of the totals of all orders of the product.',
      }),
    }),
  });

  const Product = builder.objectRef<ProductRow>('Product').implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      name: t.exposeString('name'),
      priceCents: t.exposeInt('priceCents', {
        description: `The price in cents, 0 to ${PRICE_CENTS_MAX}: an Int, since updateProductPrice bounds it.`,
      }),
      stats: t.field({
        type: ProductStats,
        // The productStats loader caches it; the hint lets whole responses be cached too.
        cache: { ttlMs: TTL.productStats, hintOnly: true },
        resolve: (product, _args, ctx) => ctx.loaders.productStats.load(product.id),
      }),
    }),
  });

  const Order = builder.objectRef<OrderRow>('Order').implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      product: t.field({
        type: Product,
        resolve: async (order, _args, ctx) => {
          const product = await ctx.loaders.product.load(order.productId);
          if (product === null)
            throw new GraphQLError(`product ${order.productId} of order ${order.id} is missing`);
          return product;
        },
      }),
      quantity: t.exposeInt('quantity'),
      totalCents: t.expose('totalCents', {
        type: 'Cents',
        description: 'Quantity times the price the order was placed at (up to 10000000000).',
      }),
      createdAt: t.exposeString('createdAt'),
    }),
  });

  const Customer = builder.objectRef<CustomerRow>('Customer').implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      name: t.exposeString('name'),
      recentOrders: t.field({
        type: [Order],
        args: { limit: t.arg.int({ defaultValue: 5 }) },
        // Under `viewer`, so PRIVATE by default: keyed by the verified viewer as well.
        cache: {
          ttlMs: TTL.recentOrders,
          key: (customer, args) => [customer.id, args.limit ?? 5],
          // One tag for every limit: an order retires them all.
          tags: (customer) => [TAGS.customerOrders(customer.id)],
        },
        resolve: (customer, args, ctx, info) =>
          userErrors(
            ctx.data.recentOrders(customer.id, boundedInt('limit', args.limit ?? 5, 1, RECENT_ORDERS_MAX), {
              signal: signalOf(info),
            }),
          ),
      }),
    }),
  });

  const SalesSummary = builder.objectRef<SalesSummaryRow>('SalesSummary').implement({
    description: 'All orders. Amounts are Cents (decimal strings), counts Floats: neither overflows.',
    fields: (t) => ({
      orderCount: t.exposeFloat('orderCount', { description: `Orders placed. ${COUNT_NOTE}` }),
      revenueCents: t.expose('revenueCents', { type: 'Cents', description: 'Sum of all order totals.' }),
      averageOrderCents: t.expose('averageOrderCents', {
        type: 'Cents',
        description: 'revenueCents / orderCount, rounded half up, computed exactly; "0" without orders.',
      }),
    }),
  });

  const InFlightKey = builder.objectRef<FlightStatsSnapshot['inFlight'][number]>('InFlightKey').implement({
    description: 'A flight in progress. The key is shown as an HMAC fingerprint, never in the clear.',
    fields: (t) => ({
      fingerprint: t.exposeString('fingerprint'),
      waiters: t.exposeInt('waiters'),
      ageMs: t.exposeFloat('ageMs'),
    }),
  });
  const StoreHealth = builder.objectRef<FlightStatsSnapshot['store']>('StoreHealth').implement({
    fields: (t) => ({
      kind: t.exposeString('kind', { description: '"memory" or "redis"' }),
      healthy: t.exposeBoolean('healthy', {
        description: 'False while the circuit to Redis is open or probing.',
      }),
      breaker: t.exposeString('breaker', { description: '"closed", "open" or "half-open"' }),
      errors: t.exposeFloat('errors'),
    }),
  });
  const FleetStats = builder.objectRef<FlightStatsSnapshot['fleet']>('FleetStats').implement({
    description: 'The single flight across processes sharing one Redis (a lease per key).',
    fields: (t) => ({
      enabled: t.exposeBoolean('enabled', {
        description: 'True when the cache is on Redis with the fleet lease.',
      }),
      leasesWon: t.exposeFloat('leasesWon', { description: 'Loads this process ran as the fleet leader.' }),
      waits: t.exposeFloat('waits', { description: "Fetches that waited for another process's load." }),
      takeovers: t.exposeFloat('takeovers', {
        description: 'Leases taken over after the holder died or gave up.',
      }),
      fillsRefused: t.exposeFloat('fillsRefused', {
        description: 'Fills Redis refused: lease lost, or the key invalidated during the load.',
      }),
      wakeupsByMessage: t.exposeFloat('wakeupsByMessage'),
      wakeupsByPoll: t.exposeFloat('wakeupsByPoll'),
      fallbacks: t.exposeFloat('fallbacks', {
        description: 'Loads made locally because Redis failed or its circuit was open.',
      }),
      staleDropped: t.exposeFloat('staleDropped', {
        description: 'Values read from Redis that an invalidation of one of their tags had retired.',
      }),
    }),
  });
  const InvalidationStats = builder
    .objectRef<FlightStatsSnapshot['invalidations']>('InvalidationStats')
    .implement({
      description: 'Invalidations this process sent to Redis.',
      fields: (t) => ({
        sent: t.exposeFloat('sent', { description: 'Acknowledged by Redis.' }),
        failed: t.exposeFloat('failed', {
          description:
            'Not acknowledged in time: the write answered CACHE_INVALIDATION_PENDING; re-sent until it lands.',
        }),
        pending: t.exposeFloat('pending', { description: 'Queued for Redis now.' }),
      }),
    });
  const QueryCount = builder.objectRef<FlightStatsSnapshot['queries'][number]>('QueryCount').implement({
    fields: (t) => ({ statement: t.exposeString('statement'), count: t.exposeFloat('count') }),
  });
  const OperationStatsRef = builder.objectRef<FlightStatsSnapshot['operations']>('OperationStats').implement({
    description: 'Operation coalescing and the response cache (X-Cache), since the server started.',
    fields: (t) => ({
      executed: t.exposeFloat('started', {
        description: 'Query executions that requests could share (each an X-Cache: MISS).',
      }),
      coalesced: t.exposeFloat('joined', {
        description: "Requests that shared another request's execution (X-Cache: COALESCED).",
      }),
      hits: t.exposeFloat('hits', { description: 'Requests answered by the response cache (X-Cache: HIT).' }),
      stored: t.exposeFloat('stored', { description: 'Responses written to the response cache.' }),
      notModified: t.exposeFloat('notModified', { description: '304 Not Modified answers.' }),
    }),
  });
  const FlightStats = builder.objectRef<FlightStatsSnapshot>('FlightStats').implement({
    description: 'Counters are Floats: a busy server passes the 32-bit Int range.',
    fields: (t) => ({
      inFlight: t.expose('inFlight', { type: [InFlightKey] }),
      started: t.exposeFloat('started', { description: 'Flights started (each one execution of a loader).' }),
      coalesced: t.exposeFloat('coalesced', {
        description: 'Calls that joined a flight already in progress.',
      }),
      hits: t.exposeFloat('hits'),
      misses: t.exposeFloat('misses'),
      loads: t.exposeFloat('loads', { description: 'Keys handed to a data source.' }),
      errors: t.exposeFloat('errors'),
      timeouts: t.exposeFloat('timeouts'),
      hitRatio: t.exposeFloat('hitRatio'),
      staleHits: t.exposeFloat('staleHits', {
        description:
          'Calls answered with a stale value: inside its revalidate window, after a soft purge, in its error window, or after its soft timeout.',
      }),
      refreshes: t.exposeFloat('refreshes', {
        description:
          'Background refreshes this process started (after stale hits, and early refreshes); one another process of the fleet runs is not counted here.',
      }),
      earlyRefreshes: t.exposeFloat('earlyRefreshes', {
        description: 'Of the refreshes, those started early (XFetch) on a fresh hit.',
      }),
      refreshFailures: t.exposeFloat('refreshFailures', {
        description: 'Background refresh attempts that failed (their error reached no caller).',
      }),
      staleIfErrorServes: t.exposeFloat('staleIfErrorServes', {
        description: 'Calls answered stale because the load or refresh failed, or the soft timeout passed.',
      }),
      store: t.expose('store', { type: StoreHealth }),
      fleet: t.expose('fleet', { type: FleetStats }),
      invalidations: t.expose('invalidations', { type: InvalidationStats }),
      queries: t.expose('queries', { type: [QueryCount], description: 'Statements sent to the database.' }),
      operations: t.expose('operations', { type: OperationStatsRef }),
    }),
  });

  builder.queryType({
    fields: (t) => ({
      product: t.field({
        type: Product,
        nullable: true,
        args: { id: t.arg.id({ required: true }) },
        cache: { ttlMs: TTL.product, hintOnly: true },
        resolve: (_root, args, ctx) => ctx.loaders.product.load(parseId('id', args.id)),
      }),
      products: t.field({
        type: [Product],
        nullable: { list: false, items: true },
        args: { ids: t.arg.idList({ required: true }) },
        cache: { ttlMs: TTL.product, hintOnly: true },
        resolve: (_root, args, ctx) => {
          if (args.ids.length > MAX_IDS)
            throw badInput(`ids may hold at most ${MAX_IDS} ids; received ${args.ids.length}`);
          const ids = args.ids.map((id, i) => parseId(`ids[${i}]`, id));
          return Promise.all(ids.map((id) => ctx.loaders.product.load(id)));
        },
      }),
      topProducts: t.field({
        type: [Product],
        args: { limit: t.arg.int({ defaultValue: 10 }) },
        // Cached below through TOP_PRODUCTS_KEY (one entry for every limit), with the same windows.
        cache: {
          ttlMs: TTL.topProducts,
          staleWhileRevalidateMs: STALE_WHILE_REVALIDATE.topProducts,
          hintOnly: true,
        },
        description: `The best sellers by units sold. One cached aggregate serves every limit up to ${TOP_PRODUCTS_MAX}.`,
        resolve: async (_root, args, ctx, info) => {
          const limit = boundedInt('limit', args.limit ?? 10, 1, TOP_PRODUCTS_MAX);
          const top = await ctx.cache.remember(
            TOP_PRODUCTS_KEY,
            (signal) => userErrors(ctx.data.topProducts(TOP_PRODUCTS_MAX, { signal })),
            {
              signal: signalOf(info),
              ttlMs: TTL.topProducts,
              staleWhileRevalidateMs: STALE_WHILE_REVALIDATE.topProducts,
              // An order changes the ranking; a price change, the products in it.
              tags: (rows) => [TAGS.sales, typeTag('Product'), ...rows.map((row) => TAGS.product(row.id))],
              ...readInto(ctx),
            },
          );
          return top.slice(0, limit);
        },
      }),
      salesSummary: t.field({
        type: SalesSummary,
        cache: { ttlMs: TTL.salesSummary, key: () => [], tags: [TAGS.sales] },
        resolve: (_root, _args, ctx, info) => ctx.data.salesSummary({ signal: signalOf(info) }),
      }),
      viewer: t.field({
        type: Customer,
        nullable: true,
        description: 'The customer of the bearer token; null without one.',
        resolve: (_root, _args, ctx) =>
          ctx.viewer === null ? null : ctx.loaders.customer.load(ctx.viewer.customerId),
      }),
      flightStats: t.field({
        type: FlightStats,
        description: 'What the cache and the single flight are doing. Operators only.',
        resolve: (_root, _args, ctx) => {
          // Anyone but an operator, anonymous callers included, is FORBIDDEN.
          if (!ctx.viewer?.operator) throw forbidden('flightStats is for operators only');
          return flightStatsSnapshot(
            ctx.cache.stats(),
            ctx.data.queryCounts(),
            ctx.fingerprintSecret,
            ctx.operationStats?.(),
          );
        },
      }),
    }),
  });

  const CacheInvalidation = builder
    .objectRef<{ tags: string[]; pending: boolean }>('CacheInvalidation')
    .implement({
      description: 'What invalidateCache retired.',
      fields: (t) => ({
        tags: t.exposeStringList('tags', {
          description: 'The tags retired, in every process: those asked for, and `Type:*` for each type.',
        }),
        pending: t.exposeBoolean('pending', {
          description:
            'True when Redis did not acknowledge in time: retired here, queued and re-sent until it lands (the result also carries a CACHE_INVALIDATION_PENDING error).',
        }),
      }),
    });

  builder.mutationType({
    fields: (t) => ({
      invalidateCache: t.field({
        type: CacheInvalidation,
        description: `Retires every cached value and response carrying one of \`tags\`, or holding an entity of one of \`types\`, in every process. Operators only. At most ${MAX_INVALIDATION_TAGS} tags and types; the whole request is checked before anything is retired.`,
        args: {
          tags: t.arg.stringList({ defaultValue: [] }),
          types: t.arg.stringList({ defaultValue: [] }),
          soft: t.arg.boolean({
            defaultValue: false,
            description:
              'A soft purge: values with a revalidate window (topProducts) are served stale within it while one refresh runs, instead of being retired; the others are retired.',
          }),
        },
        resolve: async (_root, args, ctx, info) => {
          if (!ctx.viewer?.operator) throw forbidden('invalidateCache is for operators only');
          const tags = args.tags ?? [];
          const types = args.types ?? [];
          if (tags.length + types.length === 0) throw badInput('give at least one tag or type');
          if (tags.length + types.length > MAX_INVALIDATION_TAGS) {
            throw badInput(
              `at most ${MAX_INVALIDATION_TAGS} tags and types; received ${tags.length + types.length}`,
            );
          }
          for (const [i, tag] of tags.entries()) {
            if (tag.length === 0 || tag.length > 200 || !tag.isWellFormed())
              throw badInput(`tags[${i}] must be 1 to 200 characters`);
          }
          for (const [i, name] of types.entries()) {
            const type = info.schema.getType(name);
            if (!isObjectType(type) || type.getFields().id === undefined || name.startsWith('__')) {
              throw badInput(
                `types[${i}]: ${JSON.stringify(name.slice(0, 60))} is not an entity type (an object type with an id)`,
              );
            }
          }
          const retired = [...new Set([...tags, ...types.map(typeTag)])];
          await invalidateAfterWrite(ctx, ctx.cache, { tags: retired, soft: args.soft === true });
          return { tags: retired, pending: pendingInvalidation(ctx) !== undefined };
        },
      }),
      placeOrder: t.field({
        type: Order,
        description: `Orders \`quantity\` (1 to ${ORDER_QUANTITY_MAX}) of a product at its current price, for the signed-in customer. Every argument is checked before anything is written, and every field of the result holds whatever the write can produce (totalCents is Cents), so the result never fails to serialise after the order is written.`,
        args: { productId: t.arg.id({ required: true }), quantity: t.arg.int({ required: true }) },
        resolve: async (_root, args, ctx, info) => {
          if (ctx.viewer === null) throw unauthenticated('placeOrder needs a signed-in customer');
          // Validated here, before the data layer writes (which checks again): every accepted
          // input gives a total that Cents holds, so nothing after the insert can fail.
          const productId = parseId('productId', args.productId);
          const quantity = boundedInt('quantity', args.quantity, 1, ORDER_QUANTITY_MAX);
          const order = await userErrors(
            ctx.data.placeOrder(
              { customerId: ctx.viewer.customerId, productId, quantity },
              writeOptions(ctx, info),
            ),
          );
          await invalidateAfterOrder(ctx, order);
          return order;
        },
      }),
      updateProductPrice: t.field({
        type: Product,
        description: `Sets a product's price, \`priceCents\` 0 to ${PRICE_CENTS_MAX} (so an order totals at most ${PRICE_CENTS_MAX * ORDER_QUANTITY_MAX} cents). Operators only. Arguments are checked before anything is written; orders placed earlier keep their totals.`,
        args: { id: t.arg.id({ required: true }), priceCents: t.arg.int({ required: true }) },
        resolve: async (_root, args, ctx, info) => {
          if (!ctx.viewer?.operator) throw forbidden('updateProductPrice is for operators only');
          const id = parseId('id', args.id);
          const priceCents = boundedInt('priceCents', args.priceCents, 0, PRICE_CENTS_MAX);
          const product = await userErrors(
            ctx.data.updateProductPrice(id, priceCents, writeOptions(ctx, info)),
          );
          if (product === null) throw notFound(`product ${id} does not exist`);
          await invalidateAfterPriceChange(ctx, product);
          return product;
        },
      }),
    }),
  });

  return builder.toSchema({ sortSchema: true });
}

/**
 * The signal a resolver runs under (graphql-tools' executor sets `info.signal`): the execution's,
 * or inside a cached field the flight's. Passed to the data source, so nobody's abandoned work
 * reaches the database.
 */
function signalOf(info: GraphQLResolveInfo): AbortSignal | undefined {
  const signal = (info as { signal?: unknown }).signal;
  return signal instanceof AbortSignal ? signal : undefined;
}

/** A write stops with its execution, and tells the deadline how far it got (see noteWrite). */
function writeOptions(ctx: AppContext, info: GraphQLResolveInfo) {
  return { signal: signalOf(info), progress: (state: WriteProgress) => noteWrite(ctx, state) };
}

/** A remember call's `readInto`, when a response cache collects what this execution reads. */
function readInto(ctx: AppContext) {
  const reads = readsOf(ctx);
  return reads === undefined ? {} : { readInto: reads };
}

function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

function notFound(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'NOT_FOUND' } });
}

/** GraphQL IDs are the integers from 1 (`"1"`, `"2"`, ...). */
function parseId(argument: string, id: string | number): number {
  const text = String(id);
  if (!/^[1-9][0-9]{0,9}$/.test(text) || Number(text) > 2_147_483_647) {
    throw badInput(
      `${argument} must be a positive integer id; received ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
  return Number(text);
}

function boundedInt(argument: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw badInput(`${argument} must be an integer from ${min} to ${max}; received ${value}`);
  }
  return value;
}

/**
 * The data layer's validation and not-found errors carry stable codes and safe messages: clients
 * see them. Anything else stays an unexpected error, which Yoga masks.
 */
async function userErrors<T>(pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'E_INVALID_INPUT') throw badInput((error as Error).message);
    if (code === 'E_NOT_FOUND') throw notFound((error as Error).message);
    throw error;
  }
}
