/**
 * A value made from other cached values (a stored response from field values, through Reads) is
 * fenced from its oldest input, across processes: built in one process from an input another
 * process had already invalidated (its message lost), it never reaches Redis.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Reads } from '../../src/index.js';
import { deferred } from '../helpers/deferred.js';
import {
  cachesOn,
  eventually,
  invalidateSilently,
  rawClient,
  recordValue,
  redisSuiteEnabled,
  tagKey,
  valueKey,
} from '../helpers/redis.js';

const enabled = await redisSuiteEnabled();

describe.skipIf(!enabled)('values made from other values, across processes', () => {
  const caches = cachesOn('inherits');
  const { namespace } = caches;
  const open = (options: Parameters<typeof caches.open>[0] = {}) =>
    caches.open({ storeTimeoutMs: 1_000, ...options });
  afterEach(() => caches.closeAll());

  async function stored(k: string): Promise<unknown> {
    const client = await rawClient();
    try {
      return recordValue(await client.get(valueKey(namespace, k)));
    } finally {
      client.destroy();
    }
  }

  /** `composite` read through `cache`, made from `input` (tagged Product:1), inheriting it. */
  function composite(cache: ReturnType<typeof open>, input: () => Promise<string>) {
    const reads = new Reads();
    return cache.remember(
      'composite',
      async () =>
        `made from ${await cache.remember('input', input, { tags: ['Product:1'], readInto: reads })}`,
      { inherits: reads },
    );
  }

  it('never writes to Redis a value built after an invalidation from an input read before it (message lost)', async () => {
    const b = open({ localTtlMs: 60_000 });
    // B holds the input in memory; an invalidation of its tag happens and B never hears of it.
    await expect(b.remember('input', async () => 'old', { tags: ['Product:1'] })).resolves.toBe('old');
    await invalidateSilently(namespace, { tags: ['Product:1'] });
    // B builds the composite now, from its memory copy: its own load began after the
    // invalidation, but its data is only as fresh as the input.
    await expect(composite(b, async () => 'unused')).resolves.toBe('made from old');
    expect(await stored('composite')).toBeUndefined();
    // Refused every time (its input is still the old copy): answered, kept nowhere.
    expect(b.peek('composite')).toBeUndefined();
    expect(b.stats().fleet.fillsRefused).toBeGreaterThanOrEqual(1);
    // Another process builds it from the input as Redis has it now.
    const c = open();
    await expect(composite(c, async () => 'new')).resolves.toBe('made from new');
    await eventually(async () => (await stored('composite')) === 'made from new');
  });

  it('takes a value whose tag state is gone from Redis (evicted, flushed) as retired', async () => {
    const a = open();
    await a.remember('input', async () => 'old', { tags: ['Product:1'] });
    await eventually(async () => (await stored('input')) === 'old');
    const client = await rawClient();
    try {
      await client.del(tagKey(namespace, 'Product:1'));
    } finally {
      client.destroy();
    }
    const b = open();
    await expect(b.remember('input', async () => 'new', { tags: ['Product:1'] })).resolves.toBe('new');
    expect(b.stats().fleet.staleDropped).toBe(1);
  });

  it('extends the leases of a batch while it loads: a batch slower than the lease is loaded once in the fleet', async () => {
    const a = open({ fleet: { leaseTtlMs: 300 } });
    const b = open({ fleet: { leaseTtlMs: 300 } });
    const gate = deferred<string[]>();
    let loads = 0;
    const first = a.rememberMany(['slow'], async () => {
      loads++;
      return gate.promise;
    });
    await eventually(async () => loads === 1);
    const second = b.rememberMany(['slow'], async (keys) => {
      loads++;
      return keys.map(() => 'second');
    });
    // B has polled five times (at least 387 ms, past the 300 ms lease): without the heartbeat it
    // would have taken the lease over and loaded.
    await eventually(async () => b.stats().fleet.wakeupsByPoll >= 5, 5_000);
    gate.resolve(['first']);
    await expect(first).resolves.toEqual(['first']);
    await expect(second).resolves.toEqual(['first']);
    expect(loads).toBe(1);
  });
});
