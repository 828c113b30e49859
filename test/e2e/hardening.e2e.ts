/**
 * What a hostile client still got through, each attack on real ports, now held: strangers that
 * cost seconds (large unauthenticated bodies, megabyte `connection_init`s, endless
 * conversations), DNS rebinding (a foreign Host), the production defaults (/metrics, GraphiQL),
 * and upstream 5xx text reaching clients. Racing budgets are in limits.e2e.ts and
 * replicas.e2e.ts, JWT expiry in auth.e2e.ts. Each test prints the figures it measures.
 */
import { connect } from 'node:net';

import { print } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

import type { MockUpstream } from '../../src/mock-upstream/server.js';
import type { ChatCompletionInput } from '../gql/graphql.js';
import { chatCalls, startWarmService } from '../utils/answers.js';
import { postGraphQL, subscribeWs, createWsClient } from '../utils/clients.js';
import { sha256Hex, writeKeysFile } from '../utils/keys.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription } from '../utils/operations.js';
import { startMock, startService, type TestService } from '../utils/servers.js';

const KEY = 'ck-hardening-client-key-0123456789';
const input = (content = 'Hello there', model = 'chatql-mock'): ChatCompletionInput => ({ model, messages: [{ user: { content } }] });

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One HTTP request over a raw socket: `body` is written in one go (the kernel does the copying),
 * so a test can send megabytes without the test process's own fetch machinery getting in the way,
 * and headers can be anything (a foreign Host, say).
 */
async function rawRequest(
  service: TestService,
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: Buffer | string },
): Promise<RawResponse> {
  const { port } = new URL(service.url);
  const body = options.body === undefined ? Buffer.alloc(0) : Buffer.from(options.body);
  const headers = {
    host: `127.0.0.1:${port}`,
    connection: 'close',
    ...(options.method === 'GET' || options.method === 'OPTIONS' ? {} : { 'content-length': String(body.length) }),
    ...options.headers,
  };
  const socket = connect(Number(port), '127.0.0.1');
  socket.on('error', () => undefined);
  socket.write(
    `${options.method ?? 'POST'} ${options.path ?? '/graphql'} HTTP/1.1\r\n${Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}`)
      .join('\r\n')}\r\n\r\n`,
  );
  if (body.length > 0) socket.write(body);
  let text = '';
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk) => (text += String(chunk)));
    socket.on('close', () => resolve());
  });
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const responseHeaders = Object.fromEntries(
    lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
  );
  const raw = rest.join('\r\n\r\n');
  return {
    status: Number(statusLine.split(' ')[1]),
    headers: responseHeaders,
    body: responseHeaders['transfer-encoding'] === 'chunked' ? unchunk(raw) : raw,
  };
}

/** The payload of a chunked HTTP/1.1 body. */
function unchunk(raw: string): string {
  let body = '';
  let rest = raw;
  for (;;) {
    const end = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, end), 16);
    if (!(size > 0)) return body;
    body += rest.slice(end + 2, end + 2 + size);
    rest = rest.slice(end + 2 + size + 2);
  }
}

/** A chat mutation's JSON body padded to about `bytes` with a long user message. */
function paddedBody(bytes: number): Buffer {
  const template = JSON.stringify({ query: print(ChatCompletionMutation), variables: { input: input('PAD') } });
  return Buffer.from(template.replace('PAD', 'x'.repeat(Math.max(0, bytes - template.length))));
}

// ---------------------------------------------------------------------------------------------

describe('no work for strangers (AUTH_MODE=api-key)', () => {
  let mock: MockUpstream;
  let service: TestService;
  beforeAll(async () => {
    mock = await startMock({ wordDelayMs: 20 });
    service = await startWarmService(mock, {
      AUTH_MODE: 'api-key',
      CLIENT_KEYS_FILE: writeKeysFile([{ id: 'client', keySha256: sha256Hex(KEY) }]),
    });
  });

  it.each([
    ['no credential', undefined],
    ['a wrong key', 'Bearer ck-not-a-key-of-this-service-000'],
    ['a malformed header', 'Basic dXNlcjpwYXNz'],
  ])(
    'a 9 MiB request with %s → 401 with WWW-Authenticate: Bearer before its body is read, 0 upstream calls',
    async (_label, authorization) => {
      const before = chatCalls(mock).length;
      const started = performance.now();
      const response = await rawRequest(service, {
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: paddedBody(9 * 1024 * 1024),
      });
      const ms = performance.now() - started;
      console.log(`[hardening] 9 MiB request with ${_label}: ${response.status} in ${ms.toFixed(0)} ms`);
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer');
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      const json = JSON.parse(response.body) as { errors: Array<{ message: string; extensions: { code: string } }> };
      expect(json.errors[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
      expect(json.errors[0]!.message.length).toBeGreaterThan(0);
      expect(chatCalls(mock).length).toBe(before);
    },
  );

  it('a small request without a credential still gets the typed AuthenticationError (HTTP 200); a large one with a good key is served', async () => {
    const small = await postGraphQL(service, ChatCompletionMutation, { input: input() });
    expect(small.status).toBe(200);
    expect(small.body.data?.chatCompletion).toMatchObject({ __typename: 'AuthenticationError', source: 'SERVICE' });
    const large = await rawRequest(service, {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: paddedBody(200 * 1024),
    });
    expect(large.status).toBe(200);
    expect(JSON.parse(large.body).data.chatCompletion.__typename).toBe('ChatCompletion');
  });

  it("four unauthenticated 9 MiB requests in parallel delay another client's stream chunks by under 100 ms", async () => {
    const client = createWsClient(service, { authorization: `Bearer ${KEY}` });
    const arrivals: number[] = [];
    const stream = subscribeWs(client, ChatCompletionStreamSubscription, {
      input: input('a long enough question for the mock to quote back, word by word, while strangers knock at the door'),
    });
    const record = setInterval(() => {
      while (arrivals.length < stream.events.length) arrivals.push(performance.now());
    }, 1);
    // Built before the attack starts: the test's own work must not land in the measured window.
    const body = paddedBody(9 * 1024 * 1024);
    await stream.waitForEvents(3);
    const attackStarted = performance.now();
    const attacks = await Promise.all(
      Array.from({ length: 4 }, () => rawRequest(service, { headers: { 'content-type': 'application/json' }, body })),
    );
    const attackEnded = performance.now();
    await stream.done;
    clearInterval(record);
    expect(attacks.map((attack) => attack.status)).toEqual([401, 401, 401, 401]);
    const gaps = arrivals.slice(1).map((at, i) => ({ at, gap: at - arrivals[i]! }));
    const during = gaps.filter(({ at }) => at >= attackStarted && at <= attackEnded + 50);
    const worst = Math.max(0, ...during.map(({ gap }) => gap));
    console.log(
      `[hardening] stream chunks while 4 x 9 MiB unauthenticated requests were refused (${(attackEnded - attackStarted).toFixed(0)} ms): ` +
        `${during.length} gaps, worst ${worst.toFixed(1)} ms (the mock paces 20 ms a word)`,
    );
    expect(worst - 20).toBeLessThan(100);
  });

  it('graphql-ws: a message over 64 KiB before connection_ack closes the socket with 1009; a small connection_init is acknowledged', async () => {
    const outcome = async (padding: number) => {
      const socket = new WebSocket(service.wsUrl, 'graphql-transport-ws');
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${KEY}`, padding: 'x'.repeat(padding) } }));
      return new Promise<string>((resolve) => {
        socket.on('message', (data) => {
          resolve(JSON.parse(String(data)).type as string);
          socket.close();
        });
        socket.on('close', (code) => resolve(`close ${code}`));
      });
    };
    expect(await outcome(100 * 1024)).toBe('close 1009');
    expect(await outcome(8 * 1024 * 1024)).toBe('close 1009');
    expect(await outcome(10 * 1024)).toBe('connection_ack');
  });

  it('MAX_MESSAGES (1,000): a conversation of 1,001 messages is refused as InvalidRequestError at input.messages; 1,000 go through', async () => {
    const messages = (count: number) => Array.from({ length: count }, (_, i) => ({ user: { content: `message ${i}` } }));
    const before = chatCalls(mock).length;
    const refused = await postGraphQL(
      service,
      ChatCompletionMutation,
      { input: { model: 'chatql-mock', messages: messages(1001) } },
      { headers: { authorization: `Bearer ${KEY}` } },
    );
    expect(refused.body.data?.chatCompletion).toMatchObject({
      __typename: 'InvalidRequestError',
      source: 'SERVICE',
      param: 'input.messages',
      code: 'too_many_messages',
    });
    expect(chatCalls(mock).length).toBe(before);
    const accepted = await postGraphQL(
      service,
      ChatCompletionMutation,
      { input: { model: 'chatql-mock', messages: messages(1000), maxTokens: 5 } },
      { headers: { authorization: `Bearer ${KEY}` } },
    );
    expect(accepted.body.data?.chatCompletion.__typename).toBe('ChatCompletion');
  });
});

describe('no work for strangers (AUTH_MODE=forward): only what the service can judge', () => {
  const GOOD = 'sk-forwarded-good-key-0001';
  let mock: MockUpstream;
  let service: TestService;
  beforeAll(async () => {
    mock = await startMock({ apiKey: GOOD });
    service = await startWarmService(mock, { AUTH_MODE: 'forward' });
  });

  it('a large request with no key, a malformed one, or a key the upstream refused lately → 401 unread; with any other key it goes on', async () => {
    const body = paddedBody(1024 * 1024);
    expect((await rawRequest(service, { headers: { 'content-type': 'application/json' }, body })).status).toBe(401);
    expect((await rawRequest(service, { headers: { 'content-type': 'application/json', authorization: 'Bearer' }, body })).status).toBe(
      401,
    );
    // A key the upstream refuses: the first large request is judged upstream (typed 401 data)...
    const junk = 'sk-forwarded-junk-key-0002';
    const first = await rawRequest(service, { headers: { 'content-type': 'application/json', authorization: `Bearer ${junk}` }, body });
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body).data.chatCompletion).toMatchObject({ __typename: 'AuthenticationError', source: 'UPSTREAM' });
    // ...and from then on, for MODELS_CACHE_MS, refused before its body is read.
    const before = chatCalls(mock).length;
    expect(
      (await rawRequest(service, { headers: { 'content-type': 'application/json', authorization: `Bearer ${junk}` }, body })).status,
    ).toBe(401);
    expect(chatCalls(mock).length).toBe(before);
    const good = await rawRequest(service, {
      headers: { 'content-type': 'application/json', authorization: `Bearer ${GOOD}` },
      body: paddedBody(100 * 1024),
    });
    expect(JSON.parse(good.body).data.chatCompletion.__typename).toBe('ChatCompletion');
  });
});

// ---------------------------------------------------------------------------------------------

describe('DNS rebinding: only the allowed hosts are answered (default ALLOWED_HOSTS: localhost, 127.0.0.1, [::1])', () => {
  let mock: MockUpstream;
  let service: TestService;
  let port: string;
  beforeAll(async () => {
    mock = await startMock();
    service = await startWarmService(mock);
    port = new URL(service.url).port;
  });

  it('a mutation from a rebinding page (Host and Origin rebind.evil.example) → 403 with one line, never reaching GraphQL', async () => {
    const before = chatCalls(mock).length;
    const response = await rawRequest(service, {
      headers: { host: `rebind.evil.example:${port}`, origin: `http://rebind.evil.example:${port}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: print(ChatCompletionMutation), variables: { input: input() } }),
    });
    expect(response.status).toBe(403);
    expect(response.body.trim().split('\n')).toHaveLength(1);
    expect(response.body).toMatch(/Host "rebind\.evil\.example:\d+" is not allowed.*ALLOWED_HOSTS/);
    expect(chatCalls(mock).length).toBe(before);
  });

  it('its CORS preflight gets no CORS headers (403), and its chat page and GraphiQL are refused too', async () => {
    const preflight = await rawRequest(service, {
      method: 'OPTIONS',
      headers: {
        host: `rebind.evil.example:${port}`,
        origin: `http://rebind.evil.example:${port}`,
        'access-control-request-method': 'POST',
      },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    for (const path of ['/chat', '/graphql', '/metrics']) {
      expect((await rawRequest(service, { method: 'GET', path, headers: { host: `rebind.evil.example:${port}` } })).status, path).toBe(403);
    }
  });

  it('its WebSocket upgrade is refused (403), whatever the Origin', async () => {
    const status = await new Promise<number>((resolve) => {
      const socket = new WebSocket(service.wsUrl, 'graphql-transport-ws', {
        headers: { host: `rebind.evil.example:${port}`, origin: `http://rebind.evil.example:${port}` },
      });
      socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.on('open', () => resolve(101));
      socket.on('error', () => undefined);
    });
    expect(status).toBe(403);
  });

  it('/healthz and /readyz answer any Host (orchestrators probe by address)', async () => {
    for (const path of ['/healthz', '/readyz']) {
      expect((await rawRequest(service, { method: 'GET', path, headers: { host: `10.1.2.3:${port}` } })).status, path).toBe(200);
    }
  });

  it("the service's own origin on an allowed host works: Host and Origin localhost", async () => {
    const response = await rawRequest(service, {
      headers: { host: `localhost:${port}`, origin: `http://localhost:${port}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: print(ChatCompletionMutation), variables: { input: input() } }),
    });
    expect(response.status).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBe(`http://localhost:${port}`);
  });

  it('ALLOWED_HOSTS=chat.example.com: that name (any port) and its own origin work; localhost no longer does', async () => {
    const named = await startWarmService(mock, { ALLOWED_HOSTS: 'chat.example.com' });
    const namedPort = new URL(named.url).port;
    const own = await rawRequest(named, {
      headers: {
        host: `chat.example.com:${namedPort}`,
        origin: `http://chat.example.com:${namedPort}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ query: print(ChatCompletionMutation), variables: { input: input() } }),
    });
    expect(own.status).toBe(200);
    expect(own.headers['access-control-allow-origin']).toBe(`http://chat.example.com:${namedPort}`);
    expect((await rawRequest(named, { method: 'GET', path: '/chat', headers: { host: `localhost:${namedPort}` } })).status).toBe(403);
  });
});

// ---------------------------------------------------------------------------------------------

describe('production defaults (NODE_ENV=production)', () => {
  let mock: MockUpstream;
  beforeAll(async () => {
    mock = await startMock();
  });

  it('/metrics is not served on the public port (start-up says how to turn it on), GraphiQL is off; the chat page stays', async () => {
    const service = await startService(mock, { NODE_ENV: 'production', AUTH_MODE: 'none' });
    expect((await fetch(`${service.url}/metrics`)).status).toBe(404);
    expect(
      service.logs.some(
        (line) => line.msg === '/metrics is not served: with NODE_ENV=production set METRICS_PORT to serve it on a listener of its own',
      ),
    ).toBe(true);
    const graphiql = await fetch(service.httpUrl, { headers: { accept: 'text/html' } });
    expect(await graphiql.text()).not.toMatch(/<html|graphiql/i);
    expect((await fetch(`${service.url}/chat`)).status).toBe(200);
  });

  it('with METRICS_PORT, /metrics is served there; GRAPHIQL=true turns GraphiQL back on', async () => {
    const service = await startService(mock, { NODE_ENV: 'production', AUTH_MODE: 'none', METRICS_PORT: '0', GRAPHIQL: 'true' });
    expect(service.metricsUrl).toBeDefined();
    expect((await fetch(service.metricsUrl!)).status).toBe(200);
    expect((await fetch(`${service.url}/metrics`)).status).toBe(404);
    const graphiql = await fetch(service.httpUrl, { headers: { accept: 'text/html' } });
    expect(await graphiql.text()).toMatch(/graphiql/i);
  });
});

// ---------------------------------------------------------------------------------------------

describe('upstream error text: 5xx stays in the log, 4xx is passed on redacted', () => {
  const INSIDES =
    'upstream connect error to litellm-worker-3.prod.internal (10.12.0.7:8000), credentials AKIAIOSFODNN7EXAMPLE and ghp_0123456789abcdefghijABCDEFGHIJ012345';
  let mock: MockUpstream;
  let service: TestService;
  beforeAll(async () => {
    mock = await startMock();
    service = await startWarmService(mock, { UPSTREAM_MAX_RETRIES: '0' });
  });

  it.each([502, 500, 503])(
    'a %s body full of internals → "The upstream failed (HTTP <status>)." with its status; the text only in the log, redacted',
    async (status) => {
      mock.enqueue({ status, body: { error: { message: INSIDES, type: 'server_error', param: null, code: null } } });
      const { body } = await postGraphQL(service, ChatCompletionMutation, { input: input() });
      const raw = JSON.stringify(body);
      expect(body.data?.chatCompletion).toMatchObject({
        __typename: 'UpstreamUnavailableError',
        message: `The upstream failed (HTTP ${status}).`,
        status,
      });
      for (const secret of ['litellm-worker-3', '10.12.0.7', 'AKIA', 'ghp_']) expect(raw).not.toContain(secret);
      const logged = service.rawLogs.filter((line) => line.includes('litellm-worker-3')).join('\n');
      expect(logged, 'the text is in the log').toContain('upstream connect error');
      expect(logged).not.toMatch(/AKIAIOSFODNN7EXAMPLE|ghp_0123456789|10\.12\.0\.7/);
    },
  );

  it('a 400 that explains the request is passed on, its credentials and private addresses redacted', async () => {
    mock.enqueue({
      status: 400,
      body: {
        error: {
          message: `Invalid tool schema near 192.168.1.20; key AKIAIOSFODNN7EXAMPLE, token xoxb-1234567890-abcdefghij, AIzaSyA1234567890abcdefghijklmnopqrstuv, jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig`,
          type: 'invalid_request_error',
          param: 'tools',
          code: null,
        },
      },
    });
    const { body } = await postGraphQL(service, ChatCompletionMutation, { input: input() });
    const outcome = body.data?.chatCompletion as { __typename: string; message: string };
    expect(outcome.__typename).toBe('InvalidRequestError');
    expect(outcome.message).toMatch(
      /^Invalid tool schema near \[private address\]; key \[redacted\], token \[redacted\], \[redacted\], jwt \[redacted\]$/,
    );
  });
});
