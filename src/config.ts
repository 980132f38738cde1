/**
 * The only reader of process.env: reads and validates the environment once. Every error names the
 * variable and what it must be.
 */

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { DEFAULT_LIMITS, type HardeningLimits } from './plugins/hardening.js';
import { DEFAULT_TOKEN_MAX_LIFETIME, parseDuration } from './app/auth.js';
import { DEFAULT_RATE_LIMIT, type RateLimit } from './plugins/rate-limiter.js';

export interface Config {
  nodeEnv: 'development' | 'production' | 'test';
  port: number;
  /** HOST: the address PORT listens on (an IP address or a hostname); unset: every interface. */
  host: string | undefined;
  /** Redis to share the cache through; unset: the bounded in-process memory tier. */
  redisUrl: string | undefined;
  /** PostgreSQL to use; unset: an embedded PGlite seeded with the demo data. */
  databaseUrl: string | undefined;
  /** PostgreSQL schema for the demo tables (created and seeded when absent); unset: the default. */
  databaseSchema: string | undefined;
  /** HS256 secret for viewer tokens (at least 32 bytes). */
  authSecret: Uint8Array;
  /** True when AUTH_SECRET was not set and the development secret is in use. */
  devSecret: boolean;
  /** TOKEN_MAX_LIFETIME in seconds: a token that could live longer (exp - iat, or exp - now) is refused. */
  tokenMaxLifetimeSeconds: number;
  /** Limits of the HTTP edge (src/plugins/hardening.ts); each one from its variable, else its default. */
  limits: HardeningLimits;
  /**
   * Port of a separate listener that serves only /metrics, without a token (the network guards it).
   * Unset: /metrics is served on PORT to operators only (a bearer token with the operator role).
   */
  metricsPort: number | undefined;
  /** METRICS_HOST: the address METRICS_PORT listens on; default 127.0.0.1 (loopback only). */
  metricsHost: string;
  /**
   * CACHE_NAMESPACE: the prefix of every Redis key and the fleet's channel (default `gf`): two
   * deployments on one Redis keep apart with two namespaces.
   */
  cacheNamespace: string;
  /** RESPONSE_CACHE: whether public query responses are cached whole (on unless set to `off`). */
  responseCache: boolean;
  /** CACHE_MAX_BYTES: the memory tier's bound, by estimate (README, "Sizing memory"); unset: 64 MiB. */
  cacheMaxBytes: number | undefined;
  /**
   * RATE_LIMIT_BURST and RATE_LIMIT_PER_SECOND: each viewer's token bucket for mutations (default
   * 20 at once, then 2 per second); false when either is `off`.
   */
  rateLimit: RateLimit | false;
}

export class ConfigError extends Error {
  readonly code = 'E_CONFIG';
  constructor(variable: string, expected: string, received: string) {
    super(`${variable} must be ${expected}; received ${JSON.stringify(received)}`);
    this.name = 'ConfigError';
  }
}

/** A `.env` file that cannot be read, or with a line that is not `NAME=value`. */
export class EnvFileError extends Error {
  readonly code = 'E_ENV_FILE';
  constructor(path: string, detail: string) {
    super(`${path}: ${detail}`);
    this.name = 'EnvFileError';
  }
}

/** Public on purpose: it only exists so `npm start` works on a fresh clone. Refused in production. */
export const DEVELOPMENT_SECRET = 'graphql-flight-development-secret-not-for-production';

/**
 * The process's variables: `.env` in `dir` (default: the working directory), if there is one,
 * under process.env: a variable set in the environment, even to the empty string, wins over the
 * file. Throws EnvFileError for a file that cannot be read or has a malformed line.
 */
export function environment(dir: string = process.cwd()): Record<string, string | undefined> {
  return { ...readEnvFile(join(dir, '.env')), ...process.env };
}

/**
 * The variables of a `.env` file (Node's own parser, `util.parseEnv`, as `node --env-file` reads
 * it), or undefined when there is no such file. That parser skips what it cannot read, so a
 * line with a typo (`PORT 4000`) would silently set nothing (or join the next line's name):
 * every line must first be blank, a `#` comment, or `NAME=value` (`export NAME=value` too), with a
 * quoted value allowed to span lines until its closing quote.
 */
export function readEnvFile(path: string): Record<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new EnvFileError(path, `cannot be read (${code ?? String(error)})`);
  }
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const assignment = /^(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=(.*)$/.exec(line);
    if (assignment === null) throw new EnvFileError(path, `line ${i + 1} is not NAME=value`);
    const value = (assignment[1] ?? '').trim();
    const quote = value[0];
    if ((quote === '"' || quote === "'" || quote === '`') && value.indexOf(quote, 1) < 0) {
      let end = i + 1;
      while (end < lines.length && !(lines[end] ?? '').includes(quote)) end++;
      if (end === lines.length)
        throw new EnvFileError(path, `line ${i + 1} opens a ${quote} quote it never closes`);
      i = end;
    }
  }
  const parsed: Record<string, string> = {};
  for (const [name, value] of Object.entries(parseEnv(text))) if (value !== undefined) parsed[name] = value;
  return parsed;
}

/**
 * The configuration from `env`; by default the process's own variables and `.env` (see
 * environment). Throws ConfigError naming the first variable that is wrong.
 */
export function loadConfig(env: Record<string, string | undefined> = environment()): Config {
  const nodeEnv = env.NODE_ENV ?? 'development';
  if (nodeEnv !== 'development' && nodeEnv !== 'production' && nodeEnv !== 'test') {
    throw new ConfigError('NODE_ENV', 'development, production or test', nodeEnv);
  }
  const port = portNumber('PORT', env.PORT ?? '4000');
  const host = hostName('HOST', nonEmpty(env.HOST));
  const redisUrl = nonEmpty(env.REDIS_URL);
  if (redisUrl !== undefined && !/^rediss?:\/\/[^\s]+$/.test(redisUrl)) {
    throw new ConfigError('REDIS_URL', 'a redis:// or rediss:// URL', redacted(redisUrl));
  }
  const databaseUrl = nonEmpty(env.DATABASE_URL);
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\/[^\s]+$/.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'a postgres:// or postgresql:// URL', redacted(databaseUrl));
  }
  const databaseSchema = nonEmpty(env.DATABASE_SCHEMA);
  if (databaseSchema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(databaseSchema)) {
    throw new ConfigError('DATABASE_SCHEMA', 'a schema name matching [a-z_][a-z0-9_]{0,62}', databaseSchema);
  }
  const secretText = nonEmpty(env.AUTH_SECRET);
  if (secretText === undefined && nodeEnv === 'production') {
    throw new ConfigError('AUTH_SECRET', 'set (at least 32 characters) when NODE_ENV=production', '');
  }
  if (secretText !== undefined && Buffer.byteLength(secretText) < 32) {
    throw new ConfigError('AUTH_SECRET', 'at least 32 characters long', `${secretText.length} characters`);
  }
  const tokenMaxLifetimeText = nonEmpty(env.TOKEN_MAX_LIFETIME) ?? DEFAULT_TOKEN_MAX_LIFETIME;
  const tokenMaxLifetimeSeconds = parseDuration(tokenMaxLifetimeText);
  if (tokenMaxLifetimeSeconds === undefined) {
    throw new ConfigError(
      'TOKEN_MAX_LIFETIME',
      'a duration <n>s, <n>m, <n>h or <n>d (n a positive integer of at most 9 digits, e.g. 30d)',
      tokenMaxLifetimeText,
    );
  }
  const metricsPortText = nonEmpty(env.METRICS_PORT);
  const metricsPort = metricsPortText === undefined ? undefined : portNumber('METRICS_PORT', metricsPortText);
  if (metricsPort === port) {
    throw new ConfigError('METRICS_PORT', `a port other than PORT (${port})`, String(metricsPortText));
  }
  const metricsHost = hostName('METRICS_HOST', nonEmpty(env.METRICS_HOST)) ?? '127.0.0.1';
  const cacheNamespace = nonEmpty(env.CACHE_NAMESPACE) ?? 'gf';
  // The rule createCache applies to its `namespace` option (tests/config.test.ts holds them together).
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(cacheNamespace)) {
    throw new ConfigError(
      'CACHE_NAMESPACE',
      'lowercase letters, digits, _ and - (at most 64, starting with a letter or digit)',
      cacheNamespace,
    );
  }
  const responseCacheText = nonEmpty(env.RESPONSE_CACHE) ?? 'on';
  if (responseCacheText !== 'on' && responseCacheText !== 'off') {
    throw new ConfigError('RESPONSE_CACHE', 'on or off', responseCacheText);
  }
  const cacheMaxBytesText = nonEmpty(env.CACHE_MAX_BYTES);
  if (cacheMaxBytesText !== undefined && !/^[1-9][0-9]{0,14}$/.test(cacheMaxBytesText)) {
    throw new ConfigError('CACHE_MAX_BYTES', 'a positive integer (bytes)', cacheMaxBytesText);
  }
  return {
    nodeEnv,
    port,
    host,
    redisUrl,
    databaseUrl,
    databaseSchema,
    authSecret: new TextEncoder().encode(secretText ?? DEVELOPMENT_SECRET),
    devSecret: secretText === undefined,
    tokenMaxLifetimeSeconds,
    limits: loadLimits(env),
    metricsPort,
    metricsHost,
    cacheNamespace,
    responseCache: responseCacheText === 'on',
    cacheMaxBytes: cacheMaxBytesText === undefined ? undefined : Number(cacheMaxBytesText),
    rateLimit: loadRateLimit(env),
  };
}

/** RATE_LIMIT_BURST (an integer) and RATE_LIMIT_PER_SECOND (a decimal number); `off` in either disables the limit. */
function loadRateLimit(env: Record<string, string | undefined>): RateLimit | false {
  const burstText = nonEmpty(env.RATE_LIMIT_BURST);
  const rateText = nonEmpty(env.RATE_LIMIT_PER_SECOND);
  if (burstText === 'off' || rateText === 'off') return false;
  const limit = { ...DEFAULT_RATE_LIMIT };
  if (burstText !== undefined) {
    const burst = Number(burstText);
    if (!/^[0-9]+$/.test(burstText) || burst < 1 || burst > 1_000_000) {
      throw new ConfigError('RATE_LIMIT_BURST', 'an integer from 1 to 1000000, or off', burstText);
    }
    limit.burst = burst;
  }
  if (rateText !== undefined) {
    const perSecond = Number(rateText);
    if (!/^[0-9]+(\.[0-9]+)?$/.test(rateText) || perSecond < 0.001 || perSecond > 1_000_000) {
      throw new ConfigError('RATE_LIMIT_PER_SECOND', 'a number from 0.001 to 1000000, or off', rateText);
    }
    limit.perSecond = perSecond;
  }
  return limit;
}

/** The variable of each limit; every one is a positive integer. */
const LIMIT_VARIABLES: Record<keyof HardeningLimits, string> = {
  maxDepth: 'MAX_DEPTH',
  maxAliases: 'MAX_ALIASES',
  maxTokens: 'MAX_TOKENS',
  maxCost: 'MAX_COST',
  maxDirectives: 'MAX_DIRECTIVES',
  maxBodyBytes: 'MAX_BODY_BYTES',
  executionTimeoutMs: 'EXECUTION_TIMEOUT_MS',
  requestTimeoutMs: 'REQUEST_TIMEOUT_MS',
  headersTimeoutMs: 'HEADERS_TIMEOUT_MS',
};

function loadLimits(env: Record<string, string | undefined>): HardeningLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const [name, variable] of Object.entries(LIMIT_VARIABLES) as Array<[keyof HardeningLimits, string]>) {
    const text = nonEmpty(env[variable]);
    if (text === undefined) continue;
    const value = Number(text);
    // Above 2^31 - 1 ms a Node timer fires at once, so no limit may be that large.
    if (!/^[0-9]+$/.test(text) || value < 1 || value > 2_147_483_647) {
      throw new ConfigError(variable, 'a positive integer (at most 2147483647)', text);
    }
    limits[name] = value;
  }
  // node:http refuses a headers timeout longer than the request timeout.
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new ConfigError(
      'HEADERS_TIMEOUT_MS',
      `at most REQUEST_TIMEOUT_MS (${limits.requestTimeoutMs})`,
      String(limits.headersTimeoutMs),
    );
  }
  return limits;
}

function portNumber(variable: string, text: string): number {
  const port = Number(text);
  if (!/^[0-9]+$/.test(text) || port < 1 || port > 65_535) {
    throw new ConfigError(variable, 'a port number from 1 to 65535', text);
  }
  return port;
}

/** An IP address (v4, or v6 without brackets) or a hostname (RFC 1123 labels); undefined stays so. */
function hostName(variable: string, text: string | undefined): string | undefined {
  if (text === undefined || isIP(text) !== 0) return text;
  // Digits and dots that are no IPv4 address (999.1.1.1) are a mistake, not a hostname.
  if (/^[0-9.]+$/.test(text)) throw new ConfigError(variable, 'an IP address or a hostname', text);
  const label = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
  if (text.length > 253 || !text.split('.').every((part) => label.test(part))) {
    throw new ConfigError(variable, 'an IP address or a hostname', text);
  }
  return text;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Error messages never echo a URL's password. */
function redacted(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}
