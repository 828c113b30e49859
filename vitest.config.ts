import { createRequire } from 'node:module';

import { defineConfig } from 'vitest/config';

/**
 * Three projects, run in this order (`sequence.groupOrder`), never side by side:
 * - `unit`: `test/unit/*.test.ts`, pure logic in process, files in parallel (`npm run test:unit`);
 * - `e2e`: `test/e2e/*.e2e.ts`, real servers on port 0 (the mock upstream, the service, Redis)
 *   driven by real clients (the openai SDK, graphql-ws, SSE over fetch), one file at a time:
 *   timing bounds (an abort within 100 ms) are checked with margins, and parallel files on a
 *   2-core machine would only add noise;
 * - `browser`: `test/browser/*.e2e.ts`, the chat page and GraphiQL in headless Chromium, after the
 *   page is built (`test/browser/build-page.ts`, which rebuilds it only when its sources changed).
 */
export default defineConfig({
  resolve: {
    // Node loads `graphql` (no "exports" map) as CommonJS for the service and its dependencies;
    // Vite would give the tests' own imports its ES build, a second realm whose types and errors
    // fail graphql's instanceof checks. One instance, as in production.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }],
  },
  test: {
    testTimeout: 20_000,
    hookTimeout: 20_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], sequence: { groupOrder: 0 } } },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.ts'],
          // The chat page's static files are served in a few e2e tests too.
          globalSetup: ['test/browser/build-page.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.e2e.ts'],
          globalSetup: ['test/browser/build-page.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
