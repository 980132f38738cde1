import {
  type DirectiveNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  getOperationAST,
  type InlineFragmentNode,
  isAbstractType,
  isCompositeType,
  isInterfaceType,
  isLeafType,
  isObjectType,
  isRequiredArgument,
  Kind,
  OperationTypeNode,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';
import { InvalidOptionError } from '../errors.js';

/**
 * Which entities a GraphQL result holds, for the response cache's entity tags: a stored response
 * is tagged with the entities it holds, so invalidating `Product:42` retires exactly the
 * responses holding Product 42, and a mutation's result names the entities it changed.
 *
 * ## Tag format
 *
 * `Type:key`, where `Type` is the concrete object type's name (the runtime type, also behind an
 * interface or a union) and `key` its key field values, each a string as `String()` gives it
 * (an `ID` `"42"` and an `Int` `42` both give `42`):
 *
 * - one key field: the value itself, `Product:42`;
 * - several key fields: the JSON array of the value strings, in the order the keys name the
 *   fields, `Sku:["A-1","eu"]` (JSON escapes quotes and commas, so no two keys share a tag).
 *
 * A type's number of key fields is fixed, so the two forms never meet within one type.
 * `entityTag` builds the same string.
 *
 * ## Limits
 *
 * - An entity whose key value is null, absent, or not a string or number (a custom scalar
 *   serialized to an object) is not tagged: nothing can invalidate a response by it.
 * - The root object (Query, Mutation) is never an entity: nothing is added to the operation's
 *   own selection set, where on a mutation it would run a field.
 * - An added key field is executed like any field: when its resolver throws, the error is in the
 *   result's `errors` (path through the added alias), and a non-null one nulls its parent.
 */

/**
 * The fields that identify an entity, per object type name. A type not named here is an entity
 * keyed by `id` when it has an `id` field returning a scalar or enum without required arguments;
 * `[]` makes a type no entity at all.
 */
export interface EntityKeys {
  readonly [typeName: string]: readonly string[];
}

/** What one operation of a document needs for entity tags, worked out once per document. */
export interface EntityPlan {
  /**
   * The document to execute: the original, with `__typename` (in abstract positions) and each
   * entity type's key fields added to every field's selection set that may lack them. Added
   * fields have no arguments and no directives, sit at the end of the selection set and are
   * under aliases starting with `__gf_` that no field of the document uses, so they never merge
   * with a client's field. The client's nodes are kept (with their `loc`, so error locations
   * stay the client's); only their ancestors are copied. The input itself when nothing was
   * added (the client selected every key unconditionally, or there is no entity to find).
   */
  readonly document: DocumentNode;
  /**
   * The schema coordinates (`Type.field`) the operation's selections can reach, sorted: for a
   * field selected on an interface, the interface's and each implementation's. Neither
   * `__typename` nor introspection; the added key fields are not counted.
   */
  readonly coordinates: readonly string[];
  /**
   * Walks the `data` of an execution result of `document` once: the tags of the entities it
   * holds (deduplicated, in first-seen order, see the module comment), and the data with every
   * added field removed, key for key in the order the original document gives. The input is
   * never mutated: each object or list from which something was removed is a new one (as is
   * each holding one), everything else is the input's own.
   */
  collect(data: Record<string, unknown> | null | undefined): EntityResult;
}

export interface EntityResult {
  tags: string[];
  data: Record<string, unknown> | null | undefined;
}

/**
 * The entity plan of `operationName` of `document` (graphql-js's choice of operation: by name,
 * or the only one), or undefined when it has no such operation, is a subscription, uses
 * `@defer`/`@stream`, or cannot be walked (an unknown field, type or fragment, a fragment cycle,
 * a selection set on a leaf or none on an object). The document is not validated otherwise:
 * Yoga does that, with the client's document.
 *
 * Throws InvalidOptionError when `keys` names a type that is not an object type of the schema,
 * or a field of it that does not return a scalar or enum or takes required arguments: that
 * depends on schema and keys alone, so planning a small document once on a schema change
 * checks the option.
 */
export function entityPlan(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName?: string | null,
  keys?: EntityKeys,
): EntityPlan | undefined {
  const operation = getOperationAST(document, operationName);
  if (operation == null || operation.operation === OperationTypeNode.SUBSCRIPTION) return undefined;
  const rootType = schema.getRootType(operation.operation);
  if (rootType == null) return undefined;

  const planner = new Planner(schema, document, keys);
  if (!planner.scan(operation.selectionSet, rootType)) return undefined;
  const planned = planner.rewrite(document, operation.selectionSet, rootType);
  const root = planner.typePlan([operation.selectionSet], rootType, true);
  if (root === INVALID) return undefined;
  const coordinates = [...planner.coordinates].sort();
  const typenameAlias = planner.typenameAlias;
  return {
    document: planned,
    coordinates,
    collect(data) {
      if (data == null || root === null) return { tags: [], data };
      const tags = new Set<string>();
      const out = walkObject(data, root, typenameAlias, tags);
      return { tags: [...tags], data: out };
    },
  };
}

/**
 * The tag of the entity of type `typeName` keyed by `key` (its key field values in the order
 * `EntityKeys` names them; a list of one value gives the tag of the value), as `collect` builds
 * it.
 */
export function entityTag(typeName: string, key: string | number | readonly (string | number)[]): string {
  if (typeof key === 'string' || typeof key === 'number') return `${typeName}:${key}`;
  if (key.length === 0) throw new InvalidOptionError('key', 'a string, a number or a non-empty list', key);
  if (key.length === 1) return `${typeName}:${key[0]}`;
  return `${typeName}:${JSON.stringify(key.map(String))}`;
}

// ---------------------------------------------------------------------------------------------
// The collect walk: plans per position, read per execution.
// ---------------------------------------------------------------------------------------------

/** Marks an added field in a type plan's `fields`: dropped from the output. */
const STRIP = 0;
const INVALID = 1;

/** Where one key field's value is read in an object of an entity type. */
interface KeySource {
  /** The alias some field node at this position added it under; undefined when none did. */
  alias: string | undefined;
  field: string;
  /** Whether the response key `field` is the client's own selection of that field here. */
  plain: boolean;
}

/** What to do with an object of one concrete type at one position. */
interface TypePlan {
  /** `Type:`, the start of its tags. */
  prefix: string;
  /** Its key fields, null when it is no entity (or the root object). */
  keys: readonly KeySource[] | null;
  /** Response key → the position below it, or STRIP for an added field; other keys are copied. */
  fields: Map<string, PositionPlan | typeof STRIP>;
}

/**
 * A position (a response key of a parent type plan): the plan of an object-typed field, or, for
 * an interface or union, one per concrete type (read from `__typename`) with something to do.
 */
interface PositionPlan {
  object: TypePlan | null;
  byType: Map<string, TypePlan> | null;
  /** For a concrete type with nothing to do but drop the added `__typename`. */
  fallback: TypePlan | null;
}

function walkValue(
  value: unknown,
  position: PositionPlan,
  typenameAlias: string | undefined,
  tags: Set<string>,
): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const next = walkValue(item, position, typenameAlias, tags);
      if (out !== undefined) out.push(next);
      else if (next !== item) {
        out = value.slice(0, i);
        out.push(next);
      }
    }
    return out ?? value;
  }
  const object = value as Record<string, unknown>;
  let plan = position.object;
  if (plan === null) {
    let typename = typenameAlias === undefined ? undefined : object[typenameAlias];
    if (typeof typename !== 'string') typename = object.__typename;
    plan = (typeof typename === 'string' ? position.byType?.get(typename) : undefined) ?? position.fallback;
    if (plan === null) return value;
  }
  return walkObject(object, plan, typenameAlias, tags);
}

function walkObject(
  object: Record<string, unknown>,
  plan: TypePlan,
  typenameAlias: string | undefined,
  tags: Set<string>,
): Record<string, unknown> {
  if (plan.keys !== null) {
    const tag = tagOf(object, plan.prefix, plan.keys);
    if (tag !== undefined) tags.add(tag);
  }
  // Copy on write: `out` exists once something changed, and then holds every key kept so far.
  let out: Record<string, unknown> | undefined;
  for (const key in object) {
    const entry = plan.fields.get(key);
    if (entry === undefined) {
      if (out !== undefined) out[key] = object[key];
      continue;
    }
    if (entry === STRIP) {
      out ??= copyBefore(object, key);
      continue;
    }
    const value = object[key];
    const next = walkValue(value, entry, typenameAlias, tags);
    if (out !== undefined) out[key] = next;
    else if (next !== value) {
      out = copyBefore(object, key);
      out[key] = next;
    }
  }
  return out ?? object;
}

/** A copy of `object`'s keys before `stop`. Prototype-less as graphql-js's, so `__proto__` stays a key. */
function copyBefore(object: Record<string, unknown>, stop: string): Record<string, unknown> {
  const out = Object.create(null) as Record<string, unknown>;
  for (const key in object) {
    if (key === stop) break;
    out[key] = object[key];
  }
  return out;
}

function tagOf(
  object: Record<string, unknown>,
  prefix: string,
  keys: readonly KeySource[],
): string | undefined {
  if (keys.length === 1) {
    const value = keyValue(object, keys[0]!);
    return value === undefined ? undefined : prefix + value;
  }
  // The JSON array of the value strings, as entityTag's JSON.stringify builds it.
  let tag = `${prefix}[`;
  for (let i = 0; i < keys.length; i++) {
    const value = keyValue(object, keys[i]!);
    if (value === undefined) return undefined;
    tag += i === 0 ? JSON.stringify(value) : `,${JSON.stringify(value)}`;
  }
  return `${tag}]`;
}

function keyValue(object: Record<string, unknown>, source: KeySource): string | undefined {
  let value = source.alias === undefined ? undefined : object[source.alias];
  if (value === undefined && source.plain) value = object[source.field];
  if (typeof value === 'string') return value;
  return typeof value === 'number' ? String(value) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Planning: once per document.
// ---------------------------------------------------------------------------------------------

/** Field nodes by response key, as graphql-js collects them for one concrete type. */
type Groups = Map<string, FieldNode[]>;

/** One planning of one operation. Owned by entityPlan for its duration. */
class Planner {
  readonly coordinates = new Set<string>();
  /** The alias the added `__typename` fields share; undefined until one is added. */
  typenameAlias: string | undefined;

  readonly #schema: GraphQLSchema;
  readonly #keys: EntityKeys | undefined;
  readonly #fragments = new Map<string, FragmentDefinitionNode>();
  /** Fragments scanned (true) or being scanned (false): the ones the operation reaches. */
  readonly #scanned = new Map<string, boolean>();
  /** Every response key the walked selections use: an added alias is none of them. */
  readonly #used = new Set<string>();
  /** `field\0type` → the alias its added fields share (one per response shape). */
  readonly #aliases = new Map<string, string>();
  readonly #keyFields = new Map<GraphQLObjectType, readonly string[]>();
  readonly #reachesBySet = new Map<SelectionSetNode, boolean>();
  readonly #reachesByFragment = new Map<string, boolean>();
  readonly #setIds = new Map<SelectionSetNode, number>();
  readonly #positions = new Map<string, PositionPlan | null | typeof INVALID>();

  constructor(schema: GraphQLSchema, document: DocumentNode, keys: EntityKeys | undefined) {
    this.#schema = schema;
    this.#keys = keys;
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION)
        this.#fragments.set(definition.name.value, definition);
    }
    if (keys !== undefined) {
      for (const typeName of Object.keys(keys)) this.#checkKeys(typeName, keys[typeName]);
    }
  }

  /** Checks a selection set on `parent` can be walked; records coordinates and response keys. */
  scan(set: SelectionSetNode, parent: GraphQLCompositeType): boolean {
    for (const selection of set.selections) {
      if (streams(selection.directives)) return false;
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        this.#used.add(selection.alias?.value ?? name);
        if (name === '__typename') {
          if (selection.selectionSet !== undefined) return false;
          continue;
        }
        if (name === '__schema' || name === '__type') continue; // introspection holds no entity
        const field = fieldOf(parent, name);
        if (field === undefined) return false;
        this.#addCoordinates(parent, name);
        const type = getNamedType(field.type);
        if (isCompositeType(type)) {
          if (selection.selectionSet === undefined || !this.scan(selection.selectionSet, type)) return false;
        } else if (selection.selectionSet !== undefined) return false;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = this.#conditionOf(selection, parent);
        if (type === undefined || !this.scan(selection.selectionSet, type)) return false;
      } else {
        const name = selection.name.value;
        const state = this.#scanned.get(name);
        if (state === true) continue;
        if (state === false) return false; // a cycle
        const fragment = this.#fragments.get(name);
        if (fragment === undefined) return false;
        const type = this.#schema.getType(fragment.typeCondition.name.value);
        if (!isCompositeType(type)) return false;
        this.#scanned.set(name, false);
        if (!this.scan(fragment.selectionSet, type)) return false;
        this.#scanned.set(name, true);
      }
    }
    return true;
  }

  /** The document with the added fields, or `document` itself when nothing was added. */
  rewrite(document: DocumentNode, root: SelectionSetNode, rootType: GraphQLObjectType): DocumentNode {
    let changed = false;
    const definitions = document.definitions.map((definition) => {
      let set: SelectionSetNode;
      if (definition.kind === Kind.OPERATION_DEFINITION && definition.selectionSet === root) {
        // Nothing is added to the root selection set itself: on a mutation, that would run a field.
        set = this.#rewriteSet(root, rootType);
      } else if (definition.kind === Kind.FRAGMENT_DEFINITION && this.#scanned.has(definition.name.value)) {
        const type = this.#schema.getType(definition.typeCondition.name.value) as GraphQLCompositeType;
        set = this.#rewriteSet(definition.selectionSet, type);
      } else return definition;
      if (set === definition.selectionSet) return definition;
      changed = true;
      return { ...definition, selectionSet: set };
    });
    return changed ? { ...document, definitions } : document;
  }

  /**
   * The plan of an object of concrete type `type` at a position made of `sets` (the selection
   * sets of the field nodes sharing its response key): null when there is nothing to do.
   */
  typePlan(
    sets: readonly SelectionSetNode[],
    type: GraphQLObjectType,
    root = false,
  ): TypePlan | null | typeof INVALID {
    const groups: Groups = new Map();
    for (const set of sets) this.#collect(set, type, groups);
    const fields = new Map<string, PositionPlan | typeof STRIP>();
    // Dropped at every position, abstract or not: a field selected on an interface may return an
    // object type on the implementation (covariance), yet its node got the interface's additions.
    if (this.typenameAlias !== undefined) fields.set(this.typenameAlias, STRIP);
    const keyFields = root ? [] : this.#keyFieldsOf(type);
    let keys: KeySource[] | null = null;
    if (keyFields.length > 0) {
      keys = keyFields.map((field) => {
        const alias = this.#aliases.get(`${field}\0${String(type.getFields()[field]!.type)}`);
        if (alias !== undefined) fields.set(alias, STRIP);
        // Every node answering to the response key `field` is the field itself. A valid document
        // never needs the check (a node lacking the plain field adds the alias, read first); it
        // keeps a client's `id: name` from ever being read as a key.
        const plain = groups.get(field)?.every((node) => isPlain(node, field, true)) === true;
        return { alias, field, plain };
      });
    }
    for (const [responseKey, nodes] of groups) {
      const name = nodes[0]!.name.value;
      if (name.startsWith('__')) continue;
      if (nodes.some((node) => node.name.value !== name)) return INVALID;
      const field = type.getFields()[name];
      if (field === undefined) return INVALID;
      const childType = getNamedType(field.type);
      if (!isCompositeType(childType)) continue;
      const childSets: SelectionSetNode[] = [];
      for (const node of nodes) if (node.selectionSet !== undefined) childSets.push(node.selectionSet);
      const child = this.#position(childSets, childType);
      if (child === INVALID) return INVALID;
      if (child !== null) fields.set(responseKey, child);
    }
    if (keys === null && fields.size === 0) return null;
    return { prefix: `${type.name}:`, keys, fields };
  }

  #position(
    sets: readonly SelectionSetNode[],
    type: GraphQLCompositeType,
  ): PositionPlan | null | typeof INVALID {
    if (!sets.some((set) => this.#reaches(set, type))) return null;
    let id = type.name;
    for (const set of sets) id += `,${this.#idOf(set)}`;
    const known = this.#positions.get(id);
    if (known !== undefined) return known;
    let position: PositionPlan | null | typeof INVALID;
    if (isObjectType(type)) {
      const plan = this.typePlan(sets, type);
      position =
        plan === INVALID ? INVALID : plan === null ? null : { object: plan, byType: null, fallback: null };
    } else {
      const byType = new Map<string, TypePlan>();
      position = { object: null, byType, fallback: null };
      const typenameAlias = this.typenameAlias;
      if (typenameAlias !== undefined) {
        position.fallback = { prefix: '', keys: null, fields: new Map([[typenameAlias, STRIP]]) };
      }
      for (const possible of this.#schema.getPossibleTypes(type)) {
        const plan = this.typePlan(sets, possible);
        if (plan === INVALID) {
          position = INVALID;
          break;
        }
        // A plan that only drops the added __typename is the fallback's.
        if (plan !== null && (plan.keys !== null || plan.fields.size > (typenameAlias === undefined ? 0 : 1)))
          byType.set(possible.name, plan);
      }
    }
    this.#positions.set(id, position);
    return position;
  }

  /** Adds to `groups` the field nodes graphql-js collects from `set` for `type`, whatever their directives. */
  #collect(set: SelectionSetNode, type: GraphQLObjectType, groups: Groups): void {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const key = selection.alias?.value ?? selection.name.value;
        const nodes = groups.get(key);
        if (nodes === undefined) groups.set(key, [selection]);
        else nodes.push(selection);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (this.#applies(selection.typeCondition?.name.value, type))
          this.#collect(selection.selectionSet, type, groups);
      } else {
        const fragment = this.#fragments.get(selection.name.value)!;
        if (this.#applies(fragment.typeCondition.name.value, type))
          this.#collect(fragment.selectionSet, type, groups);
      }
    }
  }

  /** The response keys `set` selects for `type` as the plain field of that name, always. */
  #alwaysPlain(set: SelectionSetNode, type: GraphQLObjectType, into = new Set<string>()): Set<string> {
    for (const selection of set.selections) {
      if (!unconditional(selection.directives)) continue;
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (isPlain(selection, name, false)) into.add(name);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (this.#applies(selection.typeCondition?.name.value, type))
          this.#alwaysPlain(selection.selectionSet, type, into);
      } else {
        const fragment = this.#fragments.get(selection.name.value)!;
        if (this.#applies(fragment.typeCondition.name.value, type))
          this.#alwaysPlain(fragment.selectionSet, type, into);
      }
    }
    return into;
  }

  #rewriteSet(set: SelectionSetNode, parent: GraphQLCompositeType): SelectionSetNode {
    let selections: SelectionNode[] | undefined;
    for (let i = 0; i < set.selections.length; i++) {
      const selection = set.selections[i]!;
      let next: SelectionNode = selection;
      if (selection.kind === Kind.FIELD) {
        const inner = selection.selectionSet;
        const name = selection.name.value;
        if (inner !== undefined && !name.startsWith('__')) {
          const type = getNamedType(fieldOf(parent, name)!.type) as GraphQLCompositeType;
          const rewritten = this.#rewriteSet(inner, type);
          const added = this.#additions(inner, type);
          if (added.length > 0) {
            next = {
              ...selection,
              selectionSet: { ...rewritten, selections: [...rewritten.selections, ...added] },
            };
          } else if (rewritten !== inner) next = { ...selection, selectionSet: rewritten };
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const rewritten = this.#rewriteSet(selection.selectionSet, this.#conditionOf(selection, parent)!);
        if (rewritten !== selection.selectionSet) next = { ...selection, selectionSet: rewritten };
      }
      if (next !== selection) selections ??= set.selections.slice(0, i);
      selections?.push(next);
    }
    return selections === undefined ? set : { ...set, selections };
  }

  /** The fields to add at the end of a field's selection set `set` on `type`. */
  #additions(set: SelectionSetNode, type: GraphQLCompositeType): SelectionNode[] {
    if (!this.#reaches(set, type)) return [];
    const added: SelectionNode[] = [];
    if (isObjectType(type)) {
      const plain = this.#alwaysPlain(set, type);
      for (const field of this.#keyFieldsOf(type))
        if (!plain.has(field)) added.push(this.#keyField(type, field));
      return added;
    }
    // Abstract: __typename tells the concrete type, and each entity type's keys sit in a fragment on it.
    let typename = true;
    for (const possible of this.#schema.getPossibleTypes(type)) {
      const plain = this.#alwaysPlain(set, possible);
      if (!plain.has('__typename')) typename = false;
      const missing = this.#keyFieldsOf(possible).filter((field) => !plain.has(field));
      if (missing.length === 0) continue;
      const fragment: InlineFragmentNode = {
        kind: Kind.INLINE_FRAGMENT,
        typeCondition: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: possible.name } },
        selectionSet: {
          kind: Kind.SELECTION_SET,
          selections: missing.map((f) => this.#keyField(possible, f)),
        },
      };
      added.push(fragment);
    }
    if (!typename) {
      this.typenameAlias ??= this.#allocate('__gf_typename');
      added.unshift(aliasedField(this.typenameAlias, '__typename'));
    }
    return added;
  }

  #keyField(type: GraphQLObjectType, field: string): FieldNode {
    // One alias per field name and response shape, so two types' added fields always merge.
    const shape = `${field}\0${String(type.getFields()[field]!.type)}`;
    let alias = this.#aliases.get(shape);
    if (alias === undefined) {
      alias = this.#allocate(`__gf_${field}`);
      this.#aliases.set(shape, alias);
    }
    return aliasedField(alias, field);
  }

  #allocate(base: string): string {
    let alias = base;
    for (let n = 2; this.#used.has(alias); n++) alias = `${base}_${n}`;
    this.#used.add(alias);
    return alias;
  }

  /**
   * Whether a selection set on `type` can hold an entity: `type` can be one, or a field below it.
   * Remembered per set: the rewrite asks first, with the set's static type; a position asking
   * later with an implementation's narrower (covariant) type gets that answer, a superset.
   */
  #reaches(set: SelectionSetNode, type: GraphQLCompositeType): boolean {
    let reaches = this.#reachesBySet.get(set);
    if (reaches === undefined) {
      const types = isObjectType(type) ? [type] : this.#schema.getPossibleTypes(type);
      reaches = types.some((possible) => this.#keyFieldsOf(possible).length > 0) || this.#below(set, type);
      this.#reachesBySet.set(set, reaches);
    }
    return reaches;
  }

  /** Whether a field of `set` (through its fragments) on `parent` can hold an entity. */
  #below(set: SelectionSetNode, parent: GraphQLCompositeType): boolean {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        if (selection.selectionSet === undefined || name.startsWith('__')) continue;
        const type = getNamedType(fieldOf(parent, name)!.type) as GraphQLCompositeType;
        if (this.#reaches(selection.selectionSet, type)) return true;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (this.#below(selection.selectionSet, this.#conditionOf(selection, parent)!)) return true;
      } else {
        const name = selection.name.value;
        let below = this.#reachesByFragment.get(name);
        if (below === undefined) {
          const fragment = this.#fragments.get(name)!;
          const type = this.#schema.getType(fragment.typeCondition.name.value) as GraphQLCompositeType;
          below = this.#below(fragment.selectionSet, type);
          this.#reachesByFragment.set(name, below);
        }
        if (below) return true;
      }
    }
    return false;
  }

  #keyFieldsOf(type: GraphQLObjectType): readonly string[] {
    let fields = this.#keyFields.get(type);
    if (fields === undefined) {
      const own = this.#keys?.[type.name];
      if (own !== undefined) fields = own;
      else {
        const id = type.getFields().id;
        fields = id !== undefined && isKeyField(id) ? ['id'] : [];
      }
      this.#keyFields.set(type, fields);
    }
    return fields;
  }

  #checkKeys(typeName: string, fields: unknown): void {
    const type = this.#schema.getType(typeName);
    const expected = isObjectType(type)
      ? `a list of distinct fields of ${typeName} returning a scalar or enum, without required arguments`
      : 'named by an object type of the schema';
    const valid =
      isObjectType(type) &&
      Array.isArray(fields) &&
      new Set(fields).size === fields.length &&
      fields.every((name) => {
        const field = typeof name === 'string' ? type.getFields()[name] : undefined;
        return field !== undefined && isKeyField(field);
      });
    if (!valid) throw new InvalidOptionError(`keys.${typeName}`, expected, fields);
  }

  #addCoordinates(parent: GraphQLCompositeType, name: string): void {
    this.coordinates.add(`${parent.name}.${name}`);
    if (!isInterfaceType(parent)) return;
    for (const possible of this.#schema.getPossibleTypes(parent)) {
      if (possible.getFields()[name] !== undefined) this.coordinates.add(`${possible.name}.${name}`);
    }
  }

  #conditionOf(fragment: InlineFragmentNode, parent: GraphQLCompositeType): GraphQLCompositeType | undefined {
    if (fragment.typeCondition === undefined) return parent;
    const type = this.#schema.getType(fragment.typeCondition.name.value);
    return isCompositeType(type) ? type : undefined;
  }

  /** Whether a fragment on `condition` applies to an object of `type`, as graphql-js decides. */
  #applies(condition: string | undefined, type: GraphQLObjectType): boolean {
    if (condition === undefined || condition === type.name) return true;
    const conditionType = this.#schema.getType(condition);
    return isAbstractType(conditionType) && this.#schema.isSubType(conditionType, type);
  }

  #idOf(set: SelectionSetNode): number {
    let id = this.#setIds.get(set);
    if (id === undefined) {
      id = this.#setIds.size;
      this.#setIds.set(set, id);
    }
    return id;
  }
}

function fieldOf(parent: GraphQLCompositeType, name: string): GraphQLField<unknown, unknown> | undefined {
  return isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
}

/** A key field returns a scalar or enum (not a list) and needs no argument. */
function isKeyField(field: GraphQLField<unknown, unknown>): boolean {
  return isLeafType(getNullableType(field.type)) && !field.args.some(isRequiredArgument);
}

/**
 * Whether `node` is the field `name` under its own name, without arguments: its value is the
 * key's. `conditional` admits @include/@skip (the value is the key's when present), else no
 * directive at all is admitted.
 */
function isPlain(node: FieldNode, name: string, conditional: boolean): boolean {
  if (node.name.value !== name || (node.alias !== undefined && node.alias.value !== name)) return false;
  if (node.arguments !== undefined && node.arguments.length > 0) return false;
  if (node.directives === undefined || node.directives.length === 0) return true;
  return conditional && node.directives.every((d) => d.name.value === 'include' || d.name.value === 'skip');
}

/** Whether @include/@skip leave a selection in whatever the variables (no directive, or literal ones that keep it). */
function unconditional(directives: readonly DirectiveNode[] | undefined): boolean {
  if (directives === undefined) return true;
  for (const directive of directives) {
    const name = directive.name.value;
    if (name !== 'include' && name !== 'skip') continue;
    const value = directive.arguments?.find((argument) => argument.name.value === 'if')?.value;
    if (value?.kind !== Kind.BOOLEAN || value.value !== (name === 'include')) return false;
  }
  return true;
}

function streams(directives: readonly DirectiveNode[] | undefined): boolean {
  return directives?.some((d) => d.name.value === 'defer' || d.name.value === 'stream') === true;
}

function aliasedField(alias: string, name: string): FieldNode {
  return {
    kind: Kind.FIELD,
    alias: { kind: Kind.NAME, value: alias },
    name: { kind: Kind.NAME, value: name },
  };
}
