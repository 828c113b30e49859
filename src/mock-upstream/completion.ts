/**
 * One completion, planned once as a list of steps (reasoning words, content words,
 * refusal words, tool-call fragments, the blocks that close a thinking), then rendered
 * either as one `chat.completion` or as `chat.completion.chunk` events. Both renderings
 * read the same plan, so a streamed answer assembled by a client equals the non-streamed one.
 */

import { randomBytes } from 'node:crypto';
import {
  argumentFragments,
  countPromptTokens,
  jsonFragments,
  reasoningText,
  REFUSAL_TEXT,
  replyText,
  sampleArguments,
  tokenize,
  tokenLogprob,
  type TokenLogprob,
} from './reply.js';
import type { ChatRequest, ChatTool } from './request.js';
import { redactedThinkingData, type ThinkingBlock, thinkingSignature } from './thinking.js';

/** The mock's `system_fingerprint`, on every completion and chunk. */
export const SYSTEM_FINGERPRINT = 'fp_chatql_mock';

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

/**
 * One thing the model emits. Opening a tool call and closing a thinking (its signature, its
 * redacted block) carry no text of the model's, so they are not completion tokens; every other kind is one.
 */
export type Step =
  | { readonly kind: 'reasoning'; readonly text: string }
  | { readonly kind: 'content'; readonly text: string; readonly logprob: TokenLogprob | undefined }
  | { readonly kind: 'refusal'; readonly text: string; readonly logprob: TokenLogprob | undefined }
  | { readonly kind: 'tool-start'; readonly index: number; readonly id: string; readonly name: string }
  | { readonly kind: 'tool-args'; readonly index: number; readonly text: string }
  | { readonly kind: 'thinking-signature'; readonly signature: string }
  | { readonly kind: 'redacted-thinking'; readonly data: string };

/** Whether a step counts as a completion token (and towards `max_tokens`). */
function isToken(step: Step): boolean {
  return step.kind !== 'tool-start' && !closesThinking(step);
}

function closesThinking(step: Step): boolean {
  return step.kind === 'thinking-signature' || step.kind === 'redacted-thinking';
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  completion_tokens_details: { reasoning_tokens: number };
}

export interface CompletionPlan {
  readonly id: string;
  readonly created: number;
  readonly model: string;
  /** What the answer is made of; picks the first chunk's delta and the message's null fields. */
  readonly mode: 'content' | 'refusal' | 'tool_calls';
  /** The steps of each choice (`n` of them): the same answer, each with its own tool-call ids. */
  readonly choices: readonly (readonly Step[])[];
  /** Reasoning words also stream as Anthropic `thinking_blocks` fragments (LiteLLM's shape). */
  readonly thinkingBlocks: boolean;
  readonly finishReason: FinishReason;
  readonly usage: Usage;
  readonly logprobs: boolean;
}

/** Ids look like OpenAI's: a prefix and random base-62 characters. */
export function randomId(prefix: string, length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return prefix + Array.from(randomBytes(length), (byte) => alphabet[byte % alphabet.length]).join('');
}

/** The tools a request makes the model call: none, the forced one, the first, or the first two in parallel. */
export function toolsToCall(request: ChatRequest): readonly ChatTool[] {
  const { tools, toolChoice, messages } = request;
  if (tools.length === 0 || toolChoice === 'none' || messages.at(-1)?.role === 'tool') return [];
  if (typeof toolChoice === 'object') return tools.filter((tool) => tool.name === toolChoice.name).slice(0, 1);
  return tools.slice(0, request.parallelToolCalls && tools.length >= 2 ? 2 : 1);
}

/** The answer's content tokens: words of the reply, or of its JSON form in JSON mode. */
function answerTokens(request: ChatRequest): string[] {
  const text = replyText(request.messages);
  const format = request.responseFormat;
  if (format.type === 'json_schema') {
    // A schema with properties gets a value that fits it (streamed in fragments, having no spaces);
    // an empty one gets the plain wrapper.
    const sample = sampleArguments(format.schema, request.messages);
    if (Object.keys(sample).length > 0) return jsonFragments(JSON.stringify(sample));
  }
  return tokenize(format.type === 'text' ? text : JSON.stringify({ reply: text }));
}

/** `chatql-mock-long`'s answer without a bound: this many words, one token each. */
export const LONG_ANSWER_WORDS = 2000;

const LONG_VOCABULARY = [
  'This',
  'answer',
  'goes',
  'on',
  'for',
  'as',
  'long',
  'as',
  'its',
  'bound',
  'allows,',
  'one',
  'token',
  'a',
  'word.',
];

/** `chatql-mock-long`'s words: LONG_ANSWER_WORDS of them, cut short by `max_tokens` like any answer. */
function longAnswerTokens(): string[] {
  return Array.from({ length: LONG_ANSWER_WORDS }, (_, i) => `${i === 0 ? '' : ' '}${LONG_VOCABULARY[i % LONG_VOCABULARY.length]}`);
}

/** How a model answers; every field but `refuses` and `reasons` defaults to off. */
export interface PlanOptions {
  readonly refuses: boolean;
  /** Thinks first, in `reasoning_content`. */
  readonly reasons: boolean;
  /** Thinks like `reasons`, then closes the thinking with a signed block and a redacted one (Anthropic through LiteLLM). */
  readonly thinks?: boolean;
  /** `chatql-mock-long`'s endless answer. */
  readonly long?: boolean;
  /** A fixed answer, said whatever the conversation asks for (no tool calls, no JSON mode). */
  readonly answer?: string;
  /** An output filter cuts the answer after this many tokens, with finish reason `content_filter`. */
  readonly filteredAfter?: number;
}

function untruncatedSteps(request: ChatRequest, options: PlanOptions): Step[] {
  const top = request.logprobs ? request.topLogprobs : 0;
  const logprob = (text: string, i: number) => (request.logprobs ? tokenLogprob(text, i, top) : undefined);
  if (options.long) return longAnswerTokens().map((text, i) => ({ kind: 'content', text, logprob: logprob(text, i) }));
  if (options.answer !== undefined)
    return tokenize(options.answer).map((text, i) => ({ kind: 'content', text, logprob: logprob(text, i) }));
  if (options.refuses) return tokenize(REFUSAL_TEXT).map((text, i) => ({ kind: 'refusal', text, logprob: logprob(text, i) }));
  const tools = toolsToCall(request);
  const thought =
    options.reasons || options.thinks
      ? reasoningText(
          request.messages,
          tools.map((tool) => tool.name),
        )
      : '';
  const steps: Step[] = tokenize(thought).map((text) => ({ kind: 'reasoning', text }));
  if (options.thinks && thought !== '') {
    // Both blocks are digests of the whole thought, so that the mock can check them when they come back.
    steps.push({ kind: 'thinking-signature', signature: thinkingSignature(thought) });
    steps.push({ kind: 'redacted-thinking', data: redactedThinkingData(thought) });
  }
  tools.forEach((tool, index) => {
    steps.push({ kind: 'tool-start', index, id: randomId('call_', 24), name: tool.name });
    for (const text of argumentFragments(tool, request.messages)) steps.push({ kind: 'tool-args', index, text });
  });
  if (tools.length === 0) {
    for (const [i, text] of answerTokens(request).entries()) steps.push({ kind: 'content', text, logprob: logprob(text, i) });
  }
  return steps;
}

/** The same steps with fresh tool-call ids: each choice calls its tools under ids of its own, as OpenAI's do. */
function withFreshToolIds(steps: readonly Step[]): Step[] {
  return steps.map((step) => (step.kind === 'tool-start' ? { ...step, id: randomId('call_', 24) } : step));
}

/**
 * Plans the completion a working model gives, `request.n` times over. `max_tokens` (per choice) cuts
 * it short with finish reason `length`, an output filter (`filteredAfter`) with `content_filter`.
 */
export function planCompletion(request: ChatRequest, options: PlanOptions): CompletionPlan {
  const all = untruncatedSteps(request, options);
  const limit = Math.min(request.maxTokens ?? Number.POSITIVE_INFINITY, options.filteredAfter ?? Number.POSITIVE_INFINITY);
  const steps: Step[] = [];
  let tokens = 0;
  for (const step of all) {
    // A thinking's closing blocks belong to the words before them: kept whenever all those words are.
    if (tokens >= limit && !closesThinking(step)) break;
    steps.push(step);
    if (isToken(step)) tokens += 1;
  }
  const truncated = steps.length < all.length;
  // When both bounds fall at the same place, max_tokens is the one a client asked for.
  const cutReason: FinishReason = limit === request.maxTokens ? 'length' : 'content_filter';
  const mode = options.refuses ? 'refusal' : all.some((step) => step.kind === 'tool-start') ? 'tool_calls' : 'content';
  const promptTokens = countPromptTokens(request.messages);
  // Every choice is the same answer: the prompt is counted once, the completion once per choice.
  const completionTokens = tokens * request.n;
  return {
    id: randomId('chatcmpl-', 29),
    created: Math.floor(Date.now() / 1000),
    model: request.model,
    mode,
    choices: Array.from({ length: request.n }, (_, i) => (i === 0 ? steps : withFreshToolIds(steps))),
    thinkingBlocks: options.thinks === true,
    finishReason: truncated ? cutReason : mode === 'tool_calls' ? 'tool_calls' : 'stop',
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: steps.filter((step) => step.kind === 'reasoning').length * request.n },
    },
    logprobs: request.logprobs,
  };
}

function joined(steps: readonly Step[], kind: 'reasoning' | 'content' | 'refusal'): string {
  return steps.map((step) => (step.kind === kind ? step.text : '')).join('');
}

function logprobList(steps: readonly Step[], kind: 'content' | 'refusal'): TokenLogprob[] {
  return steps.flatMap((step) => (step.kind === kind && step.logprob ? [step.logprob] : []));
}

/** A choice's `thinking_blocks`, assembled from its steps as a client assembles the stream's fragments. */
function thinkingBlocksOf(steps: readonly Step[]): ThinkingBlock[] {
  const thinking = joined(steps, 'reasoning');
  return steps.flatMap((step): ThinkingBlock[] => {
    if (step.kind === 'thinking-signature') return [{ type: 'thinking', thinking, signature: step.signature }];
    if (step.kind === 'redacted-thinking') return [{ type: 'redacted_thinking', data: step.data }];
    return [];
  });
}

/** One choice's message: content, refusal or tool calls by mode, with the reasoning (and thinking blocks) before them. */
function renderMessage(mode: CompletionPlan['mode'], steps: readonly Step[]): object {
  const reasoning = joined(steps, 'reasoning');
  const blocks = thinkingBlocksOf(steps);
  const toolCalls = steps.flatMap((step) =>
    step.kind === 'tool-start'
      ? [{ id: step.id, type: 'function', function: { name: step.name, arguments: toolArguments(steps, step.index) } }]
      : [],
  );
  return {
    role: 'assistant',
    content: mode === 'content' ? joined(steps, 'content') : null,
    ...(reasoning === '' ? {} : { reasoning_content: reasoning }),
    ...(blocks.length > 0 ? { thinking_blocks: blocks } : {}),
    ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
    refusal: mode === 'refusal' ? joined(steps, 'refusal') : null,
    annotations: [],
  };
}

/** The non-streaming `chat.completion` body (OpenAI's shape), one choice per planned choice. */
export function renderCompletion(plan: CompletionPlan, finishReason: FinishReason | null = plan.finishReason): object {
  const { mode } = plan;
  const choices = plan.choices.map((steps, index) => ({
    index,
    message: renderMessage(mode, steps),
    logprobs: plan.logprobs
      ? {
          content: mode === 'content' ? logprobList(steps, 'content') : null,
          refusal: mode === 'refusal' ? logprobList(steps, 'refusal') : null,
        }
      : null,
    finish_reason: finishReason,
  }));
  return {
    id: plan.id,
    object: 'chat.completion',
    created: plan.created,
    model: plan.model,
    choices,
    usage: plan.usage,
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
}

function toolArguments(steps: readonly Step[], index: number): string {
  return steps.map((step) => (step.kind === 'tool-args' && step.index === index ? step.text : '')).join('');
}

/**
 * A stream event: the `token` chunks of choice 0 are paced, the others follow without delay (the
 * choices of one step are generated together, so they leave together).
 */
export interface StreamEvent {
  readonly kind: 'role' | 'token' | 'finish' | 'usage';
  /** The choice a role, token or finish chunk belongs to; 0 for the usage chunk. */
  readonly choice: number;
  readonly data: object;
}

/**
 * The `chat.completion.chunk` events of a stream, without `[DONE]` (OpenAI's shape: content,
 * tool-call and refusal deltas; LiteLLM's thinking-block deltas). With several choices, each chunk
 * carries one: the role chunks first, then each step once per choice, then a finish chunk per choice,
 * then the one usage chunk, which carries `cost` when the model reports it (LiteLLM's
 * `include_cost_in_streaming_usage`).
 */
export function renderChunks(plan: CompletionPlan, includeUsage: boolean, cost?: number): StreamEvent[] {
  const envelope = {
    id: plan.id,
    object: 'chat.completion.chunk',
    created: plan.created,
    model: plan.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
  const chunk = (index: number, delta: object, logprobs: object | null, finishReason: FinishReason | null = null) => ({
    ...envelope,
    choices: [{ index, delta, logprobs, finish_reason: finishReason }],
  });
  // The role-only first chunk differs by mode exactly as OpenAI's recordings do.
  const first: Record<CompletionPlan['mode'], object> = {
    content: { role: 'assistant', content: '', refusal: null },
    refusal: { role: 'assistant', content: null, refusal: '' },
    tool_calls: { role: 'assistant', content: null },
  };
  const firstLogprobs = plan.mode === 'refusal' ? { content: null, refusal: [] } : { content: [], refusal: null };
  const events: StreamEvent[] = plan.choices.map((_, choice) => ({
    kind: 'role',
    choice,
    data: chunk(choice, first[plan.mode], plan.logprobs ? firstLogprobs : null),
  }));
  // Every choice has the same steps; step by step, each choice gets its chunk.
  for (const [i, step] of (plan.choices[0] ?? []).entries()) {
    for (let choice = 0; choice < plan.choices.length; choice += 1) {
      const own = plan.choices[choice]?.[i] ?? step;
      events.push({ kind: 'token', choice, data: chunk(choice, stepDelta(own, plan.thinkingBlocks), stepLogprobs(own, plan.logprobs)) });
    }
  }
  for (let choice = 0; choice < plan.choices.length; choice += 1) {
    events.push({ kind: 'finish', choice, data: chunk(choice, {}, null, plan.finishReason) });
  }
  if (includeUsage) {
    const usage = cost === undefined ? plan.usage : { ...plan.usage, cost };
    events.push({ kind: 'usage', choice: 0, data: { ...envelope, choices: [], usage } });
  }
  return events;
}

/** A step's delta; `thinkingBlocks` adds LiteLLM's one-word thinking block (signature still null) to each reasoning word. */
function stepDelta(step: Step, thinkingBlocks: boolean): object {
  switch (step.kind) {
    case 'reasoning':
      return thinkingBlocks
        ? { reasoning_content: step.text, thinking_blocks: [{ type: 'thinking', thinking: step.text, signature: null }] }
        : { reasoning_content: step.text };
    case 'thinking-signature':
      return { thinking_blocks: [{ type: 'thinking', thinking: '', signature: step.signature }] };
    case 'redacted-thinking':
      return { thinking_blocks: [{ type: 'redacted_thinking', data: step.data }] };
    case 'content':
      return { content: step.text };
    case 'refusal':
      return { refusal: step.text };
    case 'tool-start':
      return {
        tool_calls: [{ index: step.index, id: step.id, type: 'function', function: { name: step.name, arguments: '' } }],
      };
    case 'tool-args':
      return { tool_calls: [{ index: step.index, function: { arguments: step.text } }] };
  }
}

function stepLogprobs(step: Step, wanted: boolean): object | null {
  if (!wanted || !('logprob' in step) || !step.logprob) return null;
  return step.kind === 'refusal' ? { content: null, refusal: [step.logprob] } : { content: [step.logprob], refusal: null };
}
