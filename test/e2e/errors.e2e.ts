/**
 * Every failure of an operation, end to end: the real service on port 0 in front of the mock
 * upstream, driven by real clients (HTTP POST for the mutation, graphql-ws and SSE for the
 * subscription). Covers the mapping of upstream answers to the result unions, mid-stream
 * failures, the retry policy (counted in the mock's recorded requests), the service's own input
 * validation, key redaction in answers and logs, and the models query's errors.
 */

import { print } from 'graphql';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { errorEnvelope } from '../../src/mock-upstream/errors.js';
import type { MockUpstream, ScriptedResponse } from '../../src/mock-upstream/server.js';
import type { ChatCompletionInput, ChatMessageInput } from '../gql/graphql.js';
import { createWsClient, postGraphQL, subscribeWs } from '../utils/clients.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription, ModelsQuery } from '../utils/operations.js';
import { ALL_TRANSPORTS, ask, chatCalls, expectError, startWarmService, SUBSCRIPTION_TRANSPORTS, UPSTREAM_KEY } from '../utils/answers.js';
import { refusedPort, startMock, startService, type TestService, until } from '../utils/servers.js';

/** Some other provider key an upstream might echo. */
const OTHER_KEY = 'sk-proj-Zx8Qw2Er4Ty6Ui8Op0AsDfGh';

function input(model = 'chatql-mock', extra: Partial<ChatCompletionInput> = {}): ChatCompletionInput {
  return { model, messages: [{ user: { content: 'Hello there' } }], ...extra };
}

/** A port on which nothing listens: bound, then closed. */
async function refusedBaseUrl(): Promise<string> {
  return `http://127.0.0.1:${await refusedPort()}/v1`;
}

function times(count: number, response: ScriptedResponse): ScriptedResponse[] {
  return Array.from({ length: count }, () => response);
}

// ---------------------------------------------------------------------------------------------

let mock: MockUpstream;
let service: TestService;

beforeAll(async () => {
  mock = await startMock();
  service = await startWarmService(mock);
});

beforeEach(() => {
  mock.reset();
});

interface UpstreamCase {
  name: string;
  /** Scripted answer, given to every attempt (the queue is cleared before each test). */
  scripted?: ScriptedResponse;
  /** Or a mock model whose catalogue behaviour fails. */
  model?: string;
  expected: Record<string, unknown>;
  /** Upstream chat calls: 1 when final at once, 3 when retried (UPSTREAM_MAX_RETRIES 2). */
  calls: 1 | 3;
}

const invalid = (param: string | null, code: string | null) => ({
  __typename: 'InvalidRequestError',
  source: 'UPSTREAM',
  retryable: false,
  param,
  code,
});
const plain = (typename: string, retryable: boolean) => ({ __typename: typename, source: 'UPSTREAM', retryable });
const unavailable = (status: number | null) => ({ ...plain('UpstreamUnavailableError', true), status });
const rateLimit = (retryAfterSeconds: number | null) => ({ ...plain('RateLimitError', true), retryAfterSeconds });
const budget = plain('BudgetExceededError', false);

const UPSTREAM_CASES: UpstreamCase[] = [
  {
    name: '400 context_length_exceeded → InvalidRequestError with the upstream param and code',
    scripted: {
      status: 400,
      body: errorEnvelope(
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 8227 tokens. Please reduce the length of the messages.",
        'invalid_request_error',
        'messages',
        'context_length_exceeded',
      ),
    },
    expected: invalid('messages', 'context_length_exceeded'),
    calls: 1,
  },
  {
    name: '413 request_too_large → InvalidRequestError',
    scripted: {
      status: 413,
      body: errorEnvelope('The request body is too large.', 'invalid_request_error', null, 'request_too_large'),
    },
    expected: invalid(null, 'request_too_large'),
    calls: 1,
  },
  {
    name: '422 → InvalidRequestError with the upstream param and code',
    scripted: {
      status: 422,
      body: errorEnvelope('temperature: Input should be less than or equal to 2', 'invalid_request_error', 'temperature', 'invalid_value'),
    },
    expected: invalid('temperature', 'invalid_value'),
    calls: 1,
  },
  {
    name: '409 (retried) → InvalidRequestError once the retries are exhausted',
    scripted: {
      status: 409,
      body: errorEnvelope('The request conflicts with another one in progress.', 'invalid_request_error', 'seed', 'conflict'),
    },
    expected: invalid('seed', 'conflict'),
    calls: 3,
  },
  {
    name: 'mock fail-400 → InvalidRequestError',
    model: 'fail-400',
    expected: invalid('messages', 'context_length_exceeded'),
    calls: 1,
  },
  {
    name: '401 → AuthenticationError',
    scripted: {
      status: 401,
      body: errorEnvelope('Incorrect API key provided.', 'invalid_request_error', null, 'invalid_api_key'),
    },
    expected: plain('AuthenticationError', false),
    calls: 1,
  },
  { name: 'mock fail-401 → AuthenticationError', model: 'fail-401', expected: plain('AuthenticationError', false), calls: 1 },
  { name: 'mock fail-403 → PermissionDeniedError', model: 'fail-403', expected: plain('PermissionDeniedError', false), calls: 1 },
  {
    name: '403 → PermissionDeniedError',
    scripted: {
      status: 403,
      body: errorEnvelope('You are not allowed to use this model.', 'permission_error', null, null),
    },
    expected: plain('PermissionDeniedError', false),
    calls: 1,
  },
  { name: 'mock fail-404 → NotFoundError', model: 'fail-404', expected: plain('NotFoundError', false), calls: 1 },
  {
    name: '404 (vLLM NotFoundError) → NotFoundError',
    scripted: {
      status: 404,
      body: errorEnvelope('The model `gpt-9` does not exist.', 'NotFoundError', null, 404),
    },
    expected: plain('NotFoundError', false),
    calls: 1,
  },
  {
    name: '429 with retry-after-ms 5500 → RateLimitError, retryAfterSeconds 5.5, not retried',
    scripted: {
      status: 429,
      headers: { 'retry-after-ms': '5500' },
      body: errorEnvelope('Rate limit reached for requests.', 'requests', null, 'rate_limit_exceeded'),
    },
    expected: rateLimit(5.5),
    calls: 1,
  },
  {
    name: '429 with Retry-After 30 → RateLimitError, retryAfterSeconds 30, not retried',
    scripted: {
      status: 429,
      headers: { 'Retry-After': '30' },
      body: errorEnvelope('Rate limit reached for tokens.', 'tokens', null, 'rate_limit_exceeded'),
    },
    expected: rateLimit(30),
    calls: 1,
  },
  {
    name: 'mock fail-429 (retry-after 30) → RateLimitError, retryAfterSeconds 30',
    model: 'fail-429',
    expected: rateLimit(30),
    calls: 1,
  },
  {
    name: '429 without Retry-After (retried) → RateLimitError without retryAfterSeconds',
    scripted: {
      status: 429,
      body: errorEnvelope('Rate limit reached for requests.', 'requests', null, 'rate_limit_exceeded'),
    },
    expected: rateLimit(null),
    calls: 3,
  },
  { name: 'mock fail-budget (LiteLLM 429 budget_exceeded) → BudgetExceededError', model: 'fail-budget', expected: budget, calls: 1 },
  {
    name: 'LiteLLM 2026 429 budget_exceeded → BudgetExceededError, not retried',
    scripted: {
      status: 429,
      body: errorEnvelope(
        'Budget has been exceeded! Key=e7fb0c Current cost: 0.0, Estimated request cost: 3.64, Max budget: 2.5',
        'budget_exceeded',
        null,
        '429',
      ),
    },
    expected: budget,
    calls: 1,
  },
  {
    name: 'LiteLLM v1.80 400 budget_exceeded → BudgetExceededError',
    scripted: {
      status: 400,
      body: errorEnvelope('Budget has been exceeded! Current cost: 0.0, Max budget: -7.0', 'budget_exceeded', null, '400'),
    },
    expected: budget,
    calls: 1,
  },
  {
    name: 'LiteLLM 2024 400 auth_error "Budget has been exceeded!" → BudgetExceededError',
    scripted: {
      status: 400,
      body: errorEnvelope('Budget has been exceeded! Current cost: 0.0010747, Max budget: 0.0', 'auth_error', null, 400),
    },
    expected: budget,
    calls: 1,
  },
  {
    name: 'LiteLLM end-user 401 "over budget" → BudgetExceededError',
    scripted: {
      status: 401,
      body: errorEnvelope(
        'ExceededBudget: End User=ishaan3 over budget. Spend=0.0008869999999999999, Budget=0.0001',
        'auth_error',
        'None',
        401,
      ),
    },
    expected: budget,
    calls: 1,
  },
  {
    name: '408 (retried) → UpstreamTimeoutError',
    scripted: { status: 408, body: errorEnvelope('Request timed out.', 'timeout', null, null) },
    expected: plain('UpstreamTimeoutError', true),
    calls: 3,
  },
  {
    name: '500 (retried) → UpstreamUnavailableError with status 500',
    scripted: {
      status: 500,
      body: errorEnvelope('The server had an error while processing your request.', 'server_error', null, null),
    },
    expected: unavailable(500),
    calls: 3,
  },
  { name: 'mock fail-500 (retried) → UpstreamUnavailableError with status 500', model: 'fail-500', expected: unavailable(500), calls: 3 },
  {
    name: '502 with a non-envelope body (retried) → UpstreamUnavailableError with status 502',
    scripted: { status: 502, body: '<html><body>502 Bad Gateway</body></html>' },
    expected: unavailable(502),
    calls: 3,
  },
  {
    name: '503 (retried) → UpstreamUnavailableError with status 503',
    scripted: {
      status: 503,
      body: errorEnvelope('The engine is currently overloaded, please try again later.', 'server_error', null, null),
    },
    expected: unavailable(503),
    calls: 3,
  },
  {
    name: 'connection reset (retried) → UpstreamUnavailableError without status',
    scripted: { action: 'reset' },
    expected: unavailable(null),
    calls: 3,
  },
];

describe('upstream HTTP failures become typed union members', () => {
  describe.each(ALL_TRANSPORTS)('over %s', (transport) => {
    it.each(UPSTREAM_CASES)('$name', async ({ scripted, model, expected, calls }) => {
      // One more scripted failure than the retry budget: a fourth call would still fail.
      if (scripted) mock.enqueue(...times(4, scripted));
      const answer = await ask(service, transport, input(model));
      expectError(answer, expected);
      expect(answer.chunks).toEqual([]);
      expect(chatCalls(mock)).toHaveLength(calls);
    });
  });
});

describe('failures without an upstream answer', () => {
  describe('header timeout (UPSTREAM_TIMEOUT_MS=300, fail-hang)', () => {
    let hangMock: MockUpstream;
    let timeoutService: TestService;
    beforeAll(async () => {
      hangMock = await startMock();
      timeoutService = await startWarmService(hangMock, { UPSTREAM_TIMEOUT_MS: '300' });
    });
    beforeEach(() => hangMock.reset());

    it.each(ALL_TRANSPORTS)('over %s → UpstreamTimeoutError after one call, not retried', async (transport) => {
      const answer = await ask(timeoutService, transport, input('fail-hang'));
      expectError(answer, plain('UpstreamTimeoutError', true));
      expect(answer.ms).toBeGreaterThanOrEqual(250);
      expect(answer.ms).toBeLessThan(1500);
      expect(chatCalls(hangMock)).toHaveLength(1);
    });
  });

  describe('refused connection', () => {
    let refusedService: TestService;
    let baseUrl: string;
    beforeAll(async () => {
      baseUrl = await refusedBaseUrl();
      refusedService = await startService(null, { OPENAI_BASE_URL: baseUrl });
    });

    it.each(ALL_TRANSPORTS)('over %s → UpstreamUnavailableError without status', async (transport) => {
      const answer = await ask(refusedService, transport, input());
      expectError(answer, unavailable(null));
      expect(answer.raw).not.toContain(baseUrl);
      expect(answer.raw).not.toContain(new URL(baseUrl).host);
      // Two retries with backoff (at most 250 + 500 ms) and nothing else to wait for.
      expect(answer.ms).toBeLessThan(3000);
    });
  });
});

interface MidStreamCase {
  model: string;
  expected: Record<string, unknown>;
}

const MID_STREAM_CASES: MidStreamCase[] = [
  { model: 'fail-break', expected: unavailable(null) },
  { model: 'fail-no-finish', expected: plain('UpstreamUnavailableError', true) },
  { model: 'fail-stream-error', expected: rateLimit(null) },
  { model: 'fail-vllm-error', expected: { ...plain('InvalidRequestError', false), param: null } },
];

describe('mid-stream failures: chunks, then exactly one error event, then completion', () => {
  describe.each(SUBSCRIPTION_TRANSPORTS)('over %s', (transport) => {
    it.each(MID_STREAM_CASES)('$model', async ({ model, expected }) => {
      const answer = await ask(service, transport, input(model));
      expect(answer.chunks.length).toBeGreaterThan(0);
      const text = answer.chunks.map((chunk) => chunk.choices.map((choice) => choice.delta.content ?? '').join('')).join('');
      expect(text.length).toBeGreaterThan(0);
      expectError(answer, expected);
      expect(answer.raw).not.toContain('"__typename":"ChatCompletion"');
      // A stream that has sent a chunk is never retried.
      expect(chatCalls(mock)).toHaveLength(1);
      // Afterwards: the upstream request closed, and the service answers a normal request.
      await until(() => mock.openRequests() === 0, 5000, 'the upstream request to be closed');
      expect((await ask(service, 'mutation', input())).outcome.__typename, 'the service still answers').toBe('ChatCompletion');
    });
  });

  describe('the same models through the mutation (non-streaming behaviour)', () => {
    it('fail-break (connection dropped without an answer, retried) → UpstreamUnavailableError', async () => {
      const answer = await ask(service, 'mutation', input('fail-break'));
      expectError(answer, unavailable(null));
      expect(chatCalls(mock)).toHaveLength(3);
    });

    it('fail-stream-error (HTTP 429, LiteLLM body, no Retry-After) → RateLimitError', async () => {
      const answer = await ask(service, 'mutation', input('fail-stream-error'));
      expectError(answer, rateLimit(null));
      // A 429 without Retry-After is retried with backoff.
      expect(chatCalls(mock)).toHaveLength(3);
    });

    it('fail-vllm-error (HTTP 400, vLLM flat body) → InvalidRequestError, one call', async () => {
      const answer = await ask(service, 'mutation', input('fail-vllm-error'));
      expectError(answer, plain('InvalidRequestError', false));
      expect(chatCalls(mock)).toHaveLength(1);
    });
  });
});

describe('retries (UPSTREAM_MAX_RETRIES 2)', () => {
  const overloaded: ScriptedResponse = {
    status: 503,
    body: errorEnvelope('The engine is currently overloaded.', 'server_error', null, null),
  };

  describe.each(ALL_TRANSPORTS)('over %s', (transport) => {
    it('503, then the normal answer → a ChatCompletion after 2 calls (a stream retried before its first chunk)', async () => {
      mock.enqueue(overloaded);
      const answer = await ask(service, transport, input());
      expect(answer.outcome.__typename, answer.raw).toBe('ChatCompletion');
      if (transport !== 'mutation') expect(answer.chunks.length).toBeGreaterThan(0);
      const calls = chatCalls(mock);
      expect(calls).toHaveLength(2);
      expect(calls[1]?.body).toEqual(calls[0]?.body);
    });

    it('a reset, then the normal answer → a ChatCompletion after 2 calls', async () => {
      mock.enqueue({ action: 'reset' });
      const answer = await ask(service, transport, input());
      expect(answer.outcome.__typename, answer.raw).toBe('ChatCompletion');
      expect(chatCalls(mock)).toHaveLength(2);
    });

    it('429 with retry-after-ms 100, then the normal answer → a ChatCompletion after waiting ~100 ms', async () => {
      mock.enqueue({
        status: 429,
        headers: { 'retry-after-ms': '100' },
        body: errorEnvelope('Rate limit reached for requests.', 'requests', null, 'rate_limit_exceeded'),
      });
      const answer = await ask(service, transport, input());
      expect(answer.outcome.__typename, answer.raw).toBe('ChatCompletion');
      const calls = chatCalls(mock);
      expect(calls).toHaveLength(2);
      expect(calls[1]!.receivedAt - calls[0]!.receivedAt).toBeGreaterThanOrEqual(95);
    });

    it('429 with Retry-After 30 → RateLimitError at once, after exactly 1 call', async () => {
      mock.enqueue({
        status: 429,
        headers: { 'retry-after': '30' },
        body: errorEnvelope('Rate limit reached for requests.', 'requests', null, 'rate_limit_exceeded'),
      });
      const answer = await ask(service, transport, input());
      expectError(answer, rateLimit(30));
      expect(chatCalls(mock)).toHaveLength(1);
      expect(answer.ms).toBeLessThan(1500);
    });

    it('500 three times → UpstreamUnavailableError after exactly 3 calls (a 4th would have succeeded)', async () => {
      mock.enqueue(...times(3, { status: 500, body: errorEnvelope('The server had an error.', 'server_error', null, null) }));
      const answer = await ask(service, transport, input());
      expectError(answer, unavailable(500));
      expect(chatCalls(mock)).toHaveLength(3);
    });

    it('400 → InvalidRequestError after 1 call (a 2nd would have succeeded)', async () => {
      mock.enqueue({ status: 400, body: errorEnvelope('Invalid value for stop.', 'invalid_request_error', 'stop', 'invalid_value') });
      const answer = await ask(service, transport, input());
      expectError(answer, invalid('stop', 'invalid_value'));
      expect(chatCalls(mock)).toHaveLength(1);
    });
  });

  it.each(SUBSCRIPTION_TRANSPORTS)('over %s, fail-break is not retried once a chunk was sent: exactly 1 call', async (transport) => {
    const answer = await ask(service, transport, input('fail-break'));
    expect(answer.chunks.length).toBeGreaterThan(0);
    expectError(answer, unavailable(null));
    expect(chatCalls(mock)).toHaveLength(1);
  });

  describe('UPSTREAM_MAX_RETRIES=0', () => {
    let noRetryMock: MockUpstream;
    let noRetryService: TestService;
    beforeAll(async () => {
      noRetryMock = await startMock();
      noRetryService = await startWarmService(noRetryMock, { UPSTREAM_MAX_RETRIES: '0' });
    });
    beforeEach(() => noRetryMock.reset());

    it.each(ALL_TRANSPORTS)('over %s, a 503 is final after 1 call', async (transport) => {
      noRetryMock.enqueue(overloaded);
      const answer = await ask(noRetryService, transport, input());
      expectError(answer, unavailable(503));
      expect(chatCalls(noRetryMock)).toHaveLength(1);
    });
  });
});

interface ValidationCase {
  name: string;
  input: ChatCompletionInput;
  param: string;
}

const VALIDATION_CASES: ValidationCase[] = [
  { name: 'empty messages', input: { model: 'chatql-mock', messages: [] }, param: 'input.messages' },
  {
    name: 'a user message with both content and parts',
    input: {
      model: 'chatql-mock',
      messages: [{ system: { content: 'Be brief.' } }, { user: { content: 'Hi', parts: [{ text: 'Hi' }] } }],
    },
    param: 'input.messages.1.user',
  },
  {
    name: 'a user message with neither content nor parts',
    input: { model: 'chatql-mock', messages: [{ user: { name: 'ann' } }] },
    param: 'input.messages.0.user',
  },
  { name: 'temperature 2.5', input: input('chatql-mock', { temperature: 2.5 }), param: 'input.temperature' },
  { name: 'topP 1.5', input: input('chatql-mock', { topP: 1.5 }), param: 'input.topP' },
  { name: 'presencePenalty -3', input: input('chatql-mock', { presencePenalty: -3 }), param: 'input.presencePenalty' },
  { name: 'maxTokens 0', input: input('chatql-mock', { maxTokens: 0 }), param: 'input.maxTokens' },
  { name: 'topLogprobs 21', input: input('chatql-mock', { logprobs: true, topLogprobs: 21 }), param: 'input.topLogprobs' },
  { name: 'topLogprobs without logprobs', input: input('chatql-mock', { topLogprobs: 3 }), param: 'input.topLogprobs' },
  {
    name: 'responseFormat JSON_SCHEMA without jsonSchema',
    input: input('chatql-mock', { responseFormat: { type: 'JSON_SCHEMA' } }),
    param: 'input.responseFormat.jsonSchema',
  },
  {
    name: 'a tool message whose toolCallId matches no earlier assistant tool call',
    input: {
      model: 'chatql-mock',
      messages: [
        { user: { content: 'Weather in Oslo?' } },
        {
          assistant: {
            toolCalls: [{ id: 'call_known', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }],
          },
        },
        { tool: { toolCallId: 'call_unknown', content: '{"celsius":3}' } },
      ],
    },
    param: 'input.messages.2.tool.toolCallId',
  },
];

describe('validation before any upstream call', () => {
  describe.each(ALL_TRANSPORTS)('over %s', (transport) => {
    it.each(VALIDATION_CASES)('$name → InvalidRequestError at $param', async ({ input: chatInput, param }) => {
      const answer = await ask(service, transport, chatInput);
      expectError(answer, { __typename: 'InvalidRequestError', source: 'SERVICE', retryable: false, param });
      expect(answer.chunks).toEqual([]);
      expect(mock.requests).toHaveLength(0);
    });
  });

  const ONE_OF_CASES: Array<{ name: string; message: unknown }> = [
    { name: 'a message with two roles', message: { system: { content: 'Be brief.' }, user: { content: 'Hi' } } },
    { name: 'an empty message {}', message: {} },
  ];

  describe.each(ALL_TRANSPORTS)('GraphQL validation (@oneOf) over %s', (transport) => {
    it.each(ONE_OF_CASES)('$name → a top-level GraphQL error, no upstream call', async ({ message }) => {
      const bad: ChatCompletionInput = { model: 'chatql-mock', messages: [message as ChatMessageInput] };
      if (transport === 'mutation') {
        const { body } = await postGraphQL(service, ChatCompletionMutation, { input: bad });
        expect(body.data ?? null).toBeNull();
        expect(body.errors?.length).toBeGreaterThan(0);
        expect(JSON.stringify(body.errors)).toMatch(/oneof|exactly one/i);
      } else if (transport === 'graphql-ws') {
        const subscription = subscribeWs(createWsClient(service), ChatCompletionStreamSubscription, { input: bad });
        const failure = await subscription.done.then(
          () => new Error('the subscription completed instead of failing'),
          (error: unknown) => error,
        );
        expect(failure instanceof Error ? failure.message : JSON.stringify(failure)).toMatch(/oneof|exactly one/i);
        expect(subscription.events).toEqual([]);
      } else {
        // Read the SSE answer whole: Yoga refuses before execution (GraphQL over HTTP), with the errors in the body.
        const response = await fetch(service.httpUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
          body: JSON.stringify({ query: print(ChatCompletionStreamSubscription), variables: { input: bad } }),
        });
        const text = await response.text();
        expect(text).toMatch(/oneof|exactly one/i);
        expect(text).not.toContain('chatCompletionStream');
      }
      expect(mock.requests).toHaveLength(0);
    });
  });
});

interface LeakCase {
  name: string;
  /** A word of the body that the failure's log line must carry. */
  marker: string;
  typename: string;
  /** The scripted answer, given the upstream's base URL (known once the mock runs). */
  scripted: (upstreamUrl: string) => ScriptedResponse;
}

const LEAK_CASES: LeakCase[] = [
  {
    name: '401 echoing the configured key',
    marker: 'marker-auth-401',
    typename: 'AuthenticationError',
    scripted: () => ({
      status: 401,
      body: errorEnvelope(
        `Incorrect API key provided: ${UPSTREAM_KEY}. You can find your API key at https://platform.openai.com/account/api-keys. marker-auth-401`,
        'invalid_request_error',
        null,
        'invalid_api_key',
      ),
    }),
  },
  {
    name: '400 naming another key and the upstream URL',
    marker: 'marker-bad-400',
    typename: 'InvalidRequestError',
    scripted: (url) => ({
      status: 400,
      body: errorEnvelope(
        `Upstream ${url}/chat/completions refused deployment key ${OTHER_KEY} (marker-bad-400)`,
        'invalid_request_error',
        'model',
        'invalid_deployment',
      ),
    }),
  },
  {
    name: '500 with all three (retried)',
    marker: 'marker-crash-500',
    typename: 'UpstreamUnavailableError',
    scripted: (url) => ({
      status: 500,
      body: errorEnvelope(
        `proxy error calling ${url} with Authorization: Bearer ${UPSTREAM_KEY} after ${OTHER_KEY} failed: marker-crash-500`,
        'server_error',
        null,
        null,
      ),
    }),
  },
  {
    name: '429 quoting the key and the upstream URL',
    marker: 'marker-rate-429',
    typename: 'RateLimitError',
    scripted: (url) => ({
      status: 429,
      headers: { 'retry-after': '20' },
      body: errorEnvelope(`Rate limit reached for key ${UPSTREAM_KEY} at ${url}. marker-rate-429`, 'requests', null, 'rate_limit_exceeded'),
    }),
  },
];

describe('secrets in upstream error bodies never reach a client or a log line', () => {
  describe.each(ALL_TRANSPORTS)('over %s', (transport) => {
    it.each(LEAK_CASES)('$name', async ({ marker, typename, scripted }) => {
      mock.enqueue(...times(4, scripted(mock.url)));
      const answer = await ask(service, transport, input());
      expectError(answer, { __typename: typename, source: 'UPSTREAM' });
      for (const secret of [UPSTREAM_KEY, OTHER_KEY, mock.url, `127.0.0.1:${mock.port}`]) {
        expect(answer.raw).not.toContain(secret);
      }
      // The operator still gets the upstream's body, redacted.
      await until(() => service.rawLogs.some((line) => line.includes(marker)), 2000, 'the failure log line');
      const logged = service.rawLogs.filter((line) => line.includes(marker));
      expect(logged.some((line) => line.includes('[redacted]'))).toBe(true);
      for (const line of service.rawLogs) {
        expect(line).not.toContain(UPSTREAM_KEY);
        expect(line).not.toContain(OTHER_KEY);
      }
    });
  });
});

/**
 * Upstreams do put stack traces in error messages: LiteLLM returns Python tracebacks with its
 * install paths (BerriAI/litellm#30948, #10997), and Node proxies forward `err.stack`. The
 * contract's `Error.message` "never holds a key, a stack or an upstream URL".
 */
const STACK_CASES: Array<{ name: string; message: string; frames: RegExp }> = [
  {
    name: 'a Python traceback (LiteLLM)',
    message:
      'litellm.BadRequestError: VertexAIException - Invalid content\nTraceback (most recent call last):\n' +
      '  File "/usr/lib/python3.13/site-packages/litellm/main.py", line 620, in acompletion\n' +
      '    response = await init_response\n' +
      '  File "/usr/lib/python3.13/site-packages/litellm/llms/vertex_ai/gemini/transformation.py", line 781, in _transform_request_body\n' +
      '    raise e\n',
    frames: /Traceback \(most recent call last\)|File "\/usr\/lib/,
  },
  {
    name: 'a Node stack',
    message:
      "TypeError: Cannot read properties of undefined (reading 'choices')\n" +
      '    at handler (/srv/proxy/dist/routes/chat.js:41:17)\n' +
      '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
    frames: /\n\s+at |\/srv\/proxy/,
  },
];

describe('stack traces in upstream error messages are not passed on', () => {
  describe.each(ALL_TRANSPORTS)('over %s', (transport) => {
    it.each(STACK_CASES)('$name', async ({ message, frames }) => {
      mock.enqueue({ status: 400, body: errorEnvelope(message, 'invalid_request_error', null, null) });
      const answer = await ask(service, transport, input());
      expect(answer.outcome, answer.raw).toMatchObject(plain('InvalidRequestError', false));
      if (answer.outcome.__typename === 'ChatCompletion') throw new Error('expected an error');
      expect(answer.outcome.message).not.toMatch(frames);
      expect(answer.raw).not.toContain('    at ');
    });
  });
});

describe('the models query maps upstream failures too', () => {
  it('an upstream that rejects the key → AuthenticationError', async () => {
    const guarded = await startMock({ apiKey: 'other' });
    const modelsService = await startService(guarded);
    const { status, body } = await postGraphQL(modelsService, ModelsQuery, {});
    const raw = JSON.stringify(body);
    expect(body.errors, raw).toBeUndefined();
    expect(status).toBe(200);
    expect(body.data?.models).toMatchObject({ __typename: 'AuthenticationError', source: 'UPSTREAM', retryable: false });
    expect(raw).not.toContain(UPSTREAM_KEY);
    expect(raw).not.toContain(guarded.url);
    expect(raw).not.toContain('    at ');
    expect(guarded.requests.some((request) => request.path === '/v1/models')).toBe(true);
  });

  it('a refused connection → UpstreamUnavailableError', async () => {
    const baseUrl = await refusedBaseUrl();
    const modelsService = await startService(null, { OPENAI_BASE_URL: baseUrl });
    const { status, body } = await postGraphQL(modelsService, ModelsQuery, {});
    const raw = JSON.stringify(body);
    expect(body.errors, raw).toBeUndefined();
    expect(status).toBe(200);
    expect(body.data?.models).toMatchObject({ ...unavailable(null) });
    expect(raw).not.toContain(baseUrl);
    expect(raw).not.toContain('    at ');
  });
});
