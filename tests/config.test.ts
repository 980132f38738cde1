import { describe, expect, it } from 'vitest';
import { ConfigError, DEVELOPMENT_SECRET, loadConfig } from '../src/config.js';
import { DEFAULT_LIMITS } from '../src/plugins/hardening.js';

describe('loadConfig', () => {
  it('gives embedded defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      port: 4000,
      redisUrl: undefined,
      databaseUrl: undefined,
    });
    expect(config.devSecret).toBe(true);
    expect(new TextDecoder().decode(config.authSecret)).toBe(DEVELOPMENT_SECRET);
    expect(config.limits).toEqual({
      maxDepth: 6,
      maxAliases: 15,
      maxTokens: 1_000,
      maxCost: 5_000,
      maxDirectives: 50,
      maxBodyBytes: 100_000,
      executionTimeoutMs: 15_000,
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
    });
    expect(config.limits).toEqual(DEFAULT_LIMITS);
    expect(config.metricsPort).toBeUndefined();
    expect(config.responseCache).toBe(true);
  });

  it('turns the response cache off with RESPONSE_CACHE=off, and refuses any other value', () => {
    expect(loadConfig({ RESPONSE_CACHE: 'off' }).responseCache).toBe(false);
    expect(loadConfig({ RESPONSE_CACHE: 'on' }).responseCache).toBe(true);
    expect(() => loadConfig({ RESPONSE_CACHE: 'false' })).toThrow(
      'RESPONSE_CACHE must be on or off; received "false"',
    );
  });

  it('reads the memory tier bound from CACHE_MAX_BYTES (unset: the library default), and refuses a non-integer', () => {
    expect(loadConfig({}).cacheMaxBytes).toBeUndefined();
    expect(loadConfig({ CACHE_MAX_BYTES: '268435456' }).cacheMaxBytes).toBe(268_435_456);
    for (const bad of ['0', '-1', '64MiB', '1e9', '1.5']) {
      expect(() => loadConfig({ CACHE_MAX_BYTES: bad })).toThrow(
        `CACHE_MAX_BYTES must be a positive integer (bytes); received "${bad}"`,
      );
    }
  });

  it('reads every variable it knows', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      PORT: '8080',
      REDIS_URL: 'redis://127.0.0.1:6379',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
      AUTH_SECRET: 'x'.repeat(40),
    });
    expect(config).toMatchObject({
      nodeEnv: 'production',
      port: 8080,
      redisUrl: 'redis://127.0.0.1:6379',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/test',
      devSecret: false,
    });
  });

  it('reads every limit and the metrics port, each from its variable', () => {
    const config = loadConfig({
      MAX_DEPTH: '8',
      MAX_ALIASES: '4',
      MAX_TOKENS: '2000',
      MAX_COST: '900',
      MAX_DIRECTIVES: '5',
      MAX_BODY_BYTES: '65536',
      EXECUTION_TIMEOUT_MS: '5000',
      REQUEST_TIMEOUT_MS: '20000',
      HEADERS_TIMEOUT_MS: '20000',
      METRICS_PORT: '9464',
    });
    expect(config.limits).toEqual({
      maxDepth: 8,
      maxAliases: 4,
      maxTokens: 2_000,
      maxCost: 900,
      maxDirectives: 5,
      maxBodyBytes: 65_536,
      executionTimeoutMs: 5_000,
      requestTimeoutMs: 20_000,
      headersTimeoutMs: 20_000,
    });
    expect(config.metricsPort).toBe(9464);
    expect(loadConfig({ MAX_DEPTH: ' ', MAX_COST: '' }).limits).toEqual(DEFAULT_LIMITS);
  });

  it('names the variable and the value of a bad limit or metrics port', () => {
    expect(() => loadConfig({ MAX_DEPTH: '0' })).toThrow(
      'MAX_DEPTH must be a positive integer (at most 2147483647); received "0"',
    );
    expect(() => loadConfig({ MAX_ALIASES: '-1' })).toThrow('MAX_ALIASES must be a positive integer');
    expect(() => loadConfig({ MAX_TOKENS: '1e3' })).toThrow('MAX_TOKENS must be a positive integer');
    expect(() => loadConfig({ MAX_COST: 'lots' })).toThrow(
      'MAX_COST must be a positive integer (at most 2147483647); received "lots"',
    );
    expect(() => loadConfig({ MAX_DIRECTIVES: '2.5' })).toThrow('MAX_DIRECTIVES must be a positive integer');
    expect(() => loadConfig({ MAX_BODY_BYTES: '100kb' })).toThrow(
      'MAX_BODY_BYTES must be a positive integer',
    );
    expect(() => loadConfig({ EXECUTION_TIMEOUT_MS: '2147483648' })).toThrow(
      'EXECUTION_TIMEOUT_MS must be a positive integer (at most 2147483647); received "2147483648"',
    );
    expect(() => loadConfig({ REQUEST_TIMEOUT_MS: '5000' })).toThrow(
      'HEADERS_TIMEOUT_MS must be at most REQUEST_TIMEOUT_MS (5000); received "10000"',
    );
    expect(() => loadConfig({ HEADERS_TIMEOUT_MS: 'x' })).toThrow(ConfigError);
    expect(() => loadConfig({ METRICS_PORT: '99999' })).toThrow(
      'METRICS_PORT must be a port number from 1 to 65535; received "99999"',
    );
    expect(() => loadConfig({ PORT: '4000', METRICS_PORT: '4000' })).toThrow(
      'METRICS_PORT must be a port other than PORT (4000); received "4000"',
    );
  });

  it('names the variable and the value in every error, without echoing a password', () => {
    expect(() => loadConfig({ PORT: '80a' })).toThrow(
      'PORT must be a port number from 1 to 65535; received "80a"',
    );
    expect(() => loadConfig({ PORT: '70000' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'staging' })).toThrow(
      'NODE_ENV must be development, production or test',
    );
    expect(() => loadConfig({ REDIS_URL: 'http://x' })).toThrow(
      'REDIS_URL must be a redis:// or rediss:// URL',
    );
    expect(() => loadConfig({ DATABASE_URL: 'mysql://root:hunter2@db/x' })).toThrow(
      'DATABASE_URL must be a postgres:// or postgresql:// URL; received "mysql://root:***@db/x"',
    );
    expect(() => loadConfig({ DATABASE_SCHEMA: 'Bad-Name' })).toThrow(
      'DATABASE_SCHEMA must be a schema name',
    );
    expect(loadConfig({ DATABASE_SCHEMA: 'shop_a' }).databaseSchema).toBe('shop_a');
    expect(() => loadConfig({ AUTH_SECRET: 'short' })).toThrow(
      'AUTH_SECRET must be at least 32 characters long',
    );
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow('AUTH_SECRET must be set');
  });

  it('limits mutations to a burst of 20, then 2 per second, unless RATE_LIMIT_BURST or RATE_LIMIT_PER_SECOND say otherwise', () => {
    expect(loadConfig({}).rateLimit).toEqual({ burst: 20, perSecond: 2 });
    expect(loadConfig({ RATE_LIMIT_BURST: '5', RATE_LIMIT_PER_SECOND: '0.5' }).rateLimit).toEqual({
      burst: 5,
      perSecond: 0.5,
    });
    expect(loadConfig({ RATE_LIMIT_PER_SECOND: '100' }).rateLimit).toEqual({ burst: 20, perSecond: 100 });
    expect(loadConfig({ RATE_LIMIT_BURST: 'off' }).rateLimit).toBe(false);
    expect(loadConfig({ RATE_LIMIT_PER_SECOND: 'off' }).rateLimit).toBe(false);
    for (const bad of ['0', '-1', '2.5', 'ten', '1000001']) {
      expect(() => loadConfig({ RATE_LIMIT_BURST: bad })).toThrow(
        `RATE_LIMIT_BURST must be an integer from 1 to 1000000, or off; received "${bad}"`,
      );
    }
    for (const bad of ['0', '0.0001', '-2', '1e3', 'fast', '2000000']) {
      expect(() => loadConfig({ RATE_LIMIT_PER_SECOND: bad })).toThrow(
        `RATE_LIMIT_PER_SECOND must be a number from 0.001 to 1000000, or off; received "${bad}"`,
      );
    }
    expect(() => loadConfig({ RATE_LIMIT_BURST: '0' })).toThrow(ConfigError);
  });
});
