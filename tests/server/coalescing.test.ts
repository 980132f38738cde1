import { print } from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as auth from '../../src/app/auth.js';
import { SALES_SUMMARY_KEY } from '../../src/app/invalidation.js';
import { PlaceOrderDocument, SalesSummaryDocument, ViewerDocument } from '../generated/graphql.js';
import { deferred } from '../../packages/graphql-flight/tests/helpers/deferred.js';
import { startTestServer, type TestServer, untilFlightWaiters } from '../helpers/server.js';

// The real credentials check, under a spy. Every execution builds one context, and the context
// verifies the request's credentials once. For operations the response cache does not take
// (private ones, mutations) or with it off, nothing else calls it: its calls count executions,
// and holding it holds every execution at its start.
vi.mock(import('../../src/app/auth.js'), async (importOriginal) => {
  const actual = await importOriginal();
  return { ...actual, verifyViewer: vi.fn(actual.verifyViewer) };
});
const verifyViewer = vi.mocked(auth.verifyViewer);
const realVerifyViewer = verifyViewer.getMockImplementation()!;

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

/**
 * Sends `requests` with every execution held at its start until each of the `expected` requests
 * has either started an execution or joined one; then lets them all go. Returns the responses,
 * how many executions ran (contexts built), and the coalescing figures of the burst.
 */
async function held<R>(
  t: TestServer,
  expected: number,
  requests: () => Promise<R>,
): Promise<{ responses: R; executions: number; started: number; joined: number }> {
  const gate = deferred<void>();
  const contexts = verifyViewer.mock.calls.length;
  const before = t.server.coalescing.stats();
  verifyViewer.mockImplementation(async (...args) => {
    await gate.promise;
    return realVerifyViewer(...args);
  });
  const pending = requests();
  try {
    await vi.waitFor(
      () =>
        expect(
          verifyViewer.mock.calls.length - contexts + t.server.coalescing.stats().joined - before.joined,
        ).toBe(expected),
      { timeout: 10_000 },
    );
  } finally {
    gate.resolve();
    verifyViewer.mockImplementation(realVerifyViewer);
  }
  const responses = await pending;
  const after = t.server.coalescing.stats();
  return {
    responses,
    executions: verifyViewer.mock.calls.length - contexts,
    started: after.started - before.started,
    joined: after.joined - before.joined,
  };
}

describe('operation coalescing', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('shares one execution among a burst of 500 identical public queries through the response cache: one MISS, the rest COALESCED and stored', async () => {
    const before = t.server.coalescing.stats();
    // The execution waits at the data source until all 500 requests wait on one response flight.
    const gate = deferred<void>();
    const original = t.server.data.salesSummary.bind(t.server.data);
    vi.spyOn(t.server.data, 'salesSummary').mockImplementation(async () => {
      await gate.promise;
      return original();
    });
    await t.server.cache.delete(SALES_SUMMARY_KEY);
    const query = print(SalesSummaryDocument);
    const pending = Promise.all(Array.from({ length: 500 }, () => send(t, query)));
    try {
      await untilFlightWaiters(t.server.cache, 500);
    } finally {
      gate.resolve();
    }
    const responses = await pending;

    const after = t.server.coalescing.stats();
    expect({ started: after.started - before.started, joined: after.joined - before.joined }).toEqual({
      started: 1,
      joined: 499,
    });
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
  });

  it("never shares one viewer's execution with another's, even for identical operations", async () => {
    const [alice, bob] = await Promise.all([t.token(1), t.token(2)]);
    const query = print(ViewerDocument);
    const { responses, executions, started, joined } = await held(t, 40, () =>
      Promise.all(Array.from({ length: 40 }, (_, i) => send(t, query, { token: i % 2 === 0 ? alice : bob }))),
    );
    responses.forEach((response, i) => {
      expect(JSON.parse(response.body).data.viewer.id).toBe(i % 2 === 0 ? '1' : '2');
    });
    // One execution per viewer.
    expect(executions).toBe(2);
    expect({ started, joined }).toEqual({ started: 2, joined: 38 });
    const outcomes = responses.map((r) => r.headers.get('x-cache'));
    expect(count(outcomes, 'MISS')).toBe(2);
    expect(count(outcomes, 'COALESCED')).toBe(38);
  });

  it('never coalesces mutations: two identical orders, in flight together, are two orders', async () => {
    const token = await t.token(5);
    const query = print(PlaceOrderDocument);
    const variables = { productId: '3', quantity: 1 };
    const { responses, executions, started, joined } = await held(t, 2, () =>
      Promise.all([send(t, query, { token, variables }), send(t, query, { token, variables })]),
    );
    const [first, second] = responses;

    expect(executions).toBe(2);
    expect({ started, joined }).toEqual({ started: 0, joined: 0 });
    expect(JSON.parse(first.body).data.placeOrder.id).not.toBe(JSON.parse(second.body).data.placeOrder.id);
    expect(first.headers.get('x-cache')).toBeNull();
    expect(second.headers.get('x-cache')).toBeNull();
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

describe('operation coalescing, with neither the response cache nor the field cache to share work', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ responseCache: false, fieldCache: false });
  });
  afterAll(async () => {
    await t.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('executes a burst of 500 identical queries once: one MISS, the rest COALESCED, equal bodies', async () => {
    const salesSummary = vi.spyOn(t.server.data, 'salesSummary');
    const query = print(SalesSummaryDocument);
    const { responses, executions, started, joined } = await held(t, 500, () =>
      Promise.all(Array.from({ length: 500 }, () => send(t, query))),
    );

    expect(executions).toBe(1);
    expect(salesSummary).toHaveBeenCalledTimes(1);
    expect({ started, joined }).toEqual({ started: 1, joined: 499 });
    const outcomes = responses.map((r) => r.headers.get('x-cache'));
    expect(count(outcomes, 'MISS')).toBe(1);
    expect(count(outcomes, 'COALESCED')).toBe(499);
    expect(responses.find((r) => r.headers.get('x-cache') === 'COALESCED')?.headers.get('cache-status')).toBe(
      'graphql-flight; fwd=bypass; collapsed',
    );
    for (const response of responses) {
      expect(response.status).toBe(200);
      expect(response.body).toBe(responses[0]!.body);
    }
    expect(JSON.parse(responses[0]!.body).data.salesSummary.orderCount).toBeGreaterThan(0);
  });

  it('keeps operations with different variables apart, and coalesces equal variables in any key order', async () => {
    const query =
      'query P($id: ID!, $other: ID!) { a: product(id: $id) { id } b: product(id: $other) { id } }';
    const { responses, executions, started, joined } = await held(t, 3, () =>
      Promise.all([
        send(t, query, { variables: { id: '1', other: '4' } }),
        send(t, query, { variables: { id: '2', other: '4' } }),
        send(t, query, { variables: { other: '4', id: '1' } }),
      ]),
    );
    const [one, two, oneAgain] = responses;

    expect(executions).toBe(2);
    expect({ started, joined }).toEqual({ started: 2, joined: 1 });
    expect(JSON.parse(one.body).data).toEqual({ a: { id: '1' }, b: { id: '4' } });
    expect(JSON.parse(two.body).data).toEqual({ a: { id: '2' }, b: { id: '4' } });
    expect(two.headers.get('x-cache')).toBe('MISS');
    expect([one.headers.get('x-cache'), oneAgain.headers.get('x-cache')].sort()).toEqual([
      'COALESCED',
      'MISS',
    ]);
    expect(oneAgain.body).toBe(one.body);
  });

  it('shares only the 401 of the same bad token, and leaves malformed documents to Yoga', async () => {
    const query = print(ViewerDocument);
    const { responses, executions, started, joined } = await held(t, 5, () =>
      Promise.all([
        ...[1, 2, 3].map(() => send(t, query, { token: 'bad.token.here' })),
        send(t, query, { token: 'another.bad.token' }),
        send(t, query),
      ]),
    );
    const bad = responses.slice(0, 3);
    const [other, anonymous] = responses.slice(3);

    // One execution for the three requests of one bad token, one for the other token, one anonymous.
    expect(executions).toBe(3);
    expect({ started, joined }).toEqual({ started: 3, joined: 2 });
    for (const response of [...bad, other!]) {
      expect(response.status).toBe(401);
      expect(JSON.parse(response.body).errors[0]).toMatchObject({
        message: 'the token is not valid',
        extensions: { code: 'UNAUTHENTICATED' },
      });
      // A shared 401 keeps its challenge, the coalesced copies' included.
      expect(response.headers.get('www-authenticate')).toBe(
        'Bearer realm="graphql-flight", error="invalid_token", error_description="the token is not valid"',
      );
    }
    expect(bad.map((r) => r.headers.get('x-cache')).sort()).toEqual(['COALESCED', 'COALESCED', 'MISS']);
    expect(bad[1]!.body).toBe(bad[0]!.body);
    expect(bad[2]!.body).toBe(bad[0]!.body);
    expect(other!.headers.get('x-cache')).toBe('MISS');
    expect(anonymous!.status).toBe(200);
    expect(JSON.parse(anonymous!.body)).toEqual({ data: { viewer: null } });
    expect(anonymous!.headers.get('x-cache')).toBe('MISS');

    const malformed = await send(t, '{ salesSummary { orderCount ');
    expect(malformed.headers.get('x-cache')).toBeNull();
    expect(JSON.parse(malformed.body).errors[0].message).toMatch(/Syntax Error/);
  });
});
