import { createHash } from 'node:crypto';
import { type DocumentNode, Kind, OperationTypeNode, parse, visit } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';
import { SingleFlight, type SingleFlightStats } from '../flight/single-flight.js';
import { stableStringify } from './field-key.js';

export type CacheOutcome = 'MISS' | 'COALESCED';

export interface OperationCoalescingOptions {
  /** Deadline of one shared execution; past it every requester gets a timeout error. Default 10 000. */
  timeoutMs?: number;
  /** Documents whose operation types are remembered (parsing once per distinct document). Default 1 000. */
  maxDocuments?: number;
  /**
   * Longer documents are not coalesced (nor parsed here): it bounds the parsing an anonymous
   * client can cause before the server's own limits apply, and the memory of the shape cache.
   * Default 10 000 characters.
   */
  maxDocumentLength?: number;
}

/** Per distinct query text: the type of each operation by name ('' for an anonymous one), or null if unusable. */
type DocumentShape = Map<string, OperationTypeNode> | null;

/**
 * Operation coalescing (a Yoga plugin): identical concurrent query operations, with the same
 * document, operation name, variables and credentials, execute once, and every requester gets the
 * same result. `X-Cache: MISS` marks the request that executed, `X-Cache: COALESCED` the ones that
 * shared its execution; `Cache-Status` (RFC 9211) says the same in the standard vocabulary.
 *
 * Only queries coalesce: never mutations or subscriptions, nor operations with @defer or @stream
 * (their results are streams). The scope of a request is its exact `Authorization` header (or
 * none): requests of different viewers never share an execution, and a request with a bad token
 * shares only the 401 of the same bad token. The shared result object is serialised once per
 * response and never mutated.
 */
export class OperationCoalescing {
  readonly #flight: SingleFlight;
  readonly #shapes: LRUCache<string, { shape: DocumentShape }>;
  readonly #outcomes = new WeakMap<Request, CacheOutcome>();
  readonly #maxDocumentLength: number;

  constructor(options: OperationCoalescingOptions = {}) {
    this.#maxDocumentLength = options.maxDocumentLength ?? 10_000;
    this.#flight = new SingleFlight({ timeoutMs: options.timeoutMs ?? 10_000 });
    this.#shapes = new LRUCache({ max: options.maxDocuments ?? 1_000 });
  }

  /** Executions started (`started`) and requests that shared one (`joined`). */
  stats(): SingleFlightStats {
    return this.#flight.stats();
  }

  plugin(): Plugin {
    return {
      onParams: ({ params, request, paramsHandler, setParamsHandler }) => {
        if (typeof params.query !== 'string' || !this.#isPlainQuery(params.query, params.operationName))
          return;
        const key = operationKey(
          params.query,
          params.operationName,
          params.variables,
          request.headers.get('authorization'),
        );
        setParamsHandler((payload) => {
          const joined = this.#flight.join(key, () => paramsHandler(payload));
          this.#outcomes.set(request, joined.shared ? 'COALESCED' : 'MISS');
          return joined.result;
        });
      },
      onResponse: ({ request, response }) => {
        const outcome = this.#outcomes.get(request);
        if (outcome === undefined) return;
        response.headers.set('X-Cache', outcome);
        response.headers.set(
          'Cache-Status',
          outcome === 'MISS' ? 'graphql-flight; fwd=miss' : 'graphql-flight; fwd=miss; collapsed',
        );
      },
    };
  }

  /** Whether the selected operation is a query without @defer/@stream (parsed once per document). */
  #isPlainQuery(query: string, operationName: string | null | undefined): boolean {
    if (query.length > this.#maxDocumentLength) return false;
    let entry = this.#shapes.get(query);
    if (entry === undefined) {
      entry = { shape: shapeOf(query) };
      this.#shapes.set(query, entry);
    }
    const { shape } = entry;
    if (shape === null) return false;
    const type = operationName
      ? shape.get(operationName)
      : shape.size === 1
        ? [...shape.values()][0]
        : undefined;
    return type === OperationTypeNode.QUERY;
  }
}

/** Creates the plugin with a coalescing state of its own. */
export function useOperationCoalescing(options?: OperationCoalescingOptions): Plugin {
  return new OperationCoalescing(options).plugin();
}

/**
 * The identity of an operation: the credentials (hashed, so no token sits in memory as a key), the
 * operation name, the document and the variables with keys sorted. The key lives only while the
 * operation is in flight, so the document is used as it is rather than hashed on every request.
 */
function operationKey(
  query: string,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  authorization: string | null,
): string {
  const scope = authorization === null ? '' : createHash('sha256').update(authorization).digest('base64url');
  const vars = variables === null || variables === undefined ? '' : stableStringify(variables);
  return `${scope}\0${operationName ?? ''}\0${vars}\0${query}`;
}

function shapeOf(query: string): DocumentShape {
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch {
    return null; // Yoga reports the syntax error; nothing to coalesce
  }
  let streams = false;
  visit(document, {
    Directive(node) {
      if (node.name.value === 'defer' || node.name.value === 'stream') streams = true;
    },
  });
  if (streams) return null;
  const shape = new Map<string, OperationTypeNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION)
      shape.set(definition.name?.value ?? '', definition.operation);
  }
  return shape;
}
