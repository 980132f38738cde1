import { InvalidOptionError } from 'graphql-flight';
import { type Driver, openPglite, openPostgres, type StatementOptions } from './drivers.js';
import { InvalidInputError, NotFoundError, ShopDataClosedError } from './errors.js';
import { averageCents, type Cents, toCents, toCount } from './money.js';
import { DEFAULT_SEED, MAX_SEED, type Row, SCHEMA_NAME, type SeedSizes } from './schema.js';

export interface ProductRow {
  id: number;
  name: string;
  priceCents: number;
}

/** The most units one order may have (`placeOrder`'s `quantity` is 1..ORDER_QUANTITY_MAX). */
export const ORDER_QUANTITY_MAX = 1_000;
/** The highest price, in cents (`updateProductPrice`'s `priceCents` is 0..PRICE_CENTS_MAX). */
export const PRICE_CENTS_MAX = 10_000_000;

/** Sales of one product over all orders; zeros for a product nobody ordered. */
export interface ProductStatsRow {
  productId: number;
  unitsSold: number;
  revenueCents: Cents;
}

/** All orders: count, revenue, and revenue / count rounded half up ("0" when there are no orders). */
export interface SalesSummaryRow {
  orderCount: number;
  revenueCents: Cents;
  averageOrderCents: Cents;
}

export interface TopProductRow extends ProductRow {
  unitsSold: number;
  revenueCents: Cents;
}

export interface CustomerRow {
  id: number;
  name: string;
}

export interface OrderRow {
  id: number;
  customerId: number;
  productId: number;
  quantity: number;
  /** quantity times the price the order was placed at: at most 1e10, and a Cents string like every amount. */
  totalCents: Cents;
  /** ISO 8601 in UTC with milliseconds (`2024-01-01T00:00:00.000Z`); Postgres keeps microseconds. */
  createdAt: string;
}

export interface PlaceOrderInput {
  customerId: number;
  productId: number;
  /** 1..1000. */
  quantity: number;
}

/**
 * The demo shop's data source. Every method sends at most one statement, named after the method
 * in `queryCounts()`; arguments are validated first (InvalidInputError, code E_INVALID_INPUT, and
 * nothing is sent). Every value is a parameter, never part of the SQL text.
 *
 * Ids are integers. An id that cannot exist (0, negative, beyond Postgres `int`) is an id with no
 * row, answered without a statement; a non-integer is invalid input. Id lists are deduplicated
 * before querying, and an empty list (after that) returns [] without a statement.
 *
 * Every method takes `options.signal` (see StatementOptions): a statement whose caller gave up is
 * not sent (or, running, is cancelled), so an abandoned load costs the database nothing once it
 * is back. The two writes run in a transaction of their own that commits only if the signal has
 * not aborted by then, and report their progress (`options.progress`).
 *
 * Amounts of money (revenue, averages, order totals) are `Cents`: canonical decimal strings,
 * exact at any size, never a JS number on the way (pg gives bigint and numeric as strings, PGlite
 * numeric as strings). Counts (orders, units sold) are JS numbers, exact: a count past 2^53 - 1
 * is refused with a TypeError, never rounded. Ids and prices are JS numbers: int columns, except
 * order ids (a bigint identity, counting up from 1), and prices are 0..PRICE_CENTS_MAX when
 * written here.
 */
export interface ShopData {
  readonly kind: 'pglite' | 'postgres';
  /** Statement `productsByIds`: the products among `ids` that exist, in no particular order. */
  productsByIds(ids: readonly number[], options?: StatementOptions): Promise<ProductRow[]>;
  /** Statement `productStatsByIds`: one row per existing product among `ids` (zeros allowed), any order. */
  productStatsByIds(ids: readonly number[], options?: StatementOptions): Promise<ProductStatsRow[]>;
  /**
   * Statement `topProducts`: the `limit` (1..100) products with the most units sold over all
   * orders, by units sold descending then id ascending; products without orders count 0 units.
   */
  topProducts(limit: number, options?: StatementOptions): Promise<TopProductRow[]>;
  /** Statement `salesSummary`: an aggregate over all orders. */
  salesSummary(options?: StatementOptions): Promise<SalesSummaryRow>;
  /** Statement `customersByIds`: the customers among `ids` that exist, in no particular order. */
  customersByIds(ids: readonly number[], options?: StatementOptions): Promise<CustomerRow[]>;
  /**
   * Statement `recentOrders`: the customer's newest `limit` (1..50) orders, by created_at then id,
   * both descending. [] for a customer without orders or that does not exist.
   */
  recentOrders(customerId: number, limit: number, options?: StatementOptions): Promise<OrderRow[]>;
  /**
   * Statement `placeOrder`: inserts an order for `quantity` (1..1000) at the product's price as the
   * statement reads it, created now() (the transaction's start). Rejects with NotFoundError
   * (E_NOT_FOUND) naming the customer, else the product, when it does not exist; nothing is
   * inserted then.
   */
  placeOrder(input: PlaceOrderInput, options?: StatementOptions): Promise<OrderRow>;
  /**
   * Statement `updateProductPrice`: sets the price (0..10 000 000 cents) and returns the updated
   * product, or null when there is no such product. Existing orders keep their totals.
   */
  updateProductPrice(id: number, priceCents: number, options?: StatementOptions): Promise<ProductRow | null>;
  /**
   * Statements sent to the database since open, by statement name: every name above, 0 until
   * sent. A statement counts when sent, whether or not it then fails. Seeding and DDL are not
   * counted. A new object on each call.
   */
  queryCounts(): Record<string, number>;
  /**
   * `SELECT 1`, for readiness checks: resolves when the database answers, rejects with the
   * driver's error. Not a shop statement (not in queryCounts). No deadline of its own: the caller
   * bounds its wait (src/plugins/readiness.ts).
   */
  ping(): Promise<void>;
  /** Closes the database (PGlite) or the pool (Postgres). Idempotent; later calls reject with E_DATA_CLOSED. */
  close(): Promise<void>;
}

export interface OpenShopDataOptions {
  /**
   * A `postgres://` or `postgresql://` URL: use that server through a pg Pool. Without it the shop
   * runs on an in-memory PGlite, seeded at every open.
   */
  databaseUrl?: string;
  /**
   * A schema (`[a-z_][a-z0-9_]*`, at most 63 characters) to keep the tables in; created if absent
   * and set as search_path of every connection. Tests give each suite its own and drop it with
   * `dropShopSchema` afterwards. Default: the server's search_path (usually `public`).
   */
  schema?: string;
  /**
   * Seed sizes, used only when the tables are empty (an existing database keeps its data, whatever
   * sizes it was seeded with). Products and customers 1..1 000 000, orders 0..10 000 000.
   * Default 1 000 products, 1 000 customers, 200 000 orders.
   */
  seed?: { products?: number; customers?: number; orders?: number };
  /**
   * PostgreSQL: the longest any statement may run (`statement_timeout`, milliseconds), so the
   * database ends a hung statement itself. Default 15 000 (the server passes its execution deadline).
   */
  statementTimeoutMs?: number;
}

const STATEMENTS = [
  'productsByIds',
  'productStatsByIds',
  'topProducts',
  'salesSummary',
  'customersByIds',
  'recentOrders',
  'placeOrder',
  'updateProductPrice',
] as const;

type StatementName = (typeof STATEMENTS)[number];

const INT4_MAX = 2_147_483_647;

/**
 * Opens the shop's database: Postgres at `databaseUrl`, else an in-memory PGlite. Creates the
 * tables and seeds them when absent before resolving; on Postgres, concurrent opens (any number
 * of processes) against one empty database or schema seed it once (see drivers.ts).
 */
export async function openShopData(options: OpenShopDataOptions = {}): Promise<ShopData> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object', options);
  }
  const { databaseUrl, schema } = options;
  if (
    databaseUrl !== undefined &&
    (typeof databaseUrl !== 'string' || !/^postgres(ql)?:\/\//.test(databaseUrl))
  ) {
    throw new InvalidOptionError('databaseUrl', 'a postgres:// or postgresql:// URL', databaseUrl);
  }
  if (schema !== undefined && (typeof schema !== 'string' || !SCHEMA_NAME.test(schema))) {
    throw new InvalidOptionError('schema', `a string matching ${SCHEMA_NAME}`, schema);
  }
  const seed = seedSizes(options.seed);
  const { statementTimeoutMs } = options;
  if (
    statementTimeoutMs !== undefined &&
    (!Number.isSafeInteger(statementTimeoutMs) ||
      statementTimeoutMs < 1 ||
      statementTimeoutMs > 2_147_483_647)
  ) {
    throw new InvalidOptionError('statementTimeoutMs', 'an integer in 1..2147483647', statementTimeoutMs);
  }
  const driver =
    databaseUrl === undefined
      ? await openPglite(seed, schema)
      : await openPostgres(databaseUrl, seed, schema, statementTimeoutMs);
  return new SqlShopData(driver);
}

function seedSizes(seed: OpenShopDataOptions['seed']): SeedSizes {
  if (seed === undefined) return { ...DEFAULT_SEED };
  if (typeof seed !== 'object' || seed === null) throw new InvalidOptionError('seed', 'an object', seed);
  const size = (table: keyof SeedSizes, min: number): number => {
    const value = seed[table] ?? DEFAULT_SEED[table];
    if (!Number.isSafeInteger(value) || value < min || value > MAX_SEED[table]) {
      throw new InvalidOptionError(`seed.${table}`, `an integer in ${min}..${MAX_SEED[table]}`, value);
    }
    return value;
  };
  return { products: size('products', 1), customers: size('customers', 1), orders: size('orders', 0) };
}

const PRODUCTS_BY_IDS = 'SELECT id, name, price_cents FROM products WHERE id = ANY($1::int[])';

const PRODUCT_STATS_BY_IDS = `SELECT p.id AS product_id,
    coalesce(sum(o.quantity), 0) AS units_sold,
    coalesce(sum(o.total_cents), 0) AS revenue_cents
  FROM products AS p
  LEFT JOIN orders AS o ON o.product_id = p.id
  WHERE p.id = ANY($1::int[])
  GROUP BY p.id`;

/** Aggregates orders per product first (one hash aggregate), then joins the products. */
const TOP_PRODUCTS = `SELECT p.id, p.name, p.price_cents,
    coalesce(s.units_sold, 0) AS units_sold,
    coalesce(s.revenue_cents, 0) AS revenue_cents
  FROM products AS p
  LEFT JOIN (
    SELECT product_id, sum(quantity) AS units_sold, sum(total_cents) AS revenue_cents
    FROM orders
    GROUP BY product_id
  ) AS s ON s.product_id = p.id
  ORDER BY coalesce(s.units_sold, 0) DESC, p.id ASC
  LIMIT $1`;

const SALES_SUMMARY = `SELECT count(*) AS order_count, coalesce(sum(total_cents), 0) AS revenue_cents
  FROM orders`;

const CUSTOMERS_BY_IDS = 'SELECT id, name FROM customers WHERE id = ANY($1::int[])';

const ORDER_COLUMNS = 'id, customer_id, product_id, quantity, total_cents, created_at';

const RECENT_ORDERS = `SELECT ${ORDER_COLUMNS}
  FROM orders
  WHERE customer_id = $1
  ORDER BY created_at DESC, id DESC
  LIMIT $2`;

/**
 * One statement reads the customer and the product and inserts only when both exist, so a
 * missing row costs no second round trip and the total uses the price this statement reads.
 * It always returns one row: the two existence flags, and the order's columns (null when nothing
 * was inserted). The foreign keys still guard against a row deleted meanwhile (the shop deletes
 * none).
 *
 * The statement commits as it returns, so nothing after it may fail for a row it wrote (issue 12:
 * an order reported as failed must not be committed). The total is `$3::int * price::bigint`, at
 * most 1 000 x (2^31 - 1), far inside bigint: the insert cannot overflow. Every column it returns
 * converts without a check that could throw: the total is Cents (any size), the quantity is the
 * validated 1..1000, created_at is now().
 */
const PLACE_ORDER = `WITH customer AS (
    SELECT id FROM customers WHERE id = $1
  ), product AS (
    SELECT id, price_cents FROM products WHERE id = $2
  ), placed AS (
    INSERT INTO orders (customer_id, product_id, quantity, total_cents, created_at)
    SELECT customer.id, product.id, $3::int, $3::int * product.price_cents::bigint, now()
    FROM customer, product
    RETURNING ${ORDER_COLUMNS}
  )
  SELECT EXISTS (SELECT 1 FROM customer) AS customer_exists,
    EXISTS (SELECT 1 FROM product) AS product_exists,
    placed.*
  FROM (VALUES (1)) AS one
  LEFT JOIN placed ON true`;

const UPDATE_PRODUCT_PRICE = `UPDATE products SET price_cents = $2
  WHERE id = $1
  RETURNING id, name, price_cents`;

class SqlShopData implements ShopData {
  readonly #driver: Driver;
  /** Owned by #send: incremented just before a statement goes to the driver. */
  readonly #counts: Record<StatementName, number>;
  #closing: Promise<void> | undefined;

  constructor(driver: Driver) {
    this.#driver = driver;
    this.#counts = Object.fromEntries(STATEMENTS.map((name) => [name, 0])) as Record<StatementName, number>;
  }

  get kind(): 'pglite' | 'postgres' {
    return this.#driver.kind;
  }

  async productsByIds(ids: readonly number[], options?: StatementOptions): Promise<ProductRow[]> {
    const wanted = idList('ids', ids);
    if (wanted.length === 0) return [];
    return (await this.#send('productsByIds', PRODUCTS_BY_IDS, [wanted], options)).map(product);
  }

  async productStatsByIds(ids: readonly number[], options?: StatementOptions): Promise<ProductStatsRow[]> {
    const wanted = idList('ids', ids);
    if (wanted.length === 0) return [];
    const rows = await this.#send('productStatsByIds', PRODUCT_STATS_BY_IDS, [wanted], options);
    return rows.map((row) => ({
      productId: num(row, 'product_id'),
      unitsSold: count(row, 'units_sold'),
      revenueCents: cents(row, 'revenue_cents'),
    }));
  }

  async topProducts(limit: number, options?: StatementOptions): Promise<TopProductRow[]> {
    integerIn('limit', limit, 1, 100);
    const rows = await this.#send('topProducts', TOP_PRODUCTS, [limit], options);
    return rows.map((row) => ({
      ...product(row),
      unitsSold: count(row, 'units_sold'),
      revenueCents: cents(row, 'revenue_cents'),
    }));
  }

  async salesSummary(options?: StatementOptions): Promise<SalesSummaryRow> {
    const [row] = await this.#send('salesSummary', SALES_SUMMARY, [], options);
    if (row === undefined) throw new Error('salesSummary returned no row');
    const orderCount = count(row, 'order_count');
    const revenueCents = cents(row, 'revenue_cents');
    // In bigint: a double quotient of a revenue past 2^53 would already be rounded.
    return { orderCount, revenueCents, averageOrderCents: averageCents(revenueCents, orderCount) };
  }

  async customersByIds(ids: readonly number[], options?: StatementOptions): Promise<CustomerRow[]> {
    const wanted = idList('ids', ids);
    if (wanted.length === 0) return [];
    const rows = await this.#send('customersByIds', CUSTOMERS_BY_IDS, [wanted], options);
    return rows.map((row) => ({ id: num(row, 'id'), name: str(row, 'name') }));
  }

  async recentOrders(customerId: number, limit: number, options?: StatementOptions): Promise<OrderRow[]> {
    const possible = id('customerId', customerId);
    integerIn('limit', limit, 1, 50);
    if (!possible) return [];
    return (await this.#send('recentOrders', RECENT_ORDERS, [customerId, limit], options)).map(order);
  }

  async placeOrder(input: PlaceOrderInput, options?: StatementOptions): Promise<OrderRow> {
    if (typeof input !== 'object' || input === null) throw new InvalidInputError('input', 'an object', input);
    const { customerId, productId, quantity } = input;
    const customerPossible = id('input.customerId', customerId);
    const productPossible = id('input.productId', productId);
    integerIn('input.quantity', quantity, 1, ORDER_QUANTITY_MAX);
    if (!customerPossible) throw new NotFoundError('customer', customerId);
    if (!productPossible) throw new NotFoundError('product', productId);
    const [row] = await this.#send(
      'placeOrder',
      PLACE_ORDER,
      [customerId, productId, quantity],
      options,
      true,
    );
    if (row === undefined) throw new Error('placeOrder returned no row');
    if (row.customer_exists !== true) throw new NotFoundError('customer', customerId);
    if (row.product_exists !== true) throw new NotFoundError('product', productId);
    return order(row);
  }

  async updateProductPrice(
    productId: number,
    priceCents: number,
    options?: StatementOptions,
  ): Promise<ProductRow | null> {
    const possible = id('id', productId);
    integerIn('priceCents', priceCents, 0, PRICE_CENTS_MAX);
    if (!possible) return null;
    const [row] = await this.#send(
      'updateProductPrice',
      UPDATE_PRODUCT_PRICE,
      [productId, priceCents],
      options,
      true,
    );
    return row === undefined ? null : product(row);
  }

  queryCounts(): Record<string, number> {
    return { ...this.#counts };
  }

  async ping(): Promise<void> {
    if (this.#closing !== undefined) throw new ShopDataClosedError();
    await this.#driver.query('SELECT 1', []);
  }

  close(): Promise<void> {
    if (this.#closing === undefined) this.#closing = this.#driver.close();
    return this.#closing;
  }

  /** Counts and sends one named statement; the only path from the methods to the driver. */
  #send(
    name: StatementName,
    sql: string,
    params: readonly unknown[],
    options: StatementOptions | undefined,
    write = false,
  ): Promise<Row[]> {
    if (this.#closing !== undefined) return Promise.reject(new ShopDataClosedError());
    // A statement whose caller already gave up is neither sent nor counted.
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    this.#counts[name]++;
    return write ? this.#driver.write(sql, params, options) : this.#driver.query(sql, params, options);
  }
}

/**
 * Validates an id list: every element an integer (else E_INVALID_INPUT naming `ids[i]`). Returns
 * the distinct ids that a Postgres `int` column can hold, in first-seen order.
 */
function idList(field: string, ids: readonly number[]): number[] {
  if (!Array.isArray(ids)) throw new InvalidInputError(field, 'an array of integer ids', ids);
  const distinct = new Set<number>();
  ids.forEach((value: unknown, index) => {
    if (!Number.isSafeInteger(value)) throw new InvalidInputError(`${field}[${index}]`, 'an integer', value);
    if (id(field, value as number)) distinct.add(value as number);
  });
  return [...distinct];
}

/** Validates one id (an integer, else E_INVALID_INPUT); answers whether a row could have it. */
function id(field: string, value: number): boolean {
  if (!Number.isSafeInteger(value)) throw new InvalidInputError(field, 'an integer', value);
  return value >= 1 && value <= INT4_MAX;
}

function integerIn(field: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidInputError(field, `an integer in ${min}..${max}`, value);
  }
}

function product(row: Row): ProductRow {
  return { id: num(row, 'id'), name: str(row, 'name'), priceCents: num(row, 'price_cents') };
}

function order(row: Row): OrderRow {
  return {
    id: num(row, 'id'),
    customerId: num(row, 'customer_id'),
    productId: num(row, 'product_id'),
    quantity: num(row, 'quantity'),
    totalCents: cents(row, 'total_cents'),
    createdAt: iso(row, 'created_at'),
  };
}

/** An amount-of-money column (bigint, or numeric from sum()) as exact Cents. */
function cents(row: Row, column: string): Cents {
  return toCents(row[column], `column ${column}`);
}

/** A count column (count(*), sum(int): int8) as an exact JS number. */
function count(row: Row, column: string): number {
  return toCount(row[column], `column ${column}`);
}

/** A numeric column as a JS number: pg sends int8 and numeric as strings, PGlite numeric too. */
function num(row: Row, column: string): number {
  const value = row[column];
  if (typeof value === 'number') return value;
  if (typeof value === 'string' || typeof value === 'bigint') {
    const parsed = Number(value);
    if (Number.isFinite(parsed)) return parsed;
  }
  throw new TypeError(`column ${column} is not a number (${typeof value})`);
}

function str(row: Row, column: string): string {
  const value = row[column];
  if (typeof value === 'string') return value;
  throw new TypeError(`column ${column} is not text (${typeof value})`);
}

/** A timestamptz column as ISO 8601 UTC: both drivers parse it to a Date; a string is accepted too. */
function iso(row: Row, column: string): string {
  const value = row[column];
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) {
    throw new TypeError(`column ${column} is not a timestamp (${typeof value})`);
  }
  return date.toISOString();
}
