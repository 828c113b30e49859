/**
 * Chat completions, one-shot and streamed: validate, translate, call the upstream with the retry
 * policy, and answer with the upstream's own objects (resolvers read them as they are) or a
 * domain error. Each call runs as an `Operation`, so that a departing client or the end of the
 * shutdown grace aborts its upstream request at once.
 */
import type OpenAI from 'openai';
import type {
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
} from 'openai/resources/chat/completions';

import { ChatQLError, type DomainError, ErrorSource, shuttingDownError, UpstreamUnavailableError } from '../errors.js';
import { AbortReason, type Operation, type OperationTracker } from '../operations.js';
import type { ChatCompletionInputShape } from '../schema/chat-input.js';
import { CallAborted, type CallContext, callWithRetry, failWithoutRetry } from '../upstream/call.js';
import { InBandUpstreamError } from '../upstream/map-error.js';
import { translateChatInput } from '../upstream/translate.js';
import type { WireChunk, WireCompletion, WireError } from '../upstream/wire.js';
import { ChunkAccumulator } from './accumulate.js';
import { validateChatInput } from './validate.js';

/** One event of `chatCompletionStream`: a chunk, then exactly one terminal completion or error. */
export type StreamEvent = WireChunk | WireCompletion | DomainError;

/** The terminal completions of streams, told apart from chunks without a field of their own. */
const finalCompletions = new WeakSet<object>();

export function isFinalCompletion(event: StreamEvent): event is WireCompletion {
  return finalCompletions.has(event);
}

export interface ChatServiceDeps extends CallContext {
  client: OpenAI;
  operations: OperationTracker;
}

const CANCELLED = 'The request was cancelled.';

/** vLLM before 0.10.1 sends its in-band error as a flat chunk with `object: "error"`. */
function isInBandError(chunk: WireChunk): boolean {
  return chunk.object === 'error';
}

export class ChatService {
  constructor(private readonly deps: ChatServiceDeps) {}

  /** The whole completion (upstream `stream: false`). Throws a `ChatQLError` on any failure. */
  async complete(input: ChatCompletionInputShape, transportSignal: AbortSignal | undefined): Promise<WireCompletion> {
    const problem = validateChatInput(input);
    if (problem) throw problem;
    const operation = this.deps.operations.begin('mutation', transportSignal);
    if (!operation) throw shuttingDownError();
    const body = translateChatInput(input, false) as ChatCompletionCreateParamsNonStreaming;
    try {
      return await callWithRetry(this.deps, 'chat.completions', operation.signal, async () => {
        const completion = (await this.deps.client.chat.completions.create(body, {
          signal: operation.signal,
        })) as unknown as WireCompletion;
        if (typeof completion?.id !== 'string' || !Array.isArray(completion.choices)) {
          throw new SyntaxError('The upstream answered with something other than a chat completion.');
        }
        return completion;
      });
    } catch (error) {
      if (error instanceof CallAborted) {
        throw operation.stoppedByShutdown ? shuttingDownError() : new UpstreamUnavailableError(CANCELLED, ErrorSource.SERVICE);
      }
      throw error;
    } finally {
      operation.end();
    }
  }

  /**
   * The live stream (upstream `stream: true`). Never throws: every failure is the terminal event.
   * The returned iterator's `return()` aborts the upstream request before it waits for the
   * generator, which may be parked on the next chunk (see STACK.md: `return()` alone queues
   * behind a pending `next()`); the transports also abort through `transportSignal`.
   */
  stream(input: ChatCompletionInputShape, transportSignal: AbortSignal | undefined): AsyncIterableIterator<StreamEvent> {
    const problem = validateChatInput(input);
    if (problem) return once(problem);
    const operation = this.deps.operations.begin('subscription', transportSignal);
    if (!operation) return once(shuttingDownError());
    const generator = this.run(input, operation);
    return {
      next: () => generator.next(),
      return: (value?: unknown) => {
        operation.abort(AbortReason.CLIENT_GONE);
        return generator.return(value as undefined);
      },
      throw: (error?: unknown) => {
        operation.abort(AbortReason.CLIENT_GONE);
        return generator.throw(error);
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  private async *run(input: ChatCompletionInputShape, operation: Operation): AsyncGenerator<StreamEvent, void> {
    const { signal } = operation;
    const body = translateChatInput(input, true) as ChatCompletionCreateParamsStreaming;
    let iterator: AsyncIterator<WireChunk> | undefined;
    try {
      // Retries cover everything up to the first chunk, which is the last moment a retry is invisible.
      let next = await callWithRetry(this.deps, 'chat.completions.stream', signal, async () => {
        const stream = await this.deps.client.chat.completions.create(body, { signal });
        const opened = stream[Symbol.asyncIterator]() as AsyncIterator<WireChunk>;
        const first = await opened.next();
        if (!first.done && isInBandError(first.value)) throw new InBandUpstreamError(first.value as WireError);
        iterator = opened;
        return first;
      });
      const accumulator = new ChunkAccumulator();
      while (!next.done) {
        const chunk = next.value;
        if (isInBandError(chunk)) throw new InBandUpstreamError(chunk as WireError);
        accumulator.add(chunk);
        yield chunk;
        next = await iterator!.next();
      }
      // The SDK ends a stream quietly when its request is aborted: that is not a finished answer.
      if (signal.aborted) {
        if (operation.stoppedByShutdown) yield shuttingDownError();
        return;
      }
      const result = accumulator.finish();
      if (result.ok) {
        finalCompletions.add(result.completion);
        yield result.completion;
      } else {
        this.deps.logger.warn({ call: 'chat.completions.stream', chunks: accumulator.count, reason: result.reason }, 'upstream stream ended unfinished');
        yield new UpstreamUnavailableError(
          'The upstream stream ended before the answer was complete.',
          ErrorSource.UPSTREAM,
        );
      }
    } catch (error) {
      if (signal.aborted) {
        if (operation.stoppedByShutdown) yield shuttingDownError();
        return;
      }
      yield error instanceof CallAborted ? new UpstreamUnavailableError(CANCELLED, ErrorSource.SERVICE)
        : error instanceof ChatQLError ? (error as DomainError)
        : failWithoutRetry(this.deps, 'chat.completions.stream', error);
    } finally {
      operation.end();
      // Lets the SDK release its response body when the stream ended early on our side.
      void iterator?.return?.().catch(() => undefined);
    }
  }
}

async function* once(event: StreamEvent): AsyncGenerator<StreamEvent, void> {
  yield event;
}
