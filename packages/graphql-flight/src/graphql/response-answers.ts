import type { ExecutionResult } from 'graphql';
import { addVary, etagFor, matchesEtag, type RequestLike } from './http.js';

/**
 * Answers and headers of the response cache: what a stored response is, the answer a hit gets
 * (body or 304), and the headers every response of the GraphQL endpoint carries. Nothing here
 * looks anything up or executes anything.
 */

export type CacheOutcome = 'HIT' | 'MISS' | 'COALESCED';

/** A stored response: the exact body Yoga would send, its ETag, and when it stops being fresh. */
export interface StoredResponse {
  body: string;
  etag: string;
  /** Wall-clock milliseconds (a shared store serves it to other processes too). */
  expiresAt: number;
}

/**
 * A request the response cache may answer: its key, TTL, windows (its plan's, see
 * responsePolicy) and media type, and the stored response if any.
 */
export interface Found {
  key: string;
  ttlMs: number;
  staleWhileRevalidateMs: number;
  staleIfErrorMs: number;
  mediaType: string;
  stored?: StoredResponse;
}

/** How a request that went through Yoga was served, for its response headers. */
export interface Served {
  outcome: CacheOutcome;
  /** Present when the response is public and cached (or cacheable): the ETag, the remaining TTL. */
  stored?: StoredResponse;
  /** Served by coalescing per credentials (bypass), not by the response cache path. */
  bypass: boolean;
}

/** The parts of a cached answer, for a Fetch Response or a node:http response. */
export interface Answer {
  status: 200 | 304 | 503;
  headers: Record<string, string>;
  body: string | null;
}

/**
 * The cached answer to a request: the stored body, or a 304 for a GET whose If-None-Match matches.
 * `outcome` is HIT for a stored response, COALESCED for one that an execution this request waited
 * for has just stored.
 */
export function answerOf(
  request: RequestLike,
  found: Found,
  stored: StoredResponse,
  outcome: 'HIT' | 'COALESCED' = 'HIT',
): Answer {
  const contentType = `${found.mediaType}; charset=utf-8`;
  const etag = etagFor(stored.etag, contentType);
  const headers = {
    'content-type': contentType,
    etag,
    'cache-control': 'public, no-cache',
    vary: 'Accept',
    'x-cache': outcome,
    'cache-status': cacheStatus({ outcome, stored, bypass: false }),
  };
  if (request.method === 'GET' && matchesEtag(request.headers.get('if-none-match'), etag)) {
    return { status: 304, headers, body: null };
  }
  return { status: 200, headers, body: stored.body };
}

/**
 * Sets the cache headers of a response Yoga produced for a request the plugin served (X-Cache,
 * Cache-Status, and for a stored public response ETag, Cache-Control and Vary). Returns true
 * when the request is a GET whose If-None-Match matches: the caller answers 304 instead.
 */
export function decorate(request: Request, response: Response, served: Served): boolean {
  const { outcome, stored } = served;
  const headers = response.headers;
  headers.set('x-cache', outcome);
  headers.set('cache-status', cacheStatus(served));
  if (stored === undefined || response.status !== 200) {
    if (!headers.has('cache-control')) headers.set('cache-control', 'no-store');
    return false;
  }
  const etag = etagFor(stored.etag, headers.get('content-type'));
  headers.set('etag', etag);
  headers.set('cache-control', 'public, no-cache');
  addVary(headers, 'Accept');
  return request.method === 'GET' && matchesEtag(request.headers.get('if-none-match'), etag);
}

/** Replies made by storedReply, and the stored response and media type each one stands for. */
const replies = new WeakMap<object, { stored: StoredResponse; mediaType: string }>();

/**
 * A result that stands for a stored response: the plugin answers it with the stored bytes
 * (`storedBody`), so no request parses the body and Yoga serialises nothing. Read as a result
 * anyway (by a plugin that looks), its `data` is the stored one, parsed on first use.
 */
export function storedReply(stored: StoredResponse, mediaType: string): ExecutionResult {
  let data: ExecutionResult['data'];
  const reply = {
    get data() {
      data ??= (JSON.parse(stored.body) as ExecutionResult).data;
      return data;
    },
  } as ExecutionResult;
  replies.set(reply, { stored, mediaType });
  return reply;
}

/** The media type a reply made by storedReply is sent as; undefined for any other result. */
export function storedReplyType(result: unknown): string | undefined {
  return typeof result === 'object' && result !== null ? replies.get(result)?.mediaType : undefined;
}

/** For a reply made by storedReply: the response with the stored body, as Yoga would send it. */
export function storedBody(result: unknown, fetchAPI: { Response: typeof Response }): Response | undefined {
  const reply = typeof result === 'object' && result !== null ? replies.get(result) : undefined;
  if (reply === undefined) return undefined;
  return new fetchAPI.Response(reply.stored.body, {
    status: 200,
    headers: { 'content-type': `${reply.mediaType}; charset=utf-8` },
  });
}

/** The body Yoga sends for `result` when it may be stored: data only, no errors or extensions. */
export function storableBody(result: unknown, maxLength: number): string | undefined {
  if (typeof result !== 'object' || result === null || Symbol.asyncIterator in result) return undefined;
  const { errors, extensions, data } = result as ExecutionResult;
  if (errors !== undefined || extensions !== undefined || data == null) return undefined;
  const body = JSON.stringify(result);
  return body.length <= maxLength ? body : undefined;
}

/** The Cache-Status (RFC 9211) of a served request: a hit, or what the miss forwarded to. */
function cacheStatus({ outcome, stored, bypass }: Served): string {
  const ttl = stored === undefined ? '' : `; ttl=${ttlSeconds(stored)}`;
  if (outcome === 'HIT') return `graphql-flight; hit${ttl}`;
  const collapsed = outcome === 'COALESCED' ? '; collapsed' : '';
  return `graphql-flight; fwd=${bypass ? 'bypass' : 'miss'}${collapsed}${stored === undefined ? '' : `; stored${ttl}`}`;
}

/** Remaining freshness in whole seconds (RFC 9211 `ttl`). */
function ttlSeconds(stored: StoredResponse): number {
  return Math.max(0, Math.ceil((stored.expiresAt - Date.now()) / 1_000));
}
