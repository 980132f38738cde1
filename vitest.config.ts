import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);
const library = (path: string) =>
  fileURLToPath(new URL(`./packages/graphql-flight/src/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      // graphql@16 ships CJS (main) and ESM (module) builds. Node loads the CJS one for every
      // package, Vite would hand test files the ESM one, and two copies of graphql refuse each
      // other's schema.
      { find: /^graphql$/, replacement: require.resolve('graphql') },
      // The server's suites run against the library's source (what tsc's customConditions and
      // tsx's --conditions=@graphql-flight/source also read), not a build that may be stale.
      { find: /^graphql-flight$/, replacement: library('index.ts') },
      { find: /^graphql-flight\/graphql$/, replacement: library('graphql/index.ts') },
      { find: /^graphql-flight\/loaders$/, replacement: library('loaders/index.ts') },
      { find: /^graphql-flight\/pothos$/, replacement: library('graphql/pothos.ts') },
    ],
  },
  test: {
    // Both packages' suites: the library's (packages/graphql-flight/tests) and the server's.
    include: ['tests/**/*.test.ts', 'packages/graphql-flight/tests/**/*.test.ts'],
    // PostgreSQL-only suites run when DATABASE_URL is set (.ci/run's second pass); otherwise they
    // are not collected at all, so no run reports a skipped test.
    exclude: process.env.DATABASE_URL
      ? ['**/node_modules/**']
      : ['**/node_modules/**', 'tests/**/*.postgres.test.ts'],
    // Hang watchdogs only: no test relies on a timeout for ordering.
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Suites that start their own redis-server or database share the machine's two cores.
    maxWorkers: 2,
  },
});
