import { createHash } from 'node:crypto';
import { InvalidKeyError } from '../errors.js';

/** One part of a key: strings and finite numbers (`1` and `'1'` are different parts). */
export type KeyPart = string | number;
/** A key is one part (a string or a number) or a non-empty list of parts; `'a'` is the same key as `['a']`. */
export type CacheKey = KeyPart | readonly KeyPart[];

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
 * The common case, a short plain string, comes back as itself without allocating.
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
  if (!Array.isArray(key) || key.length === 0) {
    throw new InvalidKeyError(
      'a cache key must be a string, a number, or a non-empty array of strings and numbers',
    );
  }
  let encoded = '';
  for (let i = 0; i < key.length; i++) {
    const part: unknown = key[i];
    if (i > 0) encoded += '|';
    if (typeof part === 'string') encoded += NEEDS_WORK.test(part) ? encodeString(part) : part;
    else if (typeof part === 'number' && Number.isFinite(part)) encoded += `\\d${part === 0 ? 0 : part}`;
    else
      throw new InvalidKeyError(
        `key part ${i} must be a string or a finite number; received ${typeOf(part)}`,
      );
  }
  return bound(encoded);
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
