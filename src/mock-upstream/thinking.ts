/**
 * Anthropic's extended thinking as a LiteLLM proxy relays it (`chatql-mock-thinking`): the answer
 * carries `thinking_blocks`, a signed thinking block and a redacted one, and Anthropic refuses a
 * conversation that hands tool results back without the blocks of the turn that called the tools.
 * The signature and the redacted data are digests of the thinking text, so the mock can check
 * what comes back without remembering anything it said.
 */

import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { errorEnvelope, type MockHttpError } from './errors.js';
import { type ChatMessage, isRecord } from './request.js';

/** A block of `thinking_blocks`, as LiteLLM passes Anthropic's through. */
export type ThinkingBlock =
  | { readonly type: 'thinking'; readonly thinking: string; readonly signature: string }
  | { readonly type: 'redacted_thinking'; readonly data: string };

/** base64 of a SHA-256; the label keeps the signature and the redacted data of one text apart. */
function digest(label: string, text: string): string {
  return createHash('sha256').update(`${label}\n${text}`).digest('base64');
}

/** The signature of a thinking text ("Eq…", like Anthropic's): any other text gets another one. */
export function thinkingSignature(thinking: string): string {
  return `Eq${digest('signature', thinking)}`;
}

/** The opaque `data` of the redacted block that follows a thinking text. */
export function redactedThinkingData(thinking: string): string {
  return `EmwK${digest('redacted', thinking)}`;
}

/** The blocks a turn that thought `thinking` carries, in order: the signed thinking, then the redacted block. */
export function thinkingBlocksFor(thinking: string): ThinkingBlock[] {
  return [
    { type: 'thinking', thinking, signature: thinkingSignature(thinking) },
    { type: 'redacted_thinking', data: redactedThinkingData(thinking) },
  ];
}

/** True when `blocks` are exactly what the model produced: same blocks, same order, same fields, a signature that fits the text. */
export function genuineThinkingBlocks(blocks: unknown): boolean {
  const first: unknown = Array.isArray(blocks) ? blocks[0] : undefined;
  if (!isRecord(first) || typeof first.thinking !== 'string') return false;
  return isDeepStrictEqual(blocks, thinkingBlocksFor(first.thinking));
}

/**
 * The index of the first assistant message whose tool calls were answered (tool messages follow it)
 * but whose `thinking_blocks` are missing or altered; undefined when every such turn carries its own.
 * Every answered turn is checked, not only the last one Anthropic looks at: a client that keeps
 * the blocks of one turn keeps them all.
 */
export function unsignedToolTurn(messages: readonly ChatMessage[]): number | undefined {
  const index = messages.findIndex(
    (message, i) =>
      message.role === 'assistant' &&
      Array.isArray(message.tool_calls) &&
      message.tool_calls.length > 0 &&
      messages[i + 1]?.role === 'tool' &&
      !genuineThinkingBlocks(message.thinking_blocks),
  );
  return index === -1 ? undefined : index;
}

/** LiteLLM's 400 wrapping Anthropic's refusal of a tool turn without its thinking; `index` is the message's place in the request. */
export function thinkingBlocksRequired(index: number): MockHttpError {
  const anthropic = {
    type: 'error',
    error: {
      type: 'invalid_request_error',
      // Anthropic's own wording, typo included, so that a client's matching is tested on the real text.
      message: `messages.${index}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`tool_use\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks).`,
    },
  };
  return {
    status: 400,
    body: errorEnvelope(`litellm.BadRequestError: AnthropicException - ${JSON.stringify(anthropic)}`, 'invalid_request_error', null, '400'),
  };
}
