// The server under load for bench/http.ts, in a process of its own: src/server.ts createServer on
// the default embedded seed. BENCH_MODE picks the caches:
//
// - `none`: fieldCache false, responseCache false (the baseline: every request reaches Postgres);
// - `field`: the field cache only (responseCache false);
// - `response` (default, as src/server.ts builds it by default): the response cache over the
//   field cache; a repeat of a public query is answered before Yoga parses it (`X-Cache: HIT`).
//
// Listens on a free loopback port, sends `{ type: 'ready', port }` over IPC, answers IPC
// "counts" with the data source's query counts, and exits on "stop" or when the parent goes away.
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from '../src/server.js';

const MODES = ['none', 'field', 'response'] as const;
type Mode = (typeof MODES)[number];
const mode = (process.env.BENCH_MODE ?? 'response') as Mode;
if (!MODES.includes(mode)) {
  throw new Error(`BENCH_MODE must be one of ${MODES.join(', ')} (got ${JSON.stringify(mode)})`);
}

const app = await createServer({
  config: {
    nodeEnv: 'test',
    redisUrl: undefined,
    databaseUrl: undefined,
    authSecret: new Uint8Array(32),
    responseCache: mode === 'response',
  },
  fieldCache: mode !== 'none',
});
const http = createHttpServer(app.handler);
http.keepAliveTimeout = 60_000;
http.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (http.address() as AddressInfo).port });
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  http.close();
  http.closeAllConnections();
  void app.close().finally(() => process.exit(0));
};
process.on('message', (message: { type: string }) => {
  if (message.type === 'counts') process.send?.({ type: 'counts', counts: app.data.queryCounts() });
  if (message.type === 'stop') stop();
});
process.on('disconnect', stop);
