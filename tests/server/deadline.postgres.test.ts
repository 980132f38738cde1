import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { signToken } from '../../src/app/auth.js';
import { dropShopSchema } from '../../src/app/data/index.js';
import { createServer, type Server } from '../../src/server.js';
import { type PgProxy, pgProxy } from '../helpers/pg-proxy.js';
import { TEST_SECRET, TEST_SEED } from '../helpers/server.js';

// Included by vitest.config.ts only when DATABASE_URL is set (as .ci/run's PostgreSQL pass does).
const DATABASE_URL = process.env.DATABASE_URL ?? '';
const DEADLINE_MS = 1_500;

interface Answer {
  status: number;
  elapsedMs: number;
  body: { data?: unknown; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
}

/**
 * The server in front of a PostgreSQL that hangs (a proxy holding its replies): every operation
 * is answered at its execution deadline with 503 EXECUTION_TIMEOUT, what nobody waits for any more
 * never reaches the database when it is back, and a write is rolled back or reported as it is.
 */
describe('a hung PostgreSQL', () => {
  const schema = `t_deadline_${randomBytes(4).toString('hex')}`;
  let proxy: PgProxy;
  let server: Server;
  let direct: pg.Client;

  const request = async (query: string, token?: string): Promise<Answer> => {
    const started = performance.now();
    const response = await server.yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify({ query }),
    });
    return { status: response.status, body: await response.json(), elapsedMs: performance.now() - started };
  };
  const ordersOf = async (customerId: number) =>
    Number(
      (await direct.query(`SELECT count(*) AS n FROM ${schema}.orders WHERE customer_id = $1`, [customerId]))
        .rows[0].n,
    );

  beforeAll(async () => {
    const target = new URL(DATABASE_URL);
    proxy = await pgProxy({ host: target.hostname, port: Number(target.port || 5432) });
    server = await createServer({
      config: {
        nodeEnv: 'test',
        redisUrl: undefined,
        databaseUrl: proxy.url,
        authSecret: TEST_SECRET,
        limits: { executionTimeoutMs: DEADLINE_MS },
      },
      data: { seed: TEST_SEED, schema },
    });
    direct = new pg.Client({ connectionString: DATABASE_URL });
    await direct.connect();
  });
  afterAll(async () => {
    await server?.close();
    await direct?.end();
    await proxy?.close();
    await dropShopSchema(DATABASE_URL, schema);
  });
  beforeEach(() => proxy.release());

  it('answers every read 503 EXECUTION_TIMEOUT at the deadline, and sends none of them when the database is back', async () => {
    const token = await signToken(3, TEST_SECRET);
    proxy.hold();
    // More distinct statements than the pool has connections (10): most wait in the pool's queue.
    const answers = await Promise.all([
      ...Array.from({ length: 30 }, (_, i) => request(`{ product(id: "${i + 1}") { id name } }`)),
      request('{ salesSummary { orderCount } }'),
      request('{ topProducts(limit: 3) { id } }'),
      request('{ products(ids: ["40", "41"]) { id stats { unitsSold } } }'),
      request('{ viewer { recentOrders(limit: 2) { id } } }', token),
    ]);
    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.body.errors).toEqual([
        expect.objectContaining({
          message: `the operation exceeded its ${DEADLINE_MS} ms deadline`,
          extensions: expect.objectContaining({ code: 'EXECUTION_TIMEOUT' }),
        }),
      ]);
      // The execution's deadline answered (a flight's, FLIGHT_DEADLINE_MARGIN_MS later, would be
      // an unexpected error): not before it.
      expect(answer.elapsedMs).toBeGreaterThanOrEqual(DEADLINE_MS - 5);
    }

    const sentWhileHung = proxy.executed;
    proxy.release();
    // The pool serves in order: anything still queued for the abandoned requests would go first.
    const fresh = await request('{ product(id: "59") { id } }');
    expect(fresh).toMatchObject({ status: 200, body: { data: { product: { id: '59' } } } });
    expect(proxy.executed - sentWhileHung).toBe(1);
  });

  it('rolls back a mutation past its deadline and says so', async () => {
    const token = await signToken(4, TEST_SECRET);
    const before = await ordersOf(4);
    // A connection of the pool is open and idle, so the write gets one at once: held is its BEGIN.
    await request('{ product(id: "58") { id } }');
    proxy.hold();
    const answer = await request('mutation { placeOrder(productId: "2", quantity: 1) { id } }', token);
    expect(answer.status).toBe(503);
    expect(answer.body.errors?.[0]).toMatchObject({
      message: `the operation exceeded its ${DEADLINE_MS} ms deadline; its write was rolled back (nothing was saved): it is safe to retry`,
      extensions: { code: 'EXECUTION_TIMEOUT', write: 'rolled-back' },
    });
    proxy.release();
    // Once the database is back, the session of the abandoned write is gone and so is its order.
    await server.yoga.fetch('http://localhost/graphql?query=%7BsalesSummary%7BorderCount%7D%7D');
    expect(await ordersOf(4)).toBe(before);
  });

  it('reports a write committed before the deadline as committed', async () => {
    const token = await signToken(6, TEST_SECRET);
    const before = await ordersOf(6);
    // The order commits; the cache invalidation it waits for next never answers.
    const invalidate = vi.spyOn(server.cache, 'invalidate').mockImplementation(() => new Promise(() => {}));
    try {
      const answer = await request('mutation { placeOrder(productId: "2", quantity: 1) { id } }', token);
      expect(answer.status).toBe(503);
      expect(answer.body.errors?.[0]).toMatchObject({
        message: `the operation exceeded its ${DEADLINE_MS} ms deadline; its write was committed`,
        extensions: { code: 'EXECUTION_TIMEOUT', write: 'committed' },
      });
    } finally {
      invalidate.mockRestore();
    }
    expect(await ordersOf(6)).toBe(before + 1);
  });

  it('reports a commit whose answer did not come back in time as of unknown outcome', async () => {
    const token = await signToken(5, TEST_SECRET);
    const before = await ordersOf(5);
    proxy.holdAfter(/^COMMIT/);
    const answer = await request('mutation { placeOrder(productId: "2", quantity: 1) { id } }', token);
    expect(answer.status).toBe(503);
    expect(answer.body.errors?.[0]).toMatchObject({
      message: `the operation exceeded its ${DEADLINE_MS} ms deadline: a write was being committed and may have been applied; read it back before you retry`,
      extensions: { code: 'EXECUTION_TIMEOUT', write: 'unknown' },
    });
    proxy.release();
    // It was: the database had the COMMIT; only its answer was late.
    await expect.poll(() => ordersOf(5), { timeout: 5_000 }).toBe(before + 1);
  });
});
