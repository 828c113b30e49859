/**
 * The chat page and trusted documents, in a real browser: one build of the page works against a
 * service with `PERSISTED_DOCUMENTS` (the page's own manifest, web/src/gql/persisted-documents.json),
 * sending every operation by `documentId` and never its text, and against a service without one,
 * where the first request by id is refused with PERSISTED_QUERY_NOT_SUPPORTED, sent again as text
 * without the person seeing it, and everything after goes as text. (chat.e2e.ts runs the whole page
 * against services without a manifest.)
 */
import type { Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { replyText } from '../../src/mock-upstream/reply.js';
import type { MockUpstream } from '../../src/mock-upstream/server.js';
import { ChatStreamDocument, ModelsDocument } from '../../web/src/gql/graphql.js';
import { startMock, startService, type TestService, until } from '../utils/servers.js';
import { type Browser, browserMissing, launchBrowser } from './harness.js';

if (browserMissing) console.warn(`skipping the chat page's trusted-documents browser tests: ${browserMissing}`);

const MANIFEST_PATH = 'web/src/gql/persisted-documents.json';

/** The id codegen embedded in a generated document of the page, as the page reads it. */
function documentIdOf(document: object): string {
  const hash = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  if (typeof hash !== 'string') throw new Error('the generated document has no __meta__.hash: is persistedDocuments on in codegen.ts?');
  return hash;
}

const MODELS_ID = documentIdOf(ModelsDocument);
const STREAM_ID = documentIdOf(ChatStreamDocument);

/** What the page sent to /graphql over HTTP: the GraphQL parameters, from a GET's URL or a POST's JSON body. */
interface SentParams {
  method: string;
  params: Record<string, unknown>;
}

function paramsOf(request: Request): SentParams {
  if (request.method() === 'GET') {
    return { method: 'GET', params: Object.fromEntries(new URL(request.url()).searchParams) };
  }
  return { method: request.method(), params: JSON.parse(request.postData() ?? '{}') as Record<string, unknown> };
}

/** Everything the page sends to /graphql: HTTP requests and graphql-ws `subscribe` payloads. */
interface Sent {
  http: SentParams[];
  subscribes: Array<Record<string, unknown>>;
}

function recordSent(page: Page): Sent {
  const sent: Sent = { http: [], subscribes: [] };
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname === '/graphql' && request.resourceType() !== 'websocket') sent.http.push(paramsOf(request));
  });
  page.on('websocket', (socket) => {
    socket.on('framesent', ({ payload }) => {
      const message = JSON.parse(String(payload)) as { type?: string; payload?: Record<string, unknown> };
      if (message.type === 'subscribe' && message.payload) sent.subscribes.push(message.payload);
    });
  });
  return sent;
}

describe.skipIf(browserMissing)('the chat page with trusted documents', { timeout: 30_000 }, () => {
  let browser: Browser;
  let mock: MockUpstream;
  /** PERSISTED_DOCUMENTS: the page's own manifest. */
  let trusted: TestService;
  /** No manifest: every document runs as text, a request by id alone is refused. */
  let open: TestService;

  beforeAll(async () => {
    mock = await startMock({ wordDelayMs: 2 });
    trusted = await startService(mock, { PERSISTED_DOCUMENTS: MANIFEST_PATH });
    open = await startService(mock);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
  });

  const chatRequests = () => mock.requests.filter((request) => request.path === '/v1/chat/completions');
  const prompt = (page: Page) => page.getByRole('textbox', { name: 'Message', exact: true });
  const lastTurn = (page: Page) => page.locator('.turn').last();

  /** Opens the page with its traffic recorded; `beforeLoad` may route requests first. */
  async function openChat(service: TestService, beforeLoad?: (page: Page) => Promise<unknown>): Promise<{ page: Page; sent: Sent }> {
    const page = await browser.newPage();
    const sent = recordSent(page);
    await beforeLoad?.(page);
    await page.goto(`${service.url}/chat`);
    await page.locator('#model:enabled').waitFor({ state: 'attached' });
    return { page, sent };
  }

  /** Sends a message and waits for the whole answer; checks it is the mock's full reply. */
  async function chat(page: Page, text: string): Promise<void> {
    const before = chatRequests().length;
    await prompt(page).fill(text);
    await prompt(page).press('Enter');
    await lastTurn(page).locator('.message.assistant:not(.streaming)').waitFor({ timeout: 20_000 });
    expect(await lastTurn(page).locator('.failure').isHidden()).toBe(true);
    expect(await lastTurn(page).locator('.answer').textContent()).toBe(replyText([{ role: 'user', content: text }]));
    expect(await lastTurn(page).locator('.turn-status').textContent()).toMatch(/^Done · finish reason: stop · tokens: /);
    expect(chatRequests().length).toBe(before + 1);
  }

  it('the service with PERSISTED_DOCUMENTS refuses text, so the page must send ids', async () => {
    const response = await fetch(trusted.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    const body = (await response.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
    expect(body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ONLY');
  });

  it('with PERSISTED_DOCUMENTS: loads the models and streams an answer, sending only ids', async () => {
    const { page, sent } = await openChat(trusted);
    expect(await page.getByLabel('Model', { exact: true }).inputValue()).toBe('chatql-mock');
    expect(await page.locator('#model-status').textContent()).toBe('');
    await chat(page, 'Trusted hello');
    await chat(page, 'And a second turn');

    // The model list: one request, by id, with no text. (urql asks for it with GET.)
    expect(sent.http).toHaveLength(1);
    for (const { params } of sent.http) {
      expect(params).toMatchObject({ documentId: MODELS_ID, operationName: 'Models' });
      expect(params).not.toHaveProperty('query');
    }
    // Each turn's subscription: by id, with the empty `query` graphql-ws insists on.
    expect(sent.subscribes).toHaveLength(2);
    for (const payload of sent.subscribes) {
      expect(payload).toMatchObject({ query: '', documentId: STREAM_ID, operationName: 'ChatStream' });
      expect(payload['variables']).toMatchObject({ input: { model: 'chatql-mock' } });
    }
    expect(browser.problems).toEqual([]);
    expect(browser.external).toEqual([]);
    await page.close();
  });

  it('without PERSISTED_DOCUMENTS: the refused first try by id is resent as text, unseen, and text is sent from then on', async () => {
    const { page, sent } = await openChat(open);
    expect(await page.getByLabel('Model', { exact: true }).inputValue()).toBe('chatql-mock');
    expect(await page.locator('#model-status').textContent()).toBe('');
    await chat(page, 'Plain hello');

    // By id first (refused with PERSISTED_QUERY_NOT_SUPPORTED), then the same request as text.
    expect(sent.http).toHaveLength(2);
    expect(sent.http[0]!.params).toMatchObject({ documentId: MODELS_ID, operationName: 'Models' });
    expect(sent.http[0]!.params).not.toHaveProperty('query');
    expect(sent.http[1]!.method).toBe(sent.http[0]!.method);
    expect(sent.http[1]!.params).toMatchObject({ operationName: 'Models', query: expect.stringContaining('query Models') });
    expect(sent.http[1]!.params).not.toHaveProperty('documentId');
    // The page knew by then: the subscription went as text straight away.
    expect(sent.subscribes).toHaveLength(1);
    expect(sent.subscribes[0]).toMatchObject({ operationName: 'ChatStream', query: expect.stringContaining('subscription ChatStream') });
    expect(sent.subscribes[0]).not.toHaveProperty('documentId');
    expect(browser.problems).toEqual([]);
    await page.close();
  });

  it('without PERSISTED_DOCUMENTS, a subscription sent before any HTTP answer falls back to text too', async () => {
    // The model list comes from here, not the service: nothing tells the page the mode before its
    // first subscription.
    const { page, sent } = await openChat(open, (page) =>
      page.route(
        (url) => url.pathname === '/graphql',
        (route) =>
          route.fulfill({
            contentType: 'application/graphql-response+json',
            body: JSON.stringify({ data: { models: { __typename: 'ModelList', models: [{ id: 'chatql-mock' }] } } }),
          }),
      ),
    );
    expect(await page.getByLabel('Model', { exact: true }).inputValue()).toBe('chatql-mock');
    await chat(page, 'Subscribed first');
    await until(() => sent.subscribes.length >= 2, 2000, 'the second subscribe');
    expect(sent.subscribes).toHaveLength(2);
    expect(sent.subscribes[0]).toMatchObject({ query: '', documentId: STREAM_ID, operationName: 'ChatStream' });
    expect(sent.subscribes[1]).toMatchObject({ operationName: 'ChatStream', query: expect.stringContaining('subscription ChatStream') });
    expect(sent.subscribes[1]).not.toHaveProperty('documentId');
    expect(sent.subscribes[1]!['variables']).toEqual(sent.subscribes[0]!['variables']);

    // The next turn goes as text from the start.
    await chat(page, 'Then text');
    expect(sent.subscribes).toHaveLength(3);
    expect(sent.subscribes[2]).not.toHaveProperty('documentId');
    expect(browser.problems).toEqual([]);
    await page.close();
  });
});
