import type { ExecutionResult } from 'graphql';
import { addVary, etagFor, matchesEtag, type RequestLike } from './http.js';

/**
 * Answers and headers of the response cache: what a stored response is, the answer a hit gets
 * (body or 304), and the headers every response of the GraphQL endpoint carries. Nothing here
 * looks anything up or executes anything.
 */

/**
 * How a request of the response cache was answered: a fresh stored response (HIT), its own
 * execution (MISS), one it waited for (COALESCED), or a stored response past its TTL inside one of
 * its windows (STALE: see Served.staleIfError).
 */
export type CacheOutcome = 'HIT' | 'MISS' | 'COALESCED' | 'STALE';

/** A stored response: the exact body Yoga would send, its ETag, and when it stops being fresh. */
export interface StoredResponse {
  body: string;
  etag: string;
  /** Wall-clock milliseconds (a shared store serves it to other processes too). */
  expiresAt: number;
}

/**
 * A stored response's windows past its TTL, in milliseconds (its plan's, see responsePolicy): it is
 * kept for the TTL and the longer window, served stale inside them, and Cache-Control states them.
 */
export interface ResponseWindows {
  staleWhileRevalidateMs: number;
  staleIfErrorMs: number;
}

/**
 * A request the response cache may answer: its key, TTL, windows and media type, and the stored
 * response if this process holds it fresh.
 */
export interface Found extends ResponseWindows {
  key: string;
  ttlMs: number;
  mediaType: string;
  stored?: StoredResponse;
}

/** How a request that went through Yoga was served, for its response headers. */
export interface Served {
  outcome: CacheOutcome;
  /** Present when the response is public and cached (or cacheable): the ETag, the remaining TTL. */
  stored?: StoredResponse;
  /** With `stored`: its windows, for Cache-Control. */
  windows?: ResponseWindows;
  /**
   * STALE because of an error (inside the error window, an execution failed, or the origin is
   * failing past the revalidate window), not a revalidate-window hit.
   */
  staleIfError?: boolean;
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
 * for has just stored, STALE for a stale one (`staleIfError`: because of an error).
 */
export function answerOf(
  request: RequestLike,
  found: Found,
  stored: StoredResponse,
  outcome: 'HIT' | 'COALESCED' | 'STALE' = 'HIT',
  staleIfError = false,
): Answer {
  const contentType = `${found.mediaType}; charset=utf-8`;
  const etag = etagFor(stored.etag, contentType);
  const headers = {
    'content-type': contentType,
    etag,
    'cache-control': cacheControl(found),
    vary: 'Accept',
    'x-cache': outcome,
    'cache-status': cacheStatus({ outcome, stored, staleIfError, bypass: false }),
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
  headers.set('cache-control', cacheControl(served.windows));
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

/**
 * The Cache-Control of a public stored response: HTTP caches revalidate every time (`no-cache`),
 * and may serve it stale within its windows (RFC 5861), stated in whole seconds (rounded down; a
 * window under a second is not stated).
 */
function cacheControl(windows: ResponseWindows | undefined): string {
  let value = 'public, no-cache';
  const swr = Math.floor((windows?.staleWhileRevalidateMs ?? 0) / 1_000);
  const sie = Math.floor((windows?.staleIfErrorMs ?? 0) / 1_000);
  if (swr > 0) value += `, stale-while-revalidate=${swr}`;
  if (sie > 0) value += `, stale-if-error=${sie}`;
  return value;
}

/**
 * The Cache-Status (RFC 9211) of a served request: a hit, what the miss forwarded to, or a stale
 * response: `hit; fwd=stale` when it answered at once while a refresh went forward, `fwd=stale;
 * detail=stale-if-error` (no `hit`) when it answered because of an error.
 */
function cacheStatus({ outcome, stored, staleIfError, bypass }: Served): string {
  const ttl = stored === undefined ? '' : `; ttl=${ttlSeconds(stored, outcome === 'STALE')}`;
  if (outcome === 'HIT') return `graphql-flight; hit${ttl}`;
  if (outcome === 'STALE') {
    return staleIfError === true
      ? `graphql-flight; fwd=stale${ttl}; detail=stale-if-error`
      : `graphql-flight; hit; fwd=stale${ttl}`;
  }
  const collapsed = outcome === 'COALESCED' ? '; collapsed' : '';
  return `graphql-flight; fwd=${bypass ? 'bypass' : 'miss'}${collapsed}${stored === undefined ? '' : `; stored${ttl}`}`;
}

/**
 * Remaining freshness in whole seconds, rounded up (RFC 9211 `ttl`): at least 0 for a fresh
 * response; for a stale one at most 0, negative once it has been stale a whole second (RFC 9211:
 * "may be negative, to indicate staleness"). The bounds hold whatever the wall clock says: the
 * cache's own clock decided which the response is.
 */
function ttlSeconds(stored: StoredResponse, stale: boolean): number {
  const left = Math.ceil((stored.expiresAt - Date.now()) / 1_000);
  return stale ? Math.min(0, left) : Math.max(0, left);
}
