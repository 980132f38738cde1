import { createHash } from 'node:crypto';
import { type ExecutionResult, GraphQLError } from 'graphql';
import type { OnParamsEventPayload } from 'graphql-yoga';
import { encodeValue } from '../cache/encode-value.js';
import { FlightTimeoutError, ValueTooDeepError } from '../errors.js';
import { SingleFlight } from '../flight/single-flight.js';

/** What Yoga's params handler resolves: one result, or a stream of them. */
export type HandlerResult = Awaited<ReturnType<OnParamsEventPayload['paramsHandler']>>;

/**
 * Coalescing: identical concurrent query operations, with the same document, operation name,
 * variables and credentials, execute once, and every requester gets the same result. The caller
 * decides what may coalesce (plain queries only); this class owns the flight map and its counts.
 * Requests of different credentials never share an execution, and a request with a bad token
 * shares only the 401 of the same bad token.
 */
export class Coalescing {
  readonly #flight: SingleFlight;
  /** Executions started by requests that could share them (each one MISS). */
  started = 0;
  /** Requests that shared another request's execution (COALESCED). */
  joined = 0;

  /** Executions by key, and when each began (performance.now()). */
  readonly #began = new Map<string, number>();
  readonly #maxJoinAgeMs: () => number;

  /**
   * `maxJoinAgeMs`: an execution older than this is not joined (a new request starts its own);
   * with Redis, the bound within which another process's invalidation reaches this one even when
   * its message is lost (see FlightCache.lostMessageBoundMs). Default: no bound.
   */
  constructor(options: { timeoutMs: number; maxJoinAgeMs?: () => number }) {
    this.#flight = new SingleFlight({ timeoutMs: options.timeoutMs });
    this.#maxJoinAgeMs = options.maxJoinAgeMs ?? (() => Number.POSITIVE_INFINITY);
  }

  /**
   * Runs `execute` once for every concurrent request of the same operation, variables and
   * credentials; `shared` is told whether this request joined another's execution. Past the
   * flight's deadline the request that started the execution still gets its own result; the ones
   * that waited get a 503.
   */
  run(
    key: string,
    execute: () => HandlerResult | Promise<HandlerResult>,
    shared: (joined: boolean) => void,
  ): Promise<HandlerResult> {
    let running: HandlerResult | Promise<HandlerResult> | undefined;
    const began = this.#began.get(key);
    // Too old to join: an invalidation whose message was lost may have come since it began.
    if (began !== undefined && performance.now() - began > this.#maxJoinAgeMs()) this.#flight.forget(key);
    const joined = this.#flight.join(key, () => {
      const at = performance.now();
      this.#began.set(key, at);
      running = execute();
      void Promise.resolve(running)
        .catch(() => {})
        .then(() => {
          if (this.#began.get(key) === at) this.#began.delete(key);
        });
      return running;
    });
    if (joined.shared) this.joined++;
    else this.started++;
    shared(joined.shared);
    return joined.result.catch((error: unknown) => {
      if (running !== undefined) return running;
      if (error instanceof FlightTimeoutError) return deadlinePassed(error);
      throw error;
    });
  }
}

/**
 * The identity of an operation for coalescing: the credentials (hashed, so no token sits in
 * memory as a key), the operation name, the document and the variables with keys sorted. The key
 * lives only while the operation is in flight, so the document is used as it is. Throws what
 * encodeValue throws for variables it refuses (too deep: see badVariables).
 */
export function operationKey(
  query: string,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  authorization: string | null,
): string {
  const scope = authorization === null ? '' : createHash('sha256').update(authorization).digest('base64url');
  const vars = variables === null || variables === undefined ? '' : encodeValue(variables);
  const name = operationName == null ? '' : `=${operationName}`;
  return `${scope}\0${name}\0${vars}\0${query}`;
}

/**
 * The answer to a request whose variables cannot be keyed (nested deeper than encodeValue's bound,
 * or holding what JSON cannot carry): a 400 that says why, before anything executes.
 */
export function badVariables(error: unknown): ExecutionResult {
  const message =
    error instanceof ValueTooDeepError
      ? `the variables nest deeper than ${error.maxDepth} levels`
      : `the variables cannot be used: ${error instanceof Error ? error.message : String(error)}`;
  return {
    errors: [new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } })],
  };
}

/** What a request that waited for an execution past its flight's deadline gets: a 503. */
export function deadlinePassed(error: FlightTimeoutError): ExecutionResult {
  return {
    errors: [
      new GraphQLError(`the shared execution passed its ${error.timeoutMs} ms deadline`, {
        extensions: { code: 'EXECUTION_TIMEOUT', http: { status: 503 } },
      }),
    ],
  };
}
