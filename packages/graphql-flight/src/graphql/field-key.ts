import type { CacheKey, KeyPart } from '../cache/keys.js';

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

/** Default key parts: the parent's id (or '' for a root field) and the arguments, stably encoded. */
export function defaultKeyParts(parent: unknown, args: Record<string, unknown>): KeyPart[] {
  const id = typeof parent === 'object' && parent !== null ? (parent as { id?: unknown }).id : undefined;
  return [typeof id === 'string' || typeof id === 'number' ? id : '', stableStringify(args)];
}

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` give one string. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .map((key) => `${JSON.stringify(key)}:${stableStringify((value as Record<string, unknown>)[key])}`);
  return `{${entries.join(',')}}`;
}
