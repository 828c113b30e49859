/**
 * Test servers on port 0: the mock upstream and the service, each registered for disposal after
 * the file's tests, and the service's log lines captured so that tests can search them.
 */
import { type AddressInfo, createServer } from 'node:net';
import { Writable } from 'node:stream';

import { afterAll } from 'vitest';

import { type App, buildApp, type BuildAppOptions } from '../../src/app.js';
import { type Config, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { type MockUpstream, type MockUpstreamOptions, startMockUpstream } from '../../src/mock-upstream/server.js';

const disposers: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  await Promise.allSettled(
    disposers
      .splice(0)
      .reverse()
      .map((dispose) => dispose()),
  );
});

/** Runs after this file's tests, in reverse order of registration. */
export function dispose(callback: () => Promise<unknown>): void {
  disposers.push(callback);
}

export async function startMock(options: MockUpstreamOptions = {}): Promise<MockUpstream> {
  const mock = await startMockUpstream({ wordDelayMs: 0, ...options });
  dispose(() => mock.close());
  return mock;
}

export interface TestService {
  app: App;
  url: string;
  httpUrl: string;
  wsUrl: string;
  config: Config;
  /** Set when METRICS_PORT puts /metrics on a listener of its own. */
  metricsUrl?: string;
  /** Every log line the service wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** Every log line as written, for searches for secrets. */
  rawLogs: string[];
}

/**
 * Starts the service against `mock` (or the given env's upstream), with `env` on top of a test
 * default environment. Throws on configuration problems.
 */
export async function startService(
  mock: MockUpstream | null,
  env: Record<string, string> = {},
  options: BuildAppOptions = {},
): Promise<TestService> {
  const result = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    OPENAI_API_KEY: 'sk-test-upstream-key-0123456789',
    UPSTREAM_MAX_RETRIES: '2',
    // Off unless a test turns it on: one service serves many failing cases in a row, and an open
    // breaker would answer the later ones in place of the upstream (test/e2e/faults.e2e.ts tests it).
    UPSTREAM_BREAKER_THRESHOLD: '0',
    LOG_LEVEL: 'debug',
    ...(mock ? { OPENAI_BASE_URL: mock.url } : {}),
    ...env,
  });
  if (!result.ok) throw new Error(`test configuration: ${result.problems.join('; ')}`);
  const rawLogs: string[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        rawLogs.push(line);
        logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const app = buildApp(result.config, createLogger(result.config.logLevel, sink), options);
  const { url, metricsUrl } = await app.start();
  dispose(() => app.stop(0));
  return {
    app,
    url,
    httpUrl: `${url}/graphql`,
    wsUrl: `${url.replace(/^http/, 'ws')}/graphql`,
    config: result.config,
    ...(metricsUrl ? { metricsUrl } : {}),
    logs,
    rawLogs,
  };
}

/** A loopback port with nothing listening on it (bound, then released): a refused connection. */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves when `predicate` holds, polling; rejects after `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
