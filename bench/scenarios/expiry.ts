/**
 * Expiry under load: one hot key with a 200 ms TTL and a 50 ms loader, read by 100 concurrent
 * caller loops for a fixed window. Each loop calls get, records the call's latency, pauses 1 ms
 * (setTimeout) and calls again until the window ends. A call is *blocked* when its latency is at
 * least 25 ms (half the loader time): it waited for a load instead of being answered from memory.
 * Every expiry without a grace (serve-stale) window blocks every loop for up to a whole load; with
 * one (graphql-flight `staleWhileRevalidateMs`, bentocache `grace`, async-cache-dedupe `stale`)
 * the callers get the stale value at once while one refresh runs.
 */
import { callerLoops, latencyFigures } from '../lib/loops.js';
import { createPeer, type PeerId, type PeerOptions } from '../lib/peers.js';
import { medianRow, sleep } from '../lib/stats.js';
import { goalFigures } from '../lib/goals.js';
import type { Goal, Row, Scenario } from '../lib/types.js';

const TTL_MS = 200;
const LOADER_MS = 50;
const LOOPS = 100;
const BLOCKED_MS = LOADER_MS / 2;
/** The serve-stale window of the (stale)/(grace) rows. */
const STALE_MS = 1_000;
/** Goal of the graphql-flight (stale) row: no call slower than this. */
const MAX_MS = 5;
const KEY = 'hot-field';
const STALE_FLIGHT = 'graphql-flight (stale)';

interface System {
  id: PeerId;
  /** Serve-stale window where the peer documents one. */
  staleMs?: number;
}

const SYSTEMS: System[] = [
  { id: 'graphql-flight' },
  { id: 'graphql-flight', staleMs: STALE_MS },
  { id: 'async-cache-dedupe' },
  { id: 'async-cache-dedupe', staleMs: STALE_MS },
  { id: 'bentocache' },
  { id: 'bentocache', staleMs: 10_000 },
  { id: 'cacheable' },
  { id: 'keyv-naive' },
];

async function round(system: System, windowMs: number) {
  let loads = 0;
  let counting = false;
  const options: PeerOptions<{ at: number }> = {
    ttlMs: TTL_MS,
    load: async () => {
      if (counting) loads++;
      await sleep(LOADER_MS);
      return { at: performance.now() };
    },
    ...(system.staleMs === undefined ? {} : { staleMs: system.staleMs }),
  };
  const peer = createPeer(system.id, options);
  try {
    await peer.get(KEY); // warm: the window starts with a fresh value, not a cold miss
    counting = true;
    const { latencies, errors } = await callerLoops({
      loops: LOOPS,
      endAt: performance.now() + windowMs,
      call: () => peer.get(KEY),
    });
    counting = false;
    await sleep(LOADER_MS + 10); // let a refresh started at the end of the window finish before closing
    const figures = latencyFigures(latencies, BLOCKED_MS);
    return {
      name: peer.name,
      note: peer.note,
      values: {
        ...figures,
        loads,
        // The TTL the peer applies (async-cache-dedupe's is whole seconds): windows of it in the window.
        loadsPerWindow: loads / (windowMs / peer.ttlMs),
        blockedPerLoad: loads > 0 ? figures.blocked / loads : null,
        errors,
      },
    };
  } finally {
    await peer.close();
  }
}

export const scenario: Scenario = {
  id: 'expiry',
  title: 'Expiry under load',
  async run(ctx) {
    const windowMs = ctx.quick ? 800 : 2_000;
    const rows: Row[] = [];
    for (const system of SYSTEMS) {
      const rounds: Array<Record<string, number | null>> = [];
      let name = '';
      let note = '';
      for (let r = 1; r <= ctx.rounds; r++) {
        ctx.progress(`expiry: ${system.id}${system.staleMs ? ' (stale)' : ''}, round ${r}/${ctx.rounds}`);
        const result = await round(system, windowMs);
        rounds.push(result.values);
        name = result.name;
        note = result.note;
      }
      rows.push({ system: name, values: medianRow(rounds), note });
    }
    return {
      id: 'expiry',
      title: 'Expiry under load',
      description:
        `One key, TTL ${TTL_MS} ms, ${LOADER_MS} ms loader, ${LOOPS} concurrent caller loops for ${windowMs / 1000} s ` +
        '(each loop: get, record latency, pause 1 ms, repeat), started on a fresh value. ' +
        `Blocked call = latency >= ${BLOCKED_MS} ms (half the loader time): it waited for a load. ` +
        'loads = loader calls started in the window; loads / TTL window = loads divided by the TTL windows ' +
        `the window holds (of the TTL the peer applies). Medians of ${ctx.rounds} round(s).`,
      baseline: 'naive Keyv get-then-set',
      metrics: [
        { key: 'calls', label: 'calls', better: 'higher' },
        { key: 'loads', label: 'loads', better: 'lower' },
        { key: 'loadsPerWindow', label: 'loads / TTL window', better: 'lower', digits: 2 },
        { key: 'blocked', label: 'blocked calls', better: 'lower', ratio: true },
        { key: 'blockedPerLoad', label: 'blocked per load', better: 'lower', digits: 1 },
        { key: 'p50us', label: 'p50 µs', better: 'lower', digits: 1 },
        { key: 'p999', label: 'p99.9 ms', better: 'lower', digits: 2 },
        { key: 'max', label: 'max ms', better: 'lower', digits: 2 },
        { key: 'errors', label: 'errors', better: 'lower' },
      ],
      rows,
      goals: staleGoals(rows.find((row) => row.system === STALE_FLIGHT)),
      notes: [
        'async-cache-dedupe takes TTLs in whole seconds, so it runs with a 1 s TTL (fewer expiries in the window): compare its blocked calls per load and loads per TTL window, not its totals.',
        `The (stale)/(grace) rows switch on the peer's documented serve-stale option: graphql-flight \`staleWhileRevalidateMs: ${STALE_MS}\`, bentocache \`grace\` (with its default soft timeout 0), async-cache-dedupe \`stale\`.`,
        'A refresh starts only after the TTL has passed and takes the loader time, so a hot key with one refresh per expiry makes about windowMs / (TTL + loader) loads: below one per TTL window.',
      ],
      chart: [{ metric: 'blocked', title: `blocked calls (>= ${BLOCKED_MS} ms) under expiry` }],
    };
  },
};

/** The issue-13 acceptance of the expiry scenario, from the graphql-flight (stale) row. */
function staleGoals(row: Row | undefined): Goal[] {
  const { value, missing } = goalFigures(row);
  const blocked = value('blocked');
  const max = value('max');
  const perWindow = value('loadsPerWindow');
  return [
    {
      text: `${STALE_FLIGHT}: 0 blocked calls`,
      met: blocked === 0,
      detail: blocked === null ? missing : `${blocked} blocked call(s) over ${value('loads')} loads`,
    },
    {
      text: `${STALE_FLIGHT}: max latency < ${MAX_MS} ms`,
      met: max !== null && max < MAX_MS,
      detail: max === null ? missing : `max ${max.toFixed(2)} ms`,
    },
    {
      text: `${STALE_FLIGHT}: at most 1 load per TTL window`,
      met: perWindow !== null && perWindow <= 1,
      detail: perWindow === null ? missing : `${perWindow.toFixed(2)} loads per ${TTL_MS} ms window`,
    },
  ];
}
