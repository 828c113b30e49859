/**
 * The `chatql-mock-bench` model: a fixed answer of `chunkCount` content chunks of `chunkBytes`
 * characters. Its bytes are rendered once per server; a request only fills in its fresh completion
 * id and its usage (which counts the request's prompt), so that a benchmark measures the client and
 * never the mock. Paced with the server's `firstTokenDelayMs` and `wordDelayMs`; chunks that are due
 * at the same moment (all of them when `wordDelayMs` is 0: burst) leave in one write.
 */

import type { ServerResponse } from 'node:http';
import type { StreamTiming } from './chat.js';
import { randomId, SYSTEM_FINGERPRINT, type Usage } from './completion.js';
import { countPromptTokens } from './reply.js';
import type { ChatRequest } from './request.js';
import { type Pacer, startBody, writable } from './wire.js';

/** The size of the bench model's answer. */
export interface BenchShape {
  /** Content chunks per answer (completion tokens). */
  readonly chunkCount: number;
  /** ASCII characters per content chunk. */
  readonly chunkBytes: number;
}

/** What the bench model answers when the server was started without `bench` options. */
export const DEFAULT_BENCH_SHAPE: BenchShape = { chunkCount: 20, chunkBytes: 8 };

/** Stand for the completion id and the usage object in the pre-rendered text; found nowhere else in it. */
const ID_HOLE = '@@chatql-bench-id@@';
const USAGE_HOLE = '@@chatql-bench-usage@@';
/** The usage hole takes its quotes with it: an object goes where the placeholder string was. */
const HOLES = new RegExp(`${ID_HOLE}|"${USAGE_HOLE}"`);

/**
 * Content chunk `index`: the index right-aligned in `chunkBytes` characters (its last digits when
 * they do not fit), so that a client can check that every chunk arrived, in order.
 */
export function benchChunkText(index: number, chunkBytes: number): string {
  return String(index).padStart(chunkBytes, ' ').slice(-chunkBytes);
}

/** Pre-rendered text split at its holes; `fill` puts the values back in order of appearance. */
type Template = readonly string[];

function template(text: string): Template {
  return text.split(HOLES);
}

function fill(parts: Template, values: readonly string[]): string {
  let text = parts[0] ?? '';
  for (let i = 1; i < parts.length; i++) text += (values[i - 1] ?? '') + parts[i];
  return text;
}

/** One SSE event and the delay before it. */
interface BenchEvent {
  readonly text: Template;
  readonly delay: 'first-token' | 'word' | null;
}

export interface BenchAnswer {
  readonly shape: BenchShape;
  /** The streamed events up to and including the finish chunk. */
  readonly events: readonly BenchEvent[];
  /** The usage chunk (sent with `stream_options.include_usage`). */
  readonly usageEvent: Template;
  /** The non-streaming `chat.completion` body. */
  readonly completion: Template;
}

/** Renders the answer once; `created` is the moment the server started. */
export function renderBenchAnswer(shape: BenchShape, model: string): BenchAnswer {
  const { chunkCount, chunkBytes } = shape;
  if (!Number.isInteger(chunkCount) || chunkCount < 1 || !Number.isInteger(chunkBytes) || chunkBytes < 1) {
    throw new Error(`bench: chunkCount and chunkBytes must be whole numbers of at least 1 (got ${JSON.stringify(shape)})`);
  }
  const envelope = {
    id: ID_HOLE,
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model,
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
  const sse = (data: object) => template(`data: ${JSON.stringify(data)}\n\n`);
  const chunk = (delta: object, finishReason: 'stop' | null, delay: BenchEvent['delay']): BenchEvent => ({
    text: sse({ ...envelope, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] }),
    delay,
  });
  const texts = Array.from({ length: chunkCount }, (_, i) => benchChunkText(i, chunkBytes));
  const message = { role: 'assistant', content: texts.join(''), refusal: null, annotations: [] };
  return {
    shape,
    events: [
      chunk({ role: 'assistant', content: '', refusal: null }, null, null),
      ...texts.map((content, i) => chunk({ content }, null, i === 0 ? 'first-token' : 'word')),
      chunk({}, 'stop', null),
    ],
    usageEvent: sse({ ...envelope, choices: [], usage: USAGE_HOLE }),
    completion: template(
      JSON.stringify({
        id: ID_HOLE,
        object: 'chat.completion',
        created: envelope.created,
        model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: 'stop' }],
        usage: USAGE_HOLE,
        system_fingerprint: SYSTEM_FINGERPRINT,
      }),
    ),
  };
}

function usageOf(request: ChatRequest, shape: BenchShape): Usage {
  const prompt = countPromptTokens(request.messages);
  return {
    prompt_tokens: prompt,
    completion_tokens: shape.chunkCount,
    total_tokens: prompt + shape.chunkCount,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

/** Answers a request to the bench model: the whole completion, or the paced stream. */
export async function answerBench(
  res: ServerResponse,
  request: ChatRequest,
  answer: BenchAnswer,
  timing: StreamTiming,
  pacer: Pacer,
): Promise<void> {
  const values = [randomId('chatcmpl-', 29), JSON.stringify(usageOf(request, answer.shape))];
  if (!request.stream) {
    if (!writable(res)) return;
    const body = fill(answer.completion, values);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  startBody(res, 'text/event-stream; charset=utf-8');
  // Events due at the same moment leave in one write, as a fast upstream's would share a packet.
  let pending = '';
  for (const event of answer.events) {
    const delay = event.delay === 'first-token' ? timing.firstTokenDelayMs : event.delay === 'word' ? timing.wordDelayMs : 0;
    if (delay > 0) {
      if (pending !== '' && writable(res)) res.write(pending);
      pending = '';
      if (!(await pacer.wait(delay)) || !writable(res)) return;
    }
    pending += fill(event.text, values);
  }
  if (request.includeUsage) pending += fill(answer.usageEvent, values);
  if (writable(res)) res.end(`${pending}data: [DONE]\n\n`);
}
