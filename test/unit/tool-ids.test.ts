import { describe, expect, it } from 'vitest';

import { ChunkAccumulator } from '../../src/chat/accumulate.js';
import { ToolCallIds } from '../../src/chat/tool-ids.js';
import type { WireChunk, WireCompletion } from '../../src/upstream/wire.js';

const envelope = { id: 'chatcmpl-g', object: 'chat.completion.chunk', created: 1, model: 'gemini-2.5-flash' };

describe('tool calls with an empty upstream id', () => {
  it('get a generated id in their first fragment, the same in the final completion; later empty ids become null', () => {
    const ids = new ToolCallIds();
    const accumulator = new ChunkAccumulator();
    const chunks: WireChunk[] = [
      {
        ...envelope,
        choices: [
          {
            index: 0,
            delta: {
              role: 'assistant',
              tool_calls: [
                { index: 0, id: '', type: 'function', function: { name: 'get_weather', arguments: '{"city":' } },
                { index: 1, id: '', type: 'function', function: { name: 'get_time', arguments: '{}' } },
              ],
            },
          },
        ],
      },
      { ...envelope, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: '', function: { arguments: '"Paris"}' } }] } }] },
      { ...envelope, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
    ];
    for (const chunk of chunks) {
      ids.fixChunk(chunk);
      accumulator.add(chunk);
    }
    const first = chunks[0]?.choices[0]?.delta?.tool_calls ?? [];
    expect(first[0]?.id).toMatch(/^call_[\w-]+_0_0$/);
    expect(first[1]?.id).toMatch(/^call_[\w-]+_0_1$/);
    expect(first[0]?.id).not.toBe(first[1]?.id);
    expect(chunks[1]?.choices[0]?.delta?.tool_calls?.[0]?.id).toBeNull();
    const result = accumulator.finish();
    if (!result.ok) throw new Error(result.reason);
    ids.fixCompletion(result.completion);
    const calls = result.completion.choices[0]?.message?.tool_calls ?? [];
    expect(calls.map((call) => call.id)).toEqual([first[0]?.id, first[1]?.id]);
    expect(calls[0]?.function?.arguments).toBe('{"city":"Paris"}');
  });

  it('a completion keeps the ids it has and fills only the empty ones, distinct per answer', () => {
    const completion = (): WireCompletion => ({
      id: 'chatcmpl-x',
      model: 'gemini',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            tool_calls: [
              { id: 'call_kept', type: 'function', function: { name: 'a', arguments: '{}' } },
              { id: '', type: 'function', function: { name: 'b', arguments: '{}' } },
            ],
          },
        },
      ],
    });
    const one = completion();
    const two = completion();
    new ToolCallIds().fixCompletion(one);
    new ToolCallIds().fixCompletion(two);
    const [kept, filled] = one.choices[0]?.message?.tool_calls ?? [];
    expect(kept?.id).toBe('call_kept');
    expect(filled?.id).toMatch(/^call_[\w-]+_0_1$/);
    expect(two.choices[0]?.message?.tool_calls?.[1]?.id).not.toBe(filled?.id);
  });
});
