/**
 * The shop's tables, indexes and deterministic seed: the same SQL for PGlite and Postgres.
 * Every statement is one statement (no multi-statement strings), so both drivers run it through
 * the extended protocol with parameters.
 */

/** One row as a driver returns it: column name to value (types vary by driver; see shop-data.ts). */
export type Row = Record<string, unknown>;

/** One connection (or the embedded database) that setup runs on; statements run in order. */
export interface SqlSession {
  query(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}

/** Sizes of the seed. Products and customers get ids 1..n, so product 1 and customer 1 exist. */
export interface SeedSizes {
  products: number;
  customers: number;
  orders: number;
}

/** A schema name the `schema` option accepts: lower-case, so it never needs case-folding rules. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** `"name"` for a name matching SCHEMA_NAME (throws otherwise: it is spliced into SQL). */
export function quoteSchema(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`unsafe schema name ${JSON.stringify(schema)}`);
  return `"${schema}"`;
}

export const DEFAULT_SEED: Readonly<SeedSizes> = { products: 1_000, customers: 1_000, orders: 200_000 };

/** The largest seed a caller may ask for, per table (seeding 10M orders already takes minutes). */
export const MAX_SEED: Readonly<SeedSizes> = {
  products: 1_000_000,
  customers: 1_000_000,
  orders: 10_000_000,
};

/**
 * `total_cents` is bigint, not int: `placeOrder` accepts quantity up to 1 000 and a price up to
 * 10 000 000 cents, whose product (1e10) overflows int. sum(bigint) returns numeric, which the
 * readers convert exactly to Cents strings (money.ts); on 200k orders it costs the same as
 * sum(int) (measured).
 */
const TABLES = [
  `CREATE TABLE IF NOT EXISTS products (
    id int PRIMARY KEY,
    name text NOT NULL,
    price_cents int NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS customers (
    id int PRIMARY KEY,
    name text NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id int NOT NULL,
    product_id int NOT NULL,
    quantity int NOT NULL,
    total_cents bigint NOT NULL,
    created_at timestamptz NOT NULL
  )`,
];

/**
 * The foreign keys of orders, added after the seed: one validating join instead of a trigger
 * lookup per seeded row (seeding 200k orders in PGlite: 1.4 s instead of 3.2 s). Each statement
 * drops the constraint first, so it is idempotent if the tables existed empty.
 */
const FOREIGN_KEYS = [
  `ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_customer_id_fkey,
    ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers (id)`,
  `ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_product_id_fkey,
    ADD CONSTRAINT orders_product_id_fkey FOREIGN KEY (product_id) REFERENCES products (id)`,
];

/**
 * `orders (product_id)` serves productStatsByIds; `(customer_id, created_at DESC, id DESC)` serves
 * recentOrders as an ordered index scan that stops at the limit. salesSummary and topProducts
 * aggregate every order, so no index helps them. Created after the seed (building an index once
 * is cheaper than maintaining it through 200k inserts).
 */
const INDEXES = [
  'CREATE INDEX IF NOT EXISTS orders_product_id_idx ON orders (product_id)',
  'CREATE INDEX IF NOT EXISTS orders_customer_recent_idx ON orders (customer_id, created_at DESC, id DESC)',
];

/**
 * Prices 0.99 .. 24.99, spread by a prime stride: deterministic, not monotonic in the id. The
 * default seed's revenue is about 789 million cents; nothing depends on it staying small: the
 * schema's amounts are `Cents` (decimal strings, exact at any size) since issue 12, because
 * orders alone (544 of quantity 1 000 at these prices) pass GraphQL's 32-bit Int.
 */
const SEED_PRODUCTS = `INSERT INTO products (id, name, price_cents)
  SELECT i, 'Product ' || i, 99 + ((i::bigint * 7919) % 25)::int * 100
  FROM generate_series(1, $1::int) AS i`;

const SEED_CUSTOMERS = `INSERT INTO customers (id, name)
  SELECT i, 'Customer ' || i
  FROM generate_series(1, $1::int) AS i`;

/**
 * Order i (1..n) draws three independent-looking fractions u, v, w in [0, 1) from multiplicative
 * hashes of i modulo 2^32 (odd multipliers, so each is a bijection of the 32-bit range):
 * - product 1 + floor(products * u * u): skewed towards low ids (share of product k ~ 1/sqrt(k)),
 *   so topProducts has clear leaders;
 * - customer 1 + floor(customers * v): uniform;
 * - quantity 1 + floor(5 * w): 1..5.
 * Only integer arithmetic and IEEE multiplication and division (no pow or random), so every
 * Postgres build, native or WASM, produces the same rows. created_at is a fixed epoch minus
 * (n - i) minutes: order ids grow with time and orders placed later (now()) are the newest.
 * total_cents is quantity times the product's price at seed time. ORDER BY i assigns identity
 * ids in i order.
 */
const SEED_ORDERS = `INSERT INTO orders (customer_id, product_id, quantity, total_cents, created_at)
  SELECT g.customer_id, g.product_id, g.quantity, g.quantity * p.price_cents::bigint, g.created_at
  FROM (
    SELECT
      h.i,
      least($3::int, 1 + floor($3::int * h.v)::int) AS customer_id,
      least($2::int, 1 + floor($2::int * h.u * h.u)::int) AS product_id,
      least(5, 1 + floor(5 * h.w)::int) AS quantity,
      timestamptz '2024-01-01 00:00:00+00' - ($1::int - h.i) * interval '1 minute' AS created_at
    FROM (
      SELECT
        i,
        ((i::bigint * 2654435761) % 4294967296)::float8 / 4294967296 AS u,
        ((i::bigint * 2246822519 + 3266489917) % 4294967296)::float8 / 4294967296 AS v,
        ((i::bigint * 3266489917 + 374761393) % 4294967296)::float8 / 4294967296 AS w
      FROM generate_series(1, $1::int) AS i
    ) AS h
  ) AS g
  JOIN products AS p ON p.id = g.product_id
  ORDER BY g.i`;

/**
 * Creates `schema` (when given) and points the session's search_path at it, creates the tables
 * if absent and, if `products` is empty, seeds all three tables and adds the foreign keys; then
 * makes sure the indexes exist and refreshes planner statistics. Returns whether this call seeded.
 *
 * Runs in one transaction, so the tables are created, seeded and constrained together: a failed
 * seed leaves nothing behind, and a non-empty `products` means a complete earlier seed (with its
 * foreign keys) that must be kept, whatever sizes it used.
 *
 * The caller owns exclusion: two sessions running this at once on one database would both see
 * empty tables (Postgres takes an advisory lock around it; PGlite has one session). `schema`
 * must already match SCHEMA_NAME: identifiers cannot be parameters, so it is quoted into the text.
 */
export async function ensureSeeded(
  session: SqlSession,
  seed: SeedSizes,
  schema: string | undefined,
): Promise<boolean> {
  await session.query('BEGIN');
  try {
    if (schema !== undefined) {
      await session.query(`CREATE SCHEMA IF NOT EXISTS ${quoteSchema(schema)}`);
      await session.query(`SET search_path TO ${quoteSchema(schema)}`);
    }
    for (const ddl of TABLES) await session.query(ddl);
    const [existing] = await session.query('SELECT EXISTS (SELECT 1 FROM products) AS has_products');
    const seeding = existing?.has_products !== true;
    if (seeding) {
      await session.query(SEED_PRODUCTS, [seed.products]);
      await session.query(SEED_CUSTOMERS, [seed.customers]);
      await session.query(SEED_ORDERS, [seed.orders, seed.products, seed.customers]);
      for (const ddl of FOREIGN_KEYS) await session.query(ddl);
    }
    for (const ddl of INDEXES) await session.query(ddl);
    if (seeding) await session.query('ANALYZE products, customers, orders');
    await session.query('COMMIT');
    return seeding;
  } catch (error) {
    await session.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
