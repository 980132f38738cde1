// The demo's topProducts response past its TTL (issue 13): answered STALE at once inside its
// revalidate window, refreshed with an execution of its own through the demo's context, and
// counted as cache="stale" in /metrics.
import { createCache } from 'graphql-flight';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { STALE_WHILE_REVALIDATE, TTL } from '../../src/app/context.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

// Of topProducts' fields only: `stats` has no window, and would make the response's 0.
const QUERY = '{ topProducts(limit: 3) { id name priceCents } }';

describe('a stale topProducts response', () => {
  it('is answered STALE at once, with its window in Cache-Control, refreshed, and counted as cache="stale"', async () => {
    let clock = 1_000_000;
    t = await startTestServer({ cache: createCache({ now: () => clock }) });
    const server = t.server;
    const post = async () => {
      const response = await server.yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: QUERY }),
      });
      return { headers: response.headers, body: await response.text() };
    };
    const miss = await post();
    expect(miss.headers.get('x-cache')).toBe('MISS');
    const directives = `public, no-cache, stale-while-revalidate=${STALE_WHILE_REVALIDATE.topProducts / 1_000}`;
    expect(miss.headers.get('cache-control')).toBe(directives);

    clock += TTL.topProducts + 1;
    const stale = await post();
    expect(stale.headers.get('x-cache')).toBe('STALE');
    expect(stale.headers.get('cache-control')).toBe(directives);
    expect(stale.body).toBe(miss.body);
    // The refresh executes with the demo's context (no request of a client behind it); the
    // topProducts field it reads is stale too, and it waits for that field's refresh: one
    // refresh execution, stored.
    await vi.waitFor(() => expect(server.coalescing.stats()).toMatchObject({ refreshes: 1, stored: 2 }));
    expect((await post()).headers.get('x-cache')).toBe('HIT');

    const operator = await t.token(1, { operator: true });
    const text = await (
      await server.yoga.fetch('http://localhost/metrics', {
        headers: { authorization: `Bearer ${operator}` },
      })
    ).text();
    expect(text).toMatch(
      /graphql_flight_http_requests_total\{operation_type="query",status="200",cache="stale"\} [1-9]/,
    );
  });
});
