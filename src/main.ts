import { createServer as createHttpServer } from 'node:http';
import { loadConfig } from './config.js';
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
const http = createHttpServer(app.yoga);
http.listen(config.port, () => {
  console.log(
    `graphql-flight on http://localhost:${config.port}/graphql (${app.data.kind}, ${app.cache.stats().store.kind} cache)`,
  );
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
  await new Promise<void>((resolve) => {
    http.close(() => resolve());
    http.closeIdleConnections();
  });
  await app.close();
  console.log('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
