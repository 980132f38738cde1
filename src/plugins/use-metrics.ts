import { performance } from 'node:perf_hooks';
import { getOperationAST } from 'graphql';
import type { FetchAPI, Plugin } from 'graphql-yoga';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { CacheStats } from 'graphql-flight';
import type { OperationStats } from 'graphql-flight/graphql';

/**
 * The server context key that marks a request as arriving on the separate metrics listener
 * (main.ts passes `{ [METRICS_LISTENER]: true }` as the Node handler's context). Clients cannot set
 * a server context, so the mark cannot be forged from outside.
 */
export const METRICS_LISTENER = 'graphqlFlightMetricsListener';

export interface MetricsOptions {
  /** Read on each scrape: the cache, store, flight and fleet figures. */
  cacheStats: () => CacheStats;
  /** Read on each scrape: statements sent to the data source, by statement. */
  queryCounts?: () => Record<string, number>;
  /** Read on each scrape: operation coalescing and the response cache (executions, joins, hits, stores). */
  operationStats?: () => OperationStats;
  /**
   * Decides a scrape on the main listener from its Authorization header (never null here: a
   * request without one is a 401 before this is called). Resolves true to serve, false for a 403;
   * a rejection (a bad or expired token) is a 401, whose `WWW-Authenticate` is the rejection's own
   * when it carries one (a GraphQLError's `extensions.http.headers`).
   */
  authorize: (authorization: string) => Promise<boolean>;
  /** The realm of the `WWW-Authenticate: Bearer` challenge of a 401 (RFC 6750). Default 'graphql-flight'. */
  realm?: string;
  /**
   * True when a separate listener serves /metrics (METRICS_PORT): then only requests marked with
   * METRICS_LISTENER get metrics, without a token, and the main listener does not serve the path.
   */
  separateListener?: boolean;
  /** Default '/metrics'. */
  endpoint?: string;
  /** Requests to this path are counted and timed; default '/graphql'. */
  graphqlEndpoint?: string;
  /** Histogram buckets of the request duration, in seconds. */
  buckets?: number[];
  /**
   * prom-client's default process and Node.js metrics (`process_cpu_seconds_total`,
   * `process_resident_memory_bytes`, `nodejs_heap_size_used_bytes`, `nodejs_eventloop_lag_seconds`,
   * GC durations, ...), unprefixed as dashboards expect them, on this plugin's registry. Default true.
   */
  defaultMetrics?: boolean;
}

const PREFIX = 'graphql_flight_';
const DEFAULT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Values of the X-Cache header (operation coalescing) kept as a label; anything else is "none". */
const CACHE_OUTCOMES = new Set(['hit', 'miss', 'coalesced', 'stale']);

/**
 * /metrics in the Prometheus text format (prom-client), from a Registry of this plugin's own, so
 * several servers in one process never share or clash over a metric.
 *
 * - Figures the cache keeps (`cacheStats()`, `queryCounts()`, `operationStats()`) are read when
 *   scraped, through each metric's `collect`: nothing is counted twice, and a scrape shows the
 *   values of that moment.
 * - HTTP requests to the GraphQL endpoint are counted and timed here, by operation type (from
 *   validation; `unknown` for a request that never parsed), status and X-Cache outcome. The clock
 *   starts in the request instrumentation, which wraps every plugin's `onRequest`, so responses
 *   a plugin ends early are timed too.
 */
export function useMetrics(options: MetricsOptions): Plugin {
  return createMetrics(options).plugin;
}

/** The metrics plugin, and a way to count requests answered before Yoga (the response cache's front door). */
export interface Metrics {
  plugin: Plugin;
  /** Counts and times a response to the GraphQL endpoint that Yoga never saw (an X-Cache: HIT). */
  recordHit(answer: { status: number; startedAt: number; outcome?: 'HIT' | 'COALESCED' | 'STALE' }): void;
}

/** useMetrics, with `recordHit` for the front door (see OperationCoalescing.nodeListener). */
export function createMetrics(options: MetricsOptions): Metrics {
  const endpoint = options.endpoint ?? '/metrics';
  const graphqlEndpoint = options.graphqlEndpoint ?? '/graphql';
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const startedAt = new WeakMap<Request, number>();
  const operationTypes = new WeakMap<Request, string>();

  // One reading of the sources per scrape, taken before the registry collects.
  let cache = options.cacheStats();
  let queries: Record<string, number> = {};
  let operations: OperationStats | undefined;
  const read = () => {
    cache = options.cacheStats();
    queries = options.queryCounts?.() ?? {};
    operations = options.operationStats?.();
  };

  const total = (name: string, help: string, value: () => number) =>
    new Counter({
      name: PREFIX + name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(value());
      },
    });
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({
      name: PREFIX + name,
      help,
      registers: [registry],
      collect() {
        this.set(value());
      },
    });

  total('cache_hits_total', 'Calls (per key) answered from the memory tier.', () => cache.hits);
  total('cache_misses_total', 'Calls (per key) that started or joined a flight.', () => cache.misses);
  total('cache_coalesced_total', 'Misses that joined a flight already in progress.', () => cache.coalesced);
  total('cache_store_hits_total', 'Flights answered by the shared store (Redis).', () => cache.storeHits);
  total('cache_loads_total', 'Keys handed to a data source.', () => cache.loads);
  total('cache_load_errors_total', 'Keys whose load failed (never cached).', () => cache.errors);
  total(
    'cache_stale_hits_total',
    'Calls answered with a stale value (revalidate window, soft purge, error window, soft timeout).',
    () => cache.staleHits,
  );
  total(
    'cache_refreshes_total',
    'Background refreshes started in this process (stale hits and early refreshes).',
    () => cache.refreshes,
  );
  total(
    'cache_early_refreshes_total',
    'Background refreshes started early (XFetch) on a fresh hit.',
    () => cache.earlyRefreshes,
  );
  total(
    'cache_refresh_failures_total',
    'Background refresh attempts that failed (no caller got the error).',
    () => cache.refreshFailures,
  );
  total(
    'cache_stale_if_error_serves_total',
    'Calls answered stale because the load or refresh failed, or the soft timeout passed.',
    () => cache.staleIfErrorServes,
  );
  gauge('cache_entries', 'Entries in the memory tier.', () => cache.entries);
  gauge('cache_bytes', "The memory tier's estimated bytes (at most CACHE_MAX_BYTES).", () => cache.bytes);
  total(
    'cache_evictions_total',
    'Entries the memory tier evicted to stay within its bounds.',
    () => cache.evictions,
  );

  total(
    'store_errors_total',
    'Shared-store calls that failed or missed their deadline.',
    () => cache.storeErrors,
  );
  total(
    'store_skipped_total',
    'Shared-store calls skipped while the circuit was open.',
    () => cache.store.skipped,
  );
  new Gauge({
    name: `${PREFIX}store_breaker_state`,
    help: "The shared store's circuit breaker: 1 for the current state.",
    labelNames: ['kind', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const state of ['closed', 'open', 'half-open'] as const) {
        this.set({ kind: cache.store.kind, state }, cache.store.breaker === state ? 1 : 0);
      }
    },
  });

  gauge('flights_in_flight', 'Flights in progress.', () => cache.flights.inFlight);
  gauge('flights_waiters', 'Callers waiting on the flights in progress.', () =>
    cache.flights.flights.reduce((sum, flight) => sum + flight.waiters, 0),
  );
  gauge(
    'flights_oldest_age_seconds',
    'Age of the oldest flight in progress (0 without one).',
    () => cache.flights.flights.reduce((oldest, flight) => Math.max(oldest, flight.ageMs), 0) / 1_000,
  );
  total(
    'flights_started_total',
    'Flights started (each one execution of a loader).',
    () => cache.flights.started,
  );
  total('flights_joined_total', 'Calls that joined a flight in progress.', () => cache.flights.joined);
  total('flights_succeeded_total', 'Flights that resolved.', () => cache.flights.succeeded);
  total('flights_failed_total', 'Flights that rejected.', () => cache.flights.failed);
  total('flights_timed_out_total', 'Flights that passed their deadline.', () => cache.flights.timedOut);
  total(
    'flights_aborted_total',
    'Flights whose waiters all left before they settled.',
    () => cache.flights.aborted,
  );

  gauge('fleet_enabled', '1 when the cache is on Redis with the fleet lease.', () =>
    cache.fleet.enabled ? 1 : 0,
  );
  total('fleet_leases_won_total', 'Loads this process ran as the fleet leader.', () => cache.fleet.leasesWon);
  total('fleet_waits_total', "Fetches that waited for another process's load.", () => cache.fleet.waits);
  total(
    'fleet_takeovers_total',
    'Leases taken over after the holder died or gave up.',
    () => cache.fleet.takeovers,
  );
  total(
    'fleet_fills_refused_total',
    'Fills Redis refused (lease lost or key invalidated).',
    () => cache.fleet.fillsRefused,
  );
  total('fleet_fallbacks_total', 'Loads made locally because Redis failed.', () => cache.fleet.fallbacks);
  total(
    'fleet_stale_dropped_total',
    'Values read from Redis that an invalidation of one of their tags had retired (dropped there).',
    () => cache.fleet.staleDropped,
  );
  total(
    'invalidations_sent_total',
    'Invalidations Redis acknowledged (each retires its keys and tags in every process).',
    () => cache.invalidations.sent,
  );
  total(
    'invalidations_failed_total',
    'Invalidations Redis did not acknowledge in time (each stays queued and is re-sent).',
    () => cache.invalidations.failed,
  );
  gauge(
    'invalidations_pending',
    'Invalidations queued for Redis now; while one is, this process reads none of its keys or tags from Redis.',
    () => cache.invalidations.pending,
  );
  new Counter({
    name: `${PREFIX}fleet_wakeups_total`,
    help: 'Waiting fetches woken, by message or by poll.',
    labelNames: ['by'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ by: 'message' }, cache.fleet.wakeupsByMessage);
      this.inc({ by: 'poll' }, cache.fleet.wakeupsByPoll);
    },
  });

  new Counter({
    name: `${PREFIX}db_queries_total`,
    help: 'Statements sent to the data source, by statement.',
    labelNames: ['statement'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [statement, count] of Object.entries(queries)) this.inc({ statement }, count);
    },
  });

  if (options.operationStats !== undefined) {
    total(
      'operations_executed_total',
      'Coalescable query operations executed.',
      () => operations?.started ?? 0,
    );
    total(
      'operations_coalesced_total',
      "Requests that shared another request's execution.",
      () => operations?.joined ?? 0,
    );
    total(
      'responses_hits_total',
      'Requests answered from the response cache (304s included).',
      () => operations?.hits ?? 0,
    );
    total(
      'responses_stored_total',
      'Responses written to the response cache.',
      () => operations?.stored ?? 0,
    );
  }

  const labelNames = ['operation_type', 'status', 'cache'] as const;
  const requests = new Counter({
    name: `${PREFIX}http_requests_total`,
    help: 'HTTP requests to the GraphQL endpoint, by operation type, status and X-Cache outcome.',
    labelNames,
    registers: [registry],
  });
  const durations = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'Time from a request to its response headers, by operation type, status and X-Cache outcome.',
    labelNames,
    buckets: options.buckets ?? DEFAULT_BUCKETS,
    registers: [registry],
  });

  async function scrape(fetchAPI: FetchAPI): Promise<Response> {
    read();
    try {
      return new fetchAPI.Response(await registry.metrics(), {
        status: 200,
        headers: { 'content-type': registry.contentType, 'cache-control': 'no-store' },
      });
    } catch {
      return text(fetchAPI, 500, 'metrics are unavailable');
    }
  }

  async function authorizedScrape(request: Request, fetchAPI: FetchAPI): Promise<Response> {
    const authorization = request.headers.get('authorization');
    const challenge = `Bearer realm="${options.realm ?? 'graphql-flight'}"`;
    if (authorization === null || authorization === '') {
      return text(fetchAPI, 401, 'an operator bearer token is required', { 'www-authenticate': challenge });
    }
    let allowed: boolean;
    try {
      allowed = await options.authorize(authorization);
    } catch (error) {
      return text(fetchAPI, 401, 'the token is not valid', {
        'www-authenticate': challengeOf(error) ?? `${challenge}, error="invalid_token"`,
      });
    }
    return allowed ? scrape(fetchAPI) : text(fetchAPI, 403, 'metrics are for operators only');
  }

  const plugin: Plugin = {
    instrumentation: {
      request({ request }, wrapped) {
        startedAt.set(request, performance.now());
        return wrapped();
      },
    },
    onRequest({ request, endResponse, serverContext, fetchAPI }) {
      const path = new URL(request.url).pathname;
      // A plugin that replaced the request: start its clock here.
      if (!startedAt.has(request)) startedAt.set(request, performance.now());
      const onMetricsListener = (serverContext as Record<string, unknown>)[METRICS_LISTENER] === true;
      if (onMetricsListener) {
        // The metrics listener serves nothing else.
        if (path !== endpoint) return endResponse(text(fetchAPI, 404, 'not found'));
      } else if (path !== endpoint || options.separateListener === true) {
        return;
      }
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return endResponse(text(fetchAPI, 405, 'use GET', { allow: 'GET, HEAD' }));
      }
      return (onMetricsListener ? scrape(fetchAPI) : authorizedScrape(request, fetchAPI)).then(endResponse);
    },
    onValidate({ context, params }) {
      const operation = getOperationAST(params.documentAST, context.params?.operationName ?? undefined);
      if (operation) operationTypes.set(context.request, operation.operation);
    },
    onResponse({ request, response }) {
      if (new URL(request.url).pathname !== graphqlEndpoint) return;
      const outcome = response.headers.get('x-cache')?.toLowerCase();
      const cache = outcome !== undefined && CACHE_OUTCOMES.has(outcome) ? outcome : 'none';
      const labels = {
        // A coalesced or cached response never validated in this request; only queries share one.
        operation_type: operationTypes.get(request) ?? (cache === 'none' ? 'unknown' : 'query'),
        status: String(response.status),
        cache,
      };
      requests.inc(labels);
      const started = startedAt.get(request);
      if (started !== undefined) durations.observe(labels, (performance.now() - started) / 1_000);
    },
  };
  return {
    plugin,
    recordHit({ status, startedAt, outcome = 'HIT' }) {
      const labels = { operation_type: 'query', status: String(status), cache: outcome.toLowerCase() };
      requests.inc(labels);
      durations.observe(labels, (performance.now() - startedAt) / 1_000);
    },
  };
}

/** The `WWW-Authenticate` an error carries in `extensions.http.headers` (as Yoga reads it), if any. */
function challengeOf(error: unknown): string | undefined {
  const headers = (error as { extensions?: { http?: { headers?: Record<string, unknown> } } } | null)
    ?.extensions?.http?.headers;
  if (headers === undefined || headers === null) return undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'www-authenticate' && typeof value === 'string') return value;
  }
  return undefined;
}

function text(
  fetchAPI: FetchAPI,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): Response {
  return new fetchAPI.Response(`${body}\n`, {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers },
  });
}
