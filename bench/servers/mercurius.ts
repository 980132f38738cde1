/**
 * fastify + mercurius + mercurius-cache: a cache policy on Query.hot with the same TTL
 * (mercurius-cache counts in seconds), in its default memory storage.
 */
import Fastify from 'fastify';
import mercurius from 'mercurius';
import mercuriusCache from 'mercurius-cache';
import { announce, fetchHot, TTL_MS, typeDefs } from './common.js';

const app = Fastify({ logger: false, keepAliveTimeout: 60_000 });
await app.register(mercurius, {
  schema: typeDefs,
  resolvers: { Query: { hot: () => fetchHot() } },
  path: '/graphql',
  graphiql: false,
});
// mercurius-cache is CommonJS: its types' default export is the module's `default` property
// (fastify-plugin sets it to the plugin itself).
await app.register(mercuriusCache.default, { ttl: TTL_MS / 1_000, policy: { Query: { hot: true } } });
await app.listen({ port: 0, host: '127.0.0.1' });
announce(app.server, () => app.close());
