/**
 * WORKERS=2: the service as `npm start` runs it (src/server.ts through tsx, see test/utils/process.ts),
 * a node:cluster primary and two workers on one port, driven by real clients, each request on a
 * connection of its own so that the primary's round robin spreads them over the workers. Which
 * worker served is read from the operation log lines' `worker` field. Both workers serve; one
 * client's limits hold across them with no Redis (the primary counts) and through a real
 * redis-server; /metrics adds the workers up; a killed worker is restarted while the other serves,
 * and its connections are given back; SIGHUP reloads the keys in every worker; a resumable stream
 * is refused without Redis; SIGTERM drains and exits 0.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';

import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createWatchedWsClient, createWsClient, subscribeWs } from '../utils/clients.js';
import { sha256Hex, writeKeysFile } from '../utils/keys.js';
import { sample } from '../utils/metrics.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription, ViewerQuery } from '../utils/operations.js';
import { ready, run, type Running } from '../utils/process.js';
import { REDIS_SERVER, REDIS_SKIP_REASON, startRedis } from '../utils/redis.js';
import { subscribeResumableWs } from '../utils/resume.js';
import { refusedPort, type TestService, until } from '../utils/servers.js';

const keyOf = (id: string) => `ck-${id}-worker-secret-0123456789`;
const bearer = (id: string) => `Bearer ${keyOf(id)}`;
const entry = (id: string, limits?: Record<string, unknown>) => ({ id, keySha256: sha256Hex(keyOf(id)), ...(limits ? { limits } : {}) });

/** Two tsx workers and a primary on a shared 2-core machine: start-up is seconds, not milliseconds. */
const START_MS = 45_000;

type LogLine = Record<string, unknown> & { msg?: string; worker?: number };

interface Cluster {
  running: Running;
  service: TestService;
  /** The primary's pid. */
  pid: number;
  /** Every JSON log line so far, the primary's and the workers' (they share stdout). */
  lines(): LogLine[];
}

async function startCluster(env: Record<string, string>): Promise<Cluster> {
  // The workers share the port the primary binds for them: a free one, chosen here.
  const port = await refusedPort();
  const running = run({ WORKERS: '2', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env });
  await until(
    () => running.output().includes('ChatQL ready (2 workers)') || running.child.exitCode !== null,
    START_MS,
    'the cluster to start',
  );
  const service = await ready(running);
  const lines = () =>
    running
      .output()
      .split('\n')
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as LogLine];
        } catch {
          return [];
        }
      });
  return { running, service, pid: running.child.pid!, lines };
}

/** One HTTP exchange on a connection of its own (no keep-alive), so that the primary hands it to the next worker. */
function exchange(
  url: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', agent: false, headers: init.headers ?? {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

async function graphql(service: TestService, query: string, variables: Record<string, unknown>, client: string) {
  const body = JSON.stringify({ query, variables });
  const { text } = await exchange(service.httpUrl, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: bearer(client) },
  });
  return JSON.parse(text) as { data?: Record<string, Record<string, unknown>>; errors?: unknown };
}

/** A chat completion of `client`'s: the union member it ended with. */
async function ask(service: TestService, client: string, model = 'chatql-mock'): Promise<string> {
  const result = await graphql(
    service,
    print(ChatCompletionMutation),
    { input: { model, messages: [{ user: { content: `hello from ${client}` } }] } },
    client,
  );
  return (result.data?.chatCompletion?.__typename as string | undefined) ?? `errors: ${JSON.stringify(result.errors)}`;
}

const operations = (cluster: Cluster, client: string) =>
  cluster.lines().filter((line) => line.msg === 'operation' && line.clientId === client);

/** The pids of the primary's children: its workers. */
function workerPids(cluster: Cluster): number[] {
  return readFileSync(`/proc/${cluster.pid}/task/${cluster.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

async function readiness(cluster: Cluster): Promise<{ workers?: { ready: number; expected: number }; limits: { store: string } }> {
  return JSON.parse((await exchange(`${cluster.service.url}/readyz`)).text) as {
    workers?: { ready: number; expected: number };
    limits: { store: string };
  };
}

const COMPLETIONS = 'chatql_operations_total{operation="chatCompletion",outcome="ChatCompletion"}';

describe('WORKERS=2 without Redis: the primary counts for the workers', () => {
  let cluster: Cluster;
  let keysFile: string;
  const LIMIT = 5;

  beforeAll(async () => {
    keysFile = writeKeysFile([entry('open'), entry('limited', { requestsPerMinute: LIMIT, maxConnections: 2 })]);
    // No upstream configured: the primary runs the embedded mock upstream for both workers.
    cluster = await startCluster({ AUTH_MODE: 'api-key', CLIENT_KEYS_FILE: keysFile, SHUTDOWN_GRACE_MS: '3000' });
  }, START_MS + 5000);

  afterAll(() => {
    if (cluster?.running.child.exitCode === null) cluster.running.child.kill('SIGKILL');
  });

  it('serves from both workers, after one "ready" line for the whole', async () => {
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => ask(cluster.service, 'open')));
    expect(outcomes).toEqual(Array(8).fill('ChatCompletion'));
    await until(() => operations(cluster, 'open').length === 8, 5000, 'the operation lines');
    const workers = new Set(operations(cluster, 'open').map((line) => line.worker));
    expect([...workers].sort(), 'the workers that served').toEqual([1, 2]);
    const readyLines = cluster.lines().filter((line) => line.msg?.startsWith('ChatQL ready'));
    expect(readyLines).toHaveLength(1);
    expect(readyLines[0]).toMatchObject({ workers: 2, upstream: 'embedded mock' });
    expect(readyLines[0]!.worker, 'the primary logs it').toBeUndefined();
    // Said once, by the primary, after the "ready" line.
    const warnings = cluster.lines().filter((line) => line.msg?.includes('resumable streams') && line.msg.includes('REDIS_URL'));
    expect(warnings).toHaveLength(1);
    expect(await readiness(cluster)).toMatchObject({ workers: { ready: 2, expected: 2 }, limits: { store: 'cluster' } });
  });

  it(`holds a client to ${LIMIT} requests a minute across both workers (${LIMIT + 1} requests on new connections)`, async () => {
    const outcomes = await Promise.all(Array.from({ length: LIMIT + 1 }, () => ask(cluster.service, 'limited')));
    expect(outcomes.filter((outcome) => outcome === 'ChatCompletion')).toHaveLength(LIMIT);
    expect(outcomes.filter((outcome) => outcome === 'RateLimitError')).toHaveLength(1);
    await until(() => operations(cluster, 'limited').length === LIMIT + 1, 5000, 'the operation lines');
    expect(new Set(operations(cluster, 'limited').map((line) => line.worker)).size, 'both workers counted').toBe(2);
    // `viewer` reads the same count (RateLimiterCluster's get) from either worker.
    for (let i = 0; i < 2; i++) {
      const viewer = (await graphql(cluster.service, print(ViewerQuery), {}, 'limited')).data?.viewer as {
        limits: { requestsPerMinute: { limit: number; remaining: number } };
      };
      expect(viewer.limits.requestsPerMinute).toMatchObject({ limit: LIMIT, remaining: 0 });
    }
  });

  it('serves /metrics as the sum of every worker, from whichever worker is asked', async () => {
    const completions = cluster.lines().filter((line) => line.msg === 'operation' && line.outcome === 'ChatCompletion').length;
    expect(completions).toBe(8 + LIMIT);
    for (let i = 0; i < 2; i++) {
      const { status, text } = await exchange(`${cluster.service.url}/metrics`);
      expect(status).toBe(200);
      expect(sample(text, COMPLETIONS)).toBe(completions);
      expect(sample(text, 'chatql_limit_refusals_total{limit="requestsPerMinute"}')).toBe(1);
      expect(sample(text, 'chatql_active_operations')).toBe(0);
      // A process-wide value has no meaning summed: left out.
      expect(text).not.toContain('chatql_process_start_time_seconds');
    }
  });

  it("counts graphql-ws connections across workers, and gives a killed worker's back; restarts that worker while the other serves", async () => {
    const connect = async (client: string) => {
      const watched = createWatchedWsClient(cluster.service, { authorization: bearer(client) }, { lazy: false });
      const outcome = await Promise.race([watched.nextAck().then(() => 'ack' as const), watched.nextClose()]);
      return { watched, outcome };
    };
    const open = [await connect('limited'), await connect('limited')];
    expect(open.map((connection) => connection.outcome)).toEqual(['ack', 'ack']);
    expect((await connect('limited')).outcome).toEqual({ code: 4429, reason: 'Too many connections: at most 2 at once for this client' });
    expect(sample((await exchange(`${cluster.service.url}/metrics`)).text, 'chatql_websocket_connections')).toBe(2);

    // Which worker holds each connection: a mutation over it (refused, the minute's requests being
    // spent) logs its worker. The "ready" line names each worker's pid.
    const holders: number[] = [];
    for (const connection of open) {
      const seen = operations(cluster, 'limited').length;
      await subscribeWs(connection.watched.client, ChatCompletionMutation, {
        input: { model: 'chatql-mock', messages: [{ user: { content: 'which worker?' } }] },
      }).done;
      await until(() => operations(cluster, 'limited').length === seen + 1, 5000, 'the operation line');
      holders.push(operations(cluster, 'limited').at(-1)!.worker!);
    }
    const pids = cluster.lines().find((line) => line.msg?.startsWith('ChatQL ready'))!.pids as Record<string, number>;
    expect(Object.values(pids).sort()).toEqual(workerPids(cluster).sort());
    const victim = pids[String(holders[0])]!;
    const before = new Set(operations(cluster, 'open').map((line) => line.worker));
    process.kill(victim, 'SIGKILL');
    await until(
      () => cluster.lines().some((line) => line.msg?.includes('exited unexpectedly') && line.pid === victim),
      10_000,
      'the primary to see the worker die',
    );
    const died = cluster.lines().find((line) => line.msg?.includes('exited unexpectedly'))!;
    expect(died).toMatchObject({ pid: victim, signal: 'SIGKILL', restartInMs: 1000 });
    expect(died.msg).toMatch(/restarting it in 1000 ms/);

    // The other worker serves meanwhile.
    expect(await Promise.all(Array.from({ length: 4 }, () => ask(cluster.service, 'open')))).toEqual(Array(4).fill('ChatCompletion'));
    // The dead worker's connections were given back at once: as many new ones as were lost, and no more.
    const lost = holders.filter((holder) => holder === holders[0]).length;
    await until(() => open.filter((connection) => connection.watched.closes.length > 0).length === lost, 5000, 'the lost connections');
    for (let i = 0; i < lost; i++) expect((await connect('limited')).outcome).toBe('ack');
    expect((await connect('limited')).outcome).toMatchObject({ code: 4429 });

    await until(() => cluster.lines().some((line) => line.msg === 'worker restarted'), 15_000, 'the restart');
    const deadline = performance.now() + 20_000;
    while ((await readiness(cluster)).workers?.ready !== 2) {
      if (performance.now() > deadline) throw new Error('the restarted worker did not come back');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(workerPids(cluster)).not.toContain(victim);
    // The new worker (a new id) takes its share.
    const seen = operations(cluster, 'open').length;
    expect(await Promise.all(Array.from({ length: 6 }, () => ask(cluster.service, 'open')))).toEqual(Array(6).fill('ChatCompletion'));
    await until(() => operations(cluster, 'open').length === seen + 6, 5000, 'the operation lines');
    const after = new Set(
      operations(cluster, 'open')
        .slice(seen)
        .map((line) => line.worker),
    );
    expect(
      [...after].some((worker) => !before.has(worker)),
      `workers after the restart: ${[...after]}`,
    ).toBe(true);
    for (const connection of open) await connection.watched.client.dispose();
  }, 60_000);

  it('reloads CLIENT_KEYS_FILE in every worker on SIGHUP to the primary', async () => {
    expect(await ask(cluster.service, 'late')).toBe('AuthenticationError');
    const file = JSON.parse(readFileSync(keysFile, 'utf8')) as { clients: unknown[] };
    writeFileSync(keysFile, JSON.stringify({ clients: [...file.clients, entry('late')] }));
    const mark = cluster.lines().length;
    process.kill(cluster.pid, 'SIGHUP');
    await until(
      () => cluster.lines().filter((line, index) => index >= mark && line.msg === 'CLIENT_KEYS_FILE reloaded').length === 2,
      10_000,
      'both workers to reload',
    );
    const reloaded = cluster.lines().filter((line, index) => index >= mark && line.msg === 'CLIENT_KEYS_FILE reloaded');
    expect(new Set(reloaded.map((line) => line.worker)).size).toBe(2);
    expect(await Promise.all(Array.from({ length: 6 }, () => ask(cluster.service, 'late')))).toEqual(Array(6).fill('ChatCompletion'));
    // (The refusal's line has no client id: authentication failed.)
    await until(() => operations(cluster, 'late').length === 6, 5000, 'the operation lines');
    expect(new Set(operations(cluster, 'late').map((line) => line.worker)).size, 'both workers know the key').toBe(2);
  });

  it('refuses a resumable stream: resume needs REDIS_URL with several workers', async () => {
    const subscriber = subscribeResumableWs(
      cluster.service,
      { model: 'chatql-mock', messages: [{ user: { content: 'resume me' } }] },
      { key: randomUUID() },
      { auth: bearer('open') },
    );
    await subscriber.ended;
    expect(subscriber.events).toHaveLength(1);
    expect(subscriber.events[0]).toMatchObject({
      __typename: 'InvalidRequestError',
      param: 'resume',
      message: expect.stringMatching(/Resumable streams need REDIS_URL when WORKERS is above 1/),
    });
  });

  it('drains every worker on SIGTERM and exits 0 within SHUTDOWN_GRACE_MS', async () => {
    const client = createWsClient(cluster.service, { authorization: bearer('open') });
    const stream = subscribeWs(client, ChatCompletionStreamSubscription, {
      input: { model: 'chatql-mock-long', messages: [{ user: { content: 'a long one, please' } }] },
    });
    await stream.waitForEvents(1);
    const mark = cluster.lines().length;
    cluster.running.child.kill('SIGTERM');
    const { code, ms } = await cluster.running.exit;
    await stream.done.catch(() => undefined);
    expect(code).toBe(0);
    expect(ms, 'the whole stop').toBeLessThan(3000 + 4000);
    // The stream ended with a terminal event, whole or "shutting down", never cut.
    const last = stream.events.at(-1)?.chatCompletionStream.__typename;
    expect(['ChatCompletion', 'UpstreamUnavailableError']).toContain(last);
    // The last lines may reach the pipe after the exit.
    // The primary's own "stopped" (its lines carry no `worker`), after both workers' exits.
    const primaryStopped = () =>
      cluster
        .lines()
        .slice(mark)
        .findIndex((line) => line.msg === 'stopped' && line.worker === undefined);
    await until(() => primaryStopped() >= 0, 5000, "the primary's last line");
    const after = cluster.lines().slice(mark);
    const exits = after.flatMap((line, index) => (line.msg === 'worker stopped' ? [{ code: line.code, index }] : []));
    expect(exits.map(({ code }) => code)).toEqual([0, 0]);
    expect(exits.every(({ index }) => index < primaryStopped())).toBe(true);
    expect(after.some((line) => line.msg?.includes('restarting'))).toBe(false);
  }, 20_000);
});

describe.skipIf(!REDIS_SERVER)(
  `WORKERS=2 with REDIS_URL: the workers count in Redis${REDIS_SERVER ? '' : ` (skipped: ${REDIS_SKIP_REASON})`}`,
  () => {
    let cluster: Cluster;
    let metricsPort: number;
    const LIMIT = 4;

    beforeAll(async () => {
      const redis = await startRedis();
      metricsPort = await refusedPort();
      cluster = await startCluster({
        AUTH_MODE: 'api-key',
        CLIENT_KEYS_FILE: writeKeysFile([entry('open'), entry('limited', { requestsPerMinute: LIMIT })]),
        REDIS_URL: redis.url,
        METRICS_PORT: String(metricsPort),
      });
      await until(
        () => cluster.lines().filter((line) => line.msg?.startsWith('redis connected')).length === 2,
        10_000,
        'both workers to connect to redis',
      );
    }, START_MS + 15_000);

    afterAll(() => {
      if (cluster?.running.child.exitCode === null) cluster.running.child.kill('SIGKILL');
    });

    it(`holds a client to ${LIMIT} requests a minute across both workers`, async () => {
      const outcomes = await Promise.all(Array.from({ length: LIMIT + 1 }, () => ask(cluster.service, 'limited')));
      expect(outcomes.filter((outcome) => outcome === 'ChatCompletion')).toHaveLength(LIMIT);
      expect(outcomes.filter((outcome) => outcome === 'RateLimitError')).toHaveLength(1);
      await until(() => operations(cluster, 'limited').length === LIMIT + 1, 5000, 'the operation lines');
      expect(new Set(operations(cluster, 'limited').map((line) => line.worker)).size, 'both workers counted').toBe(2);
      expect(await readiness(cluster)).toMatchObject({ workers: { ready: 2, expected: 2 }, limits: { store: 'redis' } });
      expect(cluster.lines().some((line) => line.msg?.includes('resumable streams are refused'))).toBe(false);
    });

    it('serves /metrics from the primary on METRICS_PORT, not on the main port', async () => {
      const { status, text } = await exchange(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(status).toBe(200);
      expect(sample(text, COMPLETIONS)).toBe(LIMIT);
      expect((await exchange(`${cluster.service.url}/metrics`)).status).toBe(404);
    });

    it('keeps resumable streams, which Redis shares', async () => {
      const subscriber = subscribeResumableWs(
        cluster.service,
        { model: 'chatql-mock', messages: [{ user: { content: 'resume me' } }] },
        { key: randomUUID() },
        { auth: bearer('open') },
      );
      await subscriber.ended;
      expect(subscriber.events.at(-1)?.__typename).toBe('ChatCompletion');
    });
  },
);
