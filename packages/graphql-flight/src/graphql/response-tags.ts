import {
  type GraphQLOutputType,
  type GraphQLSchema,
  getNamedType,
  isAbstractType,
  isObjectType,
} from 'graphql';
import { type FlightCache, type Invalidation, Reads } from '../cache/flight-cache.js';
import { entityTag } from './entity-tags.js';

/**
 * What a stored response is made from beyond the entities in its body: every field-cache or
 * loader value its execution read (hit, joined or loaded), collected in a Reads the response
 * cache puts on the execution's context. The stored response inherits their keys and tags, so
 * invalidating any of them (by key or by tag) retires it too.
 */
const READS = Symbol.for('graphql-flight.reads');

/** Opens the Reads of one execution (on its context object). */
export function openReads(context: object): Reads {
  const reads = new Reads();
  (context as { [READS]?: Reads })[READS] = reads;
  return reads;
}

/** The Reads of the execution `context` belongs to, when a response cache collects them. */
export function readsOf(context: unknown): Reads | undefined {
  return typeof context === 'object' && context !== null
    ? (context as { [READS]?: Reads })[READS]
    : undefined;
}

/** The tag of every entity of a type: `invalidate({ tags: [typeTag('Product')] })` retires all products. */
export function typeTag(typeName: string): string {
  return `${typeName}:*`;
}

/**
 * The entity tags of a field's value, from its GraphQL type: for each object (in lists too) of an
 * object type with an `id` field, `Type:id` and the type's tag `Type:*`. Behind an interface or a
 * union the concrete type is not known here, so every possible type with an `id` field is tagged
 * (retiring more than needed, never less).
 */
export function valueEntityTags(schema: GraphQLSchema, type: GraphQLOutputType, value: unknown): string[] {
  const named = getNamedType(type);
  const types = isObjectType(named) ? [named] : isAbstractType(named) ? schema.getPossibleTypes(named) : [];
  const keyed = types.filter((candidate) => candidate.getFields().id !== undefined).map((t) => t.name);
  if (keyed.length === 0) return [];
  const tags = new Set<string>();
  const visit = (item: unknown, depth: number) => {
    if (Array.isArray(item)) {
      if (depth < 8) for (const element of item) visit(element, depth + 1);
      return;
    }
    if (typeof item !== 'object' || item === null) return;
    const id = (item as { id?: unknown }).id;
    if (typeof id !== 'string' && typeof id !== 'number') return;
    for (const name of keyed) {
      tags.add(entityTag(name, id));
      tags.add(typeTag(name));
    }
  };
  visit(value, 0);
  return [...tags];
}

/**
 * What an execution result the response cache may store is made from (set by the plugin once it
 * read the result's entities): its tags, and the values its execution read. A result without an
 * entry is never stored (what would retire it is not known).
 */
export const resultTags = new WeakMap<object, { tags: readonly string[]; reads: Reads | undefined }>();

const PENDING = Symbol.for('graphql-flight.invalidation-pending');
const INVALIDATED = Symbol.for('graphql-flight.invalidated-tags');

/** The tags this operation's resolvers already invalidated (see invalidateAfterWrite). */
export function invalidatedTags(context: unknown): ReadonlySet<string> | undefined {
  return typeof context === 'object' && context !== null
    ? (context as { [INVALIDATED]?: Set<string> })[INVALIDATED]
    : undefined;
}

/**
 * For a resolver after a write: `cache.invalidate(what)`, awaited. When it does not resolve
 * (InvalidationFailedError: Redis did not acknowledge, and the invalidation stays queued and is
 * re-sent; or a closed cache), the operation is marked instead of failed, and the response cache
 * plugin adds an error with code CACHE_INVALIDATION_PENDING to its result, beside the data: the
 * write is saved, and cached reads may show the old value until the invalidation lands. A write
 * that was made is never reported as failed.
 */
export async function invalidateAfterWrite(
  context: object,
  cache: FlightCache,
  what: Invalidation,
): Promise<void> {
  // The mutation-result invalidation of the same operation skips these (no second round).
  const record = context as { [INVALIDATED]?: Set<string> };
  record[INVALIDATED] ??= new Set();
  for (const tag of what.tags ?? []) record[INVALIDATED].add(tag);
  try {
    await cache.invalidate(what);
  } catch (error) {
    (context as { [PENDING]?: unknown })[PENDING] = error;
  }
}

/** Why this operation's invalidation did not complete (see invalidateAfterWrite), if it did not. */
export function pendingInvalidation(context: unknown): unknown {
  return typeof context === 'object' && context !== null
    ? (context as { [PENDING]?: unknown })[PENDING]
    : undefined;
}
