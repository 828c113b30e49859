/**
 * Per-client limits end to end (in-memory counters), against real servers on port 0 and real
 * clients: requests and tokens per minute, live streams at once, the daily token budget, the model
 * allowlists, the maxTokens ceiling, and JSON inputs that try to smuggle fields or prototypes.
 * Every refusal must come before any upstream request, as a typed error, and must not count.
 */
import { randomBytes } from 'node:crypto';

import { print } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';

import type { MockUpstream } from '../../src/mock-upstream/server.js';
import type {
  ChatCompletionInput,
  ChatCompletionMutation as ChatCompletionMutationResult,
  ChatCompletionStreamSubscription as ChatCompletionStreamResult,
  ViewerQuery as ViewerQueryResult,
} from '../gql/graphql.js';
import { createWatchedWsClient, postGraphQL, subscribeSse, subscribeWs } from '../utils/clients.js';
import { chatCalls, startWarmService } from '../utils/answers.js';
import { sha256Hex, writeKeysFile } from '../utils/keys.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription, ModelsQuery, ViewerQuery } from '../utils/operations.js';
import { startMock, type TestService } from '../utils/servers.js';

const KEY_A = `cqa_${randomBytes(20).toString('hex')}`;
const KEY_B = `cqb_${randomBytes(20).toString('hex')}`;
const KEY_C = `cqc_${randomBytes(20).toString('hex')}`;
const A = `Bearer ${KEY_A}`;
const B = `Bearer ${KEY_B}`;
const C = `Bearer ${KEY_C}`;

type Transport = 'HTTP' | 'SSE' | 'graphql-ws';
type StreamEvent = ChatCompletionStreamResult['chatCompletionStream'];
type Outcome = ChatCompletionMutationResult['chatCompletion'] | StreamEvent;
type Viewer = Extract<ViewerQueryResult['viewer'], { __typename: 'Viewer' }>;

/** A CLIENT_KEYS_FILE for clients a, b and c (keys KEY_A, KEY_B, KEY_C), each with `own` on top. */
function keysFile(own: { a?: object; b?: object; c?: object } = {}): string {
  const entry = (id: string, key: string, extra: object = {}) => ({ id, keySha256: sha256Hex(key), ...extra });
  return writeKeysFile([entry('client-a', KEY_A, own.a), entry('client-b', KEY_B, own.b), entry('client-c', KEY_C, own.c)]);
}

function input(extra: Partial<ChatCompletionInput> = {}, model = 'chatql-mock'): ChatCompletionInput {
  return { model, messages: [{ user: { content: 'Hello there' } }], ...extra };
}

/** A service in api-key mode against `mock`, once its models warm-up is over. */
function start(mock: MockUpstream, env: Record<string, string>, own: Parameters<typeof keysFile>[0] = {}): Promise<TestService> {
  return startWarmService(mock, { AUTH_MODE: 'api-key', CLIENT_KEYS_FILE: keysFile(own), ...env });
}

async function ask(service: TestService, transport: Transport, chatInput: ChatCompletionInput, authorization: string): Promise<Outcome> {
  if (transport === 'HTTP') {
    const { status, body } = await postGraphQL(service, ChatCompletionMutation, { input: chatInput }, { headers: { authorization } });
    expect(status).toBe(200);
    expect(body.errors, JSON.stringify(body)).toBeUndefined();
    return body.data!.chatCompletion;
  }
  const subscription =
    transport === 'SSE'
      ? subscribeSse(service, ChatCompletionStreamSubscription, { input: chatInput }, { headers: { authorization } })
      : subscribeWs(createWatchedWsClient(service, { authorization }).client, ChatCompletionStreamSubscription, { input: chatInput });
  await subscription.done;
  const events = subscription.events.map((event) => event.chatCompletionStream);
  const terminal = events.at(-1);
  if (!terminal || terminal.__typename === 'ChatCompletionChunk') throw new Error(`no terminal event: ${JSON.stringify(events)}`);
  expect(events.slice(0, -1).every((event) => event.__typename === 'ChatCompletionChunk')).toBe(true);
  return terminal;
}

/** A refusal: the one event of a stream (no chunk before it), or the mutation's result. */
async function refusal(
  service: TestService,
  transport: Transport,
  chatInput: ChatCompletionInput,
  authorization: string,
): Promise<Outcome> {
  if (transport === 'HTTP') return ask(service, transport, chatInput, authorization);
  const subscription =
    transport === 'SSE'
      ? subscribeSse(service, ChatCompletionStreamSubscription, { input: chatInput }, { headers: { authorization } })
      : subscribeWs(createWatchedWsClient(service, { authorization }).client, ChatCompletionStreamSubscription, { input: chatInput });
  await subscription.done;
  expect(subscription.events).toHaveLength(1);
  return subscription.events[0]!.chatCompletionStream;
}

async function viewer(service: TestService, authorization: string): Promise<Viewer> {
  const { body } = await postGraphQL(service, ViewerQuery, {}, { headers: { authorization } });
  const result = body.data?.viewer;
  if (result?.__typename !== 'Viewer') throw new Error(`expected a Viewer: ${JSON.stringify(body)}`);
  return result;
}

function usageOf(outcome: Outcome): number {
  if (outcome.__typename !== 'ChatCompletion') throw new Error(`expected a completion: ${JSON.stringify(outcome)}`);
  return outcome.usage!.totalTokens;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const TRANSPORTS: Transport[] = ['HTTP', 'SSE', 'graphql-ws'];

describe('requests per minute (CLIENT_REQUESTS_PER_MINUTE)', () => {
  let mock: MockUpstream;

  beforeAll(async () => {
    mock = await startMock();
  });

  it.each(TRANSPORTS)(
    'admits N requests over %s, refuses the next before any upstream call, and leaves other clients alone',
    async (transport) => {
      // client-c's own entry lifts the default.
      const service = await start(mock, { CLIENT_REQUESTS_PER_MINUTE: '3' }, { c: { limits: { requestsPerMinute: null } } });
      const before = chatCalls(mock).length;
      for (let i = 0; i < 3; i += 1) expect((await ask(service, transport, input(), A)).__typename).toBe('ChatCompletion');
      expect(chatCalls(mock).length).toBe(before + 3);

      const refused = await refusal(service, transport, input(), A);
      expect(refused).toMatchObject({ __typename: 'RateLimitError', source: 'SERVICE', retryable: true, limit: 'REQUESTS' });
      expect((refused as { message: string }).message).toMatch(/at most 3 per minute/);
      const retryAfter = (refused as { retryAfterSeconds: number | null }).retryAfterSeconds;
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // Refused again: refusals do not count, and do not reach the upstream.
      expect((await refusal(service, transport, input(), A)).__typename).toBe('RateLimitError');
      await sleep(50);
      expect(chatCalls(mock).length).toBe(before + 3);
      expect((await viewer(service, A)).limits.requestsPerMinute).toMatchObject({ limit: 3, remaining: 0 });

      // Another client has its own count; a third has no limit at all.
      for (let i = 0; i < 3; i += 1) expect((await ask(service, transport, input(), B)).__typename).toBe('ChatCompletion');
      for (let i = 0; i < 5; i += 1) expect((await ask(service, transport, input(), C)).__typename).toBe('ChatCompletion');
      expect((await viewer(service, C)).limits.requestsPerMinute).toBeNull();
      expect(chatCalls(mock).length).toBe(before + 11);
    },
  );
});

describe('tokens per minute (CLIENT_TOKENS_PER_MINUTE)', () => {
  it("reserves a live stream's bound, bounds the next answer by what is left, refuses when under 16 tokens are left, and gives back the unused part", async () => {
    // Slow enough that the stream is live while the other requests are made.
    const mock = await startMock({ wordDelayMs: 30 });
    const service = await start(mock, { CLIENT_TOKENS_PER_MINUTE: '150' });
    // 48 characters: 4 (message) + 12 (text) = 16 prompt tokens; with maxTokens 100, 116 reserved.
    const prompt = 'one two three four five six seven eight nine ten';
    expect(prompt.length).toBe(48);
    const streamed = subscribeSse(
      service,
      ChatCompletionStreamSubscription,
      { input: input({ messages: [{ user: { content: prompt } }], maxTokens: 100 }) },
      { headers: { authorization: A } },
    );
    await streamed.waitForEvents(2);
    expect((await viewer(service, A)).limits.tokensPerMinute).toMatchObject({ limit: 150, remaining: 150 - 116 });

    // 34 left, 4 + 3 = 7 of them for the prompt: the answer may have 27, whatever the request asks.
    const before = chatCalls(mock).length;
    const bounded = await ask(service, 'HTTP', input({ maxTokens: 40 }, 'chatql-mock-long'), A);
    expect((chatCalls(mock).at(-1)!.body as { max_tokens?: number }).max_tokens).toBe(27);
    const boundedUsed = usageOf(bounded);
    expect(bounded).toMatchObject({ choices: [{ finishReason: 'LENGTH' }], usage: { completionTokens: 27 } });

    // Now less than 16 are left for any answer: refused before any upstream call, until the minute turns.
    const refused = await ask(service, 'HTTP', input({ maxTokens: 40 }), A);
    expect(refused).toMatchObject({ __typename: 'RateLimitError', source: 'SERVICE', retryable: true, limit: 'TOKENS' });
    expect((refused as { message: string }).message).toMatch(/at most 150 per minute/);
    const retryAfter = (refused as { retryAfterSeconds: number | null }).retryAfterSeconds!;
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(chatCalls(mock).length).toBe(before + 1);
    // Another client is not affected.
    expect((await ask(service, 'HTTP', input({ maxTokens: 40 }), B)).__typename).toBe('ChatCompletion');

    await streamed.done;
    const streamUsed = usageOf(streamed.events.at(-1)!.chatCompletionStream);
    expect(streamUsed).toBeLessThanOrEqual(116);
    // Both settled with their real usage: what they did not use is back.
    expect((await viewer(service, A)).limits.tokensPerMinute).toMatchObject({ limit: 150, remaining: 150 - streamUsed - boundedUsed });
  });

  it('bounds one answer by the whole allowance: tokensPerMinute 50, maxTokens 1000 → max_tokens 43 sent, at most 50 used', async () => {
    const mock = await startMock();
    const service = await start(mock, { CLIENT_TOKENS_PER_MINUTE: '50' });
    const big = await ask(service, 'HTTP', input({ maxTokens: 1000 }, 'chatql-mock-long'), A);
    expect((chatCalls(mock).at(-1)!.body as { max_tokens?: number }).max_tokens).toBe(50 - 7);
    const used = usageOf(big);
    expect(used).toBeLessThanOrEqual(50);
    expect((await viewer(service, A)).limits.tokensPerMinute).toMatchObject({ limit: 50, remaining: 50 - used });
    // Now it no longer fits.
    expect(await ask(service, 'HTTP', input({ maxTokens: 1000 }), A)).toMatchObject({
      __typename: 'RateLimitError',
      source: 'SERVICE',
      limit: 'TOKENS',
    });
  });

  it('refuses a prompt that can never fit in the allowance as InvalidRequestError at input.messages, not a rate limit', async () => {
    const mock = await startMock();
    const service = await start(mock, { CLIENT_TOKENS_PER_MINUTE: '50' });
    const before = chatCalls(mock).length;
    for (const transport of TRANSPORTS) {
      const refused = await refusal(service, transport, input({ messages: [{ user: { content: 'x'.repeat(200) } }] }), A);
      expect(refused).toMatchObject({
        __typename: 'InvalidRequestError',
        source: 'SERVICE',
        retryable: false,
        param: 'input.messages',
        code: 'prompt_too_large',
      });
    }
    expect(chatCalls(mock).length).toBe(before);
  });
});

describe('live streams at once (CLIENT_CONCURRENT_STREAMS)', () => {
  it.each(['SSE', 'graphql-ws'] as const)(
    'refuses a second live stream over %s, and accepts one once the first is stopped',
    async (transport) => {
      const mock = await startMock({ wordDelayMs: 30 });
      const service = await start(mock, { CLIENT_CONCURRENT_STREAMS: '1' });
      const long = input({
        messages: [{ user: { content: 'a fairly long question that takes the mock some time to quote back word by word' } }],
      });
      // The mock's answers are long: the others are cut short by maxTokens.
      const short = input({ maxTokens: 5 });
      const first =
        transport === 'SSE'
          ? subscribeSse(service, ChatCompletionStreamSubscription, { input: long }, { headers: { authorization: A } })
          : subscribeWs(createWatchedWsClient(service, { authorization: A }).client, ChatCompletionStreamSubscription, { input: long });
      await first.waitForEvents(2);
      expect((await viewer(service, A)).limits.concurrentStreams).toEqual({ limit: 1, remaining: 0, resetsAt: null });

      const before = chatCalls(mock).length;
      const second = await refusal(service, transport, short, A);
      expect(second).toMatchObject({
        __typename: 'RateLimitError',
        source: 'SERVICE',
        retryable: true,
        retryAfterSeconds: null,
        limit: 'CONCURRENT_STREAMS',
      });
      expect((second as { message: string }).message).toMatch(/at most 1 at once/);
      await sleep(50);
      expect(chatCalls(mock).length).toBe(before);
      // A mutation is not a stream; another client's stream is not this client's.
      expect((await ask(service, 'HTTP', short, A)).__typename).toBe('ChatCompletion');
      expect((await ask(service, transport, short, B)).__typename).toBe('ChatCompletion');

      const upstream = chatCalls(mock)[before - 1]!;
      first.stop();
      await upstream.closed;
      expect(upstream.aborted).toBe(true);
      // The slot is freed when the server has seen the client go.
      const deadline = performance.now() + 5000;
      while ((await viewer(service, A)).limits.concurrentStreams?.remaining !== 1) {
        if (performance.now() > deadline) throw new Error('the stream slot was not freed');
        await sleep(20);
      }
      expect((await ask(service, transport, short, A)).__typename).toBe('ChatCompletion');
      // And once that one has ended, another.
      expect((await ask(service, transport, short, A)).__typename).toBe('ChatCompletion');
    },
  );
});

describe('daily token budget (CLIENT_DAILY_TOKENS)', () => {
  it('bounds the answer by what is left of the day, then refuses with BudgetExceededError before any upstream call', async () => {
    const mock = await startMock();
    const service = await start(mock, { CLIENT_DAILY_TOKENS: '100' }, { c: { limits: { dailyTokens: 0 } } });
    // 4 + 24 = 28 prompt tokens: 72 left for the answer, sent upstream as max_tokens.
    const prompt = 'please repeat all of these words back to me so that the usage is well over';
    const first = await ask(service, 'HTTP', input({ messages: [{ user: { content: prompt } }] }, 'chatql-mock-long'), A);
    expect((chatCalls(mock).at(-1)!.body as { max_tokens?: number }).max_tokens).toBe(100 - 4 - Math.ceil(prompt.length / 4));
    const used = usageOf(first);
    const midnight = new Date(new Date().setUTCHours(24, 0, 0, 0)).toISOString();
    expect((await viewer(service, A)).limits.dailyTokens).toEqual({ limit: 100, remaining: Math.max(0, 100 - used), resetsAt: midnight });

    const before = chatCalls(mock).length;
    for (const transport of TRANSPORTS) {
      const refused = await refusal(service, transport, input(), A);
      expect(refused).toMatchObject({ __typename: 'BudgetExceededError', source: 'SERVICE', retryable: false });
      expect((refused as { message: string }).message).toContain(midnight);
    }
    // A budget of 0 refuses at once.
    expect(await ask(service, 'HTTP', input(), C)).toMatchObject({ __typename: 'BudgetExceededError', source: 'SERVICE' });
    await sleep(50);
    expect(chatCalls(mock).length).toBe(before);
    // Another client still has its own budget.
    expect((await ask(service, 'HTTP', input(), B)).__typename).toBe('ChatCompletion');
  });
});

describe('budgets under racing: reserve, then settle (chatql-mock-long answers as long as it may)', () => {
  /** `count` concurrent mutations of client A; what they used in all, from the answers' usage. */
  async function race(service: TestService, count: number): Promise<{ answered: number; used: number; outcomes: Outcome[] }> {
    const outcomes = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        ask(
          service,
          'HTTP',
          input({ messages: [{ user: { content: `Please tell me a long story about the sea, number ${i}.` } }] }, 'chatql-mock-long'),
          A,
        ),
      ),
    );
    const answers = outcomes.filter((outcome) => outcome.__typename === 'ChatCompletion');
    return { answered: answers.length, used: answers.reduce((sum, outcome) => sum + usageOf(outcome), 0), outcomes };
  }

  it('20 concurrent requests of a client with a 1,000-token daily budget use at most 1,250 tokens in all', async () => {
    const mock = await startMock();
    const service = await start(mock, { CLIENT_DAILY_TOKENS: '1000' });
    const { answered, used, outcomes } = await race(service, 20);
    console.log(
      `[limits] 20 concurrent chatql-mock-long requests, daily budget 1000, one replica: ${answered} answered, ${used} tokens used in all`,
    );
    expect(answered).toBeGreaterThanOrEqual(1);
    expect(used).toBeLessThanOrEqual(1250);
    expect(
      outcomes
        .filter((outcome) => outcome.__typename !== 'ChatCompletion')
        .every((outcome) => outcome.__typename === 'BudgetExceededError'),
    ).toBe(true);
    const { remaining } = (await viewer(service, A)).limits.dailyTokens!;
    expect(remaining).toBe(Math.max(0, 1000 - used));
  });

  it('one request of a client with 1,000 tokens a minute and a 1,000-token daily budget uses at most 1,250', async () => {
    const mock = await startMock();
    const service = await start(mock, { CLIENT_TOKENS_PER_MINUTE: '1000', CLIENT_DAILY_TOKENS: '1000' });
    const { used } = await race(service, 1);
    console.log(`[limits] one chatql-mock-long request, 1000 tokens a minute and 1000 a day: ${used} tokens used`);
    expect(used).toBeGreaterThan(500);
    expect(used).toBeLessThanOrEqual(1250);
  });

  it('without a token limit, CLIENT_DEFAULT_ANSWER_TOKENS is not sent; with one, it bounds an unbounded request (set per key too)', async () => {
    const mock = await startMock();
    const service = await start(
      mock,
      { CLIENT_DAILY_TOKENS: '100000', CLIENT_DEFAULT_ANSWER_TOKENS: '300' },
      { b: { limits: { dailyTokens: null } }, c: { limits: { defaultAnswerTokens: 40 } } },
    );
    expect(usageOf(await ask(service, 'HTTP', input({}, 'chatql-mock-long'), A))).toBeLessThanOrEqual(300 + 20);
    expect((chatCalls(mock).at(-1)!.body as { max_tokens?: number }).max_tokens).toBe(300);
    await ask(service, 'HTTP', input({}, 'chatql-mock-long'), B);
    expect((chatCalls(mock).at(-1)!.body as { max_tokens?: number }).max_tokens, 'client-b has no token limit').toBeUndefined();
    await ask(service, 'HTTP', input({}, 'chatql-mock-long'), C);
    expect((chatCalls(mock).at(-1)!.body as { max_tokens?: number }).max_tokens).toBe(40);
    // A smaller bound of the request's own stands, in the field it used.
    await ask(service, 'HTTP', input({ maxCompletionTokens: 25 }, 'chatql-mock-long'), A);
    expect(chatCalls(mock).at(-1)!.body).toMatchObject({ max_completion_tokens: 25 });
  });
});

describe('model allowlists (ALLOWED_MODELS and per-client models)', () => {
  let mock: MockUpstream;
  let service: TestService;

  beforeAll(async () => {
    mock = await startMock();
    service = await start(
      mock,
      { ALLOWED_MODELS: 'chatql-mock, chatql-mock-reasoning,fail-4*' },
      { a: { models: ['chatql-mock', 'fail-40*', 'chatql-mock-refusal'] }, c: { models: null } },
    );
  });

  async function ids(authorization: string): Promise<string[]> {
    const { body } = await postGraphQL(service, ModelsQuery, {}, { headers: { authorization } });
    const result = body.data?.models;
    if (result?.__typename !== 'ModelList') throw new Error(`expected a ModelList: ${JSON.stringify(body)}`);
    return result.models.map((model) => model.id);
  }

  it('lists only the models a client may use', async () => {
    expect(await ids(A)).toEqual(['chatql-mock', 'fail-400', 'fail-401', 'fail-403', 'fail-404']);
    expect(await ids(B)).toEqual(['chatql-mock', 'chatql-mock-reasoning', 'fail-400', 'fail-401', 'fail-403', 'fail-404', 'fail-429']);
    expect((await viewer(service, A)).allowedModels).toEqual(['chatql-mock', 'fail-40*']);
    expect((await viewer(service, B)).allowedModels).toEqual(['chatql-mock', 'chatql-mock-reasoning', 'fail-4*']);
  });

  it.each(TRANSPORTS)(
    'refuses a model outside either list over %s with PermissionDeniedError before any upstream call',
    async (transport) => {
      const before = chatCalls(mock).length;
      const cases: Array<[string, string]> = [
        [A, 'chatql-mock-reasoning'], // the client's own list
        [A, 'chatql-mock-refusal'], // in the client's list, not the service's
        [A, 'fail-429'], // matches the service's prefix, not the client's
        [B, 'chatql-mock-refusal'], // the service's list
        [C, 'fail-500'],
      ];
      for (const [authorization, model] of cases) {
        const refused = await refusal(service, transport, input({}, model), authorization);
        expect(refused, model).toMatchObject({ __typename: 'PermissionDeniedError', source: 'SERVICE', retryable: false });
        expect((refused as { message: string }).message).toBe(`This client may not use the model "${model}".`);
      }
      await sleep(50);
      expect(chatCalls(mock).length).toBe(before);
      // Within both lists: admitted (a prefix entry reaches the upstream's own error).
      expect((await ask(service, transport, input(), A)).__typename).toBe('ChatCompletion');
      expect((await ask(service, transport, input({}, 'fail-404'), A)).__typename).toBe('NotFoundError');
      expect((await ask(service, transport, input({}, 'chatql-mock-reasoning'), B)).__typename).toBe('ChatCompletion');
      expect(chatCalls(mock).length).toBe(before + 3);
    },
  );
});

describe('maxTokens ceiling (CLIENT_MAX_TOKENS)', () => {
  let mock: MockUpstream;
  let service: TestService;

  beforeAll(async () => {
    mock = await startMock();
    service = await start(mock, { CLIENT_MAX_TOKENS: '50' }, { c: { limits: { maxTokens: 10 } } });
  });

  it.each(TRANSPORTS)('refuses more than the ceiling over %s with InvalidRequestError before any upstream call', async (transport) => {
    const before = chatCalls(mock).length;
    const tooMany = await refusal(service, transport, input({ maxTokens: 51 }), A);
    expect(tooMany).toEqual({
      __typename: 'InvalidRequestError',
      message: 'At most 50 tokens may be asked for (input.maxTokens is 51).',
      source: 'SERVICE',
      retryable: false,
      param: 'input.maxTokens',
      code: 'max_tokens_exceeded',
    });
    const completion = await refusal(service, transport, input({ maxCompletionTokens: 51 }), A);
    expect(completion).toMatchObject({
      __typename: 'InvalidRequestError',
      param: 'input.maxCompletionTokens',
      code: 'max_tokens_exceeded',
    });
    expect(await refusal(service, transport, input({ maxTokens: 11 }), C)).toMatchObject({
      __typename: 'InvalidRequestError',
      param: 'input.maxTokens',
    });
    await sleep(50);
    expect(chatCalls(mock).length).toBe(before);
  });

  it('sends the ceiling when the request sets none, and a smaller bound as it is', async () => {
    const before = chatCalls(mock).length;
    expect((await ask(service, 'HTTP', input(), A)).__typename).toBe('ChatCompletion');
    expect((await ask(service, 'SSE', input({ maxTokens: 20 }), A)).__typename).toBe('ChatCompletion');
    expect((await ask(service, 'HTTP', input({ maxTokens: 50 }), A)).__typename).toBe('ChatCompletion');
    expect((await ask(service, 'graphql-ws', input({ maxCompletionTokens: 30 }), A)).__typename).toBe('ChatCompletion');
    expect((await ask(service, 'HTTP', input(), C)).__typename).toBe('ChatCompletion');
    const bodies = chatCalls(mock)
      .slice(before)
      .map((call) => call.body as { max_tokens?: number; max_completion_tokens?: number });
    expect(bodies.map((body) => [body.max_tokens, body.max_completion_tokens])).toEqual([
      [50, undefined],
      [20, undefined],
      [50, undefined],
      [undefined, 30],
      [10, undefined],
    ]);
    expect((await viewer(service, A)).limits.maxTokens).toBe(50);
  });
});

describe('JSON inputs cannot smuggle', () => {
  let mock: MockUpstream;
  let service: TestService;

  beforeAll(async () => {
    mock = await startMock();
    service = await start(mock, { CLIENT_MAX_TOKENS: '50' });
  });

  // Built by JSON.parse, so that `__proto__` is an own key, as it is in a request body.
  const hostileSchema = (): Record<string, unknown> =>
    JSON.parse(
      '{"type":"object","properties":{"__proto__":{"type":"string","polluted":true},"constructor":{"type":"string"},"prototype":{"type":"string"}},' +
        '"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"prototype":{"polluted":true}}',
    ) as Record<string, unknown>;

  it('passes tool parameters and JSON schemas with __proto__, constructor and prototype keys upstream as plain data', async () => {
    const before = chatCalls(mock).length;
    const chatInput = input({
      tools: [{ function: { name: 'lookup', description: 'Looks things up', parameters: hostileSchema() } }],
      responseFormat: { type: 'JSON_SCHEMA', jsonSchema: { name: 'answer', schema: hostileSchema() } },
    });
    expect(Object.keys(chatInput.tools![0]!.function.parameters!)).toContain('__proto__');
    const outcome = await ask(service, 'HTTP', chatInput, A);
    expect(['ChatCompletion', 'InvalidRequestError', 'UpstreamUnavailableError']).toContain(outcome.__typename);
    const calls = chatCalls(mock).slice(before);
    expect(calls).toHaveLength(1);
    const body = calls[0]!.body as {
      tools: Array<{ function: { parameters: unknown } }>;
      response_format: { json_schema: { schema: unknown } };
    };
    expect(JSON.stringify(body.tools[0]!.function.parameters)).toBe(JSON.stringify(hostileSchema()));
    expect(body.tools[0]!.function.parameters).toEqual(hostileSchema());
    expect(JSON.stringify(body.response_format.json_schema.schema)).toBe(JSON.stringify(hostileSchema()));
    expect(Object.getPrototypeOf(body.tools[0]!.function.parameters)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();

    // The same as a literal in the document.
    const literal = `mutation {
      chatCompletion(input: {
        model: "chatql-mock", messages: [{ user: { content: "hi" } }],
        tools: [{ function: { name: "lookup", parameters: { __proto__: { polluted: true }, constructor: { prototype: { polluted: true } }, type: "object" } } }]
      }) { __typename }
    }`;
    const response = await fetch(service.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: A },
      body: JSON.stringify({ query: literal }),
    });
    expect(await response.json()).toEqual({ data: { chatCompletion: { __typename: 'ChatCompletion' } } });
    const sent = chatCalls(mock).at(-1)!.body as { tools: Array<{ function: { parameters: unknown } }> };
    expect(JSON.stringify(sent.tools[0]!.function.parameters)).toBe(
      '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"type":"object"}',
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>]>([
    ['apiKey', { apiKey: 'sk-smuggled-key-000000000000' }],
    ['extraBody', { extraBody: { api_key: 'x', max_tokens: 100000 } }],
    ["max_tokens (the upstream's own name)", { max_tokens: 100000 }],
    ['__proto__', JSON.parse('{"__proto__":{"maxTokens":100000}}') as Record<string, unknown>],
  ])('refuses an unknown input field %s in variables, before any upstream call', async (_name, extra) => {
    const before = chatCalls(mock).length;
    const response = await fetch(service.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: A },
      body: JSON.stringify({ query: print(ChatCompletionMutation), variables: { input: { ...input(), ...extra } } }),
    });
    const body = (await response.json()) as { data?: unknown; errors?: Array<{ message: string }> };
    // A variable that cannot be coerced is a request error: 400 with application/graphql-response+json.
    expect(response.status).toBe(400);
    expect(body.data ?? undefined).toBeUndefined();
    expect(body.errors?.[0]?.message).toMatch(/is not defined by type "ChatCompletionInput"/);
    await sleep(50);
    expect(chatCalls(mock).length).toBe(before);
    expect(({} as Record<string, unknown>).maxTokens).toBeUndefined();
  });

  it('refuses an unknown input field written in the document, before any upstream call', async () => {
    const before = chatCalls(mock).length;
    const response = await fetch(service.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: A },
      body: JSON.stringify({
        query:
          'mutation { chatCompletion(input: { model: "chatql-mock", messages: [{ user: { content: "hi" } }], apiKey: "x" }) { __typename } }',
      }),
    });
    const body = (await response.json()) as { data?: unknown; errors?: Array<{ message: string }> };
    expect(body.data ?? undefined).toBeUndefined();
    expect(body.errors?.[0]?.message).toMatch(/"apiKey" is not defined by type "ChatCompletionInput"/);
    await sleep(50);
    expect(chatCalls(mock).length).toBe(before);
  });
});
