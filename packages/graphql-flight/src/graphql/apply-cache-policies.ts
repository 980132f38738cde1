import {
  defaultFieldResolver,
  type GraphQLCompositeType,
  type GraphQLFieldConfig,
  type GraphQLFieldResolver,
  type GraphQLInterfaceType,
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  isCompositeType,
  isInterfaceType,
  isAbstractType,
  isIntrospectionType,
  isUnionType,
  type GraphQLNamedType,
  isObjectType,
} from 'graphql';
import type { FlightCache } from '../cache/flight-cache.js';
import { InvalidOptionError } from '../errors.js';
import { type DirectiveHint, hintFromDirectives } from './cache-control.js';
import { cachedResolver, checkFieldTags, type FieldCacheContext, type FieldTags } from './field-cache.js';
import { checkFreshness, FRESHNESS_KEYS } from './freshness-policy.js';
import { rebuildSchema } from './rebuild-schema.js';
import { type CachePolicyExtension, POLICY_EXTENSION } from './response-policy.js';
import type { CacheScope } from './types.js';

/**
 * One entry of the `policies` map: the hint of a type (`'Product'`) or of a field
 * (`'Query.report'`), as `@cacheControl` would give it, in milliseconds. An entry replaces the
 * coordinate's `@cacheControl` as a whole.
 */
export interface CachePolicyEntry {
  /** How long a result may be reused, in milliseconds; 0: never. Absent: no maxAge of its own. */
  ttlMs?: number;
  /** Default: the return type's scope, else PRIVATE under a private root and PUBLIC elsewhere. */
  scope?: CacheScope;
  /** Apollo's `inheritMaxAge` (see CachePolicyExtension); not together with `ttlMs`. */
  inheritMaxAge?: boolean;
  /**
   * After `ttlMs`, for this long (ms): the stale result is served at once while one refresh runs
   * (`@cacheControl(staleWhileRevalidate:)` in seconds). Also the stored responses' window. Only
   * with a `ttlMs` > 0 in the same entry. Default 0: none.
   */
  staleWhileRevalidateMs?: number;
  /**
   * After `ttlMs`, for this long (ms): while refreshes fail, the stale result is served instead of
   * the error (`staleIfError:` in seconds). Also the stored responses' window. Only with a
   * `ttlMs` > 0 in the same entry. Default 0: none.
   */
  staleIfErrorMs?: number;
  /**
   * Fields only: past the revalidate window, inside the error window, how long (ms, > 0) a caller
   * waits for the load before it gets the stale result. Only with a `staleIfErrorMs` longer than
   * `staleWhileRevalidateMs`, and not with `hintOnly`.
   */
  softTimeoutMs?: number;
  /** Fields only: XFetch early refresh; `beta` > 0, default 1. Not with `hintOnly`. */
  earlyRefresh?: { beta?: number };
  /**
   * Fields only. true: the entry only tells the response cache how long results may be reused;
   * the resolver is not wrapped (for a field that caches through its own loader). Default false.
   */
  hintOnly?: boolean;
  /**
   * Fields only: tags of a result beyond the automatic ones (see the Pothos option `tags`): a
   * list, or a function of the parent, arguments, context and resolved value.
   */
  tags?:
    | readonly string[]
    | ((parent: never, args: never, context: never, value: never) => readonly string[]);
}

/** The options of `applyCachePolicies`. */
export interface ApplyCachePoliciesOptions<TContext> {
  /** The FlightCache of the fields' results: one for the schema, or one per request from its context. */
  cache: FlightCache | ((context: TContext) => FlightCache);
  /** The verified viewer of a request, or null/undefined when anonymous. Never a client-set value. */
  viewer: (context: TContext) => string | number | null | undefined;
  /**
   * Hints by schema coordinate, for a schema that cannot carry directives (or to override one):
   * `{ 'Query.report': { ttlMs: 5_000 }, Product: { ttlMs: 60_000, scope: 'PUBLIC' } }`. A
   * coordinate that is not a type or field of the schema fails at once.
   */
  policies?: Readonly<Record<string, CachePolicyEntry>>;
  /** Root fields (of Query) whose whole subtree defaults to PRIVATE. Default `['viewer']`. */
  privateRoots?: readonly string[];
}

const ENTRY_KEYS = new Set(['ttlMs', 'scope', 'inheritMaxAge', 'hintOnly', 'tags', ...FRESHNESS_KEYS]);

/**
 * A coordinate's hint as read from its directive or entry, before it is published (without
 * `hintOnly`, `tags`, `softTimeoutMs` and `earlyRefresh`, which only the field cache reads).
 */
type Hint = DirectiveHint & { hintOnly?: boolean; tags?: CachePolicyEntry['tags'] };

/**
 * A new schema (`schema` is left as it is) whose cache hints come from `@cacheControl` on its
 * types and fields (`cacheControlDirective`, as Apollo Server reads it) and from `policies`, which
 * wins over the directive for the same coordinate:
 *
 * - every hint is published as the `graphqlFlightCache` extension of its field or type (and the
 *   private roots are marked), which is what `responsePolicy` and the response cache read, with
 *   Apollo's rules;
 * - a field of an object type with a maxAge > 0 of its own (its directive or its entry, not
 *   `hintOnly`) resolves through the field cache, as the Pothos plugin's `cache` option does: same
 *   keys (coordinate, viewer for PRIVATE, parent id and arguments), PRIVATE without a viewer not
 *   cached. Its scope is its own, else its return type's, else PRIVATE under a private root.
 *
 * Type hints, and hints on interface fields, only inform the response cache: they wrap no
 * resolver. Mutation and subscription fields are never wrapped, and a `policies` entry naming one
 * fails. Throws InvalidOptionError, naming the coordinate, for an unknown coordinate or a bad value.
 */
export function applyCachePolicies<TContext>(
  schema: GraphQLSchema,
  options: ApplyCachePoliciesOptions<TContext>,
): GraphQLSchema {
  const context = fieldCacheContext(options);
  const neverCached = new Set<GraphQLObjectType>();
  for (const type of [schema.getMutationType(), schema.getSubscriptionType()])
    if (type) neverCached.add(type);
  const policies = checkPolicies(schema, options.policies ?? {}, neverCached);
  const queryType = schema.getQueryType();
  // A private root that names no field would leave the subtree it meant PUBLIC: refused. The
  // default, `viewer`, is checked only when the schema has one.
  if (options.privateRoots !== undefined) {
    for (const root of context.privateRoots) {
      if (queryType?.getFields()[root] === undefined) {
        throw new InvalidOptionError(
          'privateRoots',
          `names of fields of the query type (it has no field ${root})`,
          root,
        );
      }
    }
  }

  const typeHints = new Map<string, CachePolicyExtension | undefined>();
  const typeHint = (type: GraphQLCompositeType) => {
    if (!typeHints.has(type.name)) {
      typeHints.set(
        type.name,
        policies.get(type.name) ??
          hintFromDirectives([type.astNode, ...type.extensionASTNodes], type.name, 'type'),
      );
    }
    return typeHints.get(type.name);
  };
  // Read every hint now, so a bad directive fails here and not when a thunk first runs.
  const fieldHints = new Map<string, Hint | undefined>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isCompositeType(type)) continue;
    typeHint(type);
    if (!isObjectType(type) && !isInterfaceType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      const coordinate = `${type.name}.${field.name}`;
      fieldHints.set(
        coordinate,
        policies.get(coordinate) ?? hintFromDirectives([field.astNode], coordinate, 'field'),
      );
    }
  }

  const privatelyReached = reachedFromPrivate(schema, typeHint, fieldHints);

  return rebuildSchema(schema, {
    typeExtensions(type, extensions) {
      const hint = typeHint(type);
      return hint === undefined ? extensions : { ...extensions, [POLICY_EXTENSION]: hint };
    },
    field(owner: GraphQLObjectType | GraphQLInterfaceType, name, config) {
      const coordinate = `${owner.name}.${name}`;
      const { hintOnly, tags, softTimeoutMs, earlyRefresh, ...hint } = fieldHints.get(coordinate) ?? {};
      const privateRoot = owner === queryType && context.privateRoots.has(name);
      if (privateRoot) hint.privateRoot = true;
      let mapped: GraphQLFieldConfig<unknown, unknown> = config;
      if (Object.keys(hint).length > 0) {
        mapped = { ...config, extensions: { ...config.extensions, [POLICY_EXTENSION]: hint } };
      }
      // A hint never has both ttlMs and inheritMaxAge: the directive drops maxAge, an entry is refused.
      const ttlMs = hint.ttlMs;
      // A field below the root without a resolver of its own reads its parent's property: nothing
      // to cache (and a key of parent id and arguments would outlive the parent's own data). Its
      // hint informs the response cache only. A root field's default resolver calls rootValue.
      if (
        !isObjectType(owner) ||
        neverCached.has(owner) ||
        hintOnly === true ||
        !(ttlMs !== undefined && ttlMs > 0) ||
        (owner !== queryType && (config.resolve === undefined || config.resolve === defaultFieldResolver))
      )
        return mapped;
      const target = getNamedType(config.type);
      // Fail closed: a field of a type that a PRIVATE field or type can reach is PRIVATE (keyed by
      // the viewer) unless its own hint says otherwise, as Apollo makes such a response private.
      // An interface or union field is PRIVATE when any of its implementations is.
      const scope =
        hint.scope ??
        (isCompositeType(target) ? typeHint(target)?.scope : undefined) ??
        (isAbstractType(target) &&
        schema.getPossibleTypes(target).some((type) => typeHint(type)?.scope === 'PRIVATE')
          ? 'PRIVATE'
          : undefined) ??
        (privatelyReached.has(owner.name) ? 'PRIVATE' : undefined);
      const resolver = (config.resolve ?? defaultFieldResolver) as GraphQLFieldResolver<
        unknown,
        TContext,
        object
      >;
      return {
        ...mapped,
        resolve: cachedResolver(
          resolver,
          {
            coordinate,
            ttlMs,
            staleWhileRevalidateMs: hint.staleWhileRevalidateMs,
            staleIfErrorMs: hint.staleIfErrorMs,
            softTimeoutMs,
            earlyRefresh,
            scope,
            tags: tags as FieldTags<TContext> | undefined,
          },
          context,
        ) as GraphQLFieldResolver<unknown, unknown>,
      };
    },
  });
}

/**
 * The object types whose fields may resolve under a PRIVATE hint: those with a PRIVATE type hint
 * (or an interface or union one that is), those a PRIVATE field returns, and every object type
 * reachable from them through their fields. A static, conservative view: a type reached both
 * privately and publicly counts as private.
 */
function reachedFromPrivate(
  schema: GraphQLSchema,
  typeHint: (type: GraphQLCompositeType) => CachePolicyExtension | undefined,
  fieldHints: ReadonlyMap<string, Hint | undefined>,
): Set<string> {
  const reached = new Set<string>();
  const queue: GraphQLObjectType[] = [];
  const add = (type: GraphQLNamedType) => {
    if (isObjectType(type)) {
      if (!reached.has(type.name)) {
        reached.add(type.name);
        queue.push(type);
      }
    } else if (isInterfaceType(type) || isUnionType(type)) {
      for (const possible of schema.getPossibleTypes(type)) add(possible);
    }
  };
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isCompositeType(type) || isIntrospectionType(type)) continue;
    if (typeHint(type)?.scope === 'PRIVATE') add(type);
    if (!isObjectType(type) && !isInterfaceType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      const target = getNamedType(field.type);
      const scope =
        fieldHints.get(`${type.name}.${field.name}`)?.scope ??
        (isCompositeType(target) ? typeHint(target)?.scope : undefined);
      if (scope === 'PRIVATE') add(target);
    }
  }
  for (let type = queue.shift(); type !== undefined; type = queue.shift()) {
    for (const field of Object.values(type.getFields())) add(getNamedType(field.type));
  }
  return reached;
}

function fieldCacheContext<TContext>(
  options: ApplyCachePoliciesOptions<TContext>,
): FieldCacheContext<TContext> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('applyCachePolicies options', 'an object', options);
  }
  const { cache, viewer, privateRoots = ['viewer'] } = options;
  if (
    typeof cache !== 'function' &&
    typeof (cache as { remember?: unknown } | null)?.remember !== 'function'
  ) {
    throw new InvalidOptionError('cache', 'a FlightCache or a function of the context returning one', cache);
  }
  if (typeof viewer !== 'function') {
    throw new InvalidOptionError('viewer', 'a function of the context', viewer);
  }
  if (!Array.isArray(privateRoots) || !privateRoots.every((root) => typeof root === 'string')) {
    throw new InvalidOptionError('privateRoots', 'an array of field names', privateRoots);
  }
  return {
    cache: typeof cache === 'function' ? cache : () => cache,
    viewer,
    privateRoots: new Set(privateRoots),
  };
}

/** The entries of `policies` as hints by coordinate, each checked against the schema. */
function checkPolicies(
  schema: GraphQLSchema,
  policies: Readonly<Record<string, CachePolicyEntry>>,
  neverCached: ReadonlySet<GraphQLObjectType>,
): Map<string, Hint> {
  if (typeof policies !== 'object' || policies === null) {
    throw new InvalidOptionError('policies', 'an object keyed by schema coordinates', policies);
  }
  const keyedBy = (reason: string) =>
    `keyed by object, interface and union types and their fields (${reason})`;
  const checked = new Map<string, Hint>();
  for (const [coordinate, entry] of Object.entries(policies)) {
    const [typeName = '', fieldName, ...rest] = coordinate.split('.');
    const type = schema.getType(typeName);
    if (type === undefined || type === null || isIntrospectionType(type)) {
      throw new InvalidOptionError('policies', keyedBy(`the schema has no type ${typeName}`), coordinate);
    }
    if (rest.length > 0 || fieldName === '') {
      throw new InvalidOptionError('policies', keyedBy('a coordinate is Type or Type.field'), coordinate);
    }
    if (fieldName === undefined ? !isCompositeType(type) : !isObjectType(type) && !isInterfaceType(type)) {
      throw new InvalidOptionError('policies', keyedBy(`${typeName} is not one`), coordinate);
    }
    if (fieldName !== undefined && (type as GraphQLObjectType).getFields()[fieldName] === undefined) {
      throw new InvalidOptionError('policies', keyedBy(`${typeName} has no field ${fieldName}`), coordinate);
    }
    const option = `policies['${coordinate}']`;
    if (fieldName !== undefined && neverCached.has(type as GraphQLObjectType)) {
      throw new InvalidOptionError(
        option,
        'absent: mutation and subscription fields are never cached',
        entry,
      );
    }
    if (typeof entry !== 'object' || entry === null) {
      throw new InvalidOptionError(option, 'an object ({ ttlMs, scope, inheritMaxAge, hintOnly })', entry);
    }
    for (const key of Object.keys(entry)) {
      if (!ENTRY_KEYS.has(key)) {
        throw new InvalidOptionError(
          `${option}.${key}`,
          `absent (not ttlMs, scope, inheritMaxAge, hintOnly, tags, ${FRESHNESS_KEYS.join(', ')})`,
          key,
        );
      }
    }
    const { ttlMs, scope, inheritMaxAge, hintOnly, tags } = entry;
    if (tags !== undefined && fieldName === undefined) {
      throw new InvalidOptionError(`${option}.tags`, 'on a field entry only', tags);
    }
    checkFieldTags(`${option}.tags`, tags);
    if (ttlMs !== undefined && (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs < 0)) {
      throw new InvalidOptionError(`${option}.ttlMs`, 'a non-negative, finite number of milliseconds', ttlMs);
    }
    if (scope !== undefined && scope !== 'PUBLIC' && scope !== 'PRIVATE') {
      throw new InvalidOptionError(`${option}.scope`, "'PUBLIC' or 'PRIVATE'", scope);
    }
    if (inheritMaxAge !== undefined && typeof inheritMaxAge !== 'boolean') {
      throw new InvalidOptionError(`${option}.inheritMaxAge`, 'a boolean', inheritMaxAge);
    }
    if (inheritMaxAge === true && ttlMs !== undefined) {
      throw new InvalidOptionError(`${option}.ttlMs`, 'absent when inheritMaxAge is true', ttlMs);
    }
    if (hintOnly !== undefined && (typeof hintOnly !== 'boolean' || fieldName === undefined)) {
      throw new InvalidOptionError(`${option}.hintOnly`, 'a boolean, on a field entry only', hintOnly);
    }
    const freshness = checkFreshness(entry, ttlMs, { option: (name) => `${option}.${name}` });
    for (const name of ['softTimeoutMs', 'earlyRefresh'] as const) {
      if (freshness[name] === undefined) continue;
      if (fieldName === undefined) {
        throw new InvalidOptionError(`${option}.${name}`, 'on a field entry only', entry[name]);
      }
      if (hintOnly === true) {
        throw new InvalidOptionError(
          `${option}.${name}`,
          'absent with hintOnly (the resolver is not wrapped: give it to your own remember call)',
          entry[name],
        );
      }
    }
    checked.set(coordinate, {
      ...(ttlMs === undefined ? {} : { ttlMs }),
      ...freshness,
      ...(scope === undefined ? {} : { scope }),
      ...(inheritMaxAge === true ? { inheritMaxAge } : {}),
      ...(hintOnly === undefined ? {} : { hintOnly }),
      ...(tags === undefined ? {} : { tags }),
    });
  }
  return checked;
}
