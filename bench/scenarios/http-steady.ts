/**
 * HTTP, steady load: the same hot query (`{ hot { total updatedAt } }`, a 20 ms counted upstream)
 * served by graphql-flight, graphql-yoga without a cache, graphql-yoga with its response cache and
 * mercurius with mercurius-cache, each in a fresh process of its own over a fresh upstream, under
 * autocannon with 100 connections on loopback.
 */
import autocannon from 'autocannon';
import {
  BASELINE,
  BODY,
  checkOnce,
  failedRow,
  goodBody,
  SYSTEMS,
  type SystemDef,
  startSystem,
  TTL_MS,
  throwIfAllFailed,
  UPSTREAM_DELAY_MS,
} from '../lib/http.js';
import { medianRow } from '../lib/stats.js';
import type { BenchContext, Row, Scenario, ScenarioResult } from '../lib/types.js';

const CONNECTIONS = 100;

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
    for (const def of SYSTEMS) {
      try {
        rows.push(await measure(def, ctx, seconds, warmup));
      } catch (error) {
        rows.push(failedRow(def, error, ['rps', 'p50', 'p99', 'calls', 'per1000', 'errors']));
      }
    }
    throwIfAllFailed(rows);
    return {
      id: 'http-steady',
      title: 'HTTP, steady load on a hot field',
      description:
        `The query \`{ hot { total updatedAt } }\`, whose resolver fetches a counted upstream process ` +
        `(${UPSTREAM_DELAY_MS} ms per call) over loopback, under autocannon with ${CONNECTIONS} connections, ` +
        `${seconds} s per round, after a ${warmup} s warm-up; every server in a fresh process of its own, ` +
        `every cache with a TTL of ${TTL_MS} ms. Upstream calls are counted until the count stops moving, ` +
        'and divided by the requests sent.',
      baseline: BASELINE,
      metrics: [
        { key: 'rps', label: 'req/s', better: 'higher', ratio: true },
        { key: 'p50', label: 'p50 ms', better: 'lower' },
        { key: 'p99', label: 'p99 ms', better: 'lower' },
        { key: 'calls', label: 'upstream calls / round', better: 'lower' },
        { key: 'per1000', label: 'upstream calls / 1,000 req', better: 'lower', digits: 2 },
        { key: 'errors', label: 'errors (all rounds)', better: 'lower' },
      ],
      rows,
      notes: [
        `TTL ${TTL_MS} ms everywhere, so a ${seconds} s round sees about ${Math.round((seconds * 1_000) / TTL_MS)} ` +
          'expiries: a cache that coalesces makes about one upstream call per expiry; one that does not makes one ' +
          `per request arriving during the ${UPSTREAM_DELAY_MS} ms refill.`,
        'graphql-flight + operation coalescing executes identical concurrent operations once; it has no response ' +
          'cache yet (a hit still runs parse, validate and execute), which is what limits its req/s.',
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
