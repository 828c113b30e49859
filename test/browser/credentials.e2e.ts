/**
 * The chat page's credential field, in a real browser, against a service with AUTH_MODE=api-key:
 * refused without a key and with a wrong one (over HTTP, and over graphql-ws, closed with 4403),
 * signed in with the right one (models, `viewer`, a streamed answer whose upstream request carries
 * the client id as `user`), kept across a reload in sessionStorage, and refused again after Forget.
 * The key never appears in a URL or a console message. Without AUTH_MODE, nothing changes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { replyText } from '../../src/mock-upstream/reply.js';
import type { MockUpstream } from '../../src/mock-upstream/server.js';
import { startMock, startService, type TestService } from '../utils/servers.js';
import { type Browser, browserMissing, launchBrowser } from './harness.js';

if (browserMissing) console.warn(`skipping the chat page's credential browser tests: ${browserMissing}`);

const KEY = `cq_${randomBytes(24).toString('hex')}`;
const WRONG_KEY = `cq_${randomBytes(24).toString('hex')}`;

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** What the browser did that could leak the key: every URL it asked for, every console line. */
interface Traffic {
  urls: string[];
  console: string[];
  /** The `Authorization` header of each HTTP request to /graphql (null when none). */
  authorizations: Array<string | null>;
  /** The payload of each graphql-ws `connection_init`. */
  connectionInits: Array<Record<string, unknown> | undefined>;
}

describe.skipIf(browserMissing)('the chat page with AUTH_MODE=api-key', { timeout: 60_000 }, () => {
  let browser: Browser;
  let mock: MockUpstream;
  let service: TestService;
  let open: TestService;
  const traffic: Traffic = { urls: [], console: [], authorizations: [], connectionInits: [] };

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatql-web-keys-'));
    const keysFile = join(dir, 'clients.json');
    writeFileSync(keysFile, JSON.stringify({ clients: [{ id: 'web-tester', keySha256: sha256Hex(KEY) }] }));
    mock = await startMock({ wordDelayMs: 2 });
    service = await startService(mock, {
      AUTH_MODE: 'api-key',
      CLIENT_KEYS_FILE: keysFile,
      CLIENT_REQUESTS_PER_MINUTE: '100',
      CLIENT_DAILY_TOKENS: '1000000',
    });
    open = await startService(mock);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
  });

  const chatRequests = () => mock.requests.filter((request) => request.path === '/v1/chat/completions');
  const field = (page: Page) => page.getByLabel('API key or token', { exact: true });
  const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });
  const modelStatus = (page: Page) => page.locator('#model-status');
  const lastTurn = (page: Page) => page.locator('.turn').last();
  const focusedId = (page: Page) => page.evaluate(() => document.activeElement?.id ?? null);

  async function newPage(): Promise<Page> {
    const page = await browser.newPage();
    page.on('console', (message) => traffic.console.push(message.text()));
    page.on('pageerror', (error) => traffic.console.push(error.message));
    page.on('request', (request) => {
      traffic.urls.push(request.url());
      if (new URL(request.url()).pathname === '/graphql') traffic.authorizations.push(request.headers()['authorization'] ?? null);
    });
    page.on('websocket', (socket) => {
      traffic.urls.push(socket.url());
      socket.on('framesent', ({ payload }) => {
        const message = JSON.parse(String(payload)) as { type?: string; payload?: Record<string, unknown> };
        if (message.type === 'connection_init') traffic.connectionInits.push(message.payload);
      });
    });
    return page;
  }

  async function saveKey(page: Page, key: string): Promise<void> {
    await field(page).fill(key);
    await button(page, 'Save').click();
  }

  /** Sends a message and waits for the whole answer, which must be the mock's full reply. */
  async function chat(page: Page, text: string): Promise<void> {
    const before = chatRequests().length;
    await page.getByRole('textbox', { name: 'Message', exact: true }).fill(text);
    await page.getByRole('textbox', { name: 'Message', exact: true }).press('Enter');
    await lastTurn(page).locator('.message.assistant:not(.streaming)').waitFor({ timeout: 20_000 });
    expect(await lastTurn(page).locator('.failure').isHidden()).toBe(true);
    expect(await lastTurn(page).locator('.answer').textContent()).toBe(replyText([{ role: 'user', content: text }]));
    expect(await lastTurn(page).locator('.turn-status').textContent()).toMatch(/^Done · finish reason: stop · tokens: /);
    expect(chatRequests().length).toBe(before + 1);
    // The service names the signed-in client upstream.
    expect((chatRequests().at(-1)!.body as { user?: unknown }).user).toBe('web-tester');
  }

  it('asks for a key, refuses a wrong one, signs in with the right one, keeps it over a reload, and forgets it', async () => {
    let page = await newPage();
    await page.goto(`${service.url}/chat`);

    // No credential: the models query is refused, the message points to the field, which has focus.
    await expect.poll(() => modelStatus(page).textContent()).toContain('Sign-in needed');
    expect(await modelStatus(page).textContent()).toContain('“API key or token”');
    expect(await modelStatus(page).getAttribute('role')).toBe('status');
    await expect.poll(() => focusedId(page)).toBe('credential');
    expect(await field(page).getAttribute('type')).toBe('password');
    const describedBy = (await field(page).getAttribute('aria-describedby'))?.split(' ') ?? [];
    expect(describedBy).toContain('credential-note');
    expect(await page.locator('#credential-note').textContent()).toContain('session storage');
    expect(await button(page, 'Send').isDisabled()).toBe(true);
    expect(traffic.authorizations.every((value) => value === null)).toBe(true);

    // A wrong key: refused too, with the service's reason, and no one is signed in.
    await saveKey(page, WRONG_KEY);
    await expect.poll(() => modelStatus(page).textContent()).toContain('API key or token refused');
    expect(await modelStatus(page).textContent()).toContain('check it in “API key or token”');
    await expect.poll(() => page.locator('#viewer-who').textContent()).toBe('Not signed in: the credential was refused.');
    await expect.poll(() => focusedId(page)).toBe('credential');
    expect(traffic.authorizations.at(-1)).toBe(`Bearer ${WRONG_KEY}`);

    // The same wrong key over graphql-ws: the service closes the connection with 4403. (The model
    // list is faked so that Send is enabled.)
    const modelsQuery = '**/graphql';
    await page.route(modelsQuery, (route) => {
      const body = route.request().postDataJSON() as { operationName?: string } | null;
      if (body?.operationName !== 'Models') return route.continue();
      const model = { __typename: 'Model', id: 'chatql-mock', unavailableUntil: null, pricing: null };
      return route.fulfill({ json: { data: { models: { __typename: 'ModelList', models: [model] } } } });
    });
    await button(page, 'Save').click();
    await page.locator('#model:enabled').waitFor({ state: 'attached' });
    const before = chatRequests().length;
    await page.getByRole('textbox', { name: 'Message', exact: true }).fill('Let me in');
    await page.getByRole('textbox', { name: 'Message', exact: true }).press('Enter');
    const failure = lastTurn(page).locator('.failure');
    await failure.waitFor();
    expect(await failure.getAttribute('role')).toBe('alert');
    expect(await failure.locator('.failure-title').textContent()).toBe('API key or token refused');
    expect(await failure.locator('.failure-message').textContent()).toContain('The API key is not valid.');
    await expect.poll(() => focusedId(page)).toBe('credential');
    expect(chatRequests().length).toBe(before);
    expect(traffic.connectionInits.at(-1)).toEqual({ authorization: `Bearer ${WRONG_KEY}` });
    await page.unroute(modelsQuery);

    // The right key: models, who the page is signed in as, what is left, and an answer.
    await saveKey(page, KEY);
    await page.locator('#model:enabled').waitFor({ state: 'attached' });
    expect(await modelStatus(page).textContent()).toBe('');
    await expect.poll(() => page.locator('#viewer-who').textContent()).toBe('Signed in as web-tester.');
    expect(await page.locator('#viewer-left').textContent()).toMatch(
      /^\d+ of 100 requests left this minute · [\d,]+ of 1,000,000 tokens left today$/,
    );
    expect(await page.evaluate(() => sessionStorage.getItem('chatql.credential'))).toBe(KEY);
    expect(await page.evaluate(() => localStorage.getItem('chatql.credential'))).toBeNull();
    await chat(page, 'Hello with a key');
    expect(traffic.connectionInits.at(-1)).toEqual({ authorization: `Bearer ${KEY}` });
    expect(traffic.authorizations.at(-1)).toBe(`Bearer ${KEY}`);
    // After the answer, the status line counts what it used.
    const tokensLeft = async () =>
      Number(
        /([\d,]+) of 1,000,000 tokens left today/.exec((await page.locator('#viewer-left').textContent()) ?? '')?.[1]?.replaceAll(',', ''),
      );
    await expect.poll(tokensLeft).toBeLessThan(1_000_000);

    // A reload: the key is still there (sessionStorage), and streaming works.
    await page.reload();
    await page.locator('#model:enabled').waitFor({ state: 'attached' });
    expect(await field(page).inputValue()).toBe(KEY);
    await expect.poll(() => page.locator('#viewer-who').textContent()).toBe('Signed in as web-tester.');
    await chat(page, 'Still me after a reload');

    // Forget: gone from the field and the storage, and refused again.
    await button(page, 'Forget').click();
    await expect.poll(() => modelStatus(page).textContent()).toContain('Sign-in needed');
    expect(await field(page).inputValue()).toBe('');
    expect(await page.evaluate(() => sessionStorage.getItem('chatql.credential'))).toBeNull();
    expect(await page.locator('#viewer-who').textContent()).toBe('');
    expect(await page.locator('#viewer-status').isHidden()).toBe(true);
    await expect.poll(() => focusedId(page)).toBe('credential');
    expect(await button(page, 'Send').isDisabled()).toBe(true);
    await page.close();

    // A new tab of the same browser: session storage is per tab, so no key.
    page = await newPage();
    await page.goto(`${service.url}/chat`);
    await expect.poll(() => modelStatus(page).textContent()).toContain('Sign-in needed');
    await page.close();

    // The key went only in headers and connection_init: never in a URL, a console line or a log.
    expect(traffic.urls.length).toBeGreaterThan(0);
    for (const url of traffic.urls) {
      expect(url).not.toContain(KEY);
      expect(url).not.toContain(WRONG_KEY);
    }
    for (const line of traffic.console) {
      expect(line).not.toContain(KEY);
      expect(line).not.toContain(WRONG_KEY);
    }
    for (const line of service.rawLogs) expect(line).not.toContain(KEY);
    expect(browser.problems).toEqual([]);
    expect(browser.external).toEqual([]);
  });

  it('"Remember on this device" keeps the key in localStorage, for a new tab too', async () => {
    let page = await newPage();
    await page.goto(`${service.url}/chat`);
    await expect.poll(() => modelStatus(page).textContent()).toContain('Sign-in needed');
    await page.getByLabel('Remember on this device').check();
    expect(await page.locator('#credential-note').textContent()).toContain('local storage');
    await saveKey(page, KEY);
    await page.locator('#model:enabled').waitFor({ state: 'attached' });
    expect(await page.evaluate(() => localStorage.getItem('chatql.credential'))).toBe(KEY);
    expect(await page.evaluate(() => sessionStorage.getItem('chatql.credential'))).toBeNull();
    await page.close();

    page = await newPage();
    await page.goto(`${service.url}/chat`);
    await page.locator('#model:enabled').waitFor({ state: 'attached' });
    expect(await page.getByLabel('Remember on this device').isChecked()).toBe(true);
    await chat(page, 'Remembered');
    await button(page, 'Forget').click();
    await expect.poll(() => modelStatus(page).textContent()).toContain('Sign-in needed');
    expect(await page.evaluate(() => localStorage.getItem('chatql.credential'))).toBeNull();
    await page.close();
  });

  it('on a narrow screen, the folded settings open at the credential field', async () => {
    const page = await browser.newPage({ width: 360, height: 740 });
    await page.goto(`${service.url}/chat`);
    await expect.poll(() => modelStatus(page).textContent()).toContain('Sign-in needed');
    await expect.poll(() => focusedId(page)).toBe('credential');
    expect(await page.locator('#settings').getAttribute('open')).not.toBeNull();
    // Drawn open, not only marked open: the field is inside the settings' box.
    const settings = (await page.locator('#settings').boundingBox())!;
    expect(settings.height).toBeGreaterThan(200);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await page.close();
  });

  it('without AUTH_MODE the field stays empty, nothing asks `viewer`, and the page works as before', async () => {
    const page = await newPage();
    const operations: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname !== '/graphql') return;
      const body = request.postData();
      operations.push(
        url.searchParams.get('operationName') ?? ((body ? JSON.parse(body) : {}) as { operationName?: string }).operationName ?? '',
      );
    });
    await page.goto(`${open.url}/chat`);
    await page.locator('#model:enabled').waitFor({ state: 'attached' });
    expect(await field(page).inputValue()).toBe('');
    expect(await page.locator('#viewer-status').isHidden()).toBe(true);
    expect(await modelStatus(page).textContent()).toBe('');
    expect(await focusedId(page)).toBe('prompt');
    const before = chatRequests().length;
    await page.getByRole('textbox', { name: 'Message', exact: true }).fill('No key needed');
    await page.getByRole('textbox', { name: 'Message', exact: true }).press('Enter');
    await lastTurn(page).locator('.message.assistant:not(.streaming)').waitFor({ timeout: 20_000 });
    expect(await lastTurn(page).locator('.answer').textContent()).toBe(replyText([{ role: 'user', content: 'No key needed' }]));
    expect(chatRequests().length).toBe(before + 1);
    expect(operations).not.toContain('Viewer');
    expect(traffic.authorizations.at(-1)).toBeNull();
    await page.close();
  });
});
