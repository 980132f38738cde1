import { describe, expect, it } from 'vitest';
import { ConfigError, DEVELOPMENT_SECRET, loadConfig } from '../src/config.js';

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
});
