import { describe, expect, it } from 'vitest';
import {
  type CacheKey,
  EncodedKey,
  encodeKey,
  KeyPrefix,
  type KeyPart,
  MAX_KEY_LENGTH,
} from '../../src/cache/keys.js';
import { InvalidKeyError } from '../../src/errors.js';

const long = 'x'.repeat(MAX_KEY_LENGTH);
const partLists: KeyPart[][] = [
  [],
  [''],
  ['', ''],
  ['a'],
  ['a|b'],
  ['a', 'b'],
  ['a\\', 'b'],
  ['a', '\\b'],
  ['\\d1'],
  [1],
  ['1'],
  [0],
  [-0],
  [1.5, -2, 1e21],
  ['x|y\\z', 7, '{"a":"b|c"}'],
  [long],
  ['short', long],
  [long.slice(5), 'x'],
];

describe('EncodedKey', () => {
  it('is encoded by encodeKey as the key it was built from', () => {
    const keys: CacheKey[] = ['a', 'a|b', 3, ['a', 1], ['x\\', 'y|'], [long], long];
    for (const key of keys) {
      const encoded = EncodedKey.of(key);
      expect(encoded.encoded).toBe(encodeKey(key));
      expect(encodeKey(encoded)).toBe(encodeKey(key));
      expect(EncodedKey.of(encoded)).toBe(encoded);
    }
  });

  it('refuses what encodeKey refuses', () => {
    expect(() => EncodedKey.of([])).toThrow(InvalidKeyError);
    expect(() => EncodedKey.of(['a', Number.NaN])).toThrow(
      'key part 1 must be a string or a finite number; received NaN',
    );
  });

  it('cannot be built around an arbitrary string', () => {
    const Unchecked = EncodedKey as unknown as new (token: symbol, encoded: string) => EncodedKey;
    expect(() => new Unchecked(Symbol('EncodedKey'), '\\dforged')).toThrow(
      'an EncodedKey is built by EncodedKey.of or a KeyPrefix',
    );
  });
});

describe('KeyPrefix', () => {
  const prefixes: KeyPart[][] = [
    ['field'],
    ['field', 'Query.a|b', 'public'],
    ['a\\', 2],
    [long],
    ['p', long],
  ];

  it('builds the key encodeKey gives the whole list, hashed or not', () => {
    for (const prefix of prefixes) {
      const keys = new KeyPrefix(prefix);
      for (const parts of partLists) {
        expect(encodeKey(keys.key(parts)), `${prefix} + ${parts}`).toBe(encodeKey([...prefix, ...parts]));
        for (const part of ['v', 'v|w', 'v\\', 9, 0, long] as KeyPart[]) {
          expect(encodeKey(keys.keyWith(part, parts)), `${prefix} + ${part} + ${parts}`).toBe(
            encodeKey([...prefix, part, ...parts]),
          );
        }
      }
    }
  });

  it('hashes a key longer than MAX_KEY_LENGTH as encodeKey does', () => {
    const key = new KeyPrefix(['p']).key([long]);
    expect(key.encoded).toMatch(/^\\h/);
    expect(key.encoded).toBe(encodeKey(['p', long]));
  });

  it('names a bad part by its index in the whole key', () => {
    const keys = new KeyPrefix(['a', 'b']);
    expect(() => keys.key(['c', Number.NaN])).toThrow(
      'key part 3 must be a string or a finite number; received NaN',
    );
    expect(() => keys.keyWith({} as never, [])).toThrow(
      'key part 2 must be a string or a finite number; received object',
    );
    expect(() => keys.keyWith('c', [null as never])).toThrow(
      'key part 3 must be a string or a finite number; received null',
    );
    expect(() => keys.key(['\uD800'])).toThrow('a key part contains a lone UTF-16 surrogate');
  });

  it('refuses an empty prefix and a bad part in the prefix', () => {
    expect(() => new KeyPrefix([])).toThrow('a key prefix must be a non-empty array of strings and numbers');
    expect(() => new KeyPrefix(['a', Number.POSITIVE_INFINITY])).toThrow(
      'key part 1 must be a string or a finite number; received Infinity',
    );
  });
});
