/**
 * graphql-yoga with @graphql-yoga/plugin-response-cache for the write-mix scenario: whole query
 * results cached for the same TTL, public (session null), in its default in-memory cache. The
 * plugin invalidates by itself: a mutation's result names `Product` entities by `id`
 * (`invalidateViaMutation`, on by default), and the cached results that held them are dropped.
 */
import { createServer } from 'node:http';
import { useResponseCache } from '@graphql-yoga/plugin-response-cache';
import { createSchema, createYoga } from 'graphql-yoga';
import { announce, readProduct, TTL_MS, typeDefs, writePrice } from './products-common.js';

const yoga = createYoga({
  schema: createSchema({
    typeDefs,
    resolvers: {
      Query: { product: (_root: unknown, args: { id: string }) => readProduct(args.id) },
      Mutation: {
        updateProductPrice: (_root: unknown, args: { id: string; priceCents: number }) =>
          writePrice(args.id, args.priceCents),
      },
    },
  }),
  graphiql: false,
  landingPage: false,
  logging: false,
  plugins: [useResponseCache({ session: () => null, ttl: TTL_MS })],
});
const server = createServer(yoga);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => announce(server));
