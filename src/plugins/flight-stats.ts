import { createHmac } from 'node:crypto';
import type { CacheStats } from 'graphql-flight';
import type { OperationStats } from 'graphql-flight/graphql';

/** What the `flightStats` field shows: figures and key fingerprints, never raw keys. */
export interface FlightStatsSnapshot {
  inFlight: Array<{ fingerprint: string; waiters: number; ageMs: number }>;
  started: number;
  coalesced: number;
  hits: number;
  misses: number;
  loads: number;
  errors: number;
  timeouts: number;
  /** hits / (hits + misses), 0 before the first call. */
  hitRatio: number;
  /** Stale serving and background refreshes (issue 13), as `stats()` counts them. */
  staleHits: number;
  refreshes: number;
  earlyRefreshes: number;
  refreshFailures: number;
  staleIfErrorServes: number;
  store: { kind: string; healthy: boolean; breaker: string; errors: number };
  /** The fleet-wide flight over Redis (all zero and `enabled: false` without Redis). */
  fleet: CacheStats['fleet'];
  /** Invalidations sent to Redis, failed (still re-sent) and queued now. */
  invalidations: CacheStats['invalidations'];
  queries: Array<{ statement: string; count: number }>;
  /** Operation coalescing and the response cache (all zero when the server has neither). */
  operations: OperationStats;
}

/**
 * Keys can carry user ids (a PRIVATE field's key holds its viewer), so operators see an HMAC of
 * each key under a per-server secret: stable while the server runs, useless for guessing ids.
 */
export function keyFingerprint(secret: Uint8Array, key: string): string {
  return createHmac('sha256', secret).update(key).digest('hex').slice(0, 16);
}

export function flightStatsSnapshot(
  stats: CacheStats,
  queryCounts: Record<string, number>,
  secret: Uint8Array,
  operations: OperationStats = {
    started: 0,
    joined: 0,
    hits: 0,
    stale: 0,
    refreshes: 0,
    stored: 0,
    notModified: 0,
    frontDoor: 0,
  },
): FlightStatsSnapshot {
  const lookups = stats.hits + stats.misses;
  return {
    inFlight: stats.flights.flights.map((flight) => ({
      fingerprint: keyFingerprint(secret, flight.key),
      waiters: flight.waiters,
      ageMs: flight.ageMs,
    })),
    started: stats.flights.started,
    coalesced: stats.coalesced,
    hits: stats.hits,
    misses: stats.misses,
    loads: stats.loads,
    errors: stats.errors,
    timeouts: stats.flights.timedOut,
    hitRatio: lookups === 0 ? 0 : stats.hits / lookups,
    staleHits: stats.staleHits,
    refreshes: stats.refreshes,
    earlyRefreshes: stats.earlyRefreshes,
    refreshFailures: stats.refreshFailures,
    staleIfErrorServes: stats.staleIfErrorServes,
    store: {
      kind: stats.store.kind,
      healthy: stats.store.breaker === 'closed',
      breaker: stats.store.breaker,
      errors: stats.storeErrors,
    },
    fleet: stats.fleet,
    invalidations: stats.invalidations,
    queries: Object.entries(queryCounts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([statement, count]) => ({ statement, count })),
    operations,
  };
}
