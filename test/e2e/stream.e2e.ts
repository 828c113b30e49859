/**
 * `chatCompletionStream` end to end, over graphql-ws and over SSE: the real service in front of the
 * mock upstream, driven by real clients. Each chunk must be passed on as it arrives, the stream must
 * end with exactly one terminal event (after the usage chunk), and the terminal ChatCompletion must
 * be what the chunks add up to and what the mutation answers for the same input.
 */
import type { Client } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';

import type { MockUpstream, RecordedRequest } from '../../src/mock-upstream/server.js';
import { REFUSAL_TEXT, tokenize } from '../../src/mock-upstream/reply.js';
import type {
  ChatCompletionInput,
  ChatCompletionMutation as MutationResult,
  ChatCompletionStreamSubscription as StreamResult,
} from '../gql/graphql.js';
import { createWsClient, postGraphQL, type Subscription, subscribeSse, subscribeWs } from '../utils/clients.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription } from '../utils/operations.js';
import { startMock, startService, type TestService, until } from '../utils/servers.js';

type StreamEvent = StreamResult['chatCompletionStream'];
type Chunk = Extract<StreamEvent, { __typename: 'ChatCompletionChunk' }>;
type StreamCompletion = Extract<StreamEvent, { __typename: 'ChatCompletion' }>;
type MutationCompletion = Extract<MutationResult['chatCompletion'], { __typename: 'ChatCompletion' }>;

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function input(model: string, prompt: string, extra: Partial<ChatCompletionInput> = {}): ChatCompletionInput {
  return { model, messages: [{ user: { content: prompt } }], ...extra };
}

const TOOLS: ChatCompletionInput['tools'] = [
  {
    function: {
      name: 'get_weather',
      description: 'The weather in a city.',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
        required: ['city'],
      },
    },
  },
  {
    function: {
      name: 'get_time',
      description: 'The local time somewhere.',
      parameters: {
        type: 'object',
        properties: { timezone: { type: 'string', format: 'uuid' }, days: { type: 'integer', minimum: 3 } },
      },
    },
  },
];

// ---------- transports ----------

interface Transport {
  name: string;
  subscribe(service: TestService, input: ChatCompletionInput): Subscription<StreamResult>;
}

const wsClients = new Map<TestService, Client>();

function wsClientFor(service: TestService): Client {
  let client = wsClients.get(service);
  if (!client) {
    client = createWsClient(service);
    wsClients.set(service, client);
  }
  return client;
}

const transports: Transport[] = [
  {
    name: 'graphql-ws',
    subscribe: (service, input) => subscribeWs(wsClientFor(service), ChatCompletionStreamSubscription, { input }),
  },
  {
    name: 'SSE',
    subscribe: (service, input) => subscribeSse(service, ChatCompletionStreamSubscription, { input }),
  },
];

// ---------- helpers ----------

function isChunk(event: StreamEvent): event is Chunk {
  return event.__typename === 'ChatCompletionChunk';
}

interface Finished {
  events: StreamEvent[];
  chunks: Chunk[];
  terminal: StreamEvent;
}

/**
 * Waits for the stream to complete, then checks the shape every stream has: chunks only, then
 * exactly one terminal event, then completion, and nothing after it.
 */
async function finish(subscription: Subscription<StreamResult>): Promise<Finished> {
  await subscription.done;
  const count = subscription.events.length;
  // Anything sent after completion would show up here.
  await sleep(100);
  expect(subscription.events.length).toBe(count);
  const events = subscription.events.map((event) => event.chatCompletionStream);
  expect(events.length).toBeGreaterThan(0);
  const terminal = events.at(-1)!;
  const nonChunks = events.filter((event) => !isChunk(event));
  expect(nonChunks, 'exactly one terminal event').toHaveLength(1);
  expect(isChunk(terminal), 'the last event is the terminal one').toBe(false);
  return { events, chunks: events.slice(0, -1) as Chunk[], terminal };
}

function completionOf(terminal: StreamEvent): StreamCompletion {
  if (terminal.__typename !== 'ChatCompletion') {
    throw new Error(`expected a terminal ChatCompletion, got ${JSON.stringify(terminal)}`);
  }
  return terminal;
}

/** The usage chunk: empty choices and usage set; exactly one, right before the terminal event. */
function usageChunkOf(chunks: Chunk[]): Chunk {
  const withUsage = chunks.filter((chunk) => chunk.usage !== null);
  expect(withUsage, 'exactly one chunk carries usage').toHaveLength(1);
  const usageChunk = withUsage[0]!;
  expect(usageChunk.choices).toEqual([]);
  expect(chunks.at(-1), 'the usage chunk comes last, before the terminal event').toBe(usageChunk);
  return usageChunk;
}

type DeltaField = 'content' | 'refusal' | 'reasoningContent';

/** The concatenation of one delta field over all chunks; null when no chunk set it. */
function joinDeltas(chunks: Chunk[], field: DeltaField): string | null {
  let parts: string[] | null = null;
  for (const chunk of chunks) {
    for (const choice of chunk.choices) {
      const value = choice.delta[field];
      if (typeof value === 'string') (parts ??= []).push(value);
    }
  }
  return parts === null ? null : parts.join('');
}

/** Indexes of the chunks whose delta has a non-empty `field`. */
function chunkIndexesWith(chunks: Chunk[], field: DeltaField): number[] {
  return chunks.flatMap((chunk, index) => (chunk.choices.some((choice) => (choice.delta[field] ?? '') !== '') ? [index] : []));
}

async function mutate(service: TestService, chatInput: ChatCompletionInput): Promise<MutationCompletion> {
  const { status, body } = await postGraphQL(service, ChatCompletionMutation, { input: chatInput });
  expect(status).toBe(200);
  expect(body.errors).toBeUndefined();
  const result = body.data?.chatCompletion;
  if (result?.__typename !== 'ChatCompletion') throw new Error(`expected a ChatCompletion, got ${JSON.stringify(result)}`);
  return result;
}

/** Checks the common terminal facts: one choice, its content = the chunks' deltas, usage = the usage chunk. */
function checkTerminal(finished: Finished): StreamCompletion {
  const completion = completionOf(finished.terminal);
  const usageChunk = usageChunkOf(finished.chunks);
  expect(completion.created).toMatch(ISO_UTC);
  expect(Number.isNaN(Date.parse(completion.created))).toBe(false);
  expect(Math.abs(Date.parse(completion.created) - Date.now())).toBeLessThan(5 * 60_000);
  expect(completion.choices).toHaveLength(1);
  const choice = completion.choices[0]!;
  expect(choice.index).toBe(0);
  expect(choice.message.content).toBe(joinDeltas(finished.chunks, 'content'));
  expect(choice.message.refusal).toBe(joinDeltas(finished.chunks, 'refusal'));
  expect(choice.message.reasoningContent).toBe(joinDeltas(finished.chunks, 'reasoningContent'));
  expect(completion.usage).not.toBeNull();
  expect({
    promptTokens: completion.usage!.promptTokens,
    completionTokens: completion.usage!.completionTokens,
    totalTokens: completion.usage!.totalTokens,
    cost: completion.usage!.cost,
  }).toEqual(usageChunk.usage);
  expect(completion.usage!.totalTokens).toBe(completion.usage!.promptTokens + completion.usage!.completionTokens);
  // Every chunk of one completion shares the completion's id and model.
  for (const chunk of finished.chunks) {
    expect(chunk.id).toBe(completion.id);
    expect(chunk.model).toBe(completion.model);
  }
  // The finish reason travels on exactly one chunk (the mock's finish chunk), the one before the usage chunk.
  const finishChunks = finished.chunks.filter((chunk) => chunk.choices.some((c) => c.finishReason !== null));
  expect(finishChunks).toHaveLength(1);
  expect(finishChunks[0]!.choices[0]!.finishReason).toBe(choice.finishReason);
  return completion;
}

/** The terminal ChatCompletion must equal the mutation's answer in everything but ids and time. */
function comparable(completion: StreamCompletion | MutationCompletion) {
  return {
    model: completion.model,
    systemFingerprint: completion.systemFingerprint,
    choices: completion.choices.map((choice) => ({
      index: choice.index,
      finishReason: choice.finishReason,
      content: choice.message.content,
      refusal: choice.message.refusal,
      reasoningContent: choice.message.reasoningContent,
      toolCalls: choice.message.toolCalls.map((call) => call.function),
      logprobs: choice.logprobs,
    })),
    usage: completion.usage,
  };
}

function chatRequestWith(mock: MockUpstream, marker: string): RecordedRequest | undefined {
  return mock.requests.find((request) => request.path === '/v1/chat/completions' && JSON.stringify(request.body).includes(marker));
}

// ---------- servers ----------

let fastMock: MockUpstream;
let fast: TestService;
let pacedMock: MockUpstream;
let paced: TestService;
let interleaved: TestService;

beforeAll(async () => {
  fastMock = await startMock();
  fast = await startService(fastMock);
  pacedMock = await startMock({ wordDelayMs: 40 });
  paced = await startService(pacedMock);
  interleaved = await startService(await startMock({ wordDelayMs: 5 }));
});

describe.each(transports)('chatCompletionStream over $name', (transport) => {
  it('passes every chunk on the moment it arrives, not buffered', async () => {
    const marker = `pace-${transport.name}`;
    const chatInput = input('chatql-mock', `Please ${marker} yourself`, { maxTokens: 30 });
    const subscription = transport.subscribe(paced, chatInput);

    const arrivals: number[] = [];
    let openAtFirstChunk: boolean | undefined;
    let openAtFirstContent: boolean | undefined;
    for (let count = 1; ; count = subscription.events.length + 1) {
      await subscription.waitForEvents(count);
      const now = performance.now();
      while (arrivals.length < subscription.events.length) {
        const index = arrivals.length;
        arrivals.push(now);
        const event = subscription.events[index]!.chatCompletionStream;
        const request = chatRequestWith(pacedMock, marker);
        if (index === 0) openAtFirstChunk = request !== undefined && request.closedAt === undefined;
        if (openAtFirstContent === undefined && isChunk(event) && (event.choices[0]?.delta.content ?? '') !== '') {
          openAtFirstContent = request !== undefined && request.closedAt === undefined;
        }
      }
      if (!isChunk(subscription.events.at(-1)!.chatCompletionStream)) break;
    }
    const finished = await finish(subscription);
    const completion = checkTerminal(finished);
    expect(completion.choices[0]!.finishReason).toBe('LENGTH');

    const request = chatRequestWith(pacedMock, marker)!;
    expect(request.aborted).toBe(false);
    const upstreamMs = request.closedAt! - request.receivedAt;
    const chunkArrivals = arrivals.slice(0, finished.chunks.length);
    const spreadMs = chunkArrivals.at(-1)! - chunkArrivals[0]!;
    const gaps = chunkArrivals.slice(1).map((at, i) => at - chunkArrivals[i]!);
    const separateArrivals = gaps.filter((gap) => gap >= 15).length;
    console.log(
      `[stream ${transport.name}] upstream open ${upstreamMs.toFixed(0)} ms; client saw ${finished.chunks.length} chunks ` +
        `spread over ${spreadMs.toFixed(0)} ms, ${separateArrivals} of them >= 15 ms after the one before`,
    );

    expect(openAtFirstChunk, 'the first chunk arrived while the upstream request was still open').toBe(true);
    expect(openAtFirstContent, 'the first content chunk arrived while the upstream request was still open').toBe(true);
    // 30 words 40 ms apart: the upstream took over a second; the client must see that pacing too.
    expect(upstreamMs).toBeGreaterThan(800);
    expect(spreadMs).toBeGreaterThan(0.5 * upstreamMs);
    expect(separateArrivals).toBeGreaterThanOrEqual(15);
  });

  it('ends with the usage chunk, then exactly one terminal ChatCompletion equal to the mutation', async () => {
    const chatInput = input('chatql-mock', `Hello over ${transport.name}, how are you?`);
    const expected = await mutate(fast, chatInput);
    const finished = await finish(transport.subscribe(fast, chatInput));
    const completion = checkTerminal(finished);
    const choice = completion.choices[0]!;

    expect(choice.finishReason).toBe('STOP');
    expect(choice.message.content).toMatch(/^You said: "Hello over .*, how are you\?"\. /);
    expect(choice.message.content).toBe(expected.choices[0]!.message.content);
    expect(choice.message.refusal).toBeNull();
    expect(choice.message.reasoningContent).toBeNull();
    expect(choice.message.toolCalls).toEqual([]);
    expect(choice.logprobs).toBeNull();
    expect(completion.model).toBe('chatql-mock');
    expect(comparable(completion)).toEqual(comparable(expected));
    // The content came in many chunks (word by word), not as one.
    expect(chunkIndexesWith(finished.chunks, 'content').length).toBe(tokenize(choice.message.content!).length);
    expect(completion.usage!.completionTokens).toBe(tokenize(choice.message.content!).length);
  });

  it('streams tool-call deltas by index and ends with whole calls equal to the mutation', async () => {
    const chatInput = input('chatql-mock', `What is the weather and the time (${transport.name})?`, { tools: TOOLS });
    const expected = await mutate(fast, chatInput);
    const finished = await finish(transport.subscribe(fast, chatInput));
    const completion = checkTerminal(finished);
    const choice = completion.choices[0]!;

    expect(choice.finishReason).toBe('TOOL_CALLS');
    expect(choice.message.content).toBeNull();
    expect(choice.message.toolCalls).toHaveLength(2);

    // Assemble the calls from the deltas by index, as a client would.
    const assembled = new Map<number, { id: string | null; name: string; arguments: string; fragments: number }>();
    for (const chunk of finished.chunks) {
      for (const delta of chunk.choices[0]?.delta.toolCalls ?? []) {
        const call = assembled.get(delta.index) ?? { id: null, name: '', arguments: '', fragments: 0 };
        if (delta.id) {
          expect(call.id, 'the id comes once, in the first fragment').toBeNull();
          call.id = delta.id;
        }
        call.name += delta.function?.name ?? '';
        call.arguments += delta.function?.arguments ?? '';
        call.fragments += 1;
        assembled.set(delta.index, call);
      }
    }
    expect([...assembled.keys()].sort()).toEqual([0, 1]);
    for (const [index, call] of assembled) {
      expect(call.fragments, 'arguments arrive in several fragments').toBeGreaterThan(2);
      const whole = choice.message.toolCalls[index]!;
      expect(whole.id).toBe(call.id);
      expect(whole.id).toMatch(/^call_/);
      expect(whole.function).toEqual({ name: call.name, arguments: call.arguments });
    }

    const names = choice.message.toolCalls.map((call) => call.function.name);
    expect(names).toEqual(['get_weather', 'get_time']);
    for (const call of choice.message.toolCalls) expect(() => JSON.parse(call.function.arguments) as unknown).not.toThrow();
    expect(JSON.parse(choice.message.toolCalls[0]!.function.arguments)).toEqual({ city: 'Paris', unit: 'celsius' });
    expect(choice.message.toolCalls.map((call) => call.function)).toEqual(
      expected.choices[0]!.message.toolCalls.map((call) => call.function),
    );
    expect(comparable(completion)).toEqual(comparable(expected));
  });

  it('streams reasoning before the answer (chatql-mock-reasoning)', async () => {
    const chatInput = input('chatql-mock-reasoning', `Think about ${transport.name} first`);
    const expected = await mutate(fast, chatInput);
    const finished = await finish(transport.subscribe(fast, chatInput));
    const completion = checkTerminal(finished);
    const choice = completion.choices[0]!;

    const reasoningAt = chunkIndexesWith(finished.chunks, 'reasoningContent');
    const contentAt = chunkIndexesWith(finished.chunks, 'content');
    expect(reasoningAt.length).toBeGreaterThan(3);
    expect(contentAt.length).toBeGreaterThan(3);
    expect(Math.max(...reasoningAt), 'all reasoning comes before the content').toBeLessThan(Math.min(...contentAt));
    expect(choice.message.reasoningContent).toMatch(/^The user wrote \d+ words\./);
    expect(choice.message.content).toMatch(/^You said: "Think about/);
    expect(choice.finishReason).toBe('STOP');
    expect(completion.usage!.completionTokensDetails?.reasoningTokens).toBe(reasoningAt.length);
    expect(completion.usage!.completionTokensDetails?.reasoningTokens).toBeGreaterThan(0);
    expect(comparable(completion)).toEqual(comparable(expected));
  });

  it('streams a refusal with content null (chatql-mock-refusal)', async () => {
    const chatInput = input('chatql-mock-refusal', `Do something bad over ${transport.name}`);
    const expected = await mutate(fast, chatInput);
    const finished = await finish(transport.subscribe(fast, chatInput));
    const completion = checkTerminal(finished);
    const choice = completion.choices[0]!;

    expect(chunkIndexesWith(finished.chunks, 'refusal').length).toBe(tokenize(REFUSAL_TEXT).length);
    expect(chunkIndexesWith(finished.chunks, 'content')).toEqual([]);
    expect(choice.message.refusal).toBe(REFUSAL_TEXT);
    expect(choice.message.content).toBeNull();
    expect(choice.finishReason).toBe('STOP');
    expect(comparable(completion)).toEqual(comparable(expected));
  });

  it('streams logprobs per token (logprobs: true, topLogprobs: 2)', async () => {
    const chatInput = input('chatql-mock', `Logprobs over ${transport.name}`, { logprobs: true, topLogprobs: 2 });
    const expected = await mutate(fast, chatInput);
    const finished = await finish(transport.subscribe(fast, chatInput));
    const completion = checkTerminal(finished);
    const choice = completion.choices[0]!;

    const streamed = finished.chunks.flatMap((chunk) => chunk.choices[0]?.logprobs?.content ?? []);
    const tokens = tokenize(choice.message.content!);
    expect(streamed.map((entry) => entry.token)).toEqual(tokens);
    for (const entry of streamed) {
      expect(entry.logprob).toBeLessThan(0);
      expect(entry.logprob).toBeGreaterThan(-1.6);
    }
    // Each content chunk carries the logprob of its own token.
    for (const chunk of finished.chunks) {
      const delta = chunk.choices[0]?.delta.content;
      if (delta) expect(chunk.choices[0]!.logprobs?.content?.map((entry) => entry.token)).toEqual([delta]);
    }
    const whole = choice.logprobs?.content ?? [];
    expect(whole).toHaveLength(tokens.length);
    expect(whole.map(({ token, logprob }) => ({ token, logprob }))).toEqual(streamed);
    for (const entry of whole) {
      expect(entry.topLogprobs).toHaveLength(2);
      expect(entry.topLogprobs[0]!.token).toBe(entry.token);
      expect(entry.bytes).toEqual([...Buffer.from(entry.token, 'utf8')]);
    }
    expect(choice.logprobs).toEqual(expected.choices[0]!.logprobs);
    expect(comparable(completion)).toEqual(comparable(expected));
  });

  it('stops at maxTokens: 3 with finish reason LENGTH and three words', async () => {
    const chatInput = input('chatql-mock', `Hello there, ${transport.name}`, { maxTokens: 3 });
    const expected = await mutate(fast, chatInput);
    const finished = await finish(transport.subscribe(fast, chatInput));
    const completion = checkTerminal(finished);
    const choice = completion.choices[0]!;

    expect(choice.finishReason).toBe('LENGTH');
    expect(choice.message.content).toBe('You said: "Hello');
    expect(tokenize(choice.message.content!)).toHaveLength(3);
    expect(chunkIndexesWith(finished.chunks, 'content')).toHaveLength(3);
    expect(completion.usage!.completionTokens).toBe(3);
    expect(comparable(completion)).toEqual(comparable(expected));
  });

  it('keeps 20 concurrent streams apart, each with its own correct answer', async () => {
    const prompts = Array.from({ length: 20 }, (_, i) => `Concurrent prompt number ${i} (${'x'.repeat(i)}) over ${transport.name}`);
    const inputs = prompts.map((prompt) => input('chatql-mock', prompt));
    const expected = await Promise.all(inputs.map((chatInput) => mutate(interleaved, chatInput)));

    let connections = 0;
    let unsubscribe: (() => void) | undefined;
    if (transport.name === 'graphql-ws') unsubscribe = wsClientFor(interleaved).on('connected', () => void connections++);
    const subscriptions = inputs.map((chatInput) => transport.subscribe(interleaved, chatInput));
    // All twenty are running at the same time: each has had chunks before any has finished.
    await Promise.all(subscriptions.map((subscription) => subscription.waitForEvents(3)));
    const runningTogether = subscriptions.filter((subscription) =>
      subscription.events.every((event) => isChunk(event.chatCompletionStream)),
    ).length;
    const results = await Promise.all(subscriptions.map((subscription) => finish(subscription)));
    unsubscribe?.();

    if (transport.name === 'graphql-ws') expect(connections, 'all streams shared one WebSocket connection').toBe(1);
    expect(runningTogether).toBeGreaterThanOrEqual(15);
    const ids = new Set<string>();
    results.forEach((finished, i) => {
      const completion = checkTerminal(finished);
      const content = completion.choices[0]!.message.content!;
      expect(content.startsWith(`You said: "${prompts[i]}". `)).toBe(true);
      expect(content).toBe(expected[i]!.choices[0]!.message.content);
      expect(completion.choices[0]!.finishReason).toBe('STOP');
      ids.add(completion.id);
    });
    expect(ids.size, 'every stream is its own completion').toBe(20);
    await until(() => interleaved.app.operations.size === 0, 5000, 'operations to end');
  });
});
