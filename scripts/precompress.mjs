#!/usr/bin/env node
/**
 * Precompresses the built chat page: writes a `.br` (brotli, quality 11) and a `.gz` (gzip, level 9)
 * next to every .js, .css, .html, .svg and .json file over 1 KB under a directory (dist/web by
 * default), which the service's sirv serves by Accept-Encoding (src/http/web.ts). The slowest
 * settings are affordable here because they are paid once per build, not per request.
 *
 * Run by scripts/build.mjs after Vite and by the tests' page build (test/browser/build-page.ts);
 * `node scripts/precompress.mjs [dir]` alone. A sibling newer than its file is kept, so running it
 * again on a built page only walks the directory; a sibling that would not be smaller than its file
 * is not written (and an older one removed, so that sirv never serves a stale one).
 *
 * Plain JavaScript on purpose, like build.mjs: it runs before anything is compiled.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** What is worth compressing: text formats; images and fonts are compressed already. */
const COMPRESSIBLE = new Set(['.js', '.css', '.html', '.svg', '.json']);

/** A file this small crosses the network in a packet or two either way: compressing it saves nothing noticeable. */
const MIN_BYTES = 1024;

const ENCODERS = {
  '.br': (data) =>
    brotliCompressSync(data, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
        [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
      },
    }),
  '.gz': (data) => gzipSync(data, { level: 9 }),
};

/** Every file under `dir`, recursively. */
function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

/** Whether `sibling` exists and was written after `file` last changed. */
function upToDate(sibling, file) {
  return existsSync(sibling) && statSync(sibling).mtimeMs >= statSync(file).mtimeMs;
}

/** Writes the missing or outdated siblings of one file; returns how many it wrote. */
function compressFile(file) {
  let written = 0;
  let data;
  for (const [suffix, encode] of Object.entries(ENCODERS)) {
    const sibling = file + suffix;
    if (upToDate(sibling, file)) continue;
    data ??= readFileSync(file);
    const compressed = encode(data);
    if (compressed.length < data.length) {
      writeFileSync(sibling, compressed);
      written += 1;
    } else {
      rmSync(sibling, { force: true });
    }
  }
  return written;
}

/** Precompresses every compressible file over MIN_BYTES under `dir`; returns how many siblings it wrote. */
export function precompress(dir = join(root, 'dist/web')) {
  if (!existsSync(dir)) return 0;
  const files = filesUnder(dir).filter((file) => COMPRESSIBLE.has(extname(file)) && statSync(file).size > MIN_BYTES);
  return files.reduce((sum, file) => sum + compressFile(file), 0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const started = performance.now();
  const written = precompress(process.argv[2] === undefined ? undefined : resolve(process.argv[2]));
  if (written > 0) console.log(`precompress: ${written} files in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
