/** graphql-yoga with no cache (bench/node_modules' graphql-yoga and graphql): every request fetches. */
import { createServer } from 'node:http';
import { createSchema, createYoga } from 'graphql-yoga';
import { announce, fetchHot, typeDefs } from './common.js';

const yoga = createYoga({
  schema: createSchema({ typeDefs, resolvers: { Query: { hot: () => fetchHot() } } }),
  graphiql: false,
  landingPage: false,
  logging: false,
});
const server = createServer(yoga);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => announce(server));
