import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropShopSchema } from '../../src/app/data/index.js';
import { type Driver, openPostgres } from '../../src/app/data/drivers.js';

// Included by vitest.config.ts only when DATABASE_URL is set (as .ci/run's PostgreSQL pass does).
const url = process.env.DATABASE_URL ?? '';
const SMALL = { products: 5, customers: 5, orders: 10 };

/** The PostgreSQL driver's ways to stop a statement: the caller's signal, and statement_timeout. */
describe('stopping statements on PostgreSQL', () => {
  const schema = `t_drivers_${randomBytes(4).toString('hex')}`;
  let driver: Driver;
  let strict: Driver;
  let monitor: pg.Client;
  const sleeping = async (marker: string) =>
    Number(
      (
        await monitor.query(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()",
          [`%${marker}%`],
        )
      ).rows[0].n,
    );

  beforeAll(async () => {
    driver = await openPostgres(url, SMALL, schema);
    strict = await openPostgres(url, SMALL, schema, 300);
    monitor = new pg.Client({ connectionString: url });
    await monitor.connect();
  });
  afterAll(async () => {
    await driver?.close();
    await strict?.close();
    await monitor?.end();
    await dropShopSchema(url, schema);
  });

  it('cancels a running statement on the server when its signal aborts', async () => {
    const marker = `gf_cancel_${randomBytes(4).toString('hex')}`;
    const controller = new AbortController();
    const running = driver.query(`SELECT pg_sleep(8) /* ${marker} */`, [], {
      signal: controller.signal,
    });
    running.catch(() => {});
    await expect.poll(() => sleeping(marker), { timeout: 5_000 }).toBe(1);
    const reason = new Error('the caller left');
    controller.abort(reason);
    await expect(running).rejects.toBe(reason);
    // Gone from the server at once, not after its 8 s (statement_timeout is 15 s here).
    await expect.poll(() => sleeping(marker), { timeout: 3_000, interval: 20 }).toBe(0);
  });

  it('lets a statement waiting for a pooled connection leave at once when its signal aborts', async () => {
    // The pool's 10 connections are busy for 3 s; one more statement waits in the pool's queue.
    const sleepers = Promise.all(Array.from({ length: 10 }, () => driver.query('SELECT pg_sleep(3)', [])));
    await expect.poll(() => sleeping('pg_sleep(3)'), { timeout: 5_000 }).toBe(10);
    const controller = new AbortController();
    const waiting = driver.query('SELECT 1', [], { signal: controller.signal });
    const settled = waiting.then(
      () => performance.now(),
      () => performance.now(),
    );
    const reason = new Error('the caller left');
    const abortedAt = performance.now();
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    // At once, not when a connection comes free (some 3 s later): a watchdog margin of 1.5 s.
    expect((await settled) - abortedAt).toBeLessThan(1_500);
    await sleepers;
  });

  it('ends a statement that runs past statement_timeout', async () => {
    await expect(strict.query('SELECT pg_sleep(3)', [])).rejects.toMatchObject({ code: '57014' });
  });
});
