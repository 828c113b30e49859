/**
 * The chat page's build: `npm run build` (and so `npm ci` and `npm start`) writes it to dist/web/,
 * which the service serves at /chat (src/http/web.ts). Assets get content hashes in their names,
 * so the service can let browsers cache them for a year.
 *
 * `npx vite --config web/vite.config.ts` serves the page with hot reload on port 5173 and passes
 * /graphql (HTTP and WebSocket) on to a service running on port 4000.
 */
import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/chat/',
  clearScreen: false,
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    reportCompressedSize: false,
    // The page has its own budget, checked by test/browser/bundle.e2e.ts (gzipped, all chunks).
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: { '/graphql': { target: 'http://127.0.0.1:4000', ws: true } },
  },
});
