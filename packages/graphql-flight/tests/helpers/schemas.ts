import { GraphQLInt, GraphQLObjectType, GraphQLSchema } from 'graphql';

/**
 * `{ slow }`: one public field (a 60 s policy) whose resolver waits for `gate`, then answers 42,
 * and counts its runs.
 */
export function slowSchema(gate: Promise<void>): { schema: GraphQLSchema; runs: () => number } {
  const counter = { runs: 0 };
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({
      name: 'Query',
      fields: {
        slow: {
          type: GraphQLInt,
          extensions: { graphqlFlightCache: { ttlMs: 60_000 } },
          resolve: async () => {
            counter.runs++;
            await gate;
            return 42;
          },
        },
      },
    }),
  });
  return { schema, runs: () => counter.runs };
}
