/**
 * GraphQL input -> the upstream's request body. camelCase becomes snake_case, `@oneOf` inputs become
 * the upstream's tagged objects, enums go lower-case. A field that was not given, or given as null,
 * is left out of the body entirely, so the upstream's own default applies.
 */
import type {
  ChatCompletionContentPart,
  ChatCompletionCreateParamsBase,
  ChatCompletionMessageParam,
  ChatCompletionFunctionTool,
  ChatCompletionToolChoiceOption,
} from 'openai/resources/chat/completions';

import type { ChatMessage, ChatRequest } from '../chat/types.js';
import type { WireThinkingBlock } from './wire.js';

type Nullable<T> = T | null | undefined;

/** Copies `value` to `target[key]` only when it is set. */
function put<T extends object, K extends keyof T>(target: T, key: K, value: Nullable<T[K]>): void {
  if (value !== null && value !== undefined) target[key] = value;
}

function lower<T extends string>(value: Nullable<string>): T | undefined {
  return value === null || value === undefined ? undefined : (value.toLowerCase() as T);
}

export function translateMessage(message: ChatMessage): ChatCompletionMessageParam {
  if (message.system) {
    const out: ChatCompletionMessageParam = { role: 'system', content: message.system.content };
    put(out, 'name', message.system.name);
    return out;
  }
  if (message.developer) {
    const out: ChatCompletionMessageParam = { role: 'developer', content: message.developer.content };
    put(out, 'name', message.developer.name);
    return out;
  }
  if (message.user) {
    const { content, parts, name } = message.user;
    const out: ChatCompletionMessageParam = {
      role: 'user',
      content: parts ? parts.map(translateContentPart) : (content ?? ''),
    };
    put(out, 'name', name);
    return out;
  }
  if (message.assistant) {
    const { content, name, toolCalls, reasoningContent, thinkingBlocks } = message.assistant;
    const out: ChatCompletionMessageParam & { reasoning_content?: string; thinking_blocks?: WireThinkingBlock[] } = { role: 'assistant' };
    put(out, 'content', content);
    put(out, 'name', name);
    // LiteLLM's reasoning fields, back exactly as they came: only the fields that were set.
    put(out, 'reasoning_content', reasoningContent);
    if (thinkingBlocks) {
      out.thinking_blocks = thinkingBlocks.map((block) => {
        const sent: WireThinkingBlock = { type: block.type };
        put(sent, 'thinking', block.thinking);
        put(sent, 'signature', block.signature);
        put(sent, 'data', block.data);
        return sent;
      });
    }
    if (toolCalls) {
      out.tool_calls = toolCalls.map((call) => ({
        id: call.id,
        type: 'function',
        function: { name: call.function.name, arguments: call.function.arguments },
      }));
    }
    return out;
  }
  if (message.tool) {
    return { role: 'tool', tool_call_id: message.tool.toolCallId, content: message.tool.content };
  }
  // graphql-js enforces @oneOf before execution; this guards direct callers.
  throw new TypeError('A chat message must set exactly one role.');
}

function translateContentPart(part: NonNullable<NonNullable<ChatMessage['user']>['parts']>[number]): ChatCompletionContentPart {
  if (part.imageUrl) {
    const image: { url: string; detail?: 'auto' | 'low' | 'high' } = { url: part.imageUrl.url };
    put(image, 'detail', lower<'auto' | 'low' | 'high'>(part.imageUrl.detail));
    return { type: 'image_url', image_url: image };
  }
  return { type: 'text', text: part.text ?? '' };
}

function translateToolChoice(choice: NonNullable<ChatRequest['toolChoice']>): ChatCompletionToolChoiceOption {
  if (choice.function) return { type: 'function', function: { name: choice.function } };
  return lower<'auto' | 'none' | 'required'>(choice.mode) ?? 'auto';
}

function translateTool(tool: NonNullable<ChatRequest['tools']>[number]): ChatCompletionFunctionTool {
  const definition: ChatCompletionFunctionTool['function'] = { name: tool.function.name };
  put(definition, 'description', tool.function.description);
  put(definition, 'parameters', tool.function.parameters);
  put(definition, 'strict', tool.function.strict);
  return { type: 'function', function: definition };
}

function translateResponseFormat(format: NonNullable<ChatRequest['responseFormat']>): ChatCompletionCreateParamsBase['response_format'] {
  switch (format.type) {
    case 'TEXT':
      return { type: 'text' };
    case 'JSON_OBJECT':
      return { type: 'json_object' };
    case 'JSON_SCHEMA': {
      // validateChatInput guarantees jsonSchema with JSON_SCHEMA.
      const { name, schema, strict } = format.jsonSchema!;
      const jsonSchema: { name: string; schema: Record<string, unknown>; strict?: boolean } = { name, schema };
      put(jsonSchema, 'strict', strict);
      return { type: 'json_schema', json_schema: jsonSchema };
    }
  }
}

export type UpstreamChatRequest = ChatCompletionCreateParamsBase;

/** The upstream request for `input`; `stream` adds `stream_options.include_usage`. */
export function translateChatInput(input: ChatRequest, stream: boolean): UpstreamChatRequest {
  const body: UpstreamChatRequest = {
    model: input.model,
    messages: input.messages.map(translateMessage),
  };
  put(body, 'temperature', input.temperature);
  put(body, 'top_p', input.topP);
  put(body, 'max_tokens', input.maxTokens);
  put(body, 'max_completion_tokens', input.maxCompletionTokens);
  put(body, 'stop', input.stop);
  put(body, 'presence_penalty', input.presencePenalty);
  put(body, 'frequency_penalty', input.frequencyPenalty);
  put(body, 'seed', input.seed);
  put(body, 'user', input.user);
  put(body, 'logprobs', input.logprobs);
  put(body, 'top_logprobs', input.topLogprobs);
  put(body, 'n', input.n);
  if (input.responseFormat) body.response_format = translateResponseFormat(input.responseFormat);
  if (input.tools) body.tools = input.tools.map(translateTool);
  if (input.toolChoice) body.tool_choice = translateToolChoice(input.toolChoice);
  put(body, 'parallel_tool_calls', input.parallelToolCalls);
  put(body, 'reasoning_effort', lower<NonNullable<UpstreamChatRequest['reasoning_effort']>>(input.reasoningEffort));
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  } else {
    body.stream = false;
  }
  return body;
}
