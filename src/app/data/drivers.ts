import { createConnection } from 'node:net';
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

/**
 * Where a write stands, as it goes: `writing` once its transaction is open, `committing` just
 * before COMMIT is sent (from then on the outcome is the database's), `committed` once it is
 * acknowledged. A write whose signal aborts before `committing` is rolled back.
 */
export type WriteProgress = 'writing' | 'committing' | 'committed';

/** How a statement may be stopped, and (for a write) who hears how far it got. */
export interface StatementOptions {
  /**
   * Aborted: a statement not yet sent is never sent (it waits for no connection either), one
   * running is cancelled on the server, and a write not yet committing is rolled back. The call
   * rejects with the signal's reason.
   */
  signal?: AbortSignal | undefined;
  progress?: ((state: WriteProgress) => void) | undefined;
}

/** A database the shop queries: statements run with parameters, rows come back as the driver types them. */
export interface Driver {
  readonly kind: 'pglite' | 'postgres';
  query(sql: string, params: readonly unknown[], options?: StatementOptions): Promise<Row[]>;
  /**
   * Runs one statement in a transaction of its own and commits it only if `signal` has not
   * aborted by then: a write past its deadline is rolled back, never committed late.
   */
  write(sql: string, params: readonly unknown[], options?: StatementOptions): Promise<Row[]>;
  close(): Promise<void>;
}

/**
 * Longest a statement may run on PostgreSQL (`statement_timeout`) when the caller names none: a
 * hung query is ended by the server even if nobody cancels it.
 */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 15_000;

/** The shortest wait for a pooled connection, whatever the statement timeout (connecting takes time). */
const MIN_CONNECT_TIMEOUT_MS = 5_000;

/**
 * Key pair of the advisory lock that serialises setup: a constant class ("gf" and layer 5) and
 * the hash of the schema name, so opens of one schema wait for each other while different
 * schemas (parallel test files) seed in parallel. A hash collision only serialises two schemas.
 * Without the `schema` option the key is that of '': such opens exclude each other, but not opens
 * naming the schema their search_path resolves to (say `public`). Use one or the other per database.
 */
const SETUP_LOCK_CLASS = 0x67660005;

/**
 * An in-memory PGlite, set up and seeded before it is returned. It runs one statement at a time;
 * statements wait their turn here, so one whose signal aborted while it waited is never run
 * (a statement PGlite has started runs to its end: it cannot be interrupted).
 */
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
  let turn: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> => {
    const mine = turn.then(() => {
      signal?.throwIfAborted();
      return run();
    });
    turn = mine.catch(() => {});
    return mine;
  };
  return {
    kind: 'pglite',
    query: (sql, params, options) => inTurn(options?.signal, () => query(sql, params)),
    write: (sql, params, options) =>
      inTurn(options?.signal, () =>
        db.transaction(async (tx) => {
          options?.progress?.('writing');
          options?.signal?.throwIfAborted();
          const { rows } = await tx.query<Row>(sql, params as unknown[]);
          // Aborted meanwhile: throwing rolls the transaction back.
          options?.signal?.throwIfAborted();
          options?.progress?.('committing');
          return rows;
        }),
      ).then((rows) => {
        options?.progress?.('committed');
        return rows;
      }),
    close: () => db.close(),
  };
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
  statementTimeoutMs: number = DEFAULT_STATEMENT_TIMEOUT_MS,
): Promise<Driver> {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    // Sent at connection start: no statement of the pool can run longer, seeding excepted (below).
    statement_timeout: statementTimeoutMs,
    // Nor can a wait for a connection (in the pool's queue, or a connect that a frozen server
    // never answers) outlast it: abandoned waits do not pile up during an outage.
    connectionTimeoutMillis: Math.max(statementTimeoutMs, MIN_CONNECT_TIMEOUT_MS),
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
      // Seeding 200k orders takes longer than a statement may; waiting for another process's
      // seed too.
      await client.query('SET statement_timeout = 0');
      await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [SETUP_LOCK_CLASS, schema ?? '']);
      await ensureSeeded(session, seed, schema);
      await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [SETUP_LOCK_CLASS, schema ?? '']);
      await client.query('RESET statement_timeout');
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
    query: async (sql, params, options) => {
      const signal = options?.signal;
      if (signal === undefined) return (await pool.query<Row>(sql, params as unknown[])).rows;
      return onConnection(pool, signal, (client) => client.query<Row>(sql, params as unknown[]));
    },
    write: (sql, params, options) =>
      onConnection(pool, options?.signal, async (client) => {
        // Writing from the moment the transaction is asked for: whatever happens next, nothing
        // of it is committed unless it reaches the COMMIT below.
        options?.progress?.('writing');
        await client.query('BEGIN');
        const result = await client.query<Row>(sql, params as unknown[]);
        // An abort while a statement ran closed the session (rolled back); one in the moment
        // between the statement's answer and this line is caught here.
        if (options?.signal?.aborted) {
          await client.query('ROLLBACK');
          throw options.signal.reason;
        }
        // From here on the outcome is the database's: an abort now leaves it unknown, and the
        // progress says so (`committing` without `committed`).
        options?.progress?.('committing');
        await client.query('COMMIT');
        options?.progress?.('committed');
        return result;
      }),
    close: () => pool.end(),
  };
}

/**
 * Runs `work` on a connection of its own. Aborted before it has one, nothing is sent (the
 * connection, once the pool hands it over, goes straight back). Aborted while it runs, the call
 * rejects at once, the statement is cancelled on the server and the connection is closed: its
 * session ends, so an open transaction is rolled back and a late reply is dropped.
 */
async function onConnection(
  pool: pg.Pool,
  signal: AbortSignal | undefined,
  work: (client: pg.PoolClient) => Promise<{ rows: Row[] }>,
): Promise<Row[]> {
  const client = await connection(pool, signal);
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      cancelBackend(client);
      reject(signal?.reason);
    };
  });
  signal?.addEventListener('abort', onAbort, { once: true });
  const running = work(client);
  try {
    const { rows } = await (signal === undefined ? running : Promise.race([running, aborted]));
    client.release();
    return rows;
  } catch (error) {
    // Whatever state the session is in (a transaction open, a statement running), it ends here.
    running.catch(() => {});
    client.release(true);
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * A connection of the pool, or the signal's reason as soon as it aborts: a caller that gave up
 * does not wait for a connection, and the one the pool hands over later goes straight back. (The
 * pool's `connectionTimeoutMillis` bounds the wait of the pool's own queue.)
 */
async function connection(pool: pg.Pool, signal: AbortSignal | undefined): Promise<pg.PoolClient> {
  if (signal === undefined) return pool.connect();
  signal.throwIfAborted();
  const connecting = pool.connect();
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
  });
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([connecting, aborted]);
  } catch (error) {
    connecting.then(
      (client) => client.release(),
      () => {},
    );
    throw error;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** How long a cancel request may take to be sent before it is given up. */
const CANCEL_TIMEOUT_MS = 2_000;

/**
 * Asks PostgreSQL to cancel what the backend of `client` runs: the protocol's CancelRequest (the
 * backend's pid and secret key, on a connection of its own, as psql's Ctrl-C does), which runs no
 * statement. Best effort and bounded in time: if it cannot be sent, statement_timeout ends it.
 */
function cancelBackend(client: pg.PoolClient): void {
  const { processID, secretKey, host, port } = client as unknown as {
    processID?: unknown;
    secretKey?: unknown;
    host?: unknown;
    port?: unknown;
  };
  if (typeof processID !== 'number' || typeof secretKey !== 'number') return;
  if (typeof host !== 'string' || typeof port !== 'number') return;
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(80_877_102, 4);
  packet.writeInt32BE(processID, 8);
  packet.writeInt32BE(secretKey, 12);
  const socket = host.startsWith('/')
    ? createConnection(`${host}/.s.PGSQL.${port}`)
    : createConnection({ host, port });
  socket.setTimeout(CANCEL_TIMEOUT_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('connect', () => socket.end(packet));
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
