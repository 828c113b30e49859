import { describe, expect, it } from 'vitest';

import { MAX_JSON_DEPTH, validateChatInput } from '../../src/chat/validate.js';
import { ErrorSource, InvalidRequestError } from '../../src/errors.js';
import type { ChatRequest, JsonObject, JsonValue } from '../../src/chat/types.js';

function input(extra: Partial<ChatRequest> = {}): ChatRequest {
  return { model: 'gpt-4o-mini', messages: [{ user: { content: 'Hello' } }], ...extra };
}

/** The problem `validateChatInput` finds, asserted to be a service-side InvalidRequestError. */
function problem(value: ChatRequest): InvalidRequestError {
  const result = validateChatInput(value);
  expect(result).toBeInstanceOf(InvalidRequestError);
  expect(result!.source).toBe(ErrorSource.SERVICE);
  expect(result!.retryable).toBe(false);
  expect(result!.message).not.toBe('');
  return result!;
}

describe('validateChatInput', () => {
  it('accepts a minimal request', () => {
    expect(validateChatInput(input())).toBeNull();
  });

  it('accepts a request with every field set to a valid value', () => {
    expect(
      validateChatInput(
        input({
          messages: [
            { system: { content: 'Be brief.' } },
            { developer: { content: 'Reason.' } },
            { user: { parts: [{ text: 'Look' }, { imageUrl: { url: 'https://example.com/cat.png', detail: 'LOW' } }] } },
            { assistant: { toolCalls: [{ id: 'call_1', function: { name: 'get_weather', arguments: '{}' } }] } },
            { tool: { toolCallId: 'call_1', content: '{"temp":22}' } },
          ],
          temperature: 1,
          topP: 0.5,
          maxTokens: 100,
          maxCompletionTokens: 100,
          stop: ['END'],
          presencePenalty: 0.5,
          frequencyPenalty: -0.5,
          seed: 1,
          user: 'u',
          logprobs: true,
          topLogprobs: 5,
          responseFormat: { type: 'JSON_SCHEMA', jsonSchema: { name: 'w', schema: { type: 'object' }, strict: true } },
          tools: [{ function: { name: 'get_weather' } }],
          toolChoice: { function: 'get_weather' },
          parallelToolCalls: true,
          reasoningEffort: 'LOW',
        }),
      ),
    ).toBeNull();
  });

  it('accepts optional fields given as null', () => {
    expect(
      validateChatInput(
        input({
          temperature: null,
          topP: null,
          maxTokens: null,
          maxCompletionTokens: null,
          presencePenalty: null,
          frequencyPenalty: null,
          logprobs: null,
          topLogprobs: null,
          responseFormat: null,
        }),
      ),
    ).toBeNull();
  });

  describe('JSONObject inputs nest at most MAX_JSON_DEPTH (64) levels', () => {
    const nested = (depth: number): JsonObject => {
      let value: JsonObject = {};
      for (let i = 1; i < depth; i++) value = { properties: value };
      return value;
    };
    const arrays = (depth: number): JsonObject => {
      let value: JsonValue = [];
      for (let i = 2; i < depth; i++) value = [value];
      return { list: value };
    };

    it('accepts 64 levels of tool parameters and of a response format schema', () => {
      expect(MAX_JSON_DEPTH).toBe(64);
      expect(validateChatInput(input({ tools: [{ function: { name: 'f', parameters: nested(64) } }] }))).toBeNull();
      expect(
        validateChatInput(input({ responseFormat: { type: 'JSON_SCHEMA', jsonSchema: { name: 's', schema: nested(64) } } })),
      ).toBeNull();
      expect(validateChatInput(input({ tools: [{ function: { name: 'f', parameters: arrays(64) } }] }))).toBeNull();
    });

    it('refuses 65 levels (objects or arrays), naming the input at fault, code too_deep', () => {
      const tools = [{ function: { name: 'ok', parameters: nested(3) } }, { function: { name: 'deep', parameters: nested(65) } }];
      expect(problem(input({ tools }))).toMatchObject({ param: 'input.tools.1.function.parameters', code: 'too_deep' });
      expect(problem(input({ tools: [{ function: { name: 'f', parameters: arrays(65) } }] })).param).toBe(
        'input.tools.0.function.parameters',
      );
      const schema = nested(65);
      expect(problem(input({ responseFormat: { type: 'JSON_SCHEMA', jsonSchema: { name: 's', schema } } })).param).toBe(
        'input.responseFormat.jsonSchema.schema',
      );
    });

    it('refuses 20,000 levels without overflowing the stack', () => {
      let parameters: JsonObject = {};
      for (let i = 0; i < 20_000; i++) parameters = { a: parameters };
      expect(problem(input({ tools: [{ function: { name: 'f', parameters } }] })).code).toBe('too_deep');
    });
  });

  it('refuses an empty message list', () => {
    expect(problem(input({ messages: [] })).param).toBe('input.messages');
  });

  describe('user messages', () => {
    it('refuses a user message with both content and parts, naming its path', () => {
      const error = problem(input({ messages: [{ system: { content: 's' } }, { user: { content: 'Hi', parts: [{ text: 'Hi' }] } }] }));
      expect(error.param).toBe('input.messages.1.user');
    });

    it('refuses a user message with neither content nor parts', () => {
      expect(problem(input({ messages: [{ user: {} }] })).param).toBe('input.messages.0.user');
      expect(problem(input({ messages: [{ user: { content: null, parts: null, name: 'alice' } }] })).param).toBe('input.messages.0.user');
    });

    it('accepts a user message with only parts', () => {
      expect(validateChatInput(input({ messages: [{ user: { content: null, parts: [{ text: 'Hi' }] } }] }))).toBeNull();
    });
  });

  describe('numeric ranges', () => {
    it.each([
      ['temperature', -0.1],
      ['temperature', 2.01],
      ['topP', -0.01],
      ['topP', 1.01],
      ['presencePenalty', -2.1],
      ['presencePenalty', 2.1],
      ['frequencyPenalty', -2.5],
      ['frequencyPenalty', 3],
      ['maxTokens', 0],
      ['maxTokens', -1],
      ['maxCompletionTokens', 0],
      ['maxCompletionTokens', -10],
    ] as const)('refuses %s = %s', (field, value) => {
      expect(problem(input({ [field]: value })).param).toBe(`input.${field}`);
    });

    it.each([
      ['temperature', 0],
      ['temperature', 2],
      ['topP', 0],
      ['topP', 1],
      ['presencePenalty', -2],
      ['presencePenalty', 2],
      ['frequencyPenalty', -2],
      ['frequencyPenalty', 2],
      ['maxTokens', 1],
      ['maxCompletionTokens', 1],
    ] as const)('accepts the boundary %s = %s', (field, value) => {
      expect(validateChatInput(input({ [field]: value }))).toBeNull();
    });

    it.each([-1, 21])('refuses topLogprobs = %s even with logprobs: true', (value) => {
      expect(problem(input({ logprobs: true, topLogprobs: value })).param).toBe('input.topLogprobs');
    });

    it.each([0, 20])('accepts the boundary topLogprobs = %s with logprobs: true', (value) => {
      expect(validateChatInput(input({ logprobs: true, topLogprobs: value }))).toBeNull();
    });

    it.each([
      ['left out', undefined],
      ['null', null],
      ['false', false],
    ] as const)('refuses topLogprobs when logprobs is %s', (_label, logprobs) => {
      expect(problem(input({ logprobs, topLogprobs: 2 })).param).toBe('input.topLogprobs');
    });

    it('accepts logprobs: true without topLogprobs', () => {
      expect(validateChatInput(input({ logprobs: true }))).toBeNull();
    });
  });

  describe('response format', () => {
    it('refuses JSON_SCHEMA without jsonSchema', () => {
      expect(problem(input({ responseFormat: { type: 'JSON_SCHEMA' } })).param).toMatch(/^input\.responseFormat(\.jsonSchema)?$/);
      expect(problem(input({ responseFormat: { type: 'JSON_SCHEMA', jsonSchema: null } })).param).toMatch(
        /^input\.responseFormat(\.jsonSchema)?$/,
      );
    });

    it('accepts JSON_OBJECT and TEXT without jsonSchema', () => {
      expect(validateChatInput(input({ responseFormat: { type: 'JSON_OBJECT' } }))).toBeNull();
      expect(validateChatInput(input({ responseFormat: { type: 'TEXT' } }))).toBeNull();
    });
  });

  describe('tool messages', () => {
    const askWeather = { user: { content: 'Weather in Paris and Rome?' } };
    const callBoth = {
      assistant: {
        toolCalls: [
          { id: 'call_JMW1whyEaYG438VE1OIflxA2', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_DNYTawLBoN8fj3KN6qU9N1Ou', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
        ],
      },
    };

    it('accepts tool results that answer earlier assistant tool calls, parallel ones included', () => {
      expect(
        validateChatInput(
          input({
            messages: [
              askWeather,
              callBoth,
              { tool: { toolCallId: 'call_DNYTawLBoN8fj3KN6qU9N1Ou', content: '{"temp":18}' } },
              { tool: { toolCallId: 'call_JMW1whyEaYG438VE1OIflxA2', content: '{"temp":22}' } },
              { assistant: { content: 'Paris 22, Rome 18.' } },
              { user: { content: 'And again?' } },
            ],
          }),
        ),
      ).toBeNull();
    });

    it('refuses a tool result whose toolCallId matches no tool call', () => {
      const error = problem(input({ messages: [askWeather, callBoth, { tool: { toolCallId: 'call_unknown', content: '{}' } }] }));
      expect(error.param).toMatch(/^input\.messages\.2\.tool(\.toolCallId)?$/);
    });

    it('refuses a tool result that comes before the assistant tool call it names', () => {
      const error = problem(
        input({
          messages: [askWeather, { tool: { toolCallId: 'call_JMW1whyEaYG438VE1OIflxA2', content: '{"temp":22}' } }, callBoth],
        }),
      );
      expect(error.param).toMatch(/^input\.messages\.1\.tool(\.toolCallId)?$/);
    });

    it('refuses a tool result when no assistant message has tool calls', () => {
      const error = problem(
        input({
          messages: [{ user: { content: 'Hi' } }, { assistant: { content: 'Hello' } }, { tool: { toolCallId: 'call_1', content: 'x' } }],
        }),
      );
      expect(error.param).toMatch(/^input\.messages\.2\.tool(\.toolCallId)?$/);
    });
  });
});
