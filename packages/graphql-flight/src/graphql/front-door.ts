import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { nodeRequestLike, paramsOfUrl, parseJson, type RequestLike, readBody } from './http.js';
import { mapMaybe } from './maybe-promise.js';
import type { Found } from './response-answers.js';
import type { FlightEnd, ResponseCache } from './response-cache.js';

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

/** Server-context key under which the front door passes what it did to Yoga (clients cannot set it). */
export const FRONT_DOOR = 'graphqlFlightFrontDoor';

/** What the front door hands to Yoga with a request it looked up: the miss, and a POST's body. */
export interface FrontDoorHandOff {
  found: Found | undefined;
  body?: { text: string; params: unknown };
}

/** What the front door tells of each request it answers itself (metrics: Yoga never sees these). */
export interface FrontDoorAnswer {
  status: number;
  /** performance.now() when the request reached the front door. */
  startedAt: number;
  /**
   * HIT: a stored response; COALESCED: one an execution it waited for stored (or its 503); STALE:
   * the stale response the flight it waited for answered with.
   */
  outcome: 'HIT' | 'COALESCED' | 'STALE';
}

/** What the front door reads of the plugin that owns it, at each request. */
export interface FrontDoorHost {
  /** The response cache, once Yoga has announced its schema; undefined: every request goes to Yoga. */
  responses(): ResponseCache | undefined;
  /** Yoga's GraphQL endpoint path. */
  endpoint(): string;
  /** Told of each hit the front door answers (stats). */
  frontDoorHit(): void;
}

/**
 * A node:http request listener in front of `yoga`: a hit of the response cache is answered from
 * Node's own request and response objects, before whatwg-node builds a Fetch Request and
 * Response and before any Yoga hook runs; everything else goes to `yoga`, with the body already
 * read handed on (Yoga does not read it again). Requests with an Origin header (CORS) go to Yoga
 * untouched, so its CORS headers are never missing. `onAnswered` is told of each hit it answers
 * (metrics: Yoga's plugins never see these requests).
 */
export function createNodeListener(
  host: FrontDoorHost,
  yoga: NodeYoga,
  onAnswered?: (answer: FrontDoorAnswer) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  const answerNode = (
    responses: ResponseCache,
    request: RequestLike,
    res: ServerResponse,
    found: Found | undefined,
    startedAt: number,
  ): boolean => {
    if (found?.stored === undefined) return false;
    const { status, headers, body } = responses.answer(request, found, found.stored);
    write(res, status, headers, body);
    host.frontDoorHit();
    onAnswered?.({ status, startedAt, outcome: 'HIT' });
    return true;
  };
  /**
   * A miss whose response flight a request of this process is running already: held on it, and
   * answered from here with what it stores (or its 503), so identical requests of a cold burst
   * never enter Yoga. Anything else (no such flight, an unstored result, a failure) goes to Yoga.
   */
  const joinOrHandOn = (
    responses: ResponseCache,
    req: IncomingMessage,
    request: RequestLike,
    res: ServerResponse,
    found: Found | undefined,
    startedAt: number,
    handOff: FrontDoorHandOff,
  ): void => {
    const running = found === undefined ? undefined : responses.running(found.key);
    if (running === undefined) {
      handOn(req, res, handOff);
      return;
    }
    void running.then((end: FlightEnd) => {
      if (end === undefined) {
        handOn(req, res, handOff);
        return;
      }
      const { status, headers, body } = responses.answerJoined(request, found!, end);
      write(res, status, headers, body);
      onAnswered?.({
        status,
        startedAt,
        outcome: 'stale' in end && end.stale !== undefined ? 'STALE' : 'COALESCED',
      });
    });
  };
  const handOn = (req: IncomingMessage, res: ServerResponse, handOff: FrontDoorHandOff) =>
    void yoga.handle(req, res, { [FRONT_DOOR]: handOff });

  return (req, res) => {
    const responses = host.responses();
    const url = req.url ?? '/';
    const question = url.indexOf('?');
    if (
      responses === undefined ||
      req.headers.origin !== undefined ||
      (question === -1 ? url : url.slice(0, question)) !== host.endpoint()
    ) {
      void yoga.handle(req, res);
      return;
    }
    const startedAt = performance.now();
    const like = nodeRequestLike(req);
    if (req.method === 'GET') {
      void mapMaybe(responses.find(like, paramsOfUrl(url)), (found) => {
        if (!answerNode(responses, like, res, found, startedAt))
          joinOrHandOn(responses, req, like, res, found, startedAt, { found });
      });
      return;
    }
    if (
      req.method !== 'POST' ||
      !responses.readsAhead(like.headers.get('content-type'), like.headers.get('content-length'))
    ) {
      void yoga.handle(req, res);
      return;
    }
    void readBody(req).then(
      (text) => {
        const params = parseJson(text);
        return mapMaybe(responses.find(like, params), (found) => {
          if (!answerNode(responses, like, res, found, startedAt))
            joinOrHandOn(responses, req, like, res, found, startedAt, { found, body: { text, params } });
        });
      },
      () => {
        // The client went away while sending its body: nobody is left to answer.
        if (!res.headersSent) res.destroy();
      },
    );
  };
}

/** Writes a whole answer to Node's response (one writeHead, with its length). */
function write(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: string | null,
): void {
  if (body !== null) headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(body ?? undefined);
}
