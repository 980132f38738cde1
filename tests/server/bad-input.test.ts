import { createServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
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

/** A raw HTTP/1.1 request (so headers can repeat), answered with its status and X-Cache. */
function raw(port: number, lines: string[], body: string): Promise<{ status: number; cache: string | null }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.destroy();
      const head = text.slice(0, end);
      resolve({
        status: Number(head.split(' ')[1]),
        cache: /\r\nx-cache: ([A-Z]+)/i.exec(head)?.[1] ?? null,
      });
    });
    socket.on('error', reject);
    socket.write(
      [...lines, `content-length: ${Buffer.byteLength(body)}`, 'connection: close', '', body].join('\r\n'),
    );
  });
}

describe('two Authorization headers', () => {
  it('are never answered by the front door from the response cache: Yoga answers them', async () => {
    const body = JSON.stringify({ query: '{ salesSummary { orderCount } }' });
    const port = Number(new URL(url).port);
    const base = ['POST /graphql HTTP/1.1', 'host: 127.0.0.1', 'content-type: application/json'];
    // Stored by an anonymous request first.
    expect((await raw(port, base, body)).cache).toMatch(/MISS|HIT/);
    expect((await raw(port, base, body)).cache).toBe('HIT');
    const good = `authorization: Bearer ${await t.token(1)}`;
    expect(await raw(port, [...base, good], body)).toEqual({ status: 200, cache: 'HIT' });
    // The front door never vouches for an ambiguous credential: Yoga decides (inside Yoga the
    // Fetch Request carries the first header only, and the lookup and the context agree on it).
    const answer = await raw(port, [...base, good, 'authorization: Bearer garbage.garbage.garbage'], body);
    expect(answer.cache).not.toBe('HIT');
  });
});
