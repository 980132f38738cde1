/**
 * rememberMany across real processes: 4 children of tests/helpers/fleet.ts call rememberMany on
 * overlapping key lists at once, with a slow origin; batches take their leases key by key, so
 * each key reaches the origin once for the fleet (counted in Redis by every origin load).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  type BatchReport,
  Fleet,
  type LoadedValue,
  originCount,
  stopFleets,
  untilSubscribed,
} from '../helpers/fleet.js';
import { dropNamespace, REDIS_URL, redisSuiteEnabled, uniqueNamespace } from '../helpers/redis.js';

const enabled = await redisSuiteEnabled();

const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7'];
/** Worker i asks for 5 keys from k(2i) on: every key is asked for by 2 or 3 processes. */
const PER_WORKER = [0, 1, 2, 3].map((i) =>
  Array.from({ length: 5 }, (_, j) => KEYS[(2 * i + j) % KEYS.length]!),
);

describe.skipIf(!enabled)('batches across processes', () => {
  const namespaces: string[] = [];
  afterEach(async () => {
    await stopFleets();
    await Promise.all(namespaces.splice(0).map((namespace) => dropNamespace(namespace)));
  });

  it('loads each key once for 4 processes calling rememberMany on overlapping keys at once, and every process gets the same values', async () => {
    const namespace = uniqueNamespace('batch');
    namespaces.push(namespace);
    const fleet = await Fleet.start(4, { redisUrl: REDIS_URL, namespace, firstLoadMs: 300, loadMs: 300 });
    await untilSubscribed(REDIS_URL, namespace, 4);

    const reports = await fleet.batch('b', PER_WORKER, 10_000);

    expect(reports.flatMap((report) => report.unhandled)).toEqual([]);
    const results = reports.flatMap((report) => report.results);
    expect(results.filter((result) => 'error' in result)).toEqual([]);
    for (const key of KEYS) expect(await originCount(REDIS_URL, namespace, key), key).toBe(1);
    expect(await originCount(REDIS_URL, namespace)).toBe(KEYS.length);

    // Per key, every process that asked got the one value the fleet loaded (origin 1).
    const byKey = new Map<string, Set<string>>();
    for (const report of reports)
      for (const [i, key] of report.keys.entries()) {
        const seen = byKey.get(key) ?? new Set<string>();
        seen.add(JSON.stringify(report.results[i]));
        byKey.set(key, seen);
      }
    expect([...byKey.keys()].sort()).toEqual(KEYS);
    for (const [key, values] of byKey) {
      expect(values.size, key).toBe(1);
      expect(JSON.parse([...values][0]!) as LoadedValue, key).toMatchObject({ origin: 1, load: 1 });
    }

    // Each key was handed to a loader once in the fleet, and its lease won once.
    const loaded = reports.flatMap((report: BatchReport) => report.loadManyCalls.flat());
    expect(loaded.sort()).toEqual(KEYS);
    expect(reports.reduce((sum, report) => sum + report.fleet.leasesWon, 0)).toBe(KEYS.length);
    // The batches met: some process found a key leased by another and waited for it.
    expect(reports.reduce((sum, report) => sum + report.fleet.waits, 0)).toBeGreaterThan(0);
  });
});
