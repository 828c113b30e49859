/**
 * Tool calls whose upstream id is empty (`""`, as Gemini's OpenAI-compatible endpoint sends) get
 * a generated id, so that a frontend can answer them with a tool message. The id is made once per
 * call and kept: the stream's delta, its final completion and a resumed replay all carry the same.
 */
import { randomBytes } from 'node:crypto';

import type { WireChunk, WireCompletion } from '../upstream/wire.js';

export class ToolCallIds {
  /** One per answer: ids stay unique across the conversation's answers. */
  private readonly prefix = `call_${randomBytes(9).toString('base64url')}`;
  /** `choice:index` of the calls already given an id (streams only). */
  private named: Set<string> | null = null;

  private idFor(choice: number, index: number): string {
    return `${this.prefix}_${choice}_${index}`;
  }

  /**
   * Fills the empty ids of a chunk's tool-call fragments, in place: the first fragment of a call
   * gets the generated id, a later empty one none (ids come with a call's first fragment only).
   */
  fixChunk(chunk: WireChunk): void {
    const choices = chunk.choices;
    if (!Array.isArray(choices)) return;
    for (const choice of choices) {
      const calls = choice.delta?.tool_calls;
      if (!calls) continue;
      for (const call of calls) {
        if (call.id !== '') continue;
        const key = `${choice.index ?? 0}:${call.index ?? 0}`;
        this.named ??= new Set();
        if (this.named.has(key)) {
          call.id = null;
        } else {
          this.named.add(key);
          call.id = this.idFor(choice.index ?? 0, call.index ?? 0);
        }
      }
    }
  }

  /** Fills the empty ids of a completion's tool calls, in place. */
  fixCompletion(completion: WireCompletion): void {
    for (const choice of completion.choices) {
      const calls = choice.message?.tool_calls;
      if (!calls) continue;
      for (const [index, call] of calls.entries()) {
        if (!call.id) call.id = this.idFor(choice.index ?? 0, index);
      }
    }
  }
}
