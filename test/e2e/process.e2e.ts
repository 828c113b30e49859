/**
 * The real process, as `npm start` runs it: configuration checked at start-up, the embedded mock
 * upstream when nothing is configured, and an orderly exit on SIGTERM.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { createWsClient, postGraphQL, subscribeWs } from '../utils/clients.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription } from '../utils/operations.js';
import { ready, run } from '../utils/process.js';
import { until } from '../utils/servers.js';

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

  it('prints JSON lines by default, readable lines with LOG_FORMAT=pretty, and exports no traces unless asked', async () => {
    const json = run({ PORT: '0', LOG_LEVEL: 'info' });
    await ready(json);
    const jsonLines = json.output().trim().split('\n');
    expect(
      jsonLines.every((line) => (JSON.parse(line) as { level?: unknown }).level !== undefined),
      json.output(),
    ).toBe(true);
    expect(json.output()).not.toContain('exporting traces');
    json.child.kill('SIGTERM');
    expect((await json.exit).code).toBe(0);

    const pretty = run({ PORT: '0', LOG_LEVEL: 'info', LOG_FORMAT: 'pretty' });
    await ready(pretty);
    const prettyLines = pretty.output().trim().split('\n');
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
    expect(running.output()).toContain('embedded mock upstream');
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
