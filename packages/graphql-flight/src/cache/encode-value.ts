import { InvalidKeyError, InvalidOptionError, ValueTooDeepError } from '../errors.js';

/** How deep a value may nest when no `maxDepth` is given. */
export const DEFAULT_MAX_DEPTH = 32;
/** The largest `maxDepth` accepted: the encoder recurses once per level, and this keeps it far from the stack's end. */
export const MAX_DEPTH_LIMIT = 1000;

export interface EncodeValueOptions {
  /**
   * How many containers (plain objects, arrays, Maps, Sets) may enclose one another; a value
   * nesting deeper is refused with ValueTooDeepError (E_VALUE_TOO_DEEP). An integer from 0 to
   * MAX_DEPTH_LIMIT; default DEFAULT_MAX_DEPTH. `{}` is one level, `{ a: [1] }` two.
   */
  maxDepth?: number;
}

/**
 * Encodes an argument or variable value to a string for a cache key: deterministic (equal values
 * give one string, whatever their key or insertion order) and injective (two different values
 * never give one string), so one argument's entry cannot serve another's.
 *
 * The encoding, a grammar in which the first character of a value decides how it is read and
 * where it ends (so a concatenation of encodings splits only one way):
 * - `null`, `true`, `false`; a finite number in its JSON form (`-0` is `0`, as in JSON and in
 *   encodeKey: GraphQL cannot send them apart); a string as JSON.stringify gives it (always
 *   quoted, lone surrogates escaped, so no string reads as any other encoding);
 * - a plain object (prototype Object.prototype or null) as `{"key":value,...}`, own enumerable
 *   string keys sorted by UTF-16 code units, properties whose value is `undefined` omitted (as
 *   GraphQL omits arguments not given): `{}` for no arguments;
 * - an array as `[value,...]`; an `undefined` element or a hole is `@undefined`, as is
 *   `undefined` outside an object;
 * - tagged values, `@` (which starts no JSON value) then a name: `@Date(<time value>)`,
 *   `@BigInt(<decimal>)`, `@Bytes(<base64>)` for a Uint8Array or Buffer (its bytes, whatever the
 *   class), `@URL(<href as a JSON string>)`, `@Map(<key>:<value>,...)` with entries sorted by key
 *   encoding then value encoding, `@Set(<member>,...)` with members sorted by encoding.
 * So the Date 0, the number 0 and the string "1970-01-01T00:00:00.000Z" give `@Date(0)`, `0` and
 * `"1970-01-01T00:00:00.000Z"`; the BigInt 1n, the number 1 and the string "1" give `@BigInt(1)`,
 * `1` and `"1"`.
 *
 * Refused with InvalidKeyError (E_INVALID_KEY): functions, symbols, NaN and ±Infinity, invalid
 * Dates, cycles, and objects of any other class (their state is not visible to the encoder).
 * Refused with ValueTooDeepError (E_VALUE_TOO_DEEP): nesting deeper than `maxDepth`, checked
 * before each level is entered, so a value of any depth fails with that error, never a RangeError.
 *
 * Limits: symbol-keyed and non-enumerable properties are not part of an object's encoding (as in
 * JSON); an object reached twice without a cycle is encoded at each place it appears.
 */
export function encodeValue(value: unknown, options?: EncodeValueOptions): string {
  const maxDepth = options?.maxDepth === undefined ? DEFAULT_MAX_DEPTH : checkMaxDepth(options.maxDepth);
  return encodeAt(value, 0, maxDepth, undefined);
}

function checkMaxDepth(maxDepth: unknown): number {
  if (
    typeof maxDepth !== 'number' ||
    !Number.isInteger(maxDepth) ||
    maxDepth < 0 ||
    maxDepth > MAX_DEPTH_LIMIT
  ) {
    throw new InvalidOptionError('maxDepth', `an integer from 0 to ${MAX_DEPTH_LIMIT}`, maxDepth);
  }
  return maxDepth;
}

/**
 * `depth` is the number of containers enclosing `value`; `ancestors[0..depth-1]` are those
 * containers, outermost first (entries past depth-1 are stale and never read). A container that
 * holds only scalars never allocates `ancestors`.
 */
function encodeAt(value: unknown, depth: number, maxDepth: number, ancestors: object[] | undefined): string {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      if (Number.isFinite(value)) return String(value);
      throw new InvalidKeyError(`cannot encode the number ${value} as an argument value`);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
      return '@undefined';
    case 'bigint':
      return `@BigInt(${value})`;
    case 'function':
      throw new InvalidKeyError('cannot encode a function as an argument value');
    case 'symbol':
      throw new InvalidKeyError('cannot encode a symbol as an argument value');
  }
  if (value === null) return 'null';
  const object = value as object;
  if (Array.isArray(object)) {
    enter(object, depth, maxDepth, ancestors);
    return encodeArray(object, depth, maxDepth, ancestors);
  }
  const proto: unknown = Object.getPrototypeOf(object);
  if (proto === Object.prototype || proto === null) {
    enter(object, depth, maxDepth, ancestors);
    return encodeObject(object as Record<string, unknown>, depth, maxDepth, ancestors);
  }
  if (object instanceof Date) {
    const time = object.getTime();
    if (Number.isNaN(time)) throw new InvalidKeyError('cannot encode an invalid Date as an argument value');
    return `@Date(${time})`;
  }
  if (object instanceof Uint8Array) {
    return `@Bytes(${Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString('base64')})`;
  }
  if (object instanceof URL) return `@URL(${quote(object.href)})`;
  if (object instanceof Map) {
    enter(object, depth, maxDepth, ancestors);
    return encodeMap(object, depth, maxDepth, ancestors);
  }
  if (object instanceof Set) {
    enter(object, depth, maxDepth, ancestors);
    return encodeSet(object, depth, maxDepth, ancestors);
  }
  const ctor = (proto as { constructor?: unknown }).constructor;
  const name = typeof ctor === 'function' && ctor.name !== '' ? ctor.name : undefined;
  throw new InvalidKeyError(
    name === undefined
      ? 'cannot encode an object with a custom prototype as an argument value'
      : `cannot encode an instance of ${name} as an argument value`,
  );
}

/** Refuses a container at `depth` that would nest too deep or that encloses itself. */
function enter(container: object, depth: number, maxDepth: number, ancestors: object[] | undefined): void {
  if (depth >= maxDepth) throw new ValueTooDeepError(maxDepth);
  if (ancestors === undefined) return;
  for (let i = 0; i < depth; i++) {
    if (ancestors[i] === container)
      throw new InvalidKeyError('cannot encode a cyclic value as an argument value');
  }
}

// A string without these comes out of JSON.stringify as itself in quotes.
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON.stringify escapes U+0000 to U+001F.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `JSON.stringify(text)`, without calling it for the common string that needs no escape. */
function quote(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/**
 * Sorts distinct strings by UTF-16 code units, the order of `Array.prototype.sort()`: insertion
 * sort for the few keys of an argument object (several times faster there), the built-in sort
 * beyond.
 */
function sortStrings(keys: string[]): void {
  if (keys.length > 16) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
}

function isScalar(value: unknown): boolean {
  return typeof value !== 'object' || value === null;
}

function encodeObject(
  object: Record<string, unknown>,
  depth: number,
  maxDepth: number,
  ancestors: object[] | undefined,
): string {
  const keys = Object.keys(object);
  if (keys.length === 0) return '{}';
  if (keys.length > 1) sortStrings(keys);
  let encoded = '{';
  for (const key of keys) {
    const item = object[key];
    if (item === undefined) continue;
    if (encoded.length > 1) encoded += ',';
    if (!isScalar(item)) {
      ancestors ??= [];
      ancestors[depth] = object;
    }
    encoded += `${quote(key)}:${encodeAt(item, depth + 1, maxDepth, ancestors)}`;
  }
  return `${encoded}}`;
}

function encodeArray(
  array: readonly unknown[],
  depth: number,
  maxDepth: number,
  ancestors: object[] | undefined,
): string {
  if (array.length === 0) return '[]';
  let encoded = '[';
  for (let i = 0; i < array.length; i++) {
    const item = array[i];
    if (i > 0) encoded += ',';
    if (!isScalar(item)) {
      ancestors ??= [];
      ancestors[depth] = array;
    }
    encoded += encodeAt(item, depth + 1, maxDepth, ancestors);
  }
  return `${encoded}]`;
}

function encodeMap(
  map: ReadonlyMap<unknown, unknown>,
  depth: number,
  maxDepth: number,
  ancestors: object[] | undefined,
): string {
  const inner = ancestors ?? [];
  inner[depth] = map;
  const entries: Array<[string, string]> = [];
  for (const [key, item] of map) {
    entries.push([encodeAt(key, depth + 1, maxDepth, inner), encodeAt(item, depth + 1, maxDepth, inner)]);
  }
  entries.sort(compareEntries);
  let encoded = '@Map(';
  for (let i = 0; i < entries.length; i++) {
    const [key, item] = entries[i]!;
    encoded += i > 0 ? `,${key}:${item}` : `${key}:${item}`;
  }
  return `${encoded})`;
}

function encodeSet(
  set: ReadonlySet<unknown>,
  depth: number,
  maxDepth: number,
  ancestors: object[] | undefined,
): string {
  const inner = ancestors ?? [];
  inner[depth] = set;
  const members: string[] = [];
  for (const member of set) members.push(encodeAt(member, depth + 1, maxDepth, inner));
  return `@Set(${members.sort().join(',')})`;
}

function compareEntries(a: readonly [string, string], b: readonly [string, string]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return 0;
}
