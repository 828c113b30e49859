/**
 * What the upstream receives: every input field, translated, as the mock upstream recorded it,
 * through the mutation and through the subscription on both transports.
 */
import { describe, expect, it } from 'vitest';

import type { ChatCompletionInput } from '../gql/graphql.js';
import { createWsClient, postGraphQL, subscribeSse, subscribeWs } from '../utils/clients.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription } from '../utils/operations.js';
import { startMock, startService } from '../utils/servers.js';

const weatherSchema = {
  type: 'object',
  properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
  required: ['city'],
  additionalProperties: false,
};

/** Every field of ChatCompletionInput, every message role, both content part kinds. */
const fullInput: ChatCompletionInput = {
  model: 'chatql-mock',
  messages: [
    { system: { content: 'Be brief.', name: 'rules' } },
    { developer: { content: 'Prefer metric units.' } },
    {
      user: {
        name: 'alice',
        parts: [
          { text: 'What is in this picture?' },
          { imageUrl: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'HIGH' } },
          { imageUrl: { url: 'https://example.com/cat.png' } },
        ],
      },
    },
    {
      assistant: {
        content: null,
        toolCalls: [{ id: 'call_1', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      },
    },
    { tool: { toolCallId: 'call_1', content: '{"temp":22}' } },
    { assistant: { content: 'It is 22 degrees.', name: 'bot' } },
    { user: { content: 'Thanks!' } },
  ],
  temperature: 0.7,
  topP: 0.9,
  maxTokens: 50,
  maxCompletionTokens: 60,
  stop: ['END', '###'],
  presencePenalty: -0.5,
  frequencyPenalty: 1.5,
  seed: 42,
  user: 'user-7',
  logprobs: true,
  topLogprobs: 3,
  responseFormat: { type: 'JSON_SCHEMA', jsonSchema: { name: 'answer', schema: { type: 'object' }, strict: true } },
  tools: [
    { function: { name: 'get_weather', description: 'Weather for a city', parameters: weatherSchema, strict: true } },
    { function: { name: 'get_time' } },
  ],
  toolChoice: { function: 'get_weather' },
  parallelToolCalls: false,
  reasoningEffort: 'MEDIUM',
};

/** The upstream body fullInput must become, stream options aside. */
const expectedBody = {
  model: 'chatql-mock',
  messages: [
    { role: 'system', content: 'Be brief.', name: 'rules' },
    { role: 'developer', content: 'Prefer metric units.' },
    {
      role: 'user',
      name: 'alice',
      content: [
        { type: 'text', text: 'What is in this picture?' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'high' } },
        { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
      ],
    },
    {
      role: 'assistant',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
    },
    { role: 'tool', tool_call_id: 'call_1', content: '{"temp":22}' },
    { role: 'assistant', content: 'It is 22 degrees.', name: 'bot' },
    { role: 'user', content: 'Thanks!' },
  ],
  temperature: 0.7,
  top_p: 0.9,
  max_tokens: 50,
  max_completion_tokens: 60,
  stop: ['END', '###'],
  presence_penalty: -0.5,
  frequency_penalty: 1.5,
  seed: 42,
  user: 'user-7',
  logprobs: true,
  top_logprobs: 3,
  response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' }, strict: true } },
  tools: [
    {
      type: 'function',
      function: { name: 'get_weather', description: 'Weather for a city', parameters: weatherSchema, strict: true },
    },
    { type: 'function', function: { name: 'get_time' } },
  ],
  tool_choice: { type: 'function', function: { name: 'get_weather' } },
  parallel_tool_calls: false,
  reasoning_effort: 'medium',
};

describe('the upstream request', async () => {
  const mock = await startMock();
  const service = await startService(mock);

  async function lastChatBody(): Promise<Record<string, unknown>> {
    const request = mock.requests.filter((recorded) => recorded.path === '/v1/chat/completions').at(-1);
    expect(request).toBeDefined();
    return request!.body as Record<string, unknown>;
  }

  it('translates every field of the mutation input, with stream: false', async () => {
    const { body } = await postGraphQL(service, ChatCompletionMutation, { input: fullInput });
    expect(body.errors).toBeUndefined();
    expect(body.data?.chatCompletion.__typename).toBe('ChatCompletion');
    expect(await lastChatBody()).toStrictEqual({ ...expectedBody, stream: false });
  });

  it.each(['graphql-ws', 'sse'] as const)(
    'translates every field of the subscription input over %s, asking for usage',
    async (transport) => {
      const subscription =
        transport === 'sse'
          ? subscribeSse(service, ChatCompletionStreamSubscription, { input: fullInput })
          : subscribeWs(createWsClient(service), ChatCompletionStreamSubscription, { input: fullInput });
      await subscription.done;
      expect(subscription.events.at(-1)?.chatCompletionStream.__typename).toBe('ChatCompletion');
      expect(await lastChatBody()).toStrictEqual({ ...expectedBody, stream: true, stream_options: { include_usage: true } });
    },
  );

  it('leaves out every field that was not given or was given as null', async () => {
    const input: ChatCompletionInput = {
      model: 'chatql-mock',
      messages: [
        { user: { content: 'hi', name: null } },
        { assistant: { content: 'hello', toolCalls: null } },
        { user: { content: 'bye' } },
      ],
      temperature: null,
      topP: null,
      maxTokens: null,
      stop: null,
      seed: null,
      user: null,
      logprobs: null,
      responseFormat: null,
      tools: null,
      toolChoice: null,
      parallelToolCalls: null,
      reasoningEffort: null,
    };
    const { body } = await postGraphQL(service, ChatCompletionMutation, { input });
    expect(body.data?.chatCompletion.__typename).toBe('ChatCompletion');
    expect(await lastChatBody()).toStrictEqual({
      model: 'chatql-mock',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
        { role: 'user', content: 'bye' },
      ],
      stream: false,
    });
  });

  it.each([
    [{ mode: 'AUTO' }, 'auto'],
    [{ mode: 'NONE' }, 'none'],
    [{ mode: 'REQUIRED' }, 'required'],
  ] as const)('sends toolChoice %j as %j', async (toolChoice, expected) => {
    const input: ChatCompletionInput = {
      model: 'chatql-mock',
      messages: [{ user: { content: 'weather?' } }],
      tools: [{ function: { name: 'get_weather', parameters: weatherSchema } }],
      toolChoice,
    };
    await postGraphQL(service, ChatCompletionMutation, { input });
    expect((await lastChatBody()).tool_choice).toBe(expected);
  });

  it.each([
    ['TEXT', { type: 'text' }],
    ['JSON_OBJECT', { type: 'json_object' }],
  ] as const)('sends responseFormat %s', async (type, expected) => {
    await postGraphQL(service, ChatCompletionMutation, {
      input: { model: 'chatql-mock', messages: [{ user: { content: 'json please' } }], responseFormat: { type } },
    });
    expect((await lastChatBody()).response_format).toStrictEqual(expected);
  });

  it('sends the configured key as a bearer token, and only the upstream sees it', async () => {
    await postGraphQL(service, ChatCompletionMutation, { input: { model: 'chatql-mock', messages: [{ user: { content: 'hi' } }] } });
    const request = mock.requests.at(-1)!;
    expect(request.headers.authorization).toBe('Bearer sk-test-upstream-key-0123456789');
  });

  it('sends no Authorization header to an upstream configured without a key', async () => {
    const keyless = await startService(null, { OPENAI_BASE_URL: mock.url, OPENAI_API_KEY: '' });
    await postGraphQL(keyless, ChatCompletionMutation, { input: { model: 'chatql-mock', messages: [{ user: { content: 'hi' } }] } });
    const request = mock.requests.at(-1)!;
    expect(request.path).toBe('/v1/chat/completions');
    expect(request.headers.authorization).toBeUndefined();
  });
});

describe('the answer', async () => {
  const mock = await startMock();
  const service = await startService(mock);

  it('maps an upstream completion field by field, whatever the upstream omits or adds', async () => {
    // A vLLM-style answer: `reasoning` instead of `reasoning_content`, an unknown finish reason,
    // no system_fingerprint, cached and reasoning token details, and keys the contract does not know.
    mock.enqueue({
      status: 200,
      body: {
        id: 'chatcmpl-vllm-1',
        object: 'chat.completion',
        created: 1764087756,
        model: 'qwen3',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: 'Hi.', reasoning: 'Greeting back.', tool_calls: [] },
            logprobs: null,
            finish_reason: 'eos',
            stop_reason: null,
          },
          {
            index: 1,
            message: {
              role: 'assistant',
              content: null,
              tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'get_time', arguments: '{}' } }],
            },
            finish_reason: 'tool_calls',
          },
        ],
        usage: {
          prompt_tokens: 10,
          completion_tokens: 4,
          total_tokens: 14,
          prompt_tokens_details: { cached_tokens: 6 },
          completion_tokens_details: { reasoning_tokens: 2 },
        },
        service_tier: 'default',
      },
    });
    const { body } = await postGraphQL(service, ChatCompletionMutation, {
      input: { model: 'qwen3', messages: [{ user: { content: 'hi' } }] },
    });
    expect(body.errors).toBeUndefined();
    expect(body.data?.chatCompletion).toStrictEqual({
      __typename: 'ChatCompletion',
      id: 'chatcmpl-vllm-1',
      model: 'qwen3',
      created: '2025-11-25T16:22:36.000Z',
      systemFingerprint: null,
      upstreamRequestId: expect.any(String),
      choices: [
        {
          index: 0,
          finishReason: 'OTHER',
          message: { content: 'Hi.', refusal: null, reasoningContent: 'Greeting back.', thinkingBlocks: null, toolCalls: [] },
          logprobs: null,
        },
        {
          index: 1,
          finishReason: 'TOOL_CALLS',
          message: {
            content: null,
            refusal: null,
            reasoningContent: null,
            thinkingBlocks: null,
            toolCalls: [{ id: 'call_9', function: { name: 'get_time', arguments: '{}' } }],
          },
          logprobs: null,
        },
      ],
      usage: {
        promptTokens: 10,
        completionTokens: 4,
        totalTokens: 14,
        promptTokensDetails: { cachedTokens: 6 },
        completionTokensDetails: { reasoningTokens: 2 },
        // No price table and no figure from the upstream.
        cost: null,
      },
    });
  });

  it('answers a body that is not a chat completion with a typed error, not a GraphQL error', async () => {
    // FastAPI's envelope, as LiteLLM answers some routes: retrying will not make it a completion.
    mock.enqueue({ status: 200, body: { detail: 'Not Found' } });
    const calls = mock.requests.length;
    const { body } = await postGraphQL(service, ChatCompletionMutation, {
      input: { model: 'chatql-mock', messages: [{ user: { content: 'hi' } }] },
    });
    expect(body.errors).toBeUndefined();
    expect(body.data?.chatCompletion).toMatchObject({ __typename: 'UpstreamUnavailableError', source: 'UPSTREAM', retryable: false });
    expect(mock.requests.length - calls).toBe(1);
  });
});
