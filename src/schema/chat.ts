/**
 * `chatCompletion` (mutation) and `chatCompletionStream` (subscription). Both take the same input
 * and answer with data for every failure: the mutation through `@pothos/plugin-errors`, the stream
 * through a hand-built union. plugin-errors' `t.errorUnionField` (4.7+) could express the stream's
 * two success types, but it wraps `resolve` in an async function: one more promise, and one more
 * await in graphql-js's execution, for every event on the token path, where this union's
 * `resolveType` is a synchronous lookup and `resolve` returns the chunk as it is.
 */
import { builder } from '../builder.js';
import { isFinalCompletion, type StreamEvent } from '../chat/stream.js';
import { AuthenticationError, ChatQLError, type DomainError, ERROR_CLASSES, InvalidRequestError, RateLimitError } from '../errors.js';
import type { ResumeRequest } from '../streams/resumable.js';
import { ChatCompletionInput } from './chat-input.js';
import { ChatCompletionChunkRef, ChatCompletionRef } from './chat-output.js';
import './errors.js';

const StreamResumeInput = builder.inputRef<ResumeRequest>('StreamResumeInput').implement({
  description: 'Makes a stream resumable: it survives a dropped connection, and may be attached to again, on any replica.',
  fields: (t) => ({
    key: t.string({
      required: true,
      description:
        'Chosen by the client for one generation, e.g. a UUID: 16 to 128 characters of A-Z a-z 0-9 _ -. Subscribing again with the same key attaches to the same generation instead of starting a new one.',
    }),
    after: t.int({ description: 'Replay only what came after this chunk: the `seq` of the last chunk the client has.' }),
  }),
});

const StreamCancelledRef = builder.objectRef<{ cancelled: boolean }>('StreamCancelled').implement({
  fields: (t) => ({
    cancelled: t.exposeBoolean('cancelled', { description: 'False when no generation with this key was running.' }),
  }),
});

builder.mutationType({
  fields: (t) => ({
    cancelChatCompletionStream: t.field({
      description: 'Stops the resumable generation with this key at once, from any replica.',
      type: StreamCancelledRef,
      errors: { types: [AuthenticationError, RateLimitError, InvalidRequestError], union: { name: 'CancelChatCompletionStreamResult' } },
      args: { key: t.arg.string({ required: true }) },
      resolve: (_root, { key }, context) => context.chat.cancelStream(context.principal, key),
    }),
    chatCompletion: t.field({
      description: 'One chat completion, answered when the upstream has finished (stream: false upstream).',
      type: ChatCompletionRef,
      errors: { types: [...ERROR_CLASSES], union: { name: 'ChatCompletionResult' } },
      args: { input: t.arg({ type: ChatCompletionInput, required: true }) },
      resolve: (_root, { input }, context) => context.chat.complete(input, context),
    }),
  }),
});

/**
 * graphql-js treats an Error instance that a resolver returns as thrown, so the stream's terminal
 * error travels as a plain copy of its fields (the error object types only read fields).
 */
function asData(error: DomainError): DomainError {
  return { ...error, message: error.message } as DomainError;
}

function isErrorData(event: StreamEvent): event is DomainError {
  return 'retryable' in event;
}

const ChatCompletionStreamEvent = builder.unionType('ChatCompletionStreamEvent', {
  description:
    'One event of a live completion: any number of ChatCompletionChunk, then exactly one terminal ' +
    'event, the whole ChatCompletion or one error type.',
  types: [ChatCompletionChunkRef, ChatCompletionRef, ...ERROR_CLASSES],
  resolveType: (event: StreamEvent) =>
    isErrorData(event) ? event.name : isFinalCompletion(event) ? 'ChatCompletion' : 'ChatCompletionChunk',
});

builder.subscriptionType({
  fields: (t) => ({
    chatCompletionStream: t.field({
      description:
        'A live chat completion (stream: true upstream). Every upstream chunk is sent on as soon as it ' +
        'arrives, as a ChatCompletionChunk. The stream ends with exactly one terminal event: the whole ' +
        'ChatCompletion (deltas accumulated, usage included), or one error type; then it completes. ' +
        'Without `resume`, ending the subscription early aborts the upstream request at once. With `resume`, the ' +
        'generation survives a dropped connection: it goes on for STREAM_RESUME_GRACE_MS waiting for a subscription with ' +
        'the same key (on any replica), which gets the chunks after `resume.after` and the rest, without a second upstream ' +
        'call; a graphql-ws `complete` from its last subscriber, or cancelChatCompletionStream, still stops it at once.',
      type: ChatCompletionStreamEvent,
      args: {
        input: t.arg({ type: ChatCompletionInput, required: true }),
        resume: t.arg({ type: StreamResumeInput }),
      },
      subscribe: (_root, { input, resume }, context) => context.chat.stream(input, context, resume),
      resolve: (event: StreamEvent) => (event instanceof ChatQLError ? asData(event as DomainError) : event),
    }),
  }),
});
