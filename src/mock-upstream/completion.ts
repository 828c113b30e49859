/**
 * One completion, planned once as a list of steps (reasoning words, content words,
 * refusal words, tool-call fragments), then rendered either as one
 * `chat.completion` or as `chat.completion.chunk` events. Both renderings read the
 * same plan, so a streamed answer assembled by a client equals the non-streamed one.
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

/** The mock's `system_fingerprint`, on every completion and chunk. */
export const SYSTEM_FINGERPRINT = 'fp_chatql_mock';

export type FinishReason = 'stop' | 'length' | 'tool_calls';

/** One thing the model emits; every kind but `tool-start` is one completion token. */
export type Step =
  | { readonly kind: 'reasoning'; readonly text: string }
  | { readonly kind: 'content'; readonly text: string; readonly logprob: TokenLogprob | undefined }
  | { readonly kind: 'refusal'; readonly text: string; readonly logprob: TokenLogprob | undefined }
  | { readonly kind: 'tool-start'; readonly index: number; readonly id: string; readonly name: string }
  | { readonly kind: 'tool-args'; readonly index: number; readonly text: string };

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
  readonly steps: readonly Step[];
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
    const sample = sampleArguments(format.schema);
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

function untruncatedSteps(request: ChatRequest, refuses: boolean, reasons: boolean, long = false): Step[] {
  const top = request.logprobs ? request.topLogprobs : 0;
  const logprob = (text: string, i: number) => (request.logprobs ? tokenLogprob(text, i, top) : undefined);
  if (long) return longAnswerTokens().map((text, i) => ({ kind: 'content', text, logprob: logprob(text, i) }));
  if (refuses) return tokenize(REFUSAL_TEXT).map((text, i) => ({ kind: 'refusal', text, logprob: logprob(text, i) }));
  const tools = toolsToCall(request);
  const steps: Step[] = reasons
    ? tokenize(
        reasoningText(
          request.messages,
          tools.map((tool) => tool.name),
        ),
      ).map((text) => ({ kind: 'reasoning', text }))
    : [];
  tools.forEach((tool, index) => {
    steps.push({ kind: 'tool-start', index, id: randomId('call_', 24), name: tool.name });
    for (const text of argumentFragments(tool)) steps.push({ kind: 'tool-args', index, text });
  });
  if (tools.length === 0) {
    for (const [i, text] of answerTokens(request).entries()) steps.push({ kind: 'content', text, logprob: logprob(text, i) });
  }
  return steps;
}

/** Plans the completion a working model gives; `max_tokens` cuts it short with finish reason `length`. */
export function planCompletion(request: ChatRequest, options: { refuses: boolean; reasons: boolean; long?: boolean }): CompletionPlan {
  const all = untruncatedSteps(request, options.refuses, options.reasons, options.long);
  const limit = request.maxTokens ?? Number.POSITIVE_INFINITY;
  const steps: Step[] = [];
  let tokens = 0;
  for (const step of all) {
    if (tokens >= limit) break;
    steps.push(step);
    if (step.kind !== 'tool-start') tokens += 1;
  }
  const truncated = steps.length < all.length;
  const mode = options.refuses ? 'refusal' : all.some((step) => step.kind === 'tool-start') ? 'tool_calls' : 'content';
  const promptTokens = countPromptTokens(request.messages);
  return {
    id: randomId('chatcmpl-', 29),
    created: Math.floor(Date.now() / 1000),
    model: request.model,
    mode,
    steps,
    finishReason: truncated ? 'length' : mode === 'tool_calls' ? 'tool_calls' : 'stop',
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: tokens,
      total_tokens: promptTokens + tokens,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: steps.filter((step) => step.kind === 'reasoning').length },
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

/** The non-streaming `chat.completion` body (OpenAI's shape). */
export function renderCompletion(plan: CompletionPlan, finishReason: FinishReason | null = plan.finishReason): object {
  const { steps, mode } = plan;
  const reasoning = joined(steps, 'reasoning');
  const toolCalls = steps.flatMap((step) =>
    step.kind === 'tool-start'
      ? [{ id: step.id, type: 'function', function: { name: step.name, arguments: toolArguments(steps, step.index) } }]
      : [],
  );
  const message = {
    role: 'assistant',
    content: mode === 'content' ? joined(steps, 'content') : null,
    ...(reasoning === '' ? {} : { reasoning_content: reasoning }),
    ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
    refusal: mode === 'refusal' ? joined(steps, 'refusal') : null,
    annotations: [],
  };
  const logprobs = plan.logprobs
    ? {
        content: mode === 'content' ? logprobList(steps, 'content') : null,
        refusal: mode === 'refusal' ? logprobList(steps, 'refusal') : null,
      }
    : null;
  return {
    id: plan.id,
    object: 'chat.completion',
    created: plan.created,
    model: plan.model,
    choices: [{ index: 0, message, logprobs, finish_reason: finishReason }],
    usage: plan.usage,
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
}

function toolArguments(steps: readonly Step[], index: number): string {
  return steps.map((step) => (step.kind === 'tool-args' && step.index === index ? step.text : '')).join('');
}

/** A stream event: `token` chunks are paced, the others follow without delay. */
export interface StreamEvent {
  readonly kind: 'role' | 'token' | 'finish' | 'usage';
  readonly data: object;
}

/** The `chat.completion.chunk` events of a stream, without `[DONE]` (OpenAI's shape: content, tool-call and refusal deltas). */
export function renderChunks(plan: CompletionPlan, includeUsage: boolean): StreamEvent[] {
  const envelope = {
    id: plan.id,
    object: 'chat.completion.chunk',
    created: plan.created,
    model: plan.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
  const chunk = (delta: object, logprobs: object | null, finishReason: FinishReason | null = null) => ({
    ...envelope,
    choices: [{ index: 0, delta, logprobs, finish_reason: finishReason }],
  });
  // The role-only first chunk differs by mode exactly as OpenAI's recordings do.
  const first: Record<CompletionPlan['mode'], object> = {
    content: { role: 'assistant', content: '', refusal: null },
    refusal: { role: 'assistant', content: null, refusal: '' },
    tool_calls: { role: 'assistant', content: null },
  };
  const firstLogprobs = plan.mode === 'refusal' ? { content: null, refusal: [] } : { content: [], refusal: null };
  const events: StreamEvent[] = [{ kind: 'role', data: chunk(first[plan.mode], plan.logprobs ? firstLogprobs : null) }];
  for (const step of plan.steps) {
    events.push({ kind: 'token', data: chunk(stepDelta(step), stepLogprobs(step, plan.logprobs)) });
  }
  events.push({ kind: 'finish', data: chunk({}, null, plan.finishReason) });
  if (includeUsage) events.push({ kind: 'usage', data: { ...envelope, choices: [], usage: plan.usage } });
  return events;
}

function stepDelta(step: Step): object {
  switch (step.kind) {
    case 'reasoning':
      return { reasoning_content: step.text };
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
