import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_DEPTH, encodeValue } from '../../src/cache/encode-value.js';
import { InvalidKeyError, InvalidOptionError, ValueTooDeepError } from '../../src/errors.js';

/** `{ a: { a: ... { a: leaf } } }` with `levels` objects, built without recursion. */
function nestedObject(levels: number, leaf: unknown = 1): unknown {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
}

function nestedArray(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

describe('encodeValue keeps different values apart', () => {
  it('gives every pair of different values different encodings', () => {
    const values: Array<[string, unknown]> = [
      ['null', null],
      ['undefined', undefined],
      ['true', true],
      ['false', false],
      ['string "true"', 'true'],
      ['string "null"', 'null'],
      ['string "@undefined"', '@undefined'],
      ['number 0', 0],
      ['number 1', 1],
      ['number -1', -1],
      ['number 1.5', 1.5],
      ['number 15', 15],
      ['number 1e21', 1e21],
      ['string "0"', '0'],
      ['string "1"', '1'],
      ['string ""', ''],
      ['BigInt 0n', 0n],
      ['BigInt 1n', 1n],
      ['BigInt -1n', -1n],
      ['string "@BigInt(1)"', '@BigInt(1)'],
      ['Date 0', new Date(0)],
      ['Date 1', new Date(1)],
      ['Date -1', new Date(-1)],
      ['string of Date 0', '1970-01-01T00:00:00.000Z'],
      ['string "@Date(0)"', '@Date(0)'],
      ['empty object', {}],
      ['empty array', []],
      ['string "{}"', '{}'],
      ['string "[]"', '[]'],
      ['empty Map', new Map()],
      ['empty Set', new Set()],
      ['Map 1 -> "a"', new Map([[1, 'a']])],
      ['Map "1" -> "a"', new Map([['1', 'a']])],
      ['Map 1 -> "b"', new Map([[1, 'b']])],
      ['Map 1n -> "a"', new Map([[1n, 'a']])],
      ['Map {x:1} -> 1', new Map([[{ x: 1 }, 1]])],
      ['Map 1 -> undefined', new Map([[1, undefined]])],
      ['Map 1 -> null', new Map([[1, null]])],
      ['object { "1": "a" }', { 1: 'a' }],
      ['Set 1', new Set([1])],
      ['Set "1"', new Set(['1'])],
      ['Set 1n', new Set([1n])],
      ['Set Date 1', new Set([new Date(1)])],
      ['Set 1, 2', new Set([1, 2])],
      ['Set {a:1}, {a:1}', new Set([{ a: 1 }, { a: 1 }])],
      ['Set {a:1}', new Set([{ a: 1 }])],
      ['array [1]', [1]],
      ['array [1, 2]', [1, 2]],
      ['array ["1,2"]', ['1,2']],
      ['array [[1, 2]]', [[1, 2]]],
      ['array [1, [2]]', [1, [2]]],
      ['array [null]', [null]],
      ['array [undefined]', [undefined]],
      ['bytes []', new Uint8Array([])],
      ['bytes [1]', new Uint8Array([1])],
      ['bytes [2]', Buffer.from([2])],
      ['bytes [1, 2]', Buffer.from([1, 2])],
      ['bytes [0]', new Uint8Array([0])],
      ['URL http://a/', new URL('http://a/')],
      ['URL http://a/b', new URL('http://a/b')],
      ['string http://a/', 'http://a/'],
      ['string "@URL(\\"http://a/\\")"', '@URL("http://a/")'],
      ['object {a:1}', { a: 1 }],
      ['object {a:"1"}', { a: '1' }],
      ['object {a:[1]}', { a: [1] }],
      ['object {a:1n}', { a: 1n }],
      ['object {a:Date 1}', { a: new Date(1) }],
      ['object {a:null}', { a: null }],
      ['object {b:1}', { b: 1 }],
      ['object {a:1,b:2}', { a: 1, b: 2 }],
      ['object {a:"1\\",\\"b\\":2"}', { a: '1","b":2' }],
      ['object {"a\\":1,\\"b":2}', { 'a":1,"b': 2 }],
      ['object {a:{b:1}}', { a: { b: 1 } }],
      ['object {"a.b":1}', { 'a.b': 1 }],
      ['string with a quote', 'a"b'],
      ['string with a backslash', 'a\\b'],
      ['string with a newline', 'a\nb'],
      ['string with a lone surrogate', '\uD800'],
      ['string with another lone surrogate', '\uDC00'],
    ];
    const seen = new Map<string, string>();
    for (const [label, value] of values) {
      const encoded = encodeValue(value);
      expect(seen.get(encoded), `${label} shares ${encoded}`).toBeUndefined();
      seen.set(encoded, label);
    }
    expect(seen.size).toBe(values.length);
  });

  it('gives the encodings of the documented format', () => {
    expect(encodeValue({})).toBe('{}');
    expect(encodeValue({ b: 1, a: 'x', c: undefined })).toBe('{"a":"x","b":1}');
    expect(encodeValue([1, undefined, null])).toBe('[1,@undefined,null]');
    expect(encodeValue(new Date(0))).toBe('@Date(0)');
    expect(encodeValue(1n)).toBe('@BigInt(1)');
    expect(
      encodeValue(
        new Map<unknown, unknown>([
          [2, 'b'],
          [1, new Set([3, 1])],
        ]),
      ),
    ).toBe('@Map(1:@Set(1,3),2:"b")');
    expect(encodeValue(Buffer.from('hi'))).toBe('@Bytes(aGk=)');
    expect(encodeValue(new URL('http://a/b?c'))).toBe('@URL("http://a/b?c")');
    expect(encodeValue('a"b')).toBe('"a\\"b"');
  });

  it('encodes every string as JSON.stringify does', () => {
    const strings = [
      '',
      'plain',
      'a"b',
      'a\\b',
      'tab\there',
      '\u0000',
      '\u001f',
      '\u007f',
      '\u2028',
      'é',
      '😀',
      '\uD800',
      'x\uDFFFy',
    ];
    for (const text of strings) {
      expect(encodeValue(text)).toBe(JSON.stringify(text));
      expect(encodeValue({ [text]: 1 })).toBe(`{${JSON.stringify(text)}:1}`);
    }
  });

  it('reads a bytes value by its view, not the whole buffer beneath it', () => {
    const backing = new Uint8Array([9, 1, 2, 9]);
    expect(encodeValue(backing.subarray(1, 3))).toBe(encodeValue(new Uint8Array([1, 2])));
  });
});

describe('encodeValue gives equal values one encoding', () => {
  it('does not depend on the order of object keys, Map entries or Set members', () => {
    expect(encodeValue({ a: 1, b: 2 })).toBe(encodeValue({ b: 2, a: 1 }));
    expect(encodeValue({ x: { c: [1], d: 'd' }, y: null })).toBe(
      encodeValue({ y: null, x: { d: 'd', c: [1] } }),
    );
    expect(
      encodeValue(
        new Map([
          ['a', 1],
          ['b', 2],
        ]),
      ),
    ).toBe(
      encodeValue(
        new Map([
          ['b', 2],
          ['a', 1],
        ]),
      ),
    );
    expect(encodeValue(new Set([3, 'x', 1n]))).toBe(encodeValue(new Set([1n, 3, 'x'])));
  });

  it('orders Map entries whose keys encode alike by their values', () => {
    const left = new Map([
      [{ k: 1 }, 'first'],
      [{ k: 1 }, 'second'],
    ]);
    const right = new Map([
      [{ k: 1 }, 'second'],
      [{ k: 1 }, 'first'],
    ]);
    expect(encodeValue(left)).toBe(encodeValue(right));
  });

  it('sorts many keys the same way as few', () => {
    const names = Array.from({ length: 40 }, (_, i) => `k${(i * 7) % 40}`);
    const forward = Object.fromEntries(names.map((name) => [name, name]));
    const backward = Object.fromEntries([...names].reverse().map((name) => [name, name]));
    const expected = `{${[...names]
      .sort()
      .map((name) => `"${name}":"${name}"`)
      .join(',')}}`;
    expect(encodeValue(forward)).toBe(expected);
    expect(encodeValue(backward)).toBe(expected);
    const few = { b: 1, B: 2, a: 3, _: 4, '10': 5, '9': 6 };
    expect(encodeValue(few)).toBe('{"10":5,"9":6,"B":2,"_":4,"a":3,"b":1}');
  });

  it('gives equal encodings to equal values held in different objects', () => {
    expect(encodeValue(new Date(5))).toBe(encodeValue(new Date(5)));
    expect(encodeValue(new URL('http://a/b'))).toBe(encodeValue(new URL('http://a/b')));
    expect(encodeValue(Buffer.from([1, 2]))).toBe(encodeValue(new Uint8Array([1, 2])));
    expect(encodeValue({ a: [{ b: 1n }] })).toBe(encodeValue({ a: [{ b: 1n }] }));
    expect(encodeValue(Object.assign(Object.create(null), { a: 1 }))).toBe(encodeValue({ a: 1 }));
  });

  it('omits properties whose value is undefined, as GraphQL omits arguments not given', () => {
    expect(encodeValue({ a: undefined })).toBe(encodeValue({}));
    expect(encodeValue({ a: 1, b: undefined })).toBe(encodeValue({ a: 1 }));
    expect(encodeValue({ b: undefined, a: 1 })).toBe('{"a":1}');
  });

  it('gives -0 and 0 one encoding, as JSON and encodeKey do', () => {
    expect(encodeValue(-0)).toBe(encodeValue(0));
    expect(encodeValue({ x: -0 })).toBe('{"x":0}');
  });

  it('encodes an object reached twice without a cycle at each place', () => {
    const shared = { a: 1 };
    expect(encodeValue([shared, shared])).toBe('[{"a":1},{"a":1}]');
    expect(encodeValue({ x: shared, y: [shared] })).toBe('{"x":{"a":1},"y":[{"a":1}]}');
  });
});

describe('encodeValue refuses what it cannot encode', () => {
  class Money {
    constructor(readonly cents: number) {}
  }

  it.each([
    ['a function', () => 1, 'cannot encode a function as an argument value'],
    ['a symbol', Symbol('s'), 'cannot encode a symbol as an argument value'],
    ['NaN', Number.NaN, 'cannot encode the number NaN as an argument value'],
    ['Infinity', Number.POSITIVE_INFINITY, 'cannot encode the number Infinity as an argument value'],
    ['-Infinity', Number.NEGATIVE_INFINITY, 'cannot encode the number -Infinity as an argument value'],
    ['an invalid Date', new Date('not a date'), 'cannot encode an invalid Date as an argument value'],
    ['a class instance', new Money(5), 'cannot encode an instance of Money as an argument value'],
    [
      'a typed array other than bytes',
      new Int16Array(2),
      'cannot encode an instance of Int16Array as an argument value',
    ],
    ['a RegExp', /x/, 'cannot encode an instance of RegExp as an argument value'],
    [
      'an object whose prototype has no constructor',
      Object.create(Object.create(null)),
      'cannot encode an object with a custom prototype as an argument value',
    ],
  ])('refuses %s with InvalidKeyError, at the top and nested', (_label, value, message) => {
    for (const holder of [
      value,
      { a: value },
      [value],
      new Map([[value, 1]]),
      new Set([value]),
      { a: [{ b: value }] },
    ]) {
      let thrown: unknown;
      try {
        encodeValue(holder);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidKeyError);
      expect(thrown).toMatchObject({ code: 'E_INVALID_KEY', message });
    }
  });

  it('refuses a cycle through an object, an array, a Map or a Set', () => {
    const object: Record<string, unknown> = { a: 1 };
    object.self = object;
    const array: unknown[] = [1];
    array.push([array]);
    const map = new Map<string, unknown>();
    map.set('m', { back: map });
    const set = new Set<unknown>();
    set.add([set]);
    const keyed = new Map<unknown, unknown>();
    keyed.set({ key: keyed }, 1);
    for (const value of [object, array, map, set, keyed, { deeper: { again: object } }]) {
      expect(() => encodeValue(value)).toThrow(
        expect.objectContaining({
          code: 'E_INVALID_KEY',
          message: 'cannot encode a cyclic value as an argument value',
        }),
      );
    }
  });

  it('refuses a cycle even when a wide value reaches it many times', () => {
    const wide: Record<string, unknown> = {};
    for (let i = 0; i < 8; i++) wide[`k${i}`] = wide;
    expect(() => encodeValue(wide)).toThrow('cannot encode a cyclic value as an argument value');
  });
});

describe('encodeValue bounds nesting', () => {
  it('accepts maxDepth levels and refuses one more with ValueTooDeepError', () => {
    expect(DEFAULT_MAX_DEPTH).toBe(32);
    expect(() => encodeValue(nestedObject(32))).not.toThrow();
    expect(() => encodeValue(nestedObject(33))).toThrow(ValueTooDeepError);
    expect(() => encodeValue(nestedObject(33))).toThrow(
      expect.objectContaining({
        code: 'E_VALUE_TOO_DEEP',
        message: 'arguments nest deeper than 32 levels',
        maxDepth: 32,
      }),
    );
    expect(() => encodeValue(nestedArray(32))).not.toThrow();
    expect(() => encodeValue(nestedArray(33))).toThrow('arguments nest deeper than 32 levels');
  });

  it('counts Maps and Sets as levels, and Dates, URLs, bytes and BigInts as none', () => {
    expect(() => encodeValue(nestedObject(31, new Map([[1, {}]])))).toThrow(
      'arguments nest deeper than 32 levels',
    );
    expect(() => encodeValue(nestedObject(31, new Set([[]])))).toThrow(
      'arguments nest deeper than 32 levels',
    );
    expect(() => encodeValue(nestedObject(31, new Map([[{}, 1]])))).toThrow(
      'arguments nest deeper than 32 levels',
    );
    expect(() => encodeValue(nestedObject(31, new Map([[1, 2]])))).not.toThrow();
    for (const leaf of [new Date(0), new URL('http://a/'), Buffer.from([1]), 1n]) {
      expect(() => encodeValue(nestedObject(32, leaf))).not.toThrow();
    }
  });

  it('throws the depth error, never a RangeError, for a 100,000-deep object or array', () => {
    for (const value of [nestedObject(100_000), nestedArray(100_000), nestedObject(100_000, new Map())]) {
      expect(() => encodeValue(value)).toThrow(
        expect.objectContaining({
          name: 'ValueTooDeepError',
          message: 'arguments nest deeper than 32 levels',
        }),
      );
    }
  });

  it('takes maxDepth as an option, up to 1000 levels', () => {
    expect(() => encodeValue(nestedObject(3), { maxDepth: 2 })).toThrow(
      'arguments nest deeper than 2 levels',
    );
    expect(encodeValue(nestedObject(2), { maxDepth: 2 })).toBe('{"a":{"a":1}}');
    expect(encodeValue('scalar', { maxDepth: 0 })).toBe('"scalar"');
    expect(() => encodeValue({}, { maxDepth: 0 })).toThrow('arguments nest deeper than 0 levels');
    expect(encodeValue(nestedObject(1000), { maxDepth: 1000 })).toHaveLength(1000 * 6 + 1);
    expect(() => encodeValue(nestedObject(100_000), { maxDepth: 1000 })).toThrow(
      'arguments nest deeper than 1000 levels',
    );
  });

  it.each([
    [1001, 'option "maxDepth" must be an integer from 0 to 1000; received 1001'],
    [-1, 'option "maxDepth" must be an integer from 0 to 1000; received -1'],
    [1.5, 'option "maxDepth" must be an integer from 0 to 1000; received 1.5'],
    [Number.NaN, 'option "maxDepth" must be an integer from 0 to 1000; received NaN'],
    ['8', 'option "maxDepth" must be an integer from 0 to 1000; received "8"'],
  ])('refuses maxDepth %s', (maxDepth, message) => {
    expect(() => encodeValue({}, { maxDepth: maxDepth as number })).toThrow(InvalidOptionError);
    expect(() => encodeValue({}, { maxDepth: maxDepth as number })).toThrow(message);
  });
});
