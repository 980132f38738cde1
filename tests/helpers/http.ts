import { type DocumentNode, print } from 'graphql';
import type { TestServer } from './server.js';

/** A GraphQL response body; the suites read the data of many operations from it. */
export interface ReplyBody {
  // biome-ignore lint/suspicious/noExplicitAny: the suites read the data of many operations
  data?: any;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

export interface Reply {
  status: number;
  /** The X-Cache header: HIT, MISS or COALESCED (null when the response cache did not see it). */
  xCache: string | null;
  headers: Headers;
  body: ReplyBody;
}

/**
 * One POST through `yoga.fetch` (in-process, with the response cache's onRequest hook in front),
 * keeping the status and the headers (X-Cache) that `TestServer.request` drops.
 */
export async function send(
  t: TestServer,
  document: string | DocumentNode,
  options: { variables?: Record<string, unknown>; token?: string } = {},
): Promise<Reply> {
  const response = await t.server.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
    },
    body: JSON.stringify({
      query: typeof document === 'string' ? document : print(document),
      variables: options.variables,
    }),
  });
  return {
    status: response.status,
    xCache: response.headers.get('x-cache'),
    headers: response.headers,
    body: (await response.json()) as ReplyBody,
  };
}

/** The `extensions.code` of each error of a reply, in order. */
export function errorCodes(reply: Reply): unknown[] {
  return (reply.body.errors ?? []).map((error) => error.extensions?.code);
}
