/**
 * The chat page's logic that needs no browser: the messages a turn sends, and the words each typed
 * error gets. (The browser tests cover the page itself.)
 */
import { describe, expect, it } from 'vitest';

import { buildInput, buildMessages, prettyArguments, TOOL_NOT_RUN, WEATHER_TOOL } from '../../web/src/conversation.js';
import { describeFailure } from '../../web/src/failures.js';

describe('buildMessages', () => {
  it('sends the system prompt, every earlier turn and the new one, in order', () => {
    const messages = buildMessages(
      'Be brief.',
      [
        { user: { text: 'Hi' }, answer: 'Hello!', toolCalls: [] },
        { user: { text: 'Stopped early' }, answer: '', toolCalls: [] },
      ],
      { text: 'And now?' },
    );
    expect(messages).toEqual([
      { system: { content: 'Be brief.' } },
      { user: { content: 'Hi' } },
      { assistant: { content: 'Hello!' } },
      // A turn stopped before any text: the question alone.
      { user: { content: 'Stopped early' } },
      { user: { content: 'And now?' } },
    ]);
  });

  it('leaves out a blank system prompt and sends an image as a content part, with or without text', () => {
    expect(buildMessages('  ', [], { text: 'What is it?', imageUrl: 'data:image/png;base64,AAAA' })).toEqual([
      { user: { parts: [{ text: 'What is it?' }, { imageUrl: { url: 'data:image/png;base64,AAAA' } }] } },
    ]);
    expect(buildMessages('', [], { text: '', imageUrl: 'data:image/png;base64,AAAA' })).toEqual([
      { user: { parts: [{ imageUrl: { url: 'data:image/png;base64,AAAA' } }] } },
    ]);
  });

  it('answers every earlier tool call with a tool message, as the API requires', () => {
    const call = { id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' };
    expect(buildMessages('', [{ user: { text: 'Weather?' }, answer: '', toolCalls: [call] }], { text: 'Thanks' })).toEqual([
      { user: { content: 'Weather?' } },
      { assistant: { content: null, toolCalls: [{ id: 'call_1', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } },
      { tool: { toolCallId: 'call_1', content: TOOL_NOT_RUN } },
      { user: { content: 'Thanks' } },
    ]);
  });

  it("sends an answer's reasoning and thinking blocks back with it, as received", () => {
    const call = { id: 'call_1', name: 'get_weather', arguments: '{}' };
    const thinkingBlocks = [
      { type: 'thinking', thinking: 'Weather needs a tool.', signature: 'EqSig', data: null },
      { type: 'redacted_thinking', thinking: null, signature: null, data: 'opaque' },
    ];
    const turn = { user: { text: 'Weather?' }, answer: '', toolCalls: [call], reasoningContent: 'Weather needs a tool.', thinkingBlocks };
    expect(buildMessages('', [turn], { text: 'Thanks' })[1]).toEqual({
      assistant: {
        content: null,
        toolCalls: [{ id: 'call_1', function: { name: 'get_weather', arguments: '{}' } }],
        reasoningContent: 'Weather needs a tool.',
        thinkingBlocks,
      },
    });
    // An answer without them sends neither field.
    expect(
      buildMessages('', [{ user: { text: 'Hi' }, answer: 'Hello', toolCalls: [], reasoningContent: null, thinkingBlocks: [] }], {
        text: 'x',
      })[1],
    ).toEqual({
      assistant: { content: 'Hello' },
    });
  });
});

describe('buildInput', () => {
  it('sends empty numbers as null (not sent upstream) and the tool only when offered', () => {
    const settings = { model: 'm', system: '', temperature: null, maxTokens: null, offerWeatherTool: false };
    expect(buildInput(settings, [], { text: 'x' })).toEqual({
      model: 'm',
      messages: [{ user: { content: 'x' } }],
      temperature: null,
      maxTokens: null,
    });
    expect(buildInput({ ...settings, temperature: 0, maxTokens: 1, offerWeatherTool: true }, [], { text: 'x' })).toMatchObject({
      temperature: 0,
      maxTokens: 1,
      tools: [WEATHER_TOOL],
    });
  });
});

describe('prettyArguments', () => {
  it('indents JSON and leaves what does not parse as the model wrote it', () => {
    expect(prettyArguments('{"city":"Paris"}')).toBe('{\n  "city": "Paris"\n}');
    expect(prettyArguments('{"city":"Par')).toBe('{"city":"Par');
  });
});

describe('describeFailure', () => {
  const base = { message: 'upstream said no', retryable: false };

  it('counts down a rate limit with a wait, and offers Retry when there is none', () => {
    const limited = { ...base, __typename: 'RateLimitError', retryable: true } as const;
    expect(describeFailure({ ...limited, retryAfterSeconds: 29.2 }).action).toEqual({ kind: 'wait', seconds: 30 });
    expect(describeFailure({ ...limited, retryAfterSeconds: null }).action).toEqual({ kind: 'retry' });
  });

  it('offers Retry only where retrying can help, and says what to do otherwise', () => {
    expect(describeFailure({ ...base, __typename: 'BudgetExceededError' })).toMatchObject({
      title: 'Budget exhausted',
      action: { kind: 'none' },
    });
    expect(describeFailure({ ...base, __typename: 'BudgetExceededError' }).advice).toContain('contact the operator');
    expect(describeFailure({ ...base, __typename: 'AuthenticationError' })).toMatchObject({
      title: 'Authentication failed',
      action: { kind: 'none' },
    });
    expect(describeFailure({ ...base, __typename: 'UpstreamTimeoutError', retryable: true })).toMatchObject({
      title: 'The upstream is slow',
      action: { kind: 'retry' },
    });
    const down = describeFailure({ ...base, __typename: 'UpstreamUnavailableError', retryable: true, status: 503 });
    expect(down).toMatchObject({ title: 'The upstream is down', action: { kind: 'retry' } });
    expect(down.advice).toContain('(HTTP 503)');
    const invalid = describeFailure({ ...base, __typename: 'InvalidRequestError', param: 'input.temperature', code: null });
    expect(invalid).toMatchObject({
      title: 'Invalid request',
      message: 'upstream said no (parameter: input.temperature)',
      action: { kind: 'none' },
    });
    expect(describeFailure({ ...base, __typename: 'NotFoundError' }).advice).toContain('pick another one');
    expect(describeFailure({ ...base, __typename: 'PermissionDeniedError' }).advice).toContain('pick another one');
  });
});
