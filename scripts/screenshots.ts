/**
 * `npm run screenshots`: the README's pictures, taken on the browser tests' harness (Debian's
 * Chromium through playwright-core) against the service and the embedded mock upstream:
 *   docs/chat-streaming.png  the chat page: a tool loop, then a markdown answer half written
 *   docs/graphiql-stream.png GraphiQL, the example subscription streamed to its end
 */
import { mkdirSync } from 'node:fs';

import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startMockUpstream } from '../src/mock-upstream/server.js';
import buildPage from '../test/browser/build-page.js';
import { browserMissing, launchBrowser } from '../test/browser/harness.js';

const docs = new URL('../docs/', import.meta.url);

async function main(): Promise<void> {
  if (browserMissing) throw new Error(browserMissing);
  buildPage();
  mkdirSync(docs, { recursive: true });

  const mock = await startMockUpstream({ wordDelayMs: 40 });
  const loaded = loadConfig({ PORT: '0', OPENAI_BASE_URL: mock.url, LOG_LEVEL: 'warn', UPSTREAM_PRICES: 'litellm' });
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  const app = buildApp(loaded.config, createLogger('warn'));
  const { url } = await app.start();
  const browser = await launchBrowser();
  try {
    const chat = await browser.newPage({ width: 1280, height: 800 });
    await chat.goto(`${url}/chat`);
    await chat.locator('#model:enabled').waitFor();
    const prompt = chat.getByRole('textbox', { name: 'Message', exact: true });

    // The tool loop: the demo get_weather runs and the model's follow-up streams.
    await chat.getByLabel('Offer the model a get_weather tool').check();
    await prompt.fill("What's the weather in Paris?");
    await prompt.press('Enter');
    await chat
      .locator('.turn .message.assistant')
      .nth(1)
      .locator('.turn-status', { hasText: 'finish reason: stop' })
      .waitFor({ timeout: 20_000 });

    // Then a markdown answer, shot half written.
    await chat.getByLabel('Offer the model a get_weather tool').uncheck();
    await chat.getByLabel('Model', { exact: true }).selectOption('chatql-mock-markdown');
    await prompt.fill('And how does ChatQL stream an answer to the browser?');
    await prompt.press('Enter');
    await chat.waitForFunction(() => (document.querySelector('.turn:last-of-type .answer')?.textContent ?? '').split(' ').length >= 120);
    await chat.screenshot({ path: new URL('chat-streaming.png', docs).pathname });
    await chat.getByRole('button', { name: 'Stop', exact: true }).click();

    const graphiql = await browser.newPage({ width: 1280, height: 800 });
    await graphiql.goto(`${url}/graphql`);
    await graphiql.getByRole('button', { name: 'Execute query (Ctrl-Enter)' }).click();
    await graphiql.locator('.graphiql-dropdown-item', { hasText: /^Stream$/ }).click();
    await graphiql.locator('.graphiql-response').getByText('"finishReason": "STOP"').waitFor({ timeout: 20_000 });
    await graphiql.screenshot({ path: new URL('graphiql-stream.png', docs).pathname });

    if (browser.problems.length > 0 || browser.external.length > 0) {
      throw new Error(`the pages misbehaved: ${[...browser.problems, ...browser.external].join('; ')}`);
    }
    console.log('wrote docs/chat-streaming.png and docs/graphiql-stream.png');
  } finally {
    await browser.close();
    await app.stop(0);
    await mock.close();
  }
}

await main();
