/**
 * The fleet protocol across real processes (issue #5): several Node children (tests/fleet/worker.ts)
 * share one Redis, each with its own FlightCache, and every origin load counts itself in Redis.
 * Each test bounds its time and counts, and fails without the mechanism it names: the lease (one
 * origin call), takeover on lease expiry, the heartbeat, the fill's lease and epoch checks, the
 * store deadline and fallback, polling behind pub/sub, and the failure message.
 *
 * Tests that kill, freeze or restart Redis, or kill its pub/sub clients, start a redis-server of
 * their own; the others use the machine's Redis with a namespace each.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createCache } from '../../src/index.js';
import {
  distinctValues,
  Fleet,
  type FleetWorker,
  type LoadedValue,
  leaderPid,
  originCount,
  type Report,
  stopFleets,
  storedValue,
  sumOf,
  tally,
  untilSubscribed,
  type WorkerConfig,
} from '../helpers/fleet.js';
import {
  dropNamespace,
  eventually,
  layoutOf,
  type OwnRedis,
  rawClient,
  REDIS_URL,
  redisSuiteEnabled,
  startRedis,
  uniqueNamespace,
} from '../helpers/redis.js';

const enabled = await redisSuiteEnabled();

/** Scheduling allowance for 3 or 4 processes, vitest and other suites on a 2-core machine. */
const SLACK_MS = 1_000;
/** The cache's default longest poll delay: a waiter may sleep this long before it looks again. */
const POLL_MAX_MS = 400;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Nothing rejected and nothing went unhandled in any process. */
function expectClean(reports: readonly Report[]): void {
  expect(reports.flatMap((report) => report.errors)).toEqual([]);
  expect(reports.flatMap((report) => report.unhandled)).toEqual([]);
}

/** After a fault: once every process is subscribed again, a new cold key reaches the origin once. */
async function expectCoalescingAgain(fleet: Fleet, url: string, namespace: string): Promise<void> {
  const processes = fleet.workers.length;
  await fleet.settle();
  await untilSubscribed(url, namespace, processes, 3_000);
  const next = await fleet.round('k2', 20, 5_000);
  expect(await originCount(url, namespace, 'k2')).toBe(1);
  expect(tally(next)).toEqual({ resolved: processes * 20, rejected: 0 });
  expect(distinctValues(next)).toEqual([expect.objectContaining({ origin: 1 })]);
  expectClean(next);
}

describe.skipIf(!enabled)('fleet of processes on the shared Redis', () => {
  const namespaces: string[] = [];
  const open = (label: string) => {
    const namespace = uniqueNamespace(`fleet-${label}`);
    namespaces.push(namespace);
    return namespace;
  };
  afterEach(async () => {
    await stopFleets();
    await Promise.all(namespaces.splice(0).map((namespace) => dropNamespace(namespace)));
  });

  it('sends a cold key to the origin once for 4 processes x 250 callers, and every caller gets that value', async () => {
    const namespace = open('cold');
    const fleet = await Fleet.start(4, { redisUrl: REDIS_URL, namespace, firstLoadMs: 100, loadMs: 100 });
    await untilSubscribed(REDIS_URL, namespace, 4);

    const reports = await fleet.round('cold', 250);

    expect(await originCount(REDIS_URL, namespace, 'cold')).toBe(1);
    expect(tally(reports)).toEqual({ resolved: 1_000, rejected: 0 });
    expect(distinctValues(reports)).toEqual([expect.objectContaining({ origin: 1, load: 1 })]);
    expect(reports.map((report) => report.loads).sort()).toEqual([0, 0, 0, 1]);
    expect(sumOf(reports, 'leasesWon')).toBe(1);
    expectClean(reports);
  });

  it('lets a waiter take over when the leader is SIGKILLed mid-load: the others settle within lease + load + slack, 2 origin calls', async () => {
    const namespace = open('killed');
    const leaseTtlMs = 300;
    const loadMs = 100;
    const fleet = await Fleet.start(3, {
      redisUrl: REDIS_URL,
      namespace,
      leaseTtlMs,
      firstLoadMs: 10_000,
      loadMs,
    });
    await untilSubscribed(REDIS_URL, namespace, 3);

    await fleet.go('k', 20);
    const leader = await leaderPid(REDIS_URL, namespace, 'k');
    expect((await fleet.load('k', 5_000, 1)).pid).toBe(leader);
    const killedAt = performance.now();
    await fleet.worker(leader).kill();

    // Without takeover on lease expiry the waiters would wait out their 10 s flight deadline.
    const bound = leaseTtlMs + POLL_MAX_MS + loadMs + SLACK_MS;
    const survivors = fleet.workers.filter((worker) => worker.pid !== leader);
    const done = await fleet.reports('k', bound + 2_000, survivors);
    for (const { at } of done) expect(at - killedAt).toBeLessThan(bound);
    const reports = done.map((entry) => entry.report);
    expect(await originCount(REDIS_URL, namespace, 'k')).toBe(2);
    expect(tally(reports)).toEqual({ resolved: 40, rejected: 0 });
    const [successor] = distinctValues(reports);
    expect(distinctValues(reports)).toEqual([{ pid: successor?.pid, origin: 2, load: 1 }]);
    expect(successor?.pid).not.toBe(leader);
    expect(sumOf(reports, 'takeovers')).toBe(1);
    expectClean(reports);
  });

  it('holds the lease through a load slower than 3 lease TTLs by its heartbeat (1 origin call); without the heartbeat it lapses', async () => {
    const leaseTtlMs = 300;
    const loadMs = 1_000;
    const held = open('heartbeat');
    const config: WorkerConfig = {
      redisUrl: REDIS_URL,
      namespace: held,
      leaseTtlMs,
      firstLoadMs: loadMs,
      loadMs,
    };
    const fleet = await Fleet.start(3, config);
    await untilSubscribed(REDIS_URL, held, 3);

    const withHeartbeat = await fleet.round('slow', 10);
    expect(await originCount(REDIS_URL, held, 'slow')).toBe(1);
    expect(distinctValues(withHeartbeat)).toEqual([expect.objectContaining({ origin: 1 })]);
    expect(sumOf(withHeartbeat, 'takeovers')).toBe(0);
    expectClean(withHeartbeat);

    // The same setup with the heartbeat off: the lease expires mid-load and a waiter takes over.
    const lapsed = open('no-heartbeat');
    await fleet.configure({ ...config, namespace: lapsed, heartbeat: false });
    await untilSubscribed(REDIS_URL, lapsed, 3);
    const withoutHeartbeat = await fleet.round('slow', 10);
    expect(await originCount(REDIS_URL, lapsed, 'slow')).toBeGreaterThan(1);
    expect(sumOf(withoutHeartbeat, 'takeovers')).toBeGreaterThan(0);
    expect(tally(withoutHeartbeat)).toEqual({ resolved: 30, rejected: 0 });
  });

  it("refuses the fill of a leader paused past its lease after a successor filled; Redis keeps the successor's value", async () => {
    const namespace = open('paused');
    const leaseTtlMs = 300;
    const firstLoadMs = 250;
    const fleet = await Fleet.start(3, {
      redisUrl: REDIS_URL,
      namespace,
      leaseTtlMs,
      firstLoadMs,
      loadMs: 100,
    });
    await untilSubscribed(REDIS_URL, namespace, 3);

    await fleet.go('k', 20);
    const leader = await leaderPid(REDIS_URL, namespace, 'k');
    const first = await fleet.load('k', 5_000, 1);
    const loadStartedAt = performance.now();
    expect(first.pid).toBe(leader);
    const old = fleet.worker(leader);
    old.signal('SIGSTOP');
    let successor: LoadedValue | undefined;
    try {
      // Frozen, it extends nothing: its lease expires, a waiter elsewhere takes over and fills.
      await eventually(async () => {
        successor = await storedValue(REDIS_URL, namespace, 'k');
        return successor !== undefined;
      }, 5_000);
      expect(successor).toMatchObject({ origin: 2 });
      expect(successor?.pid).not.toBe(leader);
      // Resume it only once its load's timer is overdue, so on SIGCONT its fill goes out at once.
      await sleep(Math.max(0, loadStartedAt + firstLoadMs - performance.now()));
    } finally {
      old.signal('SIGCONT');
    }

    const reports = (await fleet.reports('k', 5_000)).map((entry) => entry.report);
    const others = reports.filter((report) => report.pid !== leader);
    expect(distinctValues(others)).toEqual([successor]);
    // The fill may be answered after the old leader's callers settle: look until it is counted.
    await eventually(async () => (await old.peek()).fleet.fillsRefused >= 1, 2_000).catch(() => {});
    expect((await old.peek()).fleet.fillsRefused).toBe(1);
    expect(await storedValue(REDIS_URL, namespace, 'k')).toEqual(successor);
    expect(await originCount(REDIS_URL, namespace, 'k')).toBe(2);
    expectClean(reports);
  });

  it('does not store a load that a delete overtook, and the next read in any process loads a new value once', async () => {
    const namespace = open('deleted');
    const fleet = await Fleet.start(2, { redisUrl: REDIS_URL, namespace, firstLoadMs: 400, loadMs: 50 });
    const [a, b] = fleet.workers as [FleetWorker, FleetWorker];
    await untilSubscribed(REDIS_URL, namespace, 2);

    await fleet.go('k', 10, [a]);
    await fleet.load('k', 5_000, 1);
    const admin = createCache({ redisUrl: REDIS_URL, namespace });
    try {
      await admin.delete('k');
    } finally {
      await admin.close();
    }

    const [loaded] = await fleet.reports('k', 5_000, [a]);
    // Its callers asked before the delete and still get the load's value...
    expect(distinctValues([loaded!.report])).toEqual([{ pid: a.pid, origin: 1, load: 1 }]);
    // ...but it is not stored: refused by Redis (epoch), or not sent after the delete's message.
    expect(await storedValue(REDIS_URL, namespace, 'k')).toBeUndefined();

    // The next read, in either process, loads anew, once for both; nobody serves the old value.
    const next = await fleet.round('k', 10, 5_000);
    expect(await originCount(REDIS_URL, namespace, 'k')).toBe(2);
    expect(distinctValues(next)).toEqual([expect.objectContaining({ origin: 2 })]);
    expect(next.map((report) => report.pid).sort()).toEqual([a.pid, b.pid].sort());
    expectClean([loaded!.report, ...next]);
  });

  it('refuses in Redis the fill of a load an invalidation overtook, even when its message never reached the loader, and loads again', async () => {
    const namespace = open('epoch');
    const fleet = await Fleet.start(2, { redisUrl: REDIS_URL, namespace, firstLoadMs: 400, loadMs: 50 });
    const [a, b] = fleet.workers as [FleetWorker, FleetWorker];

    await fleet.go('k', 10, [a]);
    await fleet.load('k', 5_000, 1);
    // What invalidate() does in Redis, without its pub/sub message: only the fence can stop the fill.
    const client = await rawClient();
    const layout = layoutOf(namespace, 'k');
    try {
      const seq = await client.incr(`${namespace}:{seq}`);
      await client
        .multi()
        .set(layout.fence, String(seq), { PX: 60_000 })
        .del([layout.value, layout.lease])
        .exec();
    } finally {
      client.destroy();
    }

    // Redis refused the first load's fill, so the leader loaded again: no caller gets a value
    // Redis knows was overtaken, and the one stored is the second load's.
    const [loaded] = await fleet.reports('k', 5_000, [a]);
    expect(distinctValues([loaded!.report])).toEqual([{ pid: a.pid, origin: 2, load: 2 }]);
    expect((await a.peek()).fleet.fillsRefused).toBe(1);
    expect(await storedValue(REDIS_URL, namespace, 'k')).toEqual({ pid: a.pid, origin: 2, load: 2 });

    // Another process reads it from Redis.
    await fleet.go('k', 10, [b]);
    const [next] = await fleet.reports('k', 5_000, [b]);
    expect(await originCount(REDIS_URL, namespace, 'k')).toBe(2);
    expect(distinctValues([next!.report])).toEqual([{ pid: a.pid, origin: 2, load: 2 }]);
    expectClean([loaded!.report, next!.report]);
  });

  it("rejects the waiters of every process promptly with E_LOAD_FAILED when the leader's load rejects; caches nothing; the next call loads again", async () => {
    const namespace = open('failed');
    const leaseTtlMs = 3_000;
    const firstLoadMs = 200;
    const fleet = await Fleet.start(3, {
      redisUrl: REDIS_URL,
      namespace,
      leaseTtlMs,
      firstLoadMs,
      loadMs: 50,
      failFirst: true,
    });
    await untilSubscribed(REDIS_URL, namespace, 3);

    await fleet.go('k', 20);
    const leader = (await fleet.load('k', 5_000, 1)).pid;
    const reports = (await fleet.reports('k', 5_000)).map((entry) => entry.report);
    expect(tally(reports)).toEqual({ resolved: 0, rejected: 60 });
    const waiters = reports.filter((report) => report.pid !== leader);
    expect(waiters).toHaveLength(2);
    for (const report of waiters) {
      expect(report.errors.map((error) => error.code)).toEqual(['E_LOAD_FAILED']);
      // Well before the lease would have expired (a waiter polling its way to the end would load).
      expect(report.waits.max).toBeLessThan(firstLoadMs + SLACK_MS);
    }
    expect(await originCount(REDIS_URL, namespace, 'k')).toBe(1);
    expect(await storedValue(REDIS_URL, namespace, 'k')).toBeUndefined();
    expect(reports.flatMap((report) => report.unhandled)).toEqual([]);

    const next = await fleet.round('k', 20, 5_000);
    expect(await originCount(REDIS_URL, namespace, 'k')).toBe(2);
    expect(tally(next)).toEqual({ resolved: 60, rejected: 0 });
    expect(distinctValues(next)).toEqual([expect.objectContaining({ origin: 2 })]);
    expectClean(next);
  });
});

describe.skipIf(!enabled)('fleet of processes when its Redis fails', () => {
  let redis: OwnRedis | undefined;
  afterEach(async () => {
    await stopFleets();
    await redis?.kill();
    redis = undefined;
  });

  it('settles every waiter when Redis is killed and restarted mid-flight, and the next cold key reaches the origin once', async () => {
    const own = await startRedis();
    redis = own;
    const namespace = uniqueNamespace('fleet-restart');
    const fleet = await Fleet.start(3, {
      redisUrl: own.url,
      namespace,
      leaseTtlMs: 300,
      firstLoadMs: 600,
      loadMs: 100,
      storeTimeoutMs: 100,
      breakerCooldownMs: 200,
      counterTimeoutMs: 100,
    });
    await untilSubscribed(own.url, namespace, 3);

    await fleet.go('k', 20);
    await fleet.load('k', 5_000, 1);
    await own.restart(); // no persistence: lease, counters and epoch are gone
    const restartedAt = performance.now();
    // A waiter left hanging would wait out its 10 s flight deadline.
    const bound = 4_000;
    const done = await fleet.reports('k', bound + 2_000);
    for (const { at } of done) expect(at - restartedAt).toBeLessThan(bound);
    const reports = done.map((entry) => entry.report);
    const { resolved, rejected } = tally(reports);
    expect(resolved + rejected).toBe(60);
    expect(reports.flatMap((report) => report.unhandled)).toEqual([]);

    await expectCoalescingAgain(fleet, own.url, namespace);
  });

  it('answers within the store deadline plus the load while Redis is frozen, each process loading once itself, and coalesces again after SIGCONT', async () => {
    const own = await startRedis();
    redis = own;
    const namespace = uniqueNamespace('fleet-frozen');
    const storeTimeoutMs = 100;
    const loadMs = 100;
    const counterTimeoutMs = 30;
    const fleet = await Fleet.start(3, {
      redisUrl: own.url,
      namespace,
      firstLoadMs: loadMs,
      loadMs,
      storeTimeoutMs,
      breakerCooldownMs: 200,
      counterTimeoutMs,
    });
    await untilSubscribed(own.url, namespace, 3);

    own.pause();
    let frozen: Report[];
    try {
      frozen = await fleet.round('k', 20, 5_000);
    } finally {
      own.resume();
    }
    // Below the cache's 1 s socket timeout: only the per-call store deadline meets this bound.
    const bound = storeTimeoutMs + counterTimeoutMs + loadMs + 500;
    for (const report of frozen) {
      expect(report.waits.max).toBeLessThan(bound);
      expect(report.loads).toBe(1);
      // The counter could not answer either: origin unknown, the value is this process's own load.
      expect(distinctValues([report])).toEqual([{ pid: report.pid, origin: null, load: 1 }]);
      expect(report.fleet.fallbacks).toBeGreaterThan(0);
    }
    expectClean(frozen);

    await expectCoalescingAgain(fleet, own.url, namespace);
  });

  it('finishes every waiter by polling when the pub/sub connections are killed while they wait, with 1 origin call', async () => {
    const own = await startRedis();
    redis = own;
    const namespace = uniqueNamespace('fleet-wakeup');
    const firstLoadMs = 300;
    const fleet = await Fleet.start(3, { redisUrl: own.url, namespace, firstLoadMs, loadMs: 100 });
    await untilSubscribed(own.url, namespace, 3);

    const admin = await rawClient(own.url);
    const [, maxclients = '10000'] = (await admin.sendCommand(['CONFIG', 'GET', 'maxclients'])) as string[];
    try {
      await fleet.go('k', 20);
      await fleet.load('k', 5_000, 1);
      // A subscriber reconnects within milliseconds of CLIENT KILL, so first refuse new connections
      // (the open ones stay): killed now, no subscriber is back before the round is over, and the
      // leader's 'filled' message reaches nobody.
      await admin.sendCommand(['CONFIG', 'SET', 'maxclients', '1']);
      let reports: Report[];
      let killed: number;
      try {
        killed = Number(await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']));
        // Without polling the waiters would wait out their 10 s flight deadline.
        reports = (await fleet.reports('k', firstLoadMs + POLL_MAX_MS + SLACK_MS + 2_000)).map(
          (entry) => entry.report,
        );
      } finally {
        await admin.sendCommand(['CONFIG', 'SET', 'maxclients', maxclients]);
      }
      expect(killed).toBe(3);
      for (const report of reports)
        expect(report.waits.max).toBeLessThan(firstLoadMs + POLL_MAX_MS + SLACK_MS);
      expect(sumOf(reports, 'wakeupsByMessage')).toBe(0);
      expect(sumOf(reports, 'wakeupsByPoll')).toBeGreaterThan(0);
      expect(await originCount(own.url, namespace, 'k')).toBe(1);
      expect(tally(reports)).toEqual({ resolved: 60, rejected: 0 });
      expect(distinctValues(reports)).toEqual([expect.objectContaining({ origin: 1 })]);
      expectClean(reports);
    } finally {
      admin.destroy();
    }
  });
});
