/**
 * A client that leaves must abort its upstream request at once (the issue asks for 100 ms; the
 * bound asserted here is a generous 1000 ms, measured from the client's action to the moment the
 * mock upstream saw its request close). Covered for every way of leaving (graphql-ws `complete`,
 * the WebSocket closed or torn down, the SSE request aborted, the mutation's HTTP request aborted)
 * and every moment: mid-stream, while the upstream is silent mid-stream (the resolver parked on
 * the next chunk), and before the upstream has sent anything. Afterwards nothing may be left
 * running, and the service must still answer.
 */
import { print } from 'graphql';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

import type { MockUpstream, RecordedRequest } from '../../src/mock-upstream/server.js';
import type { ChatCompletionInput } from '../gql/graphql.js';
import { createWsClient, postGraphQL, subscribeSse, subscribeWs } from '../utils/clients.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription } from '../utils/operations.js';
import { dispose, startMock, startService, type TestService, until } from '../utils/servers.js';

/** The target is 100 ms; the machine is shared and noisy, so the assertion is looser. */
const ABORT_BOUND_MS = 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function input(model: string, prompt: string, extra: Partial<ChatCompletionInput> = {}): ChatCompletionInput {
  return { model, messages: [{ user: { content: prompt } }], ...extra };
}

let mock: MockUpstream;
let service: TestService;
const measured: Array<{ what: string; ms: number }> = [];

// A fresh upstream and service per test, so that a leak in one test cannot fail the next.
beforeEach(async () => {
  mock = await startMock({ wordDelayMs: 40 });
  service = await startService(mock);
});

afterAll(() => {
  console.log(
    `[cancellation] client action -> upstream request closed:\n${measured.map(({ what, ms }) => `  ${ms.toFixed(1).padStart(7)} ms  ${what}`).join('\n')}`,
  );
});

let counter = 0;
/** A marker unique to one test, to find its request among the mock's. */
function marker(): string {
  counter += 1;
  return `cancel-case-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

function chatRequestWith(text: string): RecordedRequest | undefined {
  return mock.requests.find((request) => request.path === '/v1/chat/completions' && JSON.stringify(request.body).includes(text));
}

async function waitForChatRequest(text: string): Promise<RecordedRequest> {
  await until(() => chatRequestWith(text) !== undefined, 5000, `the upstream request ${text}`);
  return chatRequestWith(text)!;
}

/** Runs `leave` and measures how long until the mock saw `request` close; asserts it was an abort. */
async function measureAbort(what: string, request: RecordedRequest, leave: () => void): Promise<number> {
  expect(request.closedAt, 'the upstream request is still open before the client leaves').toBeUndefined();
  const startedAt = performance.now();
  leave();
  await Promise.race([request.closed, sleep(5000)]);
  expect(request.closedAt, 'the upstream request was closed').toBeDefined();
  const ms = request.closedAt! - startedAt;
  measured.push({ what, ms });
  console.log(`[cancellation] ${what}: upstream request closed ${ms.toFixed(1)} ms after the client left`);
  expect(request.aborted, 'the upstream response was cut short, not finished').toBe(true);
  expect(ms).toBeLessThan(ABORT_BOUND_MS);
  return ms;
}

/** Nothing left running, and the service still answers both a mutation and a stream correctly. */
async function expectServiceRecovered(): Promise<void> {
  await until(() => mock.openRequests() === 0, 3000, 'the mock to have no open request');
  await until(() => service.app.operations.size === 0, 3000, 'the service to have no running operation');

  const prompt = `Still there? ${marker()}`;
  const { status, body } = await postGraphQL(service, ChatCompletionMutation, { input: input('chatql-mock', prompt) });
  expect(status).toBe(200);
  const result = body.data?.chatCompletion;
  expect(result?.__typename).toBe('ChatCompletion');
  if (result?.__typename === 'ChatCompletion') {
    expect(result.choices[0]?.message.content?.startsWith(`You said: "${prompt}". `)).toBe(true);
  }

  const subscription = subscribeSse(service, ChatCompletionStreamSubscription, { input: input('chatql-mock', prompt, { maxTokens: 3 }) });
  await subscription.done;
  const terminal = subscription.events.at(-1)?.chatCompletionStream;
  expect(terminal?.__typename).toBe('ChatCompletion');
  if (terminal?.__typename === 'ChatCompletion') {
    expect(terminal.choices[0]?.message.content).toBe(`You said: "Still`);
    expect(terminal.choices[0]?.finishReason).toBe('LENGTH');
  }
  await until(() => service.app.operations.size === 0 && mock.openRequests() === 0, 3000, 'the check to finish');
}

// ---------- ways of subscribing and leaving ----------

interface Running {
  /** Events received so far. */
  events(): number;
  /** Leave, the way this client does. */
  leave(): void;
  /** Checks of this client's own, once the service has recovered. */
  afterwards?(): Promise<void>;
}

interface Leaver {
  name: string;
  start(chatInput: ChatCompletionInput): Running;
}

/**
 * A bare graphql-transport-ws client: it can send `complete` while keeping the connection open (the
 * graphql-ws client closes a lazy connection as soon as its last subscription ends, which would hide
 * a missing `complete` handling behind the socket close), and tear the socket down without a close frame.
 */
class RawGraphQLWs {
  readonly socket: WebSocket;
  private readonly streams = new Map<string, { events: unknown[]; complete: () => void }>();
  private readonly ready: Promise<void>;
  private counter = 0;

  constructor(url: string) {
    this.socket = new WebSocket(url, 'graphql-transport-ws');
    this.socket.on('error', () => undefined);
    const socket = this.socket;
    dispose(async () => socket.terminate());
    this.ready = new Promise((resolve) => {
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { type: string; id?: string; payload?: unknown };
        if (message.type === 'connection_ack') resolve();
        const stream = message.id === undefined ? undefined : this.streams.get(message.id);
        if (message.type === 'next') stream?.events.push(message.payload);
        if (message.type === 'complete' || message.type === 'error') stream?.complete();
      });
    });
  }

  subscribe(chatInput: ChatCompletionInput): { id: string; events: unknown[]; completed: Promise<void> } {
    const id = `op-${++this.counter}`;
    const events: unknown[] = [];
    const completed = new Promise<void>((resolve) => this.streams.set(id, { events, complete: resolve }));
    void this.ready.then(() =>
      this.socket.send(
        JSON.stringify({
          id,
          type: 'subscribe',
          payload: { query: print(ChatCompletionStreamSubscription), variables: { input: chatInput } },
        }),
      ),
    );
    return { id, events, completed };
  }

  complete(id: string): void {
    this.socket.send(JSON.stringify({ id, type: 'complete' }));
  }
}

const leavers: Leaver[] = [
  {
    name: 'graphql-ws complete, connection kept open',
    start: (chatInput) => {
      const client = new RawGraphQLWs(service.wsUrl);
      const stream = client.subscribe(chatInput);
      return {
        events: () => stream.events.length,
        leave: () => client.complete(stream.id),
        afterwards: async () => {
          // The connection survived the complete, and serves a new subscription.
          expect(client.socket.readyState).toBe(WebSocket.OPEN);
          const next = client.subscribe(input('chatql-mock', 'Once more', { maxTokens: 3 }));
          await next.completed;
          expect(next.events.at(-1)).toMatchObject({
            data: { chatCompletionStream: { __typename: 'ChatCompletion', choices: [{ message: { content: 'You said: "Once' } }] } },
          });
        },
      };
    },
  },
  {
    name: 'graphql-ws client unsubscribes (complete, then its lazy close)',
    start: (chatInput) => {
      const subscription = subscribeWs(createWsClient(service), ChatCompletionStreamSubscription, { input: chatInput });
      return { events: () => subscription.events.length, leave: () => subscription.stop() };
    },
  },
  {
    name: 'WebSocket closed by the client (client.dispose())',
    start: (chatInput) => {
      const client = createWsClient(service);
      const subscription = subscribeWs(client, ChatCompletionStreamSubscription, { input: chatInput });
      return { events: () => subscription.events.length, leave: () => void client.dispose() };
    },
  },
  {
    name: 'WebSocket torn down (socket.terminate(), no close frame)',
    start: (chatInput) => {
      const client = new RawGraphQLWs(service.wsUrl);
      const stream = client.subscribe(chatInput);
      return { events: () => stream.events.length, leave: () => client.socket.terminate() };
    },
  },
  {
    name: 'SSE request aborted',
    start: (chatInput) => {
      const subscription = subscribeSse(service, ChatCompletionStreamSubscription, { input: chatInput });
      return { events: () => subscription.events.length, leave: () => subscription.stop() };
    },
  },
];

interface Phase {
  name: string;
  model: string;
  /** Resolves when the stream is in this phase. */
  reach(running: Running, request: RecordedRequest): Promise<void>;
}

const phases: Phase[] = [
  {
    name: 'mid-stream (paced upstream)',
    model: 'chatql-mock',
    reach: async (running) => {
      // The role chunk and four words: the answer is flowing, 40 ms between words.
      await until(() => running.events() >= 5, 5000, 'five chunks');
    },
  },
  {
    name: 'while the upstream is silent mid-stream (fail-stall)',
    model: 'fail-stall',
    reach: async (running, request) => {
      // fail-stall sends the role chunk and three words, then nothing, with the socket open.
      await until(() => running.events() >= 4, 5000, 'the chunks before the stall');
      await sleep(300);
      expect(running.events(), 'nothing more arrives once the upstream stalls').toBe(4);
      expect(request.closedAt).toBeUndefined();
    },
  },
  {
    name: 'before the upstream sent anything (fail-hang)',
    model: 'fail-hang',
    reach: async (running) => {
      await sleep(300);
      expect(running.events()).toBe(0);
    },
  },
];

describe.each(phases)('a subscription left $name', (phase) => {
  it.each(leavers)('aborts its upstream request at once: $name', async (leaver) => {
    const text = marker();
    const running = leaver.start(input(phase.model, `Keep talking ${text}`));
    const request = await waitForChatRequest(text);
    await phase.reach(running, request);
    expect(service.app.operations.size).toBe(1);
    const eventsBefore = running.events();

    await measureAbort(`${leaver.name}, ${phase.name}`, request, () => running.leave());

    await expectServiceRecovered();
    await running.afterwards?.();
    // The departed client got nothing more (a torn-down or aborted transport cannot; a completed one must not).
    expect(running.events()).toBeLessThanOrEqual(eventsBefore + 1);
  });
});

describe('a mutation whose HTTP request the client aborts', () => {
  it('aborts its upstream request at once while the upstream hangs (fail-hang)', async () => {
    const text = marker();
    const controller = new AbortController();
    const answer = postGraphQL(
      service,
      ChatCompletionMutation,
      { input: input('fail-hang', `Hello? ${text}`) },
      { signal: controller.signal },
    );
    answer.catch(() => undefined);
    const request = await waitForChatRequest(text);
    await sleep(300);
    expect(service.app.operations.size).toBe(1);

    await measureAbort('mutation HTTP request aborted, upstream hanging (fail-hang)', request, () => controller.abort());
    await expect(answer).rejects.toThrow(/abort/i);

    await expectServiceRecovered();
  });
});
