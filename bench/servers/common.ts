/**
 * What every benchmark server shares: the schema (SDL for the schema-first ones), the TTL, the
 * counted upstream it fetches the hot value from, and the child-process protocol: listen on a
 * free loopback port, send `{ type: 'ready', port }` over IPC, exit on `{ type: 'stop' }` or when
 * the parent goes away. Imports nothing from graphql, so each server keeps its own graphql copy.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const typeDefs = /* GraphQL */ `
  type Query {
    hot: Hot!
  }
  type Hot {
    total: Int!
    updatedAt: String!
  }
`;

export interface HotValue {
  total: number;
  updatedAt: string;
}

/** The TTL every system caches the hot field (or the whole response) for, in milliseconds. */
export const TTL_MS = Number(process.env.BENCH_TTL_MS ?? 2_000);

const upstream = process.env.BENCH_UPSTREAM_URL;
if (upstream === undefined || !upstream.startsWith('http://127.0.0.1:')) {
  throw new Error('BENCH_UPSTREAM_URL must be set to the loopback upstream (http://127.0.0.1:<port>)');
}
const hotUrl = `${upstream}/hot`;

/** The hot field's data source: one GET over loopback to the counted upstream (20 ms there). */
export async function fetchHot(): Promise<HotValue> {
  const response = await fetch(hotUrl);
  if (!response.ok) throw new Error(`upstream answered ${response.status}`);
  return (await response.json()) as HotValue;
}

/** Sends `ready` with the port once `server` listens; handles `stop` and a vanished parent. */
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
    if (message?.type === 'stop') exit();
  });
  process.on('disconnect', exit);
  process.send?.({ type: 'ready', port });
}
