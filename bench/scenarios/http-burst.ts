/**
 * HTTP, cold burst: 500 identical requests for the hot query sent at once to a fresh server whose
 * cache is empty; how many reach the upstream? Each system, each round: a fresh upstream and a
 * fresh server process, 500 keep-alive connections opened beforehand (with `{ __typename }`, which
 * touches no cache), then the 500 requests of the hot query, one per connection, in one loop.
 */
import { Agent, request } from 'node:http';
import {
  BASELINE,
  BODY,
  FLIGHT,
  failedRow,
  MERCURIUS,
  goodBody,
  SYSTEMS,
  type SystemDef,
  startSystem,
  TTL_MS,
  throwIfAllFailed,
  UPSTREAM_DELAY_MS,
} from '../lib/http.js';
import { medianRow, percentile } from '../lib/stats.js';
import type { BenchContext, Row, Scenario, ScenarioResult } from '../lib/types.js';

const BURST = 500;
const TIMEOUT_MS = 15_000;
const TYPENAME = JSON.stringify({ query: '{ __typename }' });

interface Answer {
  ok: boolean;
  ms: number;
}

/** One POST /graphql over `agent`, bounded by TIMEOUT_MS; never rejects. */
function post(agent: Agent, port: number, body: string, check: (body: string) => boolean): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      resolve({ ok, ms: performance.now() - started });
    };
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port,
        path: '/graphql',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => done(res.statusCode === 200 && check(text)));
        res.on('error', () => done(false));
      },
    );
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error('timeout')));
    req.on('error', () => done(false));
    req.end(body);
  });
}

/** One system, ctx.rounds times: a fresh upstream and server, connections opened, the burst. */
async function measure(def: SystemDef, ctx: BenchContext): Promise<Row> {
  const rounds: Array<Record<string, number | null>> = [];
  let errors = 0;
  for (let round = 1; round <= ctx.rounds; round++) {
    ctx.progress(`http-burst: ${def.system}: round ${round}/${ctx.rounds}: starting`);
    const system = await startSystem(def);
    const agent = new Agent({
      keepAlive: true,
      maxSockets: BURST,
      maxFreeSockets: BURST,
      scheduling: 'lifo',
    });
    try {
      // Open the connections (and check the server answers) without touching any cache.
      const opened = await Promise.all(
        Array.from({ length: BURST }, () => post(agent, system.port, TYPENAME, (b) => b.includes('"Query"'))),
      );
      const failedOpen = opened.filter((answer) => !answer.ok).length;
      if (failedOpen > 0) throw new Error(`${def.system}: ${failedOpen} of ${BURST} warm-up requests failed`);
      const before = await system.calls();
      ctx.progress(`http-burst: ${def.system}: round ${round}/${ctx.rounds}: ${BURST} requests at once`);
      const answers = await Promise.all(
        Array.from({ length: BURST }, () => post(agent, system.port, BODY, goodBody)),
      );
      const calls = (await system.settledCalls()) - before;
      const sorted = answers.map((answer) => Math.round(answer.ms * 10) / 10).sort((a, b) => a - b);
      errors += answers.filter((answer) => !answer.ok).length;
      rounds.push({
        calls,
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        max: sorted[sorted.length - 1] ?? null,
      });
    } finally {
      agent.destroy();
      await system.close();
    }
  }
  return { system: def.system, values: { ...medianRow(rounds), errors }, note: def.note };
}

export const scenario: Scenario = {
  id: 'http-burst',
  title: `HTTP, cold burst of ${BURST} identical requests`,
  async run(ctx: BenchContext): Promise<ScenarioResult> {
    const rows: Row[] = [];
    for (const def of SYSTEMS) {
      try {
        rows.push(await measure(def, ctx));
      } catch (error) {
        rows.push(failedRow(def, error, ['calls', 'p50', 'p99', 'max', 'errors']));
      }
    }
    throwIfAllFailed(rows);
    const flightCalls = rows.find((row) => row.system === FLIGHT)?.values.calls ?? null;
    const flightP99 = rows.find((row) => row.system === FLIGHT)?.values.p99 ?? null;
    const mercuriusP99 = rows.find((row) => row.system === MERCURIUS)?.values.p99 ?? null;
    return {
      id: 'http-burst',
      goals: [
        {
          text: `${FLIGHT}: 1 upstream call for the ${BURST} requests`,
          met: flightCalls === 1,
          detail:
            flightCalls === null ? 'not measured' : `${flightCalls} upstream call(s) (median of rounds)`,
        },
        {
          text: `${FLIGHT}: p99 <= ${MERCURIUS}'s`,
          met: flightP99 !== null && mercuriusP99 !== null && flightP99 <= mercuriusP99,
          detail:
            flightP99 === null || mercuriusP99 === null
              ? 'not measured'
              : `p99 ${flightP99.toFixed(1)} ms vs ${mercuriusP99.toFixed(1)} ms = ${(flightP99 / mercuriusP99).toFixed(2)}x (median of rounds)`,
        },
      ],
      title: `HTTP, cold burst of ${BURST} identical requests`,
      description:
        `${BURST} identical requests of \`{ hot { total updatedAt } }\` (resolver: a counted upstream, ` +
        `${UPSTREAM_DELAY_MS} ms per call) sent at once, one per pre-opened keep-alive connection, to a fresh ` +
        'server process with an empty cache; upstream calls counted until the count stops moving. Latency is ' +
        'per request, from its send to the end of its response.',
      baseline: BASELINE,
      metrics: [
        { key: 'calls', label: 'upstream calls', better: 'lower', ratio: true },
        { key: 'p50', label: 'p50 ms', better: 'lower', digits: 1 },
        { key: 'p99', label: 'p99 ms', better: 'lower', digits: 1 },
        { key: 'max', label: 'max ms', better: 'lower', digits: 1 },
        { key: 'errors', label: 'errors (all rounds)', better: 'lower' },
      ],
      rows,
      notes: [
        `A fresh upstream and server process per system and round; TTL ${TTL_MS} ms everywhere (the burst ` +
          'ends long before it expires). The connections are opened with `{ __typename }` first, so the ' +
          'burst measures the caches, not TCP handshakes; the server code is not warmed on the hot path.',
        'A cache without coalescing makes one upstream call per request that arrives before the first ' +
          `answer is stored (${UPSTREAM_DELAY_MS} ms plus the server's own time): how many that is depends on how ` +
          'fast the server parses and executes the burst.',
        `${FLIGHT}: the requests that arrive before the response is stored miss the empty response cache and ` +
          "share one execution through the FlightCache's flight (one upstream call); later ones are HITs. The " +
          'field-cache-only row coalesces at the field; the operation-coalescing row merges the identical ' +
          'concurrent operations.',
        'Errors: failed connections, timeouts, non-200 responses and bodies carrying GraphQL `errors`.',
      ],
      chart: [{ metric: 'calls', title: 'upstream calls (lower is better)' }],
    };
  },
};
