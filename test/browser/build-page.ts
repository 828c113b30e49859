/**
 * vitest globalSetup: the browser tests load the chat page from dist/web/, as `npm start` serves
 * it. `npm ci` and `npm run build` build it; this rebuilds it (into dist/, which git ignores) only
 * when it is missing or older than its sources, so a test run never serves a stale page. Then it
 * precompresses it as `npm run build` does (scripts/precompress.mjs, which redoes nothing current),
 * so that the tests get the `.br` and `.gz` files that production serves.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

function newestChange(path: string): number {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestChange(join(path, name))));
}

function runNode(what: string, args: string[]): void {
  // vitest sets NODE_ENV=test, with which Vite would bundle React's development build.
  const env = { ...process.env, NODE_ENV: 'production' };
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
  if (result.status !== 0) throw new Error(`${what} failed (exited with ${result.status})`);
}

export default function buildPage(): void {
  const built = join(root, 'dist/web/index.html');
  const sources = Math.max(...['web/src', 'web/index.html', 'web/vite.config.ts'].map((path) => newestChange(join(root, path))));
  if (!existsSync(built) || statSync(built).mtimeMs < sources) {
    const vite = join(dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin/vite.js');
    runNode('building the chat page (vite build)', [vite, 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn']);
  }
  runNode('compressing the chat page', [join(root, 'scripts/precompress.mjs'), join(root, 'dist/web')]);
}
