import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
let http: HttpServer;
let url: string;
beforeAll(async () => {
  t = await startTestServer();
  http = createServer(t.server.handler);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/graphql`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => http.close(() => resolve()));
  await t.close();
});

/** The body of the outside review: 12 KB of variables nested 3,000 levels deep. */
function deepBody(depth: number, query: string): string {
  return `{"query":${JSON.stringify(query)},"variables":{"ids":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}}`;
}

describe('a deep variables body at the server', () => {
  it('answers 400 with a clear message, logs no stack overflow, and goes on serving', async () => {
    const errors = vi.spyOn(console, 'error');
    for (const query of [
      'query Products($ids: [ID!]!) { products(ids: $ids) { id } }',
      'query Summary($ids: [ID!]) { salesSummary { orderCount } }',
    ]) {
      const body = deepBody(3_000, query);
      expect(body.length).toBeGreaterThan(12_000);
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(response.status).toBe(400);
      const json = await response.json();
      expect(json.errors[0]).toMatchObject({
        message: 'the variables nest deeper than 32 levels',
        extensions: { code: 'BAD_USER_INPUT' },
      });
    }
    expect(errors.mock.calls.flat().join(' ')).not.toMatch(/RangeError|Maximum call stack/);
    const after = await t.request('{ salesSummary { orderCount } }');
    expect(after.status).toBe(200);
    expect(after.body.data).toBeDefined();
    errors.mockRestore();
  });
});
