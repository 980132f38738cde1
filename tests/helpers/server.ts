import { expect, vi } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { signToken } from '../../src/app/auth.js';
import { dropShopSchema } from '../../src/app/data/index.js';
import type { FlightCache } from 'graphql-flight';
import { createServer, type Server, type ServerOptions } from '../../src/server.js';

export const TEST_SECRET = new TextEncoder().encode('test-secret-for-graphql-flight-suites-0123456789');
/** Small enough to seed in well under a second, large enough for overlapping id sets. */
export const TEST_SEED = { products: 60, customers: 20, orders: 3_000 };

/**
 * The database the server suites run against: embedded PGlite, or the PostgreSQL at DATABASE_URL
 * (then each server gets a schema of its own, dropped on close).
 */
export const DATABASE_URL = process.env.DATABASE_URL;

export interface TestServer {
  server: Server;
  /** Sends an operation through yoga.fetch (in-process) and parses the JSON response. */
  request<R, V>(
    document: TypedDocumentNode<R, V> | string,
    options?: { variables?: V; token?: string; headers?: Record<string, string> },
  ): Promise<{
    status: number;
    body: { data?: R | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
  }>;
  token(customerId: number, options?: { operator?: boolean; expiresIn?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function startTestServer(
  options: {
    cache?: FlightCache;
    responseCache?: boolean;
    /** false: the schema ignores `cache` field options (createServer's fieldCache). Default true. */
    fieldCache?: boolean;
    /** Overrides of the test config (limits, NODE_ENV, ...). */
    config?: Partial<ServerOptions['config']>;
    /** A mutation rate limiter instead of the config's (createServer's rateLimiter). */
    rateLimiter?: ServerOptions['rateLimiter'];
    /** Where the server's operational lines go (createServer's `log`); default: nowhere. */
    log?: ServerOptions['log'];
    /** The clock of the server's own cache (createServer's cacheClock). */
    cacheClock?: ServerOptions['cacheClock'];
  } = {},
): Promise<TestServer> {
  const schema = DATABASE_URL === undefined ? undefined : `t_server_${randomBytes(4).toString('hex')}`;
  const server = await createServer({
    config: {
      nodeEnv: 'test',
      redisUrl: undefined,
      databaseUrl: DATABASE_URL,
      authSecret: TEST_SECRET,
      ...(options.responseCache === undefined ? {} : { responseCache: options.responseCache }),
      ...options.config,
    },
    data: { seed: TEST_SEED, ...(schema === undefined ? {} : { schema }) },
    ...(options.cache === undefined ? {} : { cache: options.cache }),
    ...(options.fieldCache === undefined ? {} : { fieldCache: options.fieldCache }),
    ...(options.rateLimiter === undefined ? {} : { rateLimiter: options.rateLimiter }),
    ...(options.log === undefined ? {} : { log: options.log }),
    ...(options.cacheClock === undefined ? {} : { cacheClock: options.cacheClock }),
  });
  return {
    server,
    async request(document, { variables, token, headers } = {}) {
      const response = await server.yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...headers,
        },
        body: JSON.stringify({ query: typeof document === 'string' ? document : print(document), variables }),
      });
      return { status: response.status, body: await response.json() };
    },
    token: (customerId, tokenOptions) => signToken(customerId, TEST_SECRET, tokenOptions),
    async close() {
      await server.close();
      if (schema !== undefined && DATABASE_URL !== undefined) await dropShopSchema(DATABASE_URL, schema);
    },
  };
}

/** Waits, bounded, until one flight of `cache` has `waiters` callers waiting on it. */
export async function untilFlightWaiters(cache: FlightCache, waiters: number): Promise<void> {
  await vi.waitFor(
    () => expect(Math.max(0, ...cache.stats().flights.flights.map((flight) => flight.waiters))).toBe(waiters),
    { timeout: 10_000 },
  );
}
