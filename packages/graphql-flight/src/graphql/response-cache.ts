import type { ExecutionResult } from 'graphql';
import { encodeValue } from '../cache/encode-value.js';
import { type FlightCache, Reads } from '../cache/flight-cache.js';
import { FlightError, FlightTimeoutError, InvalidOptionError } from '../errors.js';
import { deadlinePassed, type HandlerResult } from './coalescing.js';
import { type RequestLike, regularMediaType } from './http.js';
import { digest, type OperationPlans, type Plan } from './operation-plans.js';
import {
  type Answer,
  answerOf,
  type Found,
  type Served,
  type StoredResponse,
  storableBody,
  storedReply,
} from './response-answers.js';
import { responseKey } from './response-keys.js';
import { resultTags } from './response-tags.js';

export interface ResponseCacheOptions {
  /** Where responses are stored: with Redis, shared by the fleet and filled once for all of it. */
  cache: FlightCache;
  /**
   * Whether a request with this Authorization header may be answered with a public cached
   * response (resolve true when the credentials are valid; false or a rejection: the request
   * runs through Yoga, which answers it, a 401 included). Default: requests with an
   * Authorization header never use the response cache.
   */
  authorize?: (authorization: string) => boolean | Promise<boolean>;
  /**
   * A POST body is read ahead of Yoga (to answer a hit before parsing) only when its
   * Content-Length is at most this; keep it at the server's body limit. Default 100 000.
   */
  maxBodyBytes?: number;
  /** Responses longer than this many characters are not stored. Default 1 000 000. */
  maxResponseLength?: number;
}

/** A result that must not be stored (it has errors or extensions): it still answers the flight. */
interface Unstored {
  unstored: HandlerResult;
}

/**
 * An execution of a stored response's flight produced a result that is not stored, and fails the
 * flight's load so that the cache's windows apply (E_LOAD_FAILED): inside the error window the
 * stale response answers instead of it (a miss's execution whose result failed), and a background
 * refresh that produced nothing to store is counted as failed and backs off (the error
 * `onRefreshError` gets). `result` still answers the requests that waited for it when there is no
 * stale response.
 */
export class UnstoredResponseError extends FlightError {
  readonly result: HandlerResult;
  constructor(key: string, result: HandlerResult, why: string) {
    super('E_LOAD_FAILED', `the execution of response "${key}" ${why}: nothing was stored`, { key });
    this.result = result;
  }
}

/** What one response flight produces: a stored response, or a result that answers its flight only. */
type Flown = StoredResponse | Unstored;

// A stored response is sized by the memory tier's estimate of what it holds (its body, one or
// two bytes a character as V8 keeps it, and its ETag), so large responses bound it by bytes.
const CACHE_OPTIONS = {
  shouldStore: (value: Flown) => !('unstored' in value),
};

/**
 * How a response flight this process runs ends, for the requests the front door holds on it: the
 * stored response (`stale`: a stale one, and why), its deadline passed, or neither (an unstored
 * result, a failure: Yoga answers).
 */
export type FlightEnd =
  | { stored: StoredResponse; stale?: 'revalidate' | 'error' }
  | { timeout: FlightTimeoutError }
  | undefined;

const JSON_TYPES = /^application\/(json|graphql\+json)\s*(;|$)/i;

/**
 * The response cache's core, shared by the Yoga plugin and the node:http front door: which
 * requests it may answer and under which key (`find`), the answer a hit gets (`answer`), and the
 * one execution concurrent misses share (`through`). A query whose every field has a PUBLIC
 * policy (see responsePolicy) is stored, as the exact response body, in the FlightCache for the
 * smallest TTL of its fields; errors are never stored.
 */
export class ResponseCache {
  readonly cache: FlightCache;
  readonly #plans: OperationPlans;
  readonly #authorize: ResponseCacheOptions['authorize'];
  readonly #maxBodyBytes: number;
  readonly #maxResponseLength: number;
  /**
   * Response flights that requests of this process run, by key, until each ends, with the cache's
   * invalidation generation when each began: a request after an invalidation never joins one.
   */
  readonly #running = new Map<string, { generation: number; ended: Promise<FlightEnd> }>();
  hits = 0;
  stored = 0;
  notModified = 0;
  started = 0;
  joined = 0;
  /** Requests answered with a stale response (STALE), 304s included. */
  stale = 0;
  /** Background refresh executions started (one per refresh, in this process). */
  refreshes = 0;

  constructor(options: ResponseCacheOptions, plans: OperationPlans) {
    if (typeof options.cache?.peek !== 'function') {
      throw new InvalidOptionError('responseCache.cache', 'a FlightCache', options.cache);
    }
    this.cache = options.cache;
    this.#plans = plans;
    this.#authorize = options.authorize;
    this.#maxBodyBytes = options.maxBodyBytes ?? 100_000;
    this.#maxResponseLength = options.maxResponseLength ?? 1_000_000;
  }

  /** Whether a POST body is read ahead of Yoga: JSON, with a Content-Length within the limit. */
  readsAhead(contentType: string | null, length: string | null): boolean {
    return (
      JSON_TYPES.test(contentType ?? '') &&
      length !== null &&
      /^[0-9]{1,9}$/.test(length) &&
      Number(length) <= this.#maxBodyBytes
    );
  }

  /**
   * Whether the response cache may answer this request, and if so its key, TTL and media type,
   * with the stored response when this process's memory tier holds it. Undefined when it may
   * not: not a cacheable public query, a media type only Yoga serves, credentials that
   * `authorize` does not accept, or a failed lookup (a store error past its guard, a closed
   * cache), which is a miss.
   */
  find(request: RequestLike, params: unknown): Found | undefined | Promise<Found | undefined> {
    try {
      const found = this.#find(request, params);
      return found instanceof Promise ? found.catch(() => undefined) : found;
    } catch {
      return undefined;
    }
  }

  /** The answer to a request found with a stored response: its body, or a 304 (counted). */
  answer(request: RequestLike, found: Found, stored: StoredResponse): Answer {
    this.hits++;
    return this.#counted(answerOf(request, found, stored));
  }

  /**
   * How the response flight of `key` that a request of this process is in ends, if there is one:
   * the front door holds identical requests on it instead of handing each to Yoga.
   */
  running(key: string): Promise<FlightEnd> | undefined {
    const running = this.#running.get(key);
    return running?.generation === this.cache.generation ? running.ended : undefined;
  }

  /**
   * The answer to a request that waited for a response flight that ended (counted as joined): what
   * it stored, the stale response it answered with (counted as stale), or the 503 of its deadline.
   */
  answerJoined(request: RequestLike, found: Found, end: NonNullable<FlightEnd>): Answer {
    if ('stored' in end && end.stale !== undefined) {
      this.stale++;
      return this.#counted(answerOf(request, found, end.stored, 'STALE', end.stale === 'error'));
    }
    this.joined++;
    if ('timeout' in end) {
      return {
        status: 503,
        headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
        body: JSON.stringify(deadlinePassed(end.timeout)),
      };
    }
    return this.#counted(answerOf(request, found, end.stored, 'COALESCED'));
  }

  #counted(answer: Answer): Answer {
    if (answer.status === 304) this.notModified++;
    return answer;
  }

  /**
   * A miss: one execution for every request of this key in the process (and with Redis, in the
   * fleet), stored if it is cacheable. The request that ran it is the MISS; the ones that waited
   * for it are COALESCED; one answered by the shared store is a HIT. `served` is told which.
   *
   * With windows (see ResponseWindows), the response is kept past its TTL. Inside its revalidate
   * window a request gets the stale response at once (STALE) and one background refresh runs
   * `refresh`: an execution of the same operation independent of this request (its own signal,
   * the refresh flight's, and its own context), once per key in the process, and with Redis once
   * for the fleet. Inside its error window, a failed execution (a thrown error, or a result with
   * errors or without data) answers with the stale response instead (STALE, stale-if-error).
   */
  async through(
    found: Found,
    execute: () => HandlerResult | Promise<HandlerResult>,
    served: (served: Served) => void,
    refresh: (signal: AbortSignal) => HandlerResult | Promise<HandlerResult>,
  ): Promise<HandlerResult> {
    let running: Promise<HandlerResult> | undefined;
    let end: ((end: FlightEnd) => void) | undefined;
    if (this.running(found.key) === undefined) {
      const ended = new Promise<FlightEnd>((resolve) => {
        end = resolve;
      });
      const entry = { generation: this.cache.generation, ended };
      this.#running.set(found.key, entry);
      void ended.then(() => {
        if (this.#running.get(found.key) === entry) this.#running.delete(found.key);
      });
    }
    // What the stored response is made from, filled once the execution is done: its tags, and what
    // it read (it is retired with those values). The cache runs at most one load of this call's
    // options, this request's own execution (a miss) or the refresh its stale answer started, so
    // whichever runs is the only one to fill them.
    let tags: readonly string[] = [];
    const inherits = new Reads();
    const toStore = (result: HandlerResult): Flown => {
      // Tagged by the plugin with its entities, coordinates and field tags: else never stored.
      const tagged = typeof result === 'object' && result !== null ? resultTags.get(result) : undefined;
      const body = tagged === undefined ? undefined : storableBody(result, this.#maxResponseLength);
      if (body === undefined) return { unstored: result };
      tags = tagged!.tags;
      // What the execution read: its ids, and how fresh its oldest input is (the fence).
      const reads = tagged!.reads;
      if (reads !== undefined) {
        for (const id of reads.ids) inherits.ids.add(id);
        inherits.minSeq = Math.min(inherits.minSeq, reads.minSeq);
        if (reads.unsequenced) inherits.unsequenced = true;
        // Made from a stale value: answered, never stored as fresher than it (Reads.stale).
        if (reads.stale) inherits.stale = true;
      }
      // Made from a stale value, it answers and is not stored (see Reads.stale).
      if (!inherits.stale) this.stored++;
      return { body, etag: digest(body).slice(0, 27), expiresAt: Date.now() + found.ttlMs };
    };
    try {
      const { value, source, staleIfError } = await this.cache.fetch<Flown>(
        found.key,
        async () => {
          this.started++;
          running = Promise.resolve(execute());
          const flown = toStore(await running);
          // Inside an error window a failed result fails the load: the stale response answers.
          if ('unstored' in flown && found.staleIfErrorMs > 0 && failed(flown.unstored)) {
            throw new UnstoredResponseError(found.key, flown.unstored, 'failed');
          }
          return flown;
        },
        {
          ttlMs: found.ttlMs,
          staleWhileRevalidateMs: found.staleWhileRevalidateMs,
          staleIfErrorMs: found.staleIfErrorMs,
          tags: () => tags,
          inherits,
          refreshLoad: async (signal) => {
            this.refreshes++;
            const flown = toStore(await refresh(signal));
            // Counted as a failed refresh, and the next one backs off; the stale response stays.
            if ('unstored' in flown) {
              const why = failed(flown.unstored) ? 'failed' : 'produced a result that is not stored';
              throw new UnstoredResponseError(found.key, flown.unstored, why);
            }
            return flown;
          },
          ...CACHE_OPTIONS,
        },
      );
      if ('unstored' in value) {
        end?.(undefined);
        if (source !== 'loaded') this.joined++;
        served({ outcome: source === 'loaded' ? 'MISS' : 'COALESCED', bypass: false });
        return value.unstored;
      }
      if (source === 'stale') {
        this.stale++;
        served({
          outcome: 'STALE',
          stored: value,
          windows: found,
          staleIfError: staleIfError === true,
          bypass: false,
        });
        end?.({ stored: value, stale: staleIfError === true ? 'error' : 'revalidate' });
        return storedReply(value, found.mediaType);
      }
      const outcome = source === 'loaded' ? 'MISS' : source === 'joined' ? 'COALESCED' : 'HIT';
      if (outcome === 'COALESCED') this.joined++;
      else if (outcome === 'HIT') this.hits++;
      served({ outcome, stored: value, windows: found, bypass: false });
      end?.({ stored: value });
      // Every request of the flight is answered with the stored bytes (no parse, no serialising).
      return storedReply(value, found.mediaType);
    } catch (error) {
      end?.(error instanceof FlightTimeoutError ? { timeout: error } : undefined);
      // This request's own execution outlived the flight's deadline (or its store write failed, or
      // its result failed with no stale response to answer instead): it still answers this
      // request, and is never run twice.
      if (running !== undefined) {
        served({ outcome: 'MISS', bypass: false });
        return running;
      }
      if (error instanceof FlightTimeoutError) {
        // The execution this request waited for passed the flight's deadline: a 503, not a herd.
        this.joined++;
        served({ outcome: 'COALESCED', bypass: false });
        return deadlinePassed(error);
      }
      if (error instanceof UnstoredResponseError) {
        // The execution this request waited for failed, and no stale response was left: its result.
        this.joined++;
        served({ outcome: 'COALESCED', bypass: false });
        return error.result;
      }
      // The shared flight failed elsewhere (another process's load, a closed cache): run it here.
      this.started++;
      served({ outcome: 'MISS', bypass: false });
      return execute();
    }
  }

  #find(request: RequestLike, params: unknown): Found | undefined | Promise<Found | undefined> {
    if (typeof params !== 'object' || params === null) return undefined;
    const { query, operationName, variables, extensions } = params as Record<string, unknown>;
    if (typeof query !== 'string' || extensions != null) return undefined;
    if (operationName != null && typeof operationName !== 'string') return undefined;
    if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) return undefined;
    const plan = this.#plans.plan(query, operationName);
    if (plan === undefined || !plan.policy.cacheable) return undefined;
    const accept = request.headers.get('accept');
    // A browser's GET (text/html) may get GraphiQL from Yoga: never answered from here.
    if (request.method === 'GET' && accept?.includes('text/html')) return undefined;
    const mediaType = regularMediaType(accept);
    if (mediaType === undefined) return undefined;
    // Variables that cannot be keyed (too deep) throw: a miss here, and a 400 from the plugin.
    const vars = variables == null ? '' : encodeValue(variables);
    const authorization = request.headers.get('authorization');
    if (authorization === null) return this.#lookUp(plan, vars, mediaType);
    // Two Authorization headers arrive joined by a comma (no credential holds one): never one
    // `authorize` could vouch for, so the request goes through Yoga and gets its answer there.
    if (authorization.includes(',')) return undefined;
    const authorize = this.#authorize;
    if (authorize === undefined) return undefined;
    return Promise.resolve()
      .then(() => authorize(authorization))
      .then(
        (allowed) => (allowed === true ? this.#lookUp(plan, vars, mediaType) : undefined),
        () => undefined,
      );
  }

  /** The response's key and, when this process's memory tier has it, the stored response. */
  #lookUp(plan: Plan, vars: string, mediaType: string): Found {
    const key = responseKey(plan.prefix, vars);
    const stored = this.cache.peek<StoredResponse>(key);
    const found: Found = {
      key,
      ttlMs: plan.ttlMs,
      staleWhileRevalidateMs: plan.staleWhileRevalidateMs,
      staleIfErrorMs: plan.staleIfErrorMs,
      mediaType,
    };
    if (stored !== undefined) found.stored = stored;
    return found;
  }
}

/** A result the response cache does not store because it failed: it has errors, or no data. */
function failed(result: HandlerResult): boolean {
  if (typeof result !== 'object' || result === null || Symbol.asyncIterator in result) return false;
  const { errors, data } = result as ExecutionResult;
  return (errors !== undefined && errors.length > 0) || data == null;
}
