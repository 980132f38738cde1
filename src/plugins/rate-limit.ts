import type { IncomingMessage } from 'node:http';
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  getOperationAST,
  Kind,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { RateLimit, RateLimiter } from './rate-limiter.js';

/** The context fields the rate limit reads: the verified viewer, and node:http's request (Yoga's server context). */
export type RateLimitContext = {
  viewer?: { customerId: number } | null;
  req?: Pick<IncomingMessage, 'socket'>;
};

export interface RateLimitOptions {
  limiter: RateLimiter;
}

/** The error a refused mutation gets: code RATE_LIMITED, HTTP 429 with Retry-After (whole seconds, rounded up). */
export function rateLimited(limit: RateLimit, cost: number, retryAfterMs: number): GraphQLError {
  const rule = `${limit.burst} mutations at once, then ${limit.perSecond} per second`;
  if (!Number.isFinite(retryAfterMs)) {
    return new GraphQLError(
      `rate limit: this operation holds ${cost} mutations, more than the ${rule} allow; send at most ${limit.burst} per operation`,
      { extensions: { code: 'RATE_LIMITED', http: { status: 429 } } },
    );
  }
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1_000));
  return new GraphQLError(`rate limit: at most ${rule}; retry in ${seconds} s`, {
    extensions: {
      code: 'RATE_LIMITED',
      retryAfter: seconds,
      http: { status: 429, headers: { 'Retry-After': String(seconds) } },
    },
  });
}

/**
 * The budget a request spends: `viewer:<customerId>` for a verified viewer (an operator's token
 * spends its customer's budget: operators are limited like everyone), `address:<ip>` for an
 * anonymous request on node:http (the socket's peer; X-Forwarded-For is not trusted, it would
 * give a flood a budget per request), and one shared `anonymous` budget when there is no socket.
 */
export function rateLimitKey(context: RateLimitContext): string {
  if (context.viewer != null) return `viewer:${context.viewer.customerId}`;
  const address = context.req?.socket?.remoteAddress;
  return address === undefined ? 'anonymous' : `address:${address}`;
}

/**
 * How many mutations an operation runs: each root field (fragments flattened, `__typename` not
 * counted), at least one.
 */
export function mutationCount(document: DocumentNode, selectionSet: SelectionSetNode): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const seen = new Set<string>();
  const count = (set: SelectionSetNode): number => {
    let fields = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value !== '__typename') fields++;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        fields += count(selection.selectionSet);
      } else {
        // Validation refuses fragment cycles; `seen` keeps an unvalidated document finite too.
        const fragment = fragments.get(selection.name.value);
        if (fragment === undefined || seen.has(fragment.name.value)) continue;
        seen.add(fragment.name.value);
        fields += count(fragment.selectionSet);
      }
    }
    return fields;
  };
  return Math.max(1, count(selectionSet));
}

/**
 * The per-viewer rate limit of mutations (issue 12). Each mutation operation takes one token per
 * mutation field from its viewer's bucket (rateLimitKey) in onExecute, after parsing, validation
 * and the context (the verified viewer), before any resolver runs: a refused operation runs none
 * of its fields and writes nothing, and gets `rateLimited`'s error, which Yoga answers as HTTP 429
 * with Retry-After. Queries and subscriptions are not limited.
 *
 * A batch (Yoga's `batching`, off in this server) executes each operation on its own, so each one
 * takes its tokens; Yoga answers a batch 200, so onResponse makes it a 429 with Retry-After when
 * every operation of it was refused, and adds Retry-After when only some were.
 */
export function useRateLimit<TContext extends RateLimitContext>(options: RateLimitOptions): Plugin<TContext> {
  const { limiter } = options;
  /** Per request (batches): operations executed, those refused, and the longest Retry-After. */
  const requests = new WeakMap<Request, { executed: number; refused: number; retryAfter: number }>();
  return {
    // Synchronous for anything but a mutation: a query's execution starts in the same tick as
    // without this plugin (the response cache's ordering relies on it).
    onExecute({ args, setResultAndStopExecution }) {
      const context = args.contextValue as TContext & { request?: Request };
      let seen: { executed: number; refused: number; retryAfter: number } | undefined;
      if (context.request !== undefined) {
        seen = requests.get(context.request) ?? { executed: 0, refused: 0, retryAfter: 0 };
        seen.executed++;
        requests.set(context.request, seen);
      }
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== 'mutation') return;
      const cost = mutationCount(args.document, operation.selectionSet);
      return limiter.consume(rateLimitKey(context), cost).then((decision) => {
        if (decision.allowed) return;
        const error = rateLimited(limiter.limit, cost, decision.retryAfterMs);
        if (seen !== undefined) {
          seen.refused++;
          seen.retryAfter = Math.max(seen.retryAfter, Number(error.extensions.retryAfter ?? 0));
        }
        setResultAndStopExecution({ errors: [error] });
      });
    },
    onResponse({ request, response, setResponse, fetchAPI }) {
      const seen = requests.get(request);
      if (seen === undefined || seen.refused === 0 || response.status === 429) return;
      const headers = new fetchAPI.Headers(response.headers);
      if (seen.retryAfter > 0) headers.set('Retry-After', String(seen.retryAfter));
      const status = seen.refused === seen.executed ? 429 : response.status;
      setResponse(new fetchAPI.Response(response.body, { status, headers }));
    },
  };
}
