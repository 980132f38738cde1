import { createHash } from 'node:crypto';
import { type DocumentNode, type GraphQLSchema, OperationTypeNode, parse, printSchema, visit } from 'graphql';
import { LRUCache } from 'lru-cache';
import { type EntityKeys, type EntityPlan, entityPlan } from './entity-tags.js';
import { type ResponsePolicy, responsePolicy } from './response-policy.js';

/** What the response cache needs for one operation of a document, worked out once. */
export interface Plan {
  policy: ResponsePolicy;
  /** The response's TTL (0 when it is not cacheable). */
  ttlMs: number;
  /** The response's revalidate window (the policy's; 0 when it is not cacheable). */
  staleWhileRevalidateMs: number;
  /** The response's error window (the policy's; 0 when it is not cacheable). */
  staleIfErrorMs: number;
  /** Start of every response key of this operation: a digest of schema, document, operation name. */
  prefix: string;
  /**
   * For a cacheable query (its stored responses are tagged with the entities they hold) and a
   * mutation (its result invalidates the entities it returns): the document to execute and how
   * to read its result's entities. A query whose entities cannot be told is not cacheable.
   */
  entities?: EntityPlan;
  /** The operation is a mutation. */
  mutation: boolean;
}

/** Per distinct document: its parse, and each operation's policy once asked for. */
interface DocumentEntry {
  document: DocumentNode | null;
  /** sha256 of the text: the response key carries it instead of the text itself. */
  digest: string;
  /** Operation type by name ('' for an anonymous one); null when it streams (@defer/@stream). */
  types: Map<string, OperationTypeNode> | null;
  /** Per operation name ('' when none is given): its policy and, when cacheable, how to key it. */
  plans: Map<string, Plan>;
}

export interface OperationPlansOptions {
  /** Documents remembered (each parsed once). */
  maxDocuments: number;
  /** Longer documents are neither parsed nor planned here. */
  maxDocumentLength: number;
  /** The key fields of entity types (see EntityKeys); default `id`. */
  entityKeys?: EntityKeys | undefined;
}

/**
 * Documents and plans: each distinct document is parsed once (bounded, least recently used
 * first), and each of its operations gets a plan once: whether it is a plain query (what
 * coalescing may share) and what the response cache may do with it. Owned by the plugin that
 * created it; `setSchema` (Yoga's onSchemaChange) forgets every plan of the previous schema.
 */
export class OperationPlans {
  readonly #documents: LRUCache<string, DocumentEntry>;
  readonly #maxDocumentLength: number;
  readonly #entityKeys: EntityKeys | undefined;
  #schema: GraphQLSchema | undefined;
  #schemaDigest = '';

  constructor(options: OperationPlansOptions) {
    this.#documents = new LRUCache({ max: options.maxDocuments });
    this.#maxDocumentLength = options.maxDocumentLength;
    this.#entityKeys = options.entityKeys;
  }

  /** The schema plans are made for; undefined before Yoga announced one. */
  get schema(): GraphQLSchema | undefined {
    return this.#schema;
  }

  setSchema(schema: GraphQLSchema): void {
    this.#schema = schema;
    // Responses of another schema (another deploy on the same Redis) are never served.
    this.#schemaDigest = digest(printSchema(schema)).slice(0, 16);
    this.#documents.clear();
  }

  /** The plan of an operation, or undefined when the document cannot be used. */
  plan(query: string, operationName: string | null | undefined): Plan | undefined {
    const entry = this.#document(query);
    if (entry?.document == null || entry.types === null || this.#schema === undefined) return undefined;
    // '' is a name (one Yoga will not find), kept apart from no name at all.
    const name = operationName == null ? '' : `=${operationName}`;
    let plan = entry.plans.get(name);
    if (plan === undefined) {
      let policy = responsePolicy(this.#schema, entry.document, operationName);
      const mutation =
        (operationName == null ? [...entry.types.values()][0] : entry.types.get(operationName)) ===
        OperationTypeNode.MUTATION;
      const entities =
        policy.cacheable || mutation
          ? entityPlan(this.#schema, entry.document, operationName, this.#entityKeys)
          : undefined;
      if (policy.cacheable && entities === undefined) {
        policy = { cacheable: false, reason: 'the entities of its result cannot be told apart' };
      }
      plan = {
        policy,
        ttlMs: policy.cacheable ? policy.ttlMs : 0,
        staleWhileRevalidateMs: policy.cacheable ? policy.staleWhileRevalidateMs : 0,
        staleIfErrorMs: policy.cacheable ? policy.staleIfErrorMs : 0,
        // One short digest for schema, document and operation keeps a key's encoding short (no
        // hashing of the whole key on every lookup) for all but long variables.
        prefix: `response:${digest(`${this.#schemaDigest}\0${entry.digest}\0${name}`).slice(0, 22)}:`,
        mutation,
        ...(entities === undefined ? {} : { entities }),
      };
      // Bounded: one per operation that exists in the document.
      const exists =
        operationName == null
          ? entry.types.size === 1
          : operationName !== '' && entry.types.has(operationName);
      if (exists) entry.plans.set(name, plan);
    }
    return plan;
  }

  /**
   * The document as parsed here, with nothing added: what an operation that no plan rewrites
   * executes. Undefined when it is too long for this cache or does not parse.
   */
  document(query: string): DocumentNode | undefined {
    return this.#document(query)?.document ?? undefined;
  }

  /** Whether the selected operation is a query without @defer/@stream (parsed once per document). */
  isPlainQuery(query: string, operationName: string | null | undefined): boolean {
    const types = this.#document(query)?.types;
    if (types == null) return false;
    const type =
      operationName != null
        ? types.get(operationName)
        : types.size === 1
          ? [...types.values()][0]
          : undefined;
    return type === OperationTypeNode.QUERY;
  }

  #document(query: string): DocumentEntry | undefined {
    if (query.length > this.#maxDocumentLength) return undefined;
    let entry = this.#documents.get(query);
    if (entry === undefined) {
      entry = documentEntry(query);
      this.#documents.set(query, entry);
    }
    return entry;
  }
}

function documentEntry(query: string): DocumentEntry {
  const entry: DocumentEntry = { document: null, digest: digest(query), types: null, plans: new Map() };
  try {
    entry.document = parse(query);
  } catch {
    return entry; // Yoga reports the syntax error; nothing to coalesce
  }
  let streams = false;
  visit(entry.document, {
    Directive(node) {
      if (node.name.value === 'defer' || node.name.value === 'stream') streams = true;
    },
  });
  if (streams) return entry;
  entry.types = new Map();
  for (const definition of entry.document.definitions) {
    if (definition.kind === 'OperationDefinition')
      entry.types.set(definition.name?.value ?? '', definition.operation);
  }
  return entry;
}

/** sha256 of `text`, base64url. */
export function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}
