import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createYoga, type Plugin } from 'graphql-yoga';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OperationCoalescing } from '../../src/graphql/use-operation-coalescing.js';
import { createCache, type FlightCache, SingleFlight } from '../../src/index.js';
import { deferred } from '../helpers/deferred.js';
import { slowSchema } from '../helpers/schemas.js';

let cache: FlightCache | undefined;
let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  await cache?.close();
});

/** `{ slow }` behind the front door on a real port; counts resolver runs and requests Yoga saw. */
async function setup(options: { flightTimeoutMs?: number } = {}) {
  const gate = deferred<void>();
  let yogaRequests = 0;
  cache = createCache(
    options.flightTimeoutMs === undefined
      ? {}
      : { flight: new SingleFlight({ timeoutMs: options.flightTimeoutMs }) },
  );
  const { schema, runs } = slowSchema(gate.promise);
  const probe: Plugin = {
    onRequest: () => {
      yogaRequests++;
    },
  };
  const coalescing = new OperationCoalescing({ responseCache: { cache } });
  const yoga = createYoga({ schema, plugins: [coalescing.plugin(), probe], logging: false });
  const answered: Array<{ status: number; outcome: string }> = [];
  server = createServer(coalescing.nodeListener(yoga, (answer) => answered.push(answer)));
  // Bodies read in full: the front door looks a POST up once its body has arrived.
  let bodiesRead = 0;
  server.on('request', (req) => req.once('end', () => bodiesRead++));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  const post = () =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ slow }' }),
    });
  /** Resolves once `count` bodies have arrived and the lookups they started have run. */
  const arrived = async (count: number) => {
    await vi.waitFor(() => expect(bodiesRead).toBe(count));
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { gate, url, post, coalescing, answered, arrived, runs, yogaRequests: () => yogaRequests };
}

describe('the front door during a cold burst', () => {
  it('holds identical requests on the execution already running and answers them with its bytes, outside Yoga', async () => {
    const { gate, post, coalescing, answered, arrived, runs, yogaRequests } = await setup();
    const first = post();
    await vi.waitFor(() => expect(runs()).toBe(1));
    const rest = Array.from({ length: 30 }, () => post());
    // Every one of them has reached the front door and is held there.
    await arrived(31);
    expect(answered).toHaveLength(0);
    gate.resolve();
    const responses = await Promise.all([first, ...rest]);
    const bodies = await Promise.all(responses.map((response) => response.text()));
    expect(new Set(bodies)).toEqual(new Set(['{"data":{"slow":42}}']));
    expect(responses[0]?.headers.get('x-cache')).toBe('MISS');
    for (const response of responses.slice(1)) {
      expect(response.headers.get('x-cache')).toBe('COALESCED');
      expect(response.headers.get('cache-status')).toMatch(
        /^graphql-flight; fwd=miss; collapsed; stored; ttl=60$/,
      );
      expect(response.headers.get('etag')).toBe(responses[0]?.headers.get('etag'));
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    }
    expect(runs()).toBe(1);
    // Only the request that runs the execution went through Yoga.
    expect(yogaRequests()).toBe(1);
    expect(answered).toHaveLength(30);
    expect(answered.every((answer) => answer.outcome === 'COALESCED' && answer.status === 200)).toBe(true);
    expect(coalescing.stats()).toMatchObject({ started: 1, joined: 30, hits: 0 });
  });

  it('answers the held requests 503 when the execution passes its deadline, and the one that runs it its own result', async () => {
    const { gate, post, runs, yogaRequests } = await setup({ flightTimeoutMs: 300 });
    const first = post();
    await vi.waitFor(() => expect(runs()).toBe(1));
    const held = await Promise.all(Array.from({ length: 5 }, () => post()));
    for (const response of held) {
      expect(response.status).toBe(503);
      expect((await response.json()).errors[0].extensions.code).toBe('EXECUTION_TIMEOUT');
    }
    gate.resolve();
    const own = await first;
    expect(await own.text()).toBe('{"data":{"slow":42}}');
    expect(runs()).toBe(1);
    expect(yogaRequests()).toBe(1);
  });
});

describe('a browser GET at the front door (Accept: text/html)', () => {
  it('is left to Yoga even when the response is stored, so it gets what Yoga gives a browser', async () => {
    const { gate, url, post } = await setup();
    gate.resolve();
    await post();
    const plain = await fetch(`${url}?query=%7B%20slow%20%7D`);
    expect(plain.headers.get('x-cache')).toBe('HIT');
    const browser = await fetch(`${url}?query=%7B%20slow%20%7D`, {
      headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
    });
    expect(browser.headers.get('x-cache')).toBeNull();
    expect(browser.headers.get('content-type')).toMatch(/^text\/html/);
    await browser.text();
  });
});
