/**
 * The input of `chatCompletion` and `chatCompletionStream`: the upstream's request body in
 * camelCase, with `@oneOf` inputs where the upstream takes a tagged union (message roles, content
 * parts, tool choice). Each input type is built to the chat domain's own type (`src/chat/types.ts`),
 * which is what resolvers hand on; `src/upstream/translate.ts` turns it into the upstream's JSON.
 */
import { builder } from '../builder.js';
import type {
  AssistantMessage,
  ChatMessage,
  ChatRequest,
  ContentPart,
  FunctionCall,
  FunctionDefinition,
  ImageUrl,
  JsonSchemaFormat,
  ResponseFormat,
  RoleMessage,
  ThinkingBlock,
  Tool,
  ToolCall,
  ToolChoice,
  ToolMessage,
  UserMessage,
} from '../chat/types.js';
import { JSONObjectScalar } from './scalars.js';

export const ReasoningEffortEnum = builder.enumType('ReasoningEffort', {
  description: 'How much a reasoning model thinks before it answers (sent lower-case as `reasoning_effort`).',
  values: ['NONE', 'MINIMAL', 'LOW', 'MEDIUM', 'HIGH'] as const,
});

export const ImageDetailEnum = builder.enumType('ImageDetail', {
  description: 'The resolution at which a vision model looks at an image.',
  values: ['AUTO', 'LOW', 'HIGH'] as const,
});

export const ToolChoiceModeEnum = builder.enumType('ToolChoiceMode', {
  description: 'Whether the model may, must or must not call tools.',
  values: ['AUTO', 'NONE', 'REQUIRED'] as const,
});

export const ResponseFormatTypeEnum = builder.enumType('ResponseFormatType', {
  description: 'Plain text, any JSON object, or JSON that follows a given schema.',
  values: ['TEXT', 'JSON_OBJECT', 'JSON_SCHEMA'] as const,
});

const SystemMessageInput = builder.inputRef<RoleMessage>('SystemMessageInput').implement({
  description: "Sets the assistant's behaviour; usually once, at the start of the conversation.",
  fields: (t) => ({
    content: t.string({ required: true }),
    name: t.string({ description: 'An optional name that tells participants of the same role apart.' }),
  }),
});

const DeveloperMessageInput = builder.inputRef<RoleMessage>('DeveloperMessageInput').implement({
  description: "Instructions for reasoning models (the upstream's developer role).",
  fields: (t) => ({
    content: t.string({ required: true }),
    name: t.string(),
  }),
});

const ImageUrlInput = builder.inputRef<ImageUrl>('ImageUrlInput').implement({
  fields: (t) => ({
    url: t.string({ required: true, description: 'A public URL or a data: URI.' }),
    detail: t.field({ type: ImageDetailEnum }),
  }),
});

const ContentPartInput = builder.inputRef<ContentPart>('ContentPartInput').implement({
  description: 'One part of a multimodal user message: exactly one of text or imageUrl.',
  isOneOf: true,
  fields: (t) => ({
    text: t.string(),
    imageUrl: t.field({ type: ImageUrlInput }),
  }),
});

const UserMessageInput = builder.inputRef<UserMessage>('UserMessageInput').implement({
  description: 'Exactly one of content (plain text) or parts (multimodal).',
  fields: (t) => ({
    content: t.string(),
    parts: t.field({ type: [ContentPartInput] }),
    name: t.string(),
  }),
});

const FunctionCallInput = builder.inputRef<FunctionCall>('FunctionCallInput').implement({
  fields: (t) => ({
    name: t.string({ required: true }),
    arguments: t.string({ required: true, description: 'JSON-encoded arguments, as the model produced them.' }),
  }),
});

const ToolCallInput = builder.inputRef<ToolCall>('ToolCallInput').implement({
  description: 'A tool call the assistant made earlier in the conversation, sent back as history.',
  fields: (t) => ({
    id: t.id({ required: true }),
    function: t.field({ type: FunctionCallInput, required: true }),
  }),
});

const ThinkingBlockInput = builder.inputRef<ThinkingBlock>('ThinkingBlockInput').implement({
  description: 'A thinking block of an earlier answer, sent back exactly as it was received (`thinkingBlocks`).',
  fields: (t) => ({
    type: t.string({ required: true, description: '`thinking` or `redacted_thinking`.' }),
    thinking: t.string(),
    signature: t.string(),
    data: t.string({ description: "A redacted_thinking block's content." }),
  }),
});

const AssistantMessageInput = builder.inputRef<AssistantMessage>('AssistantMessageInput').implement({
  description: 'An earlier answer of the assistant: its text, its tool calls, or both.',
  fields: (t) => ({
    content: t.string(),
    name: t.string(),
    toolCalls: t.field({ type: [ToolCallInput] }),
    reasoningContent: t.string({ description: "The answer's reasoning text, sent back as `reasoning_content`." }),
    thinkingBlocks: t.field({
      type: [ThinkingBlockInput],
      description:
        "The answer's thinking blocks, exactly as received: Anthropic models refuse a conversation that mixes thinking and tools without them.",
    }),
  }),
});

const ToolMessageInput = builder.inputRef<ToolMessage>('ToolMessageInput').implement({
  description: 'The result of a tool call, answering the assistant tool call with the same id.',
  fields: (t) => ({
    toolCallId: t.id({ required: true }),
    content: t.string({ required: true, description: "The tool's output; JSON-encode structured payloads." }),
  }),
});

export const ChatMessageInput = builder.inputRef<ChatMessage>('ChatMessageInput').implement({
  description: 'Exactly one role per message.',
  isOneOf: true,
  fields: (t) => ({
    system: t.field({ type: SystemMessageInput }),
    developer: t.field({ type: DeveloperMessageInput }),
    user: t.field({ type: UserMessageInput }),
    assistant: t.field({ type: AssistantMessageInput }),
    tool: t.field({ type: ToolMessageInput }),
  }),
});

const FunctionDefinitionInput = builder.inputRef<FunctionDefinition>('FunctionDefinitionInput').implement({
  fields: (t) => ({
    name: t.string({ required: true }),
    description: t.string(),
    parameters: t.field({ type: JSONObjectScalar, description: 'A JSON Schema object describing the arguments.' }),
    strict: t.boolean({ description: 'Ask the upstream to follow the schema exactly (structured outputs).' }),
  }),
});

const ToolInput = builder.inputRef<Tool>('ToolInput').implement({
  description: 'A function the model may call.',
  fields: (t) => ({
    function: t.field({ type: FunctionDefinitionInput, required: true }),
  }),
});

const ToolChoiceInput = builder.inputRef<ToolChoice>('ToolChoiceInput').implement({
  description: 'Exactly one of mode or function.',
  isOneOf: true,
  fields: (t) => ({
    mode: t.field({ type: ToolChoiceModeEnum }),
    function: t.string({ description: 'Force a call of the function with this name.' }),
  }),
});

const JsonSchemaFormatInput = builder.inputRef<JsonSchemaFormat>('JsonSchemaFormatInput').implement({
  fields: (t) => ({
    name: t.string({ required: true }),
    schema: t.field({ type: JSONObjectScalar, required: true }),
    strict: t.boolean(),
  }),
});

const ResponseFormatInput = builder.inputRef<ResponseFormat>('ResponseFormatInput').implement({
  fields: (t) => ({
    type: t.field({ type: ResponseFormatTypeEnum, required: true }),
    jsonSchema: t.field({ type: JsonSchemaFormatInput, description: 'Required with JSON_SCHEMA.' }),
  }),
});

export const ChatCompletionInput = builder.inputRef<ChatRequest>('ChatCompletionInput').implement({
  description: "One chat completion request. Fields left out (or null) are not sent upstream, so the upstream's defaults apply.",
  fields: (t) => ({
    model: t.string({ required: true, description: 'A model id from the `models` query.' }),
    messages: t.field({ type: [ChatMessageInput], required: true, description: 'The conversation so far; at least one message.' }),
    temperature: t.float({ description: 'Sampling temperature, 0 to 2.' }),
    topP: t.float({ description: 'Nucleus sampling, 0 to 1.' }),
    maxTokens: t.int({ description: 'Upper bound on generated tokens (legacy name; at least 1).' }),
    maxCompletionTokens: t.int({ description: 'Upper bound on generated tokens, reasoning included (at least 1).' }),
    stop: t.stringList({ description: 'Up to 4 sequences where the upstream stops generating.' }),
    presencePenalty: t.float({ description: '-2 to 2.' }),
    frequencyPenalty: t.float({ description: '-2 to 2.' }),
    seed: t.int({ description: 'Best-effort deterministic sampling.' }),
    user: t.string({ description: "An end-user id, for the upstream's abuse monitoring and per-user budgets." }),
    logprobs: t.boolean({ description: 'Return the log probability of each output token.' }),
    topLogprobs: t.int({ description: 'With logprobs: how many alternatives per token, 0 to 20.' }),
    n: t.int({
      description: 'How many choices to generate, 1 to 8 (choices by `index`); each is an answer of its own, which the limits count.',
    }),
    responseFormat: t.field({ type: ResponseFormatInput }),
    tools: t.field({ type: [ToolInput] }),
    toolChoice: t.field({ type: ToolChoiceInput }),
    parallelToolCalls: t.boolean(),
    reasoningEffort: t.field({ type: ReasoningEffortEnum }),
  }),
});
