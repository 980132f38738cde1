/**
 * HTTP benchmark, `npm run bench:http` (`-- --quick` for a smoke run), in two parts.
 *
 * 1. The demo app (src/server.ts createServer) on the hot `salesSummary` query (an aggregate over
 *    every order), under autocannon with 100 connections on loopback, in three modes, each in a
 *    process of its own (bench/http-server.ts, BENCH_MODE) on the default embedded seed (1,000
 *    products, 1,000 customers, 200,000 orders): no cache, the field cache only, and the field
 *    cache + the response cache (the server's default; checked to answer a repeat with
 *    `X-Cache: HIT` before it is measured). Reports requests/s, x the no-cache baseline, latency,
 *    database queries per 1,000 requests and errors, medians of several rounds; a full run writes
 *    bench/results/http-<date>.json.
 * 2. The peer comparison of the suite: `bench/run.ts --only http-steady,http-burst` (plus
 *    `--quick`) in a child process, which prints graphql-flight's response cache against
 *    mercurius + mercurius-cache and graphql-yoga + its response-cache plugin on the same query
 *    and upstream, with the goals met or not (1.0x mercurius, 3x yoga), and writes
 *    bench/results/partial-<date>.* (or quick-<date>.*; both git-ignored). The peers are
 *    installed by `node bench/ensure-deps.mjs`, which the npm script runs first.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { print } from 'graphql';
import { SalesSummaryDocument } from '../tests/generated/graphql.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 3;
const SECONDS = quick ? 2 : 8;
const CONNECTIONS = 100;
/** Bound on the peer comparison (bench/run.ts); a full run takes several minutes. */
const PEER_TIMEOUT_MS = (quick ? 10 : 40) * 60_000;
const body = JSON.stringify({ query: print(SalesSummaryDocument) });

/** BENCH_MODE of bench/http-server.ts, the table row and the key in the JSON result file. */
const MODES = [
  { mode: 'none', label: 'no cache', key: 'noCache' },
  { mode: 'field', label: 'field cache only', key: 'fieldCache' },
  { mode: 'response', label: 'field cache + response cache (default)', key: 'fieldAndResponseCache' },
] as const;
type Mode = (typeof MODES)[number]['mode'];

interface Round {
  requestsPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  queriesPer1000: number;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const progress = (text: string) => {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text}`);
  else if (text) process.stderr.write(`${text}\n`);
};
/** A data answer for salesSummary; anything else (GraphQL errors included) counts as an error. */
const goodBody = (body: string | Buffer | undefined) => {
  const text = typeof body === 'string' ? body : (body?.toString() ?? '');
  return text.includes('"salesSummary":{') && !text.includes('"errors"');
};

/** The next IPC message of `type` (after sending `{ type }`, except for "ready"); rejects if the child exits first. */
function request<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      child.off('message', onMessage);
      reject(new Error(`bench/http-server.ts exited (${code ?? signal}) before answering "${type}"`));
    };
    const onMessage = (message: { type: string } & T) => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    if (type !== 'ready') child.send({ type });
  });
}

const salesSummaryQueries = async (child: ChildProcess) =>
  (await request<{ counts: Record<string, number> }>(child, 'counts')).counts.salesSummary ?? 0;

/** Two requests of the query; the second must be a data answer with `X-Cache: HIT`, else throws. */
async function checkHit(url: string): Promise<void> {
  let header: string | null = null;
  for (let attempt = 0; attempt < 2; attempt++) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (!response.ok || !goodBody(text)) {
      throw new Error(`${url} answered ${response.status}: ${text.slice(0, 300)}`);
    }
    header = response.headers.get('x-cache');
  }
  if (header !== 'HIT') {
    throw new Error(
      `response cache: a repeated salesSummary request was answered with X-Cache: ${header ?? '(none)'}, not HIT`,
    );
  }
}

async function measure(mode: Mode, label: string): Promise<Round> {
  const rounds: Round[] = [];
  progress(`${label}: starting server (seeding 200,000 orders)`);
  const child = fork(new URL('./http-server.ts', import.meta.url), [], {
    env: { ...process.env, BENCH_MODE: mode },
    execArgv: ['--conditions=@graphql-flight/source', '--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  try {
    const { port } = await request<{ port: number }>(child, 'ready');
    const url = `http://127.0.0.1:${port}/graphql`;
    if (mode === 'response') {
      progress(`${label}: checking that a repeat answers X-Cache: HIT`);
      await checkHit(url);
    }
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`${label}: round ${round}/${ROUNDS} (${SECONDS} s, ${CONNECTIONS} connections)`);
      const before = await salesSummaryQueries(child);
      const result = await autocannon({
        url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        connections: CONNECTIONS,
        duration: SECONDS,
        verifyBody: goodBody,
      });
      // Requests still in flight when autocannon stopped are finished by the server; wait until the
      // count stops moving, and divide by the requests sent (completed or not).
      let after = -1;
      for (let settled = 0; settled < 2; ) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const now = await salesSummaryQueries(child);
        settled = now === after ? settled + 1 : 0;
        after = now;
      }
      const total = result.requests.sent;
      rounds.push({
        requestsPerSec: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        // Every non-2xx body is also a mismatch: socket errors and timeouts + the larger of the two.
        errors: result.errors + Math.max(result.non2xx, result.mismatches),
        queriesPer1000: total === 0 ? 0 : ((after - before) / total) * 1_000,
      });
    }
  } finally {
    if (child.connected) child.send({ type: 'stop' });
  }
  return {
    requestsPerSec: median(rounds.map((r) => r.requestsPerSec)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
    queriesPer1000: median(rounds.map((r) => r.queriesPer1000)),
  };
}

/** bench/run.ts for the HTTP peer scenarios, stdio inherited; resolves with its exit code (1 on timeout). */
function runPeerComparison(): Promise<number> {
  const args = [
    '--conditions=@graphql-flight/source',
    '--expose-gc',
    '--import',
    'tsx',
    fileURLToPath(new URL('./run.ts', import.meta.url)),
  ];
  args.push('--only', 'http-steady,http-burst', ...(quick ? ['--quick'] : []));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: fileURLToPath(new URL('../', import.meta.url)),
      stdio: 'inherit',
    });
    let timedOut = false;
    let hardKill: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => {
      timedOut = true;
      console.error(
        `\nbench:http: the peer comparison ran past ${PEER_TIMEOUT_MS / 60_000} min; stopping it`,
      );
      // Its server processes exit when their IPC channel to it closes.
      child.kill('SIGTERM');
      hardKill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    }, PEER_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(guard);
      console.error(`bench:http: could not start bench/run.ts: ${error.message}`);
      resolve(1);
    });
    child.once('exit', (code) => {
      clearTimeout(guard);
      clearTimeout(hardKill);
      resolve(timedOut ? 1 : (code ?? 1));
    });
  });
}

const measured = {} as Record<Mode, Round>;
for (const { mode, label } of MODES) {
  try {
    measured[mode] = await measure(mode, label);
  } catch (error) {
    progress('');
    console.error(`bench:http: ${label}: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
progress('');

const baseline = measured.none;
const round2 = (value: number) => Math.round(value * 100) / 100;
console.log(
  `\ngraphql-flight HTTP bench — ${new Date().toISOString()} — Node ${process.version} — ${cpus()[0]?.model} x${cpus().length}`,
);
console.log(
  `demo app (src/server.ts), hot query: salesSummary; ${CONNECTIONS} connections, ${SECONDS} s per round, medians of ${ROUNDS} round(s)\n`,
);
console.table(
  Object.fromEntries(
    MODES.map(({ mode, label }) => {
      const r = measured[mode];
      return [
        label,
        {
          'req/s': Math.round(r.requestsPerSec),
          'x baseline': round2(r.requestsPerSec / baseline.requestsPerSec),
          'p50 ms': r.p50,
          'p99 ms': r.p99,
          'db queries / 1,000 req': round2(r.queriesPer1000),
          errors: r.errors,
        },
      ];
    }),
  ),
);
const results = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: `${cpus()[0]?.model} x${cpus().length}`,
  query: 'salesSummary',
  connections: CONNECTIONS,
  secondsPerRound: SECONDS,
  rounds: ROUNDS,
  ...Object.fromEntries(MODES.map(({ mode, key }) => [key, measured[mode]])),
};
if (!quick) {
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  const file = new URL(`./results/http-${results.date.slice(0, 10)}.json`, import.meta.url);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${file.pathname}`);
}
if (MODES.some(({ mode }) => measured[mode].errors > 0)) {
  console.error('some requests failed: see the errors column');
  process.exitCode = 1;
}

console.log(
  '\nPeer comparison (bench/run.ts --only http-steady,http-burst): graphql-flight with its response cache ' +
    'against mercurius + mercurius-cache and graphql-yoga + its response-cache plugin, same query and upstream\n',
);
const peerExit = await runPeerComparison();
if (peerExit !== 0) {
  console.error(`bench:http: the peer comparison failed (exit ${peerExit})`);
  process.exitCode = 1;
}
