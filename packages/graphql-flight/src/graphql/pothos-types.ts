import type { SchemaTypes } from '@pothos/core';
import type { FlightCache } from '../cache/flight-cache.js';
import type { KeyPart } from '../cache/keys.js';
import type { CacheScope } from './types.js';

/** The `cache` option of a field. */
export interface FieldCachePolicy<Types extends SchemaTypes, Parent, Args, Value = unknown> {
  /** How long a result stays fresh, in milliseconds. */
  ttlMs: number;
  /**
   * After `ttlMs`, for this long (ms): a caller gets the stale result at once, and one refresh
   * runs in the background. Also the window of the stored responses that read the field (see
   * responsePolicy). Default 0: none.
   */
  staleWhileRevalidateMs?: number;
  /**
   * After `ttlMs`, for this long (ms): while refreshes fail, the stale result is served and the
   * error reaches no caller. Also the stored responses' window. Default 0: none.
   */
  staleIfErrorMs?: number;
  /**
   * Past the revalidate window, inside the error window: how long (ms, > 0) a caller waits for the
   * load before it gets the stale result (the load goes on and fills). Only with a
   * `staleIfErrorMs` longer than `staleWhileRevalidateMs`, and not with `hintOnly`.
   */
  softTimeoutMs?: number;
  /**
   * Probabilistic early refresh (XFetch) of a hot result before `ttlMs` passes; `beta` (> 0,
   * default 1) makes it earlier. Not with `hintOnly`.
   */
  earlyRefresh?: { beta?: number };
  /**
   * Default: PRIVATE for a field inside the subtree of one of the plugin's `privateRoots` (the
   * `viewer` field by default), PUBLIC elsewhere.
   */
  scope?: CacheScope;
  /**
   * The parts that tell one result of this field from another. Default: the parent's `id` and the
   * arguments, stably encoded; below the root, a parent without an `id` is not cached at all
   * (without a key, its results could not be told from other parents'). The field's coordinate, and for PRIVATE the
   * viewer, are always added by the plugin, so a custom key can neither collide with another
   * field's nor cross viewers.
   */
  key?: (parent: Parent, args: Args, context: Types['Context']) => readonly KeyPart[];
  /**
   * true: the policy only tells the response cache how long results of this field may be reused;
   * the resolver is not wrapped (for a field that caches through its own loader or
   * `cache.remember`, whose TTL and windows should match these). Default false.
   */
  hintOnly?: boolean;
  /**
   * Tags of a result, beyond the automatic ones (its coordinate `Type.field`, and `Type:id` and
   * `Type:*` for each entity it holds): a list, or a function of the parent, arguments, context
   * and the resolved value. `cache.invalidate({ tags })` retires the results, and the stored
   * responses that read them, carrying any of them.
   */
  tags?:
    | readonly string[]
    | ((parent: Parent, args: Args, context: Types['Context'], value: Value) => readonly string[]);
}

/** The builder's `cachePolicy` option. */
export interface CachePolicyPluginOptions<Types extends SchemaTypes> {
  /** The FlightCache of this request (usually one per server, from the context). */
  cache: (context: Types['Context']) => FlightCache;
  /** The verified viewer of this request, or null/undefined when anonymous. Never a client-set value. */
  viewer: (context: Types['Context']) => string | number | null | undefined;
  /** Root fields (of Query) whose whole subtree defaults to PRIVATE. Default `['viewer']`. */
  privateRoots?: readonly string[];
}
