// Type tests for applyCachePolicies, checked by `npm run typecheck` (tsc): every line marked as an
// expected error must stay an error, or the build fails.
import { buildSchema, type GraphQLSchema } from 'graphql';
import { expectTypeOf } from 'vitest';
import { applyCachePolicies, type CachePolicyEntry } from '../../src/graphql/index.js';
import type { FlightCache } from '../../src/index.js';

interface Ctx {
  cache: FlightCache;
  userId: number | null;
}

declare const flight: FlightCache;
const source = buildSchema('type Query { report: String }');

// The context type reaches `cache` and `viewer`; the result is a schema.
const schema = applyCachePolicies<Ctx>(source, {
  cache: (ctx) => {
    expectTypeOf(ctx).toEqualTypeOf<Ctx>();
    return ctx.cache;
  },
  viewer: (ctx) => ctx.userId,
  policies: { 'Query.report': { ttlMs: 5_000, scope: 'PUBLIC', hintOnly: true } },
  privateRoots: ['viewer'],
});
expectTypeOf(schema).toEqualTypeOf<GraphQLSchema>();

// One FlightCache for the whole schema is enough.
applyCachePolicies(source, { cache: flight, viewer: () => null });

// `viewer` is required, and returns an id or nothing.
// @ts-expect-error viewer is missing
applyCachePolicies(source, { cache: flight });
// @ts-expect-error a viewer is a string or a number
applyCachePolicies(source, { cache: flight, viewer: () => ({ id: 1 }) });

// A scope is PUBLIC or PRIVATE; ttlMs is a number of milliseconds.
// @ts-expect-error no such scope
const badScope: CachePolicyEntry = { ttlMs: 1_000, scope: 'SHARED' };
// @ts-expect-error ttlMs is a number
const badTtl: CachePolicyEntry = { ttlMs: '5s' };
// @ts-expect-error maxAge is the directive's argument; entries take ttlMs
const maxAge: CachePolicyEntry = { maxAge: 5 };
void [badScope, badTtl, maxAge];
