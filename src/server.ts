import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { BEARER_REALM, verifyViewer } from './app/auth.js';
import { type AppContext, createLoaders } from './app/context.js';
import { type OpenShopDataOptions, openShopData, type ShopData } from './app/data/index.js';
import { buildSchema } from './app/schema.js';
import { createCache, type FlightCache } from 'graphql-flight';
import type { Config } from './config.js';
import { createHardeningPlugins, executionSignal, resolveLimits } from './plugins/hardening.js';
import { createMetrics } from './plugins/use-metrics.js';
import { createGraphiQLOptions, renderGraphiQL } from './graphiql.js';
import { useRateLimit } from './plugins/rate-limit.js';
import {
  DEFAULT_RATE_LIMIT,
  MemoryRateLimiter,
  type RateLimiter,
  RedisRateLimiter,
} from './plugins/rate-limiter.js';
import { createReadiness, type Readiness } from './plugins/readiness.js';
import { createStoreLog, type LogLine } from './plugins/store-log.js';
import { OperationCoalescing, readsOf } from 'graphql-flight/graphql';

/**
 * The key of the cache's Redis digests, derived from the token secret: every server of a fleet
 * (one AUTH_SECRET) names keys alike, and nobody without the secret can confirm a guessed key
 * (a customer id) in Redis.
 */
export function cacheKeySecret(authSecret: Uint8Array): string {
  return createHmac('sha256', authSecret).update('graphql-flight cache key digests').digest('base64url');
}

/**
 * How far past the execution deadline the flights of the server's cache and of operation
 * coalescing run: an operation's own deadline (503 EXECUTION_TIMEOUT) always answers first.
 */
export const FLIGHT_DEADLINE_MARGIN_MS = 1_000;

/**
 * The database could not be opened at start (unreachable, refused, or its setup failed). The
 * message names it (host, port and database, never a password) and why; `cause` is the driver's error.
 */
export class DatabaseOpenError extends Error {
  readonly code = 'E_DATABASE_OPEN';
  constructor(databaseUrl: string | undefined, cause: unknown) {
    let where = 'the embedded PGlite';
    if (databaseUrl !== undefined) {
      try {
        const url = new URL(databaseUrl);
        where = `PostgreSQL at ${url.hostname}:${url.port || '5432'}${url.pathname}`;
      } catch {
        where = 'PostgreSQL';
      }
    }
    // An AggregateError (every address of a name refused) has an empty message, but a code.
    const message = (cause instanceof Error ? cause.message : String(cause)).replace(/\s+/g, ' ').trim();
    const code = (cause as { code?: unknown } | null)?.code;
    super(`cannot open ${where}: ${message || (typeof code === 'string' ? code : 'failed')}`, { cause });
    this.name = 'DatabaseOpenError';
  }
}

/** What createServer needs: the validated config, and for tests, a few overrides. */
export interface ServerOptions {
  config: Pick<Config, 'nodeEnv' | 'redisUrl' | 'databaseUrl' | 'authSecret'> &
    Partial<Pick<Config, 'databaseSchema' | 'metricsPort' | 'responseCache' | 'cacheMaxBytes'>> &
    Partial<Pick<Config, 'tokenMaxLifetimeSeconds'>> &
    Partial<Pick<Config, 'rateLimit'>> &
    Partial<Pick<Config, 'cacheNamespace'>> & {
      /** Limits of the HTTP edge; each one absent takes its default (DEFAULT_LIMITS). */
      limits?: Partial<Config['limits']>;
    };
  /** Demo seed sizes and Postgres schema (tests use small seeds and a schema of their own). */
  data?: Pick<OpenShopDataOptions, 'seed' | 'schema'>;
  /** A cache to use instead of one built from the config (tests, or a shared one). */
  cache?: FlightCache;
  /** The monotonic clock of the cache built from the config (tests inject one). Default performance.now. */
  cacheClock?: () => number;
  /** Set false to ignore `cache` field options (the benchmark's baseline). Default true. */
  fieldCache?: boolean;
  /** A mutation rate limiter to use instead of one built from the config (tests inject a clock). */
  rateLimiter?: RateLimiter;
  /**
   * Where operational lines go (store errors, rate-limited, and circuit-breaker changes; see
   * src/plugins/store-log.ts). Default: the console (warn to stderr, info to stdout), silent when
   * NODE_ENV=test.
   */
  log?: LogLine;
}

export interface Server {
  yoga: YogaServerInstance<Record<string, unknown>, AppContext>;
  /**
   * The node:http request listener to serve: response-cache hits are answered in front of Yoga
   * (OperationCoalescing.nodeListener), everything else goes to `yoga`.
   */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  cache: FlightCache;
  data: ShopData;
  /** Identical concurrent query operations execute once, and public ones are cached whole (X-Cache). */
  coalescing: OperationCoalescing;
  /** The mutation rate limiter (src/plugins/rate-limit.ts); undefined when the limit is off. */
  rateLimiter: RateLimiter | undefined;
  /** What /ready answers: the database's `SELECT 1` and Redis's PING (src/plugins/readiness.ts). */
  readiness: Readiness;
  /** Closes the cache, the rate limiter (their Redis connections) and the database. Call after the HTTP server stopped. */
  close(): Promise<void>;
}

/**
 * Builds the schema, the cache, the data source and Yoga, and never listens or reads
 * process.env: main.ts does that. Every request gets its own context: the verified viewer and
 * fresh DataLoaders, over the one process-wide cache and single flight.
 */
export async function createServer(options: ServerOptions): Promise<Server> {
  const { config } = options;
  const schema = buildSchema({ fieldCache: options.fieldCache !== false });
  const limits = resolveLimits(config.limits);
  const data = await openShopData({
    ...(config.databaseUrl === undefined ? {} : { databaseUrl: config.databaseUrl }),
    // The database ends a statement itself at the execution deadline, even one nobody cancelled.
    statementTimeoutMs: limits.executionTimeoutMs,
    ...(config.databaseSchema === undefined ? {} : { schema: config.databaseSchema }),
    ...options.data,
  }).catch((error: unknown) => {
    throw new DatabaseOpenError(config.databaseUrl, error);
  });
  const log: LogLine =
    options.log ??
    (config.nodeEnv === 'test'
      ? () => {}
      : (level, line) => (level === 'warn' ? console.warn(line) : console.log(line)));
  const storeLog = createStoreLog({ log });
  const cache =
    options.cache ??
    createCache({
      // A flight outlives the execution deadline a little, so a hung data source is answered by
      // the execution's 503 EXECUTION_TIMEOUT, never by a flight timeout before it.
      timeoutMs: limits.executionTimeoutMs + FLIGHT_DEADLINE_MARGIN_MS,
      ...(config.cacheMaxBytes === undefined ? {} : { maxBytes: config.cacheMaxBytes }),
      onRefreshError: (error) => storeLog.refreshError(error),
      ...(options.cacheClock === undefined ? {} : { now: options.cacheClock }),
      ...(config.redisUrl === undefined
        ? {}
        : {
            redisUrl: config.redisUrl,
            secret: cacheKeySecret(config.authSecret),
            namespace: config.cacheNamespace ?? 'gf',
            onStoreError: (error) => storeLog.error(error),
            onStoreStateChange: (change) => storeLog.stateChange(change),
          }),
    });
  const fingerprintSecret = randomBytes(32);
  // Every reader of a token applies the same policy: the context, the response cache, /metrics.
  const tokenPolicy = { maxLifetimeSeconds: config.tokenMaxLifetimeSeconds };

  // Envelop/Yoga plugins, in order. Hardening (limits, masking, introspection) and metrics are
  // added here; operation coalescing and the response cache sit first so a hit is answered
  // before anything else runs (metrics still time it: their clock starts in the instrumentation).
  const coalescing = new OperationCoalescing({
    responseCache:
      config.responseCache === false
        ? false
        : {
            cache,
            // A public cached response goes to anonymous requests and to valid tokens; a bad token
            // runs through Yoga and gets its 401.
            authorize: async (authorization) =>
              (await verifyViewer(authorization, config.authSecret, tokenPolicy)) !== null,
            maxBodyBytes: limits.maxBodyBytes,
          },
    // Past Yoga's own execution deadline, so that an execution's 503 is what its waiters share.
    timeoutMs: limits.executionTimeoutMs + FLIGHT_DEADLINE_MARGIN_MS,
  });
  const operationStats = () => coalescing.stats();
  const metrics = createMetrics({
    cacheStats: () => cache.stats(),
    queryCounts: () => data.queryCounts(),
    operationStats,
    // Operators only, as flightStats; a bad or expired token rejects (a 401).
    authorize: async (authorization) =>
      (await verifyViewer(authorization, config.authSecret, tokenPolicy))?.operator === true,
    realm: BEARER_REALM,
    separateListener: config.metricsPort !== undefined,
  });
  // Mutations per viewer (issue 12): Redis makes the budgets fleet-wide, under the cache's namespace.
  const rateLimit = config.rateLimit ?? DEFAULT_RATE_LIMIT;
  const rateLimiter =
    options.rateLimiter ??
    (rateLimit === false
      ? undefined
      : config.redisUrl === undefined
        ? new MemoryRateLimiter({ limit: rateLimit })
        : new RedisRateLimiter({
            limit: rateLimit,
            url: config.redisUrl,
            namespace: cache.namespace,
            secret: cacheKeySecret(config.authSecret),
            onStateChange: (message) => yoga.logger.warn(message),
            onError: () => {},
          }));
  const plugins: Array<Plugin | Plugin<AppContext>> = [
    coalescing.plugin(),
    ...createHardeningPlugins<AppContext>({
      limits,
      production: config.nodeEnv === 'production',
    }),
    metrics.plugin,
    ...(rateLimiter === undefined ? [] : [useRateLimit<AppContext>({ limiter: rateLimiter })]),
  ];
  // /ready, beside Yoga's /health (liveness). Last, so the metrics listener's 404 for any other
  // path comes first: readiness is served on PORT only.
  const readiness = createReadiness({ data, cache, lastStoreError: () => storeLog.lastError });
  plugins.push(readiness.plugin);

  const yoga = createYoga<Record<string, unknown>, AppContext>({
    schema,
    plugins,
    // Served by the server itself, with the shop's operations as tabs (src/graphiql.ts).
    graphiql: config.nodeEnv === 'development' ? createGraphiQLOptions() : false,
    renderGraphiQL,
    landingPage: false,
    // Unexpected errors reach clients as "Unexpected error." with no stack or message.
    maskedErrors: true,
    logging: config.nodeEnv === 'test' ? false : 'info',
    // Yoga extends the object it passes here into the context resolvers get: the loaders hand
    // what this request reads to the response cache through it (readsOf).
    context: async (initial) => ({
      cache,
      data,
      viewer: await verifyViewer(
        initial.request.headers.get('authorization'),
        config.authSecret,
        tokenPolicy,
      ),
      loaders: createLoaders(
        cache,
        data,
        () => readsOf(initial),
        () => executionSignal(initial),
      ),
      fingerprintSecret,
      operationStats,
    }),
  });

  let closed = false;
  return {
    yoga,
    handler: coalescing.nodeListener(yoga, (answer) => metrics.recordHit(answer)),
    cache,
    data,
    coalescing,
    rateLimiter,
    readiness,
    async close() {
      if (closed) return;
      closed = true;
      storeLog.close();
      await Promise.allSettled([cache.close(), data.close(), rateLimiter?.close()]);
    },
  };
}
