// The field cache shared by the Pothos plugin and `applyCachePolicies`: how one field's resolver
// goes through `FlightCache.remember`. Nothing here knows where the policy came from.
import {
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLFieldResolver,
  type GraphQLOutputType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { FlightCache, Freshness, Reads, RememberOptions } from '../cache/flight-cache.js';
import type { KeyPart } from '../cache/keys.js';
import { InvalidOptionError, ValueTooDeepError } from '../errors.js';
import { argumentsKeyPart, defaultKeyParts, fieldKeyEncoder } from './field-key.js';
import type { FreshnessPolicy } from './freshness-policy.js';
import { readsOf, valueEntityTags } from './response-tags.js';
import type { CacheScope } from './types.js';

/** What both front ends know of a request: its cache and its verified viewer. */
export interface FieldCacheContext<TContext> {
  /** The FlightCache of this request. */
  cache: (context: TContext) => FlightCache;
  /** The verified viewer of this request, or null/undefined when anonymous. */
  viewer: (context: TContext) => string | number | null | undefined;
  /** Root fields (of Query) whose whole subtree defaults to PRIVATE. */
  privateRoots: ReadonlySet<string>;
}

/** One field's own cache policy, already checked (its freshness options by checkFreshness). */
export interface FieldCacheRule<TContext> extends FreshnessPolicy {
  /** `Type.field`: the first part of every key of the field. */
  coordinate: string;
  /** How long a result stays fresh, in milliseconds (> 0). */
  ttlMs: number;
  /** Undefined: PRIVATE in the subtree of a private root, PUBLIC elsewhere (decided per call). */
  scope?: CacheScope | undefined;
  /** The parts that tell one result from another. Default: `defaultKeyParts(parent, args)`. */
  key?: ((parent: never, args: never, context: TContext) => readonly KeyPart[]) | undefined;
  /** Tags of a result beyond the automatic ones (see cachedResolver): a list, or from the call and its value. */
  tags?: FieldTags<TContext> | undefined;
}

/** Throws InvalidOptionError unless `tags` is absent, a list of non-empty strings, or a function. */
export function checkFieldTags(option: string, tags: unknown): void {
  if (tags === undefined || typeof tags === 'function') return;
  if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === 'string' && tag.length > 0)) {
    throw new InvalidOptionError(option, 'a list of non-empty strings or a function returning one', tags);
  }
}

/** A field policy's own tags: a list, or a function of the parent, arguments, context and value. */
export type FieldTags<TContext> =
  | readonly string[]
  | ((parent: never, args: never, context: TContext, value: never) => readonly string[]);

/**
 * `resolver` behind the field cache: a call resolves through `remember` under the field's key, so
 * concurrent calls with one key share one execution of `resolver` (the first caller's, with its
 * context and info) and later ones read the stored value until `ttlMs` passes.
 *
 * A PRIVATE call is keyed by the verified viewer; without a viewer it simply runs the resolver,
 * neither cached nor shared (fail closed). Below the root, a call whose parent has no `id` also
 * simply runs, unless the rule has a `key` of its own.
 *
 * A result is tagged with its coordinate (`Type.field`), the entities it holds (`Type:id` and
 * `Type:*` for each object of a type with an `id` field, see valueEntityTags) and the rule's own
 * `tags`. When a response cache collects what an execution reads (readsOf), every call reports
 * the value it got there, hit or miss, so the stored response is retired with it.
 */
export function cachedResolver<TContext>(
  resolver: GraphQLFieldResolver<unknown, TContext, object>,
  rule: FieldCacheRule<TContext>,
  options: FieldCacheContext<TContext>,
): GraphQLFieldResolver<unknown, TContext, object> {
  // The parts every key of the field shares (kind, coordinate, scope) are encoded once, here.
  const keyOf = fieldKeyEncoder(rule.coordinate);
  const own = rule.tags;
  const dynamic = typeof own === 'function';
  const fixed = [rule.coordinate, ...(dynamic ? [] : (own ?? []))];
  // The TTL and the windows every call hands to remember, worked out once for the field.
  const freshness = freshnessOf(rule);
  /** The options of a call whose tags depend on the call (built per call only then). */
  const optionsOf = (parent: unknown, args: unknown, context: TContext, info: GraphQLResolveInfo) => ({
    ...freshness,
    tags: (value: unknown) => [
      ...ownTags(parent, args, context, value),
      ...valueEntityTags(info.schema, info.returnType, value),
    ],
  });
  const ownTags = (parent: unknown, args: unknown, context: TContext, value: unknown): readonly string[] =>
    dynamic
      ? [rule.coordinate, ...(own as (...call: unknown[]) => readonly string[])(parent, args, context, value)]
      : fixed;
  // Without own tags that depend on the call, one options object serves every call of the field
  // (the schema and the return type are the field's, whoever calls).
  const fixedOptions = (schema: GraphQLSchema, type: GraphQLOutputType): RememberOptions => ({
    ...freshness,
    tags: (value: unknown) => [...fixed, ...valueEntityTags(schema, type, value)],
  });
  let shared: RememberOptions | undefined;
  return (parent, args, context, info) => {
    const scope = rule.scope ?? (isUnderRoot(info, options.privateRoots) ? 'PRIVATE' : 'PUBLIC');
    let viewer: string | number | null = null;
    if (scope === 'PRIVATE') {
      viewer = options.viewer(context) ?? null;
      // Fail closed: without a verified viewer a private result is neither cached nor shared.
      if (viewer === null) return resolver(parent, args, context, info);
    }
    let parts: readonly KeyPart[];
    try {
      if (rule.key !== undefined) parts = rule.key(parent as never, args as never, context);
      else if (info.path.prev === undefined || hasId(parent)) {
        parts = defaultKeyParts(parent, args as Record<string, unknown>);
      } else {
        // Below the root the default key tells parents apart by their id. A parent without one
        // is told apart only when it is the one object of a root field without arguments
        // (`viewer`): keyed by that field. Any other is not cached: every parent would share it.
        const root = soleRootParent(info);
        if (root === undefined) return resolver(parent, args, context, info);
        parts = ['', root, argumentsKeyPart(args as Record<string, unknown>)];
      }
    } catch (error) {
      // Arguments nested past the bound are the client's to fix, and say so; anything else the
      // key cannot encode is the resolver author's (masked for clients).
      if (error instanceof ValueTooDeepError) {
        throw new GraphQLError(`${rule.coordinate}: ${error.message}`, {
          extensions: { code: 'BAD_USER_INPUT' },
        });
      }
      throw error;
    }
    if (!dynamic && shared === undefined) shared = fixedOptions(info.schema, info.returnType);
    const callOptions = dynamic ? optionsOf(parent, args, context, info) : shared!;
    return options
      .cache(context)
      .remember(
        keyOf(viewer, parts),
        async (flightSignal) => resolver(parent, args, context, withSignal(info, flightSignal)),
        perCall(callOptions, readsOf(context), signalOf(info)),
      );
  };
}

/** The rule's TTL and the freshness options it sets (only those: an absent one stays absent). */
function freshnessOf(rule: FreshnessPolicy & { ttlMs: number }): Freshness {
  const freshness: Freshness = { ttlMs: rule.ttlMs };
  if (rule.staleWhileRevalidateMs !== undefined)
    freshness.staleWhileRevalidateMs = rule.staleWhileRevalidateMs;
  if (rule.staleIfErrorMs !== undefined) freshness.staleIfErrorMs = rule.staleIfErrorMs;
  if (rule.softTimeoutMs !== undefined) freshness.softTimeoutMs = rule.softTimeoutMs;
  if (rule.earlyRefresh !== undefined) freshness.earlyRefresh = rule.earlyRefresh;
  return freshness;
}

/**
 * A call's options: the field's, with this execution's reads and signal where it has them. One
 * object at most per call (every call of a cached field makes one, hit or miss).
 */
function perCall(
  shared: RememberOptions,
  reads: Reads | undefined,
  signal: AbortSignal | undefined,
): RememberOptions {
  if (reads === undefined && signal === undefined) return shared;
  const call: RememberOptions = { ...shared };
  if (reads !== undefined) call.readInto = reads;
  if (signal !== undefined) call.signal = signal;
  return call;
}

/**
 * The execution's signal, where the executor gives resolvers one (graphql-tools' executor, which
 * Yoga runs, sets `info.signal`; graphql-js does not): a caller whose execution was abandoned or
 * passed its deadline stops waiting, and the flight's load is aborted once no caller is left.
 */
function signalOf(info: GraphQLResolveInfo): AbortSignal | undefined {
  const signal = (info as { signal?: unknown }).signal;
  return signal instanceof AbortSignal ? signal : undefined;
}

/**
 * The info the shared execution of a cached resolver sees: its `signal` is the flight's, which
 * aborts when every caller has left or the flight's deadline passed, not the first caller's.
 */
function withSignal(info: GraphQLResolveInfo, signal: AbortSignal): GraphQLResolveInfo {
  return Object.assign(Object.create(info) as GraphQLResolveInfo, { signal });
}

function hasId(parent: unknown): boolean {
  const id = typeof parent === 'object' && parent !== null ? (parent as { id?: unknown }).id : undefined;
  return typeof id === 'string' || typeof id === 'number';
}

/** A root field as selected: its name, and whether the selection passes arguments. */
interface RootField {
  name: string;
  hasArguments: boolean;
}

/** Root response key → root field, per operation document (aliases resolved). */
const rootFieldNames = new WeakMap<OperationDefinitionNode, Map<string, RootField>>();

/**
 * Whether the field being resolved lies in the subtree of a root field named in `roots` (queries
 * only). The path holds response keys, which a client can alias (`me: viewer`), so the root key is
 * mapped back to the field name through the operation's own selections.
 */
export function isUnderRoot(info: GraphQLResolveInfo, roots: ReadonlySet<string>): boolean {
  if (roots.size === 0 || info.operation.operation !== 'query') return false;
  let path = info.path;
  while (path.prev !== undefined) path = path.prev;
  const name = rootFields(info).get(String(path.key))?.name;
  return name !== undefined && roots.has(name);
}

/**
 * The root field whose value is the parent of the field being resolved, when that parent is the
 * one object a root field without arguments returns (not an element of a list); else undefined.
 */
function soleRootParent(info: GraphQLResolveInfo): string | undefined {
  const parentPath = info.path.prev;
  if (parentPath === undefined || parentPath.prev !== undefined || typeof parentPath.key !== 'string') {
    return undefined;
  }
  const root = rootFields(info).get(parentPath.key);
  return root === undefined || root.hasArguments ? undefined : root.name;
}

function rootFields(info: GraphQLResolveInfo): Map<string, RootField> {
  let fields = rootFieldNames.get(info.operation);
  if (fields === undefined) {
    fields = new Map();
    collectRootFields(info.operation.selectionSet, info.fragments, fields, new Set());
    rootFieldNames.set(info.operation, fields);
  }
  return fields;
}

function collectRootFields(
  selectionSet: SelectionSetNode,
  fragments: Record<string, FragmentDefinitionNode>,
  names: Map<string, RootField>,
  seen: Set<string>,
): void {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      names.set(selection.alias?.value ?? selection.name.value, {
        name: selection.name.value,
        hasArguments: (selection.arguments?.length ?? 0) > 0,
      });
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      collectRootFields(selection.selectionSet, fragments, names, seen);
    } else {
      const fragment = fragments[selection.name.value];
      if (fragment !== undefined && !seen.has(fragment.name.value)) {
        seen.add(fragment.name.value);
        collectRootFields(fragment.selectionSet, fragments, names, seen);
      }
    }
  }
}
