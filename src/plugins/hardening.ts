import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { ServerOptions as HttpServerOptions } from 'node:http';
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import {
  type ExecutionArgs,
  type ExecutionResult,
  GraphQLError,
  getOperationAST,
  type ValidationContext,
} from 'graphql';
import {
  createGraphQLError,
  handleStreamOrSingleExecutionResult,
  type Plugin,
  type YogaInitialContext,
  type YogaLogger,
  maskError as yogaMaskError,
} from 'graphql-yoga';
import { InvalidOptionError } from 'graphql-flight';
import type { WriteProgress } from '../app/data/index.js';
import { keyFingerprint } from './flight-stats.js';

/**
 * The limits of the HTTP edge (issue 6). Every one is a positive integer; src/config.ts reads each
 * from its variable (named beside it) and `.env.example` lists them.
 */
export interface HardeningLimits {
  /** MAX_DEPTH: deepest field nesting an operation may select. Fragments count for the fields they
   * hold, not as a level of their own; introspection's `__schema` field is not counted. */
  maxDepth: number;
  /** MAX_ALIASES: aliased fields per operation, fragments included (each spread counts again). */
  maxAliases: number;
  /** MAX_TOKENS: lexical tokens per document, counted while parsing (stops parsing at the limit). */
  maxTokens: number;
  /** MAX_COST: graphql-armor's cost (objects 2, scalars 1, times 1.5 per level, each fragment spread
   * counted). List arguments (`limit`, `ids`) do not multiply it: the resolvers cap those at 100. */
  maxCost: number;
  /** MAX_DIRECTIVES: directives per operation. */
  maxDirectives: number;
  /** MAX_BODY_BYTES: request body size; a larger one is a 413 before it is parsed. */
  maxBodyBytes: number;
  /** EXECUTION_TIMEOUT_MS: an operation's execution deadline; past it the client gets a 503
   * `EXECUTION_TIMEOUT` error and the executor starts no further resolver; the execution's signal
   * aborts, so loads nobody waits for stop and a write not yet committing is rolled back (see
   * useExecutionDeadline). */
  executionTimeoutMs: number;
  /** REQUEST_TIMEOUT_MS: node:http `requestTimeout`, the time a client has to send a whole request. */
  requestTimeoutMs: number;
  /** HEADERS_TIMEOUT_MS: node:http `headersTimeout`, the time to send the headers (≤ the request's). */
  headersTimeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<HardeningLimits> = Object.freeze({
  maxDepth: 6,
  maxAliases: 15,
  maxTokens: 1_000,
  maxCost: 5_000,
  maxDirectives: 50,
  maxBodyBytes: 100_000,
  executionTimeoutMs: 15_000,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
});

/** Where unexpected errors are logged: Yoga's logger unless another is given. */
export type ErrorLogger = Pick<YogaLogger, 'error'>;

export interface HardeningOptions {
  /** Limits to use; each one absent takes its DEFAULT_LIMITS value. */
  limits?: Partial<HardeningLimits> | undefined;
  /** Production turns introspection and "Did you mean" suggestions off. */
  production: boolean;
  /** Receives every unexpected (masked) error; default: the Yoga server's logger. */
  logger?: ErrorLogger;
}

/** What an unexpected error becomes for the client, whatever the mode. */
export const MASKED_MESSAGE = 'Unexpected error.';

/** The context fields hardening reads: the per-server secret of key fingerprints (flightStats'). */
export type HardeningContext = {
  fingerprintSecret?: Uint8Array;
};

/**
 * The Yoga/envelop plugins of the HTTP edge, in the order they must run. Push them after operation
 * coalescing: the execution it shares runs through these plugins like any other, so a shared
 * result has passed the limits and is masked before anyone receives it.
 *
 * - body size: `useBodyLimit` (a 413 before parsing);
 * - tokens, depth, aliases, cost, directives: graphql-armor; tokens while parsing, the others as
 *   validation rules, so an over-limit operation is refused before any resolver runs;
 * - production: Yoga's useDisableIntrospection and armor's block-field-suggestions;
 * - `useExecutionDeadline`, then `useLoggedErrorMasking` (logs each unexpected error with its
 *   operation and key fingerprint, then masks it).
 *
 * Batching stays off: Yoga refuses an array body unless `batching` is set, and nothing sets it.
 */
export function createHardeningPlugins<TContext extends HardeningContext>(
  options: HardeningOptions,
): Array<Plugin<TContext>> {
  const limits = resolveLimits(options.limits);
  // Over-limit rules report to the validation context, so Yoga answers them as any invalid
  // document (all errors together; a 400 for application/graphql-response+json, a 200 for
  // application/json). Token counting happens inside the parser, which has no context: that rule
  // throws, and Yoga answers it as a syntax error.
  const report = {
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) => {
        context?.reportError(
          new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
            extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
          }),
        );
      },
    ],
  };
  const armor = new EnvelopArmor<YogaInitialContext & TContext>({
    maxTokens: { n: limits.maxTokens },
    // Fragments flattened: depth and cost are those of the fields a fragment brings in, whatever
    // its name (a fragment named __schema is counted: GHSA-733v-p3h5-qpq7). armor 3.2 counts a
    // fragment once per spread and caches it, so fragment cycles terminate (armor PR #824).
    maxDepth: { n: limits.maxDepth, flattenFragments: true, ...report },
    costLimit: { maxCost: limits.maxCost, flattenFragments: true, ...report },
    maxAliases: { n: limits.maxAliases, ...report },
    maxDirectives: { n: limits.maxDirectives, ...report },
    blockFieldSuggestion: { enabled: options.production, mask: '' },
  });
  return [
    useBodyLimit(limits.maxBodyBytes),
    ...armor.protect().plugins,
    ...(options.production ? [useDisableIntrospection<TContext>()] : []),
    useExecutionDeadline(limits.executionTimeoutMs),
    useLoggedErrorMasking<TContext>(options.logger === undefined ? {} : { logger: options.logger }),
  ];
}

/** DEFAULT_LIMITS overridden by `limits`; throws InvalidOptionError for a value that is not a positive integer. */
export function resolveLimits(limits: Partial<HardeningLimits> = {}): HardeningLimits {
  const resolved = { ...DEFAULT_LIMITS };
  for (const [name, value] of Object.entries(limits) as Array<[keyof HardeningLimits, unknown]>) {
    if (value === undefined) continue;
    if (!(name in DEFAULT_LIMITS)) throw new InvalidOptionError(`limits.${name}`, 'a known limit', name);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new InvalidOptionError(`limits.${name}`, 'a positive integer', value);
    }
    resolved[name] = value;
  }
  if (resolved.headersTimeoutMs > resolved.requestTimeoutMs) {
    throw new InvalidOptionError(
      'limits.headersTimeoutMs',
      `at most limits.requestTimeoutMs (${resolved.requestTimeoutMs})`,
      resolved.headersTimeoutMs,
    );
  }
  return resolved;
}

/**
 * node:http options for the listener (main.ts): Node answers 408 and closes the connection of a
 * client that has not sent its headers within `headersTimeoutMs` or its whole request within
 * `requestTimeoutMs` (slowloris). Node checks these every `connectionsCheckingInterval` (30 s by
 * default), so the interval is brought down to at most a second.
 */
export function httpServerOptions(
  limits: Pick<HardeningLimits, 'requestTimeoutMs' | 'headersTimeoutMs'>,
): Pick<HttpServerOptions, 'requestTimeout' | 'headersTimeout' | 'connectionsCheckingInterval'> {
  return {
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
  };
}

function bodyTooLarge(maxBytes: number): GraphQLError {
  return createGraphQLError(`Request body too large: the limit is ${maxBytes} bytes`, {
    extensions: { code: 'REQUEST_ENTITY_TOO_LARGE', http: { status: 413 } },
  });
}

/**
 * Refuses a request body over `maxBytes` with a 413, before it is parsed: at once by its
 * Content-Length, and while it is read when it has none (chunked), so no more than `maxBytes` are
 * buffered. Yoga's own limit (25 MB, `maxRequestBodySize`) stays behind it.
 */
export function useBodyLimit<TContext extends HardeningContext>(maxBytes: number): Plugin<TContext> {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      const length = request.headers.get('content-length');
      if (length !== null && /^[0-9]+$/.test(length)) {
        if (Number(length) > maxBytes) throw bodyTooLarge(maxBytes);
        // HTTP framing ends the body at its Content-Length: nothing more to count. (A malformed
        // Content-Length is left to Yoga's own limit: a 400.)
        return;
      }
      // Yoga's parsers are registered before user plugins, so the one for this request is known.
      if (requestParser === undefined || request.body === null) return;
      const parse = requestParser;
      setRequestParser((original) => {
        const body = original.body;
        if (body === null) return parse(original);
        // The same TransformStream choice as Yoga's own limit (graphql-yoga issue 4583): a native
        // stream needs the native TransformStream.
        const Transform =
          body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
        let read = 0;
        const limited = body.pipeThrough(
          new Transform<Uint8Array, Uint8Array>({
            transform(chunk, controller) {
              read += chunk.byteLength;
              if (read > maxBytes) controller.error(bodyTooLarge(maxBytes));
              else controller.enqueue(chunk);
            },
          }),
        );
        return parse(
          new fetchAPI.Request(original.url, {
            method: original.method,
            headers: original.headers,
            signal: original.signal,
            body: limited,
            duplex: 'half',
          } as RequestInit),
        );
      });
    },
  };
}

/** Where an execution's tracked writes stand (see noteWrite). */
interface Writes {
  /** Transactions opened, COMMITs sent, COMMITs acknowledged. */
  writing: number;
  committing: number;
  committed: number;
}

/** The signal and the writes of the execution running with a context. */
const executions = new WeakMap<object, { signal: AbortSignal; writes: Writes }>();

/**
 * The signal of the execution running with `context`: it aborts at the execution's deadline and
 * when the request is abandoned. Loaders and data sources pass it on, so work nobody waits for
 * stops (undefined before the execution starts, or without useExecutionDeadline).
 */
export function executionSignal(context: object): AbortSignal | undefined {
  return executions.get(context)?.signal;
}

/**
 * Records how far a write of the execution running with `context` got (a data source's progress
 * callback), so that an execution past its deadline tells its client the truth about it: rolled
 * back, committed, or being committed (outcome unknown).
 */
export function noteWrite(context: object, state: WriteProgress): void {
  const writes = executions.get(context)?.writes;
  if (writes !== undefined) writes[state]++;
}

/** The deadline error, saying what became of the writes the execution had started. */
function deadlineError(timeoutMs: number, writes: Writes): GraphQLError {
  const inDoubt = writes.committing - writes.committed;
  const rolledBack = writes.writing - writes.committing;
  let write: 'unknown' | 'committed' | 'rolled-back' | undefined;
  let message = `the operation exceeded its ${timeoutMs} ms deadline`;
  if (inDoubt > 0) {
    write = 'unknown';
    message += ': a write was being committed and may have been applied; read it back before you retry';
  } else if (writes.committed > 0) {
    write = 'committed';
    message +=
      rolledBack > 0 ? '; one write was committed, another rolled back' : '; its write was committed';
  } else if (rolledBack > 0) {
    write = 'rolled-back';
    message += '; its write was rolled back (nothing was saved): it is safe to retry';
  }
  return createGraphQLError(message, {
    extensions: {
      code: 'EXECUTION_TIMEOUT',
      http: { status: 503 },
      ...(write === undefined ? {} : { write }),
    },
  });
}

/**
 * Gives each execution a deadline. Past it the client gets a 503 `EXECUTION_TIMEOUT` error, and
 * the execution's signal aborts: graphql-tools' executor starts no further field, resolvers see it
 * as `info.signal` (the field cache passes it on), loaders as executionSignal(context), and the
 * data source stops what nobody waits for any more. A write is rolled back if it had not begun to
 * commit; the error says what became of it (extensions.write).
 */
export function useExecutionDeadline<TContext extends HardeningContext>(timeoutMs: number): Plugin<TContext> {
  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn((args: ExecutionArgs & { signal?: AbortSignal }) => {
        const controller = new AbortController();
        const signal =
          args.signal === undefined ? controller.signal : AbortSignal.any([args.signal, controller.signal]);
        // Every cached field and loader batch of the execution listens to it while it waits (and
        // stops when it is answered): many at once is normal, not a leak.
        setMaxListeners(0, signal);
        const writes: Writes = { writing: 0, committing: 0, committed: 0 };
        if (typeof args.contextValue === 'object' && args.contextValue !== null) {
          executions.set(args.contextValue, { signal, writes });
        }
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<ExecutionResult>((resolve) => {
          timer = setTimeout(() => {
            const error = deadlineError(timeoutMs, writes);
            resolve({ errors: [error] });
            controller.abort(error);
          }, timeoutMs);
        });
        const withSignal: ExecutionArgs & { signal: AbortSignal } = { ...args, signal };
        // Promise.race subscribes to both, so a rejection after the deadline won is handled.
        const run = Promise.resolve(executeFn(withSignal)).finally(() => clearTimeout(timer));
        return Promise.race([run, deadline]);
      });
    },
  };
}

/**
 * Masks every unexpected error of an execution (anything but a GraphQLError made on purpose, as
 * Yoga decides) as "Unexpected error." with no message, stack or `originalError`, in every mode,
 * after logging it with the operation and, when the error names a cache key, the key's
 * fingerprint (the same HMAC flightStats shows; the key itself is replaced by it in the log).
 *
 * It runs in `onExecuteDone`, before Yoga's own masking (Yoga's built-in plugins come after user
 * plugins), which then sees nothing left to mask. Errors outside execution (a throwing context
 * factory) are masked by Yoga; in `onResultProcess` this plugin removes the `originalError` Yoga
 * adds to them when the process runs with NODE_ENV=development.
 */
export function useLoggedErrorMasking<TContext extends HardeningContext>(
  options: { logger?: ErrorLogger } = {},
): Plugin<TContext> {
  let logger: ErrorLogger = options.logger ?? { error: (...args) => console.error(...args) };
  const fallbackSecret = randomBytes(32);
  return {
    onYogaInit({ yoga }) {
      if (options.logger === undefined) logger = yoga.logger;
    },
    onExecute({ args }) {
      return {
        onExecuteDone(payload) {
          return handleStreamOrSingleExecutionResult(payload, ({ result, setResult }) => {
            if (result.errors === undefined || result.errors.length === 0) return;
            let changed = false;
            const errors = result.errors.map((error) => {
              const masked = yogaMaskError(error, MASKED_MESSAGE, false);
              if (masked === error) return error;
              changed = true;
              const operation = getOperationAST(args.document, args.operationName);
              const context = args.contextValue as HardeningContext | undefined;
              logUnexpected(logger, error, {
                operation: `${operation?.operation ?? 'operation'} ${operation?.name?.value ?? args.operationName ?? '(anonymous)'}`,
                secret: context?.fingerprintSecret ?? fallbackSecret,
              });
              return masked as GraphQLError;
            });
            if (changed) setResult({ ...result, errors });
          });
        },
      };
    },
    onResultProcess({ result, setResult }) {
      if (Symbol.asyncIterator in result) return;
      const results = Array.isArray(result) ? result : [result];
      if (!results.some((one) => one.errors?.some(revealsOriginal))) return;
      const stripped = results.map((one) => ({
        ...one,
        errors: one.errors?.map((error) => {
          if (!revealsOriginal(error)) return error;
          const { originalError: _hidden, ...extensions } = error.extensions;
          return createGraphQLError(error.message, {
            nodes: error.nodes ?? null,
            path: error.path ?? null,
            extensions,
          });
        }),
      }));
      setResult(Array.isArray(result) ? stripped : stripped[0]!);
    },
  };
}

/**
 * A masked unexpected error that still carries its original (Yoga adds it in development mode).
 * Yoga's own client errors (a body that is not JSON) keep their `originalError` detail: it
 * describes the client's input, not the server.
 */
function revealsOriginal(error: GraphQLError): boolean {
  return error.extensions?.unexpected === true && error.extensions.originalError !== undefined;
}

/** Logs an unexpected error: operation, key fingerprint (never the key), name, code, message, stack. */
function logUnexpected(
  logger: ErrorLogger,
  error: GraphQLError,
  where: { operation: string; secret: Uint8Array },
): void {
  const original: unknown = error.originalError ?? error;
  const key = findKey(original);
  const fingerprint = key === undefined ? undefined : keyFingerprint(where.secret, key);
  const hide = (text: string | undefined) =>
    text === undefined || key === undefined ? text : text.split(key).join(`#${fingerprint}`);
  const details = original instanceof Error ? original : new Error(String(original));
  logger.error(
    `unexpected error in ${where.operation}${fingerprint === undefined ? '' : ` (key #${fingerprint})`}: ${hide(`${details.name}: ${details.message}`)}`,
    {
      operation: where.operation,
      path: error.path?.join('.'),
      fingerprint,
      code: (details as { code?: unknown }).code,
      stack: hide(details.stack),
    },
  );
}

/** The cache key an error (or its cause chain) concerns: FlightError's `key`. */
function findKey(error: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof error !== 'object' || error === null) return undefined;
  const candidate = error as { key?: unknown; originalError?: unknown; cause?: unknown };
  if (typeof candidate.key === 'string' && candidate.key !== '') return candidate.key;
  return findKey(candidate.originalError, depth + 1) ?? findKey(candidate.cause, depth + 1);
}
