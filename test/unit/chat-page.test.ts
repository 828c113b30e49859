/**
 * The chat page's logic that needs no browser: the messages a turn sends, and the words each typed
 * error gets. (The browser tests cover the page itself.)
 */
import { describe, expect, it } from 'vitest';

import { splitBlocks } from '../../web/src/blocks.js';
import {
  buildInput,
  buildMessages,
  newConversation,
  newRound,
  prettyArguments,
  type Round,
  TOOL_NOT_RUN,
  titleOf,
  totalsOf,
  type Turn,
  WEATHER_TOOL,
} from '../../web/src/conversation.js';
import { runTool } from '../../web/src/tools.js';
import type { StreamedMessage } from '../../web/src/useChatStream.js';
import { describeFailure } from '../../web/src/failures.js';

const EMPTY: StreamedMessage = { content: '', reasoning: '', refusal: '', thinkingBlocks: [], toolCalls: [] };

function round(message: Partial<StreamedMessage>, extra: Partial<Round> = {}): Round {
  return { ...newRound(), status: 'done', message: { ...EMPTY, ...message }, finishReason: 'STOP', ...extra };
}

function turn(text: string, ...rounds: Round[]): Turn {
  return { id: text, user: { text }, rounds };
}

describe('buildMessages', () => {
  it('sends the system prompt, every earlier turn and the new one, in order', () => {
    const turns = [
      turn('Hi', round({ content: 'Hello!' })),
      turn('Stopped early', round({}, { status: 'stopped' })),
      turn('Failed', round({}, { status: 'failed' })),
      turn('And now?', newRound()),
    ];
    expect(buildMessages('Be brief.', turns, 3, 0)).toEqual([
      { system: { content: 'Be brief.' } },
      { user: { content: 'Hi' } },
      { assistant: { content: 'Hello!' } },
      // A turn stopped before any text: the question alone; a failed one is no history.
      { user: { content: 'Stopped early' } },
      { user: { content: 'And now?' } },
    ]);
  });

  it('leaves out a blank system prompt and sends an image as a content part, with or without text', () => {
    const image = 'data:image/png;base64,AAAA';
    expect(buildMessages('  ', [{ id: 'a', user: { text: 'What is it?', imageUrl: image }, rounds: [] }], 0, 0)).toEqual([
      { user: { parts: [{ text: 'What is it?' }, { imageUrl: { url: image } }] } },
    ]);
    expect(buildMessages('', [{ id: 'a', user: { text: '', imageUrl: image }, rounds: [] }], 0, 0)).toEqual([
      { user: { parts: [{ imageUrl: { url: image } }] } },
    ]);
  });

  it('answers each tool call with its result, or says it was not run, as the API requires', () => {
    const call = { id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' };
    const answered = round(
      { toolCalls: [call] },
      { finishReason: 'TOOL_CALLS', toolResults: [{ callId: 'call_1', content: '{"t":18}', source: 'demo' }] },
    );
    const followUp = round({ content: 'It is 18 degrees.' });
    const turns = [
      turn('Weather?', answered, followUp),
      turn('Unanswered', round({ toolCalls: [{ ...call, id: 'call_2' }] }, { finishReason: 'TOOL_CALLS' })),
      turn('Thanks'),
    ];
    expect(buildMessages('', turns, 2, 0)).toEqual([
      { user: { content: 'Weather?' } },
      { assistant: { content: null, toolCalls: [{ id: 'call_1', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } },
      { tool: { toolCallId: 'call_1', content: '{"t":18}' } },
      { assistant: { content: 'It is 18 degrees.' } },
      { user: { content: 'Unanswered' } },
      { assistant: { content: null, toolCalls: [{ id: 'call_2', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } },
      { tool: { toolCallId: 'call_2', content: TOOL_NOT_RUN } },
      { user: { content: 'Thanks' } },
    ]);
    // The follow-up round of the first turn: its question and the round before it.
    expect(buildMessages('', turns, 0, 1)).toHaveLength(3);
  });

  it("sends an answer's reasoning and thinking blocks back with it, as received", () => {
    const call = { id: 'call_1', name: 'get_weather', arguments: '{}' };
    const thinkingBlocks = [
      { type: 'thinking', thinking: 'Weather needs a tool.', signature: 'EqSig', data: null },
      { type: 'redacted_thinking', thinking: null, signature: null, data: 'opaque' },
    ];
    const thought = round({ toolCalls: [call], reasoning: 'Weather needs a tool.', thinkingBlocks }, { finishReason: 'TOOL_CALLS' });
    expect(buildMessages('', [turn('Weather?', thought), turn('Thanks')], 1, 0)[1]).toEqual({
      assistant: {
        content: null,
        toolCalls: [{ id: 'call_1', function: { name: 'get_weather', arguments: '{}' } }],
        reasoningContent: 'Weather needs a tool.',
        thinkingBlocks,
      },
    });
    // An answer without them sends neither field.
    expect(buildMessages('', [turn('Hi', round({ content: 'Hello' })), turn('x')], 1, 0)[1]).toEqual({ assistant: { content: 'Hello' } });
  });
});

describe('buildInput', () => {
  it('sends empty numbers as null (not sent upstream) and the tool only when offered', () => {
    const settings = { model: 'm', system: '', temperature: null, maxTokens: null, offerWeatherTool: false };
    expect(buildInput(settings, [turn('x')], 0, 0)).toEqual({
      model: 'm',
      messages: [{ user: { content: 'x' } }],
      temperature: null,
      maxTokens: null,
    });
    expect(buildInput({ ...settings, temperature: 0, maxTokens: 1, offerWeatherTool: true }, [turn('x')], 0, 0)).toMatchObject({
      temperature: 0,
      maxTokens: 1,
      tools: [WEATHER_TOOL],
    });
  });
});

describe('the demo tool', () => {
  it('makes up the same weather for the same city, says it is a demo, and refuses what it cannot run', () => {
    const call = (args: string) => ({ id: 'c', name: 'get_weather', arguments: args });
    const paris = JSON.parse(runTool(call('{"city":"Paris"}'))) as { city: string; temperatureC: number; note: string };
    expect(paris).toMatchObject({ city: 'Paris' });
    expect(paris.temperatureC).toBeGreaterThanOrEqual(2);
    expect(paris.note).toMatch(/demo/i);
    expect(runTool(call('{"city":"Paris"}'))).toBe(runTool(call('{"city":"Paris"}')));
    expect(runTool(call('{"city":"Rome"}'))).not.toBe(runTool(call('{"city":"Paris"}')));
    expect(JSON.parse(runTool(call('{"city":')))).toHaveProperty('error');
    expect(JSON.parse(runTool({ id: 'c', name: 'send_email', arguments: '{}' }))).toHaveProperty('error');
  });
});

describe('conversation titles and totals', () => {
  it('titles a chat by the first words of its first message', () => {
    expect(titleOf({ text: 'What is the weather like in Paris today?' })).toBe('What is the weather like in Paris today?');
    expect(titleOf({ text: `${'word '.repeat(20)}` }).length).toBeLessThanOrEqual(48);
    expect(titleOf({ text: '', imageUrl: 'data:x' })).toBe('Image');
  });

  it('adds up tokens and cost where known', () => {
    const conversation = {
      ...newConversation('c'),
      turns: [
        turn(
          'a',
          round(
            { content: 'x' },
            { usage: { promptTokens: 5, completionTokens: 5, totalTokens: 10 }, cost: { amount: 0.001, currency: 'USD' } },
          ),
        ),
        turn('b', round({ content: 'y' }, { usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 }, cost: null })),
      ],
    };
    expect(totalsOf(conversation)).toEqual({ tokens: 12, cost: { amount: 0.001, currency: 'USD' } });
    expect(totalsOf(newConversation('d'))).toEqual({ tokens: 0, cost: null });
  });
});

describe('splitBlocks', () => {
  it('cuts at blank lines, but never inside a code fence or a list', () => {
    const text = [
      '# Title',
      '',
      'One paragraph.',
      '',
      '```ts',
      'const a = 1;',
      '',
      'const b = 2;',
      '```',
      '',
      '- a',
      '',
      '- b',
      '',
      'End.',
    ].join('\n');
    const blocks = splitBlocks(text);
    expect(blocks.join('\n')).toBe(text);
    expect(blocks.map((block) => block.trim())).toEqual([
      '# Title',
      'One paragraph.',
      '```ts\nconst a = 1;\n\nconst b = 2;\n```',
      '- a\n\n- b',
      'End.',
    ]);
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
    const limited = { ...base, __typename: 'RateLimitError', retryable: true, limit: 'REQUESTS' } as const;
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
    const down = describeFailure({
      ...base,
      __typename: 'UpstreamUnavailableError',
      retryable: true,
      status: 503,
      retryAfterSeconds: null,
    });
    expect(down).toMatchObject({ title: 'The upstream is down', action: { kind: 'retry' } });
    expect(down.advice).toContain('(HTTP 503)');
    // A model whose breaker is open: a countdown to its next probe.
    expect(
      describeFailure({ ...base, __typename: 'UpstreamUnavailableError', retryable: true, status: null, retryAfterSeconds: 12.5 }),
    ).toMatchObject({ title: 'The model is cooling down', action: { kind: 'wait', seconds: 13 } });
    const blocked = describeFailure({ ...base, __typename: 'ContentBlockedError', guardrail: 'pii-mask' });
    expect(blocked).toMatchObject({ title: 'Blocked by a content policy', action: { kind: 'none' } });
    expect(blocked.advice).toContain('“pii-mask”');
    expect(describeFailure({ ...base, __typename: 'BudgetExceededError', source: 'SERVICE' }).advice).toContain('midnight UTC');
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
