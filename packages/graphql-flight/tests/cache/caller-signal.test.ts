import SchemaBuilder from '@pothos/core';
import { createYoga, type Plugin } from 'graphql-yoga';
import { afterEach, describe, expect, it, vi } from 'vitest';
import CachePolicyPlugin from '../../src/graphql/pothos.js';
import { createCache, type FlightCache, FlightTimeoutError } from '../../src/index.js';
import { createCachedLoader } from '../../src/loaders/index.js';
import { deferred, flushMicrotasks } from '../helpers/deferred.js';

/**
 * A caller's own way out (`signal`): it leaves at once, the flight goes on for the others, and
 * the load is aborted when nobody is left. What a server's execution deadline relies on.
 */
describe("a caller's signal", () => {
  let cache: FlightCache;
  afterEach(async () => {
    vi.useRealTimers();
    await cache?.close();
  });

  it('lets one caller of remember leave while the flight goes on for the others', async () => {
    cache = createCache();
    const gate = deferred<string>();
    let loadSignal: AbortSignal | undefined;
    const load = (signal: AbortSignal) => {
      loadSignal = signal;
      return gate.promise;
    };
    const first = new AbortController();
    const second = new AbortController();
    const leaving = cache.remember('k', load, { signal: first.signal });
    const staying = cache.remember('k', load, { signal: second.signal });
    const reason = new Error('past its deadline');
    first.abort(reason);
    await expect(leaving).rejects.toBe(reason);
    expect(loadSignal?.aborted).toBe(false);
    gate.resolve('v');
    await expect(staying).resolves.toBe('v');
  });

  it('aborts the load once every caller of remember has left', async () => {
    cache = createCache();
    let loadSignal: AbortSignal | undefined;
    const load = (signal: AbortSignal) => {
      loadSignal = signal;
      return new Promise<string>(() => {});
    };
    const controllers = [new AbortController(), new AbortController()];
    const calls = controllers.map((c) => cache.remember('k', load, { signal: c.signal }));
    for (const call of calls) call.catch(() => {});
    controllers[0]!.abort(new Error('one'));
    await flushMicrotasks();
    expect(loadSignal?.aborted).toBe(false);
    controllers[1]!.abort(new Error('two'));
    await Promise.allSettled(calls);
    expect(loadSignal?.aborted).toBe(true);
  });

  it('lets a loader batch leave and aborts its load when no other request waits', async () => {
    cache = createCache();
    let loadSignal: AbortSignal | undefined;
    const controller = new AbortController();
    const loader = createCachedLoader<number, string>(cache, {
      name: 'item',
      ttlMs: 60_000,
      signal: () => controller.signal,
      load: (_keys, signal) => {
        loadSignal = signal;
        return new Promise(() => {});
      },
    });
    const pending = loader.load(1);
    await vi.waitFor(() => expect(loadSignal).toBeDefined());
    const reason = new Error('request gone');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(loadSignal?.aborted).toBe(true);
  });

  it("gives a cached field's resolver the flight's signal, which outlives one execution's", async () => {
    cache = createCache();
    const gate = deferred<string>();
    const seen: AbortSignal[] = [];
    const builder = new SchemaBuilder<{ Context: { cache: FlightCache } }>({
      plugins: [CachePolicyPlugin],
      cachePolicy: { cache: (ctx) => ctx.cache, viewer: () => null },
    });
    builder.queryType({
      fields: (t) => ({
        slow: t.string({
          cache: { ttlMs: 60_000 },
          resolve: (_root, _args, _ctx, info) => {
            seen.push((info as unknown as { signal: AbortSignal }).signal);
            return gate.promise;
          },
        }),
      }),
    });
    const first = new AbortController();
    const second = new AbortController();
    const controllers: Record<string, AbortController> = { first, second };
    // Each execution runs under its request's signal (as a deadline plugin passes one).
    const yoga = createYoga<{ signal: AbortSignal }>({
      schema: builder.toSchema(),
      context: ({ request }) => ({ cache, signal: controllers[request.headers.get('x-call')!]!.signal }),
      plugins: [
        {
          onExecute: ({ executeFn, setExecuteFn }: Parameters<NonNullable<Plugin['onExecute']>>[0]) =>
            setExecuteFn((args) =>
              executeFn({ ...args, signal: (args.contextValue as { signal: AbortSignal }).signal } as never),
            ),
        },
      ],
      logging: false,
    });
    const ask = (call: string) =>
      yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-call': call },
        body: JSON.stringify({ query: '{ slow }' }),
      });
    const answers = [ask('first'), ask('second')];
    await vi.waitFor(() => {
      expect(seen).toHaveLength(1);
      expect(cache.stats().flights.flights[0]?.waiters).toBe(2);
    });
    first.abort(new Error('client gone'));
    await vi.waitFor(() => expect(cache.stats().flights.flights[0]?.waiters).toBe(1));
    expect(seen[0]!.aborted).toBe(false);
    second.abort(new Error('client gone too'));
    await vi.waitFor(() => expect(seen[0]!.aborted).toBe(true));
    await Promise.all(answers);
  });

  it("ends a flight at the cache's timeoutMs", async () => {
    vi.useFakeTimers();
    cache = createCache({ timeoutMs: 2_500 });
    let loadSignal: AbortSignal | undefined;
    const pending = cache.remember('k', (signal) => {
      loadSignal = signal;
      return new Promise<string>(() => {});
    });
    const outcome = pending.catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(2_499);
    expect(loadSignal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcome).toBeInstanceOf(FlightTimeoutError);
    expect(loadSignal?.aborted).toBe(true);
  });
});
