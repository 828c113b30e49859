/**
 * Builds the whole ChatCompletion from a stream's chunks, as the stream's terminal event: text,
 * reasoning and refusal concatenated, tool-call fragments assembled by index, logprobs joined, the
 * finish reason and the usage chunk kept. Per chunk it only appends; the joins happen once, at the end.
 */
import type { WireChunk, WireCompletion, WireThinkingBlock, WireTokenLogprob, WireToolCall } from '../upstream/wire.js';

interface ToolCallState {
  id: string;
  type: string;
  name: string;
  arguments: string[];
}

interface ThinkingBlockState {
  type: string;
  thinking: string[] | null;
  signature: string | null;
  data: string[] | null;
}

interface ChoiceState {
  content: string[] | null;
  refusal: string[] | null;
  reasoning: string[] | null;
  toolCalls: ToolCallState[];
  thinkingBlocks: ThinkingBlockState[] | null;
  logprobs: WireTokenLogprob[] | null;
  finishReason: string | null;
}

function newChoice(): ChoiceState {
  return { content: null, refusal: null, reasoning: null, toolCalls: [], thinkingBlocks: null, logprobs: null, finishReason: null };
}

/**
 * Adds a streamed thinking-block fragment: it goes on the last block while that block has the
 * same type and no signature yet (a signature closes a block); otherwise it starts a new block.
 */
function addThinking(state: ChoiceState, fragment: WireThinkingBlock): void {
  const blocks = (state.thinkingBlocks ??= []);
  let block = blocks.at(-1);
  if (!block || block.type !== fragment.type || block.signature !== null) {
    block = { type: fragment.type, thinking: null, signature: null, data: null };
    blocks.push(block);
  }
  block.thinking = append(block.thinking, fragment.thinking);
  block.data = append(block.data, fragment.data);
  if (typeof fragment.signature === 'string' && fragment.signature !== '') block.signature = fragment.signature;
}

function finishThinking(blocks: ThinkingBlockState[] | null): WireThinkingBlock[] | null {
  if (blocks === null) return null;
  return blocks.map((block) => {
    const out: WireThinkingBlock = { type: block.type };
    if (block.thinking !== null) out.thinking = block.thinking.join('');
    if (block.signature !== null) out.signature = block.signature;
    if (block.data !== null) out.data = block.data.join('');
    return out;
  });
}

function append(parts: string[] | null, value: string | null | undefined): string[] | null {
  if (typeof value !== 'string') return parts;
  if (parts === null) return [value];
  parts.push(value);
  return parts;
}

export type AccumulateResult = { ok: true; completion: WireCompletion } | { ok: false; reason: 'no-choices' | 'no-finish-reason' };

export class ChunkAccumulator {
  private id = '';
  private model = '';
  private created: number | null = null;
  private systemFingerprint: string | null = null;
  /** The usage chunk's figures, once it has come. */
  usage: WireCompletion['usage'] = null;
  private readonly choices: ChoiceState[] = [];
  /** Chunks added so far. */
  count = 0;

  add(chunk: WireChunk): void {
    this.count++;
    // Some upstreams (Azure's content-filter chunk) send empty envelopes: keep the first real values.
    if (!this.id && chunk.id) this.id = chunk.id;
    if (!this.model && chunk.model) this.model = chunk.model;
    if (this.created === null && typeof chunk.created === 'number' && chunk.created > 0) this.created = chunk.created;
    if (chunk.system_fingerprint) this.systemFingerprint = chunk.system_fingerprint;
    if (chunk.usage) this.usage = chunk.usage;
    const choices = chunk.choices;
    if (!Array.isArray(choices)) return;
    for (const choice of choices) {
      const index = choice.index ?? 0;
      const state = (this.choices[index] ??= newChoice());
      const delta = choice.delta;
      if (delta) {
        state.content = append(state.content, delta.content);
        state.refusal = append(state.refusal, delta.refusal);
        state.reasoning = append(state.reasoning, delta.reasoning_content ?? delta.reasoning);
        if (delta.thinking_blocks) for (const fragment of delta.thinking_blocks) if (fragment?.type) addThinking(state, fragment);
        if (delta.tool_calls) {
          for (const fragment of delta.tool_calls) {
            const slot = fragment.index ?? 0;
            const call = (state.toolCalls[slot] ??= { id: '', type: 'function', name: '', arguments: [] });
            // id, type and name come with a call's first fragment; some servers repeat them later.
            if (fragment.id && !call.id) call.id = fragment.id;
            if (fragment.type) call.type = fragment.type;
            const fn = fragment.function ?? null;
            if (fn?.name && !call.name) call.name = fn.name;
            if (typeof fn?.arguments === 'string') call.arguments.push(fn.arguments);
            const custom = fragment.custom ?? null;
            if (custom?.name && !call.name) call.name = custom.name;
            if (typeof custom?.input === 'string') call.arguments.push(custom.input);
          }
        }
      }
      const content = choice.logprobs?.content;
      if (content && content.length > 0) {
        if (state.logprobs === null) state.logprobs = [...content];
        else for (const entry of content) state.logprobs.push(entry);
      }
      if (choice.finish_reason) state.finishReason = choice.finish_reason;
    }
  }

  /** The completion the chunks add up to, or why there is none: a stream cut before it finished. */
  finish(): AccumulateResult {
    if (this.choices.length === 0) return { ok: false, reason: 'no-choices' };
    const choices: WireCompletion['choices'] = [];
    for (const [index, state] of this.choices.entries()) {
      // A choice index the upstream skipped over is a hole in the array: there is nothing to finish there.
      if (!state) continue;
      if (!state.finishReason) return { ok: false, reason: 'no-finish-reason' };
      const toolCalls: WireToolCall[] = [];
      for (const call of state.toolCalls) {
        if (call) toolCalls.push({ id: call.id, type: call.type, function: { name: call.name, arguments: call.arguments.join('') } });
      }
      choices.push({
        index,
        message: {
          role: 'assistant',
          content: state.content?.join('') ?? null,
          refusal: state.refusal?.join('') ?? null,
          reasoning_content: state.reasoning?.join('') ?? null,
          thinking_blocks: finishThinking(state.thinkingBlocks),
          tool_calls: toolCalls,
        },
        finish_reason: state.finishReason,
        logprobs: state.logprobs ? { content: state.logprobs } : null,
      });
    }
    return {
      ok: true,
      completion: {
        id: this.id,
        object: 'chat.completion',
        created: this.created,
        model: this.model,
        choices,
        usage: this.usage,
        system_fingerprint: this.systemFingerprint,
      },
    };
  }
}
