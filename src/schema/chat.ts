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
import { ChatQLError, type DomainError, ERROR_CLASSES } from '../errors.js';
import { ChatCompletionInput } from './chat-input.js';
import { ChatCompletionChunkRef, ChatCompletionRef } from './chat-output.js';
import './errors.js';

builder.mutationType({
  fields: (t) => ({
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
        'Ending the subscription early aborts the upstream request.',
      type: ChatCompletionStreamEvent,
      args: { input: t.arg({ type: ChatCompletionInput, required: true }) },
      subscribe: (_root, { input }, context) => context.chat.stream(input, context),
      resolve: (event: StreamEvent) => (event instanceof ChatQLError ? asData(event as DomainError) : event),
    }),
  }),
});
