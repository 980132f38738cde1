/**
 * One process of the fleet scenario (started by fleet.ts with `node --import tsx` and an IPC
 * channel; not a scenario itself). For each job it creates the system's adapter on the shared
 * Redis, warms its connections, says 'ready', waits for 'go' (sent to every process at once), makes
 * its concurrent callers ask for the one cold key, and reports its loads and waits. Every origin
 * load also INCRs a counter key in Redis, so the parent reads the fleet's total in one place.
 *
 * It always ends: on 'exit', when the parent goes away (IPC disconnect), or after 30 s without a
 * message from the parent, whichever comes first.
 */
import { Redis } from 'ioredis';
import { createPeer, type Peer, type PeerId } from '../lib/peers.js';
import { percentile, sleep } from '../lib/stats.js';

export interface FleetJob {
  type: 'prepare';
  system: PeerId;
  redisUrl: string;
  namespace: string;
  key: string;
  counterKey: string;
  callers: number;
  loaderMs: number;
}

export type ToWorker = FleetJob | { type: 'go' } | { type: 'close' } | { type: 'exit' };

export type FromWorker =
  | { type: 'hello' }
  | { type: 'ready' }
  | {
      type: 'done';
      /** When this process released its callers: ms since the epoch, sub-millisecond. */
      startedAt: number;
      loads: number;
      p50: number;
      p99: number;
      max: number;
      failed: number;
    }
  | { type: 'closed' }
  | { type: 'error'; message: string };

const IDLE_MS = 30_000;

if (process.send === undefined) {
  console.error('fleet-worker runs as a child of bench/scenarios/fleet.ts (it needs an IPC channel)');
  process.exit(2);
}

const send = (message: FromWorker) => process.send?.(message);
let idle = setTimeout(() => process.exit(3), IDLE_MS);
const touch = () => {
  clearTimeout(idle);
  idle = setTimeout(() => process.exit(3), IDLE_MS);
};

let peer: Peer<unknown> | undefined;
let counter: Redis | undefined;
let job: FleetJob | undefined;
let loads = 0;

async function prepare(next: FleetJob): Promise<void> {
  job = next;
  loads = 0;
  counter ??= new Redis(next.redisUrl, { maxRetriesPerRequest: 1 });
  const origin = counter;
  peer = createPeer(next.system, {
    ttlMs: 60_000,
    redis: { url: next.redisUrl, namespace: next.namespace },
    load: async (key) => {
      if (key !== next.key) return { warm: true }; // the warm-up key is not an origin load
      loads++;
      // The counter expires on its own too, should the parent die before it deletes the namespace.
      await origin.multi().incr(next.counterKey).pexpire(next.counterKey, 600_000).exec();
      await sleep(next.loaderMs);
      return { total: 42 };
    },
  });
  // Open every connection the system uses before the barrier, with a key of this process alone.
  await peer.get(`${next.namespace}:warm:${process.pid}`);
  await origin.ping();
}

async function go(): Promise<void> {
  const current = job;
  const system = peer;
  if (current === undefined || system === undefined) throw new Error('go before prepare');
  let failed = 0;
  const startedAt = performance.timeOrigin + performance.now();
  const waits = await Promise.all(
    Array.from({ length: current.callers }, async () => {
      const started = performance.now();
      try {
        await system.get(current.key);
      } catch {
        failed++;
      }
      return performance.now() - started;
    }),
  );
  waits.sort((a, b) => a - b);
  send({
    type: 'done',
    startedAt,
    loads,
    p50: percentile(waits, 0.5),
    p99: percentile(waits, 0.99),
    max: waits[waits.length - 1] ?? Number.NaN,
    failed,
  });
}

async function close(): Promise<void> {
  const system = peer;
  peer = undefined;
  job = undefined;
  await system?.close();
}

async function exit(code: number): Promise<never> {
  const bounded = Promise.race([
    (async () => {
      await close().catch(() => {});
      await counter?.quit().catch(() => {});
    })(),
    sleep(2_000),
  ]);
  await bounded;
  process.exit(code);
}

process.on('message', (message: ToWorker) => {
  touch();
  const handle = async () => {
    switch (message.type) {
      case 'prepare':
        await prepare(message);
        send({ type: 'ready' });
        break;
      case 'go':
        await go();
        break;
      case 'close':
        await close();
        send({ type: 'closed' });
        break;
      case 'exit':
        await exit(0);
    }
  };
  handle().catch((error: unknown) => {
    send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  });
});
process.on('disconnect', () => void exit(0));
send({ type: 'hello' });
