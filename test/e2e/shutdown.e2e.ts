/**
 * Graceful shutdown, in process: `app.stop(graceMs)`. Readiness turns 503 at once while liveness
 * stays 200; new operations are refused with a retryable error and cost no upstream call; running
 * streams get `graceMs` to finish whole, then the rest end with a retryable error (never a
 * truncated ChatCompletion) and their upstream requests are aborted; finally every connection is
 * closed and new ones are refused. (The real process and SIGTERM are tested elsewhere.)
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

import { beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

import type { MockUpstream, RecordedRequest } from '../../src/mock-upstream/server.js';
import type { ChatCompletionInput, ChatCompletionStreamSubscription as StreamResult } from '../gql/graphql.js';
import { createWsClient, postGraphQL, type Subscription, subscribeSse, subscribeWs } from '../utils/clients.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription } from '../utils/operations.js';
import { dispose, startMock, startService, type TestService, until } from '../utils/servers.js';

type StreamEvent = StreamResult['chatCompletionStream'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Generous: the machine is shared and noisy. */
const MARGIN_MS = 3000;

function input(model: string, prompt: string, extra: Partial<ChatCompletionInput> = {}): ChatCompletionInput {
  return { model, messages: [{ user: { content: prompt } }], ...extra };
}

let counter = 0;
function marker(): string {
  counter += 1;
  return `shutdown-case-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

let pacedMock: MockUpstream;
let quickMock: MockUpstream;

beforeAll(async () => {
  // A long reply at 40 ms a word takes about 4 s: longer than any grace used here.
  pacedMock = await startMock({ wordDelayMs: 40 });
  // The same reply at 15 ms a word takes about 1.5 s: well within a 10 s grace.
  quickMock = await startMock({ wordDelayMs: 15 });
});

function chatRequests(mock: MockUpstream): RecordedRequest[] {
  return mock.requests.filter((request) => request.path === '/v1/chat/completions');
}

function chatRequestWith(mock: MockUpstream, text: string): RecordedRequest | undefined {
  return chatRequests(mock).find((request) => JSON.stringify(request.body).includes(text));
}

async function waitForChatRequest(mock: MockUpstream, text: string): Promise<RecordedRequest> {
  await until(() => chatRequestWith(mock, text) !== undefined, 5000, `the upstream request ${text}`);
  return chatRequestWith(mock, text)!;
}

async function get(service: TestService, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${service.url}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

interface Transport {
  name: string;
  subscribe(service: TestService, chatInput: ChatCompletionInput): Subscription<StreamResult>;
}

const transports: Transport[] = [
  {
    name: 'graphql-ws',
    subscribe: (service, chatInput) => subscribeWs(createWsClient(service), ChatCompletionStreamSubscription, { input: chatInput }),
  },
  {
    name: 'SSE',
    subscribe: (service, chatInput) => subscribeSse(service, ChatCompletionStreamSubscription, { input: chatInput }),
  },
];

function eventsOf(subscription: Subscription<StreamResult>): StreamEvent[] {
  return subscription.events.map((event) => event.chatCompletionStream);
}

/** The stream's events are chunks and then exactly one terminal event; returns that event. */
function terminalOf(events: StreamEvent[]): StreamEvent {
  const terminals = events.filter((event) => event.__typename !== 'ChatCompletionChunk');
  expect(terminals, `exactly one terminal event in ${JSON.stringify(events.map((event) => event.__typename))}`).toHaveLength(1);
  expect(events.at(-1)).toBe(terminals[0]);
  return terminals[0]!;
}

/** The retryable "shutting down" error every refused or stopped operation must get. */
function expectShuttingDown(event: { __typename: string } | undefined): void {
  expect(event).toMatchObject({
    __typename: 'UpstreamUnavailableError',
    retryable: true,
    source: 'SERVICE',
  });
  expect((event as unknown as { message: string }).message).toMatch(/shutting down/i);
}

/** Resolves with the time a promise settled (resolved or rejected) and how. */
async function settled(promise: Promise<unknown>): Promise<{ at: number; ok: boolean; error?: unknown }> {
  try {
    await promise;
    return { at: performance.now(), ok: true };
  } catch (error) {
    return { at: performance.now(), ok: false, error };
  }
}

// ---------- health ----------

describe('health endpoints during shutdown', () => {
  it('/readyz turns 503 as soon as stop() begins while /healthz stays 200 until the server closes', async () => {
    const service = await startService(pacedMock);
    const text = marker();
    const stalled = subscribeSse(service, ChatCompletionStreamSubscription, { input: input('fail-stall', text) });
    await stalled.waitForEvents(4);
    expect((await get(service, '/readyz')).status).toBe(200);
    expect((await get(service, '/healthz')).status).toBe(200);

    const grace = 1500;
    const startedAt = performance.now();
    const stopping = service.app.stop(grace);
    const ready = await get(service, '/readyz');
    const readyAfterMs = performance.now() - startedAt;
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'draining', operations: 1 });
    expect(readyAfterMs).toBeLessThan(1000);
    // The stalled stream is still running: readiness did not wait for it.
    expect(service.app.operations.size).toBe(1);
    expect(stalled.events).toHaveLength(4);

    const health: number[] = [];
    const readiness: number[] = [];
    while (performance.now() - startedAt < grace - 400) {
      health.push((await get(service, '/healthz')).status);
      readiness.push((await get(service, '/readyz')).status);
      await sleep(100);
    }
    console.log(`[shutdown] /readyz 503 after ${readyAfterMs.toFixed(1)} ms; ${health.length} /healthz probes during the grace`);
    expect(health.length).toBeGreaterThanOrEqual(3);
    expect(new Set(health)).toEqual(new Set([200]));
    expect(new Set(readiness)).toEqual(new Set([503]));

    await stopping;
    await expect(fetch(`${service.url}/healthz`)).rejects.toThrow();
    await expect(fetch(`${service.url}/readyz`)).rejects.toThrow();
  });
});

// ---------- refused during the grace ----------

describe('new operations during the grace', () => {
  it('are refused with a retryable UpstreamUnavailableError and make no upstream call', async () => {
    const service = await startService(pacedMock);
    // A stalled stream keeps the service in its grace period while the new operations arrive.
    const keeper = createWsClient(service);
    const stalled = subscribeWs(keeper, ChatCompletionStreamSubscription, { input: input('fail-stall', marker()) });
    await stalled.waitForEvents(4);
    const callsBefore = chatRequests(pacedMock).length;

    const stopping = service.app.stop(2000);

    const mutation = await postGraphQL(service, ChatCompletionMutation, { input: input('chatql-mock', `Late mutation ${marker()}`) });
    expect(mutation.status).toBe(200);
    expect(mutation.body.errors).toBeUndefined();
    expectShuttingDown(mutation.body.data?.chatCompletion);

    const refusedStreams = {
      SSE: subscribeSse(service, ChatCompletionStreamSubscription, { input: input('chatql-mock', `Late SSE ${marker()}`) }),
      'graphql-ws, connection open before stop()': subscribeWs(keeper, ChatCompletionStreamSubscription, {
        input: input('chatql-mock', `Late WS ${marker()}`),
      }),
      'graphql-ws, new connection': subscribeWs(createWsClient(service), ChatCompletionStreamSubscription, {
        input: input('chatql-mock', `Late new WS ${marker()}`),
      }),
    };
    for (const [name, subscription] of Object.entries(refusedStreams)) {
      await expect(subscription.done, `${name} completes`).resolves.toBeUndefined();
      const events = eventsOf(subscription);
      expect(events, `${name}: one event, the error`).toHaveLength(1);
      expectShuttingDown(events[0]);
    }

    expect(chatRequests(pacedMock).length, 'no upstream call for a refused operation').toBe(callsBefore);
    expect(service.app.operations.size).toBe(1);
    await stopping;
  });
});

// ---------- finishing within the grace ----------

describe('a stream that finishes within the grace', () => {
  it('gets its whole ChatCompletion, over graphql-ws and SSE alike, and stop() does not wait out the grace', async () => {
    const service = await startService(quickMock);
    const chatInput = input('chatql-mock', `Finish me ${marker()}`);
    const expected = await postGraphQL(service, ChatCompletionMutation, { input: chatInput });
    const expectedCompletion = expected.body.data?.chatCompletion;
    if (expectedCompletion?.__typename !== 'ChatCompletion') throw new Error('the mutation failed before shutdown');
    const callsBefore = chatRequests(quickMock).length;

    const subscriptions = transports.map((transport) => ({ name: transport.name, subscription: transport.subscribe(service, chatInput) }));
    await Promise.all(subscriptions.map(({ subscription }) => subscription.waitForEvents(3)));
    const requests = chatRequests(quickMock).slice(callsBefore);
    expect(requests).toHaveLength(2);
    expect(
      requests.every((request) => request.closedAt === undefined),
      'the streams are still running',
    ).toBe(true);

    const grace = 10_000;
    const startedAt = performance.now();
    const stopping = service.app.stop(grace);
    for (const { name, subscription } of subscriptions) {
      await expect(subscription.done, `${name} completes`).resolves.toBeUndefined();
      const terminal = terminalOf(eventsOf(subscription));
      expect(terminal.__typename, name).toBe('ChatCompletion');
      if (terminal.__typename === 'ChatCompletion') {
        expect(terminal.choices[0]?.finishReason).toBe('STOP');
        expect(terminal.choices[0]?.message.content).toBe(expectedCompletion.choices[0]?.message.content);
        expect(terminal.usage).toEqual(expectedCompletion.usage);
      }
    }
    await stopping;
    const stopMs = performance.now() - startedAt;
    console.log(`[shutdown] streams finished within the grace; stop(${grace}) resolved after ${stopMs.toFixed(0)} ms`);
    expect(stopMs).toBeLessThan(grace - 2000);
    for (const request of requests) expect(request.aborted, 'the upstream answers were not cut').toBe(false);
  });
});

// ---------- still running when the grace ends ----------

const unfinishedStreams = [
  { what: 'a silent upstream (fail-stall)', model: 'fail-stall' },
  { what: 'a long paced reply', model: 'chatql-mock' },
];

describe.each(transports)('a $name stream still running when the grace ends', (transport) => {
  it.each(unfinishedStreams)('ends with a retryable error, never a truncated ChatCompletion: $what', async ({ model }) => {
    const service = await startService(pacedMock);
    const text = marker();
    const subscription = transport.subscribe(service, input(model, `Talk until shutdown ${text}`));
    await subscription.waitForEvents(4);
    const request = await waitForChatRequest(pacedMock, text);

    const grace = 800;
    const startedAt = performance.now();
    const stopping = settled(service.app.stop(grace));
    const completed = await settled(subscription.done);
    const stopped = await stopping;

    expect(completed.ok, `the stream completes after its terminal event (${String(completed.error)})`).toBe(true);
    const events = eventsOf(subscription);
    expect(
      events.some((event) => event.__typename === 'ChatCompletion'),
      'no truncated ChatCompletion',
    ).toBe(false);
    expectShuttingDown(terminalOf(events));

    expect(stopped.ok).toBe(true);
    // The abort reaches the upstream's socket a moment after the service let go of it.
    await Promise.race([request.closed, sleep(2000)]);
    const terminalMs = completed.at - startedAt;
    const stopMs = stopped.at - startedAt;
    const abortMs = request.closedAt! - startedAt;
    console.log(
      `[shutdown] ${transport.name} ${model}: grace ${grace} ms; upstream aborted at ${abortMs.toFixed(0)} ms, ` +
        `terminal error at ${terminalMs.toFixed(0)} ms, stop() resolved at ${stopMs.toFixed(0)} ms`,
    );
    expect(request.closedAt, 'the upstream request was closed').toBeDefined();
    expect(request.aborted, 'the upstream request was aborted').toBe(true);
    // Not cut before the grace ended, and not long after.
    expect(abortMs).toBeGreaterThanOrEqual(grace - 50);
    expect(abortMs).toBeLessThan(grace + 1000);
    expect(terminalMs).toBeGreaterThanOrEqual(grace - 50);
    expect(stopMs).toBeLessThan(grace + MARGIN_MS);
    expect(service.app.operations.size).toBe(0);
    expect(pacedMock.openRequests()).toBe(0);
  });
});

describe('a mutation still waiting when the grace ends', () => {
  it('gets a retryable UpstreamUnavailableError and its upstream request is aborted (fail-hang)', async () => {
    const service = await startService(pacedMock);
    const text = marker();
    const answer = postGraphQL(service, ChatCompletionMutation, { input: input('fail-hang', `Answer me ${text}`) });
    const request = await waitForChatRequest(pacedMock, text);
    await sleep(100);

    const grace = 800;
    const startedAt = performance.now();
    const stopping = service.app.stop(grace);
    const { status, body } = await answer;
    const answeredMs = performance.now() - startedAt;
    await stopping;
    const stopMs = performance.now() - startedAt;
    await Promise.race([request.closed, sleep(2000)]);
    console.log(
      `[shutdown] mutation on fail-hang: answered at ${answeredMs.toFixed(0)} ms, stop(${grace}) resolved at ${stopMs.toFixed(0)} ms, upstream aborted at ${(request.closedAt! - startedAt).toFixed(0)} ms`,
    );

    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expectShuttingDown(body.data?.chatCompletion);
    expect(request.aborted).toBe(true);
    expect(request.closedAt! - startedAt).toBeGreaterThanOrEqual(grace - 50);
    expect(answeredMs).toBeGreaterThanOrEqual(grace - 50);
    expect(stopMs).toBeLessThan(grace + MARGIN_MS);
  });
});

// ---------- after stop() ----------

/** A bare graphql-transport-ws connection, acknowledged and idle. */
async function openIdleWebSocket(service: TestService): Promise<WebSocket> {
  const socket = new WebSocket(service.wsUrl, 'graphql-transport-ws');
  dispose(async () => socket.terminate());
  socket.on('error', () => undefined);
  await once(socket, 'open');
  socket.send(JSON.stringify({ type: 'connection_init' }));
  const [data] = (await once(socket, 'message')) as [Buffer];
  expect(JSON.parse(data.toString())).toMatchObject({ type: 'connection_ack' });
  return socket;
}

/** A keep-alive HTTP/1.1 connection that has had one answer and sits idle. */
async function openIdleHttpConnection(service: TestService): Promise<Socket> {
  const { port, hostname } = new URL(service.url);
  const socket = connect(Number(port), hostname);
  dispose(async () => socket.destroy());
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(`GET /healthz HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
  let received = '';
  await new Promise<void>((resolve) => {
    socket.on('data', (data: Buffer) => {
      received += data.toString();
      if (received.includes('{"status":"ok"}')) resolve();
    });
  });
  expect(received).toMatch(/^HTTP\/1\.1 200/);
  return socket;
}

describe('after stop() resolves', () => {
  it('every connection is closed and new connections are refused', async () => {
    const service = await startService(pacedMock);
    const idleWebSocket = await openIdleWebSocket(service);
    const wsClosed = once(idleWebSocket, 'close') as Promise<[number, Buffer]>;
    const idleHttp = await openIdleHttpConnection(service);
    let httpClosed = false;
    idleHttp.once('close', () => void (httpClosed = true));

    const client = createWsClient(service);
    const clientClosed = new Promise<number>((resolve) => client.on('closed', (event) => resolve((event as { code: number }).code)));
    const stalled = subscribeWs(client, ChatCompletionStreamSubscription, { input: input('fail-stall', marker()) });
    await stalled.waitForEvents(4);
    const sse = subscribeSse(service, ChatCompletionStreamSubscription, { input: input('fail-stall', marker()) });
    await sse.waitForEvents(4);

    await service.app.stop(500);

    // Give the close events a moment to be delivered to this process's own sockets.
    await until(() => httpClosed && idleWebSocket.readyState === WebSocket.CLOSED, 2000, 'the client sockets to see the close');
    const [code, reason] = await wsClosed;
    console.log(
      `[shutdown] idle WebSocket closed with ${code} "${reason.toString()}"; graphql-ws client closed with ${await clientClosed}`,
    );
    expect(code).toBe(1001);
    expect(httpClosed).toBe(true);
    await clientClosed;
    // The streams stopped by the shutdown got their answer before the connections closed.
    await expect(stalled.done).resolves.toBeUndefined();
    await expect(sse.done).resolves.toBeUndefined();
    expectShuttingDown(terminalOf(eventsOf(stalled)));
    expectShuttingDown(terminalOf(eventsOf(sse)));

    // Nothing is accepted any more: HTTP, WebSocket, or a bare TCP connection.
    await expect(fetch(`${service.url}/healthz`)).rejects.toThrow();
    await expect(postGraphQL(service, ChatCompletionMutation, { input: input('chatql-mock', 'Anyone?') })).rejects.toThrow();
    const late = new WebSocket(service.wsUrl, 'graphql-transport-ws');
    let opened = false;
    late.on('open', () => void (opened = true));
    const [error] = (await once(late, 'error').catch((caught: unknown) => [caught])) as [Error & { code?: string }];
    expect(opened).toBe(false);
    expect(error.code ?? error.message).toMatch(/ECONNREFUSED/);
    const tcp = connect(Number(new URL(service.url).port), '127.0.0.1');
    const [tcpError] = (await once(tcp, 'error').catch((caught: unknown) => [caught])) as [Error & { code?: string }];
    expect(tcpError.code).toBe('ECONNREFUSED');

    // stop() is idempotent: a second call resolves at once.
    const again = performance.now();
    await service.app.stop(5000);
    expect(performance.now() - again).toBeLessThan(100);
  });
});
