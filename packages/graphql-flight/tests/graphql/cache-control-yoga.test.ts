import { createSchema, createYoga } from 'graphql-yoga';
import { afterEach, describe, expect, it } from 'vitest';
import { applyCachePolicies, cacheControlDirective, OperationCoalescing } from '../../src/graphql/index.js';
import { createCache, type FlightCache } from '../../src/index.js';

let cache: FlightCache | undefined;
afterEach(async () => {
  await cache?.close();
  cache = undefined;
});

/** A Yoga server over an SDL schema with @cacheControl, the response cache, and counted resolvers. */
function setup() {
  const flight = createCache();
  cache = flight;
  const calls = { hot: 0, plain: 0 };
  const schema = applyCachePolicies(
    createSchema({
      typeDefs: [
        cacheControlDirective,
        /* GraphQL */ `
          type Query {
            hot: Value @cacheControl(maxAge: 5)
            plain: Int
          }
          type Value { n: Int }
        `,
      ],
      resolvers: {
        Query: {
          hot: () => ({ n: ++calls.hot }),
          plain: () => ++calls.plain,
        },
      },
    }),
    { cache: flight, viewer: () => null },
  );
  const coalescing = new OperationCoalescing({ responseCache: { cache: flight } });
  const yoga = createYoga({ schema, plugins: [coalescing.plugin()], logging: false, landingPage: false });
  const post = async (query: string) => {
    const response = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    });
    return { headers: response.headers, body: await response.text() };
  };
  return { post, calls };
}

describe('a Yoga server over an SDL schema with @cacheControl and the response cache', () => {
  it('answers a repeat of a @cacheControl(maxAge: 5) query from the response cache for 5 s', async () => {
    const t = setup();
    const miss = await t.post('{ hot { n } }');
    expect(JSON.parse(miss.body)).toEqual({ data: { hot: { n: 1 } } });
    expect(miss.headers.get('x-cache')).toBe('MISS');
    expect(miss.headers.get('cache-status')).toContain('stored; ttl=5');

    const hit = await t.post('{ hot { n } }');
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(hit.headers.get('cache-status')).toContain('ttl=5');
    expect(hit.body).toBe(miss.body);
    expect(t.calls.hot).toBe(1);
  });

  it('does not store a query touching a root field without a hint', async () => {
    const t = setup();
    await t.post('{ hot { n } plain }');
    const again = await t.post('{ hot { n } plain }');
    expect(again.headers.get('x-cache')).toBe('MISS');
    expect(again.headers.get('cache-status')).not.toContain('stored');
    expect(JSON.parse(again.body)).toEqual({ data: { hot: { n: 1 }, plain: 2 } });
  });
});
