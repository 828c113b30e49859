import { describe, expect, it } from 'vitest';

import { ChunkAccumulator } from '../../src/chat/accumulate.js';
import type { WireChunk } from '../../src/upstream/wire.js';

/**
 * Parses an SSE body as recorded from real upstreams: every `data:` line
 * (with or without the space) except `[DONE]`; `{…}` in a line is replaced by `envelope`.
 */
function sse(body: string, envelope = ''): WireChunk[] {
  return body
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice('data:'.length).trim())
    .filter((data) => data !== '[DONE]')
    .map((data) => JSON.parse(data.replace('{…,', `{${envelope},`)) as WireChunk);
}

function accumulate(chunks: WireChunk[]) {
  const accumulator = new ChunkAccumulator();
  for (const chunk of chunks) accumulator.add(chunk);
  return accumulator.finish();
}

/** The completion the chunks add up to; fails the test when there is none. */
function complete(chunks: WireChunk[]) {
  const result = accumulate(chunks);
  if (!result.ok) throw new Error(`expected a completion, got ${result.reason}`);
  return result.completion;
}

// A plain content stream with include_usage (openai-python recording e2aad469…).
const CONTENT_ENVELOPE =
  '"id":"chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL","object":"chat.completion.chunk","created":1727346168,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_5050236cbd"';
const CONTENT_STREAM = `
data: {"id":"chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL","object":"chat.completion.chunk","created":1727346168,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_5050236cbd","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}

data: {…,"choices":[{"index":0,"delta":{"content":"I'm"},"logprobs":null,"finish_reason":null}]}

data: {…,"choices":[{"index":0,"delta":{"content":" unable"},"logprobs":null,"finish_reason":null}]}

data: {…,"choices":[{"index":0,"delta":{"content":" to provide"},"logprobs":null,"finish_reason":null}]}

data: {…,"choices":[{"index":0,"delta":{"content":" real-time weather updates."},"logprobs":null,"finish_reason":null}]}

data: {…,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}

data: {…,"choices":[],"usage":{"prompt_tokens":14,"completion_tokens":30,"total_tokens":44,"completion_tokens_details":{"reasoning_tokens":0}}}

data: [DONE]
`;

// Two parallel tool calls (openai-python recording f82268f2…), the elided fragments filled in.
const TOOL_ENVELOPE =
  '"id":"chatcmpl-ABfwAwrNePHUgBBezonVC6MX3zd63","object":"chat.completion.chunk","created":1727346178,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_5050236cbd"';
const TOOL_STREAM = String.raw`
data: {"id":"chatcmpl-ABfwAwrNePHUgBBezonVC6MX3zd63","object":"chat.completion.chunk","created":1727346178,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_5050236cbd","choices":[{"index":0,"delta":{"role":"assistant","content":null},"logprobs":null,"finish_reason":null}]}
data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_JMW1whyEaYG438VE1OIflxA2","type":"function","function":{"name":"GetWeatherArgs","arguments":""}}]},"logprobs":null,"finish_reason":null}]}
data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]},"logprobs":null,"finish_reason":null}]}
data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\": \"Edinburgh\", \"coun"}}]},"logprobs":null,"finish_reason":null}]}
data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"try\": \"UK\", \"units\": \""}}]},"logprobs":null,"finish_reason":null}]}
data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"c\"}"}}]},"logprobs":null,"finish_reason":null}]}
data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_DNYTawLBoN8fj3KN6qU9N1Ou","type":"function","function":{"name":"get_stock_price","arguments":""}}]},"logprobs":null,"finish_reason":null}]}
data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"ti"}}]},"logprobs":null,"finish_reason":null}]}
data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"cker\": \"AAPL\", \"exchange\": \"NASDAQ\"}"}}]},"logprobs":null,"finish_reason":null}]}
data: {…,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]}
data: {…,"choices":[],"usage":{"prompt_tokens":149,"completion_tokens":60,"total_tokens":209,"completion_tokens_details":{"reasoning_tokens":0}}}
data: [DONE]
`;

const WEATHER_CALL = {
  id: 'call_JMW1whyEaYG438VE1OIflxA2',
  type: 'function',
  function: { name: 'GetWeatherArgs', arguments: '{"city": "Edinburgh", "country": "UK", "units": "c"}' },
};
const STOCK_CALL = {
  id: 'call_DNYTawLBoN8fj3KN6qU9N1Ou',
  type: 'function',
  function: { name: 'get_stock_price', arguments: '{"ticker": "AAPL", "exchange": "NASDAQ"}' },
};

describe('ChunkAccumulator: content', () => {
  it('adds up the plain content stream: text, finish reason, usage, envelope', () => {
    const completion = complete(sse(CONTENT_STREAM, CONTENT_ENVELOPE));
    expect(completion.id).toBe('chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL');
    expect(completion.model).toBe('gpt-4o-2024-08-06');
    expect(completion.created).toBe(1727346168);
    expect(completion.system_fingerprint).toBe('fp_5050236cbd');
    expect(completion.usage).toStrictEqual({
      prompt_tokens: 14,
      completion_tokens: 30,
      total_tokens: 44,
      completion_tokens_details: { reasoning_tokens: 0 },
    });
    expect(completion.choices).toHaveLength(1);
    const choice = completion.choices[0]!;
    expect(choice.index).toBe(0);
    expect(choice.finish_reason).toBe('stop');
    expect(choice.message?.role).toBe('assistant');
    expect(choice.message?.content).toBe("I'm unable to provide real-time weather updates.");
    expect(choice.message?.refusal ?? null).toBeNull();
    expect(choice.message?.reasoning_content ?? null).toBeNull();
    expect(choice.message?.tool_calls ?? []).toEqual([]);
    expect(choice.logprobs ?? null).toBeNull();
  });

  it('keeps a finish reason other than stop', () => {
    const chunks = sse(
      `data: {…,"choices":[{"index":0,"delta":{"role":"assistant","content":"Once upon"},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}`,
      CONTENT_ENVELOPE,
    );
    expect(complete(chunks).choices[0]!.finish_reason).toBe('length');
  });

  it('takes id, model and created from the first chunk, not later ones', () => {
    const chunks = sse(
      `data: {"id":"chatcmpl-first","object":"chat.completion.chunk","created":1727346168,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":"a"}}]}
       data: {"id":"chatcmpl-second","object":"chat.completion.chunk","created":1727346999,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"b"},"finish_reason":"stop"}]}`,
    );
    const completion = complete(chunks);
    expect(completion.id).toBe('chatcmpl-first');
    expect(completion.model).toBe('gpt-4o-2024-08-06');
    expect(completion.created).toBe(1727346168);
    expect(completion.choices[0]!.message?.content).toBe('ab');
  });

  it('keeps every choice of an n>1 stream apart, each with its own finish reason', () => {
    const chunks = sse(
      `data: {…,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}
       data: {…,"choices":[{"index":1,"delta":{"role":"assistant","content":""},"finish_reason":null}]}
       data: {…,"choices":[{"index":2,"delta":{"role":"assistant","content":""},"finish_reason":null}]}
       data: {…,"choices":[{"index":1,"delta":{"content":"Bonjour"},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}
       data: {…,"choices":[{"index":2,"delta":{"content":"Hallo"},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"content":"!"},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}
       data: {…,"choices":[{"index":1,"delta":{},"finish_reason":"length"}]}
       data: {…,"choices":[{"index":2,"delta":{},"finish_reason":"stop"}]}
       data: {…,"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":4,"total_tokens":9}}`,
      CONTENT_ENVELOPE,
    );
    const completion = complete(chunks);
    expect(completion.choices.map((choice) => [choice.index, choice.message?.content, choice.finish_reason])).toEqual([
      [0, 'Hello!', 'stop'],
      [1, 'Bonjour', 'length'],
      [2, 'Hallo', 'stop'],
    ]);
    expect(completion.usage?.total_tokens).toBe(9);
  });
});

describe('ChunkAccumulator: tool calls', () => {
  it('assembles the two parallel tool calls', () => {
    const completion = complete(sse(TOOL_STREAM, TOOL_ENVELOPE));
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message?.content ?? null).toBeNull();
    expect(choice.message?.tool_calls).toStrictEqual([WEATHER_CALL, STOCK_CALL]);
    for (const call of choice.message!.tool_calls!) expect(() => JSON.parse(call.function!.arguments!)).not.toThrow();
    expect(completion.usage?.total_tokens).toBe(209);
    expect(completion.id).toBe('chatcmpl-ABfwAwrNePHUgBBezonVC6MX3zd63');
  });

  it('accepts the role and the first tool call in the same chunk (2018feb… variation)', () => {
    const chunks = sse(
      String.raw`data: {…,"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_4XzlGBLtUe9dy3GVNV4jhq7h","type":"function","function":{"name":"get_weather","arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"logprobs":null,"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"SF\"}"}}]},"logprobs":null,"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]}`,
      TOOL_ENVELOPE,
    );
    expect(complete(chunks).choices[0]!.message?.tool_calls).toStrictEqual([
      { id: 'call_4XzlGBLtUe9dy3GVNV4jhq7h', type: 'function', function: { name: 'get_weather', arguments: '{"city":"SF"}' } },
    ]);
  });

  it('assembles calls whose fragments interleave across indices, two fragments in one chunk included', () => {
    const chunks = sse(
      String.raw`data: {…,"choices":[{"index":0,"delta":{"role":"assistant","content":null},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_JMW1whyEaYG438VE1OIflxA2","type":"function","function":{"name":"GetWeatherArgs","arguments":""}}]},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_DNYTawLBoN8fj3KN6qU9N1Ou","type":"function","function":{"name":"get_stock_price","arguments":"{\"ti"}}]},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\": \"Edinburgh\", "}}]},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"cker\": \"AAPL\", "}},{"index":0,"function":{"arguments":"\"country\": \"UK\", "}}]},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"units\": \"c\"}"}}]},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"\"exchange\": \"NASDAQ\"}"}}]},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
      TOOL_ENVELOPE,
    );
    expect(complete(chunks).choices[0]!.message?.tool_calls).toStrictEqual([WEATHER_CALL, STOCK_CALL]);
  });

  it('orders calls by index even when the higher index opens first', () => {
    const chunks = sse(
      `data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"second","arguments":"{}"}}]},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"first","arguments":"{}"}}]},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
      TOOL_ENVELOPE,
    );
    expect(complete(chunks).choices[0]!.message?.tool_calls?.map((call) => [call.id, call.function?.name])).toEqual([
      ['call_a', 'first'],
      ['call_b', 'second'],
    ]);
  });

  it('takes id and name from the first fragment when later fragments repeat them', () => {
    // Some OpenAI-compatible servers repeat id, type and name on every fragment of a call.
    const chunks = sse(
      String.raw`data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_4XzlGBLtUe9dy3GVNV4jhq7h","type":"function","function":{"name":"get_weather","arguments":"{\"city\":"}}]},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_4XzlGBLtUe9dy3GVNV4jhq7h","type":"function","function":{"name":"get_weather","arguments":"\"SF\"}"}}]},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
      TOOL_ENVELOPE,
    );
    expect(complete(chunks).choices[0]!.message?.tool_calls).toStrictEqual([
      { id: 'call_4XzlGBLtUe9dy3GVNV4jhq7h', type: 'function', function: { name: 'get_weather', arguments: '{"city":"SF"}' } },
    ]);
  });
});

describe('ChunkAccumulator: logprobs, refusal, reasoning', () => {
  it('joins the per-chunk logprobs in order', () => {
    const chunks = sse(
      `data: {…,"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":{"content":[],"refusal":null},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"content":"city"},"logprobs":{"content":[{"token":"city","logprob":-1.7432603e-6,"bytes":[99,105,116,121],"top_logprobs":[]}],"refusal":null},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"content":" of"},"logprobs":{"content":[{"token":" of","logprob":-0.31725305,"bytes":[32,111,102],"top_logprobs":[{"token":" of","logprob":-0.31725305,"bytes":[32,111,102]},{"token":" in","logprob":-1.3190403,"bytes":[32,105,110]}]}],"refusal":null},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"content":"?"},"logprobs":{"content":[{"token":"?","logprob":-0.0008108172,"bytes":[63],"top_logprobs":[]}],"refusal":null},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`,
      CONTENT_ENVELOPE,
    );
    const choice = complete(chunks).choices[0]!;
    expect(choice.message?.content).toBe('city of?');
    expect(choice.logprobs?.content).toStrictEqual([
      { token: 'city', logprob: -0.0000017432603, bytes: [99, 105, 116, 121], top_logprobs: [] },
      {
        token: ' of',
        logprob: -0.31725305,
        bytes: [32, 111, 102],
        top_logprobs: [
          { token: ' of', logprob: -0.31725305, bytes: [32, 111, 102] },
          { token: ' in', logprob: -1.3190403, bytes: [32, 105, 110] },
        ],
      },
      { token: '?', logprob: -0.0008108172, bytes: [63], top_logprobs: [] },
    ]);
  });

  it('concatenates the refusal while content stays null', () => {
    const chunks = sse(
      `data: {…,"choices":[{"index":0,"delta":{"role":"assistant","content":null,"refusal":""},"logprobs":{"content":null,"refusal":[]},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"refusal":"I'm"},"logprobs":{"content":null,"refusal":[{"token":"I'm","logprob":-0.0052259327,"bytes":[73,39,109],"top_logprobs":[]}]},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"refusal":" very sorry,"},"logprobs":{"content":null,"refusal":[]},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"refusal":" but I can't assist with that."},"logprobs":{"content":null,"refusal":[]},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`,
      CONTENT_ENVELOPE,
    );
    const choice = complete(chunks).choices[0]!;
    expect(choice.message?.refusal).toBe("I'm very sorry, but I can't assist with that.");
    expect(choice.message?.content).toBeNull();
    expect(choice.finish_reason).toBe('stop');
  });

  it('concatenates LiteLLM/DeepSeek reasoning_content apart from content', () => {
    const chunks = sse(
      `data:{"model":"deepseek-r1","id":"chatcmpl-75945b6f-a28b-939e-a650-63762ab131f5","choices":[{"index":0,"delta":{"reasoning_content":"Thinking","role":"assistant"}}],"created":1740552606,"object":"chat.completion.chunk"}
       data:{"model":"deepseek-r1","id":"chatcmpl-75945b6f-a28b-939e-a650-63762ab131f5","choices":[{"index":0,"delta":{"reasoning_content":" Process","role":"assistant"}}],"created":1740552606,"object":"chat.completion.chunk"}
       data:{"model":"deepseek-r1","id":"chatcmpl-75945b6f-a28b-939e-a650-63762ab131f5","choices":[{"index":0,"delta":{"reasoning_content":":","role":"assistant"}}],"created":1740552606,"object":"chat.completion.chunk"}
       data:{"model":"deepseek-r1","id":"chatcmpl-75945b6f-a28b-939e-a650-63762ab131f5","choices":[{"index":0,"delta":{"content":"Hello","role":"assistant"}}],"created":1740552606,"object":"chat.completion.chunk"}
       data:{"model":"deepseek-r1","id":"chatcmpl-75945b6f-a28b-939e-a650-63762ab131f5","choices":[{"index":0,"delta":{"content":"!","role":"assistant"},"finish_reason":"stop"}],"created":1740552606,"object":"chat.completion.chunk"}`,
    );
    const completion = complete(chunks);
    expect(completion.id).toBe('chatcmpl-75945b6f-a28b-939e-a650-63762ab131f5');
    expect(completion.model).toBe('deepseek-r1');
    expect(completion.created).toBe(1740552606);
    expect(completion.choices[0]!.message?.reasoning_content).toBe('Thinking Process:');
    expect(completion.choices[0]!.message?.content).toBe('Hello!');
  });

  it('concatenates vLLM/Ollama `reasoning` deltas as the reasoning', () => {
    const chunks = sse(
      `data: {…,"choices":[{"index":0,"delta":{"role":"assistant","reasoning":"Let me"},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"reasoning":" think."},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{"content":"42"},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
      '"id":"chatcmpl-vllm-1","object":"chat.completion.chunk","created":1740552606,"model":"Qwen/Qwen3-8B","system_fingerprint":"fp_ollama"',
    );
    const message = complete(chunks).choices[0]!.message!;
    expect(message.reasoning_content).toBe('Let me think.');
    expect(message.content).toBe('42');
  });
});

describe('ChunkAccumulator: odd chunks', () => {
  it("ignores Azure's content-filter chunk with empty id/model, created 0 and no delta", () => {
    const chunks = [
      ...sse(CONTENT_STREAM, CONTENT_ENVELOPE).slice(0, -1),
      JSON.parse(
        '{"id":"","object":"","created":0,"model":"","choices":[{"index":0,"finish_reason":null,"content_filter_results":{}}]}',
      ) as WireChunk,
      ...sse(CONTENT_STREAM, CONTENT_ENVELOPE).slice(-1),
    ];
    const completion = complete(chunks);
    expect(completion.id).toBe('chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL');
    expect(completion.model).toBe('gpt-4o-2024-08-06');
    expect(completion.created).toBe(1727346168);
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.choices[0]!.message?.content).toBe("I'm unable to provide real-time weather updates.");
  });

  it('takes id/model/created from the first real chunk when an empty envelope comes first', () => {
    const chunks = [
      JSON.parse('{"id":"","object":"","created":0,"model":"","choices":[],"prompt_filter_results":[]}') as WireChunk,
      ...sse(CONTENT_STREAM, CONTENT_ENVELOPE),
    ];
    const completion = complete(chunks);
    expect(completion.id).toBe('chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL');
    expect(completion.model).toBe('gpt-4o-2024-08-06');
    expect(completion.created).toBe(1727346168);
  });

  it('accepts unknown keys (obfuscation, timings) without effect', () => {
    const chunks = sse(
      `data: {…,"obfuscation":"r4N7vQ2m","timings":{"predicted_ms":12},"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}
       data: {…,"obfuscation":"x","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
      CONTENT_ENVELOPE,
    );
    expect(complete(chunks).choices[0]!.message?.content).toBe('Hi');
  });
});

describe('ChunkAccumulator: unfinished streams', () => {
  it('reports no-choices when nothing came', () => {
    expect(new ChunkAccumulator().finish()).toStrictEqual({ ok: false, reason: 'no-choices' });
  });

  it('reports no-choices when only a usage chunk came', () => {
    expect(accumulate(sse(CONTENT_STREAM, CONTENT_ENVELOPE).slice(-1))).toStrictEqual({ ok: false, reason: 'no-choices' });
  });

  it('reports no-finish-reason for a stream cut before its finish chunk', () => {
    expect(accumulate(sse(CONTENT_STREAM, CONTENT_ENVELOPE).slice(0, 4))).toStrictEqual({ ok: false, reason: 'no-finish-reason' });
  });

  it('reports no-finish-reason for a tool-call stream cut mid-arguments', () => {
    expect(accumulate(sse(TOOL_STREAM, TOOL_ENVELOPE).slice(0, 4))).toStrictEqual({ ok: false, reason: 'no-finish-reason' });
  });

  it('reports no-finish-reason for a stream that never sends finish_reason (DeepSeek provider)', () => {
    const chunks = sse(
      `data:{"model":"deepseek-r1","id":"chatcmpl-75945b6f","choices":[{"index":0,"delta":{"reasoning_content":"Hello","role":"assistant"}}],"created":1740552606,"object":"chat.completion.chunk"}
       data:{"model":"deepseek-r1","id":"chatcmpl-75945b6f","choices":[{"index":0,"delta":{"content":"Hi","role":"assistant"}}],"created":1740552606,"object":"chat.completion.chunk"}`,
    );
    expect(accumulate(chunks)).toStrictEqual({ ok: false, reason: 'no-finish-reason' });
  });

  it('reports no-finish-reason when one of several choices did not finish', () => {
    const chunks = sse(
      `data: {…,"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}
       data: {…,"choices":[{"index":1,"delta":{"content":"b"},"finish_reason":null}]}
       data: {…,"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}
       data: {…,"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`,
      CONTENT_ENVELOPE,
    );
    expect(accumulate(chunks)).toStrictEqual({ ok: false, reason: 'no-finish-reason' });
  });

  it('a finished stream without a usage chunk still completes, with no usage', () => {
    const completion = complete(sse(CONTENT_STREAM, CONTENT_ENVELOPE).slice(0, -1));
    expect(completion.usage ?? null).toBeNull();
    expect(completion.choices[0]!.finish_reason).toBe('stop');
  });
});

describe('thinking blocks (LiteLLM, Anthropic models)', () => {
  const envelope = { id: 'chatcmpl-t', object: 'chat.completion.chunk', created: 1, model: 'claude' };
  const delta = (d: object, finish: string | null = null, index = 0): WireChunk =>
    ({ ...envelope, choices: [{ index, delta: d, finish_reason: finish }] }) as WireChunk;

  it('assembles streamed fragments by block: text concatenated, the signature kept, a redacted block whole', () => {
    const completion = complete([
      delta({ role: 'assistant', reasoning_content: 'Let', thinking_blocks: [{ type: 'thinking', thinking: 'Let', signature: null }] }),
      delta({ reasoning_content: ' me think', thinking_blocks: [{ type: 'thinking', thinking: ' me think', signature: null }] }),
      delta({ thinking_blocks: [{ type: 'thinking', thinking: '', signature: 'EqSig1' }] }),
      delta({ thinking_blocks: [{ type: 'redacted_thinking', data: 'opaque-1' }] }),
      // A signature closes a block: the next thinking fragment starts a new one.
      delta({ thinking_blocks: [{ type: 'thinking', thinking: 'Again', signature: null }] }),
      delta({ thinking_blocks: [{ type: 'thinking', thinking: '', signature: 'EqSig2' }] }),
      delta({ content: 'Done.' }),
      delta({}, 'stop'),
    ]);
    const message = completion.choices[0]?.message;
    expect(message?.reasoning_content).toBe('Let me think');
    expect(message?.thinking_blocks).toStrictEqual([
      { type: 'thinking', thinking: 'Let me think', signature: 'EqSig1' },
      { type: 'redacted_thinking', data: 'opaque-1' },
      { type: 'thinking', thinking: 'Again', signature: 'EqSig2' },
    ]);
    expect(message?.content).toBe('Done.');
  });

  it('keeps each choice its own blocks, and null where a choice had none', () => {
    const completion = complete([
      delta({ thinking_blocks: [{ type: 'thinking', thinking: 'A', signature: 's' }] }, null, 0),
      delta({ content: 'B' }, null, 1),
      delta({}, 'stop', 0),
      delta({}, 'stop', 1),
    ]);
    expect(completion.choices[0]?.message?.thinking_blocks).toStrictEqual([{ type: 'thinking', thinking: 'A', signature: 's' }]);
    expect(completion.choices[1]?.message?.thinking_blocks).toBeNull();
  });

  it('ignores fragments without a type', () => {
    const completion = complete([delta({ thinking_blocks: [{ thinking: 'x' }, null] }), delta({ content: 'ok' }, 'stop')]);
    expect(completion.choices[0]?.message?.thinking_blocks).toBeNull();
  });
});
