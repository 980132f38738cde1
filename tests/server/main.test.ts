import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../packages/graphql-flight/tests/helpers/redis.js';

/**
 * src/main.ts as a user runs it: embedded defaults (PGlite with the full demo seed, memory cache),
 * a real port, and a graceful stop on SIGTERM.
 */
describe('the server process (src/main.ts)', () => {
  it('serves the demo data on PORT, answers /health, and exits cleanly on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      ['--conditions=@graphql-flight/source', '--import', 'tsx', 'src/main.ts'],
      {
        env: { ...process.env, PORT: String(port), NODE_ENV: 'development', REDIS_URL: '', DATABASE_URL: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await expect
        // Seeding the full demo data in PGlite takes seconds on a quiet machine, nearer a minute on a
        // loaded one: a hang watchdog only.
        .poll(() => output, { timeout: 60_000, interval: 50 })
        .toContain(`http://localhost:${port}/graphql`);
      expect(output).toContain('(pglite, memory cache)');

      const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: '{ salesSummary { orderCount revenueCents } topProducts(limit: 1) { id } }',
        }),
      });
      const body = (await response.json()) as {
        data: { salesSummary: { orderCount: number }; topProducts: unknown[] };
      };
      expect(body).toEqual({
        data: {
          salesSummary: { orderCount: 200_000, revenueCents: '788688997' },
          topProducts: [{ id: '1' }],
        },
      });
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      const graphiql = await fetch(`http://127.0.0.1:${port}/graphql`, { headers: { accept: 'text/html' } });
      expect(await graphiql.text()).toContain('GraphiQL');

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output).toContain('SIGTERM: finishing in-flight requests');
      expect(output).toContain('stopped');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 90_000);
});
