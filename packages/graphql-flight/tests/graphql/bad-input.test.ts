import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLScalarType, Kind } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterEach, describe, expect, it } from 'vitest';
import { applyCachePolicies, cacheControlDirective, OperationCoalescing } from '../../src/graphql/index.js';
import { createCache, type FlightCache } from '../../src/index.js';

let cache: FlightCache | undefined;
let listening: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (listening ? listening.close(() => resolve()) : resolve()));
  listening = undefined;
  await cache?.close();
});

/** A DateTime scalar as custom scalars are written: it parses to a Date. */
const DateTime = new GraphQLScalarType({
  name: 'DateTime',
  serialize: (value) => (value as Date).toISOString(),
  parseValue: (value) => new Date(value as string),
  parseLiteral: (ast) => (ast.kind === Kind.STRING ? new Date(ast.value) : null),
});
/** A JSON scalar: any value, as the client sent it. */
const JSONScalar = new GraphQLScalarType({ name: 'JSON', parseValue: (value) => value });

function setup(responseCache: boolean) {
  cache = createCache();
  const calls = { day: 0, echo: 0 };
  const schema = applyCachePolicies(
    createSchema({
      typeDefs: [
        cacheControlDirective,
        /* GraphQL */ `
          scalar DateTime
          scalar JSON
          type Query {
            day(at: DateTime!): String @cacheControl(maxAge: 60)
            echo(value: JSON): Int @cacheControl(maxAge: 60)
          }
        `,
      ],
      resolvers: {
        DateTime,
        JSON: JSONScalar,
        Query: {
          day: (_: unknown, args: { at: Date }) => {
            calls.day++;
            return args.at.toISOString();
          },
          echo: () => ++calls.echo,
        },
      },
    }),
    { cache, viewer: () => null },
  );
  const coalescing = new OperationCoalescing(responseCache ? { responseCache: { cache } } : {});
  const yoga = createYoga({ schema, plugins: [coalescing.plugin()], logging: false, maskedErrors: true });
  const post = (body: unknown) =>
    yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  return { yoga, coalescing, post, calls };
}

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

/** A request body with `$value` nested `depth` levels deep, as text (JSON.stringify recurses). */
function deepBody(depth: number): string {
  return `{"query":${JSON.stringify(DEEP_QUERY)},"variables":{"value":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}}`;
}

const DEEP_QUERY = 'query Deep($value: JSON) { echo(value: $value) }';

describe('arguments that would share a key', () => {
  it('keeps two different DateTime arguments (Dates) apart in the field cache', async () => {
    const { post, calls } = setup(false);
    const query = 'query Day($at: DateTime!) { day(at: $at) }';
    const first = await post({ query, variables: { at: '2026-01-01T00:00:00.000Z' } });
    const second = await post({ query, variables: { at: '2026-06-01T00:00:00.000Z' } });
    expect(await first.json()).toEqual({ data: { day: '2026-01-01T00:00:00.000Z' } });
    expect(await second.json()).toEqual({ data: { day: '2026-06-01T00:00:00.000Z' } });
    expect(calls.day).toBe(2);
    // The same Date again is the same entry.
    await post({ query, variables: { at: '2026-06-01T00:00:00.000Z' } });
    expect(calls.day).toBe(2);
  });
});

describe('nesting past the bound', () => {
  for (const responseCache of [false, true]) {
    const name = responseCache ? 'with the response cache' : 'coalescing only';
    it(`answers variables 3,000 and 100,000 levels deep with a 400 that says why (${name})`, async () => {
      const { post, calls } = setup(responseCache);
      for (const depth of [3_000, 100_000]) {
        const response = await post(deepBody(depth));
        expect(response.status).toBe(400);
        expect(await response.json()).toEqual({
          errors: [
            {
              message: 'the variables nest deeper than 32 levels',
              extensions: { code: 'BAD_USER_INPUT' },
            },
          ],
        });
      }
      expect(calls.echo).toBe(0);
      // Variables within the bound still work.
      const fine = await post({ query: DEEP_QUERY, variables: { value: nested(10) } });
      expect(await fine.json()).toEqual({ data: { echo: 1 } });
    });
  }

  it('answers a deep variables body at the node:http front door with the same 400', async () => {
    const { yoga, coalescing } = setup(true);
    listening = createServer(coalescing.nodeListener(yoga));
    await new Promise<void>((resolve) => listening!.listen(0, '127.0.0.1', resolve));
    const { port } = listening.address() as AddressInfo;
    const body = deepBody(3_000);
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      body,
    });
    expect(response.status).toBe(400);
    expect((await response.json()).errors[0].message).toBe('the variables nest deeper than 32 levels');
  });

  it('answers a literal argument nested past the bound with a BAD_USER_INPUT error for its field', async () => {
    const { post, calls } = setup(false);
    let literal = '1';
    for (let i = 0; i < 40; i++) literal = `{ a: ${literal} }`;
    // Inline, no variables: the field cache's key refuses it, and says which field.
    const response = await post({ query: `query { echo(value: ${literal}) }` });
    const body = await response.json();
    expect(body.errors[0]).toMatchObject({
      message: 'Query.echo: arguments nest deeper than 32 levels',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect(calls.echo).toBe(0);
  });
});
