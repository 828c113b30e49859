import { createRequire } from 'node:module';

import { defineConfig } from 'vitest/config';

/**
 * `*.test.ts`: in-process tests of pure logic. `*.e2e.ts`: real servers on port 0 (the mock
 * upstream, the service) driven by real clients (the openai SDK, graphql-ws, SSE over fetch).
 */
export default defineConfig({
  resolve: {
    // Node loads `graphql` (no "exports" map) as CommonJS for the service and its dependencies;
    // Vite would give the tests' own imports its ES build, a second realm whose types and errors
    // fail graphql's instanceof checks. One instance, as in production.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.e2e.ts'],
    // Builds the chat page for the browser tests when dist/web is missing or older than web/.
    globalSetup: ['test/browser/build-page.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Timing bounds (abort within 100 ms) are checked with margins; parallel files on a 2-core
    // machine would only add noise.
    fileParallelism: false,
  },
});
