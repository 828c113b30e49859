/**
 * Hostile clients, against real servers: documents built to be expensive (depth, aliases, tokens,
 * directives, cost) on HTTP, SSE and graphql-ws; introspection and field suggestions in
 * production; batched bodies; cross-site requests a browser sends without a preflight; WebSocket
 * upgrades from foreign origins; malformed bodies and invalid UTF-8; and graphql-ws misbehaviour
 * (no init, subscribe before init, oversized frames, wrong subprotocol, too many operations,
 * unanswered pings, a flood of connections). After each case the service must still answer a
 * normal mutation, and refused documents must never reach the upstream. Authentication in every
 * mode is in auth.e2e.ts, per-client limits and JSON smuggling in limits.e2e.ts.
 */
import { getIntrospectionQuery, print, type ExecutionResult } from 'graphql';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Client, createClient } from 'graphql-ws';
import { WebSocket } from 'ws';

import type { MockUpstream } from '../../src/mock-upstream/server.js';
import type { ChatCompletionInput } from '../gql/graphql.js';
import { createWsClient, postGraphQL } from '../utils/clients.js';
import { ChatCompletionMutation } from '../utils/operations.js';
import { metric } from '../utils/metrics.js';
import { dispose, startMock, startService, type TestService, until } from '../utils/servers.js';

const input = (prompt = 'hello'): ChatCompletionInput => ({ model: 'chatql-mock', messages: [{ user: { content: prompt } }] });
const CROSS_SITE = 'https://evil.example';

let mock: MockUpstream;
let service: TestService;

beforeAll(async () => {
  mock = await startMock();
  service = await startService(mock);
});

function chatCalls(upstream: MockUpstream = mock): number {
  return upstream.requests.filter((request) => request.path === '/v1/chat/completions').length;
}

/** A normal mutation still works: the service survived whatever came before. */
async function expectStillAnswers(target: TestService = service): Promise<void> {
  const { status, body } = await postGraphQL(target, ChatCompletionMutation, { input: input('still there?') });
  expect(status).toBe(200);
  expect(body.errors).toBeUndefined();
  expect(body.data?.chatCompletion.__typename).toBe('ChatCompletion');
}

afterEach(async () => {
  await expectStillAnswers();
});

type Transport = 'HTTP' | 'SSE' | 'graphql-ws';

/** Runs a document and returns its first result (graphql-ws `error` messages become `{ errors }`). */
async function run(
  transport: Transport,
  query: string,
  variables: Record<string, unknown> = {},
  target: TestService = service,
): Promise<ExecutionResult> {
  if (transport === 'HTTP') {
    const response = await fetch(target.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as ExecutionResult;
  }
  if (transport === 'SSE') {
    const response = await fetch(target.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    const frame = text.split('\n\n').find((part) => /^event: next$/m.test(part));
    if (!frame) return (JSON.parse(text) as ExecutionResult) ?? {};
    const data = frame
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart())
      .join('\n');
    return JSON.parse(data) as ExecutionResult;
  }
  const client = createWsClient(target);
  return new Promise<ExecutionResult>((resolve, reject) => {
    let first: ExecutionResult | undefined;
    client.subscribe(
      { query, variables },
      {
        next: (result) => {
          first ??= result as ExecutionResult;
        },
        error: (error) => {
          if (Array.isArray(error)) resolve({ errors: error });
          else reject(error instanceof Error ? error : new Error(JSON.stringify(error)));
        },
        complete: () => resolve(first ?? {}),
      },
    );
  });
}

function messages(result: ExecutionResult): string {
  return (result.errors ?? []).map((error) => error.message).join(' | ');
}

/** `{ __schema { queryType { ofType { ... { name } } } } }`, `levels` fields deep. */
function deepQuery(levels: number): string {
  return `{ __schema { queryType { ${'ofType { '.repeat(levels - 3)}name${' }'.repeat(levels - 3)} } } }`;
}

const TRANSPORTS: Transport[] = ['HTTP', 'SSE', 'graphql-ws'];

describe.each(TRANSPORTS)('document limits over %s', (transport) => {
  it("refuses a 25-level query and accepts GraphiQL's introspection query", async () => {
    const deep = await run(transport, deepQuery(25));
    expect(deep.data ?? undefined).toBeUndefined();
    expect(messages(deep)).toMatch(/depth limit of 20 exceeded/i);

    const introspection = await run(transport, getIntrospectionQuery());
    expect(introspection.errors).toBeUndefined();
    expect((introspection.data as { __schema: { types: unknown[] } }).__schema.types.length).toBeGreaterThan(10);

    // A 15-level query (as deep as GraphiQL's) passes too.
    const fifteen = await run(transport, deepQuery(15));
    expect(fifteen.errors).toBeUndefined();
  });

  it('refuses too many tokens, directives and cost', async () => {
    const tokens = await run(transport, `{ ${'__typename '.repeat(2100)}}`);
    expect(messages(tokens)).toMatch(/token limit of 2000 exceeded/i);

    const directives = await run(
      transport,
      `{ ${Array.from({ length: 11 }, (_, i) => `t${i}: __typename @include(if: true)`).join(' ')} }`,
    );
    expect(messages(directives)).toMatch(/directives limit of 10 exceeded/i);

    const before = mock.requests.length;
    const cost = await run(transport, `{ models { ... on ModelList { models { ${'id '.repeat(1500)}} } } }`);
    expect(messages(cost)).toMatch(/cost limit of 3000 exceeded/i);
    expect(mock.requests.length).toBe(before);
  });

  it('refuses an alias bomb of the paid field before any upstream call', async () => {
    const before = chatCalls();
    const fields = Array.from({ length: 5 }, (_, i) => `a${i}: chatCompletion(input: $input) { __typename }`).join(' ');
    const bomb = await run(transport, `mutation Bomb($input: ChatCompletionInput!) { ${fields} }`, { input: input('bomb') });
    expect(bomb.data ?? undefined).toBeUndefined();
    expect(messages(bomb)).toMatch(/"chatCompletion" may be selected only once/);
    // Many aliases of anything else are refused by armor's alias limit.
    const aliases = await run(transport, `{ ${Array.from({ length: 11 }, (_, i) => `m${i}: models { __typename }`).join(' ')} }`);
    expect(messages(aliases)).toMatch(/aliases limit of 10 exceeded/i);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(chatCalls()).toBe(before);
  });
});

describe('introspection and suggestions', () => {
  const misspelt = '{ modelz { __typename } }';
  const badEnum = 'query { __type(name: "ChatCompletion") { fields(includeDeprecated: tru) { name } } }';

  it('are on by default outside production, with suggestions', async () => {
    expect(service.config.introspection).toBe(true);
    const result = await run('HTTP', '{ __schema { queryType { name } } }');
    expect(result.errors).toBeUndefined();
    expect(messages(await run('HTTP', misspelt))).toContain('Did you mean "models"?');
  });

  it.each(TRANSPORTS)('are off with NODE_ENV=production over %s, with no field suggestions in errors', async (transport) => {
    const production = await startService(mock, { NODE_ENV: 'production', AUTH_MODE: 'none' });
    expect(production.config.introspection).toBe(false);
    const schemaQuery = await run(transport, '{ __schema { queryType { name } } }', {}, production);
    expect(schemaQuery.data ?? undefined).toBeUndefined();
    expect(messages(schemaQuery)).toMatch(/introspection/i);
    const typeQuery = await run(transport, badEnum, {}, production);
    expect(messages(typeQuery)).toMatch(/introspection/i);

    const misspeltResult = await run(transport, misspelt, {}, production);
    expect(messages(misspeltResult)).toContain('Cannot query field "modelz"');
    expect(messages(misspeltResult)).not.toMatch(/did you mean|"models"/i);

    // Enum values in variables are checked at execution: no suggestion there either.
    const variables = await run(
      transport,
      'mutation M($input: ChatCompletionInput!) { chatCompletion(input: $input) { __typename } }',
      { input: { model: 'chatql-mock', messages: [{ user: { content: 'x' } }], reasoningEffort: 'hihg' } },
      production,
    );
    expect(variables.errors?.length).toBeGreaterThan(0);
    expect(messages(variables)).not.toMatch(/did you mean/i);
    await expectStillAnswers(production);
  });

  it('are on in production with GRAPHQL_INTROSPECTION=true', async () => {
    const production = await startService(mock, { NODE_ENV: 'production', AUTH_MODE: 'none', GRAPHQL_INTROSPECTION: 'true' });
    const result = await run('graphql-ws', getIntrospectionQuery(), {}, production);
    expect(result.errors).toBeUndefined();
    expect(messages(await run('HTTP', misspelt, {}, production))).toContain('Did you mean "models"?');
  });
});

describe('batching', () => {
  it('refuses a JSON array body', async () => {
    const before = chatCalls();
    const operation = { query: print(ChatCompletionMutation), variables: { input: input('batched') } };
    const response = await fetch(service.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify([operation, operation]),
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    const body = (await response.json()) as unknown;
    expect(Array.isArray(body)).toBe(false);
    expect((body as ExecutionResult).errors?.length).toBeGreaterThan(0);
    expect(chatCalls()).toBe(before);
  });

  it('runs batches up to GRAPHQL_BATCH_LIMIT, each operation under the same per-client limits, and refuses a bigger one', async () => {
    const batching = await startService(mock, { GRAPHQL_BATCH_LIMIT: '2', CLIENT_REQUESTS_PER_MINUTE: '3' });
    const operation = (prompt: string) => ({ query: print(ChatCompletionMutation), variables: { input: input(prompt) } });
    const send = (operations: unknown[]) =>
      fetch(batching.httpUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(operations) });
    const before = chatCalls();
    const two = await send([operation('batch 1'), operation('batch 2')]);
    expect(two.status).toBe(200);
    const results = (await two.json()) as Array<ExecutionResult<{ chatCompletion: { __typename: string } }>>;
    expect(results.map((result) => result.data?.chatCompletion.__typename)).toEqual(['ChatCompletion', 'ChatCompletion']);
    const three = await send([operation('batch 3'), operation('batch 4'), operation('batch 5')]);
    expect(three.status).toBeGreaterThanOrEqual(400);
    expect(chatCalls() - before, 'upstream calls: the two of the first batch').toBe(2);
    // The per-client limit counts each operation of a batch: 3 a minute, 2 used.
    const again = (await (await send([operation('batch 6'), operation('batch 7')])).json()) as typeof results;
    expect(again.map((result) => result.data?.chatCompletion.__typename)).toEqual(['ChatCompletion', 'RateLimitError']);
  });
});

describe('cross-site requests (CSRF)', () => {
  const mutation = print(ChatCompletionMutation);
  const subscription = 'subscription S($input: ChatCompletionInput!) { chatCompletionStream(input: $input) { __typename } }';

  function getUrl(query: string, variables?: unknown): string {
    const url = new URL(service.httpUrl);
    url.searchParams.set('query', query);
    if (variables) url.searchParams.set('variables', JSON.stringify(variables));
    return url.toString();
  }

  async function expectRefused(response: Response): Promise<void> {
    expect(response.status).toBe(403);
    // The refusal comes in the format the request accepts: JSON, or one SSE `next` event.
    const text = await response.text();
    const sse = /^event: next\ndata: (.*)$/m.exec(text);
    const body = JSON.parse(sse ? sse[1]! : text) as ExecutionResult;
    expect(body.errors?.[0]?.message).toMatch(/cross-site/i);
    expect(body.data ?? undefined).toBeUndefined();
  }

  it('refuses a cross-site GET mutation and subscription before any upstream call', async () => {
    const before = chatCalls();
    // A link or form a page leads the browser to: Sec-Fetch-Site but no Origin.
    await expectRefused(
      await fetch(getUrl(mutation, { input: input('csrf get') }), {
        headers: { 'sec-fetch-site': 'cross-site', accept: 'application/graphql-response+json' },
      }),
    );
    await expectRefused(
      await fetch(getUrl(subscription, { input: input('csrf get sse') }), {
        headers: { 'sec-fetch-site': 'cross-site', accept: 'text/event-stream' },
      }),
    );
    // A cross-origin fetch() GET carries an Origin that is not allowed.
    await expectRefused(
      await fetch(getUrl(subscription, { input: input('csrf origin') }), {
        headers: { origin: CROSS_SITE, accept: 'text/event-stream' },
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(chatCalls()).toBe(before);
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'])(
    'refuses a cross-site POST with content type %s',
    async (contentType) => {
      const before = chatCalls();
      const response = await fetch(service.httpUrl, {
        method: 'POST',
        headers: { 'content-type': contentType, origin: CROSS_SITE, 'sec-fetch-site': 'cross-site' },
        body: JSON.stringify({ query: mutation, variables: { input: input('csrf post') } }),
      });
      await expectRefused(response);
      expect(chatCalls()).toBe(before);
    },
  );

  it('allows a cross-site GET query', async () => {
    const response = await fetch(getUrl('{ __typename }'), {
      headers: { 'sec-fetch-site': 'cross-site', origin: CROSS_SITE, accept: 'application/graphql-response+json' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('allows same-origin, allowed-origin and non-browser POSTs', async () => {
    const sameOrigin = await postGraphQL(
      service,
      ChatCompletionMutation,
      { input: input('same origin') },
      {
        headers: { origin: service.url, 'sec-fetch-site': 'same-origin' },
      },
    );
    expect(sameOrigin.body.data?.chatCompletion.__typename).toBe('ChatCompletion');
    const allowed = await postGraphQL(
      service,
      ChatCompletionMutation,
      { input: input('allowed origin') },
      {
        headers: { origin: 'http://localhost:5173', 'sec-fetch-site': 'same-site' },
      },
    );
    expect(allowed.body.data?.chatCompletion.__typename).toBe('ChatCompletion');
    const noOrigin = await postGraphQL(service, ChatCompletionMutation, { input: input('no origin') });
    expect(noOrigin.body.data?.chatCompletion.__typename).toBe('ChatCompletion');
  });
});

/** Opens a raw WebSocket and resolves with how it ended (or opened). */
function openSocket(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}) {
  const socket = new WebSocket(url, 'graphql-transport-ws', options);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) =>
      reject(Object.assign(new Error('unexpected response'), { status: response.statusCode })),
    );
    socket.once('error', reject);
  });
  opened.catch(() => undefined);
  dispose(async () => socket.terminate());
  return { socket, opened, closed };
}

/** A graphql-ws client whose socket sends the given Origin. */
function clientWithOrigin(target: TestService, origin: string): Client {
  class OriginWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { origin });
    }
  }
  const client = createClient({ url: target.wsUrl, webSocketImpl: OriginWebSocket, retryAttempts: 0, lazy: true });
  dispose(async () => client.dispose());
  return client;
}

describe('WebSocket upgrades and graphql-ws', () => {
  it('refuses an upgrade from a disallowed Origin with 403', async () => {
    const { opened } = openSocket(service.wsUrl, { origin: CROSS_SITE });
    await expect(opened).rejects.toMatchObject({ status: 403 });
  });

  it('accepts an upgrade from an allowed Origin, which then runs operations', async () => {
    for (const origin of ['http://localhost:5173', service.url]) {
      const client = clientWithOrigin(service, origin);
      const result = await new Promise<ExecutionResult>((resolve, reject) => {
        client.subscribe(
          { query: print(ChatCompletionMutation), variables: { input: input(`ws from ${origin}`) } },
          { next: (value) => resolve(value as ExecutionResult), error: reject, complete: () => undefined },
        );
      });
      expect((result.data as { chatCompletion: { __typename: string } }).chatCompletion.__typename).toBe('ChatCompletion');
    }
  });

  it('closes a socket that subscribes before connection_init (4401)', async () => {
    const { socket, opened, closed } = openSocket(service.wsUrl);
    await opened;
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ __typename }' } }));
    expect((await closed).code).toBe(4401);
  });

  it('closes a socket that sends no connection_init in time (4408)', async () => {
    const quick = await startService(mock, { WS_CONNECTION_INIT_TIMEOUT_MS: '200' });
    const { opened, closed } = openSocket(quick.wsUrl);
    await opened;
    const started = performance.now();
    expect((await closed).code).toBe(4408);
    expect(performance.now() - started).toBeLessThan(2000);
    await expectStillAnswers(quick);
  });

  it('closes a socket that sends an oversized frame (1009)', async () => {
    const small = await startService(mock, { MAX_BODY_BYTES: '2048' });
    const { socket, opened, closed } = openSocket(small.wsUrl);
    await opened;
    socket.send(JSON.stringify({ type: 'connection_init' }));
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: `{ __typename } # ${'x'.repeat(4096)}` } }));
    expect((await closed).code).toBe(1009);
    await expectStillAnswers(small);
  });

  it('terminates a socket that does not answer pings, and keeps one that does', async () => {
    const pinging = await startService(mock, {}, { wsKeepAliveMs: 100 });
    const silent = openSocket(pinging.wsUrl, { autoPong: false });
    const polite = openSocket(pinging.wsUrl);
    await Promise.all([silent.opened, polite.opened]);
    let pings = 0;
    polite.socket.on('ping', () => (pings += 1));
    expect((await silent.closed).code).toBe(1006);
    await until(() => pings >= 3, 2000, 'three pings');
    expect(polite.socket.readyState).toBe(WebSocket.OPEN);
    await expectStillAnswers(pinging);
  });

  it('refuses operations past WS_MAX_SUBSCRIPTIONS on one connection, and lets the others run', async () => {
    const slowMock = await startMock({ wordDelayMs: 30 });
    const capped = await startService(slowMock, { WS_MAX_SUBSCRIPTIONS: '2' });
    const client = createWsClient(capped);
    const query = 'subscription S($input: ChatCompletionInput!) { chatCompletionStream(input: $input) { __typename } }';
    const events: string[][] = [[], [], []];
    const ends: Array<Promise<unknown>> = [];
    const unsubscribes: Array<() => void> = [];
    for (let i = 0; i < 3; i += 1) {
      if (i === 2) await until(() => chatCalls(slowMock) === 2, 5000, 'two upstream streams');
      ends.push(
        new Promise((resolve) => {
          unsubscribes.push(
            client.subscribe(
              { query, variables: { input: input(`cap ${i}`) } },
              {
                next: (result) => events[i]!.push(JSON.stringify(result)),
                error: (error) => resolve({ error }),
                complete: () => resolve('complete'),
              },
            ),
          );
        }),
      );
    }
    const third = (await ends[2]) as { error: Array<{ message: string }> };
    expect(third.error[0]?.message).toMatch(/too many operations.*at most 2/i);
    expect(chatCalls(slowMock)).toBe(2);
    // The first two go on to their end.
    expect(await ends[0]).toBe('complete');
    expect(await ends[1]).toBe('complete');
    expect(events[0]!.length).toBeGreaterThan(1);
    // With those finished, the same connection may start another.
    const fourth = await new Promise<ExecutionResult>((resolve, reject) => {
      client.subscribe(
        { query: '{ __typename }' },
        { next: (value) => resolve(value as ExecutionResult), error: reject, complete: () => undefined },
      );
    });
    expect(fourth.data).toEqual({ __typename: 'Query' });
    for (const unsubscribe of unsubscribes) unsubscribe();
    await expectStillAnswers(capped);
  });
});

describe('malformed requests', () => {
  const post = (body: string | Blob, contentType = 'application/json') =>
    fetch(service.httpUrl, { method: 'POST', headers: { 'content-type': contentType }, body });

  it.each([
    ['malformed JSON', '{"query": "{ __typename }"'],
    ['a JSON string instead of an object', '"mutation { chatCompletion }"'],
    ['a query that is not a string', '{"query": {"__proto__": {"polluted": true}}}'],
    ['variables that are not an object', '{"query": "{ __typename }", "variables": [1, 2]}'],
  ])('answers %s with a 400 and a GraphQL error, before any upstream call', async (_name, body) => {
    const before = chatCalls();
    const response = await post(body);
    expect(response.status).toBe(400);
    const answer = (await response.json()) as ExecutionResult;
    expect(answer.errors?.length).toBeGreaterThan(0);
    expect(chatCalls()).toBe(before);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('answers invalid UTF-8 without crashing and without an upstream call', async () => {
    const before = chatCalls();
    const body = new Blob([
      Buffer.concat([
        Buffer.from('{"query":"mutation { chatCompletion(input: {model: \\"'),
        Buffer.from([0xff, 0xfe, 0xc3]),
        Buffer.from('\\"}) }"}'),
      ]),
    ]);
    const response = await post(body);
    expect([200, 400]).toContain(response.status);
    const answer = (await response.json()) as ExecutionResult;
    expect(answer.errors?.length).toBeGreaterThan(0);
    expect(chatCalls()).toBe(before);
  });
});

describe('WebSocket floods', () => {
  it('closes a socket that names no subprotocol (4406), and refuses to speak the legacy one', async () => {
    const none = new WebSocket(service.wsUrl);
    dispose(async () => none.terminate());
    expect(await new Promise<number>((resolve) => none.once('close', (code) => resolve(code)))).toBe(4406);
    // subscriptions-transport-ws's protocol: the server picks none, so the client gives up.
    const legacy = new WebSocket(service.wsUrl, 'graphql-ws');
    dispose(async () => legacy.terminate());
    const failure = await new Promise<Error>((resolve) => legacy.once('error', resolve));
    expect(failure.message).toMatch(/no subprotocol/i);
  });

  it("survives 300 connections opened at once, each subscribing, while another client's stream runs to its end", async () => {
    const slowMock = await startMock({ wordDelayMs: 20 });
    const target = await startService(slowMock);
    const query = 'subscription S($input: ChatCompletionInput!) { chatCompletionStream(input: $input) { __typename } }';
    // The bystander: one stream on its own connection, started before the flood.
    const bystander = createWsClient(target);
    const bystanderEvents: string[] = [];
    const bystanderDone = new Promise<void>((resolve, reject) => {
      bystander.subscribe(
        { query, variables: { input: input('a bystander') } },
        { next: (result) => bystanderEvents.push(JSON.stringify(result)), error: reject, complete: () => resolve() },
      );
    });
    await until(() => bystanderEvents.length > 0, 5000, 'the bystander to start');
    const flood = Array.from({ length: 300 }, () => openSocket(target.wsUrl));
    await Promise.all(flood.map((connection) => connection.opened));
    for (const [i, { socket }] of flood.entries()) {
      socket.on('message', (data) => {
        if ((JSON.parse(data.toString()) as { type: string }).type !== 'connection_ack') return;
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables: { input: input(`flood ${i}`) } } }));
      });
      socket.send(JSON.stringify({ type: 'connection_init' }));
    }
    await until(() => chatCalls(slowMock) >= 301, 15_000, '300 flood streams upstream');
    // Every flooding client vanishes at once.
    for (const { socket } of flood) socket.terminate();
    await bystanderDone;
    const last = JSON.parse(bystanderEvents.at(-1)!) as { data: { chatCompletionStream: { __typename: string } } };
    expect(last.data.chatCompletionStream.__typename, "the bystander's stream ended whole").toBe('ChatCompletion');
    await until(() => target.app.operations.size === 0 && slowMock.openRequests() === 0, 10_000, 'every flood stream to be aborted');
    // The flood's sockets are gone (the bystander's lazy client closed its own after its stream).
    let connections = await metric(target, 'chatql_websocket_connections');
    for (let tries = 0; tries < 100 && connections !== 0; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      connections = await metric(target, 'chatql_websocket_connections');
    }
    expect(connections, 'open WebSocket connections left').toBe(0);
    await expectStillAnswers(target);
  }, 30_000);
});
