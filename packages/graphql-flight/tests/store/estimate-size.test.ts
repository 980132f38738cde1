import { afterEach, describe, expect, it } from 'vitest';
import { createCache, estimateSize, type FlightCache, MAX_ESTIMATE_STEPS } from '../../src/index.js';
import { stringBytes } from '../../src/store/estimate-size.js';
import {
  ENTRY_BYTES,
  entryBytes,
  INDEX_ID_BYTES,
  INDEX_MEMBER_BYTES,
  MemoryTier,
} from '../../src/store/memory-tier.js';

/** A row as a driver returns it. */
const row = (id: number) => ({ id, name: `Product ${id}`, priceCents: 1_299 });

describe('estimateSize (issue 12: the bytes a value holds)', () => {
  it('counts a string as V8 keeps it: 1 byte a character one-byte, 2 two-byte, and a 16-byte header', () => {
    expect(estimateSize('a'.repeat(1_000))).toBe(1_016);
    expect(estimateSize('é'.repeat(1_000))).toBe(1_016); // Latin-1: still one byte each
    expect(estimateSize('€'.repeat(1_000))).toBe(2_016);
    expect(estimateSize(`${'a'.repeat(999)}€`)).toBe(2_016);
    expect(estimateSize('abc')).toBe(24); // rounded up to 8 bytes
  });

  it('counts a large object by its content, not a nominal size', () => {
    const response = { body: 'r'.repeat(100_000), etag: 'e'.repeat(27), expiresAt: Date.now() };
    // The object (3 slots), the body, the ETag and the time (a heap number).
    expect(estimateSize(response)).toBe(24 + 3 * 8 + 100_016 + 48 + 16);
    const rows = Array.from({ length: 100 }, (_, i) => row(i));
    // Each row: 24 + 3 slots, and its name; the list: 48 + a slot per row.
    const names = rows.reduce((sum, r) => sum + stringBytes(r.name), 0);
    expect(estimateSize(rows)).toBe(48 + 100 * 8 + 100 * 48 + names);
    expect(estimateSize(new Map([['k', rows]]))).toBe(80 + 40 + stringBytes('k') + estimateSize(rows));
    expect(estimateSize(new Set(['a'.repeat(500)]))).toBe(80 + 32 + 520);
    expect(estimateSize(Buffer.alloc(4_096))).toBe(96 + 4_096);
    expect(estimateSize({ at: new Date(0), run: () => 1 })).toBe(24 + 2 * 8 + 128 + 64);
  });

  it('counts numbers that are not small integers, and nothing for booleans and null', () => {
    expect(estimateSize({ a: 1, b: true, c: null, d: undefined })).toBe(24 + 4 * 8);
    expect(estimateSize({ a: 1.5, b: 2 ** 40 })).toBe(24 + 2 * 8 + 2 * 16);
  });

  it('counts an object once however often it is referenced, and ends on a cycle', () => {
    const shared = { text: 'x'.repeat(1_000) };
    expect(estimateSize([shared, shared, shared])).toBe(48 + 3 * 8 + estimateSize(shared));
    const cyclic: Record<string, unknown> = { text: 'x'.repeat(1_000) };
    cyclic.self = cyclic;
    expect(estimateSize(cyclic)).toBe(24 + 2 * 8 + 1_016);
  });

  it('is bounded: a value with more than MAX_ESTIMATE_STEPS slots, or one whose getter throws, counts as infinite', () => {
    expect(estimateSize(new Array(MAX_ESTIMATE_STEPS).fill(0))).toBeLessThan(Number.POSITIVE_INFINITY);
    expect(estimateSize(new Array(MAX_ESTIMATE_STEPS + 1).fill(0))).toBe(Number.POSITIVE_INFINITY);
    // A sparse array of a billion slots is refused at once, not walked.
    const started = performance.now();
    expect(estimateSize({ list: new Array(1_000_000_000) })).toBe(Number.POSITIVE_INFINITY);
    expect(performance.now() - started).toBeLessThan(1_000);
    const hostile = Object.defineProperty({}, 'boom', {
      enumerable: true,
      get() {
        throw new Error('read me not');
      },
    });
    expect(estimateSize(hostile)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('the memory tier counts what it holds for an entry', () => {
  it('counts the key, the envelope, and each id with its index entry, beyond the value', () => {
    const plain = new MemoryTier({ maxEntries: 10, maxBytes: 1_000_000 });
    plain.set('k', { value: 'v' }, 60_000);
    expect(plain.bytes).toBe(ENTRY_BYTES + stringBytes('k') + stringBytes('v'));

    const ids = Array.from({ length: 50 }, (_, i) => `t\0Product:${i}:${'n'.repeat(80)}`);
    const tagged = new MemoryTier({ maxEntries: 10, maxBytes: 1_000_000 });
    tagged.set('k', { value: 'v', ids }, 60_000);
    const idBytes = ids.reduce((sum, id) => sum + stringBytes(id), 0);
    expect(entryBytes('k', ids)).toBe(
      ENTRY_BYTES + stringBytes('k') + 48 + 8 * ids.length + idBytes + ids.length * INDEX_MEMBER_BYTES,
    );
    // The entry's own ids, and the index's Map entry and Set for each id, which it names first.
    expect(tagged.bytes).toBe(
      entryBytes('k', ids) + stringBytes('v') + ids.length * INDEX_ID_BYTES + idBytes,
    );
    expect(tagged.bytes - plain.bytes).toBeGreaterThan(50 * 100);
  });

  it('counts an id the index holds for several entries once, and gives every byte back as entries leave', () => {
    const tier = new MemoryTier({ maxEntries: 10, maxBytes: 1_000_000 });
    const shared = `t\0${'s'.repeat(200)}`;
    tier.set('a', { value: 'v', ids: ['k\0a', shared] }, 60_000);
    const one = tier.bytes;
    tier.set('b', { value: 'v', ids: ['k\0b', shared] }, 60_000);
    // The second entry pays for its own copy of the id and its membership, not the index's again.
    expect(tier.bytes - one).toBe(entryBytes('b', ['k\0b', shared]) + stringBytes('v') + INDEX_ID_BYTES + 24);

    tier.delete('a');
    expect(tier.bytes).toBe(
      entryBytes('b', ['k\0b', shared]) + stringBytes('v') + 2 * INDEX_ID_BYTES + 24 + stringBytes(shared),
    );
    tier.set('c', { value: 'v', ids: ['k\0c', shared] }, 60_000);
    expect(tier.invalidate(shared)).toBe(2);
    expect(tier.bytes).toBe(0);
    tier.set('d', { value: 'v', ids: ['k\0d', shared] }, 60_000);
    tier.clear();
    expect(tier.bytes).toBe(0);
  });

  it('keeps entries and index within maxBytes: entries with many distinct tags evict the least recently used', () => {
    const maxBytes = 50_000;
    const tier = new MemoryTier({ maxEntries: 10_000, maxBytes });
    for (let i = 0; i < 1_000; i++) {
      const ids = Array.from({ length: 20 }, (_, j) => `t\0entity:${i}:${j}`);
      tier.set(`key:${i}`, { value: i, ids }, 60_000);
      expect(tier.bytes).toBeLessThanOrEqual(maxBytes);
    }
    expect(tier.evictions).toBeGreaterThan(900);
    expect(tier.bytes).toBeGreaterThan(maxBytes * 0.9);
    // The newest entry is kept, the oldest gone, and what left took its index with it.
    expect(tier.get('key:999')?.value).toBe(999);
    expect(tier.get('key:0')).toBeUndefined();
    expect(tier.invalidate('t\0entity:0:0')).toBe(0);
  });
});

describe('FlightCache sizes values it is not told the size of', () => {
  let cache: FlightCache;
  afterEach(async () => {
    await cache?.close();
  });

  it('bounds a flood of distinct large objects by maxBytes, counting their content and tags', async () => {
    const maxBytes = 1_000_000;
    cache = createCache({ maxBytes });
    for (let i = 0; i < 200; i++) {
      await cache.remember(`response:${i}`, async () => ({ body: 'r'.repeat(20_000) }), {
        tags: [`Response:${i}`, 'Response:*'],
      });
      expect(cache.stats().bytes).toBeLessThanOrEqual(maxBytes);
    }
    const stats = cache.stats();
    // Each object counts about 20 KB (its body), not a nominal 256 bytes: about 48 fit.
    expect(stats.entries).toBeGreaterThan(40);
    expect(stats.entries).toBeLessThan(50);
    expect(stats.evictions).toBe(200 - stats.entries);
    expect(stats.bytes).toBeGreaterThan(maxBytes - 21_000);
  });

  it('does not keep a value it cannot size (past the step bound), and still answers with it', async () => {
    cache = createCache();
    let loads = 0;
    const load = async () => {
      loads++;
      return new Array(MAX_ESTIMATE_STEPS + 1).fill(1);
    };
    expect(await cache.remember('huge', load)).toHaveLength(MAX_ESTIMATE_STEPS + 1);
    expect(await cache.remember('huge', load)).toHaveLength(MAX_ESTIMATE_STEPS + 1);
    expect(loads).toBe(2);
    expect(cache.stats().entries).toBe(0);
    // A caller that knows better says so, and the value is kept.
    await cache.remember('sized', load, { sizeOf: () => 8 * MAX_ESTIMATE_STEPS });
    expect(cache.stats().entries).toBe(1);
  });

  it("sizes a value by the estimate when its call's sizeOf says something that is not a size", async () => {
    cache = createCache();
    const value = { body: 'b'.repeat(10_000) };
    for (const [key, sizeOf] of [
      ['nan', () => Number.NaN],
      ['negative', () => -5],
    ] as const) {
      expect(await cache.remember(key, async () => value, { sizeOf })).toBe(value);
    }
    expect(cache.stats().entries).toBe(2);
    // Each counted by what it holds (10 KB), not by what its sizeOf said.
    expect(cache.stats().bytes).toBeGreaterThan(2 * 10_016);
  });
});
