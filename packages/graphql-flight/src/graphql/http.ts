import type { IncomingMessage } from 'node:http';

/**
 * The HTTP side of the response cache and its front door: media types, ETags, Vary, GET
 * parameters, and reading a node:http request. Nothing here knows about GraphQL execution.
 */

/** What a lookup reads of a request: a Fetch Request, or a node:http request (nodeRequestLike). */
export interface RequestLike {
  method: string;
  headers: { get(name: string): string | null };
}

/** A strong ETag per representation: the body's digest, and the media type it is sent as. */
export function etagFor(digest: string, contentType: string | null): string {
  return contentType?.startsWith('application/graphql-response+json') ? `"${digest}-r"` : `"${digest}"`;
}

/** Adds `field` to the Vary header, keeping what is there (CORS's Origin, for one). */
export function addVary(headers: Headers, field: string): void {
  const vary = headers.get('vary');
  if (vary === null || vary === '') headers.set('vary', field);
  else if (
    !vary
      .toLowerCase()
      .split(/\s*,\s*/)
      .includes(field.toLowerCase())
  )
    headers.set('vary', `${vary}, ${field}`);
}

/** If-None-Match (weak comparison, RFC 9110 13.1.2): `*` or a listed tag equal to `etag`. */
export function matchesEtag(header: string | null, etag: string): boolean {
  if (header === null) return false;
  for (const part of header.split(',')) {
    const tag = part.trim();
    if (tag === '*' || tag === etag || (tag.startsWith('W/') && tag.slice(2) === etag)) return true;
  }
  return false;
}

/**
 * The media type Yoga answers a single (non-stream) result with, for this Accept header: the
 * first listed type (utf-8 only) matching application/json or application/graphql-response+json,
 * application/json when both match (Yoga's order). Undefined when only stream types match.
 */
export function regularMediaType(accept: string | null): string | undefined {
  if (accept === null) return 'application/json';
  for (const item of accept.replace(/\s/g, '').toLowerCase().split(',')) {
    const [mediaType, ...parameters] = item.split(';');
    const charset = parameters.find((parameter) => parameter.includes('charset='));
    if (charset !== undefined && charset !== 'charset=utf-8') continue;
    const [type, subtype] = (mediaType ?? '').split('/');
    if (type !== '*' && type !== 'application') continue;
    if (subtype === '*' || subtype === 'json') return 'application/json';
    if (subtype === 'graphql-response+json') return 'application/graphql-response+json';
  }
  return undefined;
}

/** JSON.parse, or undefined for text that is not JSON (Yoga answers it). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** What a lookup reads of a node:http request. */
export function nodeRequestLike(req: IncomingMessage): RequestLike {
  return {
    method: req.method ?? 'GET',
    headers: {
      get(name) {
        // Node keeps only the first of repeated Authorization headers; Fetch joins them, and so
        // does this, so the front door and Yoga see the same value.
        if (name === 'authorization' && req.headers.authorization !== undefined) {
          return joinedRaw(req.rawHeaders, name);
        }
        const value = req.headers[name];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    },
  };
}

/** Every value of header `name` (lower case) in a node:http request, joined by ', ', or null. */
function joinedRaw(rawHeaders: readonly string[], name: string): string | null {
  let joined: string | null = null;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length === name.length && rawHeaders[i]!.toLowerCase() === name) {
      joined = joined === null ? rawHeaders[i + 1]! : `${joined}, ${rawHeaders[i + 1]}`;
    }
  }
  return joined;
}

/** A node:http request's body as text; rejects when the client goes away first. */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new Error('the client closed the request before its body arrived'));
    });
  });
}

/** GraphQL-over-HTTP GET parameters (variables and extensions as JSON text). */
export function paramsOfUrl(url: string): unknown {
  const question = url.indexOf('?');
  if (question === -1) return undefined;
  const search = new URLSearchParams(url.slice(question + 1));
  const query = search.get('query');
  if (query === null) return undefined;
  let variables: unknown;
  const variablesText = search.get('variables');
  try {
    variables = variablesText === null ? undefined : JSON.parse(variablesText);
  } catch {
    return undefined;
  }
  return {
    query,
    operationName: search.get('operationName'),
    variables,
    extensions: search.get('extensions'),
  };
}

/** The path of an absolute URL, without parsing the whole URL. */
export function pathOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start === -1) return '/';
  const end = url.indexOf('?', start);
  return url.slice(start, end === -1 ? undefined : end);
}
