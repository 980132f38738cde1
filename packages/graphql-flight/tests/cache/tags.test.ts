/**
 * Tags and invalidate({ keys, tags }) in one process, on the memory tier (no Redis): what an
 * invalidation retires, the fence that keeps a load begun before it from being kept, and the
 * memory tier's index of entries by id.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCache, type FlightCache } from '../../src/index.js';
import { MemoryTier } from '../../src/store/memory-tier.js';
import { deferred, flushMicrotasks, track } from '../helpers/deferred.js';
import { manualClock } from '../helpers/clock.js';

let cache: FlightCache;
afterEach(async () => {
  await cache?.close();
});

/** A load that counts its calls and resolves `<name><n>` for its n-th call. */
function counted(name: string) {
  const load = vi.fn(async () => `${name}${load.mock.calls.length}`);
  return load;
}

describe('tags', () => {
  it('retires exactly the entries carrying an invalidated tag (a list of tags); the others stay hits', async () => {
    cache = createCache();
    const one = counted('one');
    const two = counted('two');
    const both = counted('both');
    await cache.remember('p1', one, { tags: ['Product:1'] });
    await cache.remember('p2', two, { tags: ['Product:2'] });
    await cache.remember('p12', both, { tags: ['Product:2', 'Product:1'] });

    await cache.invalidate({ tags: ['Product:1'] });
    expect(cache.stats().entries).toBe(1);

    await expect(cache.remember('p1', one, { tags: ['Product:1'] })).resolves.toBe('one2');
    await expect(cache.remember('p2', two, { tags: ['Product:2'] })).resolves.toBe('two1');
    await expect(cache.remember('p12', both, { tags: ['Product:2', 'Product:1'] })).resolves.toBe('both2');
    expect([one, two, both].map((load) => load.mock.calls.length)).toEqual([2, 1, 2]);
    expect(cache.stats()).toMatchObject({ hits: 1, loads: 5 });
  });

  it('retires entries by tags computed from the loaded value (a function of the value)', async () => {
    cache = createCache();
    const tags = (product: { id: number }) => [`Product:${product.id}`];
    const first = vi.fn(async () => ({ id: 7 }));
    const second = vi.fn(async () => ({ id: 8 }));
    await cache.remember('featured', first, { tags });
    await cache.remember('latest', second, { tags });

    await cache.invalidate({ tags: ['Product:7'] });

    const again = vi.fn(async () => ({ id: 7, again: true }));
    await expect(cache.remember('featured', again, { tags })).resolves.toEqual({ id: 7, again: true });
    await expect(cache.remember('latest', second, { tags })).resolves.toEqual({ id: 8 });
    expect(again).toHaveBeenCalledTimes(1);
    expect(second).toHaveBeenCalledTimes(1);
  });

  it('retires exactly the entries under invalidated keys, whatever their tags', async () => {
    cache = createCache();
    const load = counted('v');
    await cache.remember(['product', 1], load, { tags: ['Product:1'] });
    await cache.remember(['product', 2], load, { tags: ['Product:1'] });
    await cache.remember(['product', '1'], load);

    await cache.invalidate({ keys: [['product', 1]] });

    // The number key 1 was retired; the string key '1' is another key; the shared tag is untouched.
    await expect(cache.remember(['product', 1], load)).resolves.toBe('v4');
    await expect(cache.remember(['product', 2], load)).resolves.toBe('v2');
    await expect(cache.remember(['product', '1'], load)).resolves.toBe('v3');
    expect(load).toHaveBeenCalledTimes(4);
  });

  it('treats unknown tags and keys as a no-op: every entry stays a hit', async () => {
    cache = createCache();
    const load = counted('v');
    await cache.remember('a', load, { tags: ['Product:1'] });
    await cache.remember('b', load);

    await cache.invalidate({ tags: ['Product:999', 'never-used'] });
    await cache.invalidate({ keys: ['c'] });
    await cache.invalidate({});

    expect(cache.stats().entries).toBe(2);
    await expect(cache.remember('a', load)).resolves.toBe('v1');
    await expect(cache.remember('b', load)).resolves.toBe('v2');
    expect(cache.stats()).toMatchObject({ hits: 2, loads: 2 });
  });

  it('rejects tags that are not non-empty strings of at most 1 024 characters with E_INVALID_OPTION', async () => {
    cache = createCache();
    const load = vi.fn(async () => 'v');
    const bad: unknown[] = [[1], [''], ['x'.repeat(1_025)], ['\uD800'], 'Product:1', [null]];
    for (const tags of bad) {
      await expect(
        cache.remember('k', load, { tags: tags as string[] }),
        `remember with tags ${JSON.stringify(tags)}`,
      ).rejects.toMatchObject({ code: 'E_INVALID_OPTION' });
      await expect(
        cache.rememberMany(['k'], async (keys) => keys.map(() => 'v'), { tags: tags as string[] }),
      ).rejects.toMatchObject({ code: 'E_INVALID_OPTION' });
      await expect(cache.invalidate({ tags: tags as string[] })).rejects.toMatchObject({
        code: 'E_INVALID_OPTION',
      });
    }
    // A fixed list is checked before anything loads.
    expect(load).not.toHaveBeenCalled();
    await expect(cache.remember('k', load, { tags: ['x'.repeat(1_024)] })).resolves.toBe('v');

    // Tags computed from the value are checked once it is loaded: that call fails, nothing is kept.
    const computed = vi.fn(async () => 'w');
    await expect(cache.remember('f', computed, { tags: () => [''] })).rejects.toMatchObject({
      code: 'E_INVALID_OPTION',
      message: 'option "tags" must be non-empty strings of at most 1024 characters; received ""',
    });
    await expect(cache.remember('f', computed)).resolves.toBe('w');
    expect(computed).toHaveBeenCalledTimes(2);
    const many = await cache.rememberMany(['g', 'h'], async (keys) => keys.map((key) => `${key}!`), {
      tags: (key) => (key === 'g' ? [42 as unknown as string] : ['ok']),
    });
    expect(many[0]).toMatchObject({ code: 'E_INVALID_OPTION' });
    expect(many[1]).toBe('h!');
  });
});

describe('fencing a load against an invalidation', () => {
  it('does not keep a load begun before an invalidation of its key, but answers its callers with it', async () => {
    cache = createCache();
    const gate = deferred<string>();
    const before = [cache.remember('k', () => gate.promise), cache.remember('k', () => gate.promise)];
    await cache.invalidate({ keys: ['k'] });
    gate.resolve('old');
    await expect(Promise.all(before)).resolves.toEqual(['old', 'old']);

    const load = counted('new');
    await expect(cache.remember('k', load)).resolves.toBe('new1');
    // A load begun after the invalidation is kept.
    await expect(cache.remember('k', load)).resolves.toBe('new1');
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('does not keep a load begun before an invalidation of a tag its value ends up with (function tags)', async () => {
    cache = createCache();
    const tags = (product: { id: number }) => [`Product:${product.id}`];
    const gate = deferred<{ id: number }>();
    const before = cache.remember('featured', () => gate.promise, { tags });
    // The cache cannot know before the load that this value will carry Product:1.
    await cache.invalidate({ tags: ['Product:1'] });
    const old = { id: 1 };
    gate.resolve(old);
    await expect(before).resolves.toBe(old);

    const load = vi.fn(async () => ({ id: 1, fresh: true }));
    await expect(cache.remember('featured', load, { tags })).resolves.toEqual({ id: 1, fresh: true });
    await expect(cache.remember('featured', load, { tags })).resolves.toEqual({ id: 1, fresh: true });
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('does not keep a load begun before an invalidation of one of its listed tags', async () => {
    cache = createCache();
    const gate = deferred<string>();
    const before = cache.remember('k', () => gate.promise, { tags: ['a', 'Product:1'] });
    await cache.invalidate({ tags: ['Product:1'] });
    gate.resolve('old');
    await expect(before).resolves.toBe('old');
    const load = counted('new');
    await expect(cache.remember('k', load, { tags: ['a', 'Product:1'] })).resolves.toBe('new1');
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('keeps a load whose listed tags and key were not invalidated, and lets later callers join it', async () => {
    cache = createCache();
    const gate = deferred<string>();
    const before = cache.remember('k', () => gate.promise, { tags: ['Product:1'] });
    await cache.invalidate({ tags: ['Product:2'], keys: ['other'] });
    const late = vi.fn(async () => 'late');
    const joined = cache.remember('k', late, { tags: ['Product:1'] });
    gate.resolve('v');
    await expect(Promise.all([before, joined])).resolves.toEqual(['v', 'v']);
    expect(late).not.toHaveBeenCalled();
    await expect(cache.remember('k', late)).resolves.toBe('v');
    expect(cache.stats()).toMatchObject({ hits: 1, coalesced: 1, loads: 1 });
  });

  it('makes a caller arriving after the invalidation start a new load instead of joining the old flight', async () => {
    cache = createCache();
    const tags = (value: string) => [`Product:${value.slice(0, 1)}`];
    const old = deferred<string>();
    const oldCall = track(cache.remember('k', () => old.promise, { tags }));
    await cache.invalidate({ tags: ['Product:1'] });

    const fresh = deferred<string>();
    const freshLoad = vi.fn(() => fresh.promise);
    const freshCall = track(cache.remember('k', freshLoad, { tags }));
    expect(freshLoad).toHaveBeenCalledTimes(1);

    // Each flight settles on its own load: the new caller never gets the old load's value.
    old.resolve('1-old');
    await expect(oldCall.promise).resolves.toBe('1-old');
    await flushMicrotasks();
    expect(freshCall.settled).toBe(false);
    fresh.resolve('1-new');
    await expect(freshCall.promise).resolves.toBe('1-new');
    // The load begun after the invalidation is the one kept.
    await expect(cache.remember('k', async () => 'unused', { tags })).resolves.toBe('1-new');
    expect(cache.stats()).toMatchObject({ coalesced: 0, loads: 2, hits: 1 });
  });
});

describe('rememberMany with tags', () => {
  const tagsOf = (key: string, value: { id: number }) => [`Product:${value.id}`, `Row:${key}`];

  it('retires the keys whose values carry an invalidated tag (a function of key and value) and keeps the rest', async () => {
    cache = createCache();
    const loadMany = vi.fn(async (keys: string[]) => keys.map((key) => ({ id: key === 'c' ? 2 : 1 })));
    await cache.rememberMany(['a', 'b', 'c'], loadMany, { tags: tagsOf });
    await cache.invalidate({ tags: ['Product:1'] });
    await cache.rememberMany(['a', 'b', 'c'], loadMany, { tags: tagsOf });
    expect(loadMany.mock.calls.map(([keys]) => keys)).toEqual([
      ['a', 'b', 'c'],
      ['a', 'b'],
    ]);

    await cache.invalidate({ tags: ['Row:c'] });
    await cache.rememberMany(['a', 'b', 'c'], loadMany, { tags: ['fixed'] });
    await cache.invalidate({ tags: ['fixed'] });
    await cache.rememberMany(['a', 'b', 'c'], loadMany, { tags: tagsOf });
    expect(loadMany.mock.calls.map(([keys]) => keys)).toEqual([['a', 'b', 'c'], ['a', 'b'], ['c'], ['c']]);
  });

  it('does not keep a batch load begun before an invalidation of a tag its value ends up with, but answers its callers', async () => {
    cache = createCache();
    const gate = deferred<Array<{ id: number }>>();
    const before = cache.rememberMany(['a', 'b'], () => gate.promise, { tags: tagsOf });
    await cache.invalidate({ tags: ['Product:1'] });
    const values = [{ id: 1 }, { id: 2 }];
    gate.resolve(values);
    const got = await before;
    expect(got[0]).toBe(values[0]);
    expect(got[1]).toBe(values[1]);

    // 'a' (Product:1) was not kept; 'b' (Product:2) was.
    const loadMany = vi.fn(async (keys: string[]) => keys.map(() => ({ id: 1 })));
    const after = await cache.rememberMany(['a', 'b'], loadMany, { tags: tagsOf });
    expect(loadMany.mock.calls.map(([keys]) => keys)).toEqual([['a']]);
    expect(after[0]).not.toBe(values[0]);
    expect(after[1]).toBe(values[1]);
  });

  it('makes a batch arriving after the invalidation load anew instead of joining the old batch; the new load is kept', async () => {
    cache = createCache();
    const old = deferred<Array<{ id: number }>>();
    const oldCall = track(cache.rememberMany(['a', 'b'], () => old.promise, { tags: tagsOf }));
    await cache.invalidate({ tags: ['Product:1'] });

    const fresh = deferred<Array<{ id: number }>>();
    const freshLoad = vi.fn((_keys: string[]) => fresh.promise);
    const freshCall = track(cache.rememberMany(['a'], freshLoad, { tags: tagsOf }));
    expect(freshLoad.mock.calls.map(([keys]) => keys)).toEqual([['a']]);

    old.resolve([{ id: 1 }, { id: 2 }]);
    await expect(oldCall.promise).resolves.toEqual([{ id: 1 }, { id: 2 }]);
    await flushMicrotasks();
    expect(freshCall.settled).toBe(false);
    const kept = { id: 1 };
    fresh.resolve([kept]);
    const [fromFresh] = await freshCall.promise;
    expect(fromFresh).toBe(kept);
    // The load begun after the invalidation is the one kept, for rememberMany and remember alike.
    await expect(cache.remember('a', async () => ({ id: -1 }))).resolves.toBe(kept);
    expect(freshLoad).toHaveBeenCalledTimes(1);
  });

  it('does not keep a batch load begun before an invalidation of its key', async () => {
    cache = createCache();
    const gate = deferred<string[]>();
    const before = cache.rememberMany(['a', 'b'], () => gate.promise, { tags: ['list'] });
    await cache.invalidate({ keys: ['b'] });
    gate.resolve(['a1', 'b1']);
    await expect(before).resolves.toEqual(['a1', 'b1']);
    const loadMany = vi.fn(async (keys: string[]) => keys.map((key) => `${key}2`));
    await expect(cache.rememberMany(['a', 'b'], loadMany, { tags: ['list'] })).resolves.toEqual(['a1', 'b2']);
    expect(loadMany.mock.calls.map(([keys]) => keys)).toEqual([['b']]);
  });
});

describe("the memory tier's index of entries by key and tag", () => {
  it('forgets the old tags of an expired entry: invalidating them spares the value now under that key', async () => {
    const clock = manualClock();
    cache = createCache({ now: clock.now });
    await cache.remember('k', async () => 'old', { tags: ['old-tag'], ttlMs: 1_000 });
    clock.advance(1_001);
    await cache.remember('k', async () => 'new', { tags: ['new-tag'], ttlMs: 60_000 });

    await cache.invalidate({ tags: ['old-tag'] });
    await expect(cache.remember('k', async () => 'reloaded')).resolves.toBe('new');
    await cache.invalidate({ tags: ['new-tag'] });
    await expect(cache.remember('k', async () => 'reloaded')).resolves.toBe('reloaded');
  });

  it('forgets the tags of an evicted entry: invalidating them spares the value stored again under that key', async () => {
    cache = createCache({ maxEntries: 2 });
    await cache.remember('a', async () => 'a-old', { tags: ['T'] });
    await cache.remember('b', async () => 'b');
    await cache.remember('c', async () => 'c'); // evicts 'a'
    await cache.remember('a', async () => 'a-new', { tags: ['U'] }); // evicts 'b'

    await cache.invalidate({ tags: ['T'] });
    await expect(cache.remember('a', async () => 'reloaded')).resolves.toBe('a-new');
    expect(cache.stats().entries).toBe(2);
  });

  it('unindexes an overwritten entry: the new envelope is dropped only by its own ids', () => {
    const tier = new MemoryTier({ maxEntries: 10 });
    tier.set('k', { value: 'old', ids: ['key:k', 'tag:old'] }, 60_000);
    tier.set('k', { value: 'new', ids: ['key:k', 'tag:new'] }, 60_000);
    tier.set('other', { value: 'o', ids: ['tag:old'] }, 60_000);

    expect(tier.invalidate('tag:old')).toBe(1);
    expect(tier.get('k')?.value).toBe('new');
    expect(tier.get('other')).toBeUndefined();
    expect(tier.invalidate('tag:new')).toBe(1);
    expect(tier.get('k')).toBeUndefined();
    // Nothing is left indexed: every id now names nothing.
    expect(['key:k', 'tag:old', 'tag:new'].map((id) => tier.invalidate(id))).toEqual([0, 0, 0]);
  });

  it('unindexes entries removed by delete, clear, or a value too large to keep', () => {
    const tier = new MemoryTier({ maxEntries: 10, maxBytes: 1_000 });
    tier.set('a', { value: 'a', ids: ['t'] }, 60_000);
    tier.delete('a');
    tier.set('a', { value: 'a2' }, 60_000);
    expect(tier.invalidate('t')).toBe(0);
    expect(tier.get('a')?.value).toBe('a2');

    tier.set('b', { value: 'b', ids: ['t'] }, 60_000);
    tier.set('b', { value: 'x'.repeat(2_000), ids: ['u'] }, 60_000); // too large: not kept
    expect(tier.get('b')).toBeUndefined();
    tier.set('b', { value: 'b2' }, 60_000);
    expect([tier.invalidate('t'), tier.invalidate('u')]).toEqual([0, 0]);
    expect(tier.get('b')?.value).toBe('b2');
  });
});
