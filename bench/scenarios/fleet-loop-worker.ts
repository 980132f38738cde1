/**
 * One process of the fleet-expiry and origin-outage scenarios (started by bench/lib/fleet-loops.ts
 * with `node --import tsx` and an IPC channel; not a scenario itself). For each job it creates
 * the system's adapter on the shared Redis and warms its connections ('ready'), reads the hot key
 * once when told ('warmed'), then on 'go' runs its caller loops on the key until the window's end
 * and reports its calls, latencies, errors and origin attempts ('done'). Every counted origin
 * attempt also INCRs a counter key in Redis, so the parent reads the fleet's total in one place.
 *
 * It always ends: on 'exit', when the parent goes away (IPC disconnect), or after 30 s without a
 * message from the parent, whichever comes first.
 */
import { Redis } from 'ioredis';
import type { FromLoopWorker, LoopGo, LoopJob, ToLoopWorker } from '../lib/fleet-loops.js';
import { callerLoops, latencyFigures } from '../lib/loops.js';
import { epochNow, Origin, type Stamp } from '../lib/origin.js';
import { createPeer, type Peer } from '../lib/peers.js';
import { sleep } from '../lib/stats.js';

const IDLE_MS = 30_000;

if (process.send === undefined) {
  console.error('fleet-loop-worker runs as a child of bench/lib/fleet-loops.ts (it needs an IPC channel)');
  process.exit(2);
}

const send = (message: FromLoopWorker) => process.send?.(message);
let idle = setTimeout(() => process.exit(3), IDLE_MS);
const touch = () => {
  clearTimeout(idle);
  idle = setTimeout(() => process.exit(3), IDLE_MS);
};

let peer: Peer<Stamp | { warm: true }> | undefined;
let origin: Origin | undefined;
let counter: Redis | undefined;
let job: LoopJob | undefined;

async function prepare(next: LoopJob): Promise<void> {
  job = next;
  counter ??= new Redis(next.redisUrl, { maxRetriesPerRequest: 1 });
  const redis = counter;
  // The counter expires on its own too, should the parent die before it deletes the namespace.
  const source = new Origin({
    loaderMs: next.loaderMs,
    onAttempt: () => redis.multi().incr(next.counterKey).pexpire(next.counterKey, 600_000).exec(),
  });
  origin = source;
  peer = createPeer<Stamp | { warm: true }>(next.system, {
    ttlMs: next.ttlMs,
    redis: { url: next.redisUrl, namespace: next.namespace },
    ...(next.staleMs === undefined ? {} : { staleMs: next.staleMs }),
    ...(next.staleIfErrorMs === undefined ? {} : { staleIfErrorMs: next.staleIfErrorMs }),
    // The warm-up key of a process is not an origin load.
    load: (key) => (key === next.key ? source.load() : Promise.resolve({ warm: true as const })),
  });
  // Open every connection the system uses, with a key of this process alone.
  await peer.get(`${next.namespace}:warm:${process.pid}`);
  await redis.ping();
}

async function go(message: LoopGo): Promise<void> {
  const current = job;
  const system = peer;
  const source = origin;
  if (current === undefined || system === undefined || source === undefined)
    throw new Error('go before prepare');
  const outage = message.outage;
  source.outage = outage;
  source.counting = true;
  let firstFreshAt: number | null = null;
  const startedAt = epochNow();
  const { latencies, errors } = await callerLoops({
    loops: current.loops,
    // The window's end on this process's monotonic clock (the parent gives it in wall-clock time).
    endAt: performance.now() + (message.endAt - epochNow()),
    call: () => system.get(current.key),
    onValue: (value) => {
      if (
        outage !== undefined &&
        firstFreshAt === null &&
        'startedAt' in value &&
        value.startedAt >= outage.endAt
      ) {
        firstFreshAt = epochNow();
      }
    },
  });
  source.counting = false;
  // Let a refresh started at the end of the window finish before the system closes.
  await sleep(current.loaderMs + 10);
  const figures = latencyFigures(latencies, current.blockedMs);
  send({
    type: 'done',
    startedAt,
    calls: figures.calls,
    blocked: figures.blocked,
    p999: figures.p999,
    max: figures.max,
    errors,
    attempts: source.attempts,
    failed: source.failed,
    firstFreshAt,
  });
}

async function close(): Promise<void> {
  const system = peer;
  peer = undefined;
  job = undefined;
  origin = undefined;
  await system?.close();
}

async function exit(code: number): Promise<never> {
  await Promise.race([
    (async () => {
      await close().catch(() => {});
      await counter?.quit().catch(() => {});
    })(),
    sleep(2_000),
  ]);
  process.exit(code);
}

process.on('message', (message: ToLoopWorker) => {
  touch();
  const handle = async () => {
    switch (message.type) {
      case 'prepare':
        await prepare(message);
        send({ type: 'ready' });
        break;
      case 'warm':
        if (peer === undefined || job === undefined) throw new Error('warm before prepare');
        await peer.get(job.key);
        send({ type: 'warmed' });
        break;
      case 'go':
        await go(message);
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
