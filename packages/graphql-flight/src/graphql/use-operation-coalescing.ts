import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type DocumentNode,
  type ExecutionResult,
  GraphQLError,
  getOperationAST,
  OperationTypeNode,
} from 'graphql';
import type { FetchAPI, GraphQLParams, OnParamsEventPayload, Plugin } from 'graphql-yoga';
import type { FlightCache } from '../cache/flight-cache.js';
import { type EntityKeys, entityPlan } from './entity-tags.js';
import { badVariables, Coalescing, operationKey } from './coalescing.js';
import {
  createNodeListener,
  FRONT_DOOR,
  type FrontDoorAnswer,
  type FrontDoorHandOff,
  type NodeYoga,
} from './front-door.js';
import { addVary, paramsOfUrl, parseJson, pathOf } from './http.js';
import { mapMaybe } from './maybe-promise.js';
import { OperationPlans, type Plan } from './operation-plans.js';
import {
  decorate,
  type Found,
  storedReplyType,
  type Served,
  storedBody,
  storedReply,
} from './response-answers.js';
import { ResponseCache, type ResponseCacheOptions } from './response-cache.js';
import { invalidatedTags, openReads, pendingInvalidation, resultTags, typeTag } from './response-tags.js';

export type { CacheOutcome } from './response-answers.js';
export type { ResponseCacheOptions } from './response-cache.js';
export type { FrontDoorAnswer, NodeYoga } from './front-door.js';

export interface OperationCoalescingOptions {
  /** Deadline of one shared execution; past it every requester gets a timeout error. Default 10 000. */
  timeoutMs?: number;
  /** Documents whose operations are remembered (parsing once per distinct document). Default 1 000. */
  maxDocuments?: number;
  /**
   * Longer documents are neither coalesced nor cached (nor parsed here): it bounds the parsing an
   * anonymous client can cause before the server's own limits apply, and the memory of the
   * document cache. Default 10 000 characters.
   */
  maxDocumentLength?: number;
  /** The response cache; absent or false: none (coalescing only). */
  responseCache?: ResponseCacheOptions | false | undefined;
  /**
   * The cache whose invalidations this plugin follows: an operation received after an
   * invalidation never joins an execution begun before it, and a mutation's result invalidates
   * the entities it returns there. Default: the response cache's.
   */
  cache?: FlightCache | undefined;
  /**
   * After a mutation, invalidate the entities its result holds (`Type:id`, as Yoga's response
   * cache does) before it answers; when Redis does not acknowledge, the result gets an error with
   * code CACHE_INVALIDATION_PENDING (the write is saved; caches may show the old value until the
   * queued invalidation lands). Default true when there is a cache.
   */
  invalidateMutationResults?: boolean;
  /** The key fields of entity types, for entity tags (see EntityKeys). Default: `id`. */
  entityKeys?: EntityKeys;
}

/** What the plugin has done since it was created. */
export interface OperationStats {
  /** Executions started by requests that could share them (each one MISS). */
  started: number;
  /** Requests that shared another request's execution (COALESCED). */
  joined: number;
  /** Requests answered from the response cache (HIT), 304s included. */
  hits: number;
  /** Requests answered with a stale stored response (STALE), 304s included. */
  stale: number;
  /** Background refresh executions of stale responses this process started. */
  refreshes: number;
  /** Responses written to the response cache. */
  stored: number;
  /** 304 Not Modified answers. */
  notModified: number;
  /** Of the hits, those the node:http front door answered before Yoga (nodeListener). */
  frontDoor: number;
}

/**
 * What the plugin knows of one request, from onRequest to onResponse (one record per request,
 * owned by the plugin's hooks; a request the plugin never touched has none).
 */
interface RequestState {
  /** Looked up for the response cache: what was found (null: not for the response cache). */
  found?: Found | null;
  /** A POST body parsed ahead of Yoga, for its request parser (the body is read once). */
  parsed?: GraphQLParams;
  /** Answered from the cache in onRequest: the response is complete. */
  answered?: true;
  /** How it was served through Yoga, for its response headers (of its last operation). */
  served?: Served;
  /** Operations Yoga handed to onParams: more than one is a batch, whose headers speak for none. */
  operations?: number;
  /** Yoga's request parser gave a list of operations (a batch, however short). */
  batch?: true;
}

/**
 * Operation coalescing and the response cache, as one Yoga plugin.
 *
 * Coalescing (see Coalescing): identical concurrent query operations, with the same document,
 * operation name, variables and credentials, execute once. Only queries coalesce: never
 * mutations or subscriptions, nor operations with @defer or @stream.
 *
 * The response cache (with `responseCache`, see ResponseCache): a query whose every field has a
 * PUBLIC policy is stored whole, and a later identical request is answered in `onRequest`,
 * before Yoga parses the request, the document or the variables, or builds a context:
 * `X-Cache: HIT`. Concurrent misses share one execution through the FlightCache's flight (with
 * Redis, one for the fleet). Anonymous requests use it, and those whose credentials `authorize`
 * accepts; other requests go through Yoga (and coalesce per credentials).
 *
 * On node:http, `nodeListener(yoga)` is the front door (see createNodeListener).
 *
 * A mutation makes cached responses stale through `invalidateResponses(cache, coordinates)`.
 *
 * A stored response with windows (its fields' smallest `staleWhileRevalidateMs`,
 * `staleIfErrorMs`) is answered `X-Cache: STALE` past its TTL: at once inside its revalidate window,
 * while one refresh executes (once for the fleet with Redis), and in place of a failed execution
 * inside its error window (see ResponseCache.through).
 *
 * Headers: `X-Cache: HIT | MISS | COALESCED | STALE`, the same in `Cache-Status` (RFC 9211), and
 * for a public cacheable response `ETag`, `Cache-Control: public, no-cache` (with
 * `stale-while-revalidate` and `stale-if-error` for its windows) and `Vary: Accept`; a GET with a
 * matching `If-None-Match` gets `304 Not Modified`. Every other response of the GraphQL endpoint
 * gets `Cache-Control: no-store` unless something set one.
 */
export class OperationCoalescing {
  readonly #plans: OperationPlans;
  readonly #coalescing: Coalescing;
  readonly #responses: ResponseCache | undefined;
  readonly #requests = new WeakMap<Request, RequestState>();
  readonly #cache: FlightCache | undefined;
  readonly #entityKeys: EntityKeys | undefined;
  readonly #invalidateMutations: boolean;
  /**
   * Documents this plugin gave Yoga to execute (with the entities' key fields), and the plan of
   * each operation executed with one, by operation name (see planName): the operations of one
   * text may share one document (nothing added), and requests for several of them interleave.
   */
  readonly #executing = new WeakMap<object, Map<string, Plan>>();
  #endpoint = '/graphql';
  #frontDoor = 0;

  constructor(options: OperationCoalescingOptions = {}) {
    this.#plans = new OperationPlans({
      maxDocuments: options.maxDocuments ?? 1_000,
      maxDocumentLength: options.maxDocumentLength ?? 10_000,
      entityKeys: options.entityKeys,
    });
    this.#entityKeys = options.entityKeys;
    this.#cache = options.cache ?? (options.responseCache ? options.responseCache.cache : undefined);
    this.#invalidateMutations = options.invalidateMutationResults ?? this.#cache !== undefined;
    const cache = options.cache ?? (options.responseCache ? options.responseCache.cache : undefined);
    this.#coalescing = new Coalescing({
      timeoutMs: options.timeoutMs ?? 10_000,
      // With Redis, an execution older than the lost-message bound is not joined either.
      maxJoinAgeMs: () => cache?.lostMessageBoundMs ?? Number.POSITIVE_INFINITY,
    });
    this.#responses = options.responseCache
      ? new ResponseCache(options.responseCache, this.#plans)
      : undefined;
  }

  stats(): OperationStats {
    const responses = this.#responses;
    return {
      started: this.#coalescing.started + (responses?.started ?? 0),
      joined: this.#coalescing.joined + (responses?.joined ?? 0),
      hits: responses?.hits ?? 0,
      stale: responses?.stale ?? 0,
      refreshes: responses?.refreshes ?? 0,
      stored: responses?.stored ?? 0,
      notModified: responses?.notModified ?? 0,
      frontDoor: this.#frontDoor,
    };
  }

  /**
   * The node:http front door in front of `yoga` (see createNodeListener): response-cache hits
   * are answered before whatwg-node and Yoga run; everything else goes to `yoga`.
   */
  nodeListener(
    yoga: NodeYoga,
    onAnswered?: (answer: FrontDoorAnswer) => void,
  ): (req: IncomingMessage, res: ServerResponse) => void {
    const host = {
      responses: () => this.#ready(),
      endpoint: () => this.#endpoint,
      frontDoorHit: () => {
        this.#frontDoor++;
      },
    };
    return createNodeListener(host, yoga, onAnswered);
  }

  plugin(): Plugin {
    return {
      onYogaInit: ({ yoga }) => {
        this.#endpoint = yoga.graphqlEndpoint;
      },
      onSchemaChange: ({ schema }) => {
        this.#plans.setSchema(schema);
      },
      onRequest: ({ request, serverContext, endResponse, setRequest, fetchAPI }) => {
        const responses = this.#ready();
        if (responses === undefined) return;
        const handOff = (serverContext as Record<string, unknown> | undefined)?.[FRONT_DOOR] as
          | FrontDoorHandOff
          | undefined;
        if (handOff !== undefined) {
          // The front door looked the request up (a miss), and read a POST's body: Yoga goes on.
          if (handOff.body === undefined) this.#state(request).found = handOff.found ?? null;
          else
            this.#handOn(
              request,
              handOff.body.text,
              handOff.body.params,
              handOff.found,
              setRequest,
              fetchAPI,
            );
          return;
        }
        if (pathOf(request.url) !== this.#endpoint) return;
        if (request.method === 'GET') {
          return mapMaybe(responses.find(request, paramsOfUrl(request.url)), (found) => {
            if (found?.stored !== undefined) endResponse(this.#hit(responses, request, found, fetchAPI));
            else this.#state(request).found = found ?? null;
          });
        }
        // A POST body is read here only when its length is known and within the limit; any other
        // is left to Yoga (its limits apply) and looked up in onParams.
        if (request.method !== 'POST') return;
        if (!responses.readsAhead(request.headers.get('content-type'), request.headers.get('content-length')))
          return;
        return request.text().then((text) => {
          const params = parseJson(text);
          return mapMaybe(responses.find(request, params), (found) => {
            if (found?.stored !== undefined)
              return endResponse(this.#hit(responses, request, found, fetchAPI));
            this.#handOn(request, text, params, found, setRequest, fetchAPI);
          });
        });
      },
      onParse: ({ context, params }) => {
        // The operations whose results are read for entities execute with their key fields.
        if (this.#responses === undefined && !this.#invalidateMutations) return;
        const query = typeof params.source === 'string' ? params.source : params.source.body;
        const operationName = (context as { params?: GraphQLParams }).params?.operationName;
        const plan = this.#plans.schema === undefined ? undefined : this.#plans.plan(query, operationName);
        const planned = plan?.entities?.document;
        let document: DocumentNode | undefined;
        if (planned !== undefined && (plan!.mutation ? this.#invalidateMutations : plan!.policy.cacheable)) {
          document = planned;
          this.#willExecute(planned, operationName, plan!);
        } else {
          // Executed as the client sent it: Yoga's parse cache may hold, for this text, the document
          // another of its operations executes, with key fields added to the fragments they share.
          document = this.#plans.document(query);
          // Not planned here (longer than maxDocumentLength): a mutation still gets its entities
          // read, from the document Yoga parsed (within Yoga's own limits).
          if (document === undefined) {
            if (!this.#invalidateMutations || this.#cache === undefined) return;
            return ({ result, replaceParseResult }) => {
              if (result instanceof Error) return;
              const late = this.#mutationPlan(result as DocumentNode, operationName);
              if (late !== undefined && late !== result) replaceParseResult(late);
            };
          }
        }
        // After Yoga's parse (or its parse cache, which may hold another operation's document).
        return ({ result, replaceParseResult }) => {
          if (!(result instanceof Error) && result !== document) replaceParseResult(document);
        };
      },
      onExecute: ({ args }) => {
        const context = args.contextValue as object;
        const plan = this.#executing.get(args.document)?.get(planName(args.operationName));
        const reads = plan === undefined || plan.mutation ? undefined : openReads(context);
        // A stale response's refresh waits for the refreshes of the stale values it reads.
        if (reads !== undefined && REFRESHES.has((context as { request?: Request }).request as Request))
          reads.waitFresh = true;
        return {
          onExecuteDone: ({ result, setResult }) => {
            if (!isResult(result)) return;
            if (plan === undefined) {
              // A write a resolver could not invalidate (see invalidateAfterWrite) says so, and so
              // does a mutation whose entities could not be read (it invalidated nothing).
              const unread =
                this.#invalidateMutations &&
                this.#cache !== undefined &&
                getOperationAST(args.document, args.operationName)?.operation === OperationTypeNode.MUTATION;
              const pending =
                pendingInvalidation(context) ??
                (unread ? new Error('the entities of its result could not be read') : undefined);
              if (pending !== undefined) setResult(withPending(result, pending));
              return;
            }
            const { tags, data } = plan.entities!.collect(result.data);
            const read: ExecutionResult = data === result.data ? result : { ...result, data };
            if (plan.mutation) return this.#invalidateResults(tags, read, setResult, context);
            // What a stored response carries: its entities, their types and the coordinates it
            // touched, and it inherits every cached value its execution read.
            const all = new Set(tags);
            for (const tag of tags) all.add(typeTag(tag.slice(0, tag.indexOf(':'))));
            if (plan.policy.cacheable) for (const coordinate of plan.policy.coordinates) all.add(coordinate);
            resultTags.set(read, { tags: [...all], reads });
            if (read !== result) setResult(read);
          },
        };
      },
      onRequestParse: ({ request, setRequestParser }) => {
        const params = this.#requests.get(request)?.parsed;
        if (params !== undefined) setRequestParser(() => params);
        return {
          onRequestParseDone: ({ requestParserResult }) => {
            // A batch, even of one operation: its response is an array no single plan describes.
            if (Array.isArray(requestParserResult)) this.#state(request).batch = true;
          },
        };
      },
      onParams: ({ params, request, paramsHandler, setParamsHandler, setResult, fetchAPI }) => {
        const state = this.#state(request);
        state.operations = (state.operations ?? 0) + 1;
        const responses = this.#responses;
        const found =
          state.found !== undefined || responses === undefined
            ? state.found
            : responses.find(request, params);
        return mapMaybe(found, (found) => {
          if (found?.stored !== undefined) {
            // A hit found only now (a body Yoga read): answered without parsing the document.
            responses!.hits++;
            state.served = { outcome: 'HIT', stored: found.stored, windows: found, bypass: false };
            setResult(storedReply(found.stored, found.mediaType));
            return;
          }
          if (found != null) {
            setParamsHandler((payload) =>
              responses!.through(
                found,
                () => paramsHandler(payload),
                (served) => {
                  state.served = served;
                },
                (signal) => paramsHandler(refreshPayload(payload, signal, fetchAPI)),
              ),
            );
            return;
          }
          // Coalescing without the response cache: one execution per identical operation and credentials.
          if (
            typeof params.query !== 'string' ||
            !this.#plans.isPlainQuery(params.query, params.operationName)
          )
            return;
          let key: string;
          try {
            // With the invalidation generation: an operation after an invalidation never joins
            // an execution that began before it.
            key = `${this.#cache?.generation ?? 0}\0${operationKey(
              params.query,
              params.operationName,
              params.variables,
              request.headers.get('authorization'),
            )}`;
          } catch (error) {
            setResult(badVariables(error));
            return;
          }
          setParamsHandler((payload) =>
            this.#coalescing.run(
              key,
              () => paramsHandler(payload),
              (joined) => {
                state.served = { outcome: joined ? 'COALESCED' : 'MISS', bypass: true };
              },
            ),
          );
        });
      },
      onResultProcess: ({ result, resultProcessor, setResultProcessor }) => {
        // A reply that stands for a stored response is answered with its bytes (see storedReply).
        // A plugin after this one that replaces the result gets the processor Yoga had chosen.
        const mediaType = this.#responses === undefined ? undefined : storedReplyType(result);
        if (mediaType === undefined || resultProcessor === undefined) return;
        setResultProcessor(
          (reply, fetchAPI, accepted) =>
            storedBody(reply, fetchAPI) ?? resultProcessor(reply, fetchAPI, accepted),
          mediaType,
        );
      },
      onResponse: ({ request, response, setResponse, fetchAPI }) => {
        const state = this.#requests.get(request);
        // A batch's operations were served each their own way: one response's cache headers
        // cannot say it, so it is never stored by anyone (private data may be in it).
        const batch = state?.batch === true || (state?.operations ?? 0) > 1;
        const served = batch ? undefined : state?.served;
        if (served === undefined) {
          // A hit answered in onRequest is complete; its headers are left untouched, so Node writes
          // them from the object they were given in (whatwg-node's single writeHead).
          if (state?.answered === true) {
            // CORS (which runs first) replaces Vary with Origin when the request has one.
            if (request.headers.has('origin')) addVary(response.headers, 'Accept');
            return;
          }
          if (batch) response.headers.set('cache-control', 'no-store');
          else if (this.#responses !== undefined && !response.headers.has('cache-control')) {
            if (pathOf(request.url) === this.#endpoint) response.headers.set('cache-control', 'no-store');
          }
          return;
        }
        if (decorate(request, response, served)) {
          this.#responses!.notModified++;
          setResponse(new fetchAPI.Response(null, { status: 304, headers: response.headers }));
        }
      },
    };
  }

  /**
   * A mutation's result invalidates the entities it holds before it answers; if Redis does not
   * acknowledge, the result says so (CACHE_INVALIDATION_PENDING) and keeps its data.
   */
  #invalidateResults(
    tags: readonly string[],
    result: ExecutionResult,
    setResult: (result: ExecutionResult) => void,
    context: object,
  ): Promise<void> | void {
    const answer = (failed?: unknown) => {
      const pending = failed ?? pendingInvalidation(context);
      setResult(pending === undefined ? result : withPending(result, pending));
    };
    // What a resolver of this operation invalidated already is not sent twice.
    const done = invalidatedTags(context);
    const left = done === undefined ? tags : tags.filter((tag) => !done.has(tag));
    if (left.length === 0 || this.#cache === undefined) return answer();
    return this.#cache.invalidate({ tags: left }).then(
      () => answer(),
      (error: unknown) => answer(error),
    );
  }

  /**
   * The document a mutation Yoga parsed (not planned by text) executes, with its entities' key
   * fields, registered for onExecute; undefined for anything else, or when they cannot be told.
   */
  #mutationPlan(document: DocumentNode, operationName: string | null | undefined): DocumentNode | undefined {
    const name = planName(operationName);
    if (this.#executing.get(document)?.has(name)) return document;
    const schema = this.#plans.schema;
    if (
      schema === undefined ||
      getOperationAST(document, operationName)?.operation !== OperationTypeNode.MUTATION
    )
      return undefined;
    const entities = entityPlan(schema, document, operationName, this.#entityKeys);
    if (entities === undefined) return undefined;
    this.#willExecute(entities.document, operationName, {
      policy: { cacheable: false, reason: 'a mutation' },
      ttlMs: 0,
      staleWhileRevalidateMs: 0,
      staleIfErrorMs: 0,
      prefix: '',
      mutation: true,
      entities,
    });
    return entities.document;
  }

  /** Registers the plan `document`'s operation executes with, for onExecute. */
  #willExecute(document: DocumentNode, operationName: string | null | undefined, plan: Plan): void {
    let plans = this.#executing.get(document);
    if (plans === undefined) {
      plans = new Map();
      this.#executing.set(document, plans);
    }
    plans.set(planName(operationName), plan);
  }

  /** The response cache, once Yoga has announced its schema. */
  #ready(): ResponseCache | undefined {
    return this.#plans.schema === undefined ? undefined : this.#responses;
  }

  #state(request: Request): RequestState {
    let state = this.#requests.get(request);
    if (state === undefined) {
      state = {};
      this.#requests.set(request, state);
    }
    return state;
  }

  /** The response to a request found in the cache: the stored body, or a 304 for a matching GET. */
  #hit(responses: ResponseCache, request: Request, found: Found, fetchAPI: FetchAPI): Response {
    this.#state(request).answered = true;
    const answer = responses.answer(request, found, found.stored!);
    return new fetchAPI.Response(answer.body, { status: answer.status, headers: answer.headers });
  }

  /**
   * A body read ahead that the cache did not answer goes on to Yoga: parsed, through its request
   * parser (and Yoga's own checks); anything else as the text, for Yoga to read and refuse.
   */
  #handOn(
    request: Request,
    text: string,
    params: unknown,
    found: Found | undefined,
    setRequest: (request: Request) => void,
    fetchAPI: FetchAPI,
  ): void {
    if (typeof params === 'object' && params !== null) {
      const state = this.#state(request);
      state.parsed = params as GraphQLParams;
      state.found = found ?? null;
      return;
    }
    const again = new fetchAPI.Request(request.url, {
      method: 'POST',
      headers: request.headers,
      body: text,
      signal: request.signal,
    });
    this.#state(again).found = found ?? null;
    setRequest(again);
  }
}

/** What Yoga's params handler is called with. */
type ParamsHandlerPayload = Parameters<OnParamsEventPayload<Record<string, unknown>>['paramsHandler']>[0];

/**
 * What a background refresh of a stale response executes with: the operation of the stale request
 * (its parameters), but none of that request's state, which the refresh outlives. A Request of its
 * own whose signal is the refresh flight's (the stale request ending aborts nothing), carrying the
 * URL, the method, and of the headers only Accept and Content-Type: no Authorization, no Cookie, so
 * the execution runs with no viewer (a public response is everybody's; a viewer's context never
 * produces it). And a server context of its own: empty (no `req`/`res` of the node:http request),
 * so the context, and the Reads its stored response inherits, are the refresh's own.
 */
/** The Requests of refresh executions (see refreshPayload). */
const REFRESHES = new WeakSet<object>();

function refreshPayload(
  payload: ParamsHandlerPayload,
  signal: AbortSignal,
  fetchAPI: FetchAPI,
): ParamsHandlerPayload {
  const { request, params } = payload;
  const headers: Record<string, string> = {};
  for (const name of ['accept', 'content-type']) {
    const value = request.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  const own = new fetchAPI.Request(request.url, { method: request.method, headers, signal });
  REFRESHES.add(own);
  return {
    request: own,
    params,
    context: {} as ParamsHandlerPayload['context'],
  };
}

/** The key of an operation's plan among its document's: '' when none is named, as OperationPlans keys them. */
function planName(operationName: string | null | undefined): string {
  return operationName == null ? '' : `=${operationName}`;
}

/** One result (not a stream of them). */
function isResult(result: unknown): result is ExecutionResult {
  return typeof result === 'object' && result !== null && !(Symbol.asyncIterator in result);
}

function withPending(result: ExecutionResult, error: unknown): ExecutionResult {
  return { ...result, errors: [...(result.errors ?? []), invalidationPending(error)] };
}

/** The error a mutation's result carries when its invalidation is still queued for Redis. */
export function invalidationPending(error: unknown): GraphQLError {
  const refused = (error as { queued?: unknown } | null)?.queued === false;
  return new GraphQLError(
    refused
      ? 'the write is saved, but the cache invalidation it needs was refused (too many already wait for Redis): cached reads elsewhere may show the old value until it expires'
      : 'the write is saved, but the cache invalidation it needs is still queued for Redis: cached reads may show the old value until it lands',
    {
      extensions: {
        code: 'CACHE_INVALIDATION_PENDING',
        ...(error instanceof Error && 'code' in error
          ? { cause: String((error as { code: unknown }).code) }
          : {}),
      },
    },
  );
}

/** Creates the plugin with a state of its own. */
export function useOperationCoalescing(options?: OperationCoalescingOptions): Plugin {
  return new OperationCoalescing(options).plugin();
}

/**
 * The response cache as one Yoga plugin, with coalescing installed with it (as Yoga's response
 * cache installs envelop's): `new OperationCoalescing({ ...options, responseCache }).plugin()`.
 * Keep an OperationCoalescing instead when the node:http front door or the stats are wanted.
 */
export function useResponseCache(
  options: ResponseCacheOptions & Omit<OperationCoalescingOptions, 'responseCache' | 'cache'>,
): Plugin {
  const {
    timeoutMs,
    maxDocuments,
    maxDocumentLength,
    cache,
    invalidateMutationResults,
    entityKeys,
    ...responseCache
  } = options;
  return new OperationCoalescing({
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(maxDocuments === undefined ? {} : { maxDocuments }),
    ...(maxDocumentLength === undefined ? {} : { maxDocumentLength }),
    ...(invalidateMutationResults === undefined ? {} : { invalidateMutationResults }),
    ...(entityKeys === undefined ? {} : { entityKeys }),
    responseCache: { ...responseCache, cache },
  }).plugin();
}

export { invalidateResponses } from './response-keys.js';
