import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { InvalidOptionError } from 'graphql-flight';
import {
  ensureSeeded,
  quoteSchema,
  type Row,
  SCHEMA_NAME,
  type SeedSizes,
  type SqlSession,
} from './schema.js';

/** A database the shop queries: statements run with parameters, rows come back as the driver types them. */
export interface Driver {
  readonly kind: 'pglite' | 'postgres';
  query(sql: string, params: readonly unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

/**
 * Key pair of the advisory lock that serialises setup: a constant class ("gf" and layer 5) and
 * the hash of the schema name, so opens of one schema wait for each other while different
 * schemas (parallel test files) seed in parallel. A hash collision only serialises two schemas.
 * Without the `schema` option the key is that of '': such opens exclude each other, but not opens
 * naming the schema their search_path resolves to (say `public`). Use one or the other per database.
 */
const SETUP_LOCK_CLASS = 0x67660005;

/** An in-memory PGlite, set up and seeded before it is returned. */
export async function openPglite(seed: SeedSizes, schema: string | undefined): Promise<Driver> {
  const db = await PGlite.create();
  const query = async (sql: string, params: readonly unknown[] = []) =>
    (await db.query<Row>(sql, params as unknown[])).rows;
  try {
    // PGlite is one session, so nothing can race the setup.
    await ensureSeeded({ query }, seed, schema);
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }
  return { kind: 'pglite', query, close: () => db.close() };
}

/**
 * A pg Pool on `databaseUrl`. Setup runs on one dedicated client holding a session advisory lock,
 * so processes opening together against an empty database seed it once: the first creates and
 * seeds inside its lock and commits before unlocking; the others then find `products` non-empty.
 *
 * With `schema`, every pooled connection starts with `search_path` set to it (a startup
 * parameter, so no connection can run a statement before it is set).
 */
export async function openPostgres(
  databaseUrl: string,
  seed: SeedSizes,
  schema: string | undefined,
): Promise<Driver> {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    ...(schema === undefined ? {} : { options: `-c search_path=${quoteSchema(schema)}` }),
  });
  // An idle pooled client whose connection drops emits 'error' on the pool; unhandled it would
  // crash the process. The pool discards that client and the next query opens a new one, so
  // there is nothing to do here; queries on a dead connection reject on their own.
  pool.on('error', () => {});
  try {
    const client = await pool.connect();
    try {
      const session: SqlSession = {
        query: async (sql, params = []) => (await client.query<Row>(sql, params as unknown[])).rows,
      };
      await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [SETUP_LOCK_CLASS, schema ?? '']);
      await ensureSeeded(session, seed, schema);
      await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [SETUP_LOCK_CLASS, schema ?? '']);
      client.release();
    } catch (error) {
      // Destroying the connection ends its session, which releases the advisory lock whatever
      // state the failure left it in (no unlock statement that could itself fail).
      client.release(true);
      throw error;
    }
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
  return {
    kind: 'postgres',
    query: async (sql, params) => (await pool.query<Row>(sql, params as unknown[])).rows,
    close: () => pool.end(),
  };
}

/**
 * Drops `schema` and everything in it (for tests that opened the shop in a schema of their own).
 * Call it after every handle on the schema is closed.
 */
export async function dropShopSchema(databaseUrl: string, schema: string): Promise<void> {
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw new InvalidOptionError('schema', `a string matching ${SCHEMA_NAME}`, schema);
  }
  const drop = `DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(drop);
  } finally {
    await client.end();
  }
}
