import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import {
  type DocumentNode,
  type ExecutionResult,
  type GraphQLSchema,
  OperationTypeNode,
  parse,
  printSchema,
  visit,
} from 'graphql';
import {
  createGraphQLError,
  type FetchAPI,
  type GraphQLParams,
  type OnParamsEventPayload,
  type Plugin,
} from 'graphql-yoga';
import { LRUCache } from 'lru-cache';
import type { FlightCache } from '../cache/flight-cache.js';
import type { CacheKey } from '../cache/keys.js';
import { FlightTimeoutError, InvalidOptionError } from '../errors.js';
import { SingleFlight } from '../flight/single-flight.js';
import { stableStringify } from './field-key.js';
import {
  addVary,
  etagFor,
  matchesEtag,
  nodeRequestLike,
  paramsOfUrl,
  parseJson,
  pathOf,
  type RequestLike,
  readBody,
  regularMediaType,
} from './http.js';
import { type ResponsePolicy, responsePolicy } from './response-policy.js';

export type CacheOutcome = 'HIT' | 'MISS' | 'COALESCED';

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
}

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

/** What the plugin has done since it was created. */
export interface OperationStats {
  /** Executions started by requests that could share them (each one MISS). */
  started: number;
  /** Requests that shared another request's execution (COALESCED). */
  joined: number;
  /** Requests answered from the response cache (HIT), 304s included. */
  hits: number;
  /** Responses written to the response cache. */
  stored: number;
  /** 304 Not Modified answers. */
  notModified: number;
  /** Of the hits, those the node:http front door answered before Yoga (nodeListener). */
  frontDoor: number;
}

/** A stored response: the exact body Yoga would send, its ETag, and when it stops being fresh. */
interface StoredResponse {
  body: string;
  etag: string;
  /** Wall-clock milliseconds (a shared store serves it to other processes too). */
  expiresAt: number;
}

/** A request the response cache may answer: its key, TTL and media type, and the stored response if any. */
interface Found {
  key: CacheKey;
  ttlMs: number;
  mediaType: string;
  stored?: StoredResponse;
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

/** What the response cache needs for one operation of a document, worked out once. */
interface Plan {
  policy: ResponsePolicy;
  /** The response's TTL (0 when it is not cacheable). */
  ttlMs: number;
  /** Start of every response key of this operation: a digest of schema, document, operation name. */
  prefix: string;
  /** Generation keys of the fields it touches (what invalidates it). */
  generationKeys: string[];
}

/** What onParams leaves for onResponse: the outcome, and for a cached response its ETag and TTL. */
interface Outcome {
  outcome: CacheOutcome;
  /** Present when the response is public and cached (or cacheable): the ETag, the remaining TTL. */
  stored?: StoredResponse;
  /** Served by the response cache path (public), or by coalescing per credentials (bypass). */
  bypass: boolean;
}

/** The parts of a cached answer, for a Fetch Response or a node:http response. */
interface Answer {
  status: 200 | 304;
  headers: Record<string, string>;
  body: string | null;
}

/** What the front door hands to Yoga with a request whose body it has read. */
type FrontDoorContext = Record<string, unknown> & {
  /** A miss the front door looked up, and for a POST the body it read. */
  [FRONT_DOOR]?: { found: Found | undefined; body?: { text: string; params: unknown } };
};

/**
 * What the front door needs of a Yoga server: its node:http handler (`yoga.handle(req, res,
 * serverContext)`). Any `createYoga(...)` instance is one, whatever its context types.
 */
export interface NodeYoga {
  handle(
    req: IncomingMessage,
    res: ServerResponse,
    ...serverContext: Array<Record<string, unknown>>
  ): unknown;
}

/** What Yoga's params handler resolves: one result, or a stream of them. */
type HandlerResult = Awaited<ReturnType<OnParamsEventPayload['paramsHandler']>>;

/** A result that must not be stored (it has errors or extensions): it still answers the flight. */
class UncacheableResult extends Error {
  constructor(readonly result: HandlerResult) {
    super('the response is not cacheable');
  }
}

/** Server-context key under which the front door passes a body it has read (clients cannot set it). */
const FRONT_DOOR = 'graphqlFlightFrontDoor';
/** A generation lives a day unless a mutation retires it first; a lost one only costs misses. */
const GENERATION = { ttlMs: 24 * 60 * 60 * 1_000 };
const JSON_TYPES = /^application\/(json|graphql\+json)\s*(;|$)/i;

/**
 * Operation coalescing and the response cache (one Yoga plugin).
 *
 * Coalescing: identical concurrent query operations, with the same document, operation name,
 * variables and credentials, execute once, and every requester gets the same result. Only
 * queries coalesce: never mutations or subscriptions, nor operations with @defer or @stream.
 * Requests of different credentials never share an execution, and a request with a bad token
 * shares only the 401 of the same bad token.
 *
 * The response cache (with `responseCache`): a query whose every field has a PUBLIC policy (see
 * responsePolicy) is stored, as the exact response body, in the FlightCache for the smallest TTL
 * of its fields. A later identical request is answered in `onRequest`, before Yoga parses the
 * request, the document or the variables, or builds a context: `X-Cache: HIT`. Concurrent
 * misses share one execution through the FlightCache's flight (with Redis, one for the fleet).
 * Errors are never stored. Anonymous requests use it, and those whose credentials `authorize`
 * accepts; other requests go through Yoga (and coalesce per credentials).
 *
 * On node:http, `nodeListener(yoga)` is the front door: it answers hits from Node's own request
 * and response objects before whatwg-node and Yoga run, and hands everything else to Yoga.
 *
 * A mutation makes cached responses stale through `invalidateResponses(cache, coordinates)`:
 * each field coordinate has a generation in the FlightCache, and a response's key carries the
 * generations of the fields it touched, so bumping one retires every response that touched it.
 *
 * Headers: `X-Cache: HIT | MISS | COALESCED`, the same in `Cache-Status` (RFC 9211), and for a
 * public cacheable response `ETag`, `Cache-Control: public, no-cache` and `Vary: Accept`; a GET
 * with a matching `If-None-Match` gets `304 Not Modified`. Every other response of the GraphQL
 * endpoint gets `Cache-Control: no-store` unless something set one.
 */
export class OperationCoalescing {
  readonly #flight: SingleFlight;
  readonly #documents: LRUCache<string, DocumentEntry>;
  readonly #outcomes = new WeakMap<Request, Outcome>();
  /** Requests looked up in onRequest: what was found (null: not for the response cache). */
  readonly #found = new WeakMap<Request, Found | null>();
  /** POST bodies parsed in onRequest, for Yoga's request parser (the body is read once). */
  readonly #parsed = new WeakMap<Request, GraphQLParams | GraphQLParams[]>();
  /** Requests answered from the cache in onRequest. */
  readonly #answered = new WeakSet<Request>();
  /** Entries loaded by this process whose flight is settling: joiners of it are COALESCED. */
  readonly #loadedHere = new WeakSet<StoredResponse>();
  readonly #maxDocumentLength: number;
  readonly #responses:
    | (Required<Omit<ResponseCacheOptions, 'authorize'>> & Pick<ResponseCacheOptions, 'authorize'>)
    | undefined;
  #schema: GraphQLSchema | undefined;
  #schemaDigest = '';
  #endpoint = '/graphql';
  #hits = 0;
  #stored = 0;
  #notModified = 0;
  #frontDoor = 0;
  #started = 0;
  #joined = 0;

  constructor(options: OperationCoalescingOptions = {}) {
    this.#maxDocumentLength = options.maxDocumentLength ?? 10_000;
    this.#flight = new SingleFlight({ timeoutMs: options.timeoutMs ?? 10_000 });
    this.#documents = new LRUCache({ max: options.maxDocuments ?? 1_000 });
    const responses = options.responseCache;
    if (responses) {
      if (typeof responses.cache?.peek !== 'function') {
        throw new InvalidOptionError('responseCache.cache', 'a FlightCache', responses.cache);
      }
      this.#responses = {
        cache: responses.cache,
        authorize: responses.authorize,
        maxBodyBytes: responses.maxBodyBytes ?? 100_000,
        maxResponseLength: responses.maxResponseLength ?? 1_000_000,
      };
    }
  }

  stats(): OperationStats {
    return {
      started: this.#started,
      joined: this.#joined,
      hits: this.#hits,
      stored: this.#stored,
      notModified: this.#notModified,
      frontDoor: this.#frontDoor,
    };
  }

  plugin(): Plugin {
    return {
      onYogaInit: ({ yoga }) => {
        this.#endpoint = yoga.graphqlEndpoint;
      },
      onSchemaChange: ({ schema }) => {
        this.#schema = schema;
        // Responses of another schema (another deploy on the same Redis) are never served.
        this.#schemaDigest = digest(printSchema(schema)).slice(0, 16);
        this.#documents.clear();
      },
      onRequest: ({ request, serverContext, endResponse, setRequest, fetchAPI }) => {
        if (this.#responses === undefined || this.#schema === undefined) return;
        const front = (serverContext as FrontDoorContext | undefined)?.[FRONT_DOOR];
        if (front !== undefined) {
          // The front door looked the request up (a miss), and read a POST's body: Yoga goes on.
          if (front.body === undefined) this.#found.set(request, front.found ?? null);
          else this.#handOn(request, front.body.text, front.body.params, front.found, setRequest, fetchAPI);
          return;
        }
        if (pathOf(request.url) !== this.#endpoint) return;
        if (request.method === 'GET') {
          return then(this.#findOrMiss(request, paramsOfUrl(request.url)), (found) => {
            if (found?.stored !== undefined) endResponse(this.#hit(request, found, found.stored, fetchAPI));
            else this.#found.set(request, found ?? null);
          });
        }
        // A POST body is read here only when its length is known and within the limit; any other
        // is left to Yoga (its limits apply) and looked up in onParams.
        if (request.method !== 'POST') return;
        if (!this.#readsAhead(request.headers.get('content-type'), request.headers.get('content-length')))
          return;
        return request.text().then((text) => {
          const params = parseJson(text);
          return then(this.#findOrMiss(request, params), (found) => {
            if (found?.stored !== undefined)
              return endResponse(this.#hit(request, found, found.stored, fetchAPI));
            this.#handOn(request, text, params, found, setRequest, fetchAPI);
          });
        });
      },
      onRequestParse: ({ request, setRequestParser }) => {
        const params = this.#parsed.get(request);
        if (params !== undefined) setRequestParser(() => params);
      },
      onParams: ({ params, request, paramsHandler, setParamsHandler, setResult }) => {
        const known = this.#found.get(request);
        const found =
          known !== undefined || this.#responses === undefined ? known : this.#findOrMiss(request, params);
        return then(found, (found) => {
          if (found?.stored !== undefined) {
            // A hit found only now (a body Yoga read): answered without parsing the document.
            this.#hits++;
            this.#outcomes.set(request, { outcome: 'HIT', stored: found.stored, bypass: false });
            setResult(JSON.parse(found.stored.body) as ExecutionResult);
            return;
          }
          if (found != null) {
            setParamsHandler((payload) => this.#throughCache(request, found, () => paramsHandler(payload)));
            return;
          }
          this.#coalesce(params, request, paramsHandler, setParamsHandler);
        });
      },
      onResponse: ({ request, response, setResponse, fetchAPI }) => {
        const found = this.#outcomes.get(request);
        if (found === undefined) {
          // A hit answered in onRequest is complete; its headers are left untouched, so Node writes
          // them from the object they were given in (whatwg-node's single writeHead).
          if (this.#answered.has(request)) {
            // CORS (which runs first) replaces Vary with Origin when the request has one.
            if (request.headers.has('origin')) addVary(response.headers, 'Accept');
            return;
          }
          if (this.#responses !== undefined && !response.headers.has('cache-control')) {
            if (pathOf(request.url) === this.#endpoint) response.headers.set('cache-control', 'no-store');
          }
          return;
        }
        const { outcome, stored, bypass } = found;
        const headers = response.headers;
        headers.set('x-cache', outcome);
        const fwd = bypass ? 'bypass' : 'miss';
        headers.set(
          'cache-status',
          outcome === 'HIT'
            ? hitStatus(stored)
            : `graphql-flight; fwd=${fwd}${outcome === 'COALESCED' ? '; collapsed' : ''}${stored ? `; stored; ttl=${ttlSeconds(stored)}` : ''}`,
        );
        if (stored === undefined || response.status !== 200) {
          if (!headers.has('cache-control')) headers.set('cache-control', 'no-store');
          return;
        }
        const etag = etagFor(stored.etag, headers.get('content-type'));
        headers.set('etag', etag);
        headers.set('cache-control', 'public, no-cache');
        addVary(headers, 'Accept');
        if (request.method === 'GET' && matchesEtag(request.headers.get('if-none-match'), etag)) {
          this.#notModified++;
          setResponse(new fetchAPI.Response(null, { status: 304, headers }));
        }
      },
    };
  }

  /**
   * A node:http request listener in front of `yoga` (itself a listener): a hit of the response
   * cache is answered from Node's own request and response objects, before whatwg-node builds a
   * Fetch Request and Response and before any Yoga hook runs; everything else goes to `yoga`,
   * with the body already read handed on (Yoga does not read it again). Requests with an Origin
   * header (CORS) go to Yoga untouched, so its CORS headers are never missing. `onAnswered` is
   * told of each hit it answers (metrics: Yoga's plugins never see these requests).
   */
  nodeListener(
    yoga: NodeYoga,
    onAnswered?: (answer: { status: number; startedAt: number }) => void,
  ): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
      const responses = this.#responses;
      const url = req.url ?? '/';
      const question = url.indexOf('?');
      if (
        responses === undefined ||
        this.#schema === undefined ||
        req.headers.origin !== undefined ||
        (question === -1 ? url : url.slice(0, question)) !== this.#endpoint
      ) {
        void yoga.handle(req, res);
        return;
      }
      const startedAt = performance.now();
      const like = nodeRequestLike(req);
      if (req.method === 'GET') {
        void then(this.#findOrMiss(like, paramsOfUrl(url)), (found) => {
          if (!this.#answerNode(like, res, found, startedAt, onAnswered))
            void yoga.handle(req, res, { [FRONT_DOOR]: { found } });
        });
        return;
      }
      if (
        req.method !== 'POST' ||
        !this.#readsAhead(like.headers.get('content-type'), like.headers.get('content-length'))
      ) {
        void yoga.handle(req, res);
        return;
      }
      void readBody(req).then(
        (text) => {
          const params = parseJson(text);
          return then(this.#findOrMiss(like, params), (found) => {
            if (!this.#answerNode(like, res, found, startedAt, onAnswered))
              void yoga.handle(req, res, { [FRONT_DOOR]: { found, body: { text, params } } });
          });
        },
        () => {
          // The client went away while sending its body: nobody is left to answer.
          if (!res.headersSent) res.destroy();
        },
      );
    };
  }

  /** Writes a front-door hit to Node's response; false when there is nothing stored to answer with. */
  #answerNode(
    request: RequestLike,
    res: ServerResponse,
    found: Found | undefined,
    startedAt: number,
    onAnswered: ((answer: { status: number; startedAt: number }) => void) | undefined,
  ): boolean {
    if (found?.stored === undefined) return false;
    const { status, headers, body } = this.#answer(request, found, found.stored);
    if (body !== null) headers['content-length'] = String(Buffer.byteLength(body));
    res.writeHead(status, headers);
    res.end(body ?? undefined);
    this.#frontDoor++;
    onAnswered?.({ status, startedAt });
    return true;
  }

  /** Whether a POST body is read ahead of Yoga: JSON, with a Content-Length within the limit. */
  #readsAhead(contentType: string | null, length: string | null): boolean {
    return (
      JSON_TYPES.test(contentType ?? '') &&
      length !== null &&
      /^[0-9]{1,9}$/.test(length) &&
      Number(length) <= this.#responses!.maxBodyBytes
    );
  }

  /** #find, with a failed lookup (a store error past its guard, a closed cache) taken as a miss. */
  #findOrMiss(request: RequestLike, params: unknown): Found | undefined | Promise<Found | undefined> {
    try {
      const found = this.#find(request, params);
      return found instanceof Promise ? found.catch(() => undefined) : found;
    } catch {
      return undefined;
    }
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
      this.#parsed.set(request, params as GraphQLParams);
      this.#found.set(request, found ?? null);
      return;
    }
    const again = new fetchAPI.Request(request.url, {
      method: 'POST',
      headers: request.headers,
      body: text,
      signal: request.signal,
    });
    this.#found.set(again, found ?? null);
    setRequest(again);
  }

  /**
   * Whether the response cache may answer this request, and if so its key, TTL and media type,
   * with the stored response when this process's memory tier holds it. Undefined when it may
   * not: not a cacheable public query, a media type only Yoga serves, or credentials that
   * `authorize` does not accept.
   */
  #find(request: RequestLike, params: unknown): Found | undefined | Promise<Found | undefined> {
    if (typeof params !== 'object' || params === null) return undefined;
    const { query, operationName, variables, extensions } = params as Record<string, unknown>;
    if (typeof query !== 'string' || extensions != null) return undefined;
    if (operationName != null && typeof operationName !== 'string') return undefined;
    if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) return undefined;
    const plan = this.#plan(query, operationName);
    if (plan === undefined || !plan.policy.cacheable) return undefined;
    const mediaType = regularMediaType(request.headers.get('accept'));
    if (mediaType === undefined) return undefined;
    const vars = variables == null ? '' : stableStringify(variables);
    const authorization = request.headers.get('authorization');
    if (authorization === null) return this.#lookUp(plan, vars, mediaType);
    const authorize = this.#responses!.authorize;
    if (authorize === undefined) return undefined;
    return Promise.resolve()
      .then(() => authorize(authorization))
      .then(
        (allowed) => (allowed === true ? this.#lookUp(plan, vars, mediaType) : undefined),
        () => undefined,
      );
  }

  /**
   * The key of a response (the plan's prefix, the current generation of each field it touches,
   * the variables) and the stored response if this process's memory tier has it. Synchronous
   * when every generation is in the memory tier.
   */
  #lookUp(plan: Plan, vars: string, mediaType: string): Found | Promise<Found> {
    const cache = this.#responses!.cache;
    let generations = '';
    for (const generationKey of plan.generationKeys) {
      const generation = cache.peek<string>(generationKey);
      if (generation === undefined) {
        return Promise.all(
          plan.generationKeys.map((key) => cache.remember(key, newGeneration, GENERATION)),
        ).then((all) => this.#keyed(plan, all.join(','), vars, mediaType));
      }
      generations = generations === '' ? generation : `${generations},${generation}`;
    }
    return this.#keyed(plan, generations, vars, mediaType);
  }

  #keyed(plan: Plan, generations: string, vars: string, mediaType: string): Found {
    // Variables last: they are the only part that may hold a separator.
    const key = `${plan.prefix}${generations}:${vars}`;
    const stored = this.#responses!.cache.peek<StoredResponse>(key);
    return stored === undefined
      ? { key, ttlMs: plan.ttlMs, mediaType }
      : { key, ttlMs: plan.ttlMs, mediaType, stored };
  }

  /** The response to a request found in the cache: the stored body, or a 304 for a matching GET. */
  #hit(request: Request, found: Found, stored: StoredResponse, fetchAPI: FetchAPI): Response {
    this.#answered.add(request);
    const answer = this.#answer(request, found, stored);
    return new fetchAPI.Response(answer.body, { status: answer.status, headers: answer.headers });
  }

  /** The cached answer to a request: the stored body, or a 304 for a GET whose If-None-Match matches. */
  #answer(request: RequestLike, found: Found, stored: StoredResponse): Answer {
    this.#hits++;
    const contentType = `${found.mediaType}; charset=utf-8`;
    const etag = etagFor(stored.etag, contentType);
    const headers = {
      'content-type': contentType,
      etag,
      'cache-control': 'public, no-cache',
      vary: 'Accept',
      'x-cache': 'HIT',
      'cache-status': hitStatus(stored),
    };
    if (request.method === 'GET' && matchesEtag(request.headers.get('if-none-match'), etag)) {
      this.#notModified++;
      return { status: 304, headers, body: null };
    }
    return { status: 200, headers, body: stored.body };
  }

  /** Coalescing without the response cache: one execution per identical operation and credentials. */
  #coalesce(
    params: GraphQLParams,
    request: Request,
    paramsHandler: OnParamsEventPayload['paramsHandler'],
    setParamsHandler: OnParamsEventPayload['setParamsHandler'],
  ): void {
    if (typeof params.query !== 'string' || !this.#isPlainQuery(params.query, params.operationName)) return;
    const key = operationKey(
      params.query,
      params.operationName,
      params.variables,
      request.headers.get('authorization'),
    );
    setParamsHandler((payload) => {
      let running: ReturnType<typeof paramsHandler> | undefined;
      const joined = this.#flight.join(key, () => {
        running = paramsHandler(payload);
        return running;
      });
      if (joined.shared) this.#joined++;
      else this.#started++;
      this.#outcomes.set(request, { outcome: joined.shared ? 'COALESCED' : 'MISS', bypass: true });
      // Past the flight's deadline the request that started the execution still gets its own
      // result; the ones that waited get a 503, as in the response cache's flight.
      return joined.result.catch((error: unknown) => {
        if (running !== undefined) return running;
        if (error instanceof FlightTimeoutError) return deadlinePassed(error);
        throw error;
      });
    });
  }

  /**
   * A miss of the response cache: one execution for every request of this key in the process
   * (and with Redis, in the fleet), stored if it is cacheable. The request that ran it is the
   * MISS; the ones that waited for it are COALESCED; one answered by the shared store is a HIT.
   */
  async #throughCache(
    request: Request,
    cacheable: Found,
    execute: () => HandlerResult | Promise<HandlerResult>,
  ): Promise<HandlerResult> {
    const { cache, maxResponseLength } = this.#responses!;
    let own: HandlerResult | undefined;
    let running: Promise<HandlerResult> | undefined;
    try {
      const stored = await cache.remember<StoredResponse>(
        cacheable.key,
        async () => {
          this.#started++;
          running = Promise.resolve(execute());
          own = await running;
          const body = storableBody(own, maxResponseLength);
          if (body === undefined) throw new UncacheableResult(own);
          const entry: StoredResponse = {
            body,
            etag: digest(body).slice(0, 27),
            expiresAt: Date.now() + cacheable.ttlMs,
          };
          this.#stored++;
          this.#loadedHere.add(entry);
          // Joiners of this flight resume first (microtasks); later readers are HITs.
          setImmediate(() => this.#loadedHere.delete(entry));
          return entry;
        },
        { ttlMs: cacheable.ttlMs },
      );
      if (own !== undefined) {
        this.#outcomes.set(request, { outcome: 'MISS', stored, bypass: false });
        return own;
      }
      const outcome = this.#loadedHere.has(stored) ? 'COALESCED' : 'HIT';
      if (outcome === 'COALESCED') this.#joined++;
      else this.#hits++;
      this.#outcomes.set(request, { outcome, stored, bypass: false });
      return JSON.parse(stored.body) as ExecutionResult;
    } catch (error) {
      if (error instanceof UncacheableResult) {
        if (own === undefined) this.#joined++;
        this.#outcomes.set(request, { outcome: own === undefined ? 'COALESCED' : 'MISS', bypass: false });
        return error.result;
      }
      // This request's own execution outlived the flight's deadline (or its store write failed):
      // it still answers this request, and is never run twice.
      if (running !== undefined) {
        this.#outcomes.set(request, { outcome: 'MISS', bypass: false });
        return running;
      }
      if (error instanceof FlightTimeoutError) {
        // The execution this request waited for passed the flight's deadline: a 503, not a herd.
        this.#joined++;
        this.#outcomes.set(request, { outcome: 'COALESCED', bypass: false });
        return deadlinePassed(error);
      }
      // The shared flight failed elsewhere (another process's load, a closed cache): run it here.
      this.#started++;
      this.#outcomes.set(request, { outcome: 'MISS', bypass: false });
      return execute();
    }
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

  /** The plan of an operation, or undefined when the document cannot be used. */
  #plan(query: string, operationName: string | null | undefined): Plan | undefined {
    const entry = this.#document(query);
    if (entry?.document == null || entry.types === null || this.#schema === undefined) return undefined;
    // '' is a name (one Yoga will not find), kept apart from no name at all.
    const name = operationName == null ? '' : `=${operationName}`;
    let plan = entry.plans.get(name);
    if (plan === undefined) {
      const policy = responsePolicy(this.#schema, entry.document, operationName);
      const coordinates = policy.cacheable ? policy.coordinates : [];
      plan = {
        policy,
        ttlMs: policy.cacheable ? policy.ttlMs : 0,
        // One short digest for schema, document and operation keeps a key's encoding short (no
        // hashing of the whole key on every lookup) for all but long variables.
        prefix: `response:${digest(`${this.#schemaDigest}\0${entry.digest}\0${name}`).slice(0, 22)}:`,
        generationKeys: coordinates.map(generationKey),
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

  /** Whether the selected operation is a query without @defer/@stream (parsed once per document). */
  #isPlainQuery(query: string, operationName: string | null | undefined): boolean {
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
}

/** Creates the plugin with a state of its own. */
export function useOperationCoalescing(options?: OperationCoalescingOptions): Plugin {
  return new OperationCoalescing(options).plugin();
}

/**
 * Retires every cached response that touched one of `coordinates` (`Type.field`, the fields with
 * a cache policy), in this process at once and, with Redis, in every process of the fleet (within
 * the cache's `localTtlMs`). Call it, with the field deletes, before a mutation answers.
 */
export async function invalidateResponses(cache: FlightCache, coordinates: readonly string[]): Promise<void> {
  await Promise.all(coordinates.map((coordinate) => cache.delete(generationKey(coordinate))));
}

/** A coordinate is a pair of GraphQL names, so the key needs no escaping (see encodeKey). */
function generationKey(coordinate: string): string {
  return `response-generation:${coordinate}`;
}

function newGeneration(): Promise<string> {
  return Promise.resolve(randomBytes(6).toString('base64url'));
}

/**
 * The identity of an operation for coalescing: the credentials (hashed, so no token sits in
 * memory as a key), the operation name, the document and the variables with keys sorted. The key
 * lives only while the operation is in flight, so the document is used as it is.
 */
function operationKey(
  query: string,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  authorization: string | null,
): string {
  const scope = authorization === null ? '' : digest(authorization);
  const vars = variables === null || variables === undefined ? '' : stableStringify(variables);
  const name = operationName == null ? '' : `=${operationName}`;
  return `${scope}\0${name}\0${vars}\0${query}`;
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

/** What a request that waited for an execution past its flight's deadline gets: a 503. */
function deadlinePassed(error: FlightTimeoutError): ExecutionResult {
  return {
    errors: [
      createGraphQLError(`the shared execution passed its ${error.timeoutMs} ms deadline`, {
        extensions: { code: 'EXECUTION_TIMEOUT', http: { status: 503 } },
      }),
    ],
  };
}

/** The body Yoga sends for `result` when it may be stored: data only, no errors or extensions. */
function storableBody(result: HandlerResult, maxLength: number): string | undefined {
  if (typeof result !== 'object' || result === null || Symbol.asyncIterator in result) return undefined;
  if (result.errors !== undefined || result.extensions !== undefined || result.data == null) return undefined;
  const body = JSON.stringify(result);
  return body.length <= maxLength ? body : undefined;
}

function hitStatus(stored: StoredResponse | undefined): string {
  return stored === undefined ? 'graphql-flight; hit' : `graphql-flight; hit; ttl=${ttlSeconds(stored)}`;
}

/** Remaining freshness in whole seconds (RFC 9211 `ttl`). */
function ttlSeconds(stored: StoredResponse): number {
  return Math.max(0, Math.ceil((stored.expiresAt - Date.now()) / 1_000));
}

/** `f(value)`, at once when `value` is not a promise (the hit path stays synchronous where it can). */
function then<T, R>(value: T | Promise<T>, f: (value: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(f) : f(value);
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}
