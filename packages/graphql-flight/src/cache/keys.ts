import { createHash } from 'node:crypto';
import { InvalidKeyError } from '../errors.js';

/** One part of a key: strings and finite numbers (`1` and `'1'` are different parts). */
export type KeyPart = string | number;
/**
 * A key is one part (a string or a number), a non-empty list of parts, or an EncodedKey built from
 * parts; `'a'` is the same key as `['a']`, and an EncodedKey is the same key as its parts.
 */
export type CacheKey = KeyPart | readonly KeyPart[] | EncodedKey;

/** Encoded keys longer than this are replaced by a hash of the whole encoding (never truncated). */
export const MAX_KEY_LENGTH = 200;

// A string part needs work when it holds the escape character, the separator, or a UTF-16
// surrogate (a lone one would collide with another after UTF-8 encoding in a shared store).
const NEEDS_WORK = /[\\|\uD800-\uDFFF]/;
const ESCAPES = /[\\|]/g;

/**
 * Encodes a key to the string every tier uses (memory tier, flight map, store).
 *
 * The encoding is injective: parts are joined by `|`; in a string part `\` and `|` are escaped
 * with `\`; a number part is `\d` followed by its decimal form; an encoding longer than
 * MAX_KEY_LENGTH becomes `\h` followed by the SHA-256 of the encoding. A backslash in a string part
 * is always followed by `\` or `|`, so `\d` and `\h` cannot come from a string part, and decoding
 * is unambiguous: `['a:b','c']` and `['a','b:c']` stay apart, and so do `['a|b']` and `['a','b']`.
 *
 * The common case, a short plain string, comes back as itself without allocating; an EncodedKey
 * comes back as its `encoded`, which is this encoding of the parts it was built from.
 */
export function encodeKey(key: CacheKey): string {
  if (typeof key === 'string') {
    if (key.length <= MAX_KEY_LENGTH && !NEEDS_WORK.test(key)) return key;
    return bound(encodeString(key));
  }
  if (typeof key === 'number') {
    // The same encoding as the one-part list [key], without building the list.
    if (!Number.isFinite(key))
      throw new InvalidKeyError(`key part 0 must be a string or a finite number; received ${key}`);
    return `\\d${key === 0 ? 0 : key}`;
  }
  if (key instanceof EncodedKey) return key.encoded;
  if (!Array.isArray(key) || key.length === 0) {
    throw new InvalidKeyError(
      'a cache key must be a string, a number, or a non-empty array of strings and numbers',
    );
  }
  return bound(joinParts(key, 0));
}

// Only this module holds the token, so every EncodedKey carries an encoding made by encodeKey's
// rules (bound() applied), and injectivity holds across the three forms of a key.
const TRUSTED: unique symbol = Symbol('EncodedKey');

/**
 * A key encoded once, for a caller that uses it many times (or builds many keys on one prefix,
 * with KeyPrefix). FlightCache and encodeKey take it as it is, without encoding it again; it
 * names the same entry as the parts it was built from.
 */
export class EncodedKey {
  /** The key's encoding: what encodeKey gives for its parts. */
  readonly encoded: string;

  /** Not callable from outside this module: use EncodedKey.of or KeyPrefix. */
  constructor(token: typeof TRUSTED, encoded: string) {
    if (token !== TRUSTED)
      throw new InvalidKeyError('an EncodedKey is built by EncodedKey.of or a KeyPrefix');
    this.encoded = encoded;
  }

  /** `key` encoded once; throws InvalidKeyError where encodeKey would. */
  static of(key: CacheKey): EncodedKey {
    return key instanceof EncodedKey ? key : new EncodedKey(TRUSTED, encodeKey(key));
  }
}

/**
 * The leading parts of a family of keys, encoded once: `prefix.key(parts)` is the key
 * `[...prefix, ...parts]` as an EncodedKey, for the cost of encoding `parts` only. Errors name a
 * part by its index in the whole list, as encodeKey does.
 */
export class KeyPrefix {
  readonly #encoded: string;
  readonly #length: number;

  /** Throws InvalidKeyError for an empty list or a part encodeKey would reject. */
  constructor(parts: readonly KeyPart[]) {
    if (!Array.isArray(parts) || parts.length === 0) {
      throw new InvalidKeyError('a key prefix must be a non-empty array of strings and numbers');
    }
    this.#encoded = joinParts(parts, 0);
    this.#length = parts.length;
  }

  /** The key `[...prefix, ...parts]`. */
  key(parts: readonly KeyPart[]): EncodedKey {
    if (parts.length === 0) return new EncodedKey(TRUSTED, bound(this.#encoded));
    return new EncodedKey(TRUSTED, bound(`${this.#encoded}|${joinParts(parts, this.#length)}`));
  }

  /** The key `[...prefix, part, ...parts]`, without building that list. */
  keyWith(part: KeyPart, parts: readonly KeyPart[]): EncodedKey {
    let encoded = `${this.#encoded}|${encodePart(part, this.#length)}`;
    if (parts.length > 0) encoded += `|${joinParts(parts, this.#length + 1)}`;
    return new EncodedKey(TRUSTED, bound(encoded));
  }
}

/** The parts joined by `|`, unbounded; `first` is the index of `parts[0]` in the whole key. */
function joinParts(parts: readonly unknown[], first: number): string {
  let encoded = encodePart(parts[0], first);
  for (let i = 1; i < parts.length; i++) encoded += `|${encodePart(parts[i], first + i)}`;
  return encoded;
}

function encodePart(part: unknown, index: number): string {
  if (typeof part === 'string') return NEEDS_WORK.test(part) ? encodeString(part) : part;
  if (typeof part === 'number' && Number.isFinite(part)) return `\\d${part === 0 ? 0 : part}`;
  throw new InvalidKeyError(
    `key part ${index} must be a string or a finite number; received ${typeOf(part)}`,
  );
}

function encodeString(part: string): string {
  if (!part.isWellFormed()) throw new InvalidKeyError('a key part contains a lone UTF-16 surrogate');
  return part.replace(ESCAPES, '\\$&');
}

function bound(encoded: string): string {
  if (encoded.length <= MAX_KEY_LENGTH) return encoded;
  return `\\h${createHash('sha256').update(encoded).digest('base64url')}`;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return String(value);
  return typeof value;
}
