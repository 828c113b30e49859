/**
 * The chat domain's request: what a client asks for, as the service's own code reads it. Plain
 * TypeScript, owned here: the GraphQL input types (`src/schema/chat-input.ts`) are built to this
 * shape, the limits, the validation and the translation to the upstream's wire format read it,
 * and nothing outside `src/schema/` depends on the schema.
 *
 * Optional fields may be absent or null, as GraphQL inputs are: either means "not sent upstream".
 */
import type { AuthOutcome } from '../auth/authenticate.js';

export type ReasoningEffort = 'NONE' | 'MINIMAL' | 'LOW' | 'MEDIUM' | 'HIGH';
export type ImageDetail = 'AUTO' | 'LOW' | 'HIGH';
export type ToolChoiceMode = 'AUTO' | 'NONE' | 'REQUIRED';
export type ResponseFormatType = 'TEXT' | 'JSON_OBJECT' | 'JSON_SCHEMA';

/** A JSON value given as data (a JSON Schema, say). */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export interface RoleMessage {
  content: string;
  name?: string | null;
}

export interface ImageUrl {
  url: string;
  detail?: ImageDetail | null;
}

/** Exactly one of `text` or `imageUrl` (GraphQL's @oneOf enforces it). */
export interface ContentPart {
  text?: string | null;
  imageUrl?: ImageUrl | null;
}

/** Exactly one of `content` or `parts` (checked by `validateChatInput`). */
export interface UserMessage {
  content?: string | null;
  parts?: ContentPart[] | null;
  name?: string | null;
}

export interface FunctionCall {
  name: string;
  arguments: string;
}

export interface ToolCall {
  id: string;
  function: FunctionCall;
}

/** A reasoning model's thinking (Anthropic through LiteLLM), sent back exactly as received. */
export interface ThinkingBlock {
  type: string;
  thinking?: string | null;
  signature?: string | null;
  /** A `redacted_thinking` block's opaque content. */
  data?: string | null;
}

export interface AssistantMessage {
  content?: string | null;
  name?: string | null;
  toolCalls?: ToolCall[] | null;
  /** The reasoning text of the answer, for upstreams that want it back (`reasoning_content`). */
  reasoningContent?: string | null;
  /** The answer's thinking blocks (`thinking_blocks`): required back with its tool calls by Anthropic models. */
  thinkingBlocks?: ThinkingBlock[] | null;
}

export interface ToolMessage {
  toolCallId: string;
  content: string;
}

/** One message: exactly one role is set (GraphQL's @oneOf enforces it). */
export interface ChatMessage {
  system?: RoleMessage | null;
  developer?: RoleMessage | null;
  user?: UserMessage | null;
  assistant?: AssistantMessage | null;
  tool?: ToolMessage | null;
}

export interface FunctionDefinition {
  name: string;
  description?: string | null;
  parameters?: JsonObject | null;
  strict?: boolean | null;
}

export interface Tool {
  function: FunctionDefinition;
}

/** Exactly one of `mode` or `function` (GraphQL's @oneOf enforces it). */
export interface ToolChoice {
  mode?: ToolChoiceMode | null;
  function?: string | null;
}

export interface JsonSchemaFormat {
  name: string;
  schema: JsonObject;
  strict?: boolean | null;
}

export interface ResponseFormat {
  type: ResponseFormatType;
  jsonSchema?: JsonSchemaFormat | null;
}

/** One chat completion request. */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  temperature?: number | null;
  topP?: number | null;
  maxTokens?: number | null;
  maxCompletionTokens?: number | null;
  stop?: string[] | null;
  presencePenalty?: number | null;
  frequencyPenalty?: number | null;
  seed?: number | null;
  user?: string | null;
  logprobs?: boolean | null;
  topLogprobs?: number | null;
  /** How many choices to generate, 1 to 8. */
  n?: number | null;
  responseFormat?: ResponseFormat | null;
  tools?: Tool[] | null;
  toolChoice?: ToolChoice | null;
  parallelToolCalls?: boolean | null;
  reasoningEffort?: ReasoningEffort | null;
}

/** What the transport knows of one operation. */
export interface OperationCall {
  /** Fires when the client leaves (see `Context.signal`). */
  signal: AbortSignal | undefined;
  requestId: string;
  principal: AuthOutcome;
}
