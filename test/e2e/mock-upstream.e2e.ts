import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request as httpRequest } from 'node:http';
import OpenAI, {
  APIConnectionError,
  APIError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
} from 'openai';
import type { ChatCompletionChunk, ChatCompletionCreateParams } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { benchChunkText } from '../../src/mock-upstream/bench.js';
import { formatCost, mockCost } from '../../src/mock-upstream/cost.js';
import {
  BENCH_MOCK_MODEL,
  costReported,
  DEFAULT_MOCK_MODEL,
  findMockModel,
  LISTED_MOCK_MODELS,
  MOCK_MODELS,
  PRICED_MOCK_MODELS,
} from '../../src/mock-upstream/models.js';
import { HOSTILE_ANSWER, MARKDOWN_ANSWER } from '../../src/mock-upstream/demo-answers.js';
import { DEFAULT_PLACE, placeNamedIn, REFUSAL_TEXT, sampleArguments, tokenize } from '../../src/mock-upstream/reply.js';
import { type MockUpstream, startMockUpstream } from '../../src/mock-upstream/server.js';
import { thinkingBlocksFor, thinkingSignature } from '../../src/mock-upstream/thinking.js';

// Every server a test starts goes on this list; afterAll closes them all.
const servers: MockUpstream[] = [];
async function startMock(options: Parameters<typeof startMockUpstream>[0] = {}): Promise<MockUpstream> {
  const mock = await startMockUpstream(options);
  servers.push(mock);
  return mock;
}

let mock: MockUpstream;
let client: OpenAI;

beforeAll(async () => {
  mock = await startMock({ wordDelayMs: 0 });
  client = new OpenAI({ baseURL: mock.url, apiKey: 'x', maxRetries: 0 });
});
beforeEach(() => mock.reset());
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

const hello = [{ role: 'user' as const, content: 'Hello' }];

function post(body: unknown, init: { signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<Response> {
  return fetch(`${mock.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(init.signal ? { signal: init.signal } : {}),
  });
}

/** Checks SSE framing byte by byte and returns the events' payloads (JSON, or the string '[DONE]'). */
function parseSse(text: string): unknown[] {
  expect(text.endsWith('\n\n')).toBe(true);
  const events = text.slice(0, -2).split('\n\n');
  return events.map((event) => {
    expect(event).toMatch(/^data: [^\n]+$/);
    const data = event.slice('data: '.length);
    return data === '[DONE]' ? data : (JSON.parse(data) as unknown);
  });
}

async function collect(params: ChatCompletionCreateParams & { stream: true }, target = client): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of await target.chat.completions.create(params)) chunks.push(chunk);
  return chunks;
}

function contentOf(chunks: readonly ChatCompletionChunk[]): string {
  return chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('GET /v1/models', () => {
  it('lists the catalogue in OpenAI list shape, the default model first', async () => {
    const page = await client.models.list();
    expect(page.data.map((model) => model.id)).toEqual(LISTED_MOCK_MODELS.map((model) => model.id));
    expect(page.data[0]?.id).toBe(DEFAULT_MOCK_MODEL);
    const raw = (await (await fetch(`${mock.url}/models`)).json()) as { object: string; data: object[] };
    expect(Object.keys(raw)).toEqual(['object', 'data']);
    expect(raw.object).toBe('list');
    expect(raw.data[0]).toEqual({ id: 'chatql-mock', object: 'model', created: 1735689600, owned_by: 'chatql-mock' });
    expect(Object.keys(raw.data[0] ?? {})).toEqual(['id', 'object', 'created', 'owned_by']);
  });

  it('lists working models before failure models, each with a one-line description', () => {
    const firstFailure = MOCK_MODELS.findIndex((model) => model.id.startsWith('fail-'));
    expect(firstFailure).toBe(8);
    expect(MOCK_MODELS.slice(firstFailure).every((model) => model.id.startsWith('fail-'))).toBe(true);
    for (const model of MOCK_MODELS) expect(model.description).toMatch(/^[^\n]{10,200}$/);
  });
});

describe('non-streaming completion', () => {
  it('answers in chat.completion shape with a deterministic reply and consistent usage', async () => {
    const first = await client.chat.completions.create({ model: 'chatql-mock', messages: hello });
    const again = await client.chat.completions.create({ model: 'chatql-mock', messages: hello });
    const content = first.choices[0]?.message.content ?? '';
    expect(content).toMatch(/^You said: "Hello"\. This reply comes from ChatQL's embedded mock upstream/);
    expect(again.choices[0]?.message.content).toBe(content);
    expect(first.id).toMatch(/^chatcmpl-[A-Za-z0-9]{20,}$/);
    expect(again.id).not.toBe(first.id);
    expect(Math.abs(first.created - Date.now() / 1000)).toBeLessThan(5);
    expect(first.object).toBe('chat.completion');
    expect(first.system_fingerprint).toBe('fp_chatql_mock');
    expect(first.choices[0]).toMatchObject({
      index: 0,
      message: { role: 'assistant', refusal: null },
      logprobs: null,
      finish_reason: 'stop',
    });
    expect(first.usage).toEqual({
      prompt_tokens: 4, // one word + 3 per message
      completion_tokens: tokenize(content).length,
      total_tokens: 4 + tokenize(content).length,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
  });

  it('keeps the key order of the recorded payloads', async () => {
    const res = await post({ model: 'chatql-mock', messages: hello });
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as { choices: { message: object }[] };
    expect(Object.keys(body)).toEqual(['id', 'object', 'created', 'model', 'choices', 'usage', 'system_fingerprint']);
    expect(Object.keys(body.choices[0] ?? {})).toEqual(['index', 'message', 'logprobs', 'finish_reason']);
    expect(Object.keys(body.choices[0]?.message ?? {})).toEqual(['role', 'content', 'refusal', 'annotations']);
  });

  it('uses text parts and counts images of multimodal content', async () => {
    const completion = await client.chat.completions.create({
      model: 'chatql-mock',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: "What's in this image?" },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
          ],
        },
      ],
    });
    expect(completion.choices[0]?.message.content).toMatch(/^You said: "What's in this image\?" \(with 1 image\)\. /);
  });

  it('answers JSON mode with a JSON object string, and json_schema with a value that fits the schema', async () => {
    const completion = await client.chat.completions.create({
      model: 'chatql-mock',
      messages: hello,
      response_format: { type: 'json_object' },
    });
    const parsed = JSON.parse(completion.choices[0]?.message.content ?? '') as { reply: string };
    expect(parsed.reply).toMatch(/^You said: "Hello"\./);
    const schema = { type: 'object', properties: { city: { type: 'string' }, score: { type: 'number' } }, required: ['city', 'score'] };
    const chunks = await collect({
      model: 'chatql-mock',
      messages: hello,
      stream: true,
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
    });
    expect(JSON.parse(contentOf(chunks))).toEqual({ city: 'Paris', score: 1 });
    expect(chunks.length).toBeGreaterThan(2 + 3); // streamed in several pieces
  });

  it('stops after max_tokens words with finish_reason length', async () => {
    const completion = await client.chat.completions.create({ model: 'chatql-mock', messages: hello, max_tokens: 4 });
    expect(completion.choices[0]?.message.content).toBe('You said: "Hello". This');
    expect(completion.choices[0]?.finish_reason).toBe('length');
    expect(completion.usage?.completion_tokens).toBe(4);
    const stream = await collect({ model: 'chatql-mock', messages: hello, max_completion_tokens: 2, stream: true });
    expect(contentOf(stream)).toBe('You said:');
    expect(stream.at(-1)?.choices[0]?.finish_reason).toBe('length');
  });
});

describe('streaming completion', () => {
  it('streams a role chunk, one word per chunk, an empty-delta finish chunk and a usage chunk', async () => {
    const chunks = await collect({
      model: 'chatql-mock',
      messages: hello,
      stream: true,
      stream_options: { include_usage: true },
    });
    const whole = await client.chat.completions.create({ model: 'chatql-mock', messages: hello });
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '', refusal: null });
    const words = chunks.slice(1, -2);
    expect(words.length).toBe(tokenize(whole.choices[0]?.message.content ?? '').length);
    for (const [i, chunk] of words.entries()) expect(chunk.choices[0]?.delta.content).toMatch(i === 0 ? /^\S+$/ : /^ \S+$/);
    expect(contentOf(chunks)).toBe(whole.choices[0]?.message.content);
    expect(chunks.at(-2)?.choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
    const usage = chunks.at(-1);
    expect(usage?.choices).toEqual([]);
    expect(usage?.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: words.length });
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.system_fingerprint === 'fp_chatql_mock')).toBe(true);
    const other = await collect({ model: 'chatql-mock', messages: hello, stream: true });
    expect(other[0]?.id).not.toBe(chunks[0]?.id);
    expect(other.some((chunk) => chunk.usage)).toBe(false);
  });

  it('frames SSE exactly: data: prefix, blank line after each event, [DONE] last', async () => {
    const res = await post({ model: 'chatql-mock', messages: hello, stream: true, stream_options: { include_usage: true } });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    const text = await res.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const events = parseSse(text);
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.filter((event) => event === '[DONE]')).toHaveLength(1);
    const first = events[0] as Record<string, unknown>;
    expect(Object.keys(first)).toEqual(['id', 'object', 'created', 'model', 'system_fingerprint', 'choices']);
    expect(Object.keys(events.at(-2) as object)).toEqual(['id', 'object', 'created', 'model', 'system_fingerprint', 'choices', 'usage']);
    expect(text.startsWith('data: {"id":"chatcmpl-')).toBe(true);
  });

  it('paces chunks: first token after firstTokenDelayMs, then wordDelayMs apart', async () => {
    const paced = await startMock({ wordDelayMs: 25, firstTokenDelayMs: 120 });
    const pacedClient = new OpenAI({ baseURL: paced.url, apiKey: 'x', maxRetries: 0 });
    const start = performance.now();
    const arrivals: { at: number; chunk: ChatCompletionChunk }[] = [];
    const stream = await pacedClient.chat.completions.create({ model: 'chatql-mock', messages: hello, max_tokens: 6, stream: true });
    for await (const chunk of stream) arrivals.push({ at: performance.now() - start, chunk });
    const role = arrivals[0];
    const words = arrivals.filter(({ chunk }) => chunk.choices[0]?.delta.content);
    expect(words).toHaveLength(6);
    expect((words[0]?.at ?? 0) - (role?.at ?? 0)).toBeGreaterThanOrEqual(100);
    // Five gaps of 25 ms: the words trickle in rather than arriving in one burst.
    expect((words[5]?.at ?? 0) - (words[0]?.at ?? 0)).toBeGreaterThanOrEqual(100);
    // A non-streaming answer is not paced: all words at once, without the first-token delay.
    const before = performance.now();
    await pacedClient.chat.completions.create({ model: 'chatql-mock', messages: hello });
    expect(performance.now() - before).toBeLessThan(1000); // paced, its ~100 words would take 2.5 s
  });

  it('stops a paced stream when the client aborts, and records the abort', async () => {
    const paced = await startMock({ wordDelayMs: 20 });
    const pacedClient = new OpenAI({ baseURL: paced.url, apiKey: 'x', maxRetries: 0 });
    const stream = await pacedClient.chat.completions.create({ model: 'chatql-mock', messages: hello, stream: true });
    let words = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content && ++words === 2) break; // break aborts the request
    }
    const record = paced.requests[0];
    await record?.closed;
    expect(record?.aborted).toBe(true);
    expect(record?.closedAt).toBeGreaterThan(record?.receivedAt ?? Infinity);
    expect(paced.openRequests()).toBe(0);
  });
});

describe('bench model', () => {
  it('streams chunkCount chunks of chunkBytes characters in order, then finish and usage; the same content unstreamed', async () => {
    const bench = await startMock({ wordDelayMs: 0, bench: { chunkCount: 12, chunkBytes: 5 } });
    const benchClient = new OpenAI({ baseURL: bench.url, apiKey: 'x', maxRetries: 0 });
    const params = { model: BENCH_MOCK_MODEL, messages: hello, stream: true, stream_options: { include_usage: true } } as const;
    const chunks = await collect(params, benchClient);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '', refusal: null });
    const texts = Array.from({ length: 12 }, (_, i) => benchChunkText(i, 5));
    expect(chunks.slice(1, -2).map((chunk) => chunk.choices[0]?.delta.content)).toEqual(texts);
    expect(texts[11]).toBe('   11');
    expect(chunks.at(-2)?.choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
    expect(chunks.at(-1)?.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 12, total_tokens: 16 });
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    expect(chunks.every((chunk) => chunk.model === BENCH_MOCK_MODEL && chunk.object === 'chat.completion.chunk')).toBe(true);
    const again = await collect(params, benchClient);
    expect(again[0]?.id).not.toBe(chunks[0]?.id);
    const res = await fetch(`${bench.url}/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ ...params, stream_options: undefined }),
    });
    const events = parseSse(await res.text());
    expect(events).toHaveLength(1 + 12 + 1 + 1); // no usage chunk without include_usage, then [DONE]
    const whole = await benchClient.chat.completions.create({ model: BENCH_MOCK_MODEL, messages: hello });
    expect(whole).toMatchObject({ object: 'chat.completion', model: BENCH_MOCK_MODEL, usage: { completion_tokens: 12 } });
    expect(whole.choices[0]).toMatchObject({ message: { role: 'assistant', content: texts.join('') }, finish_reason: 'stop' });
    expect(whole.id).toMatch(/^chatcmpl-[A-Za-z0-9]{29}$/);
  });
});

describe('tool calls', () => {
  const tools = [
    {
      type: 'function' as const,
      function: {
        name: 'get_weather',
        parameters: {
          type: 'object',
          properties: {
            location: { type: 'string' },
            unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
            days: { type: 'integer' },
            detailed: { type: 'boolean' },
            tags: { type: 'array', items: { type: 'string' } },
          },
          required: ['location'],
        },
      },
    },
    { type: 'function' as const, function: { name: 'get_time' } },
  ];

  it('calls the first two tools in parallel, streamed fragments assembling to the non-streamed calls', async () => {
    const whole = await client.chat.completions.create({ model: 'chatql-mock', messages: hello, tools });
    const message = whole.choices[0]?.message;
    expect(message?.content).toBeNull();
    expect(whole.choices[0]?.finish_reason).toBe('tool_calls');
    const calls = (message?.tool_calls ?? []).map((call) => (call.type === 'function' ? call : undefined));
    expect(calls.map((call) => call?.function.name)).toEqual(['get_weather', 'get_time']);
    expect(JSON.parse(calls[0]?.function.arguments ?? '')).toEqual({
      location: 'Paris',
      unit: 'celsius',
      days: 1,
      detailed: true,
      tags: ['tags'],
    });
    expect(calls[1]?.function.arguments).toBe('{}');
    expect(calls.every((call) => /^call_[A-Za-z0-9]{24}$/.test(call?.id ?? ''))).toBe(true);

    const chunks = await collect({ model: 'chatql-mock', messages: hello, tools, stream: true, stream_options: { include_usage: true } });
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: null });
    const assembled: { id?: string; name: string; arguments: string; fragments: number }[] = [];
    let lastIndex = 0;
    for (const chunk of chunks) {
      for (const fragment of chunk.choices[0]?.delta.tool_calls ?? []) {
        expect(fragment.index).toBeGreaterThanOrEqual(lastIndex); // call 0 finishes before call 1 opens
        lastIndex = fragment.index;
        if (fragment.id) {
          expect(fragment).toEqual({
            index: fragment.index,
            id: fragment.id,
            type: 'function',
            function: { name: fragment.function?.name, arguments: '' },
          });
          assembled[fragment.index] = { id: fragment.id, name: fragment.function?.name ?? '', arguments: '', fragments: 0 };
        } else {
          expect(Object.keys(fragment)).toEqual(['index', 'function']);
          const call = assembled[fragment.index];
          if (!call) throw new Error('fragment before its call');
          call.arguments += fragment.function?.arguments ?? '';
          call.fragments += 1;
        }
      }
    }
    expect(assembled.map(({ name, arguments: args }) => ({ name, args }))).toEqual(
      calls.map((call) => ({ name: call?.function.name, args: call?.function.arguments })),
    );
    expect(assembled[0]?.fragments).toBeGreaterThan(3);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('tool_calls');
    // Argument fragments are the completion tokens; the opening fragment (name, id) is not one.
    const fragments = assembled.reduce((sum, call) => sum + call.fragments, 0);
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(fragments);
    expect(whole.usage?.completion_tokens).toBe(fragments);
  });

  it('honours a forced tool, parallel_tool_calls: false and tool_choice: none', async () => {
    const forced = await client.chat.completions.create({
      model: 'chatql-mock',
      messages: hello,
      tools,
      tool_choice: { type: 'function', function: { name: 'get_time' } },
    });
    expect(forced.choices[0]?.message.tool_calls?.map((call) => call.type === 'function' && call.function.name)).toEqual(['get_time']);
    const single = await client.chat.completions.create({ model: 'chatql-mock', messages: hello, tools, parallel_tool_calls: false });
    expect(single.choices[0]?.message.tool_calls).toHaveLength(1);
    const none = await client.chat.completions.create({ model: 'chatql-mock', messages: hello, tools, tool_choice: 'none' });
    expect(none.choices[0]?.message.content).toMatch(/^You said/);
    expect(none.choices[0]?.message.tool_calls).toBeUndefined();
  });

  it('quotes a tool result instead of calling again', async () => {
    const completion = await client.chat.completions.create({
      model: 'chatql-mock',
      tools,
      messages: [
        ...hello,
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_time', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"time":"12:00"}' },
      ],
    });
    expect(completion.choices[0]?.message.content).toBe('The tool returned: {"time":"12:00"}');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
  });

  it('samples arguments from nested schemas, $ref and bounds', () => {
    expect(sampleArguments(undefined)).toEqual({});
    expect(
      sampleArguments({
        type: 'object',
        properties: {
          address: { $ref: '#/$defs/Address' },
          count: { type: 'number', minimum: 5 },
          mode: { const: 'fast' },
          maybe: { anyOf: [{ type: 'null' }, { type: 'string' }] },
        },
        required: ['extra'],
        $defs: { Address: { type: 'object', properties: { city: { type: 'string' }, zip: { type: ['string', 'null'] } } } },
      }),
    ).toEqual({ address: { city: 'Paris', zip: 'zip' }, count: 5, mode: 'fast', maybe: 'maybe', extra: 'extra' });
    // A self-referencing schema ends instead of recursing for ever.
    expect(sampleArguments({ type: 'object', properties: { next: { $ref: '#' } } })).toBeTypeOf('object');
  });

  /** The cities the mock reads from a last user message, and the one it falls back to. */
  const places: [string, string][] = [
    ['What is the weather in Rome?', 'Rome'],
    ['And in Rome?', 'Rome'],
    ['weather for new york', 'New York'],
    ['Weather in São Paulo today', 'São Paulo'],
    ['Hello', DEFAULT_PLACE],
  ];

  it('takes a place-like argument from the city the last user message names, streamed or not', async () => {
    expect(DEFAULT_PLACE).toBe('Paris');
    for (const [question, city] of places) {
      const messages = [{ role: 'user' as const, content: question }];
      const whole = await client.chat.completions.create({ model: 'chatql-mock', messages, tools });
      const call = whole.choices[0]?.message.tool_calls?.[0];
      const args = call?.type === 'function' ? call.function.arguments : '';
      expect(JSON.parse(args), question).toEqual({ location: city, unit: 'celsius', days: 1, detailed: true, tags: ['tags'] });
      const chunks = await collect({ model: 'chatql-mock', messages, tools, stream: true });
      const streamed = chunks
        .flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? [])
        .filter((fragment) => fragment.index === 0)
        .map((fragment) => fragment.function?.arguments ?? '')
        .join('');
      expect(streamed, question).toBe(args);
    }
  });

  it('reads the last user message only, and fills json_schema answers by the same rule', async () => {
    const earlier = [
      { role: 'user' as const, content: 'What is the weather in Rome?' },
      { role: 'assistant' as const, content: 'Sunny.' },
      { role: 'user' as const, content: 'Thanks, and now?' },
    ];
    const whole = await client.chat.completions.create({ model: 'chatql-mock', messages: earlier, tools, parallel_tool_calls: false });
    const call = whole.choices[0]?.message.tool_calls?.[0];
    expect(JSON.parse(call?.type === 'function' ? call.function.arguments : '')).toMatchObject({ location: 'Paris' });
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const answer = await client.chat.completions.create({
      model: 'chatql-mock',
      messages: [{ role: 'user', content: 'Weather in São Paulo today' }],
      response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
    });
    expect(JSON.parse(answer.choices[0]?.message.content ?? '')).toEqual({ city: 'São Paulo' });
  });

  it('reads a place after the last in, for or at, up to punctuation or a word that is no place', () => {
    expect(placeNamedIn('In Rome, what should I wear?')).toBe('Rome');
    expect(placeNamedIn('weather in Rome on Monday at noon')).toBe('Rome');
    expect(placeNamedIn('Is it raining in Berlin right now, for example?')).toBe('Berlin');
    expect(placeNamedIn('weather in rio de janeiro tomorrow please')).toBe('Rio de Janeiro');
    expect(placeNamedIn('Is it warm in Lyon and Paris?')).toBe('Lyon');
    expect(placeNamedIn("What's in this image?")).toBeUndefined();
    expect(placeNamedIn('Can you look that up for me?')).toBeUndefined();
    expect(placeNamedIn('Look it up for me in Oslo')).toBe('Oslo');
    expect(placeNamedIn('Meet at 5 in Kyoto')).toBe('Kyoto');
    expect(placeNamedIn('within reach, fortune, attic')).toBeUndefined();
    expect(sampleArguments({ type: 'object', properties: { city: { type: 'string' } } }, [{ role: 'user', content: 'in Lima' }])).toEqual({
      city: 'Lima',
    });
  });
});

describe('demo models', () => {
  const markdown = 'chatql-mock-markdown';
  const hostile = 'chatql-mock-hostile';

  it('chatql-mock-markdown answers its fixed markdown document of about 2,000 tokens, streamed or not', async () => {
    const whole = await client.chat.completions.create({ model: markdown, messages: hello });
    expect(whole.choices[0]?.message.content).toBe(MARKDOWN_ANSWER);
    expect(whole.choices[0]?.finish_reason).toBe('stop');
    const tokens = tokenize(MARKDOWN_ANSWER);
    expect(whole.usage?.completion_tokens).toBe(tokens.length);
    expect(tokens.length).toBeGreaterThanOrEqual(1800);
    expect(tokens.length).toBeLessThanOrEqual(2400);
    const chunks = await collect({ model: markdown, messages: hello, stream: true, stream_options: { include_usage: true } });
    const words = chunks.slice(1, -2).map((chunk) => chunk.choices[0]?.delta.content);
    // Word by word, each with the whitespace before it: newlines, blank lines and indentation survive.
    expect(words).toEqual(tokens);
    expect(contentOf(chunks)).toBe(MARKDOWN_ANSWER);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(tokens.length);
    // The same whatever the conversation: another question, tools offered.
    const other = await client.chat.completions.create({
      model: markdown,
      messages: [{ role: 'user', content: 'What is the weather in Rome?' }],
      tools: [{ type: 'function', function: { name: 'get_weather' } }],
    });
    expect(other.choices[0]?.message.content).toBe(MARKDOWN_ANSWER);
  });

  it('chatql-mock-markdown is cut by max_tokens with finish reason length', async () => {
    const cut = tokenize(MARKDOWN_ANSWER).slice(0, 50).join('');
    const whole = await client.chat.completions.create({ model: markdown, messages: hello, max_tokens: 50 });
    expect(whole.choices[0]).toMatchObject({ message: { content: cut }, finish_reason: 'length' });
    expect(whole.usage?.completion_tokens).toBe(50);
    const chunks = await collect({ model: markdown, messages: hello, max_completion_tokens: 50, stream: true });
    expect(contentOf(chunks)).toBe(cut);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('length');
  });

  it("chatql-mock-markdown's document holds every construct it promises", () => {
    expect(MARKDOWN_ANSWER).toMatch(/^# \S/);
    expect(MARKDOWN_ANSWER).not.toMatch(/\s$/);
    for (const pattern of [
      /^## \S/m,
      /^### \S/m,
      /\*\*[^*\n]+\*\*/,
      /(?<![*\w])\*[^*\n]+\*(?![*\w])/,
      /`[^`\n]+`/,
      /~~[^~\n]+~~/,
      /^- (?!\[)\S/m,
      /^1\. \S/m,
      /^- \[x\] \S/m,
      /^- \[ \] \S/m,
      /\[[^\]\n]+\]\(https:\/\/[^)\s]+\)/,
      /^> \S/m,
    ]) {
      expect(MARKDOWN_ANSWER, String(pattern)).toMatch(pattern);
    }
    // A table: a header, its delimiter row, and at least four rows of the same number of cells.
    const table = /^(\|.*\|)\n(\|(?: -+ \|)+)\n((?:\|.*\|\n?){4,})/m.exec(MARKDOWN_ANSWER);
    const cells = (row: string) => row.split('|').length;
    expect(table).not.toBeNull();
    const rows = (table?.[3] ?? '').trim().split('\n');
    expect(rows.every((row) => cells(row) === cells(table?.[1] ?? ''))).toBe(true);
    // Fenced code in at least three languages, each block closed, with indented lines kept.
    const fences = [...MARKDOWN_ANSWER.matchAll(/^```(\w+)\n([\s\S]*?)\n```$/gm)];
    const languages = new Set(fences.map((fence) => fence[1]));
    expect([...languages].filter((language) => ['ts', 'python', 'json', 'bash'].includes(language ?? '')).length).toBeGreaterThanOrEqual(3);
    expect(fences.every((fence) => /\n {2,}\S/.test(fence[2] ?? ''))).toBe(true);
    expect(MARKDOWN_ANSWER.match(/^```/gm)?.length).toBe(2 * fences.length);
  });

  it('chatql-mock-hostile answers its hostile markup, streamed or not, unpriced', async () => {
    const res = await post({ model: hostile, messages: hello });
    expect(res.headers.get('x-litellm-response-cost')).toBeNull();
    const whole = (await res.json()) as { choices: { message: { content: string }; finish_reason: string }[] };
    expect(whole.choices[0]?.message.content).toBe(HOSTILE_ANSWER);
    expect(whole.choices[0]?.finish_reason).toBe('stop');
    const chunks = await collect({ model: hostile, messages: hello, stream: true });
    expect(contentOf(chunks)).toBe(HOSTILE_ANSWER);
    for (const part of [
      '<img src=x onerror="window.__chatqlHostile=1">',
      '<script>window.__chatqlHostile=2</script>',
      '[click me](javascript:window.__chatqlHostile=3)',
      '![tracker](https://tracker.example/pixel.png)',
      '<a href="https://evil.example" onclick="window.__chatqlHostile=4">html link</a>',
      '<iframe src="https://evil.example">',
      '<style>body{display:none}</style>',
    ]) {
      expect(
        HOSTILE_ANSWER.split('\n').some((line) => line.startsWith(part)),
        part,
      ).toBe(true);
    }
  });

  it('both are listed; the markdown model is priced like chatql-mock', () => {
    const ids = LISTED_MOCK_MODELS.map((model) => model.id);
    expect(ids).toContain(markdown);
    expect(ids).toContain(hostile);
    expect(findMockModel(markdown)?.price).toEqual(findMockModel(DEFAULT_MOCK_MODEL)?.price);
    expect(findMockModel(hostile)?.price).toBeUndefined();
  });
});

describe('logprobs, reasoning and refusal', () => {
  it('returns deterministic logprobs with top alternatives, whole or per chunk', async () => {
    const params = { model: 'chatql-mock', messages: hello, logprobs: true, top_logprobs: 2, max_tokens: 5 };
    const whole = await client.chat.completions.create(params);
    const again = await client.chat.completions.create(params);
    const content = whole.choices[0]?.logprobs?.content ?? [];
    expect(content).toHaveLength(5);
    expect(content.map((entry) => entry.token).join('')).toBe(whole.choices[0]?.message.content);
    for (const entry of content) {
      expect(entry.bytes).toEqual([...Buffer.from(entry.token, 'utf8')]);
      expect(entry.logprob).toBeLessThan(0);
      expect(entry.top_logprobs).toHaveLength(2);
      expect(entry.top_logprobs[0]).toEqual({ token: entry.token, logprob: entry.logprob, bytes: entry.bytes });
      expect(entry.top_logprobs[1]?.logprob).toBeLessThan(entry.logprob);
    }
    expect(again.choices[0]?.logprobs).toEqual(whole.choices[0]?.logprobs);

    const chunks = await collect({ ...params, stream: true });
    expect(chunks[0]?.choices[0]?.logprobs).toEqual({ content: [], refusal: null });
    const perChunk = chunks.slice(1, -1).map((chunk) => chunk.choices[0]?.logprobs?.content?.[0]);
    expect(perChunk).toEqual(content);
    expect(chunks.at(-1)?.choices[0]?.logprobs).toBeNull();
  });

  it('streams reasoning_content before the content for the reasoning model', async () => {
    const chunks = await collect({
      model: 'chatql-mock-reasoning',
      messages: hello,
      stream: true,
      stream_options: { include_usage: true },
    });
    const kinds = chunks.slice(1, -2).map((chunk) => Object.keys(chunk.choices[0]?.delta ?? {}).join());
    const firstContent = kinds.indexOf('content');
    expect(firstContent).toBeGreaterThan(0);
    expect(kinds.slice(0, firstContent).every((kind) => kind === 'reasoning_content')).toBe(true);
    expect(kinds.slice(firstContent).every((kind) => kind === 'content')).toBe(true);
    expect(chunks.at(-1)?.usage?.completion_tokens_details?.reasoning_tokens).toBe(firstContent);

    const whole = await client.chat.completions.create({ model: 'chatql-mock-reasoning', messages: hello });
    const message = whole.choices[0]?.message as { content: string; reasoning_content?: string };
    expect(message.reasoning_content).toMatch(/^The user wrote 1 word\./);
    expect(message.content).toMatch(/^You said: "Hello"/);
    expect(whole.usage?.completion_tokens_details?.reasoning_tokens).toBe(tokenize(message.reasoning_content ?? '').length);
  });

  it('refuses in refusal with content null, streamed after a refusal:"" first chunk', async () => {
    const whole = await client.chat.completions.create({ model: 'chatql-mock-refusal', messages: hello });
    expect(whole.choices[0]?.message).toMatchObject({ content: null, refusal: REFUSAL_TEXT });
    expect(whole.choices[0]?.finish_reason).toBe('stop');
    const chunks = await collect({ model: 'chatql-mock-refusal', messages: hello, stream: true });
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: null, refusal: '' });
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.refusal ?? '').join('')).toBe(REFUSAL_TEXT);
    expect(chunks.some((chunk) => typeof chunk.choices[0]?.delta.content === 'string')).toBe(false);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });
});

describe('error models', () => {
  const envelope = (message: string, type: string | null, param: string | null, code: string | null) => ({
    error: { message, type, param, code },
  });
  const cases = [
    {
      model: 'fail-400',
      status: 400,
      errorClass: BadRequestError,
      body: envelope(
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 8227 tokens. Please reduce the length of the messages.",
        'invalid_request_error',
        'messages',
        'context_length_exceeded',
      ),
    },
    {
      model: 'fail-401',
      status: 401,
      errorClass: AuthenticationError,
      body: { error: expect.objectContaining({ code: 'invalid_api_key', param: null, type: 'invalid_request_error' }) },
    },
    {
      model: 'fail-403',
      status: 403,
      errorClass: PermissionDeniedError,
      body: { error: expect.objectContaining({ type: 'permission_error', code: '403', param: null }) },
    },
    {
      model: 'fail-404',
      status: 404,
      errorClass: NotFoundError,
      body: envelope(
        'The model `fail-404` does not exist or you do not have access to it.',
        'invalid_request_error',
        null,
        'model_not_found',
      ),
    },
    {
      model: 'fail-429',
      status: 429,
      errorClass: RateLimitError,
      body: { error: expect.objectContaining({ code: 'rate_limit_exceeded', param: null }) },
    },
    {
      model: 'fail-budget',
      status: 429,
      errorClass: RateLimitError,
      body: envelope('Budget has been exceeded! Current cost: 2.51, Max budget: 2.5', 'budget_exceeded', null, '429'),
    },
    {
      model: 'fail-500',
      status: 500,
      errorClass: InternalServerError,
      body: envelope('The server had an error while processing your request.', 'server_error', null, null),
    },
  ];

  it.each(cases)('$model answers $status in the OpenAI envelope', async ({ model, status, errorClass, body }) => {
    const res = await post({ model, messages: hello, stream: true });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    const json = (await res.json()) as { error: object };
    expect(json).toEqual(body);
    expect(Object.keys(json.error)).toEqual(['message', 'type', 'param', 'code']);
    const error = await rejection(client.chat.completions.create({ model, messages: hello }));
    expect(error).toBeInstanceOf(errorClass);
    expect((error as APIError).status).toBe(status);
  });

  it('fail-429 carries retry-after and retry-after-ms; fail-budget does not', async () => {
    const limited = await post({ model: 'fail-429', messages: hello });
    expect(limited.headers.get('retry-after')).toBe('30');
    expect(limited.headers.get('retry-after-ms')).toBe('30000');
    const budget = await post({ model: 'fail-budget', messages: hello });
    expect(budget.headers.get('retry-after')).toBeNull();
  });

  it('answers an unknown model, bad JSON and missing fields with OpenAI errors', async () => {
    const unknown = await post({ model: 'gpt-nope', messages: hello });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual(
      envelope('The model `gpt-nope` does not exist or you do not have access to it.', 'invalid_request_error', null, 'model_not_found'),
    );
    const badRequests: [unknown, string | null][] = [
      ['{"model": ', null],
      ['', 'model'],
      [[], null],
      [{ messages: hello }, 'model'],
      [{ model: 'chatql-mock' }, 'messages'],
      [{ model: 'chatql-mock', messages: [] }, 'messages'],
      [{ model: 'chatql-mock', messages: ['hi'] }, 'messages[0]'],
      [{ model: 'chatql-mock', messages: [{ role: 'robot', content: 'hi' }] }, 'messages[0].role'],
      [{ model: 'chatql-mock', messages: hello, max_tokens: 0 }, 'max_tokens'],
      [{ model: 'chatql-mock', messages: hello, tools: [{ type: 'function' }] }, 'tools[0].function.name'],
      [{ model: 'chatql-mock', messages: hello, tool_choice: 'auto' }, 'tool_choice'],
    ];
    for (const [body, param] of badRequests) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const json = (await res.json()) as { error: Record<string, unknown> };
      expect(Object.keys(json.error)).toEqual(['message', 'type', 'param', 'code']);
      expect(json.error).toMatchObject({ type: 'invalid_request_error', param });
    }
  });

  it('answers an unknown route with 404 in the envelope', async () => {
    const res = await fetch(`${mock.url}/embeddings`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    expect(await res.json()).toEqual(envelope('Invalid URL (POST /v1/embeddings)', 'invalid_request_error', null, null));
  });

  it('survives odd content and still answers', async () => {
    const odd = await post({
      model: 'chatql-mock',
      messages: [
        { role: 'user', content: 42 },
        { role: 'user', content: [null, 7, { type: 'text' }] },
      ],
    });
    expect(odd.status).toBe(200);
    expect(((await odd.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content).toMatch(/^You said: ""/);
  });
});

describe('mid-stream failure models', () => {
  it('fail-break sends a few words, then drops the connection', async () => {
    const received: string[] = [];
    const error = await rejection(
      (async () => {
        const stream = await client.chat.completions.create({ model: 'fail-break', messages: hello, stream: true });
        for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? '');
      })(),
    );
    expect(received.join('')).toBe('You said: "Hello".');
    expect(error).toBeInstanceOf(Error);
    expect(await rejection(client.chat.completions.create({ model: 'fail-break', messages: hello }))).toBeInstanceOf(APIConnectionError);
  });

  it('fail-no-finish ends with [DONE] but no finish chunk and no usage', async () => {
    const res = await post({ model: 'fail-no-finish', messages: hello, stream: true, stream_options: { include_usage: true } });
    const events = parseSse(await res.text()) as (ChatCompletionChunk | '[DONE]')[];
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1) as ChatCompletionChunk[];
    expect(chunks.length).toBeGreaterThan(10);
    expect(chunks.every((chunk) => chunk.choices[0]?.finish_reason === null && !chunk.usage)).toBe(true);
    const whole = await client.chat.completions.create({ model: 'fail-no-finish', messages: hello });
    expect(whole.choices[0]?.finish_reason).toBeNull();
  });

  it("fail-stream-error sends LiteLLM's in-band error and [DONE]; the SDK throws it", async () => {
    const res = await post({ model: 'fail-stream-error', messages: hello, stream: true });
    const events = parseSse(await res.text());
    expect(events.slice(-2)).toEqual([
      { error: { message: 'litellm.RateLimitError: Rate limit reached, please retry', type: 'None', param: null, code: '429' } },
      '[DONE]',
    ]);
    expect(events).toHaveLength(1 + 3 + 2);
    const error = await rejection(collect({ model: 'fail-stream-error', messages: hello, stream: true }));
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBeUndefined();
    expect((error as APIError).code).toBe('429');
    const whole = await post({ model: 'fail-stream-error', messages: hello });
    expect(whole.status).toBe(429);
  });

  it("fail-vllm-error sends vLLM's flat in-band error and [DONE]", async () => {
    const res = await post({ model: 'fail-vllm-error', messages: hello, stream: true });
    const events = parseSse(await res.text());
    expect(events.at(-2)).toMatchObject({ object: 'error', type: 'BadRequestError', param: null, code: 400 });
    expect(Object.keys(events.at(-2) as object)).toEqual(['object', 'message', 'type', 'param', 'code']);
    expect(events.at(-1)).toBe('[DONE]');
    const whole = await post({ model: 'fail-vllm-error', messages: hello });
    expect(whole.status).toBe(400);
  });

  it('fail-stall sends headers and a few words, then nothing until the client gives up', async () => {
    const controller = new AbortController();
    const res = await post({ model: 'fail-stall', messages: hello, stream: true }, { signal: controller.signal });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while ((text.match(/\n\n/g) ?? []).length < 4) text += new TextDecoder().decode((await reader.read()).value);
    const next = reader.read();
    const outcome = await Promise.race([next.then(() => 'data'), new Promise((resolve) => setTimeout(resolve, 150, 'silence'))]);
    expect(outcome).toBe('silence');
    expect(parseSse(text)).toHaveLength(4);
    expect(mock.openRequests()).toBe(1);
    controller.abort();
    await next.catch(() => undefined);
    await mock.requests[0]?.closed;
    expect(mock.requests[0]?.aborted).toBe(true);
    expect(mock.openRequests()).toBe(0);
  });
});

describe('scripted responses and connection handling', () => {
  it('enqueue answers the next chat requests in FIFO order, whatever the model', async () => {
    mock.enqueue(
      { status: 503, body: { error: { message: 'overloaded', type: 'server_error', param: null, code: null } } },
      {
        status: 429,
        headers: { 'retry-after': '1' },
        body: { error: { message: 'slow down', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
      },
      { status: 200, body: { scripted: true } },
    );
    const first = await rejection(client.chat.completions.create({ model: 'chatql-mock', messages: hello }));
    expect(first).toBeInstanceOf(InternalServerError);
    expect((first as APIError).status).toBe(503);
    const second = await rejection(client.chat.completions.create({ model: 'chatql-mock', messages: hello }));
    expect(second).toBeInstanceOf(RateLimitError);
    expect((second as APIError).headers?.get('retry-after')).toBe('1');
    expect(await client.chat.completions.create({ model: 'fail-500', messages: hello })).toEqual({ scripted: true });
    const fourth = await client.chat.completions.create({ model: 'chatql-mock', messages: hello });
    expect(fourth.object).toBe('chat.completion');
    // GET /v1/models never consumes the queue.
    mock.enqueue({ status: 500 });
    await client.models.list();
    expect(await rejection(client.chat.completions.create({ model: 'chatql-mock', messages: hello }))).toBeInstanceOf(InternalServerError);
  });

  it('a reset action destroys the socket: the SDK throws APIConnectionError', async () => {
    mock.enqueue({ action: 'reset' });
    const error = await rejection(client.chat.completions.create({ model: 'chatql-mock', messages: hello }));
    expect(error).toBeInstanceOf(APIConnectionError);
    expect(mock.requests).toHaveLength(1);
    // The next request gets a fresh connection and a normal answer.
    expect((await client.chat.completions.create({ model: 'chatql-mock', messages: hello })).object).toBe('chat.completion');
  });

  it('a hang is recorded as aborted with closedAt when the client aborts', async () => {
    mock.enqueue({ action: 'hang' });
    const controller = new AbortController();
    const arrived = mock.nextRequest();
    const pending = client.chat.completions.create({ model: 'chatql-mock', messages: hello }, { signal: controller.signal });
    const record = await arrived;
    expect(record.body).toMatchObject({ model: 'chatql-mock', messages: hello });
    expect(mock.openRequests()).toBe(1);
    expect(record.closedAt).toBeUndefined();
    controller.abort();
    expect(await rejection(pending)).toBeInstanceOf(Error);
    await record.closed;
    expect(record.aborted).toBe(true);
    expect(record.closedAt).toBeGreaterThanOrEqual(record.receivedAt);
    expect(mock.openRequests()).toBe(0);
  });

  it('records method, path without query, headers and body; reset clears them', async () => {
    await fetch(`${mock.url}/models?limit=1`, { headers: { authorization: 'Bearer abc' } });
    await client.chat.completions.create({ model: 'chatql-mock', messages: hello });
    const [models, chat] = mock.requests;
    expect(models).toMatchObject({ id: expect.any(Number), method: 'GET', path: '/v1/models', body: undefined, aborted: false });
    expect(models?.headers.authorization).toBe('Bearer abc');
    expect(chat).toMatchObject({ method: 'POST', path: '/v1/chat/completions', body: { model: 'chatql-mock', messages: hello } });
    expect(chat?.id).toBeGreaterThan(models?.id ?? Infinity);
    await chat?.closed;
    expect(chat?.aborted).toBe(false);
    mock.reset();
    expect(mock.requests).toHaveLength(0);
  });

  it('keeps connections alive between requests', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<boolean>((resolve, reject) => {
        const req = httpRequest(`${mock.url}/models`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(req.reusedSocket));
        });
        req.on('error', reject);
        req.end();
      });
    expect(await get()).toBe(false);
    expect(await get()).toBe(true);
    agent.destroy();
  });

  it('close() resolves with a hanging request and a paced stream open', async () => {
    const doomed = await startMockUpstream({ wordDelayMs: 10_000 });
    const hangClient = new OpenAI({ baseURL: doomed.url, apiKey: 'x', maxRetries: 0 });
    const hanging = rejection(hangClient.chat.completions.create({ model: 'fail-hang', messages: hello }));
    const streaming = rejection(collect({ model: 'chatql-mock', messages: hello, stream: true }, hangClient));
    while (doomed.requests.length < 2) await doomed.nextRequest();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(doomed.openRequests()).toBe(2);
    const started = performance.now();
    await doomed.close();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await hanging).toBeInstanceOf(APIConnectionError);
    expect(await streaming).toBeInstanceOf(Error);
    expect(doomed.openRequests()).toBe(0);
    await expect(doomed.nextRequest()).rejects.toThrow(/closed/);
  });
});

describe('apiKey', () => {
  it('requires the bearer key when set, without echoing a wrong one', async () => {
    const guarded = await startMock({ apiKey: 'sk-right', wordDelayMs: 0 });
    const wrong = new OpenAI({ baseURL: guarded.url, apiKey: 'sk-wrong-key', maxRetries: 0 });
    const error = await rejection(wrong.chat.completions.create({ model: 'chatql-mock', messages: hello }));
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(JSON.stringify((error as APIError).error)).not.toContain('sk-wrong-key');
    expect(await rejection(wrong.models.list())).toBeInstanceOf(AuthenticationError);
    const right = new OpenAI({ baseURL: guarded.url, apiKey: 'sk-right', maxRetries: 0 });
    expect((await right.chat.completions.create({ model: 'chatql-mock', messages: hello })).object).toBe('chat.completion');
  });
});

describe('npm run mock-upstream', () => {
  it('prints its base URL and models on one line, serves, and exits on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/mock-upstream/main.ts'], {
      env: { ...process.env, PORT: '0', MOCK_WORD_DELAY_MS: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [line] = (await once(child.stdout, 'data')) as [Buffer];
      const match = /^Mock upstream at (http:\/\/127\.0\.0\.1:\d+\/v1); models: (.+)\n$/.exec(line.toString());
      // Every served model, the test-only ones marked.
      expect(match?.[2]).toBe(MOCK_MODELS.map((model) => (model.listed === false ? `${model.id} (unlisted)` : model.id)).join(', '));
      expect(match?.[2]).toContain('chatql-mock-long (unlisted), chatql-mock-bench (unlisted), fail-400,');
      const cli = new OpenAI({ baseURL: match?.[1] ?? '', apiKey: 'x', maxRetries: 0 });
      expect((await cli.chat.completions.create({ model: 'chatql-mock', messages: hello })).object).toBe('chat.completion');
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      expect((await exited)[0]).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 15_000);
});

describe('listed and unlisted models', () => {
  const unlisted = ['chatql-mock-long', 'chatql-mock-bench', 'fail-429-tokens', 'fail-429-requests', 'fail-huge-chunk'];

  it('leaves the test-only models out of GET /v1/models, and only them', async () => {
    expect(MOCK_MODELS.filter((model) => model.listed === false).map((model) => model.id)).toEqual(unlisted);
    const listed = (await client.models.list()).data.map((model) => model.id);
    expect(listed).toEqual(MOCK_MODELS.filter((model) => !unlisted.includes(model.id)).map((model) => model.id));
    expect(listed).toContain('chatql-mock-thinking');
    for (const id of unlisted) expect(listed).not.toContain(id);
  });

  it('still serves them by name: GET /v1/models/{id} and chat completions', async () => {
    for (const id of ['chatql-mock', ...unlisted]) {
      const res = await fetch(`${mock.url}/models/${encodeURIComponent(id)}`);
      expect(res.status, id).toBe(200);
      expect(await res.json()).toEqual({ id, object: 'model', created: 1735689600, owned_by: 'chatql-mock' });
    }
    expect((await client.models.retrieve('chatql-mock-bench')).id).toBe('chatql-mock-bench');
    expect(await rejection(client.models.retrieve('gpt-nope'))).toBeInstanceOf(NotFoundError);
    const long = await client.chat.completions.create({ model: 'chatql-mock-long', messages: hello, max_tokens: 3 });
    expect(long.choices[0]).toMatchObject({ message: { content: 'This answer goes' }, finish_reason: 'length' });
    const bench = await client.chat.completions.create({ model: BENCH_MOCK_MODEL, messages: hello });
    expect(bench.choices[0]?.finish_reason).toBe('stop');
    expect((await post({ model: 'fail-429-tokens', messages: hello })).status).toBe(429);
  });
});

describe('GET /model/info', () => {
  const root = () => mock.url.replace(/\/v1$/, '');

  it('describes every priced model (listed or not) in LiteLLM shape, at the root and under /v1', async () => {
    const atRoot = await fetch(`${root()}/model/info`);
    expect(atRoot.status).toBe(200);
    expect(atRoot.headers.get('content-type')).toBe('application/json');
    const body = (await atRoot.json()) as { data: { model_name: string; model_info: Record<string, unknown> }[] };
    expect(await (await fetch(`${mock.url}/model/info`)).json()).toEqual(body);
    expect(body.data.map((entry) => entry.model_name)).toEqual([
      'chatql-mock',
      'chatql-mock-reasoning',
      'chatql-mock-thinking',
      'chatql-mock-refusal',
      'chatql-mock-markdown',
      'chatql-mock-long',
    ]);
    expect(body.data.map((entry) => entry.model_name)).toEqual(PRICED_MOCK_MODELS.map((model) => model.id));
    const [mini, reasoning, thinking] = body.data;
    expect(mini).toEqual({
      model_name: 'chatql-mock',
      litellm_params: { model: 'chatql-mock/chatql-mock' },
      model_info: {
        id: expect.stringMatching(/^[0-9a-f]{64}$/),
        mode: 'chat',
        litellm_provider: 'chatql-mock',
        input_cost_per_token: 0.15 / 1e6,
        output_cost_per_token: 0.6 / 1e6,
        cache_read_input_token_cost: 0.075 / 1e6,
        max_tokens: 8192,
      },
    });
    expect(Object.keys(mini?.model_info ?? {})).toEqual([
      'id',
      'mode',
      'litellm_provider',
      'input_cost_per_token',
      'output_cost_per_token',
      'cache_read_input_token_cost',
      'max_tokens',
    ]);
    expect(reasoning?.model_info).toMatchObject({ input_cost_per_token: 1.1 / 1e6, output_cost_per_token: 4.4 / 1e6 });
    expect(reasoning?.model_info).not.toHaveProperty('cache_read_input_token_cost');
    expect(thinking?.model_info).toMatchObject({
      input_cost_per_token: 3 / 1e6,
      output_cost_per_token: 15 / 1e6,
      cache_read_input_token_cost: 0.3 / 1e6,
    });
    // Stable ids: another server (another run) gives the same ones, one per model.
    const other = await startMock();
    expect(await (await fetch(`${other.url}/model/info`)).json()).toEqual(body);
    expect(new Set(body.data.map((entry) => entry.model_info.id)).size).toBe(body.data.length);
    // The route never consumes the chat queue.
    mock.enqueue({ status: 500 });
    await fetch(`${root()}/model/info`);
    expect(await rejection(client.chat.completions.create({ model: 'chatql-mock', messages: hello }))).toBeInstanceOf(InternalServerError);
  });

  it('requires the bearer key like the other routes', async () => {
    const guarded = await startMock({ apiKey: 'sk-right' });
    for (const path of ['/model/info', '/v1/model/info']) {
      const url = `${guarded.url.replace(/\/v1$/, '')}${path}`;
      const refused = await fetch(url, { headers: { authorization: 'Bearer sk-wrong' } });
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
      expect((await fetch(url, { headers: { authorization: 'Bearer sk-right' } })).status).toBe(200);
    }
  });

  it('modelInfo: false answers 404 like an unknown route, and changes nothing else', async () => {
    const plain = await startMock({ modelInfo: false, wordDelayMs: 0 });
    const base = plain.url.replace(/\/v1$/, '');
    const atRoot = await fetch(`${base}/model/info`);
    expect(atRoot.status).toBe(404);
    expect(await atRoot.json()).toEqual({
      error: { message: 'Invalid URL (GET /model/info)', type: 'invalid_request_error', param: null, code: null },
    });
    const underV1 = await fetch(`${plain.url}/model/info`);
    expect(underV1.status).toBe(404);
    expect(((await underV1.json()) as { error: { message: string } }).error.message).toBe('Invalid URL (GET /v1/model/info)');
    const plainClient = new OpenAI({ baseURL: plain.url, apiKey: 'x', maxRetries: 0 });
    expect((await plainClient.models.list()).data.length).toBe(LISTED_MOCK_MODELS.length);
    const res = await fetch(`${plain.url}/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'chatql-mock', messages: hello }),
    });
    expect(res.headers.get('x-litellm-response-cost')).not.toBeNull();
  });
});

describe('cost reporting', () => {
  const price = { input: 0.15, output: 0.6, cachedInput: 0.075 };

  it('computes the cost from the price and the usage, cached tokens at their own price', () => {
    expect(mockCost(price, { prompt_tokens: 1_000_000, completion_tokens: 1_000_000 })).toBe(0.75);
    expect(mockCost(price, { prompt_tokens: 4, completion_tokens: 10 })).toBe(0.0000066);
    expect(mockCost(price, { prompt_tokens: 100, completion_tokens: 0, prompt_tokens_details: { cached_tokens: 40 } })).toBe(0.000012);
    expect(
      mockCost({ input: 1, output: 2 }, { prompt_tokens: 10, completion_tokens: 0, prompt_tokens_details: { cached_tokens: 10 } }),
    ).toBe(0.00001);
    expect(formatCost(6e-7)).toBe('0.0000006');
    expect(formatCost(0)).toBe('0');
    expect(formatCost(12.5)).toBe('12.5');
    const chatqlMock = findMockModel('chatql-mock');
    const usage = { prompt_tokens: 4, completion_tokens: 10 };
    expect(chatqlMock && costReported(chatqlMock, usage)).toBe(0.0000066);
    const reasoning = findMockModel('chatql-mock-reasoning');
    expect(reasoning && costReported(reasoning, usage)).toBeUndefined();
    const unpriced = findMockModel('fail-content-filter');
    expect(unpriced && costReported(unpriced, usage)).toBeUndefined();
  });

  it('a reporting model sends x-litellm-response-cost on a whole answer, as a plain decimal', async () => {
    const res = await post({ model: 'chatql-mock', messages: hello });
    const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
    const header = res.headers.get('x-litellm-response-cost') ?? '';
    expect(header).toMatch(/^\d+\.\d+$/);
    expect(Number(header)).toBe(mockCost(price, body.usage));
    expect(Number(header)).toBeCloseTo((4 * 0.15 + body.usage.completion_tokens * 0.6) / 1e6, 15);
    const thinking = await post({ model: 'chatql-mock-thinking', messages: hello });
    const thinkingUsage = ((await thinking.json()) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    expect(Number(thinking.headers.get('x-litellm-response-cost'))).toBe(
      mockCost({ input: 3, output: 15, cachedInput: 0.3 }, thinkingUsage),
    );
  });

  it('a reporting model puts usage.cost in the stream usage chunk; the SDK keeps it', async () => {
    const res = await post({ model: 'chatql-mock', messages: hello, stream: true, stream_options: { include_usage: true } });
    expect(res.headers.get('x-litellm-response-cost')).toBeNull(); // not known when the headers leave
    const events = parseSse(await res.text());
    const usage = (events.at(-2) as { usage: Record<string, unknown> & { prompt_tokens: number; completion_tokens: number } }).usage;
    expect(Object.keys(usage)).toEqual([
      'prompt_tokens',
      'completion_tokens',
      'total_tokens',
      'prompt_tokens_details',
      'completion_tokens_details',
      'cost',
    ]);
    expect(usage.cost).toBe(mockCost(price, usage));
    const chunks = await collect({ model: 'chatql-mock-refusal', messages: hello, stream: true, stream_options: { include_usage: true } });
    const refusalUsage = chunks.at(-1)?.usage as (ChatCompletionChunk['usage'] & { cost?: number }) | undefined;
    expect(refusalUsage?.cost).toBe(mockCost({ input: 0.15, output: 0.6 }, refusalUsage ?? { prompt_tokens: 0, completion_tokens: 0 }));
  });

  it('chatql-mock-reasoning is priced but reports no cost; unpriced models report none either', async () => {
    const whole = await post({ model: 'chatql-mock-reasoning', messages: hello });
    expect(whole.status).toBe(200);
    expect(whole.headers.get('x-litellm-response-cost')).toBeNull();
    const chunks = await collect({
      model: 'chatql-mock-reasoning',
      messages: hello,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(chunks.at(-1)?.usage).toBeDefined();
    expect(chunks.at(-1)?.usage).not.toHaveProperty('cost');
    for (const model of [BENCH_MOCK_MODEL, 'fail-content-filter', 'fail-no-done']) {
      const res = await post({ model, messages: hello });
      expect(res.status, model).toBe(200);
      expect(res.headers.get('x-litellm-response-cost'), model).toBeNull();
    }
  });
});

describe('x-litellm-call-id', () => {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it('is on every chat completion answer, JSON, SSE and errors, besides x-request-id, fresh each time', async () => {
    const responses = [
      await post({ model: 'chatql-mock', messages: hello }),
      await post({ model: 'chatql-mock', messages: hello, stream: true }),
      await post({ model: 'fail-400', messages: hello }),
      await post({ model: 'chatql-mock', messages: [] }),
    ];
    const ids = responses.map((res) => res.headers.get('x-litellm-call-id') ?? '');
    for (const [i, res] of responses.entries()) {
      expect(ids[i]).toMatch(uuid);
      expect(res.headers.get('x-request-id')).toMatch(/^req_/);
      await res.arrayBuffer();
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(responses[1]?.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const viaSdk = await client.chat.completions.create({ model: 'chatql-mock', messages: hello }).withResponse();
    expect(viaSdk.response.headers.get('x-litellm-call-id')).toMatch(uuid);
  });
});

describe('n (several choices)', () => {
  it('answers n choices of the same answer, counting the prompt once and the completion n times', async () => {
    const one = await client.chat.completions.create({ model: 'chatql-mock', messages: hello });
    const three = await client.chat.completions.create({ model: 'chatql-mock', messages: hello, n: 3 });
    expect(three.choices.map((choice) => choice.index)).toEqual([0, 1, 2]);
    for (const choice of three.choices) {
      expect(choice).toMatchObject({ message: { role: 'assistant', content: one.choices[0]?.message.content }, finish_reason: 'stop' });
    }
    const words = one.usage?.completion_tokens ?? 0;
    expect(three.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 3 * words, total_tokens: 4 + 3 * words });
    const limited = await client.chat.completions.create({ model: 'chatql-mock', messages: hello, n: 2, max_tokens: 2 });
    expect(limited.choices.map((choice) => [choice.message.content, choice.finish_reason])).toEqual([
      ['You said:', 'length'],
      ['You said:', 'length'],
    ]);
    expect(limited.usage?.completion_tokens).toBe(4);
  });

  it('gives each choice its own tool-call ids', async () => {
    const tools = [
      { type: 'function' as const, function: { name: 'get_time' } },
      { type: 'function' as const, function: { name: 'get_date' } },
    ];
    const whole = await client.chat.completions.create({ model: 'chatql-mock', messages: hello, tools, n: 2 });
    const calls = whole.choices.map((choice) =>
      (choice.message.tool_calls ?? []).map((call) => (call.type === 'function' ? call : undefined)),
    );
    expect(calls.map((list) => list.map((call) => call?.function.name))).toEqual([
      ['get_time', 'get_date'],
      ['get_time', 'get_date'],
    ]);
    const ids = calls.flat().map((call) => call?.id);
    expect(new Set(ids).size).toBe(4);
    expect(whole.choices.every((choice) => choice.finish_reason === 'tool_calls')).toBe(true);
  });

  it('streams one chunk per choice per step, a finish chunk per choice, then one usage chunk', async () => {
    const whole = await client.chat.completions.create({ model: 'chatql-mock', messages: hello, max_tokens: 5 });
    const chunks = await collect({
      model: 'chatql-mock',
      messages: hello,
      max_tokens: 5,
      n: 2,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(chunks.slice(0, -1).every((chunk) => chunk.choices.length === 1)).toBe(true);
    // Role chunks, then the steps alternating between the choices, then the finish chunks.
    const indices = chunks.slice(0, -1).map((chunk) => chunk.choices[0]?.index);
    expect(indices).toEqual([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    expect(chunks.slice(0, 2).map((chunk) => chunk.choices[0]?.delta)).toEqual([
      { role: 'assistant', content: '', refusal: null },
      { role: 'assistant', content: '', refusal: null },
    ]);
    for (const index of [0, 1]) {
      const own = chunks.filter((chunk) => chunk.choices[0]?.index === index);
      expect(contentOf(own)).toBe(whole.choices[0]?.message.content);
      expect(own.at(-1)?.choices[0]).toEqual({ index, delta: {}, logprobs: null, finish_reason: 'length' });
    }
    expect(chunks.at(-1)?.choices).toEqual([]);
    expect(chunks.at(-1)?.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 10, total_tokens: 14 });
    expect((chunks.at(-1)?.usage as { cost?: number } | undefined)?.cost).toBe(
      mockCost({ input: 0.15, output: 0.6 }, { prompt_tokens: 4, completion_tokens: 10 }),
    );
  });

  it('refuses an n outside 1..128 like the other integer parameters', async () => {
    for (const n of [0, 129, 1.5, '2', -1]) {
      const res = await post({ model: 'chatql-mock', messages: hello, n });
      expect(res.status, String(n)).toBe(400);
      expect(((await res.json()) as { error: object }).error).toEqual({
        message: `Invalid 'n': expected an integer from 1 to 128, but got ${JSON.stringify(n)}.`,
        type: 'invalid_request_error',
        param: 'n',
        code: 'invalid_value',
      });
    }
    expect((await post({ model: 'chatql-mock', messages: hello, n: 128, max_tokens: 1 })).status).toBe(200);
    expect((await post({ model: 'chatql-mock', messages: hello, n: null })).status).toBe(200);
  });
});

describe('chatql-mock-thinking', () => {
  type ThinkingMessage = {
    content: string | null;
    reasoning_content?: string;
    thinking_blocks?: Record<string, unknown>[];
    tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
  };
  type Delta = Record<string, unknown> & { reasoning_content?: string; content?: string; thinking_blocks?: Record<string, unknown>[] };
  const tools = [{ type: 'function' as const, function: { name: 'get_time' } }];
  const model = 'chatql-mock-thinking';

  /** The first choice's message with the fields the SDK does not type. */
  function messageOf(completion: { choices: { message: object }[] }): ThinkingMessage {
    const message = completion.choices[0]?.message;
    if (!message) throw new Error('no choice');
    return message as ThinkingMessage;
  }

  async function toolTurn(): Promise<ThinkingMessage> {
    const first = await client.chat.completions.create({ model, messages: hello, tools });
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    return messageOf(first);
  }

  function followUp(assistant: object, before: object[] = hello) {
    return { model, tools, messages: [...before, assistant, { role: 'tool', tool_call_id: 'call_1', content: '{"time":"12:00"}' }] };
  }

  it('answers with reasoning_content and signed thinking_blocks, thinking like chatql-mock-reasoning', async () => {
    const whole = await client.chat.completions.create({ model, messages: hello });
    const message = messageOf(whole);
    const reasoning = await client.chat.completions.create({ model: 'chatql-mock-reasoning', messages: hello });
    const thought = messageOf(reasoning).reasoning_content ?? '';
    expect(message.reasoning_content).toBe(thought);
    expect(message.content).toBe(reasoning.choices[0]?.message.content);
    expect(message.thinking_blocks).toEqual([
      { type: 'thinking', thinking: thought, signature: thinkingSignature(thought) },
      { type: 'redacted_thinking', data: expect.any(String) },
    ]);
    expect(message.thinking_blocks).toEqual(thinkingBlocksFor(thought));
    expect(message.thinking_blocks?.[0]?.signature).toMatch(/^Eq[A-Za-z0-9+/]+=*$/);
    // Deterministic: the same thought, the same blocks.
    const again = await client.chat.completions.create({ model, messages: hello });
    expect(messageOf(again).thinking_blocks).toEqual(message.thinking_blocks);
    expect(whole.usage?.completion_tokens_details?.reasoning_tokens).toBe(tokenize(thought).length);
    expect(whole.usage?.completion_tokens).toBe(tokenize(thought).length + tokenize(message.content ?? '').length);
  });

  it("streams each reasoning word with its thinking fragment, then the signature and the redacted block, in LiteLLM's shape", async () => {
    const whole = await client.chat.completions.create({ model, messages: hello });
    const message = messageOf(whole);
    const thought = message.reasoning_content ?? '';
    const chunks = await collect({ model, messages: hello, stream: true, stream_options: { include_usage: true } });
    const deltas = chunks.slice(1, -2).map((chunk) => chunk.choices[0]?.delta as Delta);
    const words = tokenize(thought);
    expect(deltas.slice(0, words.length)).toEqual(
      words.map((word) => ({ reasoning_content: word, thinking_blocks: [{ type: 'thinking', thinking: word, signature: null }] })),
    );
    expect(deltas[words.length]).toEqual({ thinking_blocks: [{ type: 'thinking', thinking: '', signature: thinkingSignature(thought) }] });
    expect(deltas[words.length + 1]).toEqual({ thinking_blocks: [message.thinking_blocks?.[1]] });
    expect(deltas.slice(words.length + 2).every((delta) => Object.keys(delta).join() === 'content')).toBe(true);
    expect(contentOf(chunks)).toBe(message.content);
    // A client that joins the fragments and keeps the signature gets the non-streamed blocks.
    const blocks = deltas.flatMap((delta) => delta.thinking_blocks ?? []);
    const joinedText = blocks.map((block) => (block.type === 'thinking' ? block.thinking : '')).join('');
    const signature = blocks.find((block) => typeof block.signature === 'string')?.signature;
    expect([
      { type: 'thinking', thinking: joinedText, signature },
      ...blocks.filter((block) => block.type === 'redacted_thinking'),
    ]).toEqual(message.thinking_blocks);
    expect(chunks.at(-1)?.usage).toMatchObject({ completion_tokens: whole.usage?.completion_tokens });
    expect(chunks.at(-1)?.usage?.completion_tokens_details?.reasoning_tokens).toBe(words.length);
  });

  it('calls the tools after its thinking when tools are offered, streamed or not', async () => {
    const message = await toolTurn();
    expect(message.reasoning_content).toMatch(/^The request needs get_time\./);
    expect(message.thinking_blocks).toEqual(thinkingBlocksFor(message.reasoning_content ?? ''));
    expect(message.tool_calls?.map((call) => call.function.name)).toEqual(['get_time']);
    const chunks = await collect({ model, messages: hello, tools, stream: true });
    const kinds = chunks.slice(1, -1).map((chunk) => Object.keys(chunk.choices[0]?.delta ?? {}).join());
    const firstCall = kinds.indexOf('tool_calls');
    expect(kinds.slice(0, firstCall - 2).every((kind) => kind === 'reasoning_content,thinking_blocks')).toBe(true);
    expect(kinds.slice(firstCall - 2, firstCall)).toEqual(['thinking_blocks', 'thinking_blocks']);
    expect(kinds.slice(firstCall).every((kind) => kind === 'tool_calls')).toBe(true);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('refuses tool results without the thinking blocks of the turn that called the tools (400, LiteLLM wrapping Anthropic)', async () => {
    const message = await toolTurn();
    const { thinking_blocks: _blocks, ...bare } = message;
    const res = await post(followUp(bare));
    expect(res.status).toBe(400);
    expect(res.headers.get('x-litellm-call-id')).not.toBeNull();
    const expected =
      '{"error":{"message":"litellm.BadRequestError: AnthropicException - {\\"type\\":\\"error\\",\\"error\\":{\\"type\\":\\"invalid_request_error\\",\\"message\\":\\"messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks).\\"}}","type":"invalid_request_error","param":null,"code":"400"}}';
    expect(await res.text()).toBe(expected);
    // The index is the assistant message's own place in the request.
    const withSystem = await post(followUp(bare, [{ role: 'system', content: 'Be brief.' }, ...hello]));
    expect(((await withSystem.json()) as { error: { message: string } }).error.message).toContain('messages.2.content.0.type');
    // Streaming requests are refused the same way, before any stream starts.
    const streamed = await post({ ...followUp(bare), stream: true });
    expect(streamed.status).toBe(400);
    expect(streamed.headers.get('content-type')).toBe('application/json');
    expect(await streamed.text()).toBe(expected);
    const error = await rejection(client.chat.completions.create(followUp(bare) as ChatCompletionCreateParams));
    expect(error).toBeInstanceOf(BadRequestError);
    // The other models do not care.
    const reasoning = await post({ ...followUp(bare), model: 'chatql-mock-reasoning' });
    expect(reasoning.status).toBe(200);
  });

  it('refuses altered blocks: a tampered signature, altered text, a missing or reordered block, an extra field', async () => {
    const message = await toolTurn();
    const [thinking, redacted] = message.thinking_blocks ?? [];
    const altered: unknown[] = [
      [{ ...thinking, signature: `${thinking?.signature}x` }, redacted],
      [{ ...thinking, thinking: `${thinking?.thinking} (edited)` }, redacted],
      [thinking],
      [redacted, thinking],
      [{ ...thinking, cache_control: { type: 'ephemeral' } }, redacted],
      [thinking, { ...redacted, data: 'EmwKforged' }],
      'not blocks',
      [],
    ];
    for (const blocks of altered) {
      const res = await post(followUp({ ...message, thinking_blocks: blocks }));
      expect(res.status, JSON.stringify(blocks)).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain('messages.1.content.0.type');
    }
  });

  it('answers quoting the tool result once the blocks come back, in a streamed turn too', async () => {
    const message = await toolTurn();
    const answer = await post(followUp(message));
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as { choices: { message: ThinkingMessage; finish_reason: string }[] };
    expect(body.choices[0]?.message.content).toBe('The tool returned: {"time":"12:00"}');
    expect(body.choices[0]?.message.reasoning_content).toBe('The tool has answered. I will quote its result back.');
    expect(body.choices[0]?.finish_reason).toBe('stop');
    const streamed = await collect({ ...followUp(message), stream: true } as ChatCompletionCreateParams & { stream: true });
    expect(contentOf(streamed)).toBe('The tool returned: {"time":"12:00"}');
    // Only the blocks are checked: reasoning_content may come back too, or not.
    const { reasoning_content: _reasoning, ...withoutReasoning } = message;
    expect((await post(followUp(withoutReasoning))).status).toBe(200);
    // An earlier answered turn needs its blocks as much as the last one.
    const earlier = [
      ...hello,
      message,
      { role: 'tool', tool_call_id: 'call_1', content: '{"time":"11:00"}' },
      { role: 'user', content: 'Again' },
    ];
    const { thinking_blocks: _blocks, ...bare } = message;
    const refused = await post(followUp(message, [...hello, bare, { role: 'tool', tool_call_id: 'call_0', content: '{}' }, ...hello]));
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('messages.1.content.0.type');
    expect((await post(followUp(message, earlier))).status).toBe(200);
    // A turn that called tools but got no results yet, or a plain assistant turn, needs no blocks.
    expect((await post({ model, messages: [...hello, bare, ...hello] })).status).toBe(200);
  });
});

describe('LiteLLM and Azure failure models', () => {
  it("fail-guardrail answers 400 with LiteLLM's guardrail body, whose message is an object", async () => {
    const res = await post({ model: 'fail-guardrail', messages: hello, stream: true });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        message: { error: 'Violated guardrail policy', guardrail: 'chatql-mock-pii', detected: ['email'] },
        type: 'None',
        param: 'None',
        code: '400',
      },
    });
    expect(await rejection(client.chat.completions.create({ model: 'fail-guardrail', messages: hello }))).toBeInstanceOf(BadRequestError);
  });

  it("fail-content-filter-prompt answers 400 with Azure OpenAI's prompt filter body", async () => {
    const res = await post({ model: 'fail-content-filter-prompt', messages: hello });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe(
      '{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI\'s content management policy. Please modify your prompt and retry.","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":true,"severity":"medium"}}}}}',
    );
    const error = await rejection(client.chat.completions.create({ model: 'fail-content-filter-prompt', messages: hello }));
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as APIError).code).toBe('content_filter');
  });

  it('fail-429-tokens answers 429 on tokens per minute, with retry-after and x-ratelimit-* headers', async () => {
    const res = await post({ model: 'fail-429-tokens', messages: hello });
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual({
      error: {
        message:
          'Rate limit reached for fail-429-tokens on tokens per min (TPM): Limit 30000, Used 30000, Requested 120. Please try again in 20s.',
        type: 'tokens',
        param: null,
        code: 'rate_limit_exceeded',
      },
    });
    expect(res.headers.get('retry-after')).toBe('20');
    expect(res.headers.get('retry-after-ms')).toBeNull();
    expect(res.headers.get('x-ratelimit-limit-tokens')).toBe('30000');
    expect(res.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('499');
    expect(await rejection(client.chat.completions.create({ model: 'fail-429-tokens', messages: hello }))).toBeInstanceOf(RateLimitError);
  });

  it("fail-429-requests answers 429 in LiteLLM's limiter shape; only the headers say which limit", async () => {
    const res = await post({ model: 'fail-429-requests', messages: hello, stream: true });
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual({
      error: {
        message: 'Rate limit exceeded for api_key: sk-...1234. Limit type: requests. Current limit: 10, Remaining: 0.',
        type: 'None',
        param: 'None',
        code: '429',
      },
    });
    expect(res.headers.get('retry-after')).toBe('5');
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(res.headers.get('x-ratelimit-remaining-tokens')).toBe('10000');
    expect(res.headers.get('x-ratelimit-limit-tokens')).toBeNull();
  });

  it('fail-content-filter streams a few words, then finish_reason content_filter, usage and [DONE]', async () => {
    const res = await post({ model: 'fail-content-filter', messages: hello, stream: true, stream_options: { include_usage: true } });
    expect(res.status).toBe(200);
    const events = parseSse(await res.text()) as (ChatCompletionChunk | '[DONE]')[];
    expect(events).toHaveLength(1 + 3 + 1 + 1 + 1);
    const chunks = events.slice(0, -1) as ChatCompletionChunk[];
    expect(contentOf(chunks)).toBe('You said: "Hello".');
    expect(chunks.at(-2)?.choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'content_filter' }]);
    expect(chunks.at(-1)?.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 });
    expect(chunks.at(-1)?.usage).not.toHaveProperty('cost');
    expect(events.at(-1)).toBe('[DONE]');
    const viaSdk = await collect({ model: 'fail-content-filter', messages: hello, stream: true });
    expect(viaSdk.at(-1)?.choices[0]?.finish_reason).toBe('content_filter');
    const whole = await client.chat.completions.create({ model: 'fail-content-filter', messages: hello });
    expect(whole.choices[0]).toMatchObject({ message: { content: 'You said: "Hello".' }, finish_reason: 'content_filter' });
    expect(whole.usage?.completion_tokens).toBe(3);
    // max_tokens below the filter's cut is still a length stop.
    const short = await client.chat.completions.create({ model: 'fail-content-filter', messages: hello, max_tokens: 2 });
    expect(short.choices[0]?.finish_reason).toBe('length');
    const two = await client.chat.completions.create({ model: 'fail-content-filter', messages: hello, n: 2 });
    expect(two.choices.map((choice) => choice.finish_reason)).toEqual(['content_filter', 'content_filter']);
  });
});
