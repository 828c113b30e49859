/**
 * The upstream calls themselves, the only place the openai SDK is called: a whole chat
 * completion, a chat completion stream (up to its first chunk), and the model list. Each takes the
 * target that serves it; the retry policy, failover and breakers around them are `call.ts`'s.
 */
import type { Readable } from 'node:stream';

import { context, propagation, type Span, trace } from '@opentelemetry/api';
import type { ChatCompletionCreateParamsNonStreaming, ChatCompletionCreateParamsStreaming } from 'openai/resources/chat/completions';

import { generateRequestId, isHeaderSafeRequestId } from '../http/request-id.js';
import { InBandUpstreamError, MalformedUpstreamAnswer, StreamEndedUnfinished } from './classify.js';
import { ChunkReader } from './sse.js';
import type { UpstreamTarget } from './targets.js';
import type { UpstreamChatRequest } from './translate.js';
import type { WireChunk, WireCompletion, WireError, WireModel } from './wire.js';

/** What one upstream call carries besides its body. */
export interface CallOptions {
  signal: AbortSignal;
  headers: Record<string, string>;
}

/**
 * Headers of an upstream call: the request id, the operation span's `traceparent` when tracing is
 * on, and with AUTH_MODE=forward the client's own key (checked header-safe at authentication).
 */
export function upstreamHeaders(requestId: string, upstreamKey: string | null, span: Span | undefined): Record<string, string> {
  // The transports build header-safe ids; this keeps a header the HTTP client would refuse to send
  // from ever leaving the service.
  const id = isHeaderSafeRequestId(requestId) ? requestId : generateRequestId();
  const headers: Record<string, string> =
    upstreamKey === null ? { 'x-request-id': id } : { 'x-request-id': id, authorization: `Bearer ${upstreamKey}` };
  if (span) propagation.inject(trace.setSpan(context.active(), span), headers);
  return headers;
}

/** The request as `target` takes it: a `#model` fallback asks for its own model. */
function forTarget<T extends { model: string }>(body: T, target: UpstreamTarget): T {
  return target.model === undefined ? body : { ...body, model: target.model };
}

/** vLLM before 0.10.1 sends its in-band error as a flat chunk with `object: "error"`. */
export function isInBandError(chunk: WireChunk): boolean {
  return chunk.object === 'error';
}

/** The upstream's id of a request, for bug reports: LiteLLM's call id, else the request id. */
function requestIdOf(headers: Headers): string | null {
  return headers.get('x-litellm-call-id') ?? headers.get('x-request-id');
}

/** An answer and what its headers said that ChatQL reads: the upstream's request id and cost. */
export interface Answered<T> {
  value: T;
  upstreamRequestId: string | null;
  /** LiteLLM's `x-litellm-response-cost`, as sent. */
  costHeader: string | null;
}

/** A whole chat completion (upstream `stream: false`). */
export async function createCompletion(
  target: UpstreamTarget,
  body: UpstreamChatRequest,
  options: CallOptions,
): Promise<Answered<WireCompletion>> {
  const { data, response } = await target.client.chat.completions
    .create(forTarget(body, target) as ChatCompletionCreateParamsNonStreaming, options)
    .withResponse();
  const answer = data as unknown as WireCompletion;
  if (typeof answer?.id !== 'string' || !Array.isArray(answer.choices)) {
    throw new MalformedUpstreamAnswer('The upstream answered with something other than a chat completion.');
  }
  return { value: answer, upstreamRequestId: requestIdOf(response.headers), costHeader: response.headers.get('x-litellm-response-cost') };
}

/** A stream that has delivered its first chunk; `rest` iterates the others. */
export interface OpenedStream {
  first: WireChunk;
  rest: AsyncIterator<WireChunk, undefined>;
  upstreamRequestId: string | null;
}

/**
 * Opens a chat completion stream (upstream `stream: true`) and waits for its first chunk, which
 * is the last moment a retry or a fallback is invisible to the client. The SDK sends the request
 * and throws its typed errors for an answer that is not 2xx; the body is read by `ChunkReader`
 * (`sse.ts`), not by the SDK's `Stream`. Throws what the SDK threw, what the reader threw (an
 * in-band error as the SDK's `APIError`), an `InBandUpstreamError` for vLLM's flat error chunk in
 * place of the first chunk, or `StreamEndedUnfinished` for a stream without any chunk; resolves
 * with `null` when `options.signal` aborted it quietly.
 */
export async function openStream(target: UpstreamTarget, body: UpstreamChatRequest, options: CallOptions): Promise<OpenedStream | null> {
  const response = await target.client.chat.completions
    .create(forTarget(body, target) as ChatCompletionCreateParamsStreaming, options)
    .asResponse();
  // `http.ts` leaves a 2xx body as undici's Node stream.
  const stream = response.body as unknown as Readable | null;
  if (stream === null) throw new StreamEndedUnfinished('no chunk at all');
  const rest = new ChunkReader(stream, response.headers, options.signal);
  let first: IteratorResult<WireChunk, undefined>;
  try {
    first = await rest.next();
  } catch (error) {
    void rest.return();
    throw error;
  }
  if (first.done) {
    // An aborted body ends quietly: that is the caller's cancellation, not the upstream's.
    if (options.signal.aborted) return null;
    throw new StreamEndedUnfinished('no chunk at all');
  }
  if (isInBandError(first.value)) {
    void rest.return();
    throw new InBandUpstreamError(first.value as WireError);
  }
  return { first: first.value, rest, upstreamRequestId: requestIdOf(response.headers) };
}

/** `GET /models`, with the server's key or (AUTH_MODE=forward) a client's own. */
export async function listModels(target: UpstreamTarget, signal: AbortSignal, apiKey: string | null): Promise<WireModel[]> {
  const options = apiKey === null ? { signal } : { signal, headers: { authorization: `Bearer ${apiKey}` } };
  const page = await target.client.models.list(options);
  return (page.data as unknown as WireModel[]).filter((model) => typeof model?.id === 'string');
}

/** LiteLLM's `GET /model/info` (the per-token prices of its models), on the primary's base URL. */
export async function modelInfo(target: UpstreamTarget, signal: AbortSignal): Promise<unknown> {
  return target.client.get('/model/info', { signal });
}
