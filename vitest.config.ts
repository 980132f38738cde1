import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql@16 ships CJS (main) and ESM (module) builds. Node loads the CJS one for every package,
    // Vite would hand test files the ESM one, and two copies of graphql refuse each other's schema.
    alias: { graphql: require.resolve('graphql') },
  },
  test: {
    include: ['tests/**/*.test.ts'],
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
