import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { print } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SALES_SUMMARY_KEY, TOP_PRODUCTS_KEY } from '../../src/app/invalidation.js';
import { createHardeningPlugins, httpServerOptions, resolveLimits } from '../../src/plugins/hardening.js';
import { FLIGHT_DEADLINE_MARGIN_MS, type Server, type ServerOptions } from '../../src/server.js';
import { SalesSummaryDocument, TopProductsDocument } from '../generated/graphql.js';
import { deferred } from '../../packages/graphql-flight/tests/helpers/deferred.js';
import { startTestServer, TEST_SECRET } from '../helpers/server.js';

interface Reply {
  status: number;
  headers: Headers;
  body: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
}

interface HardenedServer {
  server: Server;
  post(body: unknown, init?: { headers?: Record<string, string> }): Promise<Reply>;
  close(): Promise<void>;
}

/** tests/helpers/server.ts's server with config overrides (limits, NODE_ENV), posting raw bodies. */
async function startServer(config: Partial<ServerOptions['config']> = {}): Promise<HardenedServer> {
  const t = await startTestServer({ config });
  return {
    server: t.server,
    async post(body, init = {}) {
      const response = await t.server.yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        // The GraphQL-over-HTTP media type: an invalid document is a 400 (application/json gets 200).
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          ...init.headers,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: response.status, headers: response.headers, body: await response.json() };
    },
    close: () => t.close(),
  };
}

/**
 * What any resolver of the demo schema leaves behind: a cached field calls the cache (a hit or a
 * miss), an uncached one the data source. Unchanged figures mean no resolver ran.
 */
function footprint(server: Server): { lookups: number; queries: number } {
  const stats = server.cache.stats();
  const queries = Object.values(server.data.queryCounts()).reduce((sum, count) => sum + count, 0);
  return { lookups: stats.hits + stats.misses, queries };
}

const aliases = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}${i}: salesSummary { orderCount }`).join(' ');
const DEEP = 'viewer { recentOrders { product { stats { unitsSold } } } }'; // depth 5
/** Cost 5,873 in under 70 tokens: 64 spreads of F through three levels of fragments. */
const fanOut = (top: string) =>
  `{ ...${top} } fragment ${top} on Query { ...B ...B ...B ...B } fragment B on Query { ...C ...C ...C ...C } ` +
  `fragment C on Query { ...F ...F ...F ...F } fragment F on Query { ${DEEP} }`;

describe('the hardened server with the default limits', () => {
  let t: HardenedServer;
  beforeAll(async () => {
    // The response cache is off here so that the footprint counts only what resolvers do (its
    // own lookups come before validation); tests/server/response-cache.test.ts shows that a
    // refused or failed operation is never stored with it on.
    t = await startServer({ responseCache: false });
  });
  afterAll(async () => {
    await t.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('lets many cached fields of one operation wait on its deadline without a listener-leak warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      // Fifteen aliases of one cached field: fifteen calls wait on the execution's signal at once.
      const fields = Array.from({ length: 15 }, (_, i) => `s${i}: salesSummary { orderCount }`).join(' ');
      const reply = await t.post({ query: `{ ${fields} }` });
      expect(reply.status).toBe(200);
      // Node emits the warning on the next turn.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('refuses 16 aliases (the limit is 15), counted through fragments and repeated spreads, before any resolver runs', async () => {
    const before = footprint(t.server);
    for (const query of [
      `{ ${aliases('a', 16)} }`,
      `{ ...A ...B } fragment A on Query { ${aliases('a', 8)} } fragment B on Query { ${aliases('b', 8)} }`,
      `{ ...A ... on Query { ...A } } fragment A on Query { ${aliases('a', 8)} }`,
    ]) {
      const reply = await t.post({ query });
      expect(reply.status).toBe(400);
      expect(reply.body.data).toBeUndefined();
      expect(reply.body.errors).toEqual([
        {
          message: 'Aliases limit of 15 exceeded, found 16.',
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        },
      ]);
    }
    expect(footprint(t.server)).toEqual(before);

    const fifteen = await t.post({ query: `{ ${aliases('a', 15)} }` });
    expect(fifteen.body.errors).toBeUndefined();
    expect(Object.keys(fifteen.body.data as object)).toHaveLength(15);
  });

  it('refuses a document of more than 1,000 tokens while parsing it', async () => {
    const before = footprint(t.server);
    const reply = await t.post({
      query: `{ salesSummary { ${Array.from({ length: 1_000 }, () => 'orderCount').join(' ')} } }`,
    });
    expect(reply.status).toBe(400);
    expect(reply.body.errors?.[0]?.message).toBe('Syntax Error: Token limit of 1000 exceeded.');
    expect(footprint(t.server)).toEqual(before);
  });

  it('refuses fragment fan-out past the cost of 5,000, a fragment named __schema included (GHSA-733v-p3h5-qpq7)', async () => {
    const token = await signed(1);
    const before = footprint(t.server);
    for (const top of ['A', '__schema']) {
      const reply = await t.post({ query: fanOut(top) }, { headers: { authorization: `Bearer ${token}` } });
      expect(reply.status).toBe(400);
      expect(reply.body.errors).toHaveLength(1);
      expect(reply.body.errors?.[0]?.message).toBe('Query Cost limit of 5000 exceeded, found 5873.05078125.');
    }
    expect(footprint(t.server)).toEqual(before);
  });

  it('refuses a fragment cycle as invalid, without the limits overflowing the stack (armor PR #824)', async () => {
    const before = footprint(t.server);
    const reply = await t.post({
      query:
        '{ ...A } fragment A on Query { salesSummary { orderCount } ...B } fragment B on Query { topProducts { id } ...A }',
    });
    expect(reply.status).toBe(400);
    expect(reply.body.errors?.map((error) => error.message)).toContain(
      'Cannot spread fragment "A" within itself via "B".',
    );
    expect(footprint(t.server)).toEqual(before);
  });

  it('refuses a batch (a JSON array body): batching is off', async () => {
    const before = footprint(t.server);
    const query = print(SalesSummaryDocument);
    const reply = await t.post([{ query }, { query }]);
    expect(reply.status).toBe(400);
    expect(reply.body.errors?.[0]?.message).toBe('Batching is not supported.');
    expect(footprint(t.server)).toEqual(before);
  });

  it('answers 413 to a body over 100 KB before parsing it, by Content-Length or while reading a chunked one', async () => {
    // Not JSON at all: parsing it would be a 400, so a 413 shows it was never parsed.
    const oversized = `{"query": "${'x'.repeat(100_001)}`;
    const byLength = await t.server.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: oversized,
    });
    expect(byLength.status).toBe(413);
    expect(await byLength.json()).toEqual({
      errors: [
        {
          message: 'Request body too large: the limit is 100000 bytes',
          extensions: { code: 'REQUEST_ENTITY_TOO_LARGE' },
        },
      ],
    });

    const chunk = new TextEncoder().encode('x'.repeat(10_000));
    let sent = 0;
    const chunked = await t.server.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream<Uint8Array>({
        pull(controller) {
          // Endless: the limit has to stop reading it.
          sent += chunk.byteLength;
          controller.enqueue(chunk);
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(sent).toBeLessThan(200_000);

    const small = await t.post({ query: print(SalesSummaryDocument) });
    expect(small.status).toBe(200);
  });

  it('masks an unexpected error for the client and logs it with its operation and the key fingerprint, never the key', async () => {
    const logged = vi.spyOn(t.server.yoga.logger, 'error');
    // A loader resolving undefined fails its cache key with E_LOAD_UNDEFINED, which names the key.
    vi.spyOn(t.server.data, 'salesSummary').mockResolvedValue(undefined as never);
    await t.server.cache.delete(SALES_SUMMARY_KEY);
    const reply = await t.post({ query: print(SalesSummaryDocument) });
    expect(reply.body.errors).toEqual([
      {
        message: 'Unexpected error.',
        locations: [{ line: 2, column: 3 }],
        path: ['salesSummary'],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      },
    ]);
    expect(JSON.stringify(reply.body)).not.toMatch(/salesSummary"?,? ?resolved|undefined|stack|E_LOAD/);

    expect(logged).toHaveBeenCalledTimes(1);
    const [message, details] = logged.mock.calls[0] as [string, Record<string, unknown>];
    expect(message).toMatch(
      /^unexpected error in query SalesSummary \(key #[0-9a-f]{16}\): LoadUndefinedError: loader for key "#[0-9a-f]{16}" resolved undefined; return null to cache an absent value$/,
    );
    expect(details).toMatchObject({
      operation: 'query SalesSummary',
      path: 'salesSummary',
      fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
      code: 'E_LOAD_UNDEFINED',
    });
    expect(message).toContain(`#${details.fingerprint as string}`);
    expect(JSON.stringify(logged.mock.calls)).not.toMatch(/Query\.salesSummary/);
    expect(String(details.stack)).toMatch(/^LoadUndefinedError: loader for key "#[0-9a-f]{16}"/);

    // The same key, the same fingerprint; an error without a key is logged without one.
    await t.post({ query: print(SalesSummaryDocument) });
    expect(logged.mock.calls[1]?.[1]).toMatchObject({ fingerprint: details.fingerprint });
    vi.spyOn(t.server.data, 'topProducts').mockRejectedValue(new Error('connect ECONNREFUSED 10.0.0.1:5432'));
    await t.server.cache.delete(TOP_PRODUCTS_KEY);
    const anonymous = await t.post({ query: '{ topProducts(limit: 1) { id } }' });
    expect(anonymous.body.errors?.[0]?.message).toBe('Unexpected error.');
    expect(JSON.stringify(anonymous.body)).not.toContain('ECONNREFUSED');
    expect(logged.mock.calls[2]?.[0]).toBe(
      'unexpected error in query (anonymous): Error: connect ECONNREFUSED 10.0.0.1:5432',
    );
    expect(logged.mock.calls[2]?.[1]).toMatchObject({ fingerprint: undefined, path: 'topProducts' });
  });

  it('keeps introspection and suggestions outside production', async () => {
    const introspection = await t.post({ query: '{ __schema { queryType { name } } }' });
    expect(introspection.body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    const misspelt = await t.post({ query: '{ salesSumary { orderCount } }' });
    expect(misspelt.body.errors?.[0]?.message).toBe(
      'Cannot query field "salesSumary" on type "Query". Did you mean "salesSummary"?',
    );
  });

  it('closes a connection whose headers or body do not arrive in time with 408 (node:http timeouts)', async () => {
    const http = createHttpServer(
      httpServerOptions({ headersTimeoutMs: 150, requestTimeoutMs: 300 }),
      t.server.yoga,
    );
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      const port = (http.address() as AddressInfo).port;
      const slowHeaders = await stall(port, 'POST /graphql HTTP/1.1\r\nHost: localhost\r\n');
      expect(slowHeaders).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      const slowBody = await stall(
        port,
        'POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query":',
      );
      expect(slowBody).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    } finally {
      await closeHttp(http);
    }
    expect(httpServerOptions(resolveLimits())).toEqual({
      requestTimeout: 30_000,
      headersTimeout: 10_000,
      connectionsCheckingInterval: 1_000,
    });
  });
});

describe('the hardened server in production, with lower limits', () => {
  let t: HardenedServer;
  beforeAll(async () => {
    t = await startServer({
      nodeEnv: 'production',
      limits: { maxDepth: 4, executionTimeoutMs: 150 },
    });
  });
  afterAll(async () => {
    await t.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('refuses introspection', async () => {
    const before = footprint(t.server);
    for (const query of ['{ __schema { queryType { name } } }', '{ __type(name: "Query") { name } }']) {
      const reply = await t.post({ query });
      expect(reply.status).toBe(400);
      expect(reply.body.data).toBeUndefined();
      expect(reply.body.errors?.[0]?.message).toMatch(/^GraphQL introspection has been disabled/);
    }
    expect(footprint(t.server)).toEqual(before);
    const typename = await t.post({ query: '{ __typename }' });
    expect(typename.body).toEqual({ data: { __typename: 'Query' } });
  });

  it('gives no "Did you mean" suggestion for a misspelt field or argument', async () => {
    const field = await t.post({ query: '{ salesSumary { orderCount } }' });
    expect(field.body.errors?.[0]?.message).toBe('Cannot query field "salesSumary" on type "Query".');
    const argument = await t.post({ query: '{ topProducts(limt: 1) { id } }' });
    expect(argument.body.errors?.[0]?.message).toBe('Unknown argument "limt" on field "Query.topProducts".');
    expect(JSON.stringify([field.body, argument.body])).not.toMatch(/Did you mean|salesSummary"|limit"/);
  });

  it('refuses depth 5 (the limit is 4) however fragments or names hide it, before any resolver runs', async () => {
    const token = await signed(2);
    const before = footprint(t.server);
    for (const query of [
      `{ ${DEEP} }`,
      '{ ...V } fragment V on Query { viewer { ...O } } fragment O on Customer { recentOrders { ...P } } fragment P on Order { product { stats { unitsSold } } }',
      `{ ...__schema } fragment __schema on Query { ${DEEP} }`,
      `{ ... on Query { ... on Query { ${DEEP} } } }`,
      `{ __schema: ${DEEP} }`,
    ]) {
      const reply = await t.post({ query }, { headers: { authorization: `Bearer ${token}` } });
      expect(reply.status, query).toBe(400);
      expect(reply.body.errors, query).toEqual([
        {
          message: 'Query depth limit of 4 exceeded, found 5.',
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        },
      ]);
    }
    expect(footprint(t.server)).toEqual(before);

    // Fragments are not levels of their own: depth 4 through two inline fragments is served.
    const allowed = await t.post(
      { query: '{ ... on Query { ... on Query { viewer { recentOrders { product { id } } } } } }' },
      { headers: { authorization: `Bearer ${token}` } },
    );
    expect(allowed.body.errors).toBeUndefined();
  });

  it("runs the cache's flights to the execution deadline and a margin, so the deadline answers first", () => {
    expect(t.server.cache.timeoutMs).toBe(150 + FLIGHT_DEADLINE_MARGIN_MS);
  });

  it('answers 503 EXECUTION_TIMEOUT when an operation passes its execution deadline', async () => {
    const gate = deferred<void>();
    const topProducts = t.server.data.topProducts.bind(t.server.data);
    const signals: Array<AbortSignal | undefined> = [];
    vi.spyOn(t.server.data, 'topProducts').mockImplementation(async (...args) => {
      signals.push(args[1]?.signal);
      await gate.promise;
      return topProducts(...args);
    });
    const reply = await t.post({ query: print(TopProductsDocument) });
    expect(reply.status).toBe(503);
    // Nobody waits for the statement any more: its signal has aborted, so it would not be sent.
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(true);
    expect(reply.body).toEqual({
      errors: [
        {
          message: 'the operation exceeded its 150 ms deadline',
          extensions: { code: 'EXECUTION_TIMEOUT' },
        },
      ],
    });
    gate.resolve();
    await vi.waitFor(() => expect(t.server.cache.stats().flights.inFlight).toBe(0));
    const later = await t.post({ query: print(TopProductsDocument) });
    expect(later.body.errors).toBeUndefined();
  });
});

describe('createHardeningPlugins', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('strips the original error Yoga adds in development mode to errors outside execution', async () => {
    vi.stubEnv('NODE_ENV', 'development');
    const yoga = createYoga({
      schema: createSchema({
        typeDefs: 'type Query { ok: Boolean }',
        resolvers: { Query: { ok: () => true } },
      }),
      plugins: createHardeningPlugins({ production: false, logger: { error() {} } }),
      logging: false,
      context: () => {
        throw new Error('context failed: password=hunter2');
      },
    });
    const response = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ ok }' }),
    });
    expect(response.status).toBe(500);
    const body = await response.text();
    expect(JSON.parse(body)).toEqual({
      errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
    });
    expect(body).not.toMatch(/hunter2|stack|originalError/);
  });

  it('validates the limits it is given, naming the limit and the value', () => {
    expect(() => resolveLimits({ maxDepth: 0 })).toThrow(
      'option "limits.maxDepth" must be a positive integer',
    );
    expect(() => resolveLimits({ maxCost: 1.5 })).toThrow(
      'option "limits.maxCost" must be a positive integer',
    );
    expect(() => resolveLimits({ headersTimeoutMs: 40_000 })).toThrow(
      'option "limits.headersTimeoutMs" must be at most limits.requestTimeoutMs (30000)',
    );
    expect(resolveLimits({ maxAliases: 3, maxDepth: undefined })).toMatchObject({
      maxAliases: 3,
      maxDepth: 6,
    });
  });
});

async function signed(customerId: number): Promise<string> {
  const { signToken } = await import('../../src/app/auth.js');
  return signToken(customerId, TEST_SECRET);
}

/** Sends `text` on a raw connection and returns what the server answers before it closes. */
function stall(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      received += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
  });
}

function closeHttp(http: HttpServer): Promise<void> {
  http.closeAllConnections();
  return new Promise((resolve) => http.close(() => resolve()));
}
