/**
 * What a LiteLLM proxy says beyond plain OpenAI, end to end on every transport: thinking blocks
 * that must go back with a tool round trip, guardrail and content-filter refusals, which rate
 * limit a 429 is about, several choices (`n`), and tool calls whose upstream id is empty.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { beforeAll, describe, expect, it } from 'vitest';

import type { MockUpstream } from '../../src/mock-upstream/server.js';
import type { ChatCompletionInput, ChatMessageInput } from '../gql/graphql.js';
import { ALL_TRANSPORTS, type Answer, ask, chatCalls, expectError, startWarmService, SUBSCRIPTION_TRANSPORTS } from '../utils/answers.js';
import { dispose, startMock, startService, type TestService } from '../utils/servers.js';

const WEATHER_TOOL = {
  function: {
    name: 'get_weather',
    description: 'The weather in a city.',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

function completion(answer: Answer) {
  const outcome = answer.outcome;
  if (outcome.__typename !== 'ChatCompletion') throw new Error(`expected a ChatCompletion, got ${answer.raw.slice(0, 800)}`);
  return outcome;
}

let mock: MockUpstream;
let service: TestService;

beforeAll(async () => {
  mock = await startMock();
  // 429s are answered at once: these tests are about what they say, not about retrying them.
  service = await startWarmService(mock, { UPSTREAM_MAX_RETRIES: '0' });
});

describe('thinking blocks survive a tool round trip (chatql-mock-thinking)', () => {
  const question: ChatMessageInput = { user: { content: 'What is the weather in Paris?' } };

  it.each(ALL_TRANSPORTS)('%s: the blocks come back assembled, and the conversation goes on with them', async (transport) => {
    const first = await ask(service, transport, { model: 'chatql-mock-thinking', messages: [question], tools: [WEATHER_TOOL] });
    const done = completion(first);
    const message = done.choices[0]!.message;
    expect(done.choices[0]?.finishReason).toBe('TOOL_CALLS');
    const blocks = message.thinkingBlocks ?? [];
    expect(blocks.map((block) => block.type)).toEqual(['thinking', 'redacted_thinking']);
    expect(blocks[0]?.thinking).toBe(message.reasoningContent);
    expect(blocks[0]?.signature).toMatch(/^Eq/);
    expect(blocks[0]?.data).toBeNull();
    expect(blocks[1]?.data).toBeTruthy();
    if (transport !== 'mutation') {
      // Streamed as fragments: thinking words, then the signature, then the redacted block.
      const fragments = first.chunks.flatMap((chunk) => chunk.choices.flatMap((choice) => choice.delta.thinkingBlocks ?? []));
      expect(fragments.length).toBeGreaterThan(3);
      expect(
        fragments
          .filter((fragment) => fragment.type === 'thinking')
          .map((fragment) => fragment.thinking ?? '')
          .join(''),
      ).toBe(blocks[0]?.thinking);
      expect(fragments.some((fragment) => fragment.signature === blocks[0]?.signature)).toBe(true);
    }

    const call = message.toolCalls[0]!;
    const history = (withBlocks: boolean): ChatCompletionInput => ({
      model: 'chatql-mock-thinking',
      tools: [WEATHER_TOOL],
      messages: [
        question,
        {
          assistant: {
            toolCalls: [{ id: call.id, function: { name: call.function.name, arguments: call.function.arguments } }],
            ...(withBlocks ? { reasoningContent: message.reasoningContent, thinkingBlocks: blocks } : {}),
          },
        },
        { tool: { toolCallId: call.id, content: '{"temperature": 18}' } },
      ],
    });
    // Sent back exactly as received.
    const second = completion(await ask(service, transport, history(true)));
    expect(second.choices[0]?.message.content).toContain('18');
    const sent = (chatCalls(mock).at(-1)!.body as { messages: Array<Record<string, unknown>> }).messages[1];
    expect(sent?.thinking_blocks).toStrictEqual(
      blocks.map((block) => Object.fromEntries(Object.entries(block).filter(([, value]) => value !== null))),
    );
    expect(sent?.reasoning_content).toBe(message.reasoningContent);

    // Without them the upstream refuses, as Anthropic does.
    const refused = await ask(service, transport, history(false));
    expectError(refused, { __typename: 'InvalidRequestError', source: 'UPSTREAM', retryable: false });
    expect((refused.outcome as { message: string }).message).toMatch(/thinking/);
  });
});

describe('guardrails and content filters', () => {
  it.each(ALL_TRANSPORTS)("%s: LiteLLM's guardrail refusal is ContentBlockedError naming the guardrail", async (transport) => {
    const answer = await ask(service, transport, { model: 'fail-guardrail', messages: [{ user: { content: 'my email is a@b.c' } }] });
    expectError(answer, {
      __typename: 'ContentBlockedError',
      message: 'Violated guardrail policy',
      guardrail: 'chatql-mock-pii',
      retryable: false,
      source: 'UPSTREAM',
    });
    expect(answer.chunks).toEqual([]);
  });

  it.each(ALL_TRANSPORTS)("%s: OpenAI's and Azure's prompt filter is ContentBlockedError", async (transport) => {
    const answer = await ask(service, transport, { model: 'fail-content-filter-prompt', messages: [{ user: { content: 'hi' } }] });
    expectError(answer, { __typename: 'ContentBlockedError', guardrail: null, retryable: false, source: 'UPSTREAM' });
    expect((answer.outcome as { message: string }).message).toMatch(/content management policy/);
  });

  it.each(ALL_TRANSPORTS)(
    '%s: an answer the output filter cuts ends as a ChatCompletion with finishReason CONTENT_FILTER',
    async (transport) => {
      const answer = await ask(service, transport, { model: 'fail-content-filter', messages: [{ user: { content: 'hi' } }] });
      const done = completion(answer);
      expect(done.choices[0]?.finishReason).toBe('CONTENT_FILTER');
      expect(done.choices[0]?.message.content?.length).toBeGreaterThan(0);
      if (transport !== 'mutation') {
        expect(answer.chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('')).toBe(done.choices[0]?.message.content);
      }
    },
  );
});

describe('RateLimitError.limit', () => {
  it.each(SUBSCRIPTION_TRANSPORTS.concat('mutation'))('%s: says which of the upstream limits was hit', async (transport) => {
    const hit = async (model: string) => (await ask(service, transport, { model, messages: [{ user: { content: 'hi' } }] })).outcome;
    expect(await hit('fail-429-tokens')).toMatchObject({ __typename: 'RateLimitError', limit: 'TOKENS', retryAfterSeconds: 20 });
    expect(await hit('fail-429-requests')).toMatchObject({ __typename: 'RateLimitError', limit: 'REQUESTS', retryAfterSeconds: 5 });
    expect(await hit('fail-429')).toMatchObject({ __typename: 'RateLimitError', limit: 'REQUESTS' });
    expect(await hit('fail-stream-error')).toMatchObject({ __typename: 'RateLimitError', limit: 'UNKNOWN' });
  });
});

describe('several choices (n)', () => {
  it.each(ALL_TRANSPORTS)('%s: n: 3 answers three choices by index', async (transport) => {
    const answer = await ask(service, transport, { model: 'chatql-mock', n: 3, messages: [{ user: { content: 'Hello' } }] });
    const done = completion(answer);
    expect(done.choices.map((choice) => choice.index)).toEqual([0, 1, 2]);
    expect(new Set(done.choices.map((choice) => choice.message.content)).size).toBe(1);
    expect((chatCalls(mock).at(-1)!.body as { n?: number }).n).toBe(3);
    if (transport !== 'mutation') {
      for (const index of [0, 1, 2]) {
        const text = answer.chunks
          .flatMap((chunk) => chunk.choices.filter((choice) => choice.index === index))
          .map((choice) => choice.delta.content ?? '');
        expect(text.join('')).toBe(done.choices[index]?.message.content);
      }
    }
  });

  it('n outside 1 to 8 is an InvalidRequestError at input.n, before any upstream call', async () => {
    const calls = chatCalls(mock).length;
    const answer = await ask(service, 'mutation', { model: 'chatql-mock', n: 9, messages: [{ user: { content: 'Hello' } }] });
    expectError(answer, { __typename: 'InvalidRequestError', param: 'input.n', source: 'SERVICE' });
    expect(chatCalls(mock).length).toBe(calls);
  });
});

describe('tool calls with an empty upstream id (as Gemini sends them)', () => {
  /** An upstream that answers like Gemini's OpenAI-compatible endpoint: tool calls with id "". */
  async function startGeminiLike(): Promise<{ url: string; bodies: Array<Record<string, unknown>> }> {
    const bodies: Array<Record<string, unknown>> = [];
    const envelope = { id: 'chatcmpl-gemini', created: 1767225600, model: 'gemini-2.5-flash' };
    const call = { id: '', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        if (req.url?.endsWith('/models'))
          return res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[]}');
        const body = JSON.parse(text) as Record<string, unknown>;
        bodies.push(body);
        const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
        if (!body.stream) {
          const message = { role: 'assistant', content: null, tool_calls: [call] };
          const answer = { ...envelope, object: 'chat.completion', choices: [{ index: 0, message, finish_reason: 'tool_calls' }], usage };
          return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const chunk = (choices: unknown[], extra: object = {}) =>
          `data: ${JSON.stringify({ ...envelope, object: 'chat.completion.chunk', choices, ...extra })}\n\n`;
        res.write(chunk([{ index: 0, delta: { role: 'assistant', tool_calls: [{ index: 0, ...call }] }, finish_reason: null }]));
        res.write(chunk([{ index: 0, delta: {}, finish_reason: 'tool_calls' }]));
        res.write(chunk([], { usage }));
        res.end('data: [DONE]\n\n');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    dispose(() => new Promise((resolve) => server.close(resolve)));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, bodies };
  }

  it.each(ALL_TRANSPORTS)('%s: get a stable generated id, which a tool message can answer', async (transport) => {
    const upstream = await startGeminiLike();
    const gemini = await startService(null, { OPENAI_BASE_URL: upstream.url, UPSTREAM_MAX_RETRIES: '0' });
    const question: ChatMessageInput = { user: { content: 'Weather in Paris?' } };
    const answer = await ask(gemini, transport, { model: 'gemini-2.5-flash', messages: [question], tools: [WEATHER_TOOL] });
    const id = completion(answer).choices[0]?.message.toolCalls[0]?.id ?? '';
    expect(id).toMatch(/^call_[\w-]{8,}$/);
    if (transport !== 'mutation') expect(answer.chunks[0]?.choices[0]?.delta.toolCalls?.[0]?.id).toBe(id);
    const next = await ask(gemini, transport, {
      model: 'gemini-2.5-flash',
      tools: [WEATHER_TOOL],
      messages: [
        question,
        { assistant: { toolCalls: [{ id, function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } },
        { tool: { toolCallId: id, content: '18 degrees' } },
      ],
    });
    expect(next.outcome.__typename).toBe('ChatCompletion');
    const sent = upstream.bodies.at(-1)?.messages as Array<{ tool_calls?: Array<{ id: string }>; tool_call_id?: string }>;
    expect(sent[1]?.tool_calls?.[0]?.id).toBe(id);
    expect(sent[2]?.tool_call_id).toBe(id);
  });
});
