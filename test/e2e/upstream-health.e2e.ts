/**
 * Upstream health as a LiteLLM proxy's clients meet it: one failing model must not touch the
 * others, nothing a client sends may open a breaker or be retried as an upstream outage, an
 * operation that never started leaves nothing behind, and a client's forwarded key goes only to
 * the upstream it belongs to. Real service and mock upstream on port 0, real clients.
 */
import { connect } from 'node:net';

import { createClient } from 'graphql-ws';
import { print } from 'graphql';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import type { MockUpstream } from '../../src/mock-upstream/server.js';
import { createRedactor } from '../../src/redact.js';
import { callWithFailover } from '../../src/upstream/call.js';
import { createUpstreamTargets } from '../../src/upstream/targets.js';
import type { ChatCompletionInput } from '../gql/graphql.js';
import { chatCalls, startWarmService } from '../utils/answers.js';
import { createWsClient, postGraphQL, subscribeSse, subscribeWs } from '../utils/clients.js';
import { writeKeysFile, sha256Hex } from '../utils/keys.js';
import { metric } from '../utils/metrics.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription, ModelsQuery } from '../utils/operations.js';
import { dispose, startMock, type TestService, until } from '../utils/servers.js';

function input(model = 'chatql-mock', content = 'Hello there'): ChatCompletionInput {
  return { model, messages: [{ user: { content } }] };
}

type Transport = 'mutation' | 'graphql-ws' | 'sse';

/** One chat operation as the client holding `key` (none: no credential); resolves with its outcome's fields. */
async function askAs(
  service: TestService,
  transport: Transport,
  chatInput: ChatCompletionInput,
  key?: string,
): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = key === undefined ? {} : { authorization: `Bearer ${key}` };
  if (transport === 'mutation') {
    const { body } = await postGraphQL(service, ChatCompletionMutation, { input: chatInput }, { headers });
    if (!body.data) throw new Error(JSON.stringify(body));
    return body.data.chatCompletion as Record<string, unknown>;
  }
  const subscription =
    transport === 'graphql-ws'
      ? subscribeWs(
          createWsClient(service, key === undefined ? undefined : { authorization: `Bearer ${key}` }),
          ChatCompletionStreamSubscription,
          { input: chatInput },
        )
      : subscribeSse(service, ChatCompletionStreamSubscription, { input: chatInput }, { headers });
  await subscription.done;
  return subscription.events.at(-1)!.chatCompletionStream as Record<string, unknown>;
}

interface Readiness {
  operations: number;
  upstream: {
    breaker: { state: string } | null;
    openBreakers: Array<{ target: string; model: string | null; state: string; until: string }>;
    openBreakerCount: number;
  };
}

async function readiness(service: TestService): Promise<Readiness> {
  return (await (await fetch(`${service.url}/readyz`)).json()) as Readiness;
}

/** The mock's chat requests for `model`. */
const callsFor = (mock: MockUpstream, model: string) =>
  chatCalls(mock).filter((request) => (request.body as { model?: string }).model === model);

// ---------------------------------------------------------------------------------------------

describe('health per model: 12 failures of fail-500 (UPSTREAM_BREAKER_THRESHOLD=5, no retries), two clients', () => {
  const ALICE = 'ck-alice-0123456789abcdef';
  const BOB = 'ck-bob-0123456789abcdefgh';
  let mock: MockUpstream;
  let service: TestService;
  beforeAll(async () => {
    mock = await startMock();
    const file = writeKeysFile([
      { id: 'alice', keySha256: sha256Hex(ALICE) },
      { id: 'bob', keySha256: sha256Hex(BOB) },
    ]);
    service = await startWarmService(mock, {
      AUTH_MODE: 'api-key',
      CLIENT_KEYS_FILE: file,
      UPSTREAM_BREAKER_THRESHOLD: '5',
      UPSTREAM_BREAKER_COOLDOWN_MS: '30000',
      UPSTREAM_MAX_RETRIES: '0',
    });
    mock.reset();
    // Alice's 12 failures, over HTTP and graphql-ws in turn.
    for (let i = 0; i < 12; i++) await askAs(service, i % 2 === 0 ? 'mutation' : 'graphql-ws', input('fail-500'), ALICE);
  });

  it('reached the upstream 5 times: the 7 after the breaker opened were refused at once with retryAfterSeconds', async () => {
    expect(callsFor(mock, 'fail-500')).toHaveLength(5);
    for (const transport of ['mutation', 'graphql-ws', 'sse'] as const) {
      const started = performance.now();
      const refusal = await askAs(service, transport, input('fail-500'), BOB);
      expect(refusal).toMatchObject({ __typename: 'UpstreamUnavailableError', source: 'UPSTREAM', retryable: true, status: null });
      expect(refusal.retryAfterSeconds).toBeGreaterThan(25);
      expect(refusal.retryAfterSeconds).toBeLessThanOrEqual(30);
      expect(performance.now() - started, transport).toBeLessThan(1000);
    }
    expect(callsFor(mock, 'fail-500')).toHaveLength(5);
  });

  it('leaves every other model served at once, for both clients, on every transport', async () => {
    for (const key of [ALICE, BOB]) {
      for (const transport of ['mutation', 'graphql-ws', 'sse'] as const) {
        for (const model of ['chatql-mock', 'chatql-mock-reasoning']) {
          const answer = await askAs(service, transport, input(model), key);
          expect(answer.__typename, `${model} over ${transport}`).toBe('ChatCompletion');
        }
      }
    }
  });

  it('`models` shows fail-500 unavailable until its next probe, and every other model available (null)', async () => {
    const { body } = await postGraphQL(service, ModelsQuery, {}, { headers: { authorization: `Bearer ${BOB}` } });
    const list = body.data?.models;
    if (list?.__typename !== 'ModelList') throw new Error(JSON.stringify(body));
    const failing = list.models.find((model) => model.id === 'fail-500');
    const until = Date.parse(String(failing?.unavailableUntil));
    expect(until - Date.now()).toBeGreaterThan(25_000);
    expect(until - Date.now()).toBeLessThanOrEqual(30_000);
    expect(list.models.filter((model) => model.unavailableUntil !== null).map((model) => model.id)).toEqual(['fail-500']);
  });

  it('/readyz lists the one open breaker; the target stays closed; metrics say the same', async () => {
    const { upstream } = await readiness(service);
    expect(upstream.breaker).toEqual({ state: 'closed' });
    expect(upstream.openBreakers).toEqual([{ target: 'primary', model: 'fail-500', state: 'open', until: expect.any(String) }]);
    expect(await metric(service, 'chatql_upstream_breaker_state{upstream="primary"}')).toBe(0);
    expect(await metric(service, 'chatql_upstream_model_breaker_state{upstream="primary",model="fail-500"}')).toBe(1);
    expect(await metric(service, 'chatql_upstream_model_breaker_state{upstream="primary",model="chatql-mock"}')).toBe(0);
    expect(await metric(service, 'chatql_upstream_breaker_opened_total{upstream="primary",model="fail-500"}')).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('what a client sends never opens a breaker or is retried (UPSTREAM_BREAKER_THRESHOLD=2, UPSTREAM_MAX_RETRIES=2)', () => {
  let mock: MockUpstream;
  let service: TestService;
  beforeAll(async () => {
    mock = await startMock();
    service = await startWarmService(mock, { UPSTREAM_BREAKER_THRESHOLD: '2' });
  });
  afterEach(async () => {
    const { upstream } = await readiness(service);
    expect(upstream.openBreakers, 'no breaker opened').toEqual([]);
    expect(upstream.breaker).toEqual({ state: 'closed' });
  });

  it.each(['x\r\ny', '€', 'a'.repeat(300), 'id with spaces'])(
    'a graphql-ws operation id %j: answered in full, 1 upstream call each, with a header-safe x-request-id',
    async (operationId) => {
      mock.reset();
      const client = createClient({
        url: service.wsUrl,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: true,
        generateID: () => operationId,
      });
      dispose(async () => client.dispose());
      for (let i = 0; i < 3; i++) {
        const events: unknown[] = [];
        await new Promise<void>((resolve, reject) => {
          client.subscribe(
            { query: print(ChatCompletionStreamSubscription), variables: { input: input() } },
            { next: (event) => events.push(event), error: reject, complete: resolve },
          );
        });
        expect(JSON.stringify(events.at(-1))).toContain('"__typename":"ChatCompletion"');
      }
      const calls = chatCalls(mock);
      expect(calls).toHaveLength(3);
      for (const call of calls) {
        const requestId = String(call.headers['x-request-id']);
        expect(requestId).toMatch(/^[\x21-\x7e]{1,200}$/);
        expect(requestId).not.toContain(operationId);
      }
    },
  );

  it('keeps a header-safe graphql-ws operation id in the upstream x-request-id', async () => {
    mock.reset();
    const client = createClient({ url: service.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, generateID: () => 'op-7' });
    dispose(async () => client.dispose());
    await new Promise<void>((resolve, reject) => {
      client.subscribe(
        { query: print(ChatCompletionStreamSubscription), variables: { input: input() } },
        { next: () => undefined, error: reject, complete: resolve },
      );
    });
    expect(String(chatCalls(mock)[0]?.headers['x-request-id'])).toMatch(/:op-7$/);
  });

  it.each(['mutation', 'graphql-ws', 'sse'] as const)(
    'tool parameters nested 20,000 levels deep over %s → InvalidRequestError at input.tools.0.function.parameters, 0 upstream calls',
    async (transport) => {
      mock.reset();
      const answer = await sendDeepTool(service, transport, 20_000);
      expect(answer).toMatchObject({
        __typename: 'InvalidRequestError',
        source: 'SERVICE',
        param: 'input.tools.0.function.parameters',
        code: 'too_deep',
      });
      expect(chatCalls(mock)).toHaveLength(0);
    },
  );

  it('parameters 64 levels deep still go upstream; a response format schema 65 deep is refused', async () => {
    mock.reset();
    let parameters: Record<string, unknown> = { type: 'object' };
    for (let i = 0; i < 63; i++) parameters = { type: 'object', properties: parameters };
    const ok = await askAs(service, 'mutation', { ...input(), tools: [{ function: { name: 'deep', parameters } }] });
    expect(ok.__typename).toBe('ChatCompletion');
    let schema: Record<string, unknown> = {};
    for (let i = 0; i < 64; i++) schema = { a: schema };
    const refused = await askAs(service, 'mutation', {
      ...input(),
      responseFormat: { type: 'JSON_SCHEMA', jsonSchema: { name: 'deep', schema } },
    });
    expect(refused).toMatchObject({ __typename: 'InvalidRequestError', param: 'input.responseFormat.jsonSchema.schema' });
    expect(chatCalls(mock)).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe("the service's own failures on the upstream path", () => {
  it('an exception inside an attempt is logged with its stack and answered as UpstreamUnavailableError (SERVICE, not retryable): 1 attempt, no fallback, no breaker', async () => {
    const primary = await startMock();
    const fallback = await startMock();
    const result = loadConfig({
      OPENAI_BASE_URL: primary.url,
      OPENAI_API_KEY: 'sk-test',
      UPSTREAM_FALLBACKS: `${fallback.url},#chatql-mock`,
      UPSTREAM_BREAKER_THRESHOLD: '1',
    });
    if (!result.ok) throw new Error(result.problems.join('; '));
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) } as never);
    const targets = createUpstreamTargets(result.config.upstream, logger);
    dispose(async () => Promise.all(targets.map((target) => target.close())));
    let attempts = 0;
    const failing = callWithFailover(
      { retry: { maxRetries: 2 }, redact: createRedactor([]), logger },
      'chat.completions',
      new AbortController().signal,
      targets,
      'chatql-mock',
      async () => {
        attempts += 1;
        throw new RangeError('Maximum call stack size exceeded');
      },
    );
    const error = await failing.catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'UpstreamUnavailableError', source: 'SERVICE', retryable: false });
    expect((error as Error).message).not.toMatch(/stack|RangeError/);
    expect(attempts, 'not retried, not sent to a fallback').toBe(1);
    const logged = lines.find((line) => line.msg === 'upstream call failed inside the service');
    expect(logged?.level).toBe(50);
    expect(String(logged?.error)).toMatch(/RangeError: Maximum call stack size exceeded\n\s+at /);
    for (const target of targets) expect(target.health?.openBreakers()).toEqual([]);
    // The breaker (threshold 1) is still closed: the next call goes through.
    const served = await callWithFailover(
      { retry: { maxRetries: 0 }, redact: createRedactor([]), logger },
      'models',
      new AbortController().signal,
      targets,
      'chatql-mock',
      (target) => target.client.models.list(),
    );
    expect(served.target.name).toBe('primary');
    expect(chatCalls(fallback)).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------------

/** A raw graphql-transport-ws socket, acknowledged. */
async function rawSocket(service: TestService): Promise<WebSocket> {
  const socket = new WebSocket(service.wsUrl, 'graphql-transport-ws');
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
    socket.once('error', reject);
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') resolve();
    });
  });
  return socket;
}

function subscribeMessage(id: string): string {
  return JSON.stringify({
    id,
    type: 'subscribe',
    payload: { query: print(ChatCompletionStreamSubscription), variables: { input: input() } },
  });
}

describe('operations that never started leave nothing behind', () => {
  let mock: MockUpstream;
  let service: TestService;
  beforeAll(async () => {
    // Slow words: a stream that did start would still be running when the gauges are read.
    mock = await startMock({ wordDelayMs: 200 });
    service = await startWarmService(mock);
  });

  const operationLines = () => service.logs.filter((line) => line.msg === 'operation').length;

  /** Waits for `count` more operations to have ended (one log line each), then checks that nothing is left. */
  async function expectNothingLeft(before: number, count: number): Promise<void> {
    await until(() => operationLines() >= before + count, 5000, `${count} operations to end`);
    const cancelled = service.logs.filter((line) => line.msg === 'operation').slice(before);
    expect(cancelled.every((line) => line.outcome === 'cancelled' && line.chunks === 0)).toBe(true);
    await until(() => service.app.operations.size === 0, 5000, 'every operation to end');
    await until(() => mock.openRequests() === 0, 5000, 'every upstream request to close');
    expect(await metric(service, 'chatql_active_operations')).toBe(0);
    expect(await metric(service, 'chatql_active_streams')).toBe(0);
    expect((await readiness(service)).operations).toBe(0);
  }

  it('200 subscribe/complete pairs sent back to back on one socket', async () => {
    const socket = await rawSocket(service);
    const before = operationLines();
    for (let i = 0; i < 200; i++) {
      socket.send(subscribeMessage(`op-${i}`));
      socket.send(JSON.stringify({ id: `op-${i}`, type: 'complete' }));
    }
    await expectNothingLeft(before, 200);
    socket.close();
  });

  it('200 sockets closed right after subscribe', async () => {
    const sockets = await Promise.all(Array.from({ length: 200 }, () => rawSocket(service)));
    const before = operationLines();
    for (const socket of sockets) {
      socket.send(subscribeMessage('only'));
      socket.terminate();
    }
    await expectNothingLeft(before, 200);
  });

  it('and shutdown is not delayed by them (grace 10 s, stopped well within it)', async () => {
    const own = await startWarmService(mock);
    const socket = await rawSocket(own);
    for (let i = 0; i < 200; i++) {
      socket.send(subscribeMessage(`op-${i}`));
      socket.send(JSON.stringify({ id: `op-${i}`, type: 'complete' }));
    }
    await until(() => own.app.operations.size === 0, 5000, 'every operation to end');
    const started = performance.now();
    await own.app.stop(10_000);
    expect(performance.now() - started).toBeLessThan(3000);
  });
});

// ---------------------------------------------------------------------------------------------

describe('AUTH_MODE=forward: a client key goes only to the upstream it belongs to', () => {
  const GOOD = 'sk-litellm-virtual-key-good-0001';
  let primary: MockUpstream;
  let elsewhere: MockUpstream;
  let service: TestService;
  beforeAll(async () => {
    primary = await startMock({ apiKey: GOOD });
    elsewhere = await startMock();
    service = await startWarmService(primary, {
      AUTH_MODE: 'forward',
      UPSTREAM_FALLBACKS: `${elsewhere.url},#chatql-mock`,
      UPSTREAM_MAX_RETRIES: '0',
    });
  });

  it('warns once at start-up that fallbacks on another base URL are skipped', () => {
    const warnings = service.logs.filter((line) =>
      String(line.msg).startsWith('AUTH_MODE=forward: fallbacks on another base URL are skipped'),
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, fallbacks: ['fallback-1'] });
    expect(JSON.stringify(warnings[0])).not.toContain(elsewhere.url);
  });

  it.each(['mutation', 'graphql-ws', 'sse'] as const)(
    'over %s, fail-500 → the #model fallback on the same upstream serves it; the other host gets nothing',
    async (transport) => {
      primary.reset();
      elsewhere.reset();
      const answer = await askAs(service, transport, input('fail-500'), GOOD);
      expect(answer).toMatchObject({ __typename: 'ChatCompletion', model: 'chatql-mock' });
      expect(chatCalls(primary).map((request) => (request.body as { model: string }).model)).toEqual(['fail-500', 'chatql-mock']);
      for (const request of chatCalls(primary)) expect(request.headers.authorization).toBe(`Bearer ${GOOD}`);
      expect(elsewhere.requests, 'the client key never went to the other host').toHaveLength(0);
    },
  );

  it('a token that is not 1-4096 visible ASCII characters is refused (SERVICE) without any upstream call', async () => {
    primary.reset();
    // Over graphql-ws, where a browser can put anything in connectionParams.
    const client = createClient({
      url: service.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: true,
      connectionParams: { authorization: 'Bearer sk-x\u0001' },
    });
    dispose(async () => client.dispose());
    const closed = await new Promise<{ code: number; reason: string }>((resolve) => {
      client.on('closed', (event) =>
        resolve({ code: (event as { code: number }).code, reason: String((event as { reason: unknown }).reason) }),
      );
      client.subscribe(
        { query: print(ChatCompletionStreamSubscription), variables: { input: input() } },
        { next: () => undefined, error: () => undefined, complete: () => undefined },
      );
    });
    expect(closed.code).toBe(4403);
    expect(closed.reason).toMatch(/visible ASCII/);
    // Over HTTP, with the raw bytes a fetch would refuse to send.
    const long = await askAs(service, 'mutation', input(), `sk-${'x'.repeat(4100)}`);
    expect(long).toMatchObject({ __typename: 'AuthenticationError', source: 'SERVICE' });
    // Node's HTTP parser refuses a control character in a header before the service sees it.
    const raw = await rawHttp(
      service,
      `Bearer sk-x\u0001`,
      JSON.stringify({ query: print(ChatCompletionMutation), variables: { input: input() } }),
    );
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(primary.requests).toHaveLength(0);
  });

  it('a key the upstream refused (401) costs at most one upstream call per MODELS_CACHE_MS: models twice, then chat, 1 call', async () => {
    primary.reset();
    const junk = 'sk-junk-key-refused-by-the-upstream';
    for (let i = 0; i < 2; i++) {
      const { body } = await postGraphQL(service, ModelsQuery, {}, { headers: { authorization: `Bearer ${junk}` } });
      expect(body.data?.models).toMatchObject({ __typename: 'AuthenticationError', source: 'UPSTREAM' });
    }
    expect(await askAs(service, 'graphql-ws', input(), junk)).toMatchObject({ __typename: 'AuthenticationError', source: 'UPSTREAM' });
    expect(await askAs(service, 'mutation', input(), junk)).toMatchObject({ __typename: 'AuthenticationError', source: 'UPSTREAM' });
    expect(primary.requests, 'one GET /models, nothing after it').toHaveLength(1);
    expect(await askAs(service, 'mutation', input(), GOOD), 'other keys are not affected').toMatchObject({ __typename: 'ChatCompletion' });
  });
});

/** A request over a raw TCP socket, for headers and bodies that HTTP clients refuse to send or to build. */
async function rawHttp(
  service: TestService,
  authorization: string | null,
  body: string,
  accept = 'application/graphql-response+json',
): Promise<string> {
  const { port } = new URL(service.url);
  const socket = connect(Number(port), '127.0.0.1');
  socket.write(
    `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nAccept: ${accept}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${authorization === null ? '' : `Authorization: ${authorization}\r\n`}Connection: close\r\n\r\n${body}`,
  );
  let text = '';
  for await (const chunk of socket) text += String(chunk);
  return text;
}

/**
 * A chat operation whose one tool's `parameters` nest `depth` objects, as an attacker sends it: JSON
 * text written out (the test's own JSON.stringify could not serialize it either).
 */
async function sendDeepTool(service: TestService, transport: Transport, depth: number): Promise<Record<string, unknown>> {
  const deep = `${'{"a":'.repeat(depth)}{}${'}'.repeat(depth)}`;
  const document = transport === 'mutation' ? ChatCompletionMutation : ChatCompletionStreamSubscription;
  const template = JSON.stringify({
    query: print(document),
    variables: { input: { ...input(), tools: [{ function: { name: 'deep', parameters: 'DEEP' } }] } },
  });
  const body = template.replace('"DEEP"', deep);
  if (transport === 'graphql-ws') {
    const socket = await rawSocket(service);
    const payload = body.slice(0, -1);
    socket.send(`{"id":"deep","type":"subscribe","payload":${payload}}}`);
    const message = await new Promise<string>((resolve) =>
      socket.on('message', (data) => {
        if (String(data).includes('"next"')) resolve(String(data));
      }),
    );
    socket.close();
    return (JSON.parse(message) as { payload: { data: { chatCompletionStream: Record<string, unknown> } } }).payload.data
      .chatCompletionStream;
  }
  const response = await rawHttp(service, null, body, transport === 'sse' ? 'text/event-stream' : 'application/graphql-response+json');
  const json = transport === 'sse' ? /^data: (.*)$/m.exec(response)?.[1] : response.slice(response.indexOf('\r\n\r\n') + 4);
  const parsed = JSON.parse(json ?? 'null') as { data: Record<string, Record<string, unknown>> };
  return (transport === 'sse' ? parsed.data.chatCompletionStream : parsed.data.chatCompletion)!;
}
