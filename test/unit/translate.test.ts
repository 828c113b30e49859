import { describe, expect, it } from 'vitest';

import type { ChatRequest } from '../../src/chat/types.js';
import { translateChatInput, translateMessage } from '../../src/upstream/translate.js';

const hello = [{ user: { content: 'Hello' } }];

function input(extra: Partial<ChatRequest> = {}): ChatRequest {
  return { model: 'gpt-4o-mini', messages: hello, ...extra };
}

describe('translateChatInput: the request envelope', () => {
  it('sends only model, messages and stream when nothing else is given', () => {
    expect(translateChatInput(input(), false)).toStrictEqual({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: false,
    });
  });

  it('leaves out every optional field given as null', () => {
    const body = translateChatInput(
      input({
        temperature: null,
        topP: null,
        maxTokens: null,
        maxCompletionTokens: null,
        stop: null,
        presencePenalty: null,
        frequencyPenalty: null,
        seed: null,
        user: null,
        logprobs: null,
        topLogprobs: null,
        responseFormat: null,
        tools: null,
        toolChoice: null,
        parallelToolCalls: null,
        reasoningEffort: null,
      }),
      false,
    );
    expect(Object.keys(body).sort()).toEqual(['messages', 'model', 'stream']);
  });

  it('renames every scalar field to snake_case and keeps its value', () => {
    const body = translateChatInput(
      input({
        temperature: 0.7,
        topP: 0.9,
        maxTokens: 256,
        maxCompletionTokens: 512,
        stop: ['\n\n', 'END'],
        presencePenalty: -0.5,
        frequencyPenalty: 1.5,
        seed: 42,
        user: 'end-user-7',
        logprobs: true,
        topLogprobs: 3,
        parallelToolCalls: false,
      }),
      false,
    );
    expect(body).toStrictEqual({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hello' }],
      temperature: 0.7,
      top_p: 0.9,
      max_tokens: 256,
      max_completion_tokens: 512,
      stop: ['\n\n', 'END'],
      presence_penalty: -0.5,
      frequency_penalty: 1.5,
      seed: 42,
      user: 'end-user-7',
      logprobs: true,
      top_logprobs: 3,
      parallel_tool_calls: false,
      stream: false,
    });
  });

  it('keeps falsy values that were given (0, false)', () => {
    const body = translateChatInput(
      input({ temperature: 0, topP: 0, presencePenalty: 0, seed: 0, logprobs: false, topLogprobs: 0, parallelToolCalls: false }),
      false,
    );
    expect(body).toStrictEqual({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hello' }],
      temperature: 0,
      top_p: 0,
      presence_penalty: 0,
      seed: 0,
      logprobs: false,
      top_logprobs: 0,
      parallel_tool_calls: false,
      stream: false,
    });
  });

  it('asks for the usage chunk when streaming', () => {
    const body = translateChatInput(input(), true);
    expect(body).toStrictEqual({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('sends stream: false and no stream_options when not streaming', () => {
    const body = translateChatInput(input({ temperature: 1 }), false);
    expect(body.stream).toBe(false);
    expect(Object.keys(body)).not.toContain('stream_options');
  });

  it.each([
    ['NONE', 'none'],
    ['MINIMAL', 'minimal'],
    ['LOW', 'low'],
    ['MEDIUM', 'medium'],
    ['HIGH', 'high'],
  ] as const)('sends reasoningEffort %s as reasoning_effort "%s"', (effort, wire) => {
    const body = translateChatInput(input({ reasoningEffort: effort }), false);
    expect(body.reasoning_effort).toBe(wire);
    expect(Object.keys(body)).not.toContain('reasoningEffort');
  });
});

describe('translateChatInput: response formats', () => {
  it('TEXT becomes {type: "text"}', () => {
    expect(translateChatInput(input({ responseFormat: { type: 'TEXT' } }), false).response_format).toStrictEqual({ type: 'text' });
  });

  it('JSON_OBJECT becomes {type: "json_object"}', () => {
    expect(translateChatInput(input({ responseFormat: { type: 'JSON_OBJECT' } }), false).response_format).toStrictEqual({
      type: 'json_object',
    });
  });

  it('JSON_SCHEMA becomes json_schema with name, schema and strict', () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const body = translateChatInput(
      input({ responseFormat: { type: 'JSON_SCHEMA', jsonSchema: { name: 'weather', schema, strict: true } } }),
      false,
    );
    expect(body.response_format).toStrictEqual({
      type: 'json_schema',
      json_schema: {
        name: 'weather',
        schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
        strict: true,
      },
    });
  });

  it('JSON_SCHEMA without strict leaves strict out', () => {
    const body = translateChatInput(
      input({ responseFormat: { type: 'JSON_SCHEMA', jsonSchema: { name: 'w', schema: { type: 'object' }, strict: null } } }),
      false,
    );
    expect(body.response_format).toStrictEqual({ type: 'json_schema', json_schema: { name: 'w', schema: { type: 'object' } } });
  });

  it('a response format of type TEXT ignores a jsonSchema given alongside it', () => {
    const body = translateChatInput(
      input({ responseFormat: { type: 'TEXT', jsonSchema: { name: 'w', schema: { type: 'object' } } } }),
      false,
    );
    expect(body.response_format).toStrictEqual({ type: 'text' });
  });
});

describe('translateChatInput: tools and tool choice', () => {
  const parameters = {
    type: 'object',
    properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
    required: ['location'],
  };

  it('wraps each tool as {type: "function", function: {name, description, parameters, strict}}', () => {
    const body = translateChatInput(
      input({
        tools: [
          { function: { name: 'get_weather', description: 'Current weather', parameters, strict: true } },
          { function: { name: 'get_stock_price', description: null, parameters: null, strict: null } },
        ],
      }),
      false,
    );
    expect(body.tools).toStrictEqual([
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Current weather',
          parameters: {
            type: 'object',
            properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
            required: ['location'],
          },
          strict: true,
        },
      },
      { type: 'function', function: { name: 'get_stock_price' } },
    ]);
  });

  it('keeps strict: false', () => {
    const body = translateChatInput(input({ tools: [{ function: { name: 'f', strict: false } }] }), false);
    expect(body.tools).toStrictEqual([{ type: 'function', function: { name: 'f', strict: false } }]);
  });

  it.each([
    ['AUTO', 'auto'],
    ['NONE', 'none'],
    ['REQUIRED', 'required'],
  ] as const)('tool choice mode %s becomes "%s"', (mode, wire) => {
    const body = translateChatInput(input({ tools: [{ function: { name: 'f' } }], toolChoice: { mode } }), false);
    expect(body.tool_choice).toBe(wire);
  });

  it('a tool choice naming a function becomes {type: "function", function: {name}}', () => {
    const body = translateChatInput(
      input({ tools: [{ function: { name: 'get_weather' } }], toolChoice: { function: 'get_weather' } }),
      false,
    );
    expect(body.tool_choice).toStrictEqual({ type: 'function', function: { name: 'get_weather' } });
  });

  it('sends no tool_choice and no tools when neither is given', () => {
    const body = translateChatInput(input({ parallelToolCalls: true }), false);
    expect(Object.keys(body)).not.toContain('tools');
    expect(Object.keys(body)).not.toContain('tool_choice');
    expect(body.parallel_tool_calls).toBe(true);
  });
});

describe('translateMessage', () => {
  it('system, with and without a name', () => {
    expect(translateMessage({ system: { content: 'Be brief.' } })).toStrictEqual({ role: 'system', content: 'Be brief.' });
    expect(translateMessage({ system: { content: 'Be brief.', name: null } })).toStrictEqual({
      role: 'system',
      content: 'Be brief.',
    });
    expect(translateMessage({ system: { content: 'Be brief.', name: 'ops' } })).toStrictEqual({
      role: 'system',
      content: 'Be brief.',
      name: 'ops',
    });
  });

  it('developer', () => {
    expect(translateMessage({ developer: { content: 'Think step by step.' } })).toStrictEqual({
      role: 'developer',
      content: 'Think step by step.',
    });
    expect(translateMessage({ developer: { content: 'x', name: 'dev' } })).toStrictEqual({
      role: 'developer',
      content: 'x',
      name: 'dev',
    });
  });

  it('user with plain text content', () => {
    expect(translateMessage({ user: { content: 'Hello', parts: null, name: null } })).toStrictEqual({
      role: 'user',
      content: 'Hello',
    });
    expect(translateMessage({ user: { content: 'Hello', name: 'alice' } })).toStrictEqual({
      role: 'user',
      content: 'Hello',
      name: 'alice',
    });
  });

  it('user with parts becomes a content array of text and image_url parts, detail lower-case', () => {
    const message = translateMessage({
      user: {
        parts: [
          { text: "What's in this image?" },
          { imageUrl: { url: 'https://example.com/cat.png', detail: 'HIGH' } },
          { imageUrl: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'LOW' } },
          { imageUrl: { url: 'https://example.com/dog.png', detail: 'AUTO' } },
          { imageUrl: { url: 'https://example.com/fox.png' } },
          { imageUrl: { url: 'https://example.com/owl.png', detail: null } },
        ],
      },
    });
    expect(message).toStrictEqual({
      role: 'user',
      content: [
        { type: 'text', text: "What's in this image?" },
        { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'high' } },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
        { type: 'image_url', image_url: { url: 'https://example.com/dog.png', detail: 'auto' } },
        { type: 'image_url', image_url: { url: 'https://example.com/fox.png' } },
        { type: 'image_url', image_url: { url: 'https://example.com/owl.png' } },
      ],
    });
  });

  it('assistant with text only', () => {
    expect(translateMessage({ assistant: { content: 'Hi there.' } })).toStrictEqual({ role: 'assistant', content: 'Hi there.' });
  });

  it('assistant with tool calls and no content leaves content out', () => {
    const message = translateMessage({
      assistant: {
        content: null,
        name: null,
        toolCalls: [
          { id: 'call_JMW1whyEaYG438VE1OIflxA2', function: { name: 'GetWeatherArgs', arguments: '{"city":"Edinburgh"}' } },
          { id: 'call_DNYTawLBoN8fj3KN6qU9N1Ou', function: { name: 'get_stock_price', arguments: '{"ticker":"AAPL"}' } },
        ],
      },
    });
    expect(message).toStrictEqual({
      role: 'assistant',
      tool_calls: [
        {
          id: 'call_JMW1whyEaYG438VE1OIflxA2',
          type: 'function',
          function: { name: 'GetWeatherArgs', arguments: '{"city":"Edinburgh"}' },
        },
        {
          id: 'call_DNYTawLBoN8fj3KN6qU9N1Ou',
          type: 'function',
          function: { name: 'get_stock_price', arguments: '{"ticker":"AAPL"}' },
        },
      ],
    });
  });

  it('assistant with both content and tool calls, and a name', () => {
    const message = translateMessage({
      assistant: { content: 'Let me check.', name: 'bot', toolCalls: [{ id: 'call_1', function: { name: 'f', arguments: '{}' } }] },
    });
    expect(message).toStrictEqual({
      role: 'assistant',
      content: 'Let me check.',
      name: 'bot',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
    });
  });

  it('tool becomes {role: "tool", tool_call_id, content}', () => {
    expect(translateMessage({ tool: { toolCallId: 'call_abc', content: '{"temp": 22}' } })).toStrictEqual({
      role: 'tool',
      tool_call_id: 'call_abc',
      content: '{"temp": 22}',
    });
  });

  it('refuses a message that sets no role', () => {
    expect(() => translateMessage({} as Parameters<typeof translateMessage>[0])).toThrow(TypeError);
  });

  it('translates a whole conversation in order', () => {
    const body = translateChatInput(
      input({
        messages: [
          { system: { content: 'sys' } },
          { user: { content: 'What is the weather in Paris?' } },
          { assistant: { toolCalls: [{ id: 'call_1', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }] } },
          { tool: { toolCallId: 'call_1', content: '{"temp":22}' } },
        ],
      }),
      true,
    );
    expect(body.messages).toStrictEqual([
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'What is the weather in Paris?' },
      {
        role: 'assistant',
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":22}' },
    ]);
  });
});

describe('translateMessage: reasoning that round-trips', () => {
  it('sends thinking blocks and reasoning content back exactly as received, only the fields that were set', () => {
    expect(
      translateMessage({
        assistant: {
          content: null,
          reasoningContent: 'Let me think',
          thinkingBlocks: [
            { type: 'thinking', thinking: 'Let me think', signature: 'EqSig', data: null },
            { type: 'redacted_thinking', data: 'opaque' },
          ],
          toolCalls: [{ id: 'call_1', function: { name: 'f', arguments: '{}' } }],
        },
      }),
    ).toStrictEqual({
      role: 'assistant',
      reasoning_content: 'Let me think',
      thinking_blocks: [
        { type: 'thinking', thinking: 'Let me think', signature: 'EqSig' },
        { type: 'redacted_thinking', data: 'opaque' },
      ],
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }],
    });
  });

  it('sends n', () => {
    expect(translateChatInput(input({ n: 3 }), false).n).toBe(3);
  });
});
