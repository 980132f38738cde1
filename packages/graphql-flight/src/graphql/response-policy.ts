import {
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  getNamedType,
  getOperationAST,
  isCompositeType,
  isInterfaceType,
  isObjectType,
  Kind,
  OperationTypeNode,
  type SelectionSetNode,
} from 'graphql';
import type { CacheScope } from './types.js';

/**
 * The extension under which a cache hint is published, so the response cache can read it from
 * the schema alone: on a field (a field hint), or on an object, interface or union type (a type
 * hint, which applies to every field returning that type). The Pothos plugin publishes field
 * hints; `applyCachePolicies` publishes both, from `@cacheControl` and its map. A schema built
 * otherwise can set it by hand (`extensions: { graphqlFlightCache: { ttlMs: 5000 } }`) to the same
 * effect.
 */
export const POLICY_EXTENSION = 'graphqlFlightCache';

export interface CachePolicyExtension {
  /**
   * How long a result may be reused, in milliseconds (Apollo's `maxAge` × 1000); 0: never.
   * Absent: this hint sets no maxAge (the field inherits, or defaults to 0, by the rules below).
   */
  ttlMs?: number;
  /**
   * After `ttlMs`, for this long (ms), the result may be served stale while one refresh runs
   * (`@cacheControl(staleWhileRevalidate:)` × 1000). It goes with this hint's `ttlMs`: a field's
   * windows are those of the hint its maxAge comes from. Absent: 0.
   */
  staleWhileRevalidateMs?: number;
  /** After `ttlMs`, for this long (ms), the result may be served stale while refreshes fail; like staleWhileRevalidateMs. */
  staleIfErrorMs?: number;
  /** PRIVATE: the result is per viewer, so a response touching it is never stored here. */
  scope?: CacheScope;
  /**
   * Apollo's `inheritMaxAge`: a field returning a composite type that gets no maxAge from its own
   * hint or its type's inherits its parent's, instead of defaulting to 0. On a type: for every
   * field returning it. A field hint with it ignores its own `ttlMs`, as Apollo ignores `maxAge`.
   */
  inheritMaxAge?: boolean;
  /** On a Query field: a root whose whole subtree is PRIVATE (the `privateRoots` option). */
  privateRoot?: boolean;
}

/** What the response cache may do with one operation of a document. */
export type ResponsePolicy =
  | {
      cacheable: true;
      /** The smallest `ttlMs` of the fields the operation touches. */
      ttlMs: number;
      /**
       * The smallest `staleWhileRevalidateMs` among the fields whose `ttlMs` counts (those that
       * give one): a field without a window makes it 0, as a field without a maxAge makes the
       * response uncacheable.
       */
      staleWhileRevalidateMs: number;
      /** The smallest `staleIfErrorMs` among the same fields, computed the same way. */
      staleIfErrorMs: number;
      /** Coordinates (`Type.field`) of the fields with a policy it touches: what invalidates it. */
      coordinates: readonly string[];
    }
  | { cacheable: false; reason: string };

/**
 * Whether a response to `operationName` of `document` may be shared by everybody, and for how long,
 * from the cache hints alone (the document is not validated here: an invalid one is simply not
 * cacheable, and Yoga reports it). The rules are Apollo Server's cache-control rules:
 *
 * - a field's hint is its return type's hint (for an object, interface or union), overridden
 *   key by key (maxAge, scope) by the field's own hint;
 * - a field with a maxAge contributes it, and the response lives as long as the smallest one;
 *   a maxAge of 0 makes the response uncacheable;
 * - such a field contributes its windows too (`staleWhileRevalidateMs`, `staleIfErrorMs`, from
 *   the hint its maxAge comes from), and the response's windows are the smallest ones: a field
 *   without a window makes that window 0;
 * - a leaf field (scalar or enum) without a maxAge inherits its parent's, and `__typename` is free;
 * - a root field, or a field returning an object, interface or union, without a maxAge makes the
 *   response uncacheable (maxAge 0: nobody said how long it may be reused), unless it is not a
 *   root field and `inheritMaxAge` (on the field or on its return type) makes it inherit;
 * - any PRIVATE field, or any field under a private root (`viewer`), makes it uncacheable here:
 *   the response cache holds public responses only (private fields are still cached per viewer
 *   by the field cache);
 * - on an interface, the field's hint on every implementation counts (the implementation that
 *   will answer is not known before execution).
 *
 * Fragments are walked once per spread target whatever the number of spreads, so the work is
 * linear in the document; a fragment cycle is uncacheable.
 */
export function responsePolicy(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
): ResponsePolicy {
  // graphql-js's own choice, as Yoga makes it: by name (an empty name is a name), or the only one.
  const operation = getOperationAST(document, operationName);
  if (operation == null) return { cacheable: false, reason: 'no such operation' };
  if (operation.operation !== OperationTypeNode.QUERY) return { cacheable: false, reason: 'not a query' };
  const queryType = schema.getQueryType();
  if (queryType == null) return { cacheable: false, reason: 'no query type' };

  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const state: WalkState = {
    schema,
    fragments,
    ttlMs: Infinity,
    staleWhileRevalidateMs: Infinity,
    staleIfErrorMs: Infinity,
    coordinates: new Set(),
    walked: new Set(),
  };
  const failure = walk(state, operation.selectionSet, queryType, true, new Set());
  if (failure !== undefined) return { cacheable: false, reason: failure };
  if (state.ttlMs === Infinity) return { cacheable: false, reason: 'no field with a policy' };
  return {
    cacheable: true,
    ttlMs: state.ttlMs,
    // Finite: every field that set the ttlMs set these too (0 without a window).
    staleWhileRevalidateMs: state.staleWhileRevalidateMs,
    staleIfErrorMs: state.staleIfErrorMs,
    coordinates: [...state.coordinates].sort(),
  };
}

interface WalkState {
  schema: GraphQLSchema;
  fragments: Map<string, FragmentDefinitionNode>;
  ttlMs: number;
  staleWhileRevalidateMs: number;
  staleIfErrorMs: number;
  coordinates: Set<string>;
  /** Fragments walked already (name + whether at the root): walking one again adds nothing. */
  walked: Set<string>;
}

/** Walks one selection set; returns why the response is uncacheable, or undefined. */
function walk(
  state: WalkState,
  selectionSet: SelectionSetNode,
  parent: GraphQLCompositeType,
  root: boolean,
  inProgress: Set<string>,
  publicByField = false,
): string | undefined {
  // Fields selected on a PRIVATE type are private data, whatever field led there (an interface or
  // union field included, whose implementations may be PRIVATE: any one is enough), unless that
  // field's own hint says PUBLIC (Apollo: a field's scope beats its return type's).
  const privateType = publicByField ? undefined : privateTypeOf(state.schema, parent);
  if (privateType !== undefined) return `${privateType} is private`;
  for (const selection of selectionSet.selections) {
    let failure: string | undefined;
    if (selection.kind === Kind.FIELD) {
      failure = visitField(state, selection.name.value, selection.selectionSet, parent, root, inProgress);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const type = selection.typeCondition
        ? state.schema.getType(selection.typeCondition.name.value)
        : parent;
      failure = isCompositeType(type)
        ? walk(state, selection.selectionSet, type, root, inProgress, publicByField)
        : 'unknown type condition';
    } else {
      const name = selection.name.value;
      const fragment = state.fragments.get(name);
      if (fragment === undefined) return `unknown fragment ${name}`;
      if (inProgress.has(name)) return 'fragment cycle';
      const mark = `${root ? 'r' : 'f'}${publicByField ? 'p' : ''}:${name}`;
      if (state.walked.has(mark)) continue;
      state.walked.add(mark);
      const type = state.schema.getType(fragment.typeCondition.name.value);
      if (!isCompositeType(type)) return 'unknown type condition';
      inProgress.add(name);
      failure = walk(state, fragment.selectionSet, type, root, inProgress, publicByField);
      inProgress.delete(name);
    }
    if (failure !== undefined) return failure;
  }
  return undefined;
}

function visitField(
  state: WalkState,
  name: string,
  selectionSet: SelectionSetNode | undefined,
  parent: GraphQLCompositeType,
  root: boolean,
  inProgress: Set<string>,
): string | undefined {
  if (name === '__typename') return undefined;
  if (!isObjectType(parent) && !isInterfaceType(parent)) return `unknown field ${parent.name}.${name}`;
  const field = parent.getFields()[name];
  if (field === undefined) return `unknown field ${parent.name}.${name}`;
  // On an interface, every implementation's own policy counts as well as the interface's.
  const owners = isInterfaceType(parent) ? [parent, ...state.schema.getPossibleTypes(parent)] : [parent];
  for (const owner of owners) {
    const ownField = owner === parent ? field : owner.getFields()[name];
    if (ownField === undefined) continue;
    const failure = applyPolicy(state, `${owner.name}.${name}`, ownField, root);
    if (failure !== undefined) return failure;
  }
  if (selectionSet === undefined) return undefined;
  const type = getNamedType(field.type);
  if (!isCompositeType(type)) return `${parent.name}.${name} has no fields to select`;
  return walk(state, selectionSet, type, false, inProgress, hintOf(field.extensions)?.scope === 'PUBLIC');
}

function applyPolicy(
  state: WalkState,
  coordinate: string,
  field: GraphQLField<unknown, unknown>,
  root: boolean,
): string | undefined {
  const own = hintOf(field.extensions);
  const type = getNamedType(field.type);
  const composite = isCompositeType(type);
  const hint = effectiveHint(own, composite ? hintOf(type.extensions) : undefined);
  if ((root && own?.privateRoot === true) || hint.scope === 'PRIVATE') return `${coordinate} is private`;
  if (hint.ttlMs !== undefined) {
    // A hand-written extension is checked as the plugin checks the option; 0 is Apollo's "never".
    if (typeof hint.ttlMs !== 'number' || !(hint.ttlMs > 0) || hint.ttlMs === Infinity)
      return `${coordinate} has an invalid ttlMs`;
    // A window is a non-negative, finite number of milliseconds; absent, 0.
    const windows = { staleWhileRevalidateMs: 0, staleIfErrorMs: 0 };
    for (const name of ['staleWhileRevalidateMs', 'staleIfErrorMs'] as const) {
      const window = hint[name] ?? 0;
      if (typeof window !== 'number' || !(window >= 0) || window === Infinity)
        return `${coordinate} has an invalid ${name}`;
      windows[name] = window;
    }
    state.ttlMs = Math.min(state.ttlMs, hint.ttlMs);
    state.staleWhileRevalidateMs = Math.min(state.staleWhileRevalidateMs, windows.staleWhileRevalidateMs);
    state.staleIfErrorMs = Math.min(state.staleIfErrorMs, windows.staleIfErrorMs);
    state.coordinates.add(coordinate);
    return undefined;
  }
  if (root || (composite && !hint.inheritMaxAge)) return `${coordinate} has no cache policy`;
  return undefined; // a leaf, or an inheriting field, inherits its parent's policy
}

/** The name of `type`, or of one of its possible types, whose type hint is PRIVATE; else undefined. */
function privateTypeOf(schema: GraphQLSchema, type: GraphQLCompositeType): string | undefined {
  if (hintOf(type.extensions)?.scope === 'PRIVATE') return type.name;
  if (isObjectType(type)) return undefined;
  return schema.getPossibleTypes(type).find((possible) => hintOf(possible.extensions)?.scope === 'PRIVATE')
    ?.name;
}

function hintOf(extensions: { readonly [key: string]: unknown } | null | undefined) {
  return extensions?.[POLICY_EXTENSION] as CachePolicyExtension | undefined;
}

/**
 * A field's hint as Apollo computes it: its return type's hint, then its own hint key by key. A
 * field hint with `inheritMaxAge` sets no maxAge (a type's maxAge still counts), only its scope.
 * The windows go with the maxAge: they are those of the hint whose maxAge counts.
 */
function effectiveHint(
  own: CachePolicyExtension | undefined,
  ofType: CachePolicyExtension | undefined,
): {
  ttlMs: unknown;
  staleWhileRevalidateMs: unknown;
  staleIfErrorMs: unknown;
  scope: unknown;
  inheritMaxAge: boolean;
} {
  let timed = ofType;
  let scope: unknown = ofType?.scope;
  let inheritMaxAge = ofType?.inheritMaxAge === true;
  if (own?.inheritMaxAge === true) inheritMaxAge = true;
  else if (own?.ttlMs !== undefined) timed = own;
  if (own?.scope !== undefined) scope = own.scope;
  return {
    ttlMs: timed?.ttlMs,
    staleWhileRevalidateMs: timed?.staleWhileRevalidateMs,
    staleIfErrorMs: timed?.staleIfErrorMs,
    scope,
    inheritMaxAge,
  };
}
