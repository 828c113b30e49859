/**
 * The service's own checks of a chat input, made before any upstream call so that a bad request
 * costs nothing upstream and gets a precise answer: `param` is the GraphQL input path at fault.
 * GraphQL has already checked types, required fields and @oneOf; these are the domain rules.
 */
import { ErrorSource, InvalidRequestError } from '../errors.js';
import type { ChatRequest } from './types.js';

/** Inclusive numeric bounds of the scalar fields, as the upstream documents them. */
const RANGES = [
  ['temperature', 0, 2],
  ['topP', 0, 1],
  ['presencePenalty', -2, 2],
  ['frequencyPenalty', -2, 2],
  ['maxTokens', 1, Number.MAX_SAFE_INTEGER],
  ['maxCompletionTokens', 1, Number.MAX_SAFE_INTEGER],
  ['topLogprobs', 0, 20],
  ['n', 1, 8],
] as const satisfies ReadonlyArray<readonly [keyof ChatRequest, number, number]>;

/**
 * The deepest nesting of objects and arrays a JSONObject input may have. JSON Schemas need a
 * handful of levels; thousands would overflow the stack of whatever serializes them.
 */
export const MAX_JSON_DEPTH = 64;

/** Whether `value` nests objects or arrays deeper than MAX_JSON_DEPTH; stops looking once it does. */
function tooDeep(value: unknown, depth = 1): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (depth > MAX_JSON_DEPTH) return true;
  for (const item of Array.isArray(value) ? value : Object.values(value)) {
    if (tooDeep(item, depth + 1)) return true;
  }
  return false;
}

function invalid(param: string, message: string, code: string): InvalidRequestError {
  return new InvalidRequestError(message, ErrorSource.SERVICE, `input.${param}`, code);
}

function describeRange(min: number, max: number): string {
  return max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`;
}

/** MAX_MESSAGES's default: the most messages one request may carry. */
export const DEFAULT_MAX_MESSAGES = 1000;

/** The first problem with `input`, or null when it may go upstream. */
export function validateChatInput(input: ChatRequest, maxMessages = DEFAULT_MAX_MESSAGES): InvalidRequestError | null {
  if (input.messages.length === 0) {
    return invalid('messages', 'messages must contain at least one message.', 'empty_messages');
  }
  if (input.messages.length > maxMessages) {
    return invalid(
      'messages',
      `messages may hold at most ${maxMessages} messages (MAX_MESSAGES); this request has ${input.messages.length}.`,
      'too_many_messages',
    );
  }
  for (const [field, min, max] of RANGES) {
    const value = input[field];
    if (value !== null && value !== undefined && !(value >= min && value <= max)) {
      return invalid(field, `${field} must be ${describeRange(min, max)} (got ${value}).`, 'out_of_range');
    }
  }
  if (input.topLogprobs != null && input.logprobs !== true) {
    return invalid('topLogprobs', 'topLogprobs requires logprobs: true.', 'missing_dependency');
  }
  if (input.responseFormat?.type === 'JSON_SCHEMA' && !input.responseFormat.jsonSchema) {
    return invalid('responseFormat.jsonSchema', 'responseFormat of type JSON_SCHEMA requires jsonSchema.', 'missing_field');
  }
  for (const [index, tool] of (input.tools ?? []).entries()) {
    if (tool.function.parameters != null && tooDeep(tool.function.parameters)) {
      return invalid(`tools.${index}.function.parameters`, `parameters may nest at most ${MAX_JSON_DEPTH} levels deep.`, 'too_deep');
    }
  }
  if (input.responseFormat?.jsonSchema?.schema != null && tooDeep(input.responseFormat.jsonSchema.schema)) {
    return invalid('responseFormat.jsonSchema.schema', `schema may nest at most ${MAX_JSON_DEPTH} levels deep.`, 'too_deep');
  }
  if (input.toolChoice?.function && !input.tools?.some((tool) => tool.function.name === input.toolChoice?.function)) {
    return invalid('toolChoice.function', `toolChoice names "${input.toolChoice.function}", which is not among tools.`, 'unknown_tool');
  }
  return validateMessages(input.messages);
}

function validateMessages(messages: ChatRequest['messages']): InvalidRequestError | null {
  const toolCallIds = new Set<string>();
  for (const [index, message] of messages.entries()) {
    const user = message.user;
    if (user) {
      const hasContent = user.content !== null && user.content !== undefined;
      const hasParts = user.parts !== null && user.parts !== undefined;
      if (hasContent === hasParts) {
        return invalid(
          `messages.${index}.user`,
          'A user message needs exactly one of content (text) or parts (multimodal).',
          hasContent ? 'conflicting_fields' : 'missing_field',
        );
      }
      if (hasParts && user.parts!.length === 0) {
        return invalid(`messages.${index}.user.parts`, 'parts must contain at least one part.', 'missing_field');
      }
    }
    for (const call of message.assistant?.toolCalls ?? []) toolCallIds.add(call.id);
    for (const [block, thinking] of (message.assistant?.thinkingBlocks ?? []).entries()) {
      if (thinking.type.trim() === '') {
        return invalid(
          `messages.${index}.assistant.thinkingBlocks.${block}.type`,
          'A thinking block needs its type (thinking, redacted_thinking), as it was received.',
          'missing_field',
        );
      }
    }
    if (message.tool && !toolCallIds.has(message.tool.toolCallId)) {
      return invalid(
        `messages.${index}.tool.toolCallId`,
        `toolCallId "${message.tool.toolCallId}" answers no earlier assistant tool call.`,
        'unknown_tool_call',
      );
    }
  }
  return null;
}
