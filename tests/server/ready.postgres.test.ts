import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { dropShopSchema } from '../../src/app/data/index.js';
import { createReadiness } from '../../src/plugins/readiness.js';
import { createServer, type Server } from '../../src/server.js';
import { replyHoldingProxy } from '../../packages/graphql-flight/tests/helpers/redis.js';
import { type GatedProxy, gatedProxy } from '../helpers/gated-proxy.js';
import { TEST_SECRET, TEST_SEED } from '../helpers/server.js';

// Included by vitest.config.ts only when DATABASE_URL is set (as .ci/run's PostgreSQL pass does).
const DATABASE_URL = process.env.DATABASE_URL ?? '';
const target = new URL(DATABASE_URL);

/** DATABASE_URL with its host and port replaced by a loopback proxy's. */
function through(port: number): string {
  const url = new URL(DATABASE_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}

async function ready(server: Server) {
  const started = performance.now();
  const response = await server.yoga.fetch('http://localhost/ready');
  return {
    status: response.status,
    ms: performance.now() - started,
    body: (await response.json()) as { ready: boolean; database: { ok: boolean; error?: string } },
  };
}

/** The server reaches PostgreSQL through a TCP proxy the test controls: it cuts it, then restores it. */
describe('/ready while PostgreSQL is unreachable', () => {
  const schema = `t_ready_${randomBytes(4).toString('hex')}`;
  let proxy: GatedProxy;
  let server: Server;
  beforeAll(async () => {
    proxy = await gatedProxy(Number(target.port || 5432));
    const port = Number(new URL(proxy.url).port);
    server = await createServer({
      config: { nodeEnv: 'test', redisUrl: undefined, databaseUrl: through(port), authSecret: TEST_SECRET },
      data: { seed: TEST_SEED, schema },
    });
  }, 90_000);
  afterAll(async () => {
    await server?.close();
    await proxy?.close();
    await dropShopSchema(DATABASE_URL, schema);
  });

  it('answers 503 naming the database while the proxy drops every connection, and 200 once it passes them again', async () => {
    expect(await ready(server)).toMatchObject({ status: 200, body: { ready: true, database: { ok: true } } });
    proxy.shut();
    await vi.waitFor(
      async () => {
        const reply = await ready(server);
        expect(reply.status).toBe(503);
        expect(reply.body).toMatchObject({ ready: false, database: { kind: 'postgres', ok: false } });
        expect(reply.body.database.error).toEqual(expect.any(String));
      },
      { timeout: 10_000, interval: 100 },
    );
    // Liveness is not readiness: the process still serves /health.
    expect((await server.yoga.fetch('http://localhost/health')).status).toBe(200);
    proxy.open();
    await vi.waitFor(
      async () => expect(await ready(server)).toMatchObject({ status: 200, body: { ready: true } }),
      { timeout: 10_000, interval: 100 },
    );
  });
});

/** The proxy holds PostgreSQL's replies: a hung database, which answers nothing. */
describe('/ready while PostgreSQL hangs', () => {
  const schema = `t_ready_${randomBytes(4).toString('hex')}`;
  let proxy: Awaited<ReturnType<typeof replyHoldingProxy>>;
  let server: Server;
  beforeAll(async () => {
    proxy = await replyHoldingProxy(Number(target.port || 5432));
    server = await createServer({
      config: {
        nodeEnv: 'test',
        redisUrl: undefined,
        databaseUrl: through(Number(new URL(proxy.url).port)),
        authSecret: TEST_SECRET,
      },
      data: { seed: TEST_SEED, schema },
    });
  }, 90_000);
  afterAll(async () => {
    proxy?.release();
    await server?.close();
    await proxy?.close();
    await dropShopSchema(DATABASE_URL, schema);
  });

  it('answers 503 after its 1 s bound instead of hanging, and 200 once replies flow again', async () => {
    expect((await ready(server)).status).toBe(200);
    proxy.hold();
    // The last report may answer for up to a second; the first check after it waits its bound.
    await vi.waitFor(
      async () => {
        const reply = await ready(server);
        expect(reply.status).toBe(503);
        expect(reply.body.database).toEqual({
          kind: 'postgres',
          ok: false,
          error: 'no answer within 1000 ms',
        });
        expect(reply.ms).toBeGreaterThanOrEqual(900);
        expect(reply.ms).toBeLessThan(5_000);
      },
      { timeout: 15_000, interval: 100 },
    );
    proxy.release();
    await vi.waitFor(async () => expect((await ready(server)).status).toBe(200), {
      timeout: 10_000,
      interval: 100,
    });
  });

  it('keeps one SELECT 1 outstanding however many checks a hung database sees', async () => {
    let now = 0;
    const readiness = createReadiness({ data: server.data, cache: server.cache, now: () => now });
    expect((await readiness.check()).ready).toBe(true);
    proxy.hold();
    const heldBefore = proxy.held;
    for (let i = 0; i < 4; i++) {
      now += 1_000; // each check comes after the last report expired
      const report = await readiness.check();
      expect(report.database).toEqual({ kind: 'postgres', ok: false, error: 'no answer within 1000 ms' });
    }
    // One reply is held, to the one SELECT 1 sent: the later checks waited on the same one.
    await vi.waitFor(() => expect(proxy.held).toBe(heldBefore + 1), { timeout: 5_000 });
    proxy.release();
    now += 1_000;
    await vi.waitFor(
      async () => {
        now += 1_000;
        expect((await readiness.check()).ready).toBe(true);
      },
      { timeout: 10_000, interval: 100 },
    );
  }, 30_000);
});
