import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCache, type FlightCache } from '../../src/cache/flight-cache.js';
import { encodeValue } from '../../src/cache/encode-value.js';
import { EncodedKey, encodeKey, type KeyPart, MAX_KEY_LENGTH } from '../../src/cache/keys.js';
import {
  defaultKeyParts,
  fieldCacheKey,
  fieldKeyEncoder,
  NO_ARGUMENTS,
} from '../../src/graphql/field-key.js';

vi.mock('../../src/cache/encode-value.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/cache/encode-value.js')>();
  return { ...actual, encodeValue: vi.fn(actual.encodeValue) };
});

let cache: FlightCache | undefined;
afterEach(async () => {
  await cache?.close();
  cache = undefined;
  vi.mocked(encodeValue).mockClear();
});

describe('fieldKeyEncoder', () => {
  const coordinates = ['Query.top', 'Item.detail', 'Odd|Type.f\\x'];
  const viewers = [null, 'alice', 'a|b', 'a\\', '', 7, 0, 'public', 'viewer'];
  const partLists: KeyPart[][] = [
    [],
    [''],
    ['', '{}'],
    [7, '{}'],
    ['a|b', 'c\\d'],
    ['\\d1', 1],
    ['{"q":"x|y\\\\z"}'],
    ['x'.repeat(MAX_KEY_LENGTH)],
  ];

  it('builds the key fieldCacheKey builds, for any viewer and parts', () => {
    for (const coordinate of coordinates) {
      const keys = fieldKeyEncoder(coordinate);
      for (const viewer of viewers) {
        for (const parts of partLists) {
          const key = keys(viewer, parts);
          expect(key).toBeInstanceOf(EncodedKey);
          expect(encodeKey(key), `${coordinate} ${viewer} ${parts}`).toBe(
            encodeKey(fieldCacheKey(coordinate, viewer, parts)),
          );
        }
      }
    }
  });

  it('keeps the public entry apart from a viewer named "public"', () => {
    const keys = fieldKeyEncoder('Query.a');
    expect(encodeKey(keys(null, ['x']))).not.toBe(encodeKey(keys('public', ['x'])));
  });

  it('names the entry that a key built by fieldCacheKey deletes', async () => {
    cache = createCache();
    const keys = fieldKeyEncoder('Item.detail');
    const load = vi.fn(async () => 'value');
    await cache.remember(keys('alice', [7, 'a|b']), load);
    await cache.remember(keys('alice', [7, 'a|b']), load);
    expect(load).toHaveBeenCalledTimes(1);
    await cache.delete(fieldCacheKey('Item.detail', 'alice', [7, 'a|b']));
    await cache.remember(keys('alice', [7, 'a|b']), load);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('throws the error encodeKey throws for the same parts', () => {
    const keys = fieldKeyEncoder('Query.a');
    expect(() => keys('alice', ['x', Number.NaN])).toThrow(
      'key part 5 must be a string or a finite number; received NaN',
    );
    expect(() => keys(null, [Number.NaN])).toThrow(
      'key part 3 must be a string or a finite number; received NaN',
    );
  });
});

describe('defaultKeyParts', () => {
  it('gives NO_ARGUMENTS for a field without arguments, without encoding them', () => {
    expect(NO_ARGUMENTS).toBe(encodeValue({}));
    vi.mocked(encodeValue).mockClear();
    expect(defaultKeyParts({ id: 7 }, {})).toEqual([7, NO_ARGUMENTS]);
    expect(defaultKeyParts(undefined, Object.create(null))).toEqual(['', NO_ARGUMENTS]);
    expect(encodeValue).not.toHaveBeenCalled();
  });

  it('encodes the arguments with encodeValue, so Dates, BigInts and Maps get entries of their own', () => {
    const parts = (args: Record<string, unknown>) => defaultKeyParts({ id: 'p1' }, args);
    expect(parts({ since: new Date(0) })).not.toEqual(parts({ since: new Date(1) }));
    expect(parts({ since: new Date(0) })).not.toEqual(parts({ since: '1970-01-01T00:00:00.000Z' }));
    expect(parts({ n: 1n })).not.toEqual(parts({ n: 1 }));
    expect(parts({ m: new Map([[1, 'a']]) })).not.toEqual(parts({ m: new Map([[1, 'b']]) }));
    expect(parts({ b: 2, a: 1 })).toEqual(['p1', '{"a":1,"b":2}']);
    expect(parts({ a: undefined })).toEqual(['p1', NO_ARGUMENTS]);
  });

  it('throws the depth error for arguments nested too deep', () => {
    let input: unknown = 1;
    for (let i = 0; i < 3000; i++) input = { input };
    expect(() => defaultKeyParts(null, { input })).toThrow('arguments nest deeper than 32 levels');
  });
});
