/**
 * What a read does with a value in Redis this cache cannot read: a string that is not a record
 * (another version's format, a key written by hand) or a record whose payload does not parse. It
 * is dropped there and the key is loaded, as a miss would be: neither read again and again until
 * the flight's deadline, nor a failed request (a store failure never fails a request).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SingleFlight } from '../../src/index.js';
import { cachesOn, rawClient, recordValue, redisSuiteEnabled, valueKey } from '../helpers/redis.js';

const enabled = await redisSuiteEnabled();

describe.skipIf(!enabled)('values in Redis the cache cannot read', () => {
  const caches = cachesOn('records');
  const { namespace } = caches;
  afterEach(() => caches.closeAll());

  async function put(entries: Record<string, string>): Promise<void> {
    const client = await rawClient();
    try {
      for (const [key, raw] of Object.entries(entries))
        await client.set(valueKey(namespace, key), raw, { expiration: { type: 'PX', value: 60_000 } });
    } finally {
      client.destroy();
    }
  }

  async function stored(key: string): Promise<unknown> {
    const client = await rawClient();
    try {
      return recordValue(await client.get(valueKey(namespace, key)));
    } finally {
      client.destroy();
    }
  }

  const unreadable = {
    notARecord: 'a string of another format',
    badPayload: '0\n\n{"value":',
  };

  it('drops them and loads the key, well within the flight deadline, for remember', async () => {
    const cache = caches.open({ flight: new SingleFlight({ timeoutMs: 2_000 }), storeTimeoutMs: 500 });
    await put(unreadable);
    for (const key of Object.keys(unreadable)) {
      const load = vi.fn(async () => `loaded ${key}`);
      const started = performance.now();
      await expect(cache.remember(key, load)).resolves.toBe(`loaded ${key}`);
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(load).toHaveBeenCalledTimes(1);
      // The load's value replaced what Redis held, for every process.
      expect(await stored(key)).toBe(`loaded ${key}`);
    }
    expect(cache.stats().fleet.fallbacks).toBe(0);
  });

  it('drops them and loads the keys, well within the flight deadline, for rememberMany', async () => {
    const cache = caches.open({ flight: new SingleFlight({ timeoutMs: 2_000 }), storeTimeoutMs: 500 });
    await put(unreadable);
    const keys = Object.keys(unreadable);
    const loadMany = vi.fn(async (missing: string[]) => missing.map((key) => `loaded ${key}`));
    const started = performance.now();
    await expect(cache.rememberMany(keys, loadMany)).resolves.toEqual(keys.map((key) => `loaded ${key}`));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(loadMany.mock.calls.flatMap(([missing]) => missing).sort()).toEqual([...keys].sort());
    for (const key of keys) expect(await stored(key)).toBe(`loaded ${key}`);
  });
});
