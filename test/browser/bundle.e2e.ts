/**
 * The chat page's weight budget: the JavaScript its index.html loads (module scripts and
 * modulepreloads), gzipped as the service serves it, stays within BUDGET_BYTES. The browser
 * project's global setup has built the page into dist/web/ first.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { CHAT_PATH } from '../../src/http/web.js';

const WEB_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url));

/** What a first visit may download in JavaScript, gzipped. */
const BUDGET_BYTES = 250 * 1024;

/** The page-relative paths of the .js files index.html loads: its scripts and modulepreloads, nothing they import later. */
function loadedScripts(html: string): string[] {
  const tags = html.match(/<(?:script|link)\b[^>]*>/gi) ?? [];
  const urls = tags.flatMap((tag) => {
    const isScript = /^<script/i.test(tag);
    const isPreload = /\brel=["']?modulepreload\b/i.test(tag);
    const url = /\b(?:src|href)=["']([^"']+)["']/i.exec(tag)?.[1];
    return (isScript || isPreload) && url?.endsWith('.js') ? [url] : [];
  });
  return [...new Set(urls)].map((url) => url.replace(new RegExp(`^${CHAT_PATH}/`), ''));
}

describe('chat page bundle', () => {
  it(`loads at most ${BUDGET_BYTES / 1024} KB of gzipped JavaScript`, () => {
    const scripts = loadedScripts(readFileSync(join(WEB_DIR, 'index.html'), 'utf8'));
    expect(scripts.length).toBeGreaterThan(0);
    const sizes = scripts.map((path) => ({ path, gzipped: gzipSync(readFileSync(join(WEB_DIR, path)), { level: 9 }).length }));
    const total = sizes.reduce((sum, { gzipped }) => sum + gzipped, 0);
    const report = sizes.map(({ path, gzipped }) => `${path} ${(gzipped / 1024).toFixed(1)} KB`).join(', ');
    console.log(`[bundle] ${(total / 1024).toFixed(1)} KB gzipped of ${BUDGET_BYTES / 1024} KB: ${report}`);
    expect(
      total,
      `${(total / 1024).toFixed(1)} KB of JavaScript gzipped (${report}), budget ${BUDGET_BYTES / 1024} KB`,
    ).toBeLessThanOrEqual(BUDGET_BYTES);
  });
});
