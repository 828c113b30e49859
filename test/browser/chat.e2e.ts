/**
 * The chat page in a real browser (Debian's Chromium, headless), against the service and a mock
 * upstream on port 0: what a person sees and does, and what reaches the upstream because of it.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { replyText } from '../../src/mock-upstream/reply.js';
import type { MockUpstream } from '../../src/mock-upstream/server.js';
import { startMock, startService, type TestService, until } from '../utils/servers.js';
import { type Browser, bodyOf, browserMissing, chatRequests, lastChatRequest, launchBrowser } from './harness.js';

if (browserMissing) console.warn(`skipping the chat page's browser tests: ${browserMissing}`);

/** A 1×1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

describe.skipIf(browserMissing)('the chat page', { timeout: 30_000 }, () => {
  let browser: Browser;
  /** Streams a word every 40 ms: slow enough to watch, stop and measure mid-stream. */
  let slowMock: MockUpstream;
  let slow: TestService;
  /** Streams a word every 2 ms, for the tests that only need the end of an answer. */
  let fastMock: MockUpstream;
  let fast: TestService;

  beforeAll(async () => {
    // Prices from the mock's GET /model/info, as `npm start` reads them.
    slowMock = await startMock({ wordDelayMs: 40 });
    slow = await startService(slowMock, { UPSTREAM_PRICES: 'litellm' });
    fastMock = await startMock({ wordDelayMs: 2 });
    fast = await startService(fastMock, { UPSTREAM_PRICES: 'litellm' });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
  });

  async function openChat(service: TestService, viewport?: { width: number; height: number }): Promise<Page> {
    const page = await browser.newPage(viewport);
    // The page reopens the conversation of the last visit (kept in this profile's IndexedDB): each
    // test starts a chat of its own.
    await page.addInitScript(() => localStorage.removeItem('chatql.conversation'));
    await page.goto(`${service.url}/`);
    await page.locator('#model:enabled').waitFor({ state: 'attached' });
    return page;
  }

  const prompt = (page: Page) => page.getByRole('textbox', { name: 'Message', exact: true });
  const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });
  const lastTurn = (page: Page) => page.locator('.turn').last();
  const answerOf = (page: Page) => lastTurn(page).locator('.answer');
  const statusOf = (page: Page) => lastTurn(page).locator('.turn-status');
  const failureOf = (page: Page) => lastTurn(page).locator('.failure');

  /** Waits until the last turn has ended (finished, stopped or failed). */
  async function turnEnded(page: Page): Promise<void> {
    await lastTurn(page).locator('.message.assistant:not(.streaming)').waitFor({ timeout: 20_000 });
  }

  async function send(page: Page, text: string): Promise<void> {
    await prompt(page).fill(text);
    await prompt(page).press('Enter');
  }

  /** Records every distinct text of the last turn's answer, from now on. */
  async function recordAnswerStates(page: Page): Promise<() => Promise<string[]>> {
    await page.evaluate(`(() => {
      const states = [];
      window.answerStates = states;
      new MutationObserver(() => {
        const answers = document.querySelectorAll('.turn .answer');
        const text = answers.length ? answers[answers.length - 1].textContent : '';
        if (text !== states[states.length - 1]) states.push(text);
      }).observe(document.getElementById('log'), { subtree: true, childList: true, characterData: true });
    })()`);
    return () => page.evaluate('window.answerStates') as Promise<string[]>;
  }

  it('opens at / with a working model selected and streams the first answer token by token', async () => {
    const page = await openChat(slow);
    expect(new URL(page.url()).pathname).toBe('/chat');
    // The models query filled the picker; the first working model is selected, the mock's failure
    // models are offered too.
    expect(await page.getByLabel('Model', { exact: true }).inputValue()).toBe('chatql-mock');
    const options = await page.locator('#model option').evaluateAll((list) => list.map((option) => (option as HTMLOptionElement).value));
    expect(options).toEqual(expect.arrayContaining(['chatql-mock', 'chatql-mock-reasoning', 'fail-429', 'fail-500']));
    // Models meant for tests and benchmarks are not offered; each model shows its prices.
    expect(options).not.toContain('chatql-mock-bench');
    expect(options).not.toContain('chatql-mock-long');
    expect(await page.locator('#model option[value="chatql-mock"]').textContent()).toBe('chatql-mock · $0.15 / $0.60 per 1M tokens');
    expect(await page.locator('#model-info').textContent()).toBe('$0.15 in, $0.60 out, $0.075 cached per million tokens.');

    const states = await recordAnswerStates(page);
    const text = 'Stream this to me, please';
    await send(page, text);
    await until(() => chatRequests(slowMock).length === 1, 5000, 'the upstream request');
    // Mid-stream: the answer has begun, Stop is offered, screen readers wait for the whole answer.
    await page.waitForFunction(() => (document.querySelector('.turn .answer')?.textContent ?? '').split(' ').length > 3);
    expect(await button(page, 'Stop').isEnabled()).toBe(true);
    expect(await button(page, 'Send').isDisabled()).toBe(true);
    expect(await page.locator('#log').getAttribute('aria-busy')).toBe('true');
    await turnEnded(page);

    const expected = replyText([{ role: 'user', content: text }]);
    expect(await answerOf(page).textContent()).toBe(expected);
    const seen = await states();
    const intermediate = seen.filter((state) => state !== '' && state !== expected);
    expect(intermediate.length).toBeGreaterThanOrEqual(2);
    for (const state of intermediate) expect(expected.startsWith(state)).toBe(true);
    expect(new Set(intermediate.map((state) => state.length)).size).toBe(intermediate.length);
    expect(seen.at(-1)).toBe(expected);

    expect(await statusOf(page).textContent()).toMatch(
      /^Done · finish reason: stop · tokens: \d+ prompt \+ \d+ completion · cost: \$0\.\d{6}$/,
    );
    expect(await page.locator('#log').getAttribute('aria-busy')).toBe('false');
    expect(await button(page, 'Send').isEnabled()).toBe(true);
    expect(await button(page, 'Stop').isDisabled()).toBe(true);
    const body = bodyOf(lastChatRequest(slowMock));
    expect(body).toMatchObject({ model: 'chatql-mock', stream: true, messages: [{ role: 'user', content: text }] });
    // Left empty, temperature and max tokens are not sent: the upstream's defaults apply.
    expect(body).not.toHaveProperty('temperature');
    expect(body).not.toHaveProperty('max_tokens');
    expect(browser.problems).toEqual([]);
    expect(browser.external).toEqual([]);
  });

  it('sends the picked model, the system prompt, temperature, max tokens and every earlier turn', async () => {
    const page = await openChat(fast);
    await page.getByLabel('Model', { exact: true }).selectOption('chatql-mock-reasoning');
    await page.getByLabel('System prompt').fill('You are terse.');
    await page.getByLabel('Temperature').fill('0.3');
    await page.getByLabel('Max tokens').fill('500');
    await send(page, 'First question');
    await turnEnded(page);
    const firstAnswer = await answerOf(page).textContent();
    expect(firstAnswer).toContain('You said: "First question"');
    // The reasoning model's thinking is shown apart from the answer.
    expect(await lastTurn(page).locator('.reasoning-text').textContent()).not.toBe('');

    // Shift+Enter adds a line; only Enter sends.
    const before = chatRequests(fastMock).length;
    await prompt(page).fill('Second');
    await prompt(page).press('Shift+Enter');
    await prompt(page).pressSequentially('question');
    expect(await prompt(page).inputValue()).toBe('Second\nquestion');
    expect(chatRequests(fastMock).length).toBe(before);
    await button(page, 'Send').click();
    await turnEnded(page);
    expect(await page.locator('.turn').count()).toBe(2);
    expect(await prompt(page).inputValue()).toBe('');

    expect(bodyOf(lastChatRequest(fastMock))).toMatchObject({
      model: 'chatql-mock-reasoning',
      temperature: 0.3,
      max_tokens: 500,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'First question' },
        { role: 'assistant', content: firstAnswer },
        { role: 'user', content: 'Second\nquestion' },
      ],
    });
    expect(bodyOf(lastChatRequest(fastMock)).messages).toHaveLength(4);
  });

  it('Stop ends the subscription mid-stream and the upstream connection closes; Esc stops too', async () => {
    const page = await openChat(slow);
    const text = 'Please stop me halfway';
    await send(page, text);
    await page.waitForFunction(() => (document.querySelector('.turn:last-of-type .answer')?.textContent ?? '').split(' ').length > 4);
    const request = lastChatRequest(slowMock);
    expect(request.closedAt).toBeUndefined();
    const stoppedAt = performance.now();
    await button(page, 'Stop').click();
    await Promise.race([request.closed, new Promise((resolve) => setTimeout(resolve, 3000))]);
    expect(request.closedAt).toBeDefined();
    expect(request.aborted).toBe(true);
    expect(request.closedAt! - stoppedAt).toBeLessThan(1000);

    expect(await statusOf(page).textContent()).toBe('Stopped: the answer is cut short.');
    const cut = (await answerOf(page).textContent()) ?? '';
    expect(cut.length).toBeGreaterThan(0);
    expect(replyText([{ role: 'user', content: text }]).startsWith(cut)).toBe(true);
    expect(cut).not.toBe(replyText([{ role: 'user', content: text }]));
    await page.waitForTimeout(300);
    expect(await answerOf(page).textContent()).toBe(cut);
    expect(await button(page, 'Send').isEnabled()).toBe(true);
    expect(await button(page, 'Stop').isDisabled()).toBe(true);

    // The keyboard way: Esc while an answer streams.
    await send(page, 'And stop me with Escape');
    await page.waitForFunction(
      () =>
        document.querySelectorAll('.turn').length === 2 && (document.querySelector('.turn:last-of-type .answer')?.textContent ?? '') !== '',
    );
    const second = lastChatRequest(slowMock);
    await page.keyboard.press('Escape');
    await Promise.race([second.closed, new Promise((resolve) => setTimeout(resolve, 3000))]);
    expect(second.aborted).toBe(true);
    expect(await statusOf(page).textContent()).toBe('Stopped: the answer is cut short.');
    // The stopped turn's partial answer is part of the history.
    expect(bodyOf(second).messages).toMatchObject([
      { role: 'user', content: text },
      { role: 'assistant', content: cut },
      { role: 'user', content: 'And stop me with Escape' },
    ]);
  });

  it('a rate limit shows a live countdown, and Send and Retry come back when it reaches 0', async () => {
    let page = await openChat(fast);
    await page.getByLabel('Model', { exact: true }).selectOption('fail-429');
    await send(page, 'Too many?');
    const countdown = failureOf(page).locator('.countdown');
    await countdown.waitFor();
    expect(await failureOf(page).locator('.failure-title').textContent()).toMatch(/^Rate limited: try again in (30|29) s \(30 seconds\)$/);
    expect(await failureOf(page).getAttribute('role')).toBe('alert');
    expect(await button(page, 'Send').isDisabled()).toBe(true);
    const first = Number(await countdown.textContent());
    expect(first).toBeGreaterThanOrEqual(29);
    await page.waitForFunction((start) => Number(document.querySelector('.countdown')?.textContent) < start, first, { timeout: 3000 });
    expect(await button(page, 'Send').isDisabled()).toBe(true);

    // A short Retry-After, scripted at the mock, to see the end of a countdown.
    await page.close();
    page = await openChat(fast);
    fastMock.enqueue({
      status: 429,
      headers: { 'retry-after': '3' },
      body: {
        error: { message: 'Rate limit reached. Please try again in 3s.', type: 'requests', param: null, code: 'rate_limit_exceeded' },
      },
    });
    await send(page, 'Wait for it');
    const shortCountdown = failureOf(page).locator('.countdown');
    await shortCountdown.waitFor();
    expect(Number(await shortCountdown.textContent())).toBe(3);
    expect(await button(page, 'Send').isDisabled()).toBe(true);
    await button(page, 'Retry').waitFor({ timeout: 5000 });
    expect(await failureOf(page).locator('.failure-title').textContent()).toBe('Rate limited: you can try again now.');
    expect(await button(page, 'Send').isEnabled()).toBe(true);
    await button(page, 'Retry').click();
    await turnEnded(page);
    expect(await answerOf(page).textContent()).toContain('You said: "Wait for it"');
    expect(await failureOf(page).isHidden()).toBe(true);
  });

  it('says what to do for each typed error, with Retry where retrying can help', async () => {
    const page = await openChat(fast);
    const model = page.getByLabel('Model', { exact: true });

    await model.selectOption('fail-budget');
    await send(page, 'Spend');
    await failureOf(page).waitFor();
    expect(await failureOf(page).locator('.failure-title').textContent()).toBe('Budget exhausted');
    expect(await failureOf(page).textContent()).toContain('contact the operator');
    expect(await failureOf(page).locator('button').count()).toBe(0);

    await model.selectOption('fail-401');
    await send(page, 'Who am I');
    await failureOf(page).waitFor();
    expect(await failureOf(page).locator('.failure-title').textContent()).toBe('Authentication failed');
    expect(await failureOf(page).locator('button').count()).toBe(0);

    await model.selectOption('chatql-mock');
    await page.getByLabel('Temperature').fill('5');
    await send(page, 'Too hot');
    await failureOf(page).waitFor();
    expect(await failureOf(page).locator('.failure-title').textContent()).toBe('Invalid request');
    expect(await failureOf(page).locator('.failure-message').textContent()).toContain('(parameter: input.temperature)');
    await page.getByLabel('Temperature').fill('');

    // Down: every attempt of the service (1 + UPSTREAM_MAX_RETRIES) gets a 500; Retry then works.
    const down = { status: 500, body: { error: { message: 'The server had an error.', type: 'server_error', param: null, code: null } } };
    fastMock.enqueue(down, down, down);
    await send(page, 'Are you there');
    await failureOf(page).waitFor();
    expect(await failureOf(page).locator('.failure-title').textContent()).toBe('The upstream is down');
    expect(await failureOf(page).locator('.failure-advice').textContent()).toContain('(HTTP 500)');
    await button(page, 'Retry').click();
    await turnEnded(page);
    expect(await answerOf(page).textContent()).toContain('You said: "Are you there"');
    // Failed turns are not history: the retried request holds only the turn that worked.
    expect(bodyOf(lastChatRequest(fastMock)).messages).toEqual([{ role: 'user', content: 'Are you there' }]);
    expect(await page.locator('.turn').count()).toBe(4);
  });

  it('sends an attached image to the upstream as an image_url part', async () => {
    const page = await openChat(fast);
    await page.locator('#image').setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: PNG });
    await page.getByRole('img', { name: 'Preview of dot.png' }).waitFor();
    await send(page, 'What is in this image?');
    await turnEnded(page);
    expect(await answerOf(page).textContent()).toContain('(with 1 image)');
    expect(await lastTurn(page).getByRole('img', { name: 'Your attachment' }).getAttribute('src')).toBe(
      `data:image/png;base64,${PNG.toString('base64')}`,
    );
    expect(await page.locator('#attachment').isHidden()).toBe(true);
    expect(bodyOf(lastChatRequest(fastMock)).messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this image?' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG.toString('base64')}` } },
        ],
      },
    ]);

    await page.locator('#image').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    expect(await page.locator('#attachment-error').textContent()).toContain('is not an image');
  });

  it('runs the whole tool loop: the demo get_weather answers, its result goes back, the follow-up streams; "And in Rome?" gets Rome', async () => {
    const page = await openChat(fast);
    await page.getByLabel('Offer the model a get_weather tool').check();
    await send(page, 'What is the weather in Paris?');
    const followUp = lastTurn(page).locator('.message.assistant').nth(1);
    await followUp.locator('.turn-status', { hasText: 'finish reason: stop' }).waitFor({ timeout: 20_000 });
    const call = lastTurn(page).locator('.tool-call');
    expect(await call.locator('.tool-name').textContent()).toBe('get_weather');
    const shown = (await call.locator('pre.tool-arguments').textContent()) ?? '';
    expect(JSON.parse(shown)).toEqual({ city: 'Paris' });
    expect(shown).toBe(JSON.stringify(JSON.parse(shown), null, 2));
    expect(await call.locator('.tool-result-label').textContent()).toContain('demo data');
    const result = JSON.parse((await call.locator('.tool-result pre').textContent()) ?? '{}') as { city: string; temperatureC: number };
    expect(result.city).toBe('Paris');
    expect(await lastTurn(page).locator('.message.assistant').first().locator('.turn-status').textContent()).toMatch(
      /^The model called a tool · finish reason: tool_calls · tokens: /,
    );
    // The follow-up request carried the call and its result; the answer quotes the result.
    const messages = bodyOf(lastChatRequest(fastMock)).messages;
    expect(messages.map((message) => message.role)).toEqual(['user', 'assistant', 'tool']);
    const toolCalls = messages[1]?.tool_calls as Array<{ id: string; function: { name: string; arguments: string } }>;
    expect(JSON.parse(toolCalls[0]!.function.arguments)).toEqual({ city: 'Paris' });
    expect(messages[2]).toMatchObject({ role: 'tool', tool_call_id: toolCalls[0]?.id });
    expect(JSON.parse(String(messages[2]?.content))).toMatchObject({ city: 'Paris', temperatureC: result.temperatureC });
    expect(await followUp.locator('.answer').textContent()).toContain('The tool returned:');

    await send(page, 'And in Rome?');
    const rome = lastTurn(page).locator('.message.assistant').nth(1);
    await rome.locator('.turn-status', { hasText: 'finish reason: stop' }).waitFor({ timeout: 20_000 });
    expect(JSON.parse((await lastTurn(page).locator('pre.tool-arguments').textContent()) ?? '{}')).toEqual({ city: 'Rome' });
    expect(await rome.locator('.answer').textContent()).toContain('Rome');

    // Typed by the person instead: the page waits for the result, then sends it.
    await page.getByLabel('Type tool results myself').check();
    await send(page, 'Weather in Oslo?');
    const field = lastTurn(page).getByLabel('Result of get_weather');
    await field.waitFor({ timeout: 20_000 });
    const before = chatRequests(fastMock).length;
    await field.fill('{"temperatureC": -3, "conditions": "snow"}');
    await button(page, 'Send result').click();
    await lastTurn(page)
      .locator('.message.assistant')
      .nth(1)
      .locator('.turn-status', { hasText: 'finish reason: stop' })
      .waitFor({ timeout: 20_000 });
    expect(chatRequests(fastMock).length).toBe(before + 1);
    const typed = bodyOf(lastChatRequest(fastMock)).messages.at(-1);
    expect(typed).toMatchObject({ role: 'tool', content: '{"temperatureC": -3, "conditions": "snow"}' });
    expect(await lastTurn(page).locator('.tool-result-label').textContent()).toContain('typed by you');
    expect(browser.problems).toEqual([]);
  });

  it('says the upstream could not list its models when OPENAI_BASE_URL lacks /v1 (not that a model is missing)', async () => {
    const wrong = await startService(null, { OPENAI_BASE_URL: fastMock.url.replace(/\/v1$/, '') });
    const page = await browser.newPage();
    await page.goto(`${wrong.url}/`);
    const status = page.locator('#model-status');
    await status.getByText('Models unavailable').waitFor();
    expect(await status.textContent()).toContain('OPENAI_BASE_URL ends with /v1');
    expect(await status.textContent()).not.toMatch(/pick another/i);
    await page.close();
  });

  it('fits a 360 px screen, and nothing but the answer moves while it streams', async () => {
    const page = await openChat(slow, { width: 360, height: 740 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    // Settings fold away on a narrow screen, and still name the model.
    expect(await page.getByLabel('Model', { exact: true }).isVisible()).toBe(false);
    expect(await page.locator('#settings summary').textContent()).toContain('chatql-mock');

    const boxes = async () =>
      JSON.stringify(
        await Promise.all(
          [prompt(page), button(page, 'Send'), button(page, 'Stop'), page.locator('#log')].map((locator) => locator.boundingBox()),
        ),
      );
    const idle = await boxes();
    await send(page, 'A long answer on a small screen');
    const during: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      await page.waitForTimeout(150);
      during.push(await boxes());
    }
    await turnEnded(page);
    expect(new Set([idle, ...during, await boxes()]).size).toBe(1);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    // The log follows the answer down.
    expect(await page.locator('#log').evaluate((log) => log.scrollHeight - log.scrollTop - log.clientHeight)).toBeLessThan(48);
  });
});
