import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/app/auth.js';
import { dropShopSchema } from '../../src/app/data/index.js';
import { FleetStatsDocument, FlightStatsDocument, SalesSummaryDocument } from '../generated/graphql.js';
import { freePort, type OwnRedis, startRedis } from '../../packages/graphql-flight/tests/helpers/redis.js';

// Included by vitest.config.ts only when DATABASE_URL is set (as .ci/run's PostgreSQL pass does).
const DATABASE_URL = process.env.DATABASE_URL ?? '';
const SECRET = 'fleet-test-secret-0123456789-abcdefghijklmnop';

/**
 * The acceptance of the fleet issue, as a user would run it: three `src/main.ts` processes with the
 * same REDIS_URL and DATABASE_URL, hit together on a cold cache.
 */
describe('three server processes on one Redis and one PostgreSQL', () => {
  const schema = `t_fleet_${randomBytes(4).toString('hex')}`;
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  let redis: OwnRedis;

  beforeAll(async () => {
    redis = await startRedis();
    for (let i = 0; i < 3; i++) ports.push(await freePort());
    const ready = ports.map((port) => {
      const child = spawn(
        process.execPath,
        ['--conditions=@graphql-flight/source', '--import', 'tsx', 'src/main.ts'],
        {
          env: {
            ...process.env,
            NODE_ENV: 'test',
            PORT: String(port),
            REDIS_URL: redis.url,
            DATABASE_URL,
            DATABASE_SCHEMA: schema,
            AUTH_SECRET: SECRET,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      children.push(child);
      let output = '';
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`server on ${port} not ready in 30 s: ${output}`)),
          30_000,
        );
        const onData = (chunk: Buffer) => {
          output += chunk;
          if (output.includes(`http://localhost:${port}/graphql`)) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout?.on('data', onData);
        child.stderr?.on('data', onData);
        child.once('exit', (code) => reject(new Error(`server on ${port} exited with ${code}: ${output}`)));
      });
    });
    await Promise.all(ready);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    await redis?.kill();
    await dropShopSchema(DATABASE_URL, schema);
  }, 30_000);

  const post = async (port: number, query: string, token?: string) => {
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query }),
    });
    return (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
  };

  it('sends one aggregate query to PostgreSQL for 300 concurrent salesSummary operations on a cold cache', async () => {
    const query = print(SalesSummaryDocument);
    const responses = await Promise.all(Array.from({ length: 300 }, (_, i) => post(ports[i % 3]!, query)));
    for (const response of responses) {
      expect(response.errors).toBeUndefined();
      expect(response).toEqual(responses[0]);
    }

    const operator = await signToken(1, new TextEncoder().encode(SECRET), { operator: true });
    const stats = await Promise.all(ports.map((port) => post(port, print(FlightStatsDocument), operator)));
    const sent = stats.map((s) => {
      const flightStats = s.data?.flightStats as
        | { queries: Array<{ statement: string; count: number }> }
        | undefined;
      return flightStats?.queries.find((q) => q.statement === 'salesSummary')?.count ?? 0;
    });
    const fleet = await Promise.all(ports.map((port) => post(port, print(FleetStatsDocument), operator)));
    const figures = JSON.stringify({ sent, fleet: fleet.map((f) => f.data?.flightStats) });
    expect(
      sent.reduce((a, b) => a + b, 0),
      figures,
    ).toBe(1);

    const won = fleet.map(
      (f) => (f.data?.flightStats as { fleet: { leasesWon: number } } | undefined)?.fleet.leasesWon ?? 0,
    );
    // Two keys were loaded, each by one process for the whole fleet: the response, and the field
    // value its execution read (a response key carries no generation to load).
    expect(
      won.reduce((a, b) => a + b, 0),
      figures,
    ).toBe(2);
  }, 30_000);
});
