import type { FlightCache } from '../cache/flight-cache.js';

/**
 * Response keys. A stored response is one FlightCache entry under its operation's prefix and its
 * variables; it is tagged with the entities it holds, the coordinates of the fields with a policy it touched and the tags of
 * the field values it read, so `invalidate({ tags })` retires it with them (see ResponseCache).
 */

/**
 * Retires every cached response that touched one of `coordinates` (`Type.field`): the same as
 * `cache.invalidate({ tags: coordinates })`, which also retires the field cache's values of those
 * fields. Resolves as `invalidate` does (once Redis has acknowledged it, with Redis).
 */
export async function invalidateResponses(cache: FlightCache, coordinates: readonly string[]): Promise<void> {
  await cache.invalidate({ tags: coordinates });
}

/** The key of a response: the plan's prefix, then the variables (already encoded). */
export function responseKey(prefix: string, vars: string): string {
  // Variables last: they are the only part that may hold a separator.
  return `${prefix}${vars}`;
}
