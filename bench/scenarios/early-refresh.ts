/**
 * Early refresh (XFetch): one hot key with a 2 s TTL and a 20 ms loader, read by 100 caller loops
 * (get, record latency, pause 1 ms, repeat) for 10 s, so the window spans several TTLs. The loader
 * answers the time it loaded, and each caller checks the value it got: older than the TTL means it
 * was served stale. With `earlyRefresh: { beta: 1 }` and no stale window, a hit refreshes in the
 * background shortly before the expiry (XFetch: when now - delta x beta x ln(random()) passes it),
 * so no caller should wait for a load nor get a stale value.
 */
import { callerLoops, latencyFigures } from '../lib/loops.js';
import { epochNow, Origin } from '../lib/origin.js';
import { createPeer, type PeerId, type PeerOptions } from '../lib/peers.js';
import { medianRow, sleep } from '../lib/stats.js';
import { goalFigures } from '../lib/goals.js';
import type { Goal, Row, Scenario } from '../lib/types.js';
import type { Stamp } from '../lib/origin.js';

const TTL_MS = 2_000;
const LOADER_MS = 20;
const LOOPS = 100;
const BLOCKED_MS = LOADER_MS / 2;
/**
 * A value is stale when its age on arrival passes the TTL by more than this: the caches read the
 * clock in whole milliseconds, and the caller reads it a hop after the cache did.
 */
const STALE_SLACK_MS = 2;
const LOADS_PER_WINDOW = 1.2;
const KEY = 'hot-field';
const XFETCH = 'graphql-flight (XFetch)';

interface System {
  id: PeerId;
  options: Partial<PeerOptions<Stamp>>;
}

const SYSTEMS: System[] = [
  { id: 'graphql-flight', options: {} },
  { id: 'graphql-flight', options: { earlyRefresh: { beta: 1 } } },
  { id: 'bentocache', options: { staleMs: 10_000 } },
];

async function round(system: System, windowMs: number) {
  const origin = new Origin({ loaderMs: LOADER_MS });
  const peer = createPeer<Stamp>(system.id, { ttlMs: TTL_MS, load: origin.load, ...system.options });
  try {
    await peer.get(KEY); // warm: the window starts with a fresh value
    origin.counting = true;
    let stale = 0;
    let oldest = 0;
    const { latencies, errors } = await callerLoops({
      loops: LOOPS,
      endAt: performance.now() + windowMs,
      call: () => peer.get(KEY),
      onValue: (value) => {
        const age = epochNow() - value.at;
        if (age > TTL_MS + STALE_SLACK_MS) stale++;
        if (age > oldest) oldest = age;
      },
    });
    origin.counting = false;
    await sleep(LOADER_MS + 10); // let a refresh started at the end of the window finish before closing
    const figures = latencyFigures(latencies, BLOCKED_MS);
    return {
      name: peer.name,
      note: peer.note,
      values: {
        calls: figures.calls,
        loads: origin.attempts,
        loadsPerWindow: origin.attempts / (windowMs / TTL_MS),
        stale,
        oldestMs: oldest,
        blocked: figures.blocked,
        p999: figures.p999,
        max: figures.max,
        errors,
      },
    };
  } finally {
    await peer.close();
  }
}

export const scenario: Scenario = {
  id: 'early-refresh',
  title: 'Early refresh (XFetch)',
  async run(ctx) {
    const windowMs = ctx.quick ? 4_000 : 10_000;
    const rows: Row[] = [];
    for (const system of SYSTEMS) {
      const rounds: Array<Record<string, number | null>> = [];
      let name = '';
      let note = '';
      for (let r = 1; r <= ctx.rounds; r++) {
        ctx.progress(
          `early-refresh: ${system.id} ${JSON.stringify(system.options)}, round ${r}/${ctx.rounds}`,
        );
        const result = await round(system, windowMs);
        rounds.push(result.values);
        name = result.name;
        note = result.note;
      }
      rows.push({ system: name, values: medianRow(rounds), note });
    }
    return {
      id: 'early-refresh',
      title: 'Early refresh (XFetch)',
      description:
        `One key, TTL ${TTL_MS / 1000} s, ${LOADER_MS} ms loader, ${LOOPS} caller loops (get, record latency, pause 1 ms, ` +
        `repeat) for ${windowMs / 1000} s, started on a fresh value. The loader answers when it loaded; stale = calls ` +
        `answered with a value older than the TTL (+ ${STALE_SLACK_MS} ms of clock slack); blocked = latency >= ` +
        `${BLOCKED_MS} ms (half the loader time); loads / TTL window = loads divided by the ${windowMs / TTL_MS} TTL ` +
        `windows of the window. Medians of ${ctx.rounds} round(s).`,
      baseline: 'graphql-flight',
      metrics: [
        { key: 'calls', label: 'calls', better: 'higher' },
        { key: 'loads', label: 'loads', better: 'lower' },
        { key: 'loadsPerWindow', label: 'loads / TTL window', better: 'lower', digits: 2 },
        { key: 'stale', label: 'stale served', better: 'lower' },
        { key: 'oldestMs', label: 'oldest value ms', better: 'lower' },
        { key: 'blocked', label: 'blocked calls', better: 'lower', ratio: true },
        { key: 'p999', label: 'p99.9 ms', better: 'lower', digits: 2 },
        { key: 'max', label: 'max ms', better: 'lower', digits: 2 },
        { key: 'errors', label: 'errors', better: 'lower' },
      ],
      rows,
      goals: goals(rows.find((row) => row.system === XFETCH)),
      notes: [
        'XFetch refreshes earlier as the call rate grows (about delta x beta x ln(calls per delta) before the expiry), so its loads per TTL window stay near 1 only where the TTL is long next to the load.',
        'bentocache (grace 10 s, soft timeout 0) is the serve-stale way to the same end: no caller waits, but callers get the expired value while its refresh runs.',
      ],
      chart: [{ metric: 'stale', title: 'calls served a value older than its TTL' }],
    };
  },
};

function goals(row: Row | undefined): Goal[] {
  const { value, missing } = goalFigures(row);
  const stale = value('stale');
  const blocked = value('blocked');
  const perWindow = value('loadsPerWindow');
  return [
    {
      text: `${XFETCH}: 0 stale values served`,
      met: stale === 0,
      detail:
        stale === null ? missing : `${stale} stale (oldest value ${value('oldestMs')?.toFixed(0)} ms old)`,
    },
    {
      text: `${XFETCH}: 0 blocked calls`,
      met: blocked === 0,
      detail: blocked === null ? missing : `${blocked} blocked, max ${value('max')?.toFixed(2)} ms`,
    },
    {
      text: `${XFETCH}: loads per TTL window <= ${LOADS_PER_WINDOW}`,
      met: perWindow !== null && perWindow <= LOADS_PER_WINDOW,
      detail: perWindow === null ? missing : `${perWindow.toFixed(2)} (${value('loads')} loads)`,
    },
  ];
}
