#!/usr/bin/env node
/**
 * `npm run build` (and `npm start`, which builds first): compiles src/ to dist/ with tsc and the
 * chat page to dist/web/ with Vite, each only when its sources changed since the last build, so
 * that a restart with a new environment value starts in about a second. `--force` rebuilds both.
 * Then it precompresses the page (scripts/precompress.mjs) wherever a file lacks its current `.br`
 * and `.gz`: after every page build, and once on a page built before precompression existed.
 *
 * Plain JavaScript on purpose: it runs before anything is compiled, and needs nothing but Node.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { precompress } from './precompress.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');

/** The newest modification time under `path` (a file or a directory), 0 when it is missing. */
function newest(path) {
  if (!existsSync(path)) return 0;
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/** Whether `output` is missing or older than any of `sources`. */
function stale(output, sources) {
  const built = existsSync(output) ? statSync(output).mtimeMs : 0;
  return force || built === 0 || sources.some((source) => newest(join(root, source)) > built);
}

function run(what, script, args) {
  const started = performance.now();
  // The page is always a production bundle: a NODE_ENV=development (or test) in the environment
  // would otherwise make Vite bundle React's development build.
  const env = { ...process.env, NODE_ENV: 'production' };
  const result = spawnSync(process.execPath, [join(root, script), ...args], { cwd: root, stdio: 'inherit', env });
  if (result.status !== 0) {
    console.error(`build: ${what} failed (exit code ${result.status})`);
    process.exit(result.status ?? 1);
  }
  console.log(`build: ${what} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

const shared = ['package.json', 'package-lock.json', 'tsconfig.json'];
const buildInfo = join(root, 'dist/.tsbuildinfo');
if (stale(buildInfo, ['src', 'tsconfig.build.json', ...shared])) {
  run('the service (tsc)', 'node_modules/typescript/bin/tsc', ['-p', 'tsconfig.build.json']);
  // tsc leaves its build info as it was when nothing needed emitting: mark this build as done.
  const now = new Date();
  utimesSync(buildInfo, now, now);
}
if (stale(join(root, 'dist/web/index.html'), ['web/src', 'web/index.html', 'web/vite.config.ts', 'web/tsconfig.json', ...shared])) {
  run('the chat page (vite)', 'node_modules/vite/bin/vite.js', ['build', '--config', 'web/vite.config.ts', '--logLevel', 'warn']);
}
const compressing = performance.now();
const compressed = precompress(join(root, 'dist/web'));
if (compressed > 0)
  console.log(`build: ${compressed} compressed files of the chat page in ${((performance.now() - compressing) / 1000).toFixed(1)} s`);
