/**
 * The chat page's newer features in a real browser (Debian's Chromium, headless), against the
 * service and a mock upstream on port 0: markdown, hostile answers rendered inert, conversations
 * kept in IndexedDB across reloads and browser restarts, a reload mid-answer resumed without a
 * second upstream request, regenerate and edit, a model cooling down, the slow-model notice, a
 * content-policy card, and axe-core's verdict on each state in light, dark and at 360 px.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { HOSTILE_ANSWER, MARKDOWN_ANSWER } from '../../src/mock-upstream/demo-answers.js';
import { replyText } from '../../src/mock-upstream/reply.js';
import type { MockUpstream } from '../../src/mock-upstream/server.js';
import { startMock, startService, type TestService, until } from '../utils/servers.js';
import { axeViolations, formatViolations, type Violation } from './a11y.js';
import { type Browser, bodyOf, browserMissing, chatRequests, lastChatRequest, launchBrowser } from './harness.js';

if (browserMissing) console.warn(`skipping the chat page's feature tests: ${browserMissing}`);

/** The fenced code blocks of a markdown text: their language and their code, in order. */
function fencedBlocks(markdown: string): Array<{ language: string; code: string }> {
  const blocks: Array<{ language: string; code: string }> = [];
  let open: { language: string; lines: string[] } | null = null;
  for (const line of markdown.split('\n')) {
    if (open === null) {
      if (line.startsWith('```')) open = { language: line.slice(3).trim(), lines: [] };
    } else if (line === '```') {
      blocks.push({ language: open.language, code: open.lines.join('\n') });
      open = null;
    } else {
      open.lines.push(line);
    }
  }
  return blocks;
}

/** A prompt of 60 words: the mock quotes them all, so the answer runs to about 120 words. */
const LONG_PROMPT = Array.from({ length: 60 }, (_, i) => `word${i + 1}`).join(' ');

describe.skipIf(browserMissing)("the chat page's newer features", { timeout: 60_000 }, () => {
  let browser: Browser;
  /** Streams a word every 40 ms: slow enough to reload or close the page mid-answer. */
  let slowMock: MockUpstream;
  let slow: TestService;
  /** Streams a word every 2 ms, for the tests that only need the end of an answer. */
  let fastMock: MockUpstream;
  let fast: TestService;
  /** Every page a test opened (in any browser), closed after it. */
  const pages: Page[] = [];

  beforeAll(async () => {
    slowMock = await startMock({ wordDelayMs: 40 });
    slow = await startService(slowMock, { UPSTREAM_PRICES: 'litellm' });
    fastMock = await startMock({ wordDelayMs: 2 });
    fast = await startService(fastMock, { UPSTREAM_PRICES: 'litellm' });
    browser = await launchBrowser();
  });

  afterEach(async () => {
    await Promise.allSettled(pages.splice(0).map((page) => page.close()));
  });

  afterAll(async () => {
    await browser?.close();
  });

  interface OpenOptions {
    viewport?: { width: number; height: number };
    /**
     * `always` (the default): every load of the page starts a new chat. `once`: the first load
     * does, a reload reopens the conversation (sessionStorage outlives a reload, not the tab).
     * `never`: the page reopens the conversation open last in this profile.
     */
    fresh?: 'always' | 'once' | 'never';
    /** Runs on the new tab before it navigates: listeners, a clock. */
    before?: (page: Page) => Promise<void> | void;
    /** Another browser than the file's. */
    in?: Browser;
  }

  async function openChat(service: TestService, options: OpenOptions = {}): Promise<Page> {
    const page = await (options.in ?? browser).newPage(options.viewport);
    pages.push(page);
    const fresh = options.fresh ?? 'always';
    if (fresh === 'always') await page.addInitScript(() => localStorage.removeItem('chatql.conversation'));
    if (fresh === 'once') {
      await page.addInitScript(() => {
        if (sessionStorage.getItem('chatql.test.fresh')) return;
        sessionStorage.setItem('chatql.test.fresh', '1');
        localStorage.removeItem('chatql.conversation');
      });
    }
    await options.before?.(page);
    await page.goto(`${service.url}/`);
    await modelsLoaded(page);
    return page;
  }

  const modelsLoaded = (page: Page) => page.locator('#model:enabled').waitFor({ state: 'attached' });
  const picker = (page: Page) => page.getByLabel('Model', { exact: true });
  const prompt = (page: Page) => page.getByRole('textbox', { name: 'Message', exact: true });
  const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });
  const turns = (page: Page) => page.locator('#log article.turn');
  const lastTurn = (page: Page) => turns(page).last();
  const answerOf = (page: Page) => lastTurn(page).locator('.answer');
  const statusOf = (page: Page) => lastTurn(page).locator('.turn-status');
  const failureOf = (page: Page) => lastTurn(page).locator('.failure');
  const titles = (page: Page) => page.locator('.conversation-list > li.conversation button.conversation-open').allTextContents();
  const words = (text: string | null) => (text ?? '').split(/\s+/).filter(Boolean).length;

  /** Waits until the last turn has ended (finished, stopped or failed). */
  async function turnEnded(page: Page, timeout = 30_000): Promise<void> {
    await lastTurn(page).locator('.message.assistant:not(.streaming)').last().waitFor({ timeout });
    await page.locator('#log[aria-busy="false"]').waitFor({ timeout });
  }

  async function send(page: Page, text: string): Promise<void> {
    await prompt(page).fill(text);
    await prompt(page).press('Enter');
  }

  /** Waits until the last answer shows more than `count` words. */
  async function answerHasWords(page: Page, count: number, timeout = 15_000): Promise<void> {
    await page.waitForFunction(
      (least) => {
        const answers = document.querySelectorAll('#log .turn .answer');
        const text = answers[answers.length - 1]?.textContent ?? '';
        return text.split(/\s+/).filter(Boolean).length > least;
      },
      count,
      { timeout },
    );
  }

  interface Resume {
    key: string;
    after?: number;
  }

  /**
   * Collects the `resume` argument of each subscription the tab starts, from the graphql-ws frames
   * it sends. A subscription the service answers with `error` is taken back: the page's first
   * request by trusted-document id, which a service without a manifest refuses
   * (PERSISTED_QUERY_NOT_SUPPORTED) and the page sends again as text (web/src/trusted-documents.ts).
   */
  function watchResumes(page: Page, into: Resume[]): void {
    page.on('websocket', (socket) => {
      const byId = new Map<string, Resume>();
      socket.on('framesent', ({ payload }) => {
        const message = JSON.parse(String(payload)) as { id?: string; type?: string; payload?: { variables?: { resume?: Resume } } };
        const resume = message.payload?.variables?.resume;
        if (message.type !== 'subscribe' || !resume || !message.id) return;
        byId.set(message.id, resume);
        into.push(resume);
      });
      socket.on('framereceived', ({ payload }) => {
        const message = JSON.parse(String(payload)) as { id?: string; type?: string };
        const refused = message.type === 'error' && message.id ? byId.get(message.id) : undefined;
        if (refused) into.splice(into.indexOf(refused), 1);
      });
    });
  }

  async function clipboard(page: Page): Promise<string> {
    return page.evaluate(() => navigator.clipboard.readText());
  }

  it('renders chatql-mock-markdown: headings, a table, a task list, strikethrough and highlighted code, with no style; copies code and the answer', async () => {
    const problems = browser.problems.length;
    const page = await openChat(fast);
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(fast.url).origin });
    await picker(page).selectOption('chatql-mock-markdown');
    await send(page, 'Show me some markdown');
    await turnEnded(page, 45_000);
    expect(bodyOf(lastChatRequest(fastMock))).toMatchObject({ model: 'chatql-mock-markdown', stream: true });
    expect(await statusOf(page).textContent()).toMatch(/^Done · finish reason: stop · tokens: [\d,]+ prompt \+ [\d,]+ completion/);

    const answer = answerOf(page);
    const lines = MARKDOWN_ANSWER.split('\n');
    expect(await answer.locator('h1').allTextContents()).toEqual(['Streaming chat answers through GraphQL: a field guide']);
    expect(await answer.locator('h2').allTextContents()).toEqual(
      lines.filter((line) => line.startsWith('## ')).map((line) => line.slice(3)),
    );
    expect(await answer.locator('h3').allTextContents()).toEqual(
      lines.filter((line) => line.startsWith('### ')).map((line) => line.slice(4)),
    );

    // The table: a header row and four rows of five cells.
    expect(await answer.locator('table th').allTextContents()).toEqual([
      'Transport',
      'Direction',
      'Reconnects',
      'Works through most proxies',
      'Best for',
    ]);
    expect(await answer.locator('table tbody tr').count()).toBe(4);
    expect(await answer.locator('table td').count()).toBe(20);
    expect(await answer.locator('table tbody tr').first().locator('td').first().textContent()).toBe('Server-Sent Events');

    // The task list: checkboxes that show the state and cannot be changed.
    const boxes = answer.locator('li input[type="checkbox"]');
    expect(await boxes.count()).toBe(7);
    expect(await boxes.evaluateAll((list) => list.map((box) => (box as HTMLInputElement).checked))).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    expect(await boxes.evaluateAll((list) => list.every((box) => (box as HTMLInputElement).disabled))).toBe(true);

    expect(await answer.locator('del').allTextContents()).toEqual(['a different one each time', 'struck-through']);
    expect(await answer.locator('strong').count()).toBeGreaterThan(3);
    expect(await answer.locator('blockquote').count()).toBe(1);
    const link = answer.locator('a[href="https://spec.graphql.org/October2021/"]');
    expect(await link.textContent()).toBe('the GraphQL specification');
    expect(await link.getAttribute('target')).toBe('_blank');
    expect(await link.getAttribute('rel')).toContain('noopener');

    // Code: every fence a highlighted block of its language, its text exactly the code.
    const fences = fencedBlocks(MARKDOWN_ANSWER);
    expect(fences.length).toBeGreaterThanOrEqual(3);
    const codes = answer.locator('div.code-block > pre > code');
    expect(await codes.count()).toBe(fences.length);
    const shown = await codes.evaluateAll((list) =>
      list.map((code) => ({
        classes: [...code.classList],
        text: code.textContent ?? '',
        highlighted: code.querySelectorAll('span[class^="hljs-"]').length,
      })),
    );
    shown.forEach((block, i) => {
      const fence = fences[i]!;
      expect(block.classes).toContain('hljs');
      expect(block.classes).toContain(`language-${fence.language}`);
      expect(block.text.replace(/\n$/, '')).toBe(fence.code);
    });
    expect(shown.filter((block) => block.highlighted > 0).length).toBeGreaterThanOrEqual(3);
    // Highlighting is classes only: nothing in the answer carries a style attribute.
    expect(await answer.locator('[style]').count()).toBe(0);

    // Copy code copies the block's code; Copy answer the markdown source, whole.
    await answer.locator('div.code-block').nth(1).getByRole('button', { name: 'Copy code' }).click();
    await expect.poll(() => clipboard(page), { timeout: 5000 }).toBe(fences[1]!.code);
    await answer.locator('div.code-block').first().getByRole('button', { name: 'Copy code' }).click();
    await expect.poll(() => clipboard(page), { timeout: 5000 }).toBe(fences[0]!.code);
    expect(await answer.locator('div.code-block').first().getByRole('button').textContent()).toBe('Copied');
    await lastTurn(page).getByRole('button', { name: 'Copy answer', exact: true }).click();
    await expect.poll(() => clipboard(page), { timeout: 5000 }).toBe(MARKDOWN_ANSWER);
    expect(browser.problems.slice(problems)).toEqual([]);
  });

  it('renders chatql-mock-hostile inert: nothing runs, loads or applies, the image is a link, no request leaves', async () => {
    const problems = browser.problems.length;
    const external = browser.external.length;
    const requested: string[] = [];
    const page = await openChat(fast, { before: (tab) => void tab.on('request', (request) => requested.push(request.url())) });
    await picker(page).selectOption('chatql-mock-hostile');
    await send(page, 'Say something nasty');
    await turnEnded(page);
    expect(bodyOf(lastChatRequest(fastMock))).toMatchObject({ model: 'chatql-mock-hostile' });
    // Time for an image, a frame or a handler to give itself away.
    await page.waitForTimeout(500);

    expect(await page.evaluate(() => (window as { __chatqlHostile?: unknown }).__chatqlHostile)).toBeUndefined();
    const log = page.locator('#log');
    for (const tag of ['img', 'script', 'iframe', 'style', 'object', 'embed']) expect(await log.locator(tag).count(), tag).toBe(0);
    expect(await log.locator('[onerror], [onclick], [style]').count()).toBe(0);
    expect(await log.locator('a[href^="javascript:" i]').count()).toBe(0);
    expect(await log.locator('a[href*="evil.example"]').count()).toBe(0);

    // The remote image is a link to it, never loaded.
    const image = answerOf(page).locator('a.image-link');
    expect(await image.textContent()).toContain('Image');
    expect(await image.getAttribute('href')).toBe('https://tracker.example/pixel.png');
    // The javascript: link keeps its words, not its target.
    expect(await answerOf(page).textContent()).toContain('click me');
    // Raw HTML is left out (rehype-sanitize drops it), the words inside its tags kept as text.
    const text = (await answerOf(page).textContent()) ?? '';
    expect(text).toContain('html link');
    expect(text).toContain('[Image: tracker]');
    expect(text).not.toContain('window.__chatqlHostile=');
    // The style sheet hid nothing: the closing sentence is there and visible.
    const closing = answerOf(page).getByText('If this sentence is on the page');
    expect(await closing.isVisible()).toBe(true);
    expect(await page.evaluate(() => getComputedStyle(document.body).display)).not.toBe('none');
    // Copy answer would give the source back: the answer as received.
    expect(HOSTILE_ANSWER).toContain(text.slice(0, 40));

    expect(requested.filter((url) => /tracker\.example|evil\.example/.test(url))).toEqual([]);
    expect(browser.external.slice(external)).toEqual([]);
    expect(browser.problems.slice(problems)).toEqual([]);
  });

  it('keeps conversations across reloads and a browser restart: titled, newest first, renamed, deleted', async () => {
    const profile = await mkdtemp(join(tmpdir(), 'chatql-profile-'));
    let own: Browser | null = await launchBrowser({ userDataDir: profile });
    try {
      // A profile of its own: nothing to forget, and every load reopens the last conversation.
      let page = await openChat(fast, { in: own, fresh: 'never' });
      const first = 'Tell me about the rain in Spain and where it falls mainly, please';
      const title = 'Tell me about the rain in Spain and where it fa…';
      const second = 'And in Portugal?';
      await send(page, first);
      await turnEnded(page);
      await send(page, second);
      await turnEnded(page);
      expect(await titles(page)).toEqual([title]);

      const showsBothTurns = async (tab: Page) => {
        await turns(tab).nth(1).locator('.turn-status').waitFor();
        expect(await turns(tab).count()).toBe(2);
        expect(await tab.locator('.turn .user-text').allTextContents()).toEqual([first, second]);
        expect(await tab.locator('.turn .answer').allTextContents()).toEqual([
          replyText([{ role: 'user', content: first }]),
          replyText([
            { role: 'user', content: first },
            { role: 'assistant', content: replyText([{ role: 'user', content: first }]) },
            { role: 'user', content: second },
          ]),
        ]);
        expect(await tab.locator('.turn .turn-status').allTextContents()).toEqual([
          expect.stringMatching(/^Done · finish reason: stop/),
          expect.stringMatching(/^Done · finish reason: stop/),
        ]);
      };

      await page.reload();
      await modelsLoaded(page);
      await showsBothTurns(page);
      expect(await titles(page)).toEqual([title]);
      expect(await page.locator('.conversation-open[aria-current="page"]').textContent()).toBe(title);
      expect(await page.locator('.totals').textContent()).toMatch(/^This chat: \d[\d,]* tokens · \$0\.\d+$/);

      // A second chat, listed first.
      await button(page, 'New chat').click();
      await page.locator('#empty').waitFor();
      await send(page, 'A second chat');
      await turnEnded(page);
      await expect.poll(() => titles(page)).toEqual(['A second chat', title]);
      expect(await page.locator('.conversation-open[aria-current="page"]').textContent()).toBe('A second chat');

      // The first one renamed, which a reload keeps.
      await button(page, `Rename “${title}”`).click();
      const field = page.getByLabel(`New name for “${title}”`, { exact: true });
      await field.fill('Rain in Spain');
      await button(page, 'Save name').click();
      await expect.poll(() => titles(page)).toEqual(['A second chat', 'Rain in Spain']);
      await page.reload();
      await modelsLoaded(page);
      await expect.poll(() => titles(page)).toEqual(['A second chat', 'Rain in Spain']);
      expect(await page.locator('.conversation-open[aria-current="page"]').textContent()).toBe('A second chat');
      expect(await lastTurn(page).locator('.user-text').textContent()).toBe('A second chat');

      // The other one deleted: the open chat, so an empty one takes its place.
      await button(page, 'Delete “A second chat”').click();
      await expect.poll(() => titles(page)).toEqual(['Rain in Spain']);
      await page.locator('#empty').waitFor();
      await page.locator('.conversation-open', { hasText: 'Rain in Spain' }).click();
      await showsBothTurns(page);
      expect(await page.locator('.conversation-open[aria-current="page"]').textContent()).toBe('Rain in Spain');

      // A closed browser, then a new one on the same profile.
      await own.close();
      own = null;
      own = await launchBrowser({ userDataDir: profile });
      page = await openChat(fast, { in: own, fresh: 'never' });
      await showsBothTurns(page);
      expect(await titles(page)).toEqual(['Rain in Spain']);
      expect(await page.locator('.conversation-open[aria-current="page"]').textContent()).toBe('Rain in Spain');
      expect(own.problems).toEqual([]);
      expect(own.external).toEqual([]);
    } finally {
      await own?.close();
      await rm(profile, { recursive: true, force: true });
    }
  });

  it('a reload mid-answer resumes the same generation: the whole answer, once, and no second upstream request', async () => {
    const problems = browser.problems.length;
    const resumes: Resume[] = [];
    const page = await openChat(slow, { fresh: 'once', before: (tab) => watchResumes(tab, resumes) });
    const before = chatRequests(slowMock).length;
    await send(page, LONG_PROMPT);
    const expected = replyText([{ role: 'user', content: LONG_PROMPT }]);
    await answerHasWords(page, 10);
    // Past a snapshot or two (written every 400 ms) with the key and the last seq.
    await page.waitForTimeout(1000);
    const beforeReload = (await answerOf(page).textContent()) ?? '';
    expect(words(beforeReload)).toBeLessThan(words(expected));
    const request = lastChatRequest(slowMock);

    await page.reload();
    await modelsLoaded(page);
    await turns(page).first().waitFor();
    // The kept part is shown at once, and the rest follows it.
    const resumedAt = (await answerOf(page).textContent()) ?? '';
    expect(expected.startsWith(resumedAt)).toBe(true);
    await turnEnded(page, 30_000);
    expect(await turns(page).count()).toBe(1);
    // Every word once, in order: the resumed part follows the kept part exactly.
    expect(await answerOf(page).textContent()).toBe(expected);
    expect(await statusOf(page).textContent()).toMatch(/^Done · finish reason: stop · tokens: [\d,]+ prompt \+ [\d,]+ completion/);

    // One upstream request, which ran to its end through the reload.
    expect(chatRequests(slowMock).length - before).toBe(1);
    await Promise.race([request.closed, new Promise((resolve) => setTimeout(resolve, 3000))]);
    expect(request.aborted).toBe(false);
    // The second subscription named the first one's key and the last seq the page had.
    expect(resumes).toHaveLength(2);
    expect(resumes[0]!.after).toBeUndefined();
    expect(resumes[1]!.key).toBe(resumes[0]!.key);
    expect(resumes[1]!.after).toBeGreaterThan(0);
    expect(browser.problems.slice(problems)).toEqual([]);
  });

  it('a page reopened after the service let the generation go says "Interrupted", with no new upstream request', async () => {
    const forgetful = await startService(slowMock, {
      UPSTREAM_PRICES: 'litellm',
      STREAM_RESUME_GRACE_MS: '1000',
      STREAM_RESUME_TTL_MS: '1000',
    });
    const resumes: Resume[] = [];
    let page = await openChat(forgetful, { fresh: 'once', before: (tab) => watchResumes(tab, resumes) });
    const before = chatRequests(slowMock).length;
    await send(page, LONG_PROMPT);
    const expected = replyText([{ role: 'user', content: LONG_PROMPT }]);
    await answerHasWords(page, 8);
    await page.waitForTimeout(1000);
    const request = lastChatRequest(slowMock);
    await page.close();

    // No subscriber for the grace period: the service aborts the upstream request...
    await Promise.race([request.closed, new Promise((resolve) => setTimeout(resolve, 6000))]);
    expect(request.aborted).toBe(true);
    // ...and forgets the generation once its TTL has passed.
    await new Promise((resolve) => setTimeout(resolve, 2000));

    page = await openChat(forgetful, { fresh: 'never', before: (tab) => watchResumes(tab, resumes) });
    await lastTurn(page)
      .locator('.turn-status', { hasText: /^Interrupted/ })
      .waitFor({ timeout: 15_000 });
    expect(await statusOf(page).textContent()).toBe(
      'Interrupted: the page went away before the answer ended, and the service no longer keeps it. Regenerate to ask again.',
    );
    expect(await lastTurn(page).locator('.user-text').textContent()).toBe(LONG_PROMPT);
    const kept = (await answerOf(page).textContent()) ?? '';
    expect(kept).not.toBe('');
    expect(expected.startsWith(kept)).toBe(true);
    expect(await failureOf(page).count()).toBe(0);
    expect(await page.locator('#log').getAttribute('aria-busy')).toBe('false');
    expect(chatRequests(slowMock).length - before).toBe(1);
    // It asked for the generation by its key (and was told it is gone), rather than giving up unasked.
    expect(resumes).toHaveLength(2);
    expect(resumes[1]!.key).toBe(resumes[0]!.key);
    expect(resumes[1]!.after).toBeGreaterThan(0);

    // Regenerate, as it says, asks again: a new upstream request, and the whole answer.
    await button(page, 'Regenerate').click();
    await until(() => chatRequests(slowMock).length - before === 2, 5000, 'the regenerated request');
    await turnEnded(page, 30_000);
    expect(await answerOf(page).textContent()).toBe(expected);
    expect(await statusOf(page).textContent()).toMatch(/^Done · finish reason: stop/);
  });

  it('Regenerate sends the same history again and replaces the answer; Edit resends from an earlier message and drops the later turns', async () => {
    const page = await openChat(fast);
    await send(page, 'Tell me about cats');
    await turnEnded(page);
    const first = lastChatRequest(fastMock);
    const answer = (await answerOf(page).textContent()) ?? '';
    expect(answer).toContain('You said: "Tell me about cats"');

    // Regenerate: one more request with the same messages; the answer is written again in place.
    const before = chatRequests(fastMock).length;
    await page.evaluate(() => {
      const states: string[] = [];
      (window as unknown as { answerStates: string[] }).answerStates = states;
      new MutationObserver(() => {
        const text = document.querySelector('#log .turn .answer')?.textContent ?? '';
        if (text !== states[states.length - 1]) states.push(text);
      }).observe(document.getElementById('log')!, { subtree: true, childList: true, characterData: true });
    });
    await button(page, 'Regenerate').click();
    await until(() => chatRequests(fastMock).length === before + 1, 5000, 'the regenerated request');
    await turnEnded(page);
    expect(chatRequests(fastMock).length).toBe(before + 1);
    expect(bodyOf(lastChatRequest(fastMock)).messages).toEqual(bodyOf(first).messages);
    expect(bodyOf(lastChatRequest(fastMock)).model).toBe(bodyOf(first).model);
    expect(await turns(page).count()).toBe(1);
    expect(await lastTurn(page).locator('.message.assistant').count()).toBe(1);
    expect(await answerOf(page).textContent()).toBe(answer);
    const states = (await page.evaluate('window.answerStates')) as string[];
    // It was written anew: shorter texts than the whole answer came before it.
    expect(states.some((state) => state.length < answer.length && answer.startsWith(state))).toBe(true);
    expect(states.at(-1)).toBe(answer);

    // Edit the first of two messages.
    await send(page, 'And about dogs?');
    await turnEnded(page);
    expect(await turns(page).count()).toBe(2);
    await turns(page).first().getByRole('button', { name: 'Edit', exact: true }).click();
    const editor = turns(page).first().getByRole('textbox', { name: 'Your message', exact: true });
    expect(await editor.inputValue()).toBe('Tell me about cats');
    await editor.fill('Tell me about owls instead');
    const beforeEdit = chatRequests(fastMock).length;
    await button(page, 'Send edited message').click();
    await until(() => chatRequests(fastMock).length === beforeEdit + 1, 5000, 'the edited request');
    await turnEnded(page);
    expect(await turns(page).count()).toBe(1);
    expect(await page.getByText('And about dogs?').count()).toBe(0);
    expect(await lastTurn(page).locator('.user-text').textContent()).toBe('Tell me about owls instead');
    expect(bodyOf(lastChatRequest(fastMock)).messages).toEqual([{ role: 'user', content: 'Tell me about owls instead' }]);
    expect(await answerOf(page).textContent()).toBe(replyText([{ role: 'user', content: 'Tell me about owls instead' }]));
    expect(chatRequests(fastMock).length).toBe(beforeEdit + 1);
  });

  it('a model whose breaker opened is shown cooling down in the picker and its info, and is answered without an upstream request', async () => {
    const breaking = await startService(fastMock, {
      UPSTREAM_PRICES: 'litellm',
      UPSTREAM_BREAKER_THRESHOLD: '1',
      UPSTREAM_BREAKER_COOLDOWN_MS: '60000',
      UPSTREAM_MAX_RETRIES: '0',
    });
    const page = await openChat(breaking);
    expect(await page.locator('#model option', { hasText: 'cooling down' }).count()).toBe(0);
    await picker(page).selectOption('fail-500');
    expect(await page.locator('#model-info').textContent()).not.toContain('Cooling down');
    const before = chatRequests(fastMock).length;
    await send(page, 'Are you up?');
    await failureOf(page).waitFor();
    expect(await failureOf(page).locator('.failure-title').textContent()).toBe('The upstream is down');
    expect(chatRequests(fastMock).length).toBe(before + 1);

    // The models are asked again after a failure: fail-500 is now cooling down, and says so.
    const option = page.locator('#model option[value="fail-500"]');
    await expect.poll(() => option.textContent(), { timeout: 10_000 }).toMatch(/^fail-500 · cooling down, (1 min|[1-5]?\d s)$/);
    expect(await page.locator('#model-info').textContent()).toMatch(/Cooling down after failures: tried again in (1 min|[1-5]?\d s)\.$/);
    expect(await option.evaluate((element) => (element.parentElement as HTMLOptGroupElement).label)).toBe('Failure demos');
    const others = await page
      .locator('#model option:not([value="fail-500"])')
      .evaluateAll((list) => list.map((element) => element.textContent ?? ''));
    expect(others.length).toBeGreaterThan(5);
    expect(others.filter((text) => text.includes('cooling down'))).toEqual([]);

    // Asked again, the service answers for the model: a countdown, and nothing reaches the upstream.
    await send(page, 'And now?');
    await turns(page).nth(1).locator('.failure').waitFor();
    const card = failureOf(page);
    expect(await card.locator('.failure-title').textContent()).toMatch(/^The model is cooling down: try again in \d+ s \(\d+ seconds\)$/);
    expect(await card.locator('.failure-advice').textContent()).toContain('giving it a rest');
    const countdown = Number(await card.locator('.countdown').textContent());
    expect(countdown).toBeGreaterThan(30);
    expect(countdown).toBeLessThanOrEqual(60);
    expect(await card.getByRole('button', { name: 'Retry' }).count()).toBe(0);
    expect(await button(page, 'Send').isDisabled()).toBe(true);
    await page.waitForFunction((start) => Number(document.querySelector('.turn:last-of-type .countdown')?.textContent) < start, countdown, {
      timeout: 5000,
    });
    expect(chatRequests(fastMock).length).toBe(before + 1);

    // Another model still works, and is not marked.
    expect(await page.locator('#model option[value="chatql-mock"]').textContent()).toBe('chatql-mock · $0.15 / $0.60 per 1M tokens');
  });

  it('says the model is slow after 15 s without a token, and its Stop ends the answer and the upstream request (Playwright clock)', async () => {
    // The clock is the browser context's: a browser of its own, so that no other test gets it.
    const own = await launchBrowser();
    try {
      const page = await openChat(fast, { in: own, before: (tab) => tab.clock.install() });
      await picker(page).selectOption('fail-stall');
      await send(page, 'Hello, anyone?');
      await answerHasWords(page, 0);
      const request = lastChatRequest(fastMock);
      expect(bodyOf(request).model).toBe('fail-stall');
      const partial = (await answerOf(page).textContent()) ?? '';
      // Let the few words all arrive (they come at once), then nothing comes for 16 s.
      await page.waitForTimeout(300);
      expect(await page.locator('p.slow').count()).toBe(0);
      await page.clock.fastForward('00:16');
      const notice = lastTurn(page).locator('p.slow');
      await notice.waitFor({ timeout: 5000 });
      expect(await notice.textContent()).toMatch(/^The model is slow: no token for 1[6-9] s\. Stop$/);
      expect(await notice.getAttribute('role')).toBe('status');
      expect(await lastTurn(page).locator('.message.assistant').getAttribute('class')).toContain('streaming');
      expect(request.closedAt).toBeUndefined();

      await notice.getByRole('button', { name: 'Stop', exact: true }).click();
      await statusOf(page)
        .filter({ hasText: /^Stopped/ })
        .waitFor({ timeout: 5000 });
      expect(await statusOf(page).textContent()).toBe('Stopped: the answer is cut short.');
      expect(await notice.count()).toBe(0);
      expect(partial.length).toBeGreaterThan(0);
      expect(((await answerOf(page).textContent()) ?? '').startsWith(partial)).toBe(true);
      await Promise.race([request.closed, new Promise((resolve) => setTimeout(resolve, 5000))]);
      expect(request.closedAt).toBeDefined();
      expect(request.aborted).toBe(true);
      expect(await button(page, 'Send').isEnabled()).toBe(true);
      expect(own.problems).toEqual([]);
    } finally {
      await own.close();
    }
  });

  it('a guardrail refusal shows "Blocked by a content policy", naming the guardrail, without Retry', async () => {
    const page = await openChat(fast);
    await picker(page).selectOption('fail-guardrail');
    await send(page, 'My email is someone@example.com');
    await failureOf(page).waitFor();
    const card = failureOf(page);
    expect(await card.getAttribute('role')).toBe('alert');
    expect(await card.getAttribute('class')).toContain('blocked');
    expect(await card.locator('.failure-title').textContent()).toBe('Blocked by a content policy');
    expect(await card.locator('.failure-advice').textContent()).toBe(
      'The guardrail “chatql-mock-pii” refused this request before the model answered. Sending the same words again will not help: rephrase it.',
    );
    expect(await card.getByRole('button').count()).toBe(0);
    expect(await lastTurn(page).locator('.message.assistant').getAttribute('class')).toContain('failed');
    expect(await button(page, 'Send').isEnabled()).toBe(true);
  });

  describe('accessibility (axe-core: no serious or critical violation)', () => {
    type Variant = { name: string; colorScheme: 'light' | 'dark'; theme: 'system' | 'light' | 'dark'; width: number };
    const VARIANTS: Variant[] = [
      { name: 'light', colorScheme: 'light', theme: 'system', width: 1280 },
      { name: 'dark (system)', colorScheme: 'dark', theme: 'system', width: 1280 },
      { name: 'dark (theme select)', colorScheme: 'light', theme: 'dark', width: 1280 },
      { name: 'light (theme select, dark system)', colorScheme: 'dark', theme: 'light', width: 1280 },
      { name: '360 px light', colorScheme: 'light', theme: 'system', width: 360 },
      { name: '360 px dark', colorScheme: 'dark', theme: 'system', width: 360 },
    ];

    /** Runs axe in every variant; returns what it found, merged and readable ('' when nothing). */
    async function audit(page: Page, state: string): Promise<string> {
      const found: Array<{ where: string; violations: Violation[] }> = [];
      try {
        for (const variant of VARIANTS) {
          await page.setViewportSize({ width: variant.width, height: variant.width < 600 ? 740 : 800 });
          await page.emulateMedia({ colorScheme: variant.colorScheme });
          // The select is in the top bar, shown at every width.
          await page.getByLabel('Theme', { exact: true }).selectOption(variant.theme);
          expect(await page.evaluate(() => document.documentElement.dataset.theme ?? 'system')).toBe(variant.theme);
          const violations = await axeViolations(page);
          if (violations.length > 0) found.push({ where: `${state}, ${variant.name}`, violations });
        }
      } finally {
        // The theme is kept in this profile's localStorage: back to the system's.
        await page.getByLabel('Theme', { exact: true }).selectOption('system');
        await page.emulateMedia({ colorScheme: 'light' });
        await page.setViewportSize({ width: 1280, height: 800 });
      }
      return formatViolations(found);
    }

    it('axe loads into the page despite its Content-Security-Policy', async () => {
      const page = await openChat(fast);
      const violations = await axeViolations(page, { all: true });
      expect(Array.isArray(violations)).toBe(true);
      expect(await page.evaluate(() => typeof (window as { axe?: { run?: unknown } }).axe?.run)).toBe('function');
    });

    it('the empty page', async () => {
      const page = await openChat(fast);
      const found = await audit(page, 'empty page');
      expect(found, found).toBe('');
    });

    it('a streamed markdown answer', async () => {
      const page = await openChat(fast);
      await picker(page).selectOption('chatql-mock-markdown');
      await send(page, 'Markdown, please');
      await turnEnded(page, 45_000);
      const ended = await audit(page, 'markdown answer');

      // Mid-stream too (a word every 40 ms): a busy log, a growing answer, Stop enabled.
      const streaming = await openChat(slow);
      await picker(streaming).selectOption('chatql-mock-markdown');
      await send(streaming, 'Markdown, slowly');
      await answerHasWords(streaming, 40);
      expect(await streaming.locator('#log').getAttribute('aria-busy')).toBe('true');
      const midStream = formatViolations([{ where: 'markdown answer, mid-stream, light', violations: await axeViolations(streaming) }]);
      await button(streaming, 'Stop').click();
      const found = [ended, midStream].filter(Boolean).join('\n');
      expect(found, found).toBe('');
    });

    it('error cards: the upstream down (with Retry) and a content policy block', async () => {
      const page = await openChat(fast);
      await picker(page).selectOption('fail-500');
      await send(page, 'Down?');
      await failureOf(page).waitFor();
      await picker(page).selectOption('fail-guardrail');
      await send(page, 'Blocked?');
      await turns(page).nth(1).locator('.failure').waitFor();
      expect(await page.locator('.failure').count()).toBe(2);
      const found = await audit(page, 'error cards');
      expect(found, found).toBe('');
    });

    it('the conversation list with a few chats', async () => {
      const page = await openChat(fast);
      for (const text of ['First chat for the list', 'Second chat for the list', 'Third chat for the list']) {
        await button(page, 'New chat').click();
        await send(page, text);
        await turnEnded(page);
      }
      await expect
        .poll(async () => (await titles(page)).slice(0, 3))
        .toEqual(['Third chat for the list', 'Second chat for the list', 'First chat for the list']);
      const found = await audit(page, 'conversation list');
      expect(found, found).toBe('');
    });
  });
});
