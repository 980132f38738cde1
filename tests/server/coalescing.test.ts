import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PlaceOrderDocument, SalesSummaryDocument, ViewerDocument } from '../generated/graphql.js';
import { deferred } from '../../packages/graphql-flight/tests/helpers/deferred.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Sends through yoga.fetch and keeps the headers, which request() of the helper drops. */
async function send(t: TestServer, query: string, options: { variables?: unknown; token?: string } = {}) {
  const response = await t.server.yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    body: JSON.stringify({ query, variables: options.variables }),
  });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

const count = (outcomes: Array<string | null>, value: string | null) =>
  outcomes.filter((o) => o === value).length;

describe('operation coalescing', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t.close();
  });

  it('executes a burst of 500 identical queries once: one MISS, the rest COALESCED, equal bodies', async () => {
    const before = t.server.coalescing.stats().started;
    const joinedBefore = t.server.cache.stats().coalesced;
    // The execution waits at the data source until all 499 others have joined it.
    const gate = deferred<void>();
    const original = t.server.data.salesSummary.bind(t.server.data);
    const salesSummary = vi.spyOn(t.server.data, 'salesSummary').mockImplementation(async () => {
      await gate.promise;
      return original();
    });
    const query = print(SalesSummaryDocument);
    const pending = Promise.all(Array.from({ length: 500 }, () => send(t, query)));
    await vi.waitFor(() => expect(t.server.cache.stats().coalesced - joinedBefore).toBe(499));
    gate.resolve();
    const responses = await pending;

    expect(t.server.coalescing.stats().started - before).toBe(1);
    expect(salesSummary).toHaveBeenCalledTimes(1);
    const outcomes = responses.map((r) => r.headers.get('x-cache'));
    expect(count(outcomes, 'MISS')).toBe(1);
    expect(count(outcomes, 'COALESCED')).toBe(499);
    expect(responses.find((r) => r.headers.get('x-cache') === 'COALESCED')?.headers.get('cache-status')).toBe(
      'graphql-flight; fwd=miss; collapsed; stored; ttl=10',
    );
    for (const response of responses) {
      expect(response.status).toBe(200);
      expect(response.body).toBe(responses[0]!.body);
    }
    salesSummary.mockRestore();
  });

  it('keeps operations with different variables apart, and coalesces equal variables in any key order', async () => {
    const query =
      'query P($id: ID!, $other: ID!) { a: product(id: $id) { id } b: product(id: $other) { id } }';
    const [one, two, oneAgain] = await Promise.all([
      send(t, query, { variables: { id: '1', other: '4' } }),
      send(t, query, { variables: { id: '2', other: '4' } }),
      send(t, query, { variables: { other: '4', id: '1' } }),
    ]);
    expect(JSON.parse(one.body).data.a.id).toBe('1');
    expect(JSON.parse(two.body).data.a.id).toBe('2');
    expect(two.headers.get('x-cache')).toBe('MISS');
    expect([one.headers.get('x-cache'), oneAgain.headers.get('x-cache')].sort()).toEqual([
      'COALESCED',
      'MISS',
    ]);
    expect(oneAgain.body).toBe(one.body);
  });

  it("never shares one viewer's execution with another's, even for identical operations", async () => {
    const [alice, bob] = await Promise.all([t.token(1), t.token(2)]);
    const query = print(ViewerDocument);
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => send(t, query, { token: i % 2 === 0 ? alice : bob })),
    );
    responses.forEach((response, i) => {
      expect(JSON.parse(response.body).data.viewer.id).toBe(i % 2 === 0 ? '1' : '2');
    });
    const outcomes = responses.map((r) => r.headers.get('x-cache'));
    // One execution per viewer.
    expect(count(outcomes, 'MISS')).toBe(2);
    expect(count(outcomes, 'COALESCED')).toBe(38);
  });

  it('never coalesces mutations: two identical orders are two orders', async () => {
    const token = await t.token(5);
    const query = print(PlaceOrderDocument);
    const [first, second] = await Promise.all([
      send(t, query, { token, variables: { productId: '3', quantity: 1 } }),
      send(t, query, { token, variables: { productId: '3', quantity: 1 } }),
    ]);
    expect(JSON.parse(first.body).data.placeOrder.id).not.toBe(JSON.parse(second.body).data.placeOrder.id);
    expect(first.headers.get('x-cache')).toBeNull();
    expect(second.headers.get('x-cache')).toBeNull();
  });

  it('shares only the 401 of the same bad token, and leaves malformed documents to Yoga', async () => {
    const query = print(ViewerDocument);
    const bad = await Promise.all([1, 2, 3].map(() => send(t, query, { token: 'bad.token.here' })));
    for (const response of bad) {
      expect(response.status).toBe(401);
      expect(JSON.parse(response.body).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
    const malformed = await send(t, '{ salesSummary { orderCount ');
    expect(malformed.headers.get('x-cache')).toBeNull();
    expect(JSON.parse(malformed.body).errors[0].message).toMatch(/Syntax Error/);
  });

  it('starts a new execution once the shared one has answered (an operation the response cache does not hold)', async () => {
    const token = await t.token(3);
    const query = print(ViewerDocument);
    const first = await send(t, query, { token });
    const second = await send(t, query, { token });
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(second.headers.get('x-cache')).toBe('MISS');
    expect(second.headers.get('cache-status')).toBe('graphql-flight; fwd=bypass');
    expect(second.headers.get('cache-control')).toBe('no-store');
  });
});
