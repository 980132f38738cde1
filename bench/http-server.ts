// The server under load for bench/http.ts, in a process of its own. Listens on a free loopback
// port, prints "ready <port>", and answers IPC "counts" with the data source's query counts.
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from '../src/server.js';

const fieldCache = process.env.BENCH_FIELD_CACHE !== '0';
const app = await createServer({
  config: { nodeEnv: 'test', redisUrl: undefined, databaseUrl: undefined, authSecret: new Uint8Array(32) },
  fieldCache,
});
const http = createHttpServer(app.yoga);
http.keepAliveTimeout = 60_000;
http.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (http.address() as AddressInfo).port });
});
process.on('message', (message: { type: string }) => {
  if (message.type === 'counts') process.send?.({ type: 'counts', counts: app.data.queryCounts() });
  if (message.type === 'stop') {
    http.close();
    http.closeAllConnections();
    void app.close().then(() => process.exit(0));
  }
});
