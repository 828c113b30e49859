/**
 * vitest globalSetup: the browser tests load the chat page from dist/web/, as `npm start` serves
 * it. `npm ci` and `npm run build` build it; this rebuilds it (into dist/, which git ignores) only
 * when it is missing or older than its sources, so a test run never serves a stale page.
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

export default function buildPage(): void {
  const built = join(root, 'dist/web/index.html');
  const sources = Math.max(...['web/src', 'web/index.html', 'web/vite.config.ts'].map((path) => newestChange(join(root, path))));
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  const vite = join(dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin/vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error(`building the chat page failed (vite build exited with ${result.status})`);
}
