/**
 * Turns a chat completion request body (untrusted JSON) into the few fields the
 * mock acts on. Anything malformed becomes a 400 in OpenAI's envelope, with the
 * `param` that names the culprit, so a client's error mapping can be tested on it.
 */

import { invalidRequest, type MockHttpError } from './errors.js';

/** A message as the mock reads it; content stays raw (string, parts or null). */
export interface ChatMessage {
  readonly role: string;
  readonly content: unknown;
  readonly tool_calls?: unknown;
  /** An assistant message's Anthropic blocks, as LiteLLM takes them back (checked by `chatql-mock-thinking`). */
  readonly thinking_blocks?: unknown;
  /** An assistant message's reasoning text, as a client may send it back. */
  readonly reasoning_content?: unknown;
}

export interface ChatTool {
  readonly name: string;
  /** The JSON schema of the arguments, as sent (may be undefined). */
  readonly parameters: unknown;
}

export type ResponseFormat =
  | { readonly type: 'text' }
  | { readonly type: 'json_object' }
  | { readonly type: 'json_schema'; readonly schema: unknown };

export type ToolChoice = 'none' | 'auto' | 'required' | { readonly name: string };

export interface ChatRequest {
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly stream: boolean;
  readonly includeUsage: boolean;
  /** `max_completion_tokens`, else `max_tokens`; undefined for no limit. */
  readonly maxTokens: number | undefined;
  readonly logprobs: boolean;
  /** How many alternatives each logprob lists (0 to 20). */
  readonly topLogprobs: number;
  readonly responseFormat: ResponseFormat;
  /** Function tools only; other tool types are ignored. */
  readonly tools: readonly ChatTool[];
  readonly toolChoice: ToolChoice;
  readonly parallelToolCalls: boolean;
  /** How many choices to answer with (`n`, 1 to 128). */
  readonly n: number;
}

export type ParsedChatRequest =
  | { readonly ok: true; readonly request: ChatRequest }
  | { readonly ok: false; readonly error: MockHttpError };

const ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'];

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON's name for a value's type, as OpenAI's messages use it. */
function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'number' ? 'number' : typeof value;
}

function fail(message: string, param: string | null, code: string | null = null): ParsedChatRequest {
  return { ok: false, error: invalidRequest(message, param, code) };
}

/** Thrown inside the parser to stop at the first problem; caught in parseChatRequest. */
class Invalid extends Error {
  constructor(readonly result: ParsedChatRequest) {
    super('invalid request');
  }
}

function integerParam(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Invalid(
      fail(`Invalid '${key}': expected an integer from ${min} to ${max}, but got ${JSON.stringify(value)}.`, key, 'invalid_value'),
    );
  }
  return value;
}

function parseMessages(value: unknown): ChatMessage[] {
  if (value === undefined || value === null) {
    throw new Invalid(fail("Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter'));
  }
  if (!Array.isArray(value)) {
    throw new Invalid(
      fail(`Invalid type for 'messages': expected an array of objects, but got ${jsonType(value)} instead.`, 'messages', 'invalid_type'),
    );
  }
  if (value.length === 0) {
    throw new Invalid(
      fail(
        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        'messages',
        'empty_array',
      ),
    );
  }
  return value.map((message: unknown, i) => {
    if (!isRecord(message)) {
      throw new Invalid(
        fail(
          `Invalid type for 'messages[${i}]': expected an object, but got ${jsonType(message)} instead.`,
          `messages[${i}]`,
          'invalid_type',
        ),
      );
    }
    if (typeof message.role !== 'string' || !ROLES.includes(message.role)) {
      throw new Invalid(
        fail(
          `Invalid value: ${JSON.stringify(message.role ?? null)}. Supported values are: ${ROLES.map((r) => `'${r}'`).join(', ')}.`,
          `messages[${i}].role`,
          'invalid_value',
        ),
      );
    }
    const { role, content, tool_calls } = message;
    // Only an assistant turn's thinking matters: it is what Anthropic wants back with the tool results.
    return role === 'assistant'
      ? { role, content, tool_calls, thinking_blocks: message.thinking_blocks, reasoning_content: message.reasoning_content }
      : { role, content, tool_calls };
  });
}

function parseTools(value: unknown): ChatTool[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    throw new Invalid(fail(`Invalid type for 'tools': expected an array, but got ${jsonType(value)} instead.`, 'tools', 'invalid_type'));
  }
  const tools: ChatTool[] = [];
  value.forEach((tool: unknown, i) => {
    if (isRecord(tool) && tool.type !== undefined && tool.type !== 'function') return;
    const fn = isRecord(tool) ? tool.function : undefined;
    if (!isRecord(fn) || typeof fn.name !== 'string' || fn.name === '') {
      throw new Invalid(
        fail(`Missing required parameter: 'tools[${i}].function.name'.`, `tools[${i}].function.name`, 'missing_required_parameter'),
      );
    }
    tools.push({ name: fn.name, parameters: fn.parameters });
  });
  return tools;
}

function parseToolChoice(value: unknown, tools: readonly ChatTool[]): ToolChoice {
  if (value === undefined || value === null) return 'auto';
  if (tools.length === 0) {
    throw new Invalid(fail("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", 'tool_choice'));
  }
  if (value === 'none' || value === 'auto' || value === 'required') return value;
  const name = isRecord(value) && isRecord(value.function) ? value.function.name : undefined;
  if (typeof name !== 'string') {
    throw new Invalid(
      fail("Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or a named function.", 'tool_choice', 'invalid_value'),
    );
  }
  if (!tools.some((tool) => tool.name === name)) {
    throw new Invalid(fail(`Invalid value for 'tool_choice': function '${name}' not found in 'tools'.`, 'tool_choice', 'invalid_value'));
  }
  return { name };
}

function parseResponseFormat(value: unknown): ResponseFormat {
  if (!isRecord(value)) return { type: 'text' };
  if (value.type === 'json_object') return { type: 'json_object' };
  if (value.type === 'json_schema') {
    const spec = isRecord(value.json_schema) ? value.json_schema : {};
    return { type: 'json_schema', schema: spec.schema };
  }
  return { type: 'text' };
}

/** Validates a chat completion body; the first problem found is the one reported. */
export function parseChatRequest(raw: unknown): ParsedChatRequest {
  // An empty body reads as an empty object, so it gets OpenAI's "provide a model" answer.
  const body = raw === undefined ? {} : raw;
  try {
    if (!isRecord(body)) {
      return fail(`Invalid type for the request body: expected an object, but got ${jsonType(body)} instead.`, null, 'invalid_type');
    }
    if (typeof body.model !== 'string' || body.model === '') {
      return fail('you must provide a model parameter', 'model');
    }
    const messages = parseMessages(body.messages);
    const stream = body.stream === true;
    if (!stream && body.stream_options !== undefined && body.stream_options !== null) {
      return fail("The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options');
    }
    const tools = parseTools(body.tools);
    const maxTokens =
      integerParam(body, 'max_completion_tokens', 1, Number.MAX_SAFE_INTEGER) ??
      integerParam(body, 'max_tokens', 1, Number.MAX_SAFE_INTEGER);
    return {
      ok: true,
      request: {
        model: body.model,
        messages,
        stream,
        includeUsage: stream && isRecord(body.stream_options) && body.stream_options.include_usage === true,
        maxTokens,
        logprobs: body.logprobs === true,
        topLogprobs: integerParam(body, 'top_logprobs', 0, 20) ?? 0,
        responseFormat: parseResponseFormat(body.response_format),
        tools,
        toolChoice: parseToolChoice(body.tool_choice, tools),
        parallelToolCalls: body.parallel_tool_calls !== false,
        // OpenAI's bound: at most 128 choices.
        n: integerParam(body, 'n', 1, 128) ?? 1,
      },
    };
  } catch (error) {
    if (error instanceof Invalid) return error.result;
    throw error;
  }
}
