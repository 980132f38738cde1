import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

/** The library's own suites (`npm test -w graphql-flight`); the root config runs them too. */
export default defineConfig({
  resolve: {
    // One copy of graphql: the CJS build Node loads for every package (see the root config).
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    maxWorkers: 2,
  },
});
