/**
 * graphql-yoga with @graphql-yoga/plugin-response-cache: whole execution results cached for the
 * same TTL, public (session null: one entry for everyone), in its default in-memory cache.
 */
import { createServer } from 'node:http';
import { useResponseCache } from '@graphql-yoga/plugin-response-cache';
import { createSchema, createYoga } from 'graphql-yoga';
import { announce, fetchHot, TTL_MS, typeDefs } from './common.js';

const yoga = createYoga({
  schema: createSchema({ typeDefs, resolvers: { Query: { hot: () => fetchHot() } } }),
  graphiql: false,
  landingPage: false,
  logging: false,
  plugins: [useResponseCache({ session: () => null, ttl: TTL_MS })],
});
const server = createServer(yoga);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => announce(server));
