/**
 * HTTP, steady load: the same hot query (`{ hot { total updatedAt } }`, a 20 ms counted upstream)
 * served by graphql-flight (response cache; field cache only; field cache + operation coalescing),
 * graphql-yoga without a cache, graphql-yoga with its response cache and mercurius with
 * mercurius-cache, each in a fresh process of its own over a fresh upstream, under autocannon with
 * 100 connections on loopback. Goals: graphql-flight's response cache against the other two
 * response caches, in req/s, from the rows just measured.
 *
 * Beside graphql-flight's response-cache row (TTL 2 s, no window: each expiry makes the requests
 * in flight wait for the upstream), two variants of the same server: one whose TTL outlasts the
 * run (no expiry at all), and one with the same 2 s TTL and a revalidate window
 * (`staleWhileRevalidateMs` on the cached field, so on the stored response too): its tail latency
 * (p99.9, max) should stay within 2x the no-expiry run's.
 */
import autocannon from 'autocannon';
import {
  BASELINE,
  BODY,
  checkHit,
  checkOnce,
  FLIGHT,
  failedRow,
  goodBody,
  MERCURIUS,
  SYSTEMS,
  type SystemDef,
  startSystem,
  TTL_MS,
  throwIfAllFailed,
  UPSTREAM_DELAY_MS,
  YOGA_RESPONSE_CACHE,
} from '../lib/http.js';
import { medianRow } from '../lib/stats.js';
import type { BenchContext, Goal, Row, Scenario, ScenarioResult } from '../lib/types.js';

const CONNECTIONS = 100;
/** The no-expiry row's TTL: longer than the warm-up and every round together. */
const NO_EXPIRY_TTL_MS = 600_000;
/** The revalidate row's window past its TTL_MS. */
const REVALIDATE_MS = 10_000;
const NO_EXPIRY = 'graphql-flight (response cache, no expiry)';
const REVALIDATE = 'graphql-flight (response cache, revalidate window)';
/** Goal: the revalidate row's p99.9 and max within this factor of the no-expiry row's. */
const TAIL_FACTOR = 2;

const EXPIRY_VARIANTS: readonly SystemDef[] = [
  {
    system: NO_EXPIRY,
    file: 'graphql-flight',
    env: { BENCH_MODE: 'response' },
    ttlMs: NO_EXPIRY_TTL_MS,
    hitHeader: { name: 'x-cache', value: 'HIT' },
    note: `the response-cache server with a TTL of ${NO_EXPIRY_TTL_MS / 60_000} min: nothing expires during the run (the reference of the revalidate goals)`,
  },
  {
    system: REVALIDATE,
    file: 'graphql-flight',
    env: { BENCH_MODE: 'response', BENCH_SWR_MS: String(REVALIDATE_MS) },
    hitHeader: { name: 'x-cache', value: 'HIT' },
    note:
      `the response-cache server with Pothos \`cache: { ttlMs: ${TTL_MS}, staleWhileRevalidateMs: ${REVALIDATE_MS} }\` on ` +
      'Query.hot: past the TTL the stored response is answered stale (X-Cache: STALE) while one execution refreshes it',
  },
];

/** The systems in table order: the expiry variants right after graphql-flight's response-cache row. */
const DEFS: readonly SystemDef[] = SYSTEMS.flatMap((def) =>
  def.system === FLIGHT ? [def, ...EXPIRY_VARIANTS] : [def],
);

/** One autocannon run; bounded by its duration, with a hard stop 15 s past it. */
function load(url: string, seconds: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    let guard: NodeJS.Timeout | undefined;
    const instance = autocannon(
      {
        url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: BODY,
        connections: CONNECTIONS,
        duration: seconds,
        timeout: 10,
        verifyBody: goodBody,
      },
      (error, result) => {
        clearTimeout(guard);
        if (error) reject(error);
        else resolve(result);
      },
    );
    guard = setTimeout(() => instance.stop(), (seconds + 15) * 1_000);
  });
}

/** One system: fresh upstream and server, a check, a warm-up, then ctx.rounds rounds. */
async function measure(def: SystemDef, ctx: BenchContext, seconds: number, warmup: number): Promise<Row> {
  ctx.progress(`http-steady: ${def.system}: starting`);
  const system = await startSystem(def);
  try {
    await checkOnce(system.url);
    await checkHit(def, system.url);
    ctx.progress(`http-steady: ${def.system}: warm-up (${warmup} s)`);
    await load(system.url, warmup);
    const rounds: Array<Record<string, number | null>> = [];
    let errors = 0;
    for (let round = 1; round <= ctx.rounds; round++) {
      ctx.progress(
        `http-steady: ${def.system}: round ${round}/${ctx.rounds} (${seconds} s, ${CONNECTIONS} connections)`,
      );
      const before = await system.settledCalls();
      const result = await load(system.url, seconds);
      const calls = (await system.settledCalls()) - before;
      const sent = result.requests.sent;
      // Every response whose body is not a data answer is a mismatch (non-2xx bodies included),
      // so errors = socket errors and timeouts + the larger of non-2xx and mismatches.
      const failed = result.errors + Math.max(result.non2xx, result.mismatches);
      errors += failed;
      rounds.push({
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        p999: result.latency.p99_9,
        max: result.latency.max,
        calls,
        per1000: sent === 0 ? null : (calls / sent) * 1_000,
      });
    }
    return { system: def.system, values: { ...medianRow(rounds), errors }, note: def.note };
  } finally {
    await system.close();
  }
}

export const scenario: Scenario = {
  id: 'http-steady',
  title: 'HTTP, steady load on a hot field',
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const seconds = ctx.quick ? 2 : 8;
    const warmup = ctx.quick ? 1 : 2;
    const rows: Row[] = [];
    for (const def of DEFS) {
      try {
        rows.push(await measure(def, ctx, seconds, warmup));
      } catch (error) {
        rows.push(failedRow(def, error, ['rps', 'p50', 'p99', 'p999', 'max', 'calls', 'per1000', 'errors']));
      }
    }
    throwIfAllFailed(rows);
    return {
      id: 'http-steady',
      goals: [
        rpsGoal(rows, MERCURIUS, 1.4),
        rpsGoal(rows, YOGA_RESPONSE_CACHE, 3),
        tailGoal(rows, 'p999', 'p99.9'),
        tailGoal(rows, 'max', 'max latency'),
      ],
      title: 'HTTP, steady load on a hot field',
      description:
        `The query \`{ hot { total updatedAt } }\`, whose resolver fetches a counted upstream process ` +
        `(${UPSTREAM_DELAY_MS} ms per call) over loopback, under autocannon with ${CONNECTIONS} connections, ` +
        `${seconds} s per round, after a ${warmup} s warm-up; every server in a fresh process of its own, ` +
        `every cache with a TTL of ${TTL_MS} ms (${NO_EXPIRY}: ${NO_EXPIRY_TTL_MS / 60_000} min). Upstream calls are counted until the count stops moving, ` +
        'and divided by the requests sent.',
      baseline: BASELINE,
      metrics: [
        { key: 'rps', label: 'req/s', better: 'higher', ratio: true },
        { key: 'p50', label: 'p50 ms', better: 'lower' },
        { key: 'p99', label: 'p99 ms', better: 'lower' },
        { key: 'p999', label: 'p99.9 ms', better: 'lower' },
        { key: 'max', label: 'max ms', better: 'lower' },
        { key: 'calls', label: 'upstream calls / round', better: 'lower' },
        { key: 'per1000', label: 'upstream calls / 1,000 req', better: 'lower', digits: 2 },
        { key: 'errors', label: 'errors (all rounds)', better: 'lower' },
      ],
      rows,
      notes: [
        `TTL ${TTL_MS} ms everywhere but ${NO_EXPIRY}, so a ${seconds} s round sees about ${Math.round((seconds * 1_000) / TTL_MS)} ` +
          'expiries: a cache that coalesces makes about one upstream call per expiry; one that does not makes one ' +
          `per request arriving during the ${UPSTREAM_DELAY_MS} ms refill.`,
        `${FLIGHT} answers a repeat of the public query from the stored response in its node:http front door ` +
          '(X-Cache: HIT, checked before measuring), before whatwg-node, parsing, validation, context or execution; ' +
          'after an ' +
          'expiry the concurrent misses share one execution. The field-cache-only and operation-coalescing rows ' +
          'run parse, validate and execute on every request (the field cache answers the resolver; coalescing ' +
          'merges identical concurrent executions), which is what limits their req/s.',
        `${FLIGHT} is the expiry-blocking row (TTL ${TTL_MS} ms, no window); ${NO_EXPIRY} and ${REVALIDATE} are the ` +
          'same server with a TTL that outlasts the run, and with the same TTL and a revalidate window. Latencies ' +
          "are autocannon's (whole milliseconds).",
        'Errors: socket errors, timeouts, non-2xx responses and 2xx bodies carrying GraphQL `errors` (every ' +
          'response body is checked).',
        "Client, servers and upstream share this machine's cores; req/s ratios hold better than absolute figures.",
      ],
      chart: [
        { metric: 'rps', title: 'req/s (higher is better)' },
        { metric: 'calls', title: 'upstream calls per round (lower is better)' },
      ],
    };
  },
};

/** `${FLIGHT}` req/s >= factor x `other`'s, from the measured rows (not met when either failed). */
function rpsGoal(rows: readonly Row[], other: string, factor: number): Goal {
  const text = `${FLIGHT} req/s >= ${factor.toFixed(1)}x ${other}`;
  const flight = rows.find((row) => row.system === FLIGHT)?.values.rps ?? null;
  const base = rows.find((row) => row.system === other)?.values.rps ?? null;
  if (flight === null || base === null || base <= 0) {
    return {
      text,
      met: false,
      detail: `not measured (${FLIGHT}: ${flight ?? 'n/a'}, ${other}: ${base ?? 'n/a'})`,
    };
  }
  const fmt = (value: number) => Math.round(value).toLocaleString('en-US');
  return {
    text,
    met: flight >= factor * base,
    detail: `${(flight / base).toFixed(2)}x (${fmt(flight)} vs ${fmt(base)} req/s)`,
  };
}

/** The revalidate row's `key` within TAIL_FACTOR x the no-expiry row's (not met when either failed). */
function tailGoal(rows: readonly Row[], key: 'p999' | 'max', label: string): Goal {
  const text = `${REVALIDATE}: ${label} <= ${TAIL_FACTOR}x ${NO_EXPIRY}'s`;
  const revalidate = rows.find((row) => row.system === REVALIDATE)?.values[key] ?? null;
  const reference = rows.find((row) => row.system === NO_EXPIRY)?.values[key] ?? null;
  const blocking = rows.find((row) => row.system === FLIGHT)?.values[key] ?? null;
  if (revalidate === null || reference === null || reference <= 0) {
    return {
      text,
      met: false,
      detail: `not measured (${REVALIDATE}: ${revalidate ?? 'n/a'}, ${NO_EXPIRY}: ${reference ?? 'n/a'})`,
    };
  }
  return {
    text,
    met: revalidate <= TAIL_FACTOR * reference,
    detail:
      `${revalidate} ms vs ${reference} ms = ${(revalidate / reference).toFixed(2)}x` +
      (blocking === null ? '' : ` (without a window: ${blocking} ms)`),
  };
}
