/**
 * Client authentication end to end (AUTH_MODE none, api-key, jwt, forward), against real servers
 * on port 0 and real clients: HTTP POST, SSE over fetch, and graphql-ws. Checks who the service
 * says the caller is (`viewer`, the upstream's `user`), that refused credentials never reach the
 * upstream, what key the upstream sees, graphql-ws refusals and expiry (close 4403), connections
 * per client (close 4429), and that no key or token ever shows in a response or a log line.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { createClient } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

import { errorEnvelope } from '../../src/mock-upstream/errors.js';
import type { MockUpstream } from '../../src/mock-upstream/server.js';
import type {
  ChatCompletionInput,
  ChatCompletionMutation as ChatCompletionMutationResult,
  ChatCompletionStreamSubscription as ChatCompletionStreamResult,
  ModelsQuery as ModelsQueryResult,
  ViewerQuery as ViewerQueryResult,
} from '../gql/graphql.js';
import { createWatchedWsClient, postGraphQL, subscribeSse, subscribeWs, type WsClose } from '../utils/clients.js';
import { chatCalls, startWarmService } from '../utils/answers.js';
import { sha256Hex, writeKeysFile } from '../utils/keys.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription, ModelsQuery, ViewerQuery } from '../utils/operations.js';
import { dispose, startMock, startService, type TestService, until } from '../utils/servers.js';

/** The upstream key `startService` configures. */
const UPSTREAM_KEY = 'sk-test-upstream-key-0123456789';
/** Client keys, shaped unlike provider keys so that no redaction by shape could hide a leak. */
const KEY_1 = `cq1_${randomBytes(20).toString('hex')}`;
const KEY_2 = `cq2_${randomBytes(20).toString('hex')}`;
/** AUTH_MODE=forward: the client's own upstream key (a LiteLLM virtual key), and a wrong one. */
const FORWARD_KEY = `lvk_${randomBytes(20).toString('hex')}`;
const WRONG_FORWARD_KEY = `lvk_${randomBytes(20).toString('hex')}`;
const JWT_SECRET = `jwt-secret-${randomBytes(24).toString('hex')}`;
const OTHER_SECRET = `jwt-other-${randomBytes(24).toString('hex')}`;
const ISSUER = 'https://issuer.chatql.test';
const AUDIENCE = 'chatql-api';

/** Every secret of the suite, and every response and close reason a client received. */
const secrets: string[] = [UPSTREAM_KEY, KEY_1, KEY_2, FORWARD_KEY, WRONG_FORWARD_KEY, JWT_SECRET, OTHER_SECRET];
const received: string[] = [];
const services: TestService[] = [];

type Transport = 'HTTP' | 'SSE' | 'graphql-ws';
type StreamEvent = ChatCompletionStreamResult['chatCompletionStream'];
type Outcome = ChatCompletionMutationResult['chatCompletion'] | StreamEvent;
type ViewerResult = ViewerQueryResult['viewer'];
type Viewer = Extract<ViewerResult, { __typename: 'Viewer' }>;

function input(extra: Partial<ChatCompletionInput> = {}, model = 'chatql-mock'): ChatCompletionInput {
  return { model, messages: [{ user: { content: 'Hello there' } }], ...extra };
}

async function start(mock: MockUpstream, env: Record<string, string>): Promise<TestService> {
  const service = await startWarmService(mock, env);
  services.push(service);
  return service;
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** One chat operation; for a stream, checks that it ends with exactly one terminal event. */
async function ask(
  service: TestService,
  transport: Transport,
  chatInput: ChatCompletionInput,
  authorization?: string,
): Promise<{ outcome: Outcome; chunks: number; raw: string }> {
  const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
  if (transport === 'HTTP') {
    const { status, body } = await postGraphQL(service, ChatCompletionMutation, { input: chatInput }, { headers });
    const raw = JSON.stringify(body);
    received.push(raw);
    expect(status, raw).toBe(200);
    expect(body.errors, raw).toBeUndefined();
    return { outcome: body.data!.chatCompletion, chunks: 0, raw };
  }
  const subscription =
    transport === 'SSE'
      ? subscribeSse(service, ChatCompletionStreamSubscription, { input: chatInput }, { headers })
      : subscribeWs(
          createWatchedWsClient(service, authorization === undefined ? undefined : { authorization }).client,
          ChatCompletionStreamSubscription,
          { input: chatInput },
        );
  await subscription.done;
  const raw = JSON.stringify(subscription.events);
  received.push(raw);
  const events = subscription.events.map((event) => event.chatCompletionStream);
  const terminal = events.at(-1);
  if (!terminal || terminal.__typename === 'ChatCompletionChunk') throw new Error(`no terminal event: ${raw}`);
  expect(
    events.slice(0, -1).every((event) => event.__typename === 'ChatCompletionChunk'),
    raw,
  ).toBe(true);
  return { outcome: terminal, chunks: events.length - 1, raw };
}

async function viewer(service: TestService, authorization?: string): Promise<ViewerResult> {
  const { status, body } = await postGraphQL(service, ViewerQuery, {}, { headers: authorization === undefined ? {} : { authorization } });
  const raw = JSON.stringify(body);
  received.push(raw);
  expect(status, raw).toBe(200);
  expect(body.errors, raw).toBeUndefined();
  return body.data!.viewer;
}

async function viewerOk(service: TestService, authorization?: string): Promise<Viewer> {
  const result = await viewer(service, authorization);
  if (result.__typename !== 'Viewer') throw new Error(`expected a Viewer, got ${JSON.stringify(result)}`);
  return result;
}

async function models(service: TestService, authorization?: string): Promise<ModelsQueryResult['models']> {
  const { status, body } = await postGraphQL(service, ModelsQuery, {}, { headers: authorization === undefined ? {} : { authorization } });
  const raw = JSON.stringify(body);
  received.push(raw);
  expect(status, raw).toBe(200);
  expect(body.errors, raw).toBeUndefined();
  return body.data!.models;
}

async function modelIds(service: TestService, authorization?: string): Promise<string[]> {
  const result = await models(service, authorization);
  if (result.__typename !== 'ModelList') throw new Error(`expected a ModelList, got ${JSON.stringify(result)}`);
  return result.models.map((model) => model.id);
}

function expectAuthenticationError(outcome: unknown, message: RegExp): void {
  expect(outcome).toMatchObject({ __typename: 'AuthenticationError', source: 'SERVICE', retryable: false });
  expect((outcome as { message: string }).message).toMatch(message);
}

/** Runs a subscription on a graphql-ws client with `connectionParams` and returns how its socket was closed. */
async function wsRefusal(service: TestService, connectionParams: Record<string, unknown> | undefined): Promise<WsClose> {
  const watched = createWatchedWsClient(service, connectionParams);
  const subscription = subscribeWs(watched.client, ChatCompletionStreamSubscription, { input: input() });
  await expect(subscription.done).rejects.toMatchObject({ code: 4403 });
  expect(subscription.events).toEqual([]);
  const close = await watched.nextClose();
  received.push(close.reason);
  return close;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('AUTH_MODE=api-key', () => {
  let mock: MockUpstream;
  let service: TestService;

  beforeAll(async () => {
    mock = await startMock();
    const file = writeKeysFile([
      { id: 'client-1', keySha256: sha256Hex(KEY_1), models: ['chatql-mock', 'chatql-mock-reasoning'] },
      { id: 'client-2', keySha256: sha256Hex(KEY_2).toUpperCase(), note: 'upper-case hex is accepted too' },
    ]);
    service = await start(mock, { AUTH_MODE: 'api-key', CLIENT_KEYS_FILE: file });
  });

  it.each<Transport>(['HTTP', 'SSE', 'graphql-ws'])(
    'a good key works over %s, names the client upstream as `user`, and sends the server key upstream',
    async (transport) => {
      const before = chatCalls(mock).length;
      const plain = await ask(service, transport, input(), `Bearer ${KEY_1}`);
      expect(plain.outcome.__typename, plain.raw).toBe('ChatCompletion');
      if (transport !== 'HTTP') expect(plain.chunks).toBeGreaterThan(0);
      const withUser = await ask(service, transport, input({ user: 'alice' }), `Bearer ${KEY_1}`);
      expect(withUser.outcome.__typename, withUser.raw).toBe('ChatCompletion');

      const calls = chatCalls(mock).slice(before);
      expect(calls).toHaveLength(2);
      expect((calls[0]!.body as { user?: string }).user).toBe('client-1');
      expect((calls[1]!.body as { user?: string }).user).toBe('client-1:alice');
      for (const call of calls) {
        expect(call.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
        expect(JSON.stringify(call.headers)).not.toContain(KEY_1);
        expect(JSON.stringify(call.body)).not.toContain(KEY_1);
      }
    },
  );

  it("accepts the other client's key (listed with upper-case hex) and tells the clients apart", async () => {
    const before = chatCalls(mock).length;
    const { outcome } = await ask(service, 'HTTP', input({ user: 'bob' }), `bearer   ${KEY_2}  `);
    expect(outcome.__typename).toBe('ChatCompletion');
    expect((chatCalls(mock)[before]!.body as { user?: string }).user).toBe('client-2:bob');
    expect(await viewerOk(service, `Bearer ${KEY_2}`)).toMatchObject({ clientId: 'client-2', authMode: 'API_KEY', allowedModels: null });
    expect(await viewerOk(service, `Bearer ${KEY_1}`)).toMatchObject({
      clientId: 'client-1',
      authMode: 'API_KEY',
      expiresAt: null,
      allowedModels: ['chatql-mock', 'chatql-mock-reasoning'],
    });
  });

  const BAD: Array<[string, string | undefined, RegExp]> = [
    ['no Authorization header', undefined, /authentication required.*Authorization: Bearer/i],
    ['a Basic credential', 'Basic eDp5', /must be "Bearer <key>"/],
    ['"Bearer" with no token', 'Bearer', /must be "Bearer <key>"/],
    ['a wrong key', `Bearer ${KEY_1}x`, /API key is not valid/],
    ['a key file hash used as the key', `Bearer ${sha256Hex(KEY_1)}`, /API key is not valid/],
  ];

  it.each(BAD)('refuses %s over HTTP (mutation, models, viewer) with no upstream request', async (_case, authorization, message) => {
    const before = mock.requests.length;
    const mutation = await ask(service, 'HTTP', input(), authorization);
    expectAuthenticationError(mutation.outcome, message);
    expectAuthenticationError(await models(service, authorization), message);
    expectAuthenticationError(await viewer(service, authorization), message);
    await sleep(50);
    expect(mock.requests.length).toBe(before);
  });

  it.each(BAD)(
    'refuses %s over SSE with one terminal AuthenticationError and no upstream request',
    async (_case, authorization, message) => {
      const before = mock.requests.length;
      const { outcome, chunks } = await ask(service, 'SSE', input(), authorization);
      expect(chunks).toBe(0);
      expectAuthenticationError(outcome, message);
      await sleep(50);
      expect(mock.requests.length).toBe(before);
    },
  );

  it.each<[string, Record<string, unknown> | undefined, RegExp]>([
    ['no connectionParams', undefined, /^Forbidden: Authentication required/],
    ['connectionParams without authorization', { token: KEY_1 }, /^Forbidden: Authentication required/],
    ['a Basic credential', { authorization: 'Basic eDp5' }, /^Forbidden: The Authorization header must be "Bearer <key>"/],
    ['"Bearer" with no token', { authorization: 'Bearer' }, /^Forbidden: The Authorization header must be "Bearer <key>"/],
    ['a wrong key', { authorization: `Bearer ${KEY_2}x` }, /^Forbidden: The API key is not valid\.$/],
    ['a non-string authorization', { authorization: { key: KEY_1 } }, /^Forbidden: Authentication required/],
  ])('closes a graphql-ws connection with %s (4403, with the reason) before any upstream request', async (_case, params, reason) => {
    const before = mock.requests.length;
    const close = await wsRefusal(service, params);
    expect(close.code).toBe(4403);
    expect(close.reason).toMatch(reason);
    await sleep(50);
    expect(mock.requests.length).toBe(before);
  });

  it('accepts `Authorization` (capitalised) in connectionParams', async () => {
    const watched = createWatchedWsClient(service, { Authorization: `Bearer ${KEY_1}` });
    const subscription = subscribeWs(watched.client, ViewerQuery, {});
    await subscription.done;
    received.push(JSON.stringify(subscription.events));
    expect(subscription.events[0]?.viewer).toMatchObject({ __typename: 'Viewer', clientId: 'client-1' });
  });

  it('accepts the key as an Authorization header on the upgrade (non-browser clients), connectionParams first', async () => {
    class HeaderWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { headers: { authorization: `Bearer ${KEY_2}` } });
      }
    }
    const viewerOver = async (connectionParams?: Record<string, unknown>) => {
      const client = createClient({
        url: service.wsUrl,
        webSocketImpl: HeaderWebSocket,
        retryAttempts: 0,
        lazy: true,
        ...(connectionParams ? { connectionParams } : {}),
      });
      dispose(async () => client.dispose());
      const subscription = subscribeWs(client, ViewerQuery, {});
      await subscription.done;
      received.push(JSON.stringify(subscription.events));
      return subscription.events[0]?.viewer;
    };
    expect(await viewerOver()).toMatchObject({ __typename: 'Viewer', clientId: 'client-2' });
    expect(await viewerOver({ authorization: `Bearer ${KEY_1}` })).toMatchObject({ __typename: 'Viewer', clientId: 'client-1' });
  });
});

describe('CLIENT_KEYS_FILE reload (SIGHUP, app.reloadClientKeys)', () => {
  it('adds keys at once, refuses a removed one and closes its graphql-ws connection (4403), applies new limits to open connections, and ignores a broken file', async () => {
    const mock = await startMock();
    const path = writeKeysFile([
      { id: 'client-1', keySha256: sha256Hex(KEY_1) },
      { id: 'client-2', keySha256: sha256Hex(KEY_2) },
    ]);
    const service = await start(mock, { AUTH_MODE: 'api-key', CLIENT_KEYS_FILE: path });
    const first = createWatchedWsClient(service, { authorization: `Bearer ${KEY_1}` }, { lazy: false });
    const second = createWatchedWsClient(service, { authorization: `Bearer ${KEY_2}` }, { lazy: false });
    await Promise.all([first.nextAck(), second.nextAck()]);

    // client-1 removed, client-2 kept with a limit, client-3 added.
    const KEY_3 = `cq3_${randomBytes(20).toString('hex')}`;
    secrets.push(KEY_3);
    writeFileSync(
      path,
      JSON.stringify({
        clients: [
          { id: 'client-2', keySha256: sha256Hex(KEY_2), limits: { requestsPerMinute: 5 } },
          { id: 'client-3', keySha256: sha256Hex(KEY_3) },
        ],
      }),
    );
    expect(service.app.reloadClientKeys()).toEqual({ ok: true, clients: 2 });
    const close = await first.nextClose();
    received.push(close.reason);
    expect(close).toEqual({ code: 4403, reason: 'Forbidden: the credential was revoked' });
    expectAuthenticationError((await ask(service, 'HTTP', input(), `Bearer ${KEY_1}`)).outcome, /not valid/);
    expect((await ask(service, 'HTTP', input(), `Bearer ${KEY_3}`)).outcome.__typename).toBe('ChatCompletion');
    // The open connection of client-2 stays, now under its new limit.
    const onSecond = subscribeWs(second.client, ViewerQuery, {});
    await onSecond.done;
    received.push(JSON.stringify(onSecond.events));
    expect(onSecond.events[0]?.viewer).toMatchObject({ clientId: 'client-2', limits: { requestsPerMinute: { limit: 5 } } });
    expect(second.closes).toEqual([]);
    expect(service.logs).toContainEqual(expect.objectContaining({ msg: 'CLIENT_KEYS_FILE reloaded', clients: 2, closedConnections: 1 }));

    // A broken file changes nothing.
    writeFileSync(path, '{ "clients": [');
    const refused = service.app.reloadClientKeys();
    expect(refused).toMatchObject({ ok: false, problems: [expect.stringMatching(/not valid JSON/)] });
    expect((await ask(service, 'HTTP', input(), `Bearer ${KEY_3}`)).outcome.__typename).toBe('ChatCompletion');
    expect(service.logs.some((line) => line.level === 50 && String(line.msg).startsWith('CLIENT_KEYS_FILE not reloaded'))).toBe(true);
  });

  it('has nothing to reload in other modes', async () => {
    const service = await start(await startMock(), {});
    expect(service.app.reloadClientKeys()).toBeNull();
  });
});

describe('AUTH_MODE=jwt with JWT_SECRET', () => {
  let mock: MockUpstream;
  let service: TestService;
  const secret = new TextEncoder().encode(JWT_SECRET);

  /** A token for `sub` (unless `sub` is null), valid for `seconds`, with the service's issuer and audience. */
  async function token(
    options: {
      sub?: string | null;
      seconds?: number;
      exp?: number | null;
      iss?: string;
      aud?: string;
      claims?: JWTPayload;
      key?: Uint8Array;
      alg?: string;
    } = {},
  ): Promise<string> {
    const jwt = new SignJWT({ ...options.claims })
      .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' })
      .setIssuedAt()
      .setIssuer(options.iss ?? ISSUER)
      .setAudience(options.aud ?? AUDIENCE);
    if (options.exp !== null) jwt.setExpirationTime(options.exp ?? Math.floor(Date.now() / 1000) + (options.seconds ?? 600));
    if (options.sub !== null) jwt.setSubject(options.sub ?? 'user-42');
    const signed = await jwt.sign(options.key ?? secret);
    secrets.push(signed);
    return signed;
  }

  beforeAll(async () => {
    mock = await startMock();
    service = await start(mock, { AUTH_MODE: 'jwt', JWT_SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
  });

  it('accepts a good token: `sub` is the client id (viewer and upstream `user`), exp its expiry', async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const good = await token({ exp });
    expect(await viewerOk(service, `Bearer ${good}`)).toMatchObject({
      clientId: 'user-42',
      authMode: 'JWT',
      expiresAt: new Date(exp * 1000).toISOString(),
      allowedModels: null,
    });
    const before = chatCalls(mock).length;
    expect((await ask(service, 'HTTP', input(), `Bearer ${good}`)).outcome.__typename).toBe('ChatCompletion');
    expect((await ask(service, 'SSE', input({ user: 'alice' }), `Bearer ${good}`)).outcome.__typename).toBe('ChatCompletion');
    expect((await ask(service, 'graphql-ws', input(), `Bearer ${good}`)).outcome.__typename).toBe('ChatCompletion');
    const calls = chatCalls(mock).slice(before);
    expect(calls.map((call) => (call.body as { user?: string }).user)).toEqual(['user-42', 'user-42:alice', 'user-42']);
    for (const call of calls) expect(call.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
  });

  it('refuses bad tokens over HTTP, SSE and graphql-ws with no upstream request', async () => {
    const none = new UnsecuredJWT({ sub: 'user-42' }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('10m').encode();
    secrets.push(none);
    const cases: Array<[string, string, RegExp]> = [
      ['expired', await token({ seconds: -30 }), /expired/],
      ['bad signature', await token({ key: new TextEncoder().encode(OTHER_SECRET) }), /not valid/],
      [
        'tampered payload',
        await (async () => {
          const [header, , signature] = (await token()).split('.');
          const payload = Buffer.from(JSON.stringify({ sub: 'admin', iss: ISSUER, aud: AUDIENCE, exp: 9_999_999_999 })).toString(
            'base64url',
          );
          return `${header}.${payload}.${signature}`;
        })(),
        /not valid/,
      ],
      ['wrong issuer', await token({ iss: 'https://evil.example' }), /"iss" claim/],
      ['wrong audience', await token({ aud: 'someone-else' }), /"aud" claim/],
      ['no sub', await token({ sub: null }), /"sub" claim/],
      ['no exp', await token({ exp: null }), /no "exp" claim: tokens must expire/],
      ['a sub that is not a client id', await token({ sub: 'has spaces and: colons' }), /"sub" claim must be a client id/],
      ['sub "anonymous"', await token({ sub: 'anonymous' }), /"sub" claim must be a client id/],
      ['alg none', none, /not valid/],
      ['HS512 with the right secret', await token({ alg: 'HS512' }), /not valid/],
      [
        'an invalid chatql claim',
        await token({ claims: { chatql: { limits: { requestsPerMinute: -1 } } } }),
        /"chatql" claim is not valid/,
      ],
      ['not a JWT', 'not.a.jwt', /not valid/],
    ];
    for (const [name, jwt, message] of cases) {
      const before = mock.requests.length;
      const http = await ask(service, 'HTTP', input(), `Bearer ${jwt}`);
      expect(http.outcome, name).toMatchObject({ __typename: 'AuthenticationError', source: 'SERVICE', retryable: false });
      expect((http.outcome as { message: string }).message, name).toMatch(message);
      expectAuthenticationError(await viewer(service, `Bearer ${jwt}`), message);
      expectAuthenticationError(await models(service, `Bearer ${jwt}`), message);
      const sse = await ask(service, 'SSE', input(), `Bearer ${jwt}`);
      expect(sse.chunks).toBe(0);
      expectAuthenticationError(sse.outcome, message);
      const close = await wsRefusal(service, { authorization: `Bearer ${jwt}` });
      expect(close.code, name).toBe(4403);
      expect(close.reason, name).toMatch(/^Forbidden: /);
      expect(close.reason, name).toMatch(message);
      await sleep(20);
      expect(mock.requests.length, name).toBe(before);
    }
  });

  it('JWT_REQUIRE_EXP=false accepts a token without exp (it never expires: expiresAt null) and warns at start-up', async () => {
    const lenient = await start(mock, {
      AUTH_MODE: 'jwt',
      JWT_SECRET,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      JWT_REQUIRE_EXP: 'false',
    });
    const forever = await token({ exp: null });
    expect(await viewerOk(lenient, `Bearer ${forever}`)).toMatchObject({ clientId: 'user-42', expiresAt: null });
    expect(lenient.logs.filter((line) => String(line.msg).startsWith('JWT_REQUIRE_EXP=false'))).toMatchObject([{ level: 40 }]);
    expect(
      service.logs.some((line) => String(line.msg).startsWith('JWT_REQUIRE_EXP=false')),
      'the default service does not warn',
    ).toBe(false);
  });

  it('applies the `chatql` claim: its own rate limit and model list', async () => {
    const limited = await token({
      sub: 'limited-client',
      claims: { chatql: { limits: { requestsPerMinute: 1 }, models: ['chatql-mock'] } },
    });
    const auth = `Bearer ${limited}`;
    expect(await viewerOk(service, auth)).toMatchObject({
      clientId: 'limited-client',
      allowedModels: ['chatql-mock'],
      limits: { requestsPerMinute: { limit: 1, remaining: 1, resetsAt: null } },
    });
    expect(await modelIds(service, auth)).toEqual(['chatql-mock']);
    const before = chatCalls(mock).length;
    expect((await ask(service, 'HTTP', input(), auth)).outcome.__typename).toBe('ChatCompletion');
    const second = await ask(service, 'HTTP', input(), auth);
    expect(second.outcome).toMatchObject({ __typename: 'RateLimitError', source: 'SERVICE', retryable: true });
    const other = await ask(service, 'SSE', input({}, 'chatql-mock-reasoning'), auth);
    expect(other.outcome).toMatchObject({ __typename: 'PermissionDeniedError', source: 'SERVICE', retryable: false });
    expect((other.outcome as { message: string }).message).toContain('chatql-mock-reasoning');
    expect(chatCalls(mock).length).toBe(before + 1);
    // Another token of the service, without the claim, is unaffected.
    expect((await ask(service, 'HTTP', input({}, 'chatql-mock-reasoning'), `Bearer ${await token()}`)).outcome.__typename).toBe(
      'ChatCompletion',
    );
  });

  it('closes a graphql-ws connection when its token expires (4403) and starts nothing after', async () => {
    const exp = Math.floor(Date.now() / 1000) + 3;
    const shortLived = await token({ sub: 'short-lived', exp });
    const watched = createWatchedWsClient(service, { authorization: `Bearer ${shortLived}` }, { lazy: false });
    await watched.nextAck();
    const before = chatCalls(mock).length;
    const working = subscribeWs(watched.client, ChatCompletionMutation, { input: input() });
    await working.done;
    received.push(JSON.stringify(working.events));
    expect(working.events[0]?.chatCompletion.__typename).toBe('ChatCompletion');
    expect(chatCalls(mock).length).toBe(before + 1);

    const close = await watched.nextClose();
    const closedAt = Date.now();
    received.push(close.reason);
    expect(close.code).toBe(4403);
    expect(close.reason).toMatch(/expired/);
    expect(closedAt).toBeGreaterThanOrEqual(exp * 1000 - 100);
    expect(closedAt).toBeLessThan(exp * 1000 + 3000);

    // The client tries again with the same (expired) token: refused at connection_init.
    const after = subscribeWs(watched.client, ChatCompletionStreamSubscription, { input: input() });
    await expect(after.done).rejects.toMatchObject({ code: 4403 });
    const again = await watched.nextClose();
    expect(again.code).toBe(4403);
    expect(again.reason).toMatch(/expired/);
    expect(after.events).toEqual([]);
    await sleep(50);
    expect(chatCalls(mock).length).toBe(before + 1);
  }, 15_000);
});

describe('AUTH_MODE=jwt with JWT_PUBLIC_KEY and JWT_JWKS_URL', () => {
  let mock: MockUpstream;

  beforeAll(async () => {
    mock = await startMock();
  });

  it("verifies ES256 tokens with a PEM public key, and refuses another key's and an HS256 forgery", async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const pem = await exportSPKI(publicKey);
    // On one line with literal \n, as environments often carry it.
    const service = await start(mock, { AUTH_MODE: 'jwt', JWT_PUBLIC_KEY: pem.replace(/\n/g, '\\n') });
    const sign = async (key: CryptoKey | Uint8Array, alg: string) => {
      const signed = await new SignJWT({}).setProtectedHeader({ alg }).setSubject('es-client').setExpirationTime('10m').sign(key);
      secrets.push(signed);
      return signed;
    };
    const good = await sign(privateKey, 'ES256');
    expect(await viewerOk(service, `Bearer ${good}`)).toMatchObject({ clientId: 'es-client', authMode: 'JWT' });
    const before = chatCalls(mock).length;
    expect((await ask(service, 'HTTP', input(), `Bearer ${good}`)).outcome.__typename).toBe('ChatCompletion');
    expect((chatCalls(mock)[before]!.body as { user?: string }).user).toBe('es-client');

    const requests = mock.requests.length;
    const foreign = await sign(other.privateKey, 'ES256');
    expectAuthenticationError((await ask(service, 'HTTP', input(), `Bearer ${foreign}`)).outcome, /not valid/);
    // Algorithm confusion: an HS256 token whose "secret" is the public key's PEM.
    const confused = await sign(new TextEncoder().encode(pem), 'HS256');
    expectAuthenticationError((await ask(service, 'HTTP', input(), `Bearer ${confused}`)).outcome, /not valid/);
    expect(mock.requests.length).toBe(requests);
  });

  it('verifies RS256 tokens through a JWKS served over HTTP', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'key-1', alg: 'RS256', use: 'sig' };
    let fetches = 0;
    const jwks = createServer((req, res) => {
      fetches += 1;
      if (req.url === '/.well-known/jwks.json')
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    dispose(() => new Promise((resolve) => jwks.close(resolve)));
    const { port } = jwks.address() as AddressInfo;
    const service = await start(mock, { AUTH_MODE: 'jwt', JWT_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json` });

    const sign = async (key: CryptoKey, kid: string) => {
      const signed = await new SignJWT({})
        .setProtectedHeader({ alg: 'RS256', kid })
        .setSubject('jwks-client')
        .setExpirationTime('10m')
        .sign(key);
      secrets.push(signed);
      return signed;
    };
    const good = await sign(privateKey, 'key-1');
    expect(await viewerOk(service, `Bearer ${good}`)).toMatchObject({ clientId: 'jwks-client', authMode: 'JWT' });
    expect(fetches).toBeGreaterThanOrEqual(1);
    const before = chatCalls(mock).length;
    const sse = await ask(service, 'SSE', input(), `Bearer ${good}`);
    expect(sse.outcome.__typename).toBe('ChatCompletion');
    expect((chatCalls(mock)[before]!.body as { user?: string }).user).toBe('jwks-client');

    const requests = mock.requests.length;
    const other = await generateKeyPair('RS256');
    expectAuthenticationError(
      (await ask(service, 'HTTP', input(), `Bearer ${await sign(other.privateKey, 'key-1')}`)).outcome,
      /not valid/,
    );
    expectAuthenticationError(
      (await ask(service, 'HTTP', input(), `Bearer ${await sign(privateKey, 'unknown-kid')}`)).outcome,
      /not valid/,
    );
    expect(mock.requests.length).toBe(requests);
  });
});

describe('AUTH_MODE=forward', () => {
  let mock: MockUpstream;
  let service: TestService;

  beforeAll(async () => {
    // The mock accepts only the client's own key: the server's key would be refused with 401.
    mock = await startMock({ apiKey: FORWARD_KEY });
    const warmups = mock.requests.length;
    service = await startService(mock, { AUTH_MODE: 'forward' });
    services.push(service);
    await until(() => mock.requests.length > warmups && mock.requests.at(-1)!.closedAt !== undefined, 5000, 'the models warm-up');
  });

  it.each<Transport>(['HTTP', 'SSE', 'graphql-ws'])(
    "sends the client's bearer token upstream over %s, never the server key",
    async (transport) => {
      const before = chatCalls(mock).length;
      const { outcome, raw } = await ask(service, transport, input({ user: 'alice' }), `Bearer ${FORWARD_KEY}`);
      expect(outcome.__typename, raw).toBe('ChatCompletion');
      const calls = chatCalls(mock).slice(before);
      expect(calls).toHaveLength(1);
      expect(calls[0]!.headers.authorization).toBe(`Bearer ${FORWARD_KEY}`);
      expect(JSON.stringify(calls[0]!.headers)).not.toContain(UPSTREAM_KEY);
      // The client id is derived from the key's hash, and named upstream.
      const id = `key-${sha256Hex(FORWARD_KEY).slice(0, 16)}`;
      expect((calls[0]!.body as { user?: string }).user).toBe(`${id}:alice`);
    },
  );

  it("lists models with the client's key, and names the client in viewer", async () => {
    const before = mock.requests.length;
    expect(await modelIds(service, `Bearer ${FORWARD_KEY}`)).toContain('chatql-mock');
    const listings = mock.requests.slice(before).filter((request) => request.path === '/v1/models');
    expect(listings).toHaveLength(1);
    expect(listings[0]!.headers.authorization).toBe(`Bearer ${FORWARD_KEY}`);
    expect(await viewerOk(service, `Bearer ${FORWARD_KEY}`)).toMatchObject({
      clientId: `key-${sha256Hex(FORWARD_KEY).slice(0, 16)}`,
      authMode: 'FORWARD',
      expiresAt: null,
    });
  });

  it('refuses a request without a token before any upstream call', async () => {
    const before = mock.requests.length;
    expectAuthenticationError((await ask(service, 'HTTP', input())).outcome, /authentication required/i);
    expectAuthenticationError((await ask(service, 'SSE', input())).outcome, /authentication required/i);
    expectAuthenticationError(await models(service), /authentication required/i);
    expectAuthenticationError((await ask(service, 'HTTP', input(), 'Basic eDp5')).outcome, /must be "Bearer <upstream key>"/);
    const close = await wsRefusal(service, undefined);
    expect(close).toMatchObject({ code: 4403 });
    expect(close.reason).toMatch(/^Forbidden: Authentication required/);
    await sleep(50);
    expect(mock.requests.length).toBe(before);
  });

  it("answers a key the upstream refuses with the upstream's AuthenticationError", async () => {
    const before = chatCalls(mock).length;
    const { outcome } = await ask(service, 'HTTP', input(), `Bearer ${WRONG_FORWARD_KEY}`);
    expect(outcome).toMatchObject({ __typename: 'AuthenticationError', source: 'UPSTREAM', retryable: false });
    const calls = chatCalls(mock).slice(before);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.headers.authorization).toBe(`Bearer ${WRONG_FORWARD_KEY}`);
  });

  it('does not echo a forwarded key that the upstream quotes in its error', async () => {
    // Its own service, so that the suite-wide search for secrets below checks the other paths.
    const echoing = await startService(mock, { AUTH_MODE: 'forward' });
    await until(
      () => mock.requests.at(-1)?.path === '/v1/models' && mock.requests.at(-1)!.closedAt !== undefined,
      5000,
      'the models warm-up',
    );
    // The key is good enough to pass the mock's check; the scripted answer then quotes it.
    mock.enqueue({
      status: 401,
      body: errorEnvelope(`Incorrect API key provided: ${FORWARD_KEY}. Check your key.`, 'invalid_request_error', null, 'invalid_api_key'),
    });
    const before = chatCalls(mock).length;
    const { outcome, raw } = await ask(echoing, 'HTTP', input(), `Bearer ${FORWARD_KEY}`);
    received.pop();
    expect(chatCalls(mock).length).toBe(before + 1);
    expect(outcome).toMatchObject({
      __typename: 'AuthenticationError',
      source: 'UPSTREAM',
      message: expect.stringMatching(/^Incorrect API key provided: /),
    });
    expect(echoing.rawLogs.filter((line) => line.includes(FORWARD_KEY))).toEqual([]);
    expect(raw).not.toContain(FORWARD_KEY);
  });
});

describe('AUTH_MODE=none', () => {
  let mock: MockUpstream;
  let service: TestService;

  beforeAll(async () => {
    mock = await startMock();
    service = await start(mock, {});
  });

  it('warns at start that anyone who reaches it spends the upstream key', () => {
    expect(service.logs).toContainEqual(
      expect.objectContaining({
        level: 40,
        msg: expect.stringMatching(/^AUTH_MODE=none: anyone who can reach this service spends the upstream key/),
      }),
    );
  });

  it('does not warn with an authenticating mode', async () => {
    const authenticated = await start(mock, { AUTH_MODE: 'forward' });
    expect(authenticated.logs.some((line) => line.level === 40)).toBe(false);
  });

  it("serves everyone as `anonymous`, with the input's `user` sent upstream unchanged", async () => {
    expect(await viewerOk(service)).toEqual({
      __typename: 'Viewer',
      clientId: 'anonymous',
      authMode: 'NONE',
      expiresAt: null,
      allowedModels: null,
      limits: {
        requestsPerMinute: null,
        tokensPerMinute: null,
        concurrentStreams: null,
        dailyTokens: null,
        dailySpend: null,
        maxTokens: null,
        maxConnections: null,
      },
      spentToday: { amount: 0, currency: 'USD', source: 'PRICE_TABLE' },
    });
    const before = chatCalls(mock).length;
    expect((await ask(service, 'HTTP', input({ user: 'alice' }))).outcome.__typename).toBe('ChatCompletion');
    expect((await ask(service, 'SSE', input())).outcome.__typename).toBe('ChatCompletion');
    expect((await ask(service, 'graphql-ws', input({ user: 'bob' }))).outcome.__typename).toBe('ChatCompletion');
    // Credentials are ignored, not checked.
    expect((await ask(service, 'HTTP', input(), 'Bearer whatever')).outcome.__typename).toBe('ChatCompletion');
    const calls = chatCalls(mock).slice(before);
    expect(calls.map((call) => (call.body as { user?: string }).user)).toEqual(['alice', undefined, 'bob', undefined]);
    expect(calls.map((call) => 'user' in (call.body as object))).toEqual([true, false, true, false]);
    expect(await modelIds(service)).toContain('chatql-mock');
  });
});

describe('graphql-ws connections per client (CLIENT_MAX_CONNECTIONS)', () => {
  it('closes a third connection of one client with 4429, accepts one after another closes, and leaves other clients alone', async () => {
    const mock = await startMock();
    const file = writeKeysFile([
      { id: 'client-1', keySha256: sha256Hex(KEY_1) },
      { id: 'client-2', keySha256: sha256Hex(KEY_2), limits: { maxConnections: 1 } },
    ]);
    const service = await start(mock, { AUTH_MODE: 'api-key', CLIENT_KEYS_FILE: file, CLIENT_MAX_CONNECTIONS: '2' });
    const connect = async (key: string) => {
      const watched = createWatchedWsClient(service, bearer(key), { lazy: false });
      const outcome = await Promise.race([watched.nextAck().then(() => 'ack' as const), watched.nextClose()]);
      return { watched, outcome };
    };
    const first = await connect(KEY_1);
    const second = await connect(KEY_1);
    expect(first.outcome).toBe('ack');
    expect(second.outcome).toBe('ack');
    const third = await connect(KEY_1);
    expect(third.outcome).toEqual({ code: 4429, reason: 'Too many connections: at most 2 at once for this client' });

    // Another client has its own count (its own limit of 1 from the keys file).
    const other = await connect(KEY_2);
    expect(other.outcome).toBe('ack');
    const otherSecond = await connect(KEY_2);
    expect(otherSecond.outcome).toMatchObject({ code: 4429, reason: expect.stringMatching(/at most 1 at once/) });

    // The two open connections still work.
    const still = subscribeWs(second.watched.client, ViewerQuery, {});
    await still.done;
    expect(still.events[0]?.viewer).toMatchObject({ clientId: 'client-1', limits: { maxConnections: 2 } });

    // dispose() closes the socket (1000) without reporting it to `on.closed`; the server counts the
    // close when its side of the socket has closed, so a new connection may need a moment.
    await first.watched.client.dispose();
    let fourth = await connect(KEY_1);
    for (let attempt = 0; fourth.outcome !== 'ack' && attempt < 20; attempt += 1) {
      await sleep(100);
      fourth = await connect(KEY_1);
    }
    expect(fourth.outcome).toBe('ack');
    const works = subscribeWs(fourth.watched.client, ChatCompletionMutation, { input: input() });
    await works.done;
    expect(works.events[0]?.chatCompletion.__typename).toBe('ChatCompletion');
    // Still two at most.
    expect((await connect(KEY_1)).outcome).toMatchObject({ code: 4429 });
  }, 20_000);
});

describe('viewer limits', () => {
  it('reports each limit and what is left of it, and counts requests and tokens', async () => {
    const mock = await startMock();
    const file = writeKeysFile([
      {
        id: 'metered',
        keySha256: sha256Hex(KEY_1),
        limits: { requestsPerMinute: 5, tokensPerMinute: 10_000, concurrentStreams: 2, dailyTokens: 100_000, maxTokens: 100 },
        models: ['chatql-*'],
      },
    ]);
    const service = await start(mock, {
      AUTH_MODE: 'api-key',
      CLIENT_KEYS_FILE: file,
      CLIENT_MAX_CONNECTIONS: '3',
      ALLOWED_MODELS: 'chatql-mock,fail-*',
    });
    const auth = `Bearer ${KEY_1}`;
    const midnight = new Date(new Date().setUTCHours(24, 0, 0, 0)).toISOString();
    const fresh = await viewerOk(service, auth);
    expect(fresh).toEqual({
      __typename: 'Viewer',
      clientId: 'metered',
      authMode: 'API_KEY',
      expiresAt: null,
      allowedModels: ['chatql-*'],
      limits: {
        requestsPerMinute: { limit: 5, remaining: 5, resetsAt: null },
        tokensPerMinute: { limit: 10_000, remaining: 10_000, resetsAt: null },
        concurrentStreams: { limit: 2, remaining: 2, resetsAt: null },
        dailyTokens: { limit: 100_000, remaining: 100_000, resetsAt: midnight },
        dailySpend: null,
        maxTokens: 100,
        maxConnections: 3,
      },
      spentToday: { amount: 0, currency: 'USD', source: 'PRICE_TABLE' },
    });
    // Both lists apply to the models query: chatql-* within chatql-mock and fail-*.
    expect(await modelIds(service, auth)).toEqual(['chatql-mock']);

    const before = Date.now();
    const { outcome } = await ask(service, 'HTTP', input(), auth);
    if (outcome.__typename !== 'ChatCompletion') throw new Error(`expected a completion: ${JSON.stringify(outcome)}`);
    const used = outcome.usage!.totalTokens;
    expect(used).toBeGreaterThan(0);
    const after = await viewerOk(service, auth);
    const { requestsPerMinute, tokensPerMinute, dailyTokens, concurrentStreams } = after.limits;
    expect(requestsPerMinute).toMatchObject({ limit: 5, remaining: 4 });
    const resets = Date.parse(requestsPerMinute!.resetsAt!);
    expect(resets).toBeGreaterThan(Date.now());
    expect(resets).toBeLessThanOrEqual(before + 61_000);
    // The estimate was settled with the real usage.
    expect(tokensPerMinute).toMatchObject({ limit: 10_000, remaining: 10_000 - used });
    expect(Date.parse(tokensPerMinute!.resetsAt!)).toBeGreaterThan(Date.now());
    expect(dailyTokens).toEqual({ limit: 100_000, remaining: 100_000 - used, resetsAt: midnight });
    // A mutation is not a stream.
    expect(concurrentStreams).toEqual({ limit: 2, remaining: 2, resetsAt: null });
  });
});

describe('secrets', () => {
  it('never shows an upstream key, client key, JWT or secret in any response, close reason or log line', () => {
    expect(services.length).toBeGreaterThanOrEqual(6);
    expect(received.length).toBeGreaterThan(50);
    const logLines = services.flatMap((service) => service.rawLogs);
    expect(logLines.length).toBeGreaterThan(50);
    // The JWTs were logged nowhere either: their signatures alone would be enough to replay them.
    const needles = secrets.flatMap((secret) => [secret, ...(secret.split('.').length === 3 ? [secret.split('.')[2]!] : [])]);
    for (const needle of needles.filter((text) => text.length >= 16)) {
      expect(
        received.filter((text) => text.includes(needle)),
        `a response contains ${needle.slice(0, 8)}...`,
      ).toEqual([]);
      expect(
        logLines.filter((line) => line.includes(needle)),
        `a log line contains ${needle.slice(0, 8)}...`,
      ).toEqual([]);
    }
  });
});
