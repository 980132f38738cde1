import { randomBytes } from 'node:crypto';
import type { FlightCache } from '../cache/flight-cache.js';

/**
 * Response keys and generations. Each field coordinate with a policy has a generation in the
 * FlightCache; a response's key carries the generations of the fields it touched, so retiring
 * one generation (a delete, which reaches every process like any delete) retires every
 * response that touched the field.
 */

/** What a response key is built from (an operation's plan). */
export interface KeyedOperation {
  /** Start of every response key of the operation. */
  prefix: string;
  /** Generation keys of the fields it touches. */
  generationKeys: readonly string[];
}

/** A generation lives a day unless a mutation retires it first; a lost one only costs misses. */
const GENERATION = { ttlMs: 24 * 60 * 60 * 1_000 };

/**
 * Retires every cached response that touched one of `coordinates` (`Type.field`, the fields with
 * a cache policy), in this process at once and, with Redis, in every process of the fleet (within
 * the cache's `localTtlMs`). Call it, with the field deletes, before a mutation answers.
 */
export async function invalidateResponses(cache: FlightCache, coordinates: readonly string[]): Promise<void> {
  await Promise.all(coordinates.map((coordinate) => cache.delete(generationKey(coordinate))));
}

/** A coordinate is a pair of GraphQL names, so the key needs no escaping (see encodeKey). */
export function generationKey(coordinate: string): string {
  return `response-generation:${coordinate}`;
}

/**
 * The key of a response: the plan's prefix, the current generation of each field it touches, and
 * the variables (already encoded). Synchronous when every generation is in the memory tier.
 */
export function responseKey(
  cache: FlightCache,
  plan: KeyedOperation,
  vars: string,
): string | Promise<string> {
  let generations = '';
  for (const key of plan.generationKeys) {
    const generation = cache.peek<string>(key);
    if (generation === undefined) {
      return Promise.all(
        plan.generationKeys.map((key) => cache.remember(key, newGeneration, GENERATION)),
      ).then((all) => keyOf(plan, all.join(','), vars));
    }
    generations = generations === '' ? generation : `${generations},${generation}`;
  }
  return keyOf(plan, generations, vars);
}

function keyOf(plan: KeyedOperation, generations: string, vars: string): string {
  // Variables last: they are the only part that may hold a separator.
  return `${plan.prefix}${generations}:${vars}`;
}

function newGeneration(): Promise<string> {
  return Promise.resolve(randomBytes(6).toString('base64url'));
}
