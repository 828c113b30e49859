/**
 * The browser harness of the browser tests and of `npm run screenshots`: Debian's Chromium driven
 * by playwright-core (`npx playwright install` cannot download browsers here), headless, with a
 * fresh profile each launch (or, with `userDataDir`, a profile kept across launches, to test what
 * survives a closed browser). No vitest here, so that scripts can use it too.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type BrowserContext, chromium, type Page } from 'playwright-core';

import type { MockUpstream, RecordedRequest } from '../../src/mock-upstream/server.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Why the browser tests cannot run here, or null when they can. */
export const browserMissing: string | null = existsSync(CHROMIUM_PATH)
  ? null
  : `${CHROMIUM_PATH} is missing: install Debian's chromium (apt-get install -y chromium) to run the browser tests`;

/** The flags that work for Debian's Chromium in a container. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface Browser {
  context: BrowserContext;
  /** A new tab; console errors and uncaught exceptions of the page are collected in `problems`. */
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  /** Console errors and page errors seen so far, in every tab. */
  problems: string[];
  /** Requests to anything but this machine, blocked: the pages must work with no network. */
  external: string[];
  close(): Promise<void>;
}

export interface LaunchOptions {
  /**
   * The profile directory to use, created if missing: a later launch on the same directory sees
   * what this one stored (IndexedDB, localStorage). Kept on `close()`, for the caller to remove.
   * Without it, a fresh temporary profile, removed on `close()`.
   */
  userDataDir?: string;
}

export async function launchBrowser(options: LaunchOptions = {}): Promise<Browser> {
  const kept = options.userDataDir !== undefined;
  const userDataDir = options.userDataDir ?? (await mkdtemp(join(tmpdir(), 'chatql-chromium-')));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
    colorScheme: 'light',
    reducedMotion: 'reduce',
  });
  const problems: string[] = [];
  const external: string[] = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    const local = url.protocol === 'data:' || url.protocol === 'blob:' || ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
    if (local) return route.continue();
    external.push(url.href);
    return route.abort('internetdisconnected');
  });
  return {
    context,
    problems,
    external,
    async newPage(viewport) {
      const page = await context.newPage();
      if (viewport) await page.setViewportSize(viewport);
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      return page;
    },
    async close() {
      await context.close();
      if (!kept) await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** The chat completion requests `mock` received, in order. */
export const chatRequests = (mock: MockUpstream): RecordedRequest[] =>
  mock.requests.filter((request) => request.path === '/v1/chat/completions');

/** The last chat completion request `mock` received; throws when there was none. */
export function lastChatRequest(mock: MockUpstream): RecordedRequest {
  const request = chatRequests(mock).at(-1);
  if (!request) throw new Error('the upstream received no chat completion request');
  return request;
}

/** A recorded request's JSON body, with its messages. */
export const bodyOf = (request: RecordedRequest) => request.body as Record<string, unknown> & { messages: Array<Record<string, unknown>> };
