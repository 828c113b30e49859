/**
 * GraphiQL in a real browser: bundled with the service (nothing from another host), opened on its
 * example document, whose streaming subscription runs to its end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { MockUpstream } from '../../src/mock-upstream/server.js';
import { startMock, startService, type TestService } from '../utils/servers.js';
import { type Browser, browserMissing, launchBrowser } from './harness.js';

if (browserMissing) console.warn(`skipping the GraphiQL browser test: ${browserMissing}`);

describe.skipIf(browserMissing)('GraphiQL', { timeout: 30_000 }, () => {
  let browser: Browser;
  let mock: MockUpstream;
  let service: TestService;

  beforeAll(async () => {
    mock = await startMock({ wordDelayMs: 40 });
    service = await startService(mock);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('runs the example Stream subscription to its end with no network but this machine', async () => {
    const page = await browser.newPage({ width: 1400, height: 900 });
    await page.goto(`${service.url}/graphql`);
    await page.getByRole('button', { name: 'Execute query (Ctrl-Enter)' }).waitFor();
    // The editor holds the example document: the subscription with tools, the mutation, the fragment.
    await page.getByText('subscription Stream {').waitFor();

    await page.evaluate(`(() => {
      const states = [];
      window.responseStates = states;
      const response = document.querySelector('.graphiql-response');
      new MutationObserver(() => {
        const text = response.textContent;
        if (text !== states[states.length - 1]) states.push(text);
      }).observe(response, { subtree: true, childList: true, characterData: true });
    })()`);
    await page.getByRole('button', { name: 'Execute query (Ctrl-Enter)' }).click();
    // Several operations: GraphiQL asks which one to run.
    await page.locator('.graphiql-dropdown-item', { hasText: /^Stream$/ }).click();

    const response = page.locator('.graphiql-response');
    await response.getByText('"__typename": "ChatCompletion"').waitFor({ timeout: 15_000 });
    await response.getByText('"finishReason": "STOP"').waitFor();
    // Monaco lays text out with no-break spaces: compare with whitespace collapsed.
    const flat = (text: string | null) => (text ?? '').replace(/\s+/g, ' ');
    expect(flat(await response.textContent())).toContain('"content": "The tool returned: {\\"city\\": \\"Paris\\",');

    const states = ((await page.evaluate('window.responseStates')) as string[]).map(flat);
    const chunks = states.filter((state) => state.includes('"__typename": "ChatCompletionChunk"'));
    expect(chunks.length).toBeGreaterThanOrEqual(2);

    const request = mock.requests.find((candidate) => candidate.path === '/v1/chat/completions');
    expect(request?.body).toMatchObject({
      stream: true,
      tools: [{ type: 'function', function: { name: 'get_weather' } }],
      messages: [{ role: 'system' }, { role: 'user' }, { role: 'assistant', tool_calls: [{ id: 'call_weather_1' }] }, { role: 'tool' }],
    });
    await request?.closed;
    expect(request?.aborted).toBe(false);
    expect(browser.external).toEqual([]);
    expect(browser.problems).toEqual([]);
  });
});
