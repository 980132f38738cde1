import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createCache } from 'graphql-flight';
import { ConfigError, EnvFileError, environment, loadConfig, readEnvFile } from '../src/config.js';

describe('HOST, METRICS_HOST and CACHE_NAMESPACE', () => {
  it('defaults: every interface for PORT, loopback for METRICS_PORT, namespace gf', () => {
    expect(loadConfig({})).toMatchObject({ host: undefined, metricsHost: '127.0.0.1', cacheNamespace: 'gf' });
  });

  it('reads IP addresses and hostnames', () => {
    expect(loadConfig({ HOST: '0.0.0.0', METRICS_HOST: '10.1.2.3' })).toMatchObject({
      host: '0.0.0.0',
      metricsHost: '10.1.2.3',
    });
    expect(loadConfig({ HOST: '::', METRICS_HOST: '::1' })).toMatchObject({ host: '::', metricsHost: '::1' });
    expect(loadConfig({ HOST: 'localhost', METRICS_HOST: 'metrics.internal-net.example' })).toMatchObject({
      host: 'localhost',
      metricsHost: 'metrics.internal-net.example',
    });
    expect(loadConfig({ HOST: ' ', METRICS_HOST: '' })).toMatchObject({
      host: undefined,
      metricsHost: '127.0.0.1',
    });
  });

  it('refuses anything else, naming the variable', () => {
    expect(() => loadConfig({ HOST: 'http://0.0.0.0' })).toThrow(
      'HOST must be an IP address or a hostname; received "http://0.0.0.0"',
    );
    expect(() => loadConfig({ HOST: '0.0.0.0:4000' })).toThrow(ConfigError);
    expect(() => loadConfig({ METRICS_HOST: '999.1.1.1' })).toThrow(
      'METRICS_HOST must be an IP address or a hostname; received "999.1.1.1"',
    );
    expect(() => loadConfig({ METRICS_HOST: '[::1]' })).toThrow('METRICS_HOST must be');
    expect(() => loadConfig({ METRICS_HOST: 'bad_host' })).toThrow('METRICS_HOST must be');
  });

  it('accepts exactly the namespaces createCache accepts', () => {
    expect(loadConfig({ CACHE_NAMESPACE: 'shop-staging_2' }).cacheNamespace).toBe('shop-staging_2');
    for (const namespace of [
      'gf',
      'a',
      'shop-eu_1',
      '0',
      'x'.repeat(64),
      'Shop',
      '-a',
      'a:b',
      'a*',
      'x'.repeat(65),
      'é',
    ]) {
      let cacheRefuses = false;
      try {
        createCache({ namespace });
      } catch {
        cacheRefuses = true;
      }
      const config = () => loadConfig({ CACHE_NAMESPACE: namespace });
      if (cacheRefuses) expect(config, namespace).toThrow(/^CACHE_NAMESPACE must be/);
      else expect(config().cacheNamespace, namespace).toBe(namespace);
    }
  });
});

describe('.env', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gf-env-'));
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    rmSync(dir, { recursive: true, force: true });
  });
  const write = (text: string) => writeFileSync(join(dir, '.env'), text);

  it('is read from the directory given (the working directory by default), under the environment', () => {
    write('GF_TEST_FROM_FILE=file\nGF_TEST_BOTH=file\nGF_TEST_EMPTY=file\n');
    vi.stubEnv('GF_TEST_BOTH', 'environment');
    vi.stubEnv('GF_TEST_EMPTY', '');
    const env = environment(dir);
    expect(env.GF_TEST_FROM_FILE).toBe('file');
    // The environment wins, even when it sets a variable to the empty string.
    expect(env.GF_TEST_BOTH).toBe('environment');
    expect(env.GF_TEST_EMPTY).toBe('');
    expect(env.PATH).toBe(process.env.PATH);
  });

  it('is optional', () => {
    expect(readEnvFile(join(dir, '.env'))).toBeUndefined();
    expect(environment(dir)).toEqual({ ...process.env });
  });

  it('reads comments, export, quotes and a quoted value across lines, as node --env-file does', () => {
    write(
      [
        '# a comment',
        '',
        'PORT=8080',
        'export HOST=127.0.0.1',
        'AUTH_SECRET="a secret with spaces and # inside, 32+ chars"',
        "CACHE_NAMESPACE='shop-a' # trailing comment",
        'MULTI="one',
        'two"',
        '  RESPONSE_CACHE = off  ',
      ].join('\n'),
    );
    expect(readEnvFile(join(dir, '.env'))).toEqual({
      PORT: '8080',
      HOST: '127.0.0.1',
      AUTH_SECRET: 'a secret with spaces and # inside, 32+ chars',
      CACHE_NAMESPACE: 'shop-a',
      MULTI: 'one\ntwo',
      RESPONSE_CACHE: 'off',
    });
  });

  it('refuses a malformed line with one line naming the file and the line', () => {
    write('PORT=4000\nHOST 127.0.0.1\nCACHE_NAMESPACE=x\n');
    const path = join(dir, '.env');
    expect(() => environment(dir)).toThrow(new EnvFileError(path, 'line 2 is not NAME=value'));
    expect(() => readEnvFile(path)).toThrow(`${path}: line 2 is not NAME=value`);
    write('AUTH_SECRET="never closed\nPORT=4000\n');
    expect(() => readEnvFile(path)).toThrow(`${path}: line 1 opens a " quote it never closes`);
    write('1PORT=4000\n');
    expect(() => readEnvFile(path)).toThrow(`${path}: line 1 is not NAME=value`);
  });

  it('refuses a .env that cannot be read', () => {
    mkdirSync(join(dir, '.env'));
    expect(() => environment(dir)).toThrow(`${join(dir, '.env')}: cannot be read (EISDIR)`);
  });
});
