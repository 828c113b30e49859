/**
 * The output types of chat completions. Their resolvers read the upstream's snake_case objects as
 * they arrived (`src/upstream/wire.ts`), so a streamed chunk reaches the client without being
 * copied into another shape first; missing or null keys from lenient upstreams resolve to null.
 */
import { builder } from '../builder.js';
import type { Cost } from '../pricing/prices.js';
import type {
  WireChoice,
  WireThinkingBlock,
  WireChunk,
  WireChunkChoice,
  WireCompletion,
  WireDelta,
  WireFunctionCall,
  WireLogprobs,
  WireMessage,
  WireTokenLogprob,
  WireToolCall,
  WireToolCallDelta,
  WireTopLogprob,
  WireUsage,
} from '../upstream/wire.js';
import { DateTimeScalar } from './scalars.js';

const FINISH_REASONS = {
  stop: 'STOP',
  length: 'LENGTH',
  tool_calls: 'TOOL_CALLS',
  content_filter: 'CONTENT_FILTER',
  function_call: 'FUNCTION_CALL',
} as const;
type FinishReason = (typeof FINISH_REASONS)[keyof typeof FINISH_REASONS] | 'OTHER';

export const FinishReasonEnum = builder.enumType('FinishReason', {
  description: 'Why the model stopped generating.',
  values: {
    STOP: { description: 'A natural end, or a stop sequence.' },
    LENGTH: { description: 'maxTokens (or the context window) was reached.' },
    TOOL_CALLS: { description: 'The model called tools.' },
    CONTENT_FILTER: { description: "The upstream's content filter removed content." },
    FUNCTION_CALL: { description: 'The legacy function-calling reason.' },
    OTHER: { description: 'Any other value an OpenAI-compatible upstream sends.' },
  } as const,
});

function finishReason(raw: string | null | undefined): FinishReason | null {
  if (raw === null || raw === undefined || raw === '') return null;
  return (FINISH_REASONS as Record<string, FinishReason>)[raw] ?? 'OTHER';
}

const nullable = { nullable: true } as const;

/** Most upstream fields are optional on the wire; this reads one as `T | null`. */
function orNull<T>(value: T | null | undefined): T | null {
  return value ?? null;
}

// ---------- shared pieces ----------

const CostSourceEnum = builder.enumType('CostSource', {
  values: {
    UPSTREAM: { description: 'Reported by the upstream.' },
    PRICE_TABLE: { description: "Computed by ChatQL from the model's prices." },
  } as const,
});

export const CostRef = builder.objectRef<Cost>('Cost').implement({
  description: 'What something cost, in the currency of this deployment (PRICE_CURRENCY).',
  fields: (t) => ({
    amount: t.exposeFloat('amount'),
    currency: t.exposeString('currency', { description: 'An ISO 4217 code, e.g. USD.' }),
    source: t.field({ type: CostSourceEnum, resolve: (cost) => cost.source }),
  }),
});

const UsageRef = builder.objectRef<WireUsage>('Usage').implement({
  description: 'Tokens billed for the completion.',
  fields: (t) => ({
    cost: t.field({
      type: CostRef,
      ...nullable,
      description:
        "What the request cost: the upstream's figure where it reports one (LiteLLM's x-litellm-response-cost, usage.cost), else computed from the model's prices; null when neither is known.",
      resolve: (u) => orNull(u.chatqlCost),
    }),
    promptTokens: t.int({ resolve: (u) => u.prompt_tokens ?? 0 }),
    completionTokens: t.int({ resolve: (u) => u.completion_tokens ?? 0 }),
    totalTokens: t.int({ resolve: (u) => u.total_tokens ?? (u.prompt_tokens ?? 0) + (u.completion_tokens ?? 0) }),
    promptTokensDetails: t.field({
      type: builder.objectRef<NonNullable<WireUsage['prompt_tokens_details']>>('PromptTokensDetails').implement({
        fields: (d) => ({
          cachedTokens: d.int({
            ...nullable,
            description: 'Prompt tokens served from the cache.',
            resolve: (p) => orNull(p.cached_tokens),
          }),
        }),
      }),
      ...nullable,
      resolve: (u) => orNull(u.prompt_tokens_details),
    }),
    completionTokensDetails: t.field({
      type: builder.objectRef<NonNullable<WireUsage['completion_tokens_details']>>('CompletionTokensDetails').implement({
        fields: (d) => ({
          reasoningTokens: d.int({
            ...nullable,
            description: 'Tokens a reasoning model spent thinking.',
            resolve: (c) => orNull(c.reasoning_tokens),
          }),
        }),
      }),
      ...nullable,
      resolve: (u) => orNull(u.completion_tokens_details),
    }),
  }),
});

const TopLogprobRef = builder.objectRef<WireTopLogprob>('TopLogprob').implement({
  fields: (t) => ({
    token: t.exposeString('token'),
    logprob: t.exposeFloat('logprob'),
    bytes: t.intList({
      ...nullable,
      description: "The token's UTF-8 bytes (may be part of a character).",
      resolve: (p) => orNull(p.bytes),
    }),
  }),
});

const TokenLogprobRef = builder.objectRef<WireTokenLogprob>('TokenLogprob').implement({
  fields: (t) => ({
    token: t.exposeString('token'),
    logprob: t.exposeFloat('logprob'),
    bytes: t.intList({ ...nullable, resolve: (p) => orNull(p.bytes) }),
    topLogprobs: t.field({ type: [TopLogprobRef], resolve: (p) => p.top_logprobs ?? [] }),
  }),
});

const ChoiceLogprobsRef = builder.objectRef<WireLogprobs>('ChoiceLogprobs').implement({
  fields: (t) => ({
    content: t.field({ type: [TokenLogprobRef], ...nullable, resolve: (l) => orNull(l.content) }),
  }),
});

// ---------- the whole completion ----------

const FunctionCallRef = builder.objectRef<WireFunctionCall>('FunctionCall').implement({
  fields: (t) => ({
    name: t.string({ resolve: (f) => f.name ?? '' }),
    arguments: t.string({
      description: 'JSON-encoded arguments, exactly as the model produced them (may be invalid JSON).',
      resolve: (f) => f.arguments ?? '',
    }),
  }),
});

const ToolCallRef = builder.objectRef<WireToolCall>('ToolCall').implement({
  description: 'A call the model asks the client to make; answer it with a tool message carrying the same id.',
  fields: (t) => ({
    id: t.id({ resolve: (c) => c.id ?? '' }),
    function: t.field({
      type: FunctionCallRef,
      resolve: (c) => c.function ?? { name: c.custom?.name ?? '', arguments: c.custom?.input ?? '' },
    }),
  }),
});

const ThinkingBlockRef = builder.objectRef<WireThinkingBlock>('ThinkingBlock').implement({
  description:
    "A reasoning model's thinking (Anthropic's, through LiteLLM). Send it back unchanged in AssistantMessageInput.thinkingBlocks: a conversation that mixes thinking and tools is refused upstream without it.",
  fields: (t) => ({
    type: t.exposeString('type', { description: '`thinking`, or `redacted_thinking` (whose content is in `data`).' }),
    thinking: t.string({ ...nullable, resolve: (b) => orNull(b.thinking) }),
    signature: t.string({ ...nullable, description: "The upstream's seal of the block.", resolve: (b) => orNull(b.signature) }),
    data: t.string({ ...nullable, description: "A redacted_thinking block's opaque content.", resolve: (b) => orNull(b.data) }),
  }),
});

/** Blocks without a type are not blocks: dropped rather than answered with a null for a non-null field. */
function thinkingBlocks(blocks: WireThinkingBlock[] | null | undefined): WireThinkingBlock[] | null {
  return Array.isArray(blocks) ? blocks.filter((block) => typeof block?.type === 'string') : null;
}

const AssistantMessageRef = builder.objectRef<WireMessage>('AssistantMessage').implement({
  fields: (t) => ({
    content: t.string({ ...nullable, resolve: (m) => orNull(m.content) }),
    refusal: t.string({ ...nullable, description: 'Why the model declined, instead of content.', resolve: (m) => orNull(m.refusal) }),
    reasoningContent: t.string({
      ...nullable,
      description: 'The reasoning text that reasoning models stream before their answer, where the upstream sends it.',
      resolve: (m) => m.reasoning_content ?? m.reasoning ?? null,
    }),
    thinkingBlocks: t.field({
      type: [ThinkingBlockRef],
      ...nullable,
      description: 'Thinking blocks, where the upstream sends them; send them back with this message in the history.',
      resolve: (m) => thinkingBlocks(m.thinking_blocks),
    }),
    toolCalls: t.field({ type: [ToolCallRef], resolve: (m) => m.tool_calls ?? [] }),
  }),
});

const ChatChoiceRef = builder.objectRef<WireChoice>('ChatChoice').implement({
  fields: (t) => ({
    index: t.int({ resolve: (c) => c.index ?? 0 }),
    message: t.field({ type: AssistantMessageRef, resolve: (c) => c.message ?? {} }),
    finishReason: t.field({ type: FinishReasonEnum, ...nullable, resolve: (c) => finishReason(c.finish_reason) }),
    logprobs: t.field({ type: ChoiceLogprobsRef, ...nullable, resolve: (c) => orNull(c.logprobs) }),
  }),
});

export const ChatCompletionRef = builder.objectRef<WireCompletion>('ChatCompletion').implement({
  description: 'A finished chat completion: the answer of the mutation, and the terminal event of a stream.',
  fields: (t) => ({
    id: t.id({ resolve: (c) => c.id }),
    model: t.exposeString('model'),
    created: t.field({
      type: DateTimeScalar,
      resolve: (c) => (typeof c.created === 'number' ? new Date(c.created * 1000) : new Date()),
    }),
    choices: t.field({ type: [ChatChoiceRef], resolve: (c) => c.choices }),
    usage: t.field({ type: UsageRef, ...nullable, resolve: (c) => orNull(c.usage) }),
    systemFingerprint: t.string({ ...nullable, resolve: (c) => orNull(c.system_fingerprint) }),
    upstreamRequestId: t.string({
      ...nullable,
      description: "The upstream's id of the request (LiteLLM's x-litellm-call-id, or x-request-id): quote it in a bug report.",
      resolve: (c) => orNull(c.upstreamRequestId),
    }),
  }),
});

// ---------- stream chunks ----------

const FunctionCallDeltaRef = builder.objectRef<WireFunctionCall>('FunctionCallDelta').implement({
  fields: (t) => ({
    name: t.string({ ...nullable, description: "Only in a call's first fragment.", resolve: (f) => orNull(f.name) }),
    arguments: t.string({ ...nullable, description: 'The next piece of the JSON arguments.', resolve: (f) => orNull(f.arguments) }),
  }),
});

const ToolCallDeltaRef = builder.objectRef<WireToolCallDelta>('ToolCallDelta').implement({
  description: 'A fragment of a tool call; fragments with the same index make one call.',
  fields: (t) => ({
    index: t.int({ resolve: (c) => c.index ?? 0 }),
    id: t.id({ ...nullable, description: "Only in a call's first fragment.", resolve: (c) => orNull(c.id) }),
    function: t.field({ type: FunctionCallDeltaRef, ...nullable, resolve: (c) => orNull(c.function) }),
  }),
});

const EMPTY_DELTA: WireDelta = {};

const ChatDeltaRef = builder.objectRef<WireDelta>('ChatDelta').implement({
  description: 'What one chunk adds to a choice.',
  fields: (t) => ({
    content: t.string({ ...nullable, resolve: (d) => orNull(d.content) }),
    refusal: t.string({ ...nullable, resolve: (d) => orNull(d.refusal) }),
    reasoningContent: t.string({ ...nullable, resolve: (d) => d.reasoning_content ?? d.reasoning ?? null }),
    thinkingBlocks: t.field({
      type: [ThinkingBlockRef],
      ...nullable,
      description:
        'Fragments of thinking blocks: a fragment adds to the last block while it has the same type and no signature yet. The final ChatCompletion has them assembled.',
      resolve: (d) => thinkingBlocks(d.thinking_blocks),
    }),
    toolCalls: t.field({ type: [ToolCallDeltaRef], ...nullable, resolve: (d) => orNull(d.tool_calls) }),
  }),
});

const ChatChunkChoiceRef = builder.objectRef<WireChunkChoice>('ChatChunkChoice').implement({
  fields: (t) => ({
    index: t.int({ resolve: (c) => c.index ?? 0 }),
    delta: t.field({ type: ChatDeltaRef, resolve: (c) => c.delta ?? EMPTY_DELTA }),
    finishReason: t.field({ type: FinishReasonEnum, ...nullable, resolve: (c) => finishReason(c.finish_reason) }),
    logprobs: t.field({ type: ChoiceLogprobsRef, ...nullable, resolve: (c) => orNull(c.logprobs) }),
  }),
});

export const ChatCompletionChunkRef = builder.objectRef<WireChunk>('ChatCompletionChunk').implement({
  description: 'One streamed piece of a completion, sent on the moment the upstream sends it.',
  fields: (t) => ({
    id: t.id({ description: 'The same for every chunk of one completion.', resolve: (c) => c.id ?? '' }),
    seq: t.int({ description: "1, 2, 3... in the order of the generation's chunks.", resolve: (c) => c.seq ?? 0 }),
    model: t.string({ resolve: (c) => c.model ?? '' }),
    choices: t.field({ type: [ChatChunkChoiceRef], resolve: (c) => c.choices ?? [] }),
    usage: t.field({
      type: UsageRef,
      ...nullable,
      description: "Set only on the last chunk, whose choices are empty (the upstream's include_usage chunk).",
      resolve: (c) => orNull(c.usage),
    }),
  }),
});
