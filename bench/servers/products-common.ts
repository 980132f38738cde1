/**
 * What the write-mix servers (bench/servers/products-*.ts) share: the product schema (SDL for the
 * schema-first ones), the TTL, the in-process "database" of 1,000 products with its read counter,
 * and the child-process protocol: listen on a free loopback port, send `{ type: 'ready', port }`
 * over IPC, answer `{ type: 'count' }` with `{ type: 'count', reads, writes }`, exit on
 * `{ type: 'stop' }` or when the parent goes away. (bench/servers/common.ts has the same protocol
 * but requires the hot-field upstream, which these servers do not have.) Imports nothing from
 * graphql, so each server keeps its own graphql copy.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const typeDefs = /* GraphQL */ `
  type Product {
    id: ID!
    name: String!
    priceCents: Int!
  }
  type Query {
    product(id: ID!): Product
  }
  type Mutation {
    updateProductPrice(id: ID!, priceCents: Int!): Product
  }
`;

/** One product as the database holds it; never mutated in place (a write replaces the record). */
export interface ProductRow {
  readonly id: string;
  readonly name: string;
  readonly priceCents: number;
}

/** Products `1` to `PRODUCTS` (as strings, the way `ID!` arrives in resolvers). */
export const PRODUCTS = 1_000;

/** The TTL every system caches a product (or the whole response) for, in milliseconds. */
export const TTL_MS = Number(process.env.BENCH_TTL_MS ?? 60_000);

/** The price every product starts at (the scenario writes prices outside this range). */
export function initialPrice(id: number): number {
  return 1_000 + id;
}

const rows = new Map<string, ProductRow>();
for (let id = 1; id <= PRODUCTS; id++) {
  rows.set(String(id), { id: String(id), name: `Product ${id}`, priceCents: initialPrice(id) });
}
let reads = 0;
let writes = 0;

/** 2 to 5 ms, cycling, so every system sees the same delays in the same order. */
function delay(n: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 2 + (n % 4)));
}

/**
 * Reads one product (counted): the row as it is when the read starts, answered after the delay,
 * as a query's snapshot travels back from a database. A copy, so no cache holds the database's
 * own object. Null for an unknown id.
 */
export async function readProduct(id: string): Promise<ProductRow | null> {
  const n = ++reads;
  const row = rows.get(id);
  await delay(n);
  return row === undefined ? null : { ...row };
}

/**
 * Sets one product's price (counted as a write, not a read): the new row is in place when this
 * resolves, after the delay. Null for an unknown id.
 */
export async function writePrice(id: string, priceCents: number): Promise<ProductRow | null> {
  const n = ++writes;
  await delay(n);
  const row = rows.get(id);
  if (row === undefined) return null;
  const next = { ...row, priceCents };
  rows.set(id, next);
  return { ...next };
}

/** Sends `ready` with the port once `server` listens; answers `count`, handles `stop` and a vanished parent. */
export function announce(server: Server, close?: () => Promise<unknown>): void {
  const port = (server.address() as AddressInfo).port;
  const exit = () => {
    server.closeAllConnections();
    server.close();
    // Bounded: whatever close does, the process is gone within a second.
    setTimeout(() => process.exit(0), 1_000).unref();
    void Promise.resolve(close?.())
      .catch(() => {})
      .finally(() => process.exit(0));
  };
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'count') process.send?.({ type: 'count', reads, writes });
    if (message?.type === 'stop') exit();
  });
  process.on('disconnect', exit);
  process.send?.({ type: 'ready', port });
}
