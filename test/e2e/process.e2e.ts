/**
 * The real process, as `npm start` runs it: configuration checked at start-up, the embedded mock
 * upstream when nothing is configured, and an orderly exit on SIGTERM.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { createWsClient, postGraphQL, subscribeWs } from '../utils/clients.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription } from '../utils/operations.js';
import { ready, run } from '../utils/process.js';
import { refusedPort, startMock, until } from '../utils/servers.js';

/** util-linux's script(1), which runs a command on a pseudo-terminal; null where it is missing. */
const SCRIPT = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v script'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
})();

describe('start-up configuration', () => {
  it('reports every configuration problem, one line each, and exits 1', async () => {
    const running = run({ PORT: 'abc', UPSTREAM_TIMEOUT_MS: '0', OPENAI_BASE_URL: 'localhost:4000', LOG_LEVEL: 'loud' });
    const { code } = await running.exit;
    expect(code).toBe(1);
    const lines = running.output().trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines.find((line) => line.includes('PORT'))).toContain('"abc"');
    expect(lines.some((line) => line.includes('UPSTREAM_TIMEOUT_MS'))).toBe(true);
    expect(lines.some((line) => line.includes('OPENAI_BASE_URL'))).toBe(true);
    expect(lines.some((line) => line.includes('LOG_LEVEL'))).toBe(true);
  });

  it('refuses to start in production without an upstream', async () => {
    const running = run({ NODE_ENV: 'production', PORT: '0' });
    expect((await running.exit).code).toBe(1);
    expect(running.output()).toContain('no upstream configured');
  });

  it('refuses to start in production on every interface without ALLOWED_HOSTS, saying why', async () => {
    const running = run({
      NODE_ENV: 'production',
      PORT: '0',
      HOST: '0.0.0.0',
      AUTH_MODE: 'none',
      OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    });
    expect((await running.exit).code).toBe(1);
    expect(running.output()).toMatch(/chatql: configuration error: ALLOWED_HOSTS is not set: with NODE_ENV=production and HOST=0\.0\.0\.0/);
  });

  it('never prints the upstream key', async () => {
    const running = run({ PORT: 'not-a-port', OPENAI_API_KEY: 'sk-live-secret-9876543210', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' });
    expect((await running.exit).code).toBe(1);
    expect(running.output()).not.toContain('sk-live-secret');
  });

  it('prints JSON lines by default when stdout is not a terminal, readable lines with LOG_FORMAT=pretty, and exports no traces unless asked', async () => {
    const json = run({ PORT: '0', LOG_LEVEL: 'info' });
    await ready(json);
    // Whole lines only: the ready line may be read while the next one is still being written.
    const jsonLines = json.output().slice(0, json.output().lastIndexOf('\n')).trim().split('\n');
    expect(
      jsonLines.every((line) => (JSON.parse(line) as { level?: unknown }).level !== undefined),
      json.output(),
    ).toBe(true);
    expect(json.output()).not.toContain('exporting traces');
    json.child.kill('SIGTERM');
    expect((await json.exit).code).toBe(0);

    const pretty = run({ PORT: '0', LOG_LEVEL: 'info', LOG_FORMAT: 'pretty' });
    await ready(pretty);
    const prettyLines = pretty.output().slice(0, pretty.output().lastIndexOf('\n')).trim().split('\n');
    expect(
      prettyLines.some((line) => line.startsWith('{')),
      pretty.output(),
    ).toBe(false);
    expect(pretty.output()).toMatch(/INFO.*ChatQL ready/);
    pretty.child.kill('SIGTERM');
    expect((await pretty.exit).code).toBe(0);
  });

  it('reads CLIENT_KEYS_FILE again on SIGHUP, and keeps running', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'chatql-sighup-')), 'clients.json');
    const entry = (id: string) => ({ id, keySha256: createHash('sha256').update(`ck-${id}`).digest('hex') });
    writeFileSync(path, JSON.stringify({ clients: [entry('one')] }));
    const running = run({ PORT: '0', AUTH_MODE: 'api-key', CLIENT_KEYS_FILE: path, LOG_LEVEL: 'info' });
    await ready(running);
    writeFileSync(path, JSON.stringify({ clients: [entry('one'), entry('two')] }));
    running.child.kill('SIGHUP');
    await until(() => running.output().includes('CLIENT_KEYS_FILE reloaded'), 5000, 'the reload log line');
    expect(running.output()).toMatch(/"clients":2,"closedConnections":0,"msg":"CLIENT_KEYS_FILE reloaded"/);
    expect(running.child.exitCode).toBeNull();
    running.child.kill('SIGTERM');
    expect((await running.exit).code).toBe(0);
  });
});

describe('npm start with nothing configured', () => {
  it('serves the embedded mock upstream, says so, and stops on SIGTERM with exit code 0', async () => {
    const running = run({ PORT: '0' });
    const service = await ready(running);
    expect(running.output()).toContain('upstream: the embedded mock (set OPENAI_BASE_URL and OPENAI_API_KEY to use a real one)');
    const { body } = await postGraphQL(service, ChatCompletionMutation, {
      input: { model: 'chatql-mock', messages: [{ user: { content: 'hello' } }] },
    });
    expect(body.data?.chatCompletion.__typename).toBe('ChatCompletion');

    // A stream in flight when SIGTERM arrives still gets its whole answer within the grace period.
    const stream = subscribeWs(createWsClient(service), ChatCompletionStreamSubscription, {
      input: { model: 'chatql-mock', messages: [{ user: { content: 'a long answer please' } }] },
    });
    await stream.waitForEvents(3);
    running.child.kill('SIGTERM');
    await stream.done;
    const last = stream.events.at(-1)?.chatCompletionStream;
    expect(last?.__typename).toBe('ChatCompletion');
    const { code, ms } = await running.exit;
    expect(code).toBe(0);
    // The default grace is 10 s; the mock's answer takes about 3 s.
    expect(ms).toBeLessThan(10_000);
    expect(running.output()).toContain('"msg":"stopped"');
  });

  it('ends what still runs when the grace period is over, with a retryable error, and exits 0', async () => {
    const running = run({ PORT: '0', SHUTDOWN_GRACE_MS: '300' });
    const service = await ready(running);
    const stream = subscribeWs(createWsClient(service), ChatCompletionStreamSubscription, {
      input: { model: 'fail-stall', messages: [{ user: { content: 'hello' } }] },
    });
    await stream.waitForEvents(2);
    running.child.kill('SIGTERM');
    await stream.done;
    const last = stream.events.at(-1)?.chatCompletionStream;
    expect(last).toMatchObject({ __typename: 'UpstreamUnavailableError', retryable: true });
    const { code, ms } = await running.exit;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5_000);
  });
});

describe('a start-up that explains itself', () => {
  const lines = (output: string) => output.trim().split('\n').filter(Boolean);

  it('logs the "ready" line, with its URLs, first', async () => {
    const running = run({ PORT: '0', LOG_LEVEL: 'info', LOG_FORMAT: 'json' });
    await ready(running);
    const first = JSON.parse(lines(running.output())[0]!) as { msg: string; url: string; chat: string };
    expect(first.msg).toMatch(
      /^ChatQL ready: chat at http:\/\/127\.0\.0\.1:\d+\/chat, GraphQL and GraphiQL at .*\/graphql; upstream: the embedded mock/,
    );
    expect(first.url).toMatch(/\/graphql$/);
    running.child.kill('SIGTERM');
    expect((await running.exit).code).toBe(0);
  });

  it('an OPENAI_BASE_URL without /v1: one line asking whether it ends with /v1', async () => {
    const mock = await startMock();
    const base = mock.url.replace(/\/v1$/, '');
    const running = run({ PORT: '0', OPENAI_BASE_URL: base, OPENAI_API_KEY: 'sk-test', LOG_FORMAT: 'json', UPSTREAM_MAX_RETRIES: '0' });
    await until(() => running.output().includes('answered 404'), 10_000, 'the 404 hint');
    const hint = lines(running.output())
      .map((line) => JSON.parse(line) as { msg: string; level: number })
      .find((line) => line.msg.includes('answered 404'));
    expect(hint).toMatchObject({ level: 40, msg: `GET ${base}/models answered 404: does OPENAI_BASE_URL end with /v1?` });
    running.child.kill('SIGTERM');
    await running.exit;
  });

  it.each([
    [
      'a refused connection',
      async () => `http://127.0.0.1:${await refusedPort()}/v1`,
      (url: string) => `ECONNREFUSED 127.0.0.1:${new URL(url).port}`,
    ],
    ['a DNS failure', async () => 'http://chatql-upstream.invalid/v1', () => 'ENOTFOUND chatql-upstream.invalid'],
  ])('an unreachable upstream (%s): the log line names the cause and the host, without the key', async (_label, url, cause) => {
    const baseURL = await url();
    const running = run({
      PORT: '0',
      OPENAI_BASE_URL: baseURL,
      OPENAI_API_KEY: 'sk-secret-startup-key-0123',
      LOG_FORMAT: 'json',
      UPSTREAM_MAX_RETRIES: '0',
    });
    await until(() => running.output().includes('"upstream call failed"'), 10_000, 'the failed warm-up');
    const failed = lines(running.output())
      .map((line) => JSON.parse(line) as { msg: string; error?: { network?: string } })
      .find((line) => line.msg === 'upstream call failed');
    expect(failed?.error?.network).toBe(cause(baseURL));
    expect(running.output()).not.toContain('sk-secret-startup-key-0123');
    running.child.kill('SIGTERM');
    await running.exit;
  });

  it('a port already in use: one line naming the port and PORT, exit code 1', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const running = run({ PORT: String(port), LOG_FORMAT: 'json' });
      const { code } = await running.exit;
      expect(code).toBe(1);
      const output = lines(running.output());
      expect(output, running.output()).toHaveLength(1);
      expect(JSON.parse(output[0]!)).toMatchObject({
        level: 60,
        msg: `port ${port} is already in use on 127.0.0.1: set PORT to another port, or stop what listens there`,
      });
    } finally {
      taken.close();
    }
  });

  it.skipIf(!SCRIPT)(
    `readable lines by default in a terminal${SCRIPT ? '' : ' (skipped: script(1) from util-linux is missing)'}`,
    async () => {
      // script(1) gives the child a pseudo-terminal as stdout.
      // `exec`: the service is script's own child, so that the test can stop it (below).
      const child = spawn(SCRIPT!, ['-qfec', `exec ${process.execPath} --import tsx src/server.ts`, '/dev/null'], {
        cwd: new URL('../..', import.meta.url),
        env: { PATH: process.env.PATH ?? '', PORT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (data: Buffer) => (output += data.toString()));
      await until(() => output.includes('ChatQL ready'), 15_000, 'the ready line');
      // SIGTERM to the service itself: stopping script(1) alone would leave it running, since the
      // hangup of its terminal is a SIGHUP, which the service takes as "reload its files".
      const [service] = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
      const exited = once(child, 'exit');
      if (service) process.kill(service, 'SIGTERM');
      else child.kill('SIGTERM');
      await exited;
      expect(output).toMatch(/INFO.*ChatQL ready/);
      expect(output.split('\n').some((line) => line.trimStart().startsWith('{"level"'))).toBe(false);
    },
  );

  it('a second build with nothing changed compiles nothing (npm start restarts in about a second)', async () => {
    const build = () => spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: new URL('../..', import.meta.url), encoding: 'utf8' });
    const first = build();
    expect(first.status, first.stderr).toBe(0);
    const started = performance.now();
    const second = build();
    const ms = performance.now() - started;
    console.log(`[process] an up-to-date build took ${ms.toFixed(0)} ms`);
    expect(second.status).toBe(0);
    expect(second.stdout, 'neither tsc nor vite ran').toBe('');
  });
});
