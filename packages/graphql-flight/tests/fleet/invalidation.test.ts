import { afterEach, describe, expect, it, vi } from 'vitest';
import { deferred } from '../helpers/deferred.js';
import {
  cachesOn,
  eventually,
  rawClient,
  redisSuiteEnabled,
  untilStored,
  valueKey,
} from '../helpers/redis.js';

const enabled = await redisSuiteEnabled();

/** Two FlightCache instances stand for two processes: each has its own connections and memory tier. */
describe.skipIf(!enabled)('fleet invalidation', () => {
  const caches = cachesOn('inval');
  const { namespace } = caches;
  const open = caches.open;
  afterEach(() => caches.closeAll());

  it("drops a deleted value from another process's memory tier by message, well within localTtlMs", async () => {
    const writer = open();
    // A long local TTL: only the delete message can make the reader stop serving its copy.
    const reader = open({ localTtlMs: 60_000 });
    await writer.remember('price', async () => 'old');
    await expect(reader.remember('price', async () => 'unused')).resolves.toBe('old');
    expect(reader.stats().storeHits).toBe(1);

    await writer.delete('price');
    const load = vi.fn(async () => 'new');
    await eventually(async () => (await reader.remember('price', load)) === 'new', 2_000);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('refuses the fill of a load that began before a delete in another process', async () => {
    const loader = open();
    const other = open();
    const gate = deferred<string>();
    const pending = loader.remember('stats', () => gate.promise);
    await eventually(async () => loader.stats().fleet.leasesWon === 1);
    await other.delete('stats');
    // The delete's message reached the loader: its flight is no longer joined (a caller from now
    // on starts a new load), and the load running is fenced here before Redis sees its fill.
    await eventually(async () => loader.stats().flights.inFlight === 0);
    gate.resolve('stale');
    await expect(pending).resolves.toBe('stale');
    expect(loader.stats().fleet.fillsRefused).toBe(1);
    const client = await rawClient();
    try {
      expect(await client.exists(valueKey(namespace, `stats`))).toBe(0);
    } finally {
      client.destroy();
    }
    const fresh = vi.fn(async () => 'fresh');
    await expect(other.remember('stats', fresh)).resolves.toBe('fresh');
    expect(fresh).toHaveBeenCalledTimes(1);
  });

  it('turns off with fleet: false: values are still shared, loads coalesce per process only', async () => {
    const cache = open({ fleet: false });
    const other = open({ fleet: false });
    // Two processes load the same cold key at once: with the fleet off, each loads it itself.
    const gates = [deferred<string>(), deferred<string>()];
    const loads = [
      cache.remember('cold', () => gates[0]!.promise),
      cache.remember('cold', () => gates[0]!.promise),
      other.remember('cold', () => gates[1]!.promise),
    ];
    await eventually(async () => cache.stats().loads === 1 && other.stats().loads === 1);
    gates[0]!.resolve('a');
    gates[1]!.resolve('b');
    await expect(Promise.all(loads)).resolves.toEqual(['a', 'a', 'b']);
    expect(cache.stats()).toMatchObject({ loads: 1, coalesced: 1 });
    expect(cache.stats().fleet).toMatchObject({ enabled: false, leasesWon: 0 });

    // Values written by one are still read by the other, from Redis, without a load.
    await cache.remember('plain', async () => 'v');
    await untilStored([valueKey(namespace, `plain`)]);
    const load = vi.fn(async () => 'miss');
    await expect(other.remember('plain', load)).resolves.toBe('v');
    expect(load).not.toHaveBeenCalled();
  });
});
