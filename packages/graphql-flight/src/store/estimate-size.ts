/**
 * Byte estimates of what V8 holds, for the memory tier's `maxBytes` (issue 12). The figures are
 * V8's on 64-bit Node as it ships (no pointer compression: 8-byte slots), measured as heap used
 * after a full GC: a string is a 16-byte header and 1 byte per character when V8 keeps it one-byte
 * (Latin-1), 2 when it keeps it two-byte; an object a 24-byte header and a slot per property; an
 * array a 48-byte header and a slot per element; sizes rounded up to 8 bytes.
 */

const SLOT = 8;
const STRING_HEADER = 16;
/** A plain object: its map, properties and elements pointers. */
const OBJECT_HEADER = 24;
/** A JSArray (32) and the header of its backing store (16). */
export const ARRAY_HEADER = 48;
/** A number V8 cannot keep inline as a small integer (a fraction, or beyond 32 bits). */
const HEAP_NUMBER = 16;
/** A Map or Set object and the header of its hash table. */
const COLLECTION_HEADER = 80;
/** One entry of a Map's table (key, value, chain) with its bucket, at V8's load factor. */
const MAP_ENTRY = 40;
/** One entry of a Set's table (key, chain) with its bucket. */
const SET_ENTRY = 32;
/** Past this many properties V8 keeps an object as a dictionary: key, value, details per entry. */
const DICTIONARY_AT = 128;
const DICTIONARY_ENTRY = 40;
/** A Date (its fields and its time value). */
const DATE = 128;
/** A RegExp, a Promise, a function: not walked (its closure or state is not seen). */
const OPAQUE_OBJECT = 64;
/** A typed array or DataView, besides the bytes it views (kept outside the heap, still in RSS). */
const VIEW_HEADER = 96;
/** The slots (elements, properties, entries) one estimate reads at most: a time bound. */
export const MAX_ESTIMATE_STEPS = 100_000;

/** A code unit V8 cannot keep in a one-byte string. On a one-byte string the test takes constant time. */
const TWO_BYTE = /[\u0100-\uffff]/;

/** The bytes V8 holds for a flat string: its header, and 1 or 2 bytes per UTF-16 unit. */
export function stringBytes(s: string): number {
  return align(STRING_HEADER + (TWO_BYTE.test(s) ? 2 * s.length : s.length));
}

/**
 * A value's size in bytes, as the memory tier counts it by default: what the value holds, walked
 * (strings by their characters, one or two bytes each; numbers that are not small integers;
 * plain objects and class instances by their enumerable properties; arrays, Maps, Sets and typed
 * arrays by their contents), each object counted once. Bounded: past MAX_ESTIMATE_STEPS slots, or
 * when reading the value throws (a getter), the value counts as infinitely large, so the memory
 * tier does not keep it (a caller that caches such values passes its own `sizeOf`). Private class
 * fields and closures are not seen: they count a nominal 64 bytes.
 *
 * Objects shared with other entries are counted in each (an over-estimate, never an under-one).
 */
export function estimateSize(value: unknown): number {
  if (typeof value === 'string') return stringBytes(value);
  if (typeof value !== 'object' || value === null) return primitiveBytes(value);
  try {
    return walk(value);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function walk(root: object): number {
  let seen: Set<object> | undefined;
  let objects = 0;
  const stack: unknown[] = [root];
  let bytes = 0;
  let steps = 0;
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') {
      bytes += stringBytes(value);
      continue;
    }
    if (typeof value !== 'object' || value === null) {
      bytes += primitiveBytes(value);
      continue;
    }
    // Each object is counted once; the root needs no Set, so a flat value (a row) allocates none.
    if (objects++ > 0) {
      seen ??= new Set([root]);
      if (seen.has(value)) continue;
      seen.add(value);
    }
    if (Array.isArray(value)) {
      const length = value.length;
      steps += length;
      if (steps > MAX_ESTIMATE_STEPS) return Number.POSITIVE_INFINITY;
      bytes += ARRAY_HEADER + SLOT * length;
      for (let i = 0; i < length; i++) stack.push(value[i]);
    } else if (ArrayBuffer.isView(value)) {
      bytes += VIEW_HEADER + value.byteLength;
    } else if (value instanceof ArrayBuffer) {
      bytes += VIEW_HEADER + value.byteLength;
    } else if (value instanceof Map) {
      steps += 2 * value.size;
      if (steps > MAX_ESTIMATE_STEPS) return Number.POSITIVE_INFINITY;
      bytes += COLLECTION_HEADER + MAP_ENTRY * value.size;
      for (const [key, entry] of value) stack.push(key, entry);
    } else if (value instanceof Set) {
      steps += value.size;
      if (steps > MAX_ESTIMATE_STEPS) return Number.POSITIVE_INFINITY;
      bytes += COLLECTION_HEADER + SET_ENTRY * value.size;
      for (const entry of value) stack.push(entry);
    } else if (value instanceof Date) {
      bytes += DATE;
    } else if (value instanceof RegExp || value instanceof Promise) {
      bytes += OPAQUE_OBJECT;
    } else {
      // Own and inherited enumerable properties (inherited ones over-count, never under-count).
      let count = 0;
      for (const key in value) {
        if (++steps > MAX_ESTIMATE_STEPS) return Number.POSITIVE_INFINITY;
        stack.push((value as Record<string, unknown>)[key]);
        count++;
      }
      bytes += OBJECT_HEADER + (count > DICTIONARY_AT ? DICTIONARY_ENTRY : SLOT) * count;
    }
  }
  return bytes;
}

/** A primitive's own bytes, beyond the slot that holds it (booleans, null, undefined: none). */
function primitiveBytes(value: unknown): number {
  switch (typeof value) {
    case 'number':
      return Number.isInteger(value) && value >= -0x8000_0000 && value <= 0x7fff_ffff ? 0 : HEAP_NUMBER;
    case 'bigint':
      return HEAP_NUMBER + SLOT * Math.ceil(value.toString(16).length / 16);
    case 'function':
      return OPAQUE_OBJECT;
    default:
      return 0;
  }
}

function align(bytes: number): number {
  return Math.ceil(bytes / SLOT) * SLOT;
}
