import { encodeValue } from '../cache/encode-value.js';
import { type CacheKey, type EncodedKey, KeyPrefix, type KeyPart } from '../cache/keys.js';

/** The argument encoding of a field called without arguments: `encodeValue({})`, shared. */
export const NO_ARGUMENTS = '{}';

/**
 * The cache key of one result of a field. `viewer` is null for PUBLIC entries; the `public` /
 * `viewer` marker keeps a public entry and a viewer's entry of the same field apart whatever the
 * other parts are.
 */
export function fieldCacheKey(
  coordinate: string,
  viewer: string | number | null,
  parts: readonly KeyPart[],
): CacheKey {
  return viewer === null
    ? ['field', coordinate, 'public', ...parts]
    : ['field', coordinate, 'viewer', viewer, ...parts];
}

/** Builds one field's keys; see fieldKeyEncoder. */
export type FieldKeyEncoder = (viewer: string | number | null, parts: readonly KeyPart[]) => EncodedKey;

/**
 * The keys of the field at `coordinate`, with the parts every key of the field shares encoded
 * once (call this once per field, when the resolver is wrapped). `encoder(viewer, parts)` is the
 * same entry as `fieldCacheKey(coordinate, viewer, parts)`: both encode to one string, so keys
 * built with fieldCacheKey (for invalidation) reach entries stored under these. A bad part throws
 * the InvalidKeyError encodeKey would throw for that list.
 */
export function fieldKeyEncoder(coordinate: string): FieldKeyEncoder {
  const publicKeys = new KeyPrefix(['field', coordinate, 'public']);
  const viewerKeys = new KeyPrefix(['field', coordinate, 'viewer']);
  return (viewer, parts) => (viewer === null ? publicKeys.key(parts) : viewerKeys.keyWith(viewer, parts));
}

/**
 * Default key parts: the parent's id (or '' for a root field) and the arguments as encodeValue
 * gives them (NO_ARGUMENTS, without encoding, when `args` has no own properties). Throws what
 * encodeValue throws.
 */
export function defaultKeyParts(parent: unknown, args: Record<string, unknown>): KeyPart[] {
  const id = typeof parent === 'object' && parent !== null ? (parent as { id?: unknown }).id : undefined;
  return [typeof id === 'string' || typeof id === 'number' ? id : '', argumentsKeyPart(args)];
}

/** The key part of a field's arguments: encodeValue's, or NO_ARGUMENTS, without encoding, for none. */
export function argumentsKeyPart(args: Record<string, unknown>): string {
  return hasOwnProperties(args) ? encodeValue(args) : NO_ARGUMENTS;
}

function hasOwnProperties(object: object): boolean {
  for (const key in object) if (Object.hasOwn(object, key)) return true;
  return false;
}
