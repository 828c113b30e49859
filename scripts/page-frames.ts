/**
 * `npm run bench:page`: how smoothly the chat page renders a long markdown answer while it
 * streams, in Debian's Chromium (the browser tests' harness). The embedded mock's
 * `chatql-mock-markdown` streams about 2,000 tokens (headings, a table, code blocks) at a token
 * every PACE_MS; the page records every animation frame's time and every long task (over 50 ms)
 * while it streams, and Chromium's own counters say how much main-thread time scripts, style and
 * layout took. Prints one JSON object; docs/performance.md records a run.
 *
 *   npm run bench:page             # a token every 5 ms (200 tokens/s, a fast model)
 *   PACE_MS=1 npm run bench:page   # a burst
 */
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { startMockUpstream } from '../src/mock-upstream/server.js';
import buildPage from '../test/browser/build-page.js';
import { browserMissing, launchBrowser } from '../test/browser/harness.js';

const PACE_MS = Number(process.env.PACE_MS ?? 5);
const RUNS = Number(process.env.RUNS ?? 3);

interface Sample {
  tokens: number;
  streamMs: number;
  frames: number[];
  longTasks: number[];
  scriptMs: number;
  layoutMs: number;
  styleMs: number;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

async function main(): Promise<void> {
  if (browserMissing) throw new Error(browserMissing);
  buildPage();
  const mock = await startMockUpstream({ wordDelayMs: PACE_MS });
  const loaded = loadConfig({ PORT: '0', OPENAI_BASE_URL: mock.url, LOG_LEVEL: 'warn', UPSTREAM_PRICES: 'litellm' });
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  const app = buildApp(loaded.config, createLogger('warn'));
  const { url } = await app.start();
  const browser = await launchBrowser();
  const samples: Sample[] = [];
  try {
    for (let run = 0; run < RUNS; run++) {
      const page = await browser.newPage({ width: 1280, height: 800 });
      await page.addInitScript(() => localStorage.removeItem('chatql.conversation'));
      await page.goto(`${url}/chat`);
      await page.locator('#model:enabled').waitFor();
      await page.getByLabel('Model', { exact: true }).selectOption('chatql-mock-markdown');
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Performance.enable');
      const metric = async (name: string) =>
        ((await cdp.send('Performance.getMetrics')).metrics.find((entry) => entry.name === name)?.value ?? 0) * 1000;
      const before = {
        script: await metric('ScriptDuration'),
        layout: await metric('LayoutDuration'),
        style: await metric('RecalcStyleDuration'),
      };
      await page.evaluate(`(() => {
        const frames = [];
        const longTasks = [];
        window.__frames = frames;
        window.__longTasks = longTasks;
        new PerformanceObserver((list) => { for (const entry of list.getEntries()) longTasks.push(entry.duration); })
          .observe({ type: 'longtask' });
        let last = performance.now();
        const tick = (now) => { frames.push(now - last); last = now; if (!window.__stop) requestAnimationFrame(tick); };
        requestAnimationFrame(tick);
      })()`);
      const started = performance.now();
      const prompt = page.getByRole('textbox', { name: 'Message', exact: true });
      await prompt.fill('Show me what markdown looks like');
      await prompt.press('Enter');
      await page.locator('.turn .message.assistant:not(.streaming)').waitFor({ timeout: 120_000 });
      const streamMs = performance.now() - started;
      await page.evaluate('window.__stop = true');
      const frames = (await page.evaluate('window.__frames')) as number[];
      const longTasks = (await page.evaluate('window.__longTasks')) as number[];
      const status = (await page.locator('.turn-status').textContent()) ?? '';
      const tokens = Number(/\+ ([\d,]+) completion/.exec(status)?.[1]?.replaceAll(',', '') ?? 0);
      samples.push({
        tokens,
        streamMs,
        frames: frames.slice(1),
        longTasks,
        scriptMs: (await metric('ScriptDuration')) - before.script,
        layoutMs: (await metric('LayoutDuration')) - before.layout,
        styleMs: (await metric('RecalcStyleDuration')) - before.style,
      });
      await page.close();
    }
  } finally {
    await browser.close();
    await app.stop(0);
    await mock.close();
  }
  const frames = samples.flatMap((sample) => sample.frames);
  const per = (pick: (sample: Sample) => number) => round(samples.reduce((sum, sample) => sum + pick(sample), 0) / samples.length);
  console.log(
    JSON.stringify(
      {
        model: 'chatql-mock-markdown',
        paceMs: PACE_MS,
        runs: samples.length,
        completionTokens: samples[0]?.tokens ?? 0,
        streamMs: per((sample) => sample.streamMs),
        frameMs: {
          p50: round(quantile(frames, 0.5)),
          p95: round(quantile(frames, 0.95)),
          p99: round(quantile(frames, 0.99)),
          max: round(Math.max(...frames)),
        },
        framesOver50ms: frames.filter((frame) => frame > 50).length,
        longTasksPerRun: per((sample) => sample.longTasks.length),
        longestTaskMs: round(Math.max(0, ...samples.flatMap((sample) => sample.longTasks))),
        mainThreadPerRunMs: {
          script: per((sample) => sample.scriptMs),
          style: per((sample) => sample.styleMs),
          layout: per((sample) => sample.layoutMs),
        },
        scriptMsPerToken: round(per((sample) => sample.scriptMs) / Math.max(1, samples[0]?.tokens ?? 1), 3),
      },
      null,
      2,
    ),
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
