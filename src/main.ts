import { createServer as createHttpServer } from 'node:http';
import { loadConfig } from './config.js';
import { httpServerOptions } from './plugins/hardening.js';
import { METRICS_LISTENER } from './plugins/use-metrics.js';
import { createServer } from './server.js';

/** How long a graceful shutdown may take before the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 10_000;

const config = loadConfig();
if (config.devSecret) {
  console.warn(
    'AUTH_SECRET is not set: using the public development secret (refused when NODE_ENV=production)',
  );
}
const app = await createServer({ config });
// A client must send its headers within HEADERS_TIMEOUT_MS and its whole request within
// REQUEST_TIMEOUT_MS, or Node answers 408 and closes the connection (slow clients hold no socket).
const http = createHttpServer(httpServerOptions(config.limits), app.handler);
http.listen(config.port, () => {
  console.log(
    `graphql-flight on http://localhost:${config.port}/graphql (${app.data.kind}, ${app.cache.stats().store.kind} cache)`,
  );
});
// With METRICS_PORT, /metrics is served there only, without a token: bind that port where only the
// scraper reaches it. The same handler marks these requests, and answers nothing else on this port.
const metricsHttp =
  config.metricsPort === undefined
    ? undefined
    : createHttpServer(httpServerOptions(config.limits), (request, response) =>
        app.yoga(request, response, { [METRICS_LISTENER]: true }),
      );
metricsHttp?.listen(config.metricsPort, () => {
  console.log(`metrics on http://localhost:${config.metricsPort}/metrics`);
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: finishing in-flight requests`);
  const deadline = setTimeout(() => {
    console.error(`shutdown took longer than ${SHUTDOWN_DEADLINE_MS} ms; exiting`);
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS);
  deadline.unref();
  // Stop accepting; idle keep-alive sockets are closed, busy ones finish their request.
  await Promise.all(
    [http, metricsHttp].map(
      (server) =>
        server &&
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        }),
    ),
  );
  await app.close();
  console.log('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
