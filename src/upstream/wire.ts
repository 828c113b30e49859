/**
 * What OpenAI-compatible upstreams send, typed loosely on purpose: the SDK's types describe
 * OpenAI's own API, while LiteLLM, vLLM and Ollama omit keys, send nulls, or add their own fields
 * (`reasoning_content`, `reasoning`, `object: "error"`).
 * GraphQL resolvers read these shapes directly, so no chunk is copied on its way to the client.
 */
import type { Cost } from '../pricing/cost.js';

export interface WireFunctionCall {
  name?: string | null;
  arguments?: string | null;
}

export interface WireToolCall {
  id?: string | null;
  type?: string | null;
  function?: WireFunctionCall | null;
  /** Custom (non-function) tools, which ChatQL never requests but some upstreams may send. */
  custom?: { name?: string | null; input?: string | null } | null;
}

export interface WireToolCallDelta extends WireToolCall {
  index?: number | null;
}

export interface WireTopLogprob {
  token: string;
  logprob: number;
  bytes?: number[] | null;
}

export interface WireTokenLogprob extends WireTopLogprob {
  top_logprobs?: WireTopLogprob[] | null;
}

export interface WireLogprobs {
  content?: WireTokenLogprob[] | null;
  refusal?: WireTokenLogprob[] | null;
}

export interface WireMessage {
  role?: string | null;
  content?: string | null;
  refusal?: string | null;
  /** LiteLLM, DeepSeek. */
  reasoning_content?: string | null;
  /** vLLM, Ollama. */
  reasoning?: string | null;
  /** LiteLLM, for Anthropic-style models; streamed in fragments in deltas. */
  thinking_blocks?: WireThinkingBlock[] | null;
  tool_calls?: WireToolCall[] | null;
}

/** `{type: "thinking", thinking, signature}`, or `{type: "redacted_thinking", data}`. */
export interface WireThinkingBlock {
  type: string;
  thinking?: string | null;
  signature?: string | null;
  data?: string | null;
}

export interface WireUsage {
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  total_tokens?: number | null;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
  completion_tokens_details?: { reasoning_tokens?: number | null } | null;
  /** ChatQL's own: what the answer cost (the upstream's figure, or the price table's). */
  chatqlCost?: Cost | null;
}

export interface WireChoice {
  index?: number | null;
  message?: WireMessage | null;
  finish_reason?: string | null;
  logprobs?: WireLogprobs | null;
}

export interface WireCompletion {
  id: string;
  object?: string;
  created?: number | null;
  model: string;
  choices: WireChoice[];
  usage?: WireUsage | null;
  system_fingerprint?: string | null;
  /** ChatQL's own: the upstream's id of the request (`x-litellm-call-id` or `x-request-id`). */
  upstreamRequestId?: string | null;
}

export interface WireDelta extends Omit<WireMessage, 'tool_calls'> {
  tool_calls?: WireToolCallDelta[] | null;
}

export interface WireChunkChoice {
  index?: number | null;
  delta?: WireDelta | null;
  finish_reason?: string | null;
  logprobs?: WireLogprobs | null;
}

export interface WireChunk {
  id: string;
  object?: string;
  created?: number | null;
  model: string;
  choices: WireChunkChoice[];
  usage?: WireUsage | null;
  system_fingerprint?: string | null;
  /** ChatQL's own: 1, 2, 3... in the order of the stream's chunks (set as each is relayed). */
  seq?: number;
}

export interface WireModel {
  id: string;
  object?: string;
  created?: number | null;
  owned_by?: string | null;
}

/** An error object as upstreams put it in bodies and streams: OpenAI's envelope, or vLLM's flat form. */
export interface WireError {
  message?: string | null;
  type?: string | null;
  param?: string | null;
  code?: string | number | null;
}
