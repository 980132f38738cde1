import { type Config, ConfigError, EnvFileError, loadConfig } from './config.js';
import { type Listeners, listen } from './listen.js';
import { createServer, type Server } from './server.js';

/**
 * How long a graceful shutdown may take before the process exits anyway (exit code 1). A
 * supervisor should wait longer than this before it sends SIGKILL (README, "Running in production").
 */
const SHUTDOWN_DEADLINE_MS = 10_000;

/** Exit codes: 0 stopped cleanly, 1 could not start or did not stop in time, 2 bad configuration. */
const EXIT_START_FAILED = 1;
const EXIT_CONFIG = 2;

/** One line on stderr, then exit: no stack, for a failure the operator must fix outside the code. */
function fail(kind: string, error: unknown, code: number): never {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`graphql-flight: ${kind}: ${message.replace(/\s+/g, ' ').trim()}`);
  process.exit(code);
}

let app: Server | undefined;
let listeners: Listeners | undefined;
let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (listeners === undefined) {
    // Still starting: nothing is served yet, so there is nothing to finish.
    console.log(`${signal}: stopped before serving`);
    process.exit(0);
  }
  console.log(`${signal}: finishing in-flight requests`);
  const deadline = setTimeout(() => {
    console.error(`shutdown took longer than ${SHUTDOWN_DEADLINE_MS} ms; exiting`);
    process.exit(EXIT_START_FAILED);
  }, SHUTDOWN_DEADLINE_MS);
  deadline.unref();
  await listeners.close();
  await app?.close();
  console.log('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

let config: Config;
try {
  // The environment, over .env in the working directory (see environment in config.ts).
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError || error instanceof EnvFileError) fail('config error', error, EXIT_CONFIG);
  throw error;
}
if (config.devSecret) {
  console.warn(
    'AUTH_SECRET is not set: using the public development secret (refused when NODE_ENV=production)',
  );
}
try {
  app = await createServer({ config });
  listeners = await listen(app, config);
} catch (error) {
  await app?.close();
  fail('cannot start', error, EXIT_START_FAILED);
}
// Say at once whether the database and Redis answer, rather than claiming a healthy cache.
const report = await app.readiness.check();
const cache = report.cache.ok ? `${report.cache.kind} cache` : `${report.cache.kind} cache: not answering`;
console.log(
  `graphql-flight on ${listeners.graphqlUrl} (${app.data.kind}, ${cache}), listening on ${listeners.httpAddress}${config.host === undefined ? ' (every interface)' : ''}`,
);
if (listeners.metricsUrl !== undefined) {
  console.log(`metrics on ${listeners.metricsUrl}, listening on ${listeners.metricsAddress}, no token`);
}
if (!report.cache.ok) {
  console.warn(
    `redis does not answer (${report.cache.error}): values load from the database in this process until it does; /ready answers 503`,
  );
}
if (!report.database.ok) {
  console.warn(`the database does not answer (${report.database.error}); /ready answers 503`);
}
