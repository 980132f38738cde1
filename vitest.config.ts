import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Hang watchdogs only: no test relies on a timeout for ordering.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Suites that start their own redis-server share the machine's two cores.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
