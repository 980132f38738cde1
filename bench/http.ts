/**
 * HTTP benchmark, `npm run bench:http` (`-- --quick` for a smoke run): the hot `salesSummary`
 * query (an aggregate over every order) served by graphql-flight with and without its field
 * cache, under autocannon with 100 connections on loopback. Each server runs in its own process
 * on the default embedded seed (1,000 products, 1,000 customers, 200,000 orders). Reports
 * requests/s, latency and database queries per 1,000 requests, medians of several rounds.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import autocannon from 'autocannon';
import { print } from 'graphql';
import { SalesSummaryDocument } from '../tests/generated/graphql.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 1 : 3;
const SECONDS = quick ? 2 : 8;
const CONNECTIONS = 100;
const body = JSON.stringify({ query: print(SalesSummaryDocument) });

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
const progress = (text: string) => process.stderr.write(`\r\x1b[K${text}`);

function request<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (message: { type: string } & T) => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
    if (type !== 'ready') child.send({ type });
  });
}

async function measure(label: string, fieldCache: boolean): Promise<Round> {
  const rounds: Round[] = [];
  progress(`${label}: starting server (seeding 200,000 orders)`);
  const child = fork(new URL('./http-server.ts', import.meta.url), [], {
    env: { ...process.env, BENCH_FIELD_CACHE: fieldCache ? '1' : '0' },
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  try {
    const { port } = await request<{ port: number }>(child, 'ready');
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`${label}: round ${round}/${ROUNDS} (${SECONDS} s, ${CONNECTIONS} connections)`);
      const before =
        (await request<{ counts: Record<string, number> }>(child, 'counts')).counts.salesSummary ?? 0;
      const result = await autocannon({
        url: `http://127.0.0.1:${port}/graphql`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        connections: CONNECTIONS,
        duration: SECONDS,
      });
      // Requests still in flight when autocannon stopped are finished by the server; wait until the
      // count stops moving, and divide by the requests sent (completed or not).
      let after = -1;
      for (let settled = 0; settled < 2; ) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const now =
          (await request<{ counts: Record<string, number> }>(child, 'counts')).counts.salesSummary ?? 0;
        settled = now === after ? settled + 1 : 0;
        after = now;
      }
      const total = result.requests.sent;
      rounds.push({
        requestsPerSec: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors + result.non2xx,
        queriesPer1000: total === 0 ? 0 : ((after - before) / total) * 1_000,
      });
    }
  } finally {
    child.send({ type: 'stop' });
  }
  return {
    requestsPerSec: median(rounds.map((r) => r.requestsPerSec)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
    queriesPer1000: median(rounds.map((r) => r.queriesPer1000)),
  };
}

const withCache = await measure('with field cache', true);
const withoutCache = await measure('without field cache', false);
progress('');

const round2 = (value: number) => Math.round(value * 100) / 100;
console.log(
  `\ngraphql-flight HTTP bench — ${new Date().toISOString()} — Node ${process.version} — ${cpus()[0]?.model} x${cpus().length}`,
);
console.log(
  `hot query: salesSummary; ${CONNECTIONS} connections, ${SECONDS} s per round, medians of ${ROUNDS} round(s)\n`,
);
const rows = { 'without field cache': withoutCache, 'with field cache': withCache };
console.table(
  Object.fromEntries(
    Object.entries(rows).map(([name, r]) => [
      name,
      {
        'req/s': Math.round(r.requestsPerSec),
        'x baseline': round2(r.requestsPerSec / withoutCache.requestsPerSec),
        'p50 ms': r.p50,
        'p99 ms': r.p99,
        'db queries / 1,000 req': round2(r.queriesPer1000),
        errors: r.errors,
      },
    ]),
  ),
);
const results = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: `${cpus()[0]?.model} x${cpus().length}`,
  connections: CONNECTIONS,
  secondsPerRound: SECONDS,
  rounds: ROUNDS,
  withFieldCache: withCache,
  withoutFieldCache: withoutCache,
};
if (!quick) {
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  const file = new URL(`./results/http-${results.date.slice(0, 10)}.json`, import.meta.url);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${file.pathname}`);
}
if (withCache.errors + withoutCache.errors > 0) {
  console.error('some requests failed: see the errors column');
  process.exitCode = 1;
}
