/**
 * The counted upstream every benchmark server's hot field fetches, in a process of its own:
 * GET /hot answers after 20 ms with `{ total, updatedAt }` and counts the call; GET /count (or the
 * IPC message `{ type: 'count' }`) returns the count. Loopback only; exits on `stop` or when the
 * parent goes away.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const DELAY_MS = Number(process.env.BENCH_UPSTREAM_DELAY_MS ?? 20);
let calls = 0;

const server = createServer((request, response) => {
  if (request.url === '/hot') {
    calls++;
    const total = 1_000 + calls;
    setTimeout(() => {
      const body = JSON.stringify({ total, updatedAt: new Date().toISOString() });
      response.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      response.end(body);
    }, DELAY_MS);
    return;
  }
  if (request.url === '/count') {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ calls }));
    return;
  }
  response.writeHead(404).end();
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});

const exit = () => {
  server.closeAllConnections();
  server.close();
  process.exit(0);
};
process.on('message', (message: { type?: string }) => {
  if (message?.type === 'count') process.send?.({ type: 'count', calls });
  if (message?.type === 'stop') exit();
});
process.on('disconnect', exit);
