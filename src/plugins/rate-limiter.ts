import { createHash, createHmac } from 'node:crypto';
import { createClient } from '@redis/client';
import { InvalidOptionError } from 'graphql-flight';

/**
 * A token bucket per key (issue 12): `burst` tokens, refilled at `perSecond`. A full bucket lets
 * `burst` mutations through at once; after that one passes every 1/perSecond seconds, and an idle
 * key is back to a full bucket after burst/perSecond seconds. There is no window: whatever the
 * moment, no span of t seconds lets more than `burst + t * perSecond` through.
 */
export interface RateLimit {
  /** RATE_LIMIT_BURST: the bucket's size, an integer from 1 to 1,000,000. */
  burst: number;
  /** RATE_LIMIT_PER_SECOND: tokens refilled per second, from 0.001 to 1,000,000 (decimals allowed). */
  perSecond: number;
}

/** The default: ten concurrent orders from one customer pass, a flood does not. */
export const DEFAULT_RATE_LIMIT: Readonly<RateLimit> = Object.freeze({ burst: 20, perSecond: 2 });

/** What a consume decided. `retryAfterMs` is when the same cost would pass (Infinity: never). */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface RateLimiterStats {
  kind: 'memory' | 'redis';
  allowed: number;
  refused: number;
  /** Redis only: consumes the process's own bucket decided because Redis failed or was too slow. */
  fallbacks: number;
}

/** Takes tokens from a key's bucket. */
export interface RateLimiter {
  readonly limit: RateLimit;
  /** Takes `cost` tokens from `key`'s bucket if it holds them; takes nothing otherwise. Never rejects. */
  consume(key: string, cost: number): Promise<RateDecision>;
  stats(): RateLimiterStats;
  /** Releases the limiter's connection (Redis). Idempotent. */
  close(): Promise<void>;
}

/** `limit` validated; InvalidOptionError names the option and the value received. */
export function resolveRateLimit(limit: RateLimit): RateLimit {
  const { burst, perSecond } = limit;
  if (!Number.isSafeInteger(burst) || burst < 1 || burst > 1_000_000) {
    throw new InvalidOptionError('rateLimit.burst', 'an integer from 1 to 1000000', burst);
  }
  if (typeof perSecond !== 'number' || !(perSecond >= 0.001 && perSecond <= 1_000_000)) {
    throw new InvalidOptionError('rateLimit.perSecond', 'a number from 0.001 to 1000000', perSecond);
  }
  return { burst, perSecond };
}

/**
 * GCRA (the generic cell rate algorithm), the token bucket kept as one number per key: the
 * theoretical arrival time `tat`, when the bucket is full again. Times are integer microseconds,
 * so the memory and Redis limiters decide alike. Taking `cost` tokens at `now`:
 *   next = max(tat, now) + cost * interval; allowed iff next - burst * interval <= now.
 * The Lua script below is the same computation on Redis's clock.
 */
function gcra(
  tat: number | undefined,
  now: number,
  interval: number,
  burst: number,
  cost: number,
): { next: number } | { retryAfterUs: number } {
  const next = Math.max(tat ?? now, now) + cost * interval;
  const allowAt = next - burst * interval;
  return allowAt > now ? { retryAfterUs: allowAt - now } : { next };
}

function intervalUs(limit: RateLimit): number {
  return Math.max(1, Math.round(1_000_000 / limit.perSecond));
}

/** A cost above the burst never passes, however long the caller waits. */
function neverPasses(limit: RateLimit, cost: number): boolean {
  return cost > limit.burst;
}

export interface MemoryRateLimiterOptions {
  limit: RateLimit;
  /** The clock, in milliseconds (monotonic; tests inject one). Default: performance.now(). */
  now?: () => number;
  /**
   * Keys held at most (default 100,000). Past it, keys whose bucket is full again are dropped, then
   * the least recently used: a dropped key starts again with a full bucket.
   */
  maxKeys?: number;
}

/** The token bucket of each key in this process. */
export class MemoryRateLimiter implements RateLimiter {
  readonly limit: RateLimit;
  readonly #interval: number;
  readonly #now: () => number;
  readonly #maxKeys: number;
  /** Each key's tat (µs), in order of last use. */
  readonly #tats = new Map<string, number>();
  #allowed = 0;
  #refused = 0;

  constructor(options: MemoryRateLimiterOptions) {
    this.limit = resolveRateLimit(options.limit);
    this.#interval = intervalUs(this.limit);
    this.#now = options.now ?? (() => performance.now());
    this.#maxKeys = options.maxKeys ?? 100_000;
    if (!Number.isSafeInteger(this.#maxKeys) || this.#maxKeys < 1) {
      throw new InvalidOptionError('maxKeys', 'a positive integer', options.maxKeys);
    }
  }

  /** Synchronous: concurrent callers are decided one after the other, each on the bucket as the last left it. */
  decide(key: string, cost: number): RateDecision {
    if (neverPasses(this.limit, cost)) return this.#refuse(Number.POSITIVE_INFINITY);
    const now = Math.floor(this.#now() * 1_000);
    const decision = gcra(this.#tats.get(key), now, this.#interval, this.limit.burst, cost);
    if ('retryAfterUs' in decision) return this.#refuse(decision.retryAfterUs / 1_000);
    this.#tats.delete(key);
    this.#tats.set(key, decision.next);
    if (this.#tats.size > this.#maxKeys) this.#shrink(now);
    this.#allowed++;
    return { allowed: true };
  }

  async consume(key: string, cost: number): Promise<RateDecision> {
    return this.decide(key, cost);
  }

  stats(): RateLimiterStats {
    return { kind: 'memory', allowed: this.#allowed, refused: this.#refused, fallbacks: 0 };
  }

  /** Keys held now (full buckets are dropped only when the map is over maxKeys). */
  get size(): number {
    return this.#tats.size;
  }

  async close(): Promise<void> {}

  #refuse(retryAfterMs: number): RateDecision {
    this.#refused++;
    return { allowed: false, retryAfterMs };
  }

  /** Drops full buckets, then the least recently used, down to 90% of maxKeys. */
  #shrink(now: number): void {
    for (const [key, tat] of this.#tats) if (tat <= now) this.#tats.delete(key);
    const target = Math.floor(this.#maxKeys * 0.9);
    for (const key of this.#tats.keys()) {
      if (this.#tats.size <= target) break;
      this.#tats.delete(key);
    }
  }
}

/**
 * The GCRA step on Redis's clock (TIME), so that no process compares its clock with another's.
 * KEYS[1] the bucket; ARGV: interval (µs), burst, cost. Returns {1, 0} when allowed (the new tat
 * stored, expiring when the bucket is full again), {0, µs until the cost would pass} otherwise.
 * Redis 5+ replicates a script's effects, so TIME before a write is allowed.
 */
const GCRA_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local nextTat = tat + cost * interval
local allowAt = nextTat - burst * interval
if allowAt > now then return {0, allowAt - now} end
redis.call('SET', KEYS[1], string.format('%.0f', nextTat), 'PX', math.ceil((nextTat - now) / 1000))
return {1, 0}
`;
const GCRA_SHA = createHash('sha1').update(GCRA_SCRIPT).digest('hex');

export interface RedisRateLimiterOptions {
  limit: RateLimit;
  /** redis:// or rediss:// URL; the limiter opens a connection of its own. */
  url: string;
  /** Bucket keys are `<namespace>:{<digest>}:r` (the cache's namespace and layout). */
  namespace: string;
  /**
   * Key of the digests (HMAC-SHA256), e.g. the cache's (cacheKeySecret): a viewer's id is never in
   * the clear in Redis, and nobody without the secret can confirm a guessed one.
   */
  secret: string;
  /** A consume that Redis has not answered in this time is decided by the fallback. Default 200 ms. */
  timeoutMs?: number;
  /** After a failure, Redis is tried again only after this time (default 1 s); meanwhile the fallback decides. */
  retryMs?: number;
  /** Logs Redis's state changes (unavailable, answering again), once each. */
  onStateChange?: (message: string) => void;
  /** Receives connection errors (logged by the caller; an unlistened error event would crash). */
  onError?: (error: unknown) => void;
  /** The process's own buckets, used while Redis fails (default: a MemoryRateLimiter of `limit`). */
  fallback?: MemoryRateLimiter;
}

/**
 * The token bucket of each key in Redis: every process on the same Redis and namespace shares one
 * budget per key. The step runs as one script on Redis's clock (atomic, so concurrent processes
 * never both take the last token).
 *
 * Faults: a consume is bounded by `timeoutMs`. When Redis fails, is unreachable or answers too
 * late, the process's own bucket (the fallback, the same limit) decides instead, and Redis is left
 * alone for `retryMs`: a dead or frozen Redis neither hangs a mutation nor opens the gate, and a
 * fleet of N processes lets at most N budgets through while it lasts. The connection has no offline
 * queue (a disconnected client fails at once) and a socket timeout (a frozen server is dropped).
 */
export class RedisRateLimiter implements RateLimiter {
  readonly limit: RateLimit;
  readonly #interval: number;
  readonly #namespace: string;
  readonly #secret: string;
  readonly #timeoutMs: number;
  readonly #retryMs: number;
  readonly #fallback: MemoryRateLimiter;
  readonly #onStateChange: (message: string) => void;
  readonly #client;
  readonly #ready: Promise<void>;
  /**
   * Settles when the first connection attempt has: true once Redis is ready, false when it failed.
   * Consumes before it wait for it (under their timeout), so callers need not.
   */
  readonly connected: Promise<boolean>;
  /** When Redis may be tried again after a failure (performance.now()); 0: Redis is healthy. */
  #retryAt = 0;
  #closed = false;
  #allowed = 0;
  #refused = 0;
  #fallbacks = 0;

  constructor(options: RedisRateLimiterOptions) {
    this.limit = resolveRateLimit(options.limit);
    this.#interval = intervalUs(this.limit);
    if (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url)) {
      throw new InvalidOptionError('url', 'a redis:// or rediss:// URL', options.url);
    }
    this.#namespace = options.namespace;
    this.#secret = options.secret;
    this.#timeoutMs = options.timeoutMs ?? 200;
    this.#retryMs = options.retryMs ?? 1_000;
    for (const [name, value] of [
      ['timeoutMs', this.#timeoutMs],
      ['retryMs', this.#retryMs],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 1)
        throw new InvalidOptionError(name, 'a positive integer', value);
    }
    this.#fallback = options.fallback ?? new MemoryRateLimiter({ limit: this.limit });
    this.#onStateChange = options.onStateChange ?? (() => {});
    const onError = options.onError ?? (() => {});
    const socketTimeout = Math.max(1_000, this.#timeoutMs * 5);
    this.#client = createClient({
      url: options.url,
      name: 'graphql-flight-rate-limit',
      disableOfflineQueue: true,
      // An idle connection is kept busy so the socket timeout drops only a server that answers nothing.
      pingInterval: Math.floor(socketTimeout / 2),
      socket: {
        connectTimeout: socketTimeout,
        socketTimeout,
        reconnectStrategy: (retries: number) =>
          Math.min(50 * 2 ** retries, 500) + Math.floor(Math.random() * 50),
      },
    });
    this.#client.on('error', onError);
    this.connected = new Promise<boolean>((resolve) => {
      this.#client.once('ready', () => resolve(true));
      this.#client.once('error', () => resolve(false));
    });
    this.#ready = this.connected.then(() => {});
    this.#client.connect().catch(onError);
  }

  async consume(key: string, cost: number): Promise<RateDecision> {
    if (neverPasses(this.limit, cost)) return this.#count(this.#fallback.decide(key, cost));
    if (this.#closed || performance.now() < this.#retryAt) return this.#useFallback(key, cost);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#timeoutMs);
    });
    const call = this.#ready.then(() => this.#eval(this.#bucketKey(key), cost));
    try {
      const reply = await Promise.race([call, timeout]);
      if (reply === 'timeout') {
        call.catch(() => {});
        return this.#failed(new Error(`Redis did not answer within ${this.#timeoutMs} ms`), key, cost);
      }
      if (this.#retryAt !== 0) {
        this.#retryAt = 0;
        this.#onStateChange('rate limit: Redis answers again; the fleet-wide budgets are back');
      }
      const [allowed, retryAfterUs] = reply;
      return this.#count(
        allowed === 1 ? { allowed: true } : { allowed: false, retryAfterMs: retryAfterUs / 1_000 },
      );
    } catch (error) {
      return this.#failed(error, key, cost);
    } finally {
      clearTimeout(timer);
    }
  }

  stats(): RateLimiterStats {
    return { kind: 'redis', allowed: this.#allowed, refused: this.#refused, fallbacks: this.#fallbacks };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.on('error', () => {});
    if (this.#client.isOpen) this.#client.destroy();
  }

  /** The Redis key of a bucket: no key in the clear, the cache's layout (`r\0` keeps it apart from cache digests). */
  #bucketKey(key: string): string {
    const digest = createHmac('sha256', this.#secret).update('r').update('\0').update(key);
    return `${this.#namespace}:{${digest.digest('base64url').slice(0, 22)}}:r`;
  }

  /** EVALSHA, and EVAL when Redis's script cache does not hold it (first call, restart). */
  async #eval(bucket: string, cost: number): Promise<[number, number]> {
    const options = {
      keys: [bucket],
      arguments: [String(this.#interval), String(this.limit.burst), String(cost)],
    };
    try {
      return (await this.#client.evalSha(GCRA_SHA, options)) as [number, number];
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      return (await this.#client.eval(GCRA_SCRIPT, options)) as [number, number];
    }
  }

  #failed(error: unknown, key: string, cost: number): RateDecision {
    if (this.#retryAt === 0) {
      this.#onStateChange(
        `rate limit: Redis unavailable (${(error as Error)?.message ?? String(error)}); each process limits mutations on its own until it answers`,
      );
    }
    this.#retryAt = performance.now() + this.#retryMs;
    return this.#useFallback(key, cost);
  }

  #useFallback(key: string, cost: number): RateDecision {
    this.#fallbacks++;
    return this.#count(this.#fallback.decide(key, cost));
  }

  #count(decision: RateDecision): RateDecision {
    if (decision.allowed) this.#allowed++;
    else this.#refused++;
    return decision;
  }
}
