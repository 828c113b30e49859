/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** An earlier answer of the assistant: its text, its tool calls, or both. */
export type AssistantMessageInput = {
  content?: string | null | undefined;
  name?: string | null | undefined;
  /** The answer's reasoning text, sent back as `reasoning_content`. */
  reasoningContent?: string | null | undefined;
  /** The answer's thinking blocks, exactly as received: Anthropic models refuse a conversation that mixes thinking and tools without them. */
  thinkingBlocks?: Array<ThinkingBlockInput> | null | undefined;
  toolCalls?: Array<ToolCallInput> | null | undefined;
};

/** How this service authenticates its clients (AUTH_MODE). */
export type AuthMode =
  /** A key issued by the operator (CLIENT_KEYS_FILE). */
  | 'API_KEY'
  /** The client's own upstream key, passed through. */
  | 'FORWARD'
  /** A signed JWT; its `sub` is the client id. */
  | 'JWT'
  /** Open: every caller is `anonymous`. */
  | 'NONE';

/** One chat completion request. Fields left out (or null) are not sent upstream, so the upstream's defaults apply. */
export type ChatCompletionInput = {
  /** -2 to 2. */
  frequencyPenalty?: number | null | undefined;
  /** Return the log probability of each output token. */
  logprobs?: boolean | null | undefined;
  /** Upper bound on generated tokens, reasoning included (at least 1). */
  maxCompletionTokens?: number | null | undefined;
  /** Upper bound on generated tokens (legacy name; at least 1). */
  maxTokens?: number | null | undefined;
  /** The conversation so far; at least one message. */
  messages: Array<ChatMessageInput>;
  /** A model id from the `models` query. */
  model: string;
  /** How many choices to generate, 1 to 8 (choices by `index`); each is an answer of its own, which the limits count. */
  n?: number | null | undefined;
  parallelToolCalls?: boolean | null | undefined;
  /** -2 to 2. */
  presencePenalty?: number | null | undefined;
  reasoningEffort?: ReasoningEffort | null | undefined;
  responseFormat?: ResponseFormatInput | null | undefined;
  /** Best-effort deterministic sampling. */
  seed?: number | null | undefined;
  /** Up to 4 sequences where the upstream stops generating. */
  stop?: Array<string> | null | undefined;
  /** Sampling temperature, 0 to 2. */
  temperature?: number | null | undefined;
  toolChoice?: ToolChoiceInput | null | undefined;
  tools?: Array<ToolInput> | null | undefined;
  /** With logprobs: how many alternatives per token, 0 to 20. */
  topLogprobs?: number | null | undefined;
  /** Nucleus sampling, 0 to 1. */
  topP?: number | null | undefined;
  /** An end-user id, for the upstream's abuse monitoring and per-user budgets. */
  user?: string | null | undefined;
};

/** Exactly one role per message. */
export type ChatMessageInput =
  {   assistant: AssistantMessageInput; developer?: never; system?: never; tool?: never; user?: never; }
  |  { assistant?: never;   developer: DeveloperMessageInput; system?: never; tool?: never; user?: never; }
  |  { assistant?: never; developer?: never;   system: SystemMessageInput; tool?: never; user?: never; }
  |  { assistant?: never; developer?: never; system?: never;   tool: ToolMessageInput; user?: never; }
  |  { assistant?: never; developer?: never; system?: never; tool?: never;   user: UserMessageInput; };

/** One part of a multimodal user message: exactly one of text or imageUrl. */
export type ContentPartInput =
  {   imageUrl: ImageUrlInput; text?: never; }
  |  { imageUrl?: never;   text: string; };

export type CostSource =
  /** Computed by ChatQL from the model's prices. */
  | 'PRICE_TABLE'
  /** Reported by the upstream. */
  | 'UPSTREAM';

/** Instructions for reasoning models (the upstream's developer role). */
export type DeveloperMessageInput = {
  content: string;
  name?: string | null | undefined;
};

export type ErrorSource =
  /** Decided by this service (its validation, authentication or limits) before or instead of an upstream call. */
  | 'SERVICE'
  /** Answered by the upstream, or caused by it (its status, its stream, its silence). */
  | 'UPSTREAM';

/** Why the model stopped generating. */
export type FinishReason =
  /** The upstream's content filter removed content. */
  | 'CONTENT_FILTER'
  /** The legacy function-calling reason. */
  | 'FUNCTION_CALL'
  /** maxTokens (or the context window) was reached. */
  | 'LENGTH'
  /** Any other value an OpenAI-compatible upstream sends. */
  | 'OTHER'
  /** A natural end, or a stop sequence. */
  | 'STOP'
  /** The model called tools. */
  | 'TOOL_CALLS';

export type FunctionCallInput = {
  /** JSON-encoded arguments, as the model produced them. */
  arguments: string;
  name: string;
};

export type FunctionDefinitionInput = {
  description?: string | null | undefined;
  name: string;
  /** A JSON Schema object describing the arguments. */
  parameters?: Record<string, unknown> | null | undefined;
  /** Ask the upstream to follow the schema exactly (structured outputs). */
  strict?: boolean | null | undefined;
};

/** The resolution at which a vision model looks at an image. */
export type ImageDetail =
  | 'AUTO'
  | 'HIGH'
  | 'LOW';

export type ImageUrlInput = {
  detail?: ImageDetail | null | undefined;
  /** A public URL or a data: URI. */
  url: string;
};

export type JsonSchemaFormatInput = {
  name: string;
  schema: Record<string, unknown>;
  strict?: boolean | null | undefined;
};

/** Which limit a RateLimitError is about. */
export type RateLimitKind =
  /** Live streams at once (the service's per-client limit). */
  | 'CONCURRENT_STREAMS'
  /** Requests per minute (or per day): the service's or the upstream's. */
  | 'REQUESTS'
  /** Tokens per minute: the service's or the upstream's. */
  | 'TOKENS'
  /** The upstream did not say which. */
  | 'UNKNOWN';

/** How much a reasoning model thinks before it answers (sent lower-case as `reasoning_effort`). */
export type ReasoningEffort =
  | 'HIGH'
  | 'LOW'
  | 'MEDIUM'
  | 'MINIMAL'
  | 'NONE';

export type ResponseFormatInput = {
  /** Required with JSON_SCHEMA. */
  jsonSchema?: JsonSchemaFormatInput | null | undefined;
  type: ResponseFormatType;
};

/** Plain text, any JSON object, or JSON that follows a given schema. */
export type ResponseFormatType =
  | 'JSON_OBJECT'
  | 'JSON_SCHEMA'
  | 'TEXT';

/** Makes a stream resumable: it survives a dropped connection, and may be attached to again, on any replica. */
export type StreamResumeInput = {
  /** Replay only what came after this chunk: the `seq` of the last chunk the client has. */
  after?: number | null | undefined;
  /** Chosen by the client for one generation, e.g. a UUID: 16 to 128 characters of A-Z a-z 0-9 _ -. Subscribing again with the same key attaches to the same generation instead of starting a new one. */
  key: string;
};

/** Sets the assistant's behaviour; usually once, at the start of the conversation. */
export type SystemMessageInput = {
  content: string;
  /** An optional name that tells participants of the same role apart. */
  name?: string | null | undefined;
};

/** A thinking block of an earlier answer, sent back exactly as it was received (`thinkingBlocks`). */
export type ThinkingBlockInput = {
  /** A redacted_thinking block's content. */
  data?: string | null | undefined;
  signature?: string | null | undefined;
  thinking?: string | null | undefined;
  /** `thinking` or `redacted_thinking`. */
  type: string;
};

/** A tool call the assistant made earlier in the conversation, sent back as history. */
export type ToolCallInput = {
  function: FunctionCallInput;
  id: string | number;
};

/** Exactly one of mode or function. */
export type ToolChoiceInput =
  {   /** Force a call of the function with this name. */
  function: string; mode?: never; }
  |  { function?: never;   mode: ToolChoiceMode; };

/** Whether the model may, must or must not call tools. */
export type ToolChoiceMode =
  | 'AUTO'
  | 'NONE'
  | 'REQUIRED';

/** A function the model may call. */
export type ToolInput = {
  function: FunctionDefinitionInput;
};

/** The result of a tool call, answering the assistant tool call with the same id. */
export type ToolMessageInput = {
  /** The tool's output; JSON-encode structured payloads. */
  content: string;
  toolCallId: string | number;
};

/** Exactly one of content (plain text) or parts (multimodal). */
export type UserMessageInput = {
  content?: string | null | undefined;
  name?: string | null | undefined;
  parts?: Array<ContentPartInput> | null | undefined;
};

type ChatError_AuthenticationError_Fragment = { __typename: 'AuthenticationError', message: string, retryable: boolean, source: ErrorSource };

type ChatError_BudgetExceededError_Fragment = { __typename: 'BudgetExceededError', message: string, retryable: boolean, source: ErrorSource };

type ChatError_ContentBlockedError_Fragment = { __typename: 'ContentBlockedError', guardrail: string | null, message: string, retryable: boolean, source: ErrorSource };

type ChatError_InvalidRequestError_Fragment = { __typename: 'InvalidRequestError', param: string | null, code: string | null, message: string, retryable: boolean, source: ErrorSource };

type ChatError_NotFoundError_Fragment = { __typename: 'NotFoundError', message: string, retryable: boolean, source: ErrorSource };

type ChatError_PermissionDeniedError_Fragment = { __typename: 'PermissionDeniedError', message: string, retryable: boolean, source: ErrorSource };

type ChatError_RateLimitError_Fragment = { __typename: 'RateLimitError', retryAfterSeconds: number | null, limit: RateLimitKind, message: string, retryable: boolean, source: ErrorSource };

type ChatError_UpstreamTimeoutError_Fragment = { __typename: 'UpstreamTimeoutError', message: string, retryable: boolean, source: ErrorSource };

type ChatError_UpstreamUnavailableError_Fragment = { __typename: 'UpstreamUnavailableError', status: number | null, retryAfterSeconds: number | null, message: string, retryable: boolean, source: ErrorSource };

export type ChatErrorFragment =
  | ChatError_AuthenticationError_Fragment
  | ChatError_BudgetExceededError_Fragment
  | ChatError_ContentBlockedError_Fragment
  | ChatError_InvalidRequestError_Fragment
  | ChatError_NotFoundError_Fragment
  | ChatError_PermissionDeniedError_Fragment
  | ChatError_RateLimitError_Fragment
  | ChatError_UpstreamTimeoutError_Fragment
  | ChatError_UpstreamUnavailableError_Fragment
;

export type ModelsQueryVariables = Exact<{ [key: string]: never; }>;


export type ModelsQuery = { models:
    | { __typename: 'AuthenticationError', message: string, retryable: boolean, source: ErrorSource }
    | { __typename: 'BudgetExceededError', message: string, retryable: boolean, source: ErrorSource }
    | { __typename: 'ModelList', models: Array<{ id: string, unavailableUntil: string | null, pricing: { inputPerMillionTokens: number, outputPerMillionTokens: number, cachedInputPerMillionTokens: number | null, currency: string } | null }> }
    | { __typename: 'NotFoundError', message: string, retryable: boolean, source: ErrorSource }
    | { __typename: 'PermissionDeniedError', message: string, retryable: boolean, source: ErrorSource }
    | { __typename: 'RateLimitError', retryAfterSeconds: number | null, limit: RateLimitKind, message: string, retryable: boolean, source: ErrorSource }
    | { __typename: 'UpstreamTimeoutError', message: string, retryable: boolean, source: ErrorSource }
    | { __typename: 'UpstreamUnavailableError', status: number | null, retryAfterSeconds: number | null, message: string, retryable: boolean, source: ErrorSource }
   };

export type ViewerQueryVariables = Exact<{ [key: string]: never; }>;


export type ViewerQuery = { viewer:
    | { __typename: 'AuthenticationError', message: string, retryable: boolean, source: ErrorSource }
    | { __typename: 'Viewer', clientId: string, authMode: AuthMode, limits: { requestsPerMinute: { limit: number, remaining: number } | null, dailyTokens: { limit: number, remaining: number } | null, dailySpend: { limit: number, remaining: number, currency: string } | null }, spentToday: { amount: number, currency: string } }
   };

export type ChatStreamSubscriptionVariables = Exact<{
  input: ChatCompletionInput;
  resume?: StreamResumeInput | null | undefined;
}>;


export type ChatStreamSubscription = { chatCompletionStream:
    | { __typename: 'AuthenticationError', message: string, retryable: boolean, source: ErrorSource }
    | { __typename: 'BudgetExceededError', message: string, retryable: boolean, source: ErrorSource }
    | { __typename: 'ChatCompletion', upstreamRequestId: string | null, choices: Array<{ index: number, finishReason: FinishReason | null, message: { content: string | null, refusal: string | null, reasoningContent: string | null, thinkingBlocks: Array<{ type: string, thinking: string | null, signature: string | null, data: string | null }> | null, toolCalls: Array<{ id: string, function: { name: string, arguments: string } }> } }>, usage: { promptTokens: number, completionTokens: number, totalTokens: number, cost: { amount: number, currency: string, source: CostSource } | null } | null }
    | { __typename: 'ChatCompletionChunk', seq: number, choices: Array<{ index: number, delta: { content: string | null, reasoningContent: string | null, refusal: string | null, thinkingBlocks: Array<{ type: string, thinking: string | null, signature: string | null, data: string | null }> | null, toolCalls: Array<{ index: number, id: string | null, function: { name: string | null, arguments: string | null } | null }> | null } }>, usage: { promptTokens: number, completionTokens: number, totalTokens: number, cost: { amount: number, currency: string, source: CostSource } | null } | null }
    | { __typename: 'ContentBlockedError', guardrail: string | null, message: string, retryable: boolean, source: ErrorSource }
    | { __typename: 'InvalidRequestError', param: string | null, code: string | null, message: string, retryable: boolean, source: ErrorSource }
    | { __typename: 'NotFoundError', message: string, retryable: boolean, source: ErrorSource }
    | { __typename: 'PermissionDeniedError', message: string, retryable: boolean, source: ErrorSource }
    | { __typename: 'RateLimitError', retryAfterSeconds: number | null, limit: RateLimitKind, message: string, retryable: boolean, source: ErrorSource }
    | { __typename: 'UpstreamTimeoutError', message: string, retryable: boolean, source: ErrorSource }
    | { __typename: 'UpstreamUnavailableError', status: number | null, retryAfterSeconds: number | null, message: string, retryable: boolean, source: ErrorSource }
   };

export const ChatErrorFragmentDoc = {"kind":"Document","definitions":[{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ChatError"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"retryable"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"RateLimitError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"retryAfterSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"limit"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"InvalidRequestError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"param"}},{"kind":"Field","name":{"kind":"Name","value":"code"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"UpstreamUnavailableError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"retryAfterSeconds"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ContentBlockedError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"guardrail"}}]}}]}}]} as unknown as DocumentNode<ChatErrorFragment, unknown>;
export const ModelsDocument = {"__meta__":{"hash":"sha256:4d29cad7625ebfc5923d13cb22b42178d75654411ed3fafc207b264a7711adcd"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Models"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"models"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ModelList"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"models"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"unavailableUntil"}},{"kind":"Field","name":{"kind":"Name","value":"pricing"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"inputPerMillionTokens"}},{"kind":"Field","name":{"kind":"Name","value":"outputPerMillionTokens"}},{"kind":"Field","name":{"kind":"Name","value":"cachedInputPerMillionTokens"}},{"kind":"Field","name":{"kind":"Name","value":"currency"}}]}}]}}]}},{"kind":"FragmentSpread","name":{"kind":"Name","value":"ChatError"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ChatError"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"retryable"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"RateLimitError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"retryAfterSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"limit"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"InvalidRequestError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"param"}},{"kind":"Field","name":{"kind":"Name","value":"code"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"UpstreamUnavailableError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"retryAfterSeconds"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ContentBlockedError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"guardrail"}}]}}]}}]} as unknown as DocumentNode<ModelsQuery, ModelsQueryVariables>;
export const ViewerDocument = {"__meta__":{"hash":"sha256:51bd02b42ccddb5184b5dabec8adc45b17e3b8d71a8942679e6edcf179edbb32"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Viewer"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"viewer"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Viewer"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"clientId"}},{"kind":"Field","name":{"kind":"Name","value":"authMode"}},{"kind":"Field","name":{"kind":"Name","value":"limits"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"requestsPerMinute"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"limit"}},{"kind":"Field","name":{"kind":"Name","value":"remaining"}}]}},{"kind":"Field","name":{"kind":"Name","value":"dailyTokens"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"limit"}},{"kind":"Field","name":{"kind":"Name","value":"remaining"}}]}},{"kind":"Field","name":{"kind":"Name","value":"dailySpend"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"limit"}},{"kind":"Field","name":{"kind":"Name","value":"remaining"}},{"kind":"Field","name":{"kind":"Name","value":"currency"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"spentToday"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"amount"}},{"kind":"Field","name":{"kind":"Name","value":"currency"}}]}}]}},{"kind":"FragmentSpread","name":{"kind":"Name","value":"ChatError"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ChatError"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"retryable"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"RateLimitError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"retryAfterSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"limit"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"InvalidRequestError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"param"}},{"kind":"Field","name":{"kind":"Name","value":"code"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"UpstreamUnavailableError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"retryAfterSeconds"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ContentBlockedError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"guardrail"}}]}}]}}]} as unknown as DocumentNode<ViewerQuery, ViewerQueryVariables>;
export const ChatStreamDocument = {"__meta__":{"hash":"sha256:5f639277ba95ac5ce055cb9a678005fca285c181321f6c85d6c6d33b066ba98e"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"ChatStream"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ChatCompletionInput"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"resume"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"StreamResumeInput"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"chatCompletionStream"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}},{"kind":"Argument","name":{"kind":"Name","value":"resume"},"value":{"kind":"Variable","name":{"kind":"Name","value":"resume"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ChatCompletionChunk"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"seq"}},{"kind":"Field","name":{"kind":"Name","value":"choices"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"index"}},{"kind":"Field","name":{"kind":"Name","value":"delta"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"content"}},{"kind":"Field","name":{"kind":"Name","value":"reasoningContent"}},{"kind":"Field","name":{"kind":"Name","value":"refusal"}},{"kind":"Field","name":{"kind":"Name","value":"thinkingBlocks"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"thinking"}},{"kind":"Field","name":{"kind":"Name","value":"signature"}},{"kind":"Field","name":{"kind":"Name","value":"data"}}]}},{"kind":"Field","name":{"kind":"Name","value":"toolCalls"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"index"}},{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"function"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"arguments"}}]}}]}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"usage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"promptTokens"}},{"kind":"Field","name":{"kind":"Name","value":"completionTokens"}},{"kind":"Field","name":{"kind":"Name","value":"totalTokens"}},{"kind":"Field","name":{"kind":"Name","value":"cost"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"amount"}},{"kind":"Field","name":{"kind":"Name","value":"currency"}},{"kind":"Field","name":{"kind":"Name","value":"source"}}]}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ChatCompletion"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"upstreamRequestId"}},{"kind":"Field","name":{"kind":"Name","value":"choices"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"index"}},{"kind":"Field","name":{"kind":"Name","value":"finishReason"}},{"kind":"Field","name":{"kind":"Name","value":"message"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"content"}},{"kind":"Field","name":{"kind":"Name","value":"refusal"}},{"kind":"Field","name":{"kind":"Name","value":"reasoningContent"}},{"kind":"Field","name":{"kind":"Name","value":"thinkingBlocks"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"thinking"}},{"kind":"Field","name":{"kind":"Name","value":"signature"}},{"kind":"Field","name":{"kind":"Name","value":"data"}}]}},{"kind":"Field","name":{"kind":"Name","value":"toolCalls"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"function"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"arguments"}}]}}]}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"usage"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"promptTokens"}},{"kind":"Field","name":{"kind":"Name","value":"completionTokens"}},{"kind":"Field","name":{"kind":"Name","value":"totalTokens"}},{"kind":"Field","name":{"kind":"Name","value":"cost"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"amount"}},{"kind":"Field","name":{"kind":"Name","value":"currency"}},{"kind":"Field","name":{"kind":"Name","value":"source"}}]}}]}}]}},{"kind":"FragmentSpread","name":{"kind":"Name","value":"ChatError"}}]}}]}},{"kind":"FragmentDefinition","name":{"kind":"Name","value":"ChatError"},"typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"Field","name":{"kind":"Name","value":"message"}},{"kind":"Field","name":{"kind":"Name","value":"retryable"}},{"kind":"Field","name":{"kind":"Name","value":"source"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"RateLimitError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"retryAfterSeconds"}},{"kind":"Field","name":{"kind":"Name","value":"limit"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"InvalidRequestError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"param"}},{"kind":"Field","name":{"kind":"Name","value":"code"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"UpstreamUnavailableError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"retryAfterSeconds"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ContentBlockedError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"guardrail"}}]}}]}}]} as unknown as DocumentNode<ChatStreamSubscription, ChatStreamSubscriptionVariables>;