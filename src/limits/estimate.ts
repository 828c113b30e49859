/**
 * A token estimate of a request's prompt before it is sent, for the token limits: the reservation
 * made from it is settled with the upstream's real usage when the answer ends, so it only needs to
 * be of the right size, and cheap. About four characters of English text make a token; an image
 * costs at most what a high-detail image costs OpenAI (765 tokens), whatever the size of its data: URI.
 */
import type { ChatRequest } from '../chat/types.js';

const CHARS_PER_TOKEN = 4;
/** Role markers and separators that every message adds. */
const TOKENS_PER_MESSAGE = 4;
const TOKENS_PER_NON_TEXT_PART = 765;

function textTokens(text: string | null | undefined): number {
  return text ? Math.ceil(text.length / CHARS_PER_TOKEN) : 0;
}

/** Prompt tokens, estimated from the messages and the tool definitions. */
export function estimatePromptTokens(input: ChatRequest): number {
  let tokens = 0;
  for (const message of input.messages) {
    tokens += TOKENS_PER_MESSAGE;
    const role = message.system ?? message.developer ?? message.tool;
    if (role) {
      tokens += textTokens(role.content);
      continue;
    }
    if (message.user) {
      tokens += textTokens(message.user.content);
      for (const part of message.user.parts ?? []) {
        tokens += typeof part.text === 'string' ? textTokens(part.text) : TOKENS_PER_NON_TEXT_PART;
      }
      continue;
    }
    if (message.assistant) {
      tokens += textTokens(message.assistant.content);
      for (const call of message.assistant.toolCalls ?? []) tokens += textTokens(call.function.arguments) + TOKENS_PER_MESSAGE;
    }
  }
  for (const tool of input.tools ?? []) {
    tokens += textTokens(tool.function.name) + textTokens(tool.function.description);
    if (tool.function.parameters) tokens += textTokens(JSON.stringify(tool.function.parameters));
  }
  return tokens;
}
