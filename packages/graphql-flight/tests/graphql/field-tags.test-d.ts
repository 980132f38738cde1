// Type tests for the `tags` of the `cache` field option, checked by `npm run typecheck` (tsc).
import SchemaBuilder from '@pothos/core';
import { expectTypeOf } from 'vitest';
import CachePolicyPlugin from '../../src/graphql/pothos.js';
import type { FlightCache } from '../../src/index.js';

interface Ctx {
  cache: FlightCache;
}

const builder = new SchemaBuilder<{ Context: Ctx }>({
  plugins: [CachePolicyPlugin],
  cachePolicy: { cache: (ctx) => ctx.cache, viewer: () => null },
});

interface Shelf {
  sku: string;
  aisle: number;
}
const ShelfRef = builder.objectRef<Shelf>('Shelf').implement({
  fields: (t) => ({ aisle: t.exposeInt('aisle') }),
});

builder.queryType({
  fields: (t) => ({
    // The tags function sees the parent, the field's args, the context and the resolved value.
    stock: t.int({
      nullable: false,
      args: { sku: t.arg.string({ required: true }) },
      cache: {
        ttlMs: 1_000,
        tags: (_root, args, ctx, value) => {
          expectTypeOf(args).toEqualTypeOf<{ sku: string }>();
          expectTypeOf(ctx).toEqualTypeOf<Ctx>();
          expectTypeOf(value).toEqualTypeOf<number>();
          return [`sku:${args.sku}`];
        },
      },
      resolve: () => 1,
    }),
    shelf: t.field({
      type: ShelfRef,
      nullable: true,
      cache: {
        ttlMs: 1_000,
        tags: (_root, _args, _ctx, value) => {
          expectTypeOf(value).toEqualTypeOf<Shelf | null | undefined>();
          return value ? [`aisle:${value.aisle}`] : [];
        },
      },
      resolve: () => ({ sku: 'A', aisle: 3 }),
    }),
    // Fields are nullable by default (Pothos), and so is the value.
    shelves: t.field({
      type: [ShelfRef],
      cache: {
        ttlMs: 1_000,
        tags: (_root, _args, _ctx, value) => {
          expectTypeOf(value).toEqualTypeOf<readonly Shelf[] | null | undefined>();
          return (value ?? []).map((shelf) => `aisle:${shelf.aisle}`);
        },
      },
      resolve: () => [{ sku: 'A', aisle: 3 }],
    }),
    banner: t.string({ cache: { ttlMs: 1_000, tags: ['banners'] }, resolve: () => 'x' }),
    // @ts-expect-error tags are strings
    badTags: t.string({ cache: { ttlMs: 1, tags: [1] }, resolve: () => 'x' }),
    // @ts-expect-error a tags function returns a list of strings
    badTagsFn: t.string({ cache: { ttlMs: 1, tags: () => 'x' }, resolve: () => 'x' }),
  }),
});
