/**
 * What a run leaves in Redis (issue: keys cluster-ready, no ids in the clear). Every key of one
 * logical key carries its digest as the hash tag, so the scripts touch one slot; the machine's
 * Redis is not a cluster (CLUSTER KEYSLOT is refused there), so slots are computed with
 * cluster-key-slot, the CRC16 node-redis itself routes cluster commands by.
 */
import calculateSlot from 'cluster-key-slot';
import { afterEach, describe, expect, it } from 'vitest';
import { type CacheKey, encodeKey } from '../../src/index.js';
import { deferred } from '../helpers/deferred.js';
import { cachesOn, eventually, layoutOf, rawClient, redisSuiteEnabled, tagKey } from '../helpers/redis.js';

const enabled = await redisSuiteEnabled();

const VIEWER = 4242;
const TAG = `Customer:${VIEWER}`;
const recentOrders: CacheKey = ['field', 'Customer.recentOrders', 'viewer', VIEWER];
const email: CacheKey = ['field', 'Customer.email', 'viewer', VIEWER];
const batch: CacheKey[] = [
  ['field', 'Customer.name', 'viewer', VIEWER],
  ['field', 'Customer.address', 'viewer', VIEWER],
];

/** Every key under `namespace:` (SCAN, bounded by the namespace's size). */
async function scan(namespace: string): Promise<string[]> {
  const client = await rawClient();
  try {
    const found: string[] = [];
    for await (const keys of client.scanIterator({ MATCH: `${namespace}:*`, COUNT: 500 }))
      found.push(...keys);
    return found.sort();
  } finally {
    client.destroy();
  }
}

async function get(key: string): Promise<string | null> {
  const client = await rawClient();
  try {
    return await client.get(key);
  } finally {
    client.destroy();
  }
}

describe.skipIf(!enabled)('the Redis key layout', () => {
  const caches = cachesOn('layout');
  const keyed = cachesOn('layout-keyed');
  afterEach(() => Promise.all([caches.closeAll(), keyed.closeAll()]));

  /**
   * A run touching every kind of key: values (remember and rememberMany, tagged), a fence (a key
   * invalidated), tag states (checked by fills, moved by an invalidation), and a lease (seen while
   * a load is held). Resolves every key seen, across a scan during the held load and one after.
   */
  async function run(open: typeof caches.open, namespace: string, secret?: string): Promise<string[]> {
    // A store deadline loose enough for a busy machine: every write must land for the scan.
    const options = { storeTimeoutMs: 1_000, ...(secret === undefined ? {} : { secret }) };
    const a = open(options);
    const b = open(options);
    await a.remember(recentOrders, async () => ['order-1', 'order-2'], { tags: [TAG, 'Order:77'] });
    await b.rememberMany(batch, async (keys) => keys.map((_, i) => `value-${i}`), { tags: () => [TAG] });
    await b.remember(email, async () => 'old@example.com', { tags: [TAG] });
    await a.invalidate({ keys: [email] });
    await a.invalidate({ tags: ['Order:77'] });
    // Soft purges (issue 13) leave soft states beside the states.
    await a.invalidate({ keys: [recentOrders], tags: [TAG], soft: true });

    // A load of `email` held open: its lease is in Redis, beside the fence of its invalidation.
    const gate = deferred<string>();
    const held = a.remember(email, () => gate.promise, { tags: [TAG] });
    const { lease } = layoutOf(namespace, encodeKey(email), secret);
    await eventually(async () => (await get(lease)) !== null);
    const during = await scan(namespace);
    gate.resolve('new@example.com');
    await expect(held).resolves.toBe('new@example.com');
    const after = await scan(namespace);
    return [...new Set([...during, ...after])].sort();
  }

  it('names every key by a digest: no viewer id, tag or encoded key in the clear, only v|l|t|s keys and the sequence', async () => {
    const { namespace } = caches;
    const seen = await run(caches.open, namespace);

    const shape = new RegExp(`^${namespace}:(\\{[A-Za-z0-9_-]{22}\\}:(v|l|t|s)|\\{seq\\})$`);
    expect(seen.filter((key) => !shape.test(key))).toEqual([]);
    const clear = [
      String(VIEWER),
      'Customer',
      'viewer',
      'recentOrders',
      'Order',
      ...[recentOrders, email, ...batch].map(encodeKey),
    ];
    for (const text of clear)
      expect(
        seen.filter((key) => key.includes(text)),
        text,
      ).toEqual([]);

    // Every kind was written: values, a lease, a key's fence, tag states, soft states, the sequence.
    const kinds = new Set(seen.map((key) => key.slice(key.lastIndexOf(':') + 1)));
    for (const kind of ['v', 'l', 't', 's', '{seq}']) expect(kinds.has(kind), kind).toBe(true);
    const { lease, fence } = layoutOf(namespace, encodeKey(email));
    expect(seen).toEqual(expect.arrayContaining([lease, fence]));
    expect(seen).toContain(tagKey(namespace, TAG));
    expect(seen).toContain(tagKey(namespace, 'Order:77'));
    for (const key of [recentOrders, email, ...batch])
      expect(seen).toContain(layoutOf(namespace, encodeKey(key)).value);

    // A value's record names its tags by digest too.
    const record = await get(layoutOf(namespace, encodeKey(recentOrders)).value);
    expect(record).not.toBeNull();
    expect(record).not.toContain('Customer');
    expect(record).not.toContain('Order:77');
  });

  it('puts the value, lease and fence of one logical key in one cluster slot, the slot of its digest', async () => {
    const { namespace } = caches;
    const seen = await run(caches.open, namespace);
    const { id, value, lease, fence } = layoutOf(namespace, encodeKey(email));
    expect(seen).toEqual(expect.arrayContaining([value, lease, fence]));
    const slots = [value, lease, fence].map((key) => calculateSlot(key));
    expect(new Set(slots).size).toBe(1);
    expect(slots[0]).toBe(calculateSlot(id));
    expect(calculateSlot.generateMulti([value, lease, fence])).toBe(slots[0]);
    // A soft state sits in the slot of its key's value.
    const soft = layoutOf(namespace, encodeKey(recentOrders));
    expect(seen).toContain(soft.soft);
    expect(calculateSlot(soft.soft)).toBe(calculateSlot(soft.value));
    // Different logical keys spread over slots (they are not all tagged alike).
    const values = [recentOrders, email, ...batch].map((key) => layoutOf(namespace, encodeKey(key)).value);
    expect(new Set(values.map((key) => calculateSlot(key))).size).toBeGreaterThan(1);
    // A tag's state sits in the slot of the tag's own digest.
    const tag = tagKey(namespace, TAG);
    expect(calculateSlot(tag)).toBe(calculateSlot(tag.slice(tag.indexOf('{') + 1, tag.indexOf('}'))));
  });

  it('with `secret`, names keys by HMAC digests that differ from the plain ones, so a guessed key cannot be confirmed', async () => {
    const secret = 'a-secret-of-the-fleet-0123456789';
    const plain = await run(caches.open, caches.namespace);
    const withSecret = await run(keyed.open, keyed.namespace, secret);

    const guess = encodeKey(recentOrders);
    // Without the secret, whoever reads Redis confirms a guess by hashing it...
    expect(plain).toContain(layoutOf(caches.namespace, guess).value);
    expect(plain).toContain(tagKey(caches.namespace, TAG));
    // ...with it, the plain digest of the guess names nothing; only the keyed one does.
    expect(withSecret).not.toContain(layoutOf(keyed.namespace, guess).value);
    expect(withSecret).not.toContain(tagKey(keyed.namespace, TAG));
    expect(withSecret).toContain(layoutOf(keyed.namespace, guess, secret).value);
    expect(withSecret).toContain(tagKey(keyed.namespace, TAG, secret));
    expect(layoutOf(keyed.namespace, guess, secret).id).not.toBe(layoutOf(keyed.namespace, guess).id);
    // The same run leaves the same shape of keys, under other names.
    const digests = (keys: string[], ns: string) =>
      keys.map((key) => key.slice(ns.length + 1)).filter((key) => key !== '{seq}');
    const plainDigests = new Set(digests(plain, caches.namespace).map((key) => key.slice(1, 23)));
    expect(digests(withSecret, keyed.namespace).filter((key) => plainDigests.has(key.slice(1, 23)))).toEqual(
      [],
    );
    expect(withSecret.length).toBe(plain.length);
  });
});
