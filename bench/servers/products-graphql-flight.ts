/**
 * graphql-flight for the write-mix scenario: graphql-yoga + a Pothos schema with the cachePolicy
 * plugin (`cache: { ttlMs }` on Query.product) over createCache(), and OperationCoalescing with
 * `responseCache: { cache }` over the same FlightCache, served as src/main.ts serves it: the
 * plugin inside Yoga and its node:http front door (`nodeListener`) in front, so a repeat of a
 * product query is answered from the stored response (`X-Cache: HIT`) before Yoga runs.
 * Query.product reads the simulated database; Mutation.updateProductPrice writes it, and its
 * result (a Product) retires `Product:<id>` before the response is sent: the field-cache entry of
 * that product (tagged with the entity it holds) and every stored response holding it, nothing else.
 *
 * graphql-yoga, @pothos/core and graphql are the root project's (as bench/servers/graphql-flight.ts
 * resolves them), so one graphql runs in this process.
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import SchemaBuilder from '@pothos/core';
import type * as Yoga from '../../node_modules/graphql-yoga/typings/index.js';
import { createCache, type FlightCache } from '../../packages/graphql-flight/src/cache/flight-cache.js';
import { OperationCoalescing } from '../../packages/graphql-flight/src/graphql/index.js';
import CachePolicyPlugin from '../../packages/graphql-flight/src/graphql/pothos.js';
import { announce, type ProductRow, readProduct, TTL_MS, writePrice } from './products-common.js';

const rootRequire = createRequire(new URL('../../package.json', import.meta.url));
const { createYoga } = rootRequire('graphql-yoga') as typeof Yoga;

interface Context {
  cache: FlightCache;
}

const cache = createCache();

const builder = new SchemaBuilder<{ Context: Context }>({
  plugins: [CachePolicyPlugin],
  cachePolicy: { cache: (context) => context.cache, viewer: () => null },
});
const Product = builder.objectRef<ProductRow>('Product').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    priceCents: t.exposeInt('priceCents'),
  }),
});
builder.queryType({
  fields: (t) => ({
    product: t.field({
      type: Product,
      nullable: true,
      args: { id: t.arg.id({ required: true }) },
      cache: { ttlMs: TTL_MS },
      resolve: (_root, args) => readProduct(String(args.id)),
    }),
  }),
});
builder.mutationType({
  fields: (t) => ({
    updateProductPrice: t.field({
      type: Product,
      nullable: true,
      args: { id: t.arg.id({ required: true }), priceCents: t.arg.int({ required: true }) },
      resolve: async (_root, args) => {
        // Invalidated by the plugin from this result (invalidateMutationResults).
        return writePrice(String(args.id), args.priceCents);
      },
    }),
  }),
});

const responses = new OperationCoalescing({ responseCache: { cache } });
const yoga = createYoga<Record<string, unknown>, Context>({
  schema: builder.toSchema(),
  graphiql: false,
  landingPage: false,
  logging: false,
  context: () => ({ cache }),
  plugins: [responses.plugin()],
});
const server = createServer(responses.nodeListener(yoga));
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => announce(server, () => cache.close()));
