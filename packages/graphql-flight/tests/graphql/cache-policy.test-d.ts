// Type tests for the `cache` field option, checked by `npm run typecheck` (tsc): every line marked
// as an expected error must stay an error, or the build fails.
import SchemaBuilder from '@pothos/core';
import { expectTypeOf } from 'vitest';
import CachePolicyPlugin, { type CacheScope } from '../../src/graphql/pothos.js';
import type { FlightCache } from '../../src/index.js';

interface Ctx {
  cache: FlightCache;
  userId: number | null;
}

const builder = new SchemaBuilder<{ Context: Ctx }>({
  plugins: [CachePolicyPlugin],
  cachePolicy: { cache: (ctx) => ctx.cache, viewer: (ctx) => ctx.userId },
});

const Item = builder.objectRef<{ id: number; name: string }>('Item').implement({
  fields: (t) => ({
    name: t.string({
      cache: {
        ttlMs: 1_000,
        // The key function sees the parent's shape, the field's args and the context.
        key: (item, args, ctx) => {
          expectTypeOf(item).toEqualTypeOf<{ id: number; name: string }>();
          expectTypeOf(args).toEqualTypeOf<{ upper?: boolean | null | undefined }>();
          expectTypeOf(ctx).toEqualTypeOf<Ctx>();
          return [item.id, args.upper ? 1 : 0];
        },
      },
      args: { upper: t.arg.boolean() },
      resolve: (item) => item.name,
    }),
  }),
});

builder.queryType({
  fields: (t) => ({
    item: t.field({ type: Item, resolve: () => ({ id: 1, name: 'a' }) }),
    // @ts-expect-error ttlMs is required
    noTtl: t.string({ cache: {}, resolve: () => 'x' }),
    // @ts-expect-error scope is 'PUBLIC' or 'PRIVATE'
    badScope: t.string({ cache: { ttlMs: 1, scope: 'SHARED' }, resolve: () => 'x' }),
    // @ts-expect-error a key is a list of strings and numbers
    badKey: t.string({ cache: { ttlMs: 1, key: () => [{}] }, resolve: () => 'x' }),
    // The freshness options of issue 13, in milliseconds.
    fresh: t.string({
      cache: {
        ttlMs: 1_000,
        staleWhileRevalidateMs: 2_000,
        staleIfErrorMs: 60_000,
        softTimeoutMs: 100,
        earlyRefresh: { beta: 1 },
      },
      resolve: () => 'x',
    }),
    // @ts-expect-error a window is a number of milliseconds
    badWindow: t.string({ cache: { ttlMs: 1, staleWhileRevalidateMs: '2s' }, resolve: () => 'x' }),
    // @ts-expect-error earlyRefresh is { beta }
    badBeta: t.string({ cache: { ttlMs: 1, earlyRefresh: 1 }, resolve: () => 'x' }),
  }),
});

expectTypeOf<CacheScope>().toEqualTypeOf<'PUBLIC' | 'PRIVATE'>();

new SchemaBuilder<{ Context: Ctx }>({
  plugins: [CachePolicyPlugin],
  // @ts-expect-error the viewer comes from the context and is an id, never an object
  cachePolicy: { cache: (ctx) => ctx.cache, viewer: (ctx) => ({ ctx }) },
});
