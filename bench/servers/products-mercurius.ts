/**
 * fastify + mercurius + mercurius-cache for the write-mix scenario: a cache policy on
 * Query.product with the same TTL (mercurius-cache counts in seconds) in its default memory
 * storage (1,024 entries per resolver: the 1,000 products fit), with invalidation on: each cached product carries the reference `product:<id>`, and
 * Mutation.updateProductPrice invalidates that reference once its resolver has written.
 */
import Fastify from 'fastify';
import mercurius from 'mercurius';
import mercuriusCache from 'mercurius-cache';
import { announce, type ProductRow, readProduct, TTL_MS, typeDefs, writePrice } from './products-common.js';

const app = Fastify({ logger: false, keepAliveTimeout: 60_000 });
await app.register(mercurius, {
  schema: typeDefs,
  resolvers: {
    Query: { product: (_root: unknown, args: { id: string }) => readProduct(args.id) },
    Mutation: {
      updateProductPrice: (_root: unknown, args: { id: string; priceCents: number }) =>
        writePrice(args.id, args.priceCents),
    },
  },
  path: '/graphql',
  graphiql: false,
});
// mercurius-cache is CommonJS: its types' default export is the module's `default` property
// (fastify-plugin sets it to the plugin itself).
await app.register(mercuriusCache.default, {
  ttl: TTL_MS / 1_000,
  // 1,024 is the documented default size (per resolver); its types want it stated with `invalidation`.
  storage: { type: 'memory', options: { size: 1_024, invalidation: true } },
  policy: {
    Query: {
      product: {
        references: (_request: unknown, _key: string, result: ProductRow | null) =>
          result ? [`product:${result.id}`] : null,
      },
    },
    Mutation: {
      updateProductPrice: {
        invalidate: (_self: unknown, args: { id: string }) => [`product:${args.id}`],
      },
    },
  },
});
await app.listen({ port: 0, host: '127.0.0.1' });
announce(app.server, () => app.close());
