import {
  type GraphQLOutputType,
  type GraphQLSchema,
  getNamedType,
  isAbstractType,
  isObjectType,
} from 'graphql';
import { entityTag } from './entity-tags.js';

/**
 * The tags a stored response carries beyond the entities in its body: the tags of every
 * field-cache value its execution read (hit or load), collected in a set the response cache puts
 * on the execution's context. A field's tags are then also its responses' tags, so
 * `invalidate({ tags })` retires both.
 */
const SINK = Symbol.for('graphql-flight.response-tags');

/** Opens the set of field tags of one execution (on its context object). */
export function openTagSink(context: object): Set<string> {
  const sink = new Set<string>();
  (context as { [SINK]?: Set<string> })[SINK] = sink;
  return sink;
}

/** The set of field tags of the execution `context` belongs to, when a response cache collects them. */
export function tagSink(context: unknown): Set<string> | undefined {
  return typeof context === 'object' && context !== null
    ? (context as { [SINK]?: Set<string> })[SINK]
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
 * The tags of an execution result the response cache may store (set by the plugin once it read
 * the result's entities): a result without an entry is never stored (its tags are not known).
 */
export const resultTags = new WeakMap<object, readonly string[]>();
