import type { FetchAPI, Plugin } from 'graphql-yoga';
import type { BreakerState, FlightCache } from 'graphql-flight';
import type { ShopData } from '../app/data/index.js';

export interface ReadinessOptions {
  data: Pick<ShopData, 'kind' | 'ping'>;
  cache: Pick<FlightCache, 'ping' | 'stats'>;
  /** The last store error, to say why Redis is not ready (see StoreLog.lastError). */
  lastStoreError?: () => string | undefined;
  /** Longest wait for the database's `SELECT 1`; past it the database is reported down. Default 1 000. */
  timeoutMs?: number;
  /** How long one check answers every /ready, so a flood of probes is one query. Default 1 000. */
  maxAgeMs?: number;
  /** Default '/ready'. */
  endpoint?: string;
  /** Monotonic clock in ms (tests inject one). */
  now?: () => number;
}

/** The body of /ready, 200 when `ready`, else 503. */
export interface ReadyReport {
  ready: boolean;
  database: { kind: 'pglite' | 'postgres'; ok: boolean; error?: string };
  cache: { kind: 'memory' | 'redis'; ok: boolean; breaker: BreakerState; error?: string };
}

export interface Readiness {
  /** The report of a check at most `maxAgeMs` old (concurrent callers share one check). */
  check(): Promise<ReadyReport>;
  /** Serves GET/HEAD `endpoint` with the report (on the listener this plugin's Yoga serves). */
  plugin: Plugin;
}

/**
 * Readiness, apart from liveness (Yoga's /health, 200 while the process serves): whether this
 * process can answer as it should right now.
 *
 * - The database: `SELECT 1` answers within `timeoutMs`. A hung database gives 503 after
 *   `timeoutMs`, not a hung probe; at most one `SELECT 1` is outstanding, so repeated probes
 *   against a hung database queue nothing behind it.
 * - Redis (when the cache has it): one PING under the cache's store guard (`cache.ping()`), which
 *   is not ready while the circuit is open or Redis does not answer. The PING is a store call like
 *   any other, so after the breaker's cooldown it is the probe that closes the circuit: a process
 *   an orchestrator took out of rotation (no traffic, so no other store call) still becomes ready
 *   again when Redis is back.
 *
 * Error texts in the body are short (a code such as ECONNREFUSED, or the driver's message): the
 * log has the details.
 */
export function createReadiness(options: ReadinessOptions): Readiness {
  const timeoutMs = options.timeoutMs ?? 1_000;
  const maxAgeMs = options.maxAgeMs ?? 1_000;
  const endpoint = options.endpoint ?? '/ready';
  const now = options.now ?? (() => performance.now());
  let last: { report: ReadyReport; at: number } | undefined;
  let checking: Promise<ReadyReport> | undefined;
  /** The outstanding `SELECT 1`, kept until it settles, however long a hung database takes. */
  let pinging: Promise<void> | undefined;

  async function database(): Promise<ReadyReport['database']> {
    const kind = options.data.kind;
    if (pinging === undefined) {
      const ping = options.data.ping().finally(() => {
        if (pinging === ping) pinging = undefined;
      });
      pinging = ping;
    }
    const outcome = await within(pinging, timeoutMs);
    if (outcome === 'timeout') return { kind, ok: false, error: `no answer within ${timeoutMs} ms` };
    if (outcome !== undefined) return { kind, ok: false, error: describe(outcome.error) };
    return { kind, ok: true };
  }

  async function cache(): Promise<ReadyReport['cache']> {
    const answered = await options.cache.ping();
    const { kind, breaker } = options.cache.stats().store;
    if (answered) return { kind, ok: true, breaker };
    const error =
      breaker === 'open'
        ? 'circuit open'
        : (options.lastStoreError?.() ?? 'no answer within the store deadline');
    return { kind, ok: false, breaker, error };
  }

  function check(): Promise<ReadyReport> {
    if (last !== undefined && now() - last.at < maxAgeMs) return Promise.resolve(last.report);
    if (checking === undefined) {
      checking = Promise.all([database(), cache()])
        .then(([database, cache]) => {
          const report = { ready: database.ok && cache.ok, database, cache };
          last = { report, at: now() };
          return report;
        })
        .finally(() => {
          checking = undefined;
        });
    }
    return checking;
  }

  const plugin: Plugin = {
    onRequest({ request, endResponse, fetchAPI }) {
      if (new URL(request.url).pathname !== endpoint) return;
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return endResponse(json(fetchAPI, 405, { error: 'use GET' }, { allow: 'GET, HEAD' }));
      }
      return check().then((report) => endResponse(json(fetchAPI, report.ready ? 200 : 503, report)));
    },
  };
  return { check, plugin };
}

/** undefined when `pending` resolved in time, `{ error }` when it rejected, 'timeout' past `ms`. */
async function within(
  pending: Promise<void>,
  ms: number,
): Promise<undefined | { error: unknown } | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([
      pending.then(
        () => undefined,
        (error: unknown) => ({ error }),
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A system error's code (ECONNREFUSED: its message would name the address), else the message. */
function describe(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z0-9_]+$/.test(code)) return code;
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
  return message === '' ? 'failed' : message.slice(0, 200);
}

function json(
  fetchAPI: FetchAPI,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new fetchAPI.Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  });
}
