/**
 * The conversation as the API wants it: every earlier turn is sent again, as a user message and
 * the assistant's answer, because chat completions are stateless. No DOM here.
 */
import type { ChatCompletionInput, ChatMessageInput, ContentPartInput, ThinkingBlockInput, ToolInput } from './gql/graphql.js';

export interface UserTurn {
  text: string;
  /** A `data:` URI, sent as an image content part. */
  imageUrl?: string | undefined;
}

export interface ToolCallRecord {
  id: string;
  name: string;
  /** JSON, exactly as the model produced it. */
  arguments: string;
}

/** A turn that may be sent again as history: finished, or stopped with what had arrived. */
export interface PastTurn {
  user: UserTurn;
  answer: string;
  toolCalls: readonly ToolCallRecord[];
  /** The answer's reasoning and thinking blocks, sent back exactly as received (Anthropic models want them with tool calls). */
  reasoningContent?: string | null;
  thinkingBlocks?: readonly ThinkingBlockInput[] | null;
}

/** The reasoning fields of an assistant message in the history: only those the answer had. */
function reasoningOf(turn: PastTurn): { reasoningContent?: string; thinkingBlocks?: ThinkingBlockInput[] } {
  return {
    ...(turn.reasoningContent ? { reasoningContent: turn.reasoningContent } : {}),
    ...(turn.thinkingBlocks && turn.thinkingBlocks.length > 0 ? { thinkingBlocks: [...turn.thinkingBlocks] } : {}),
  };
}

export interface Settings {
  model: string;
  system: string;
  temperature: number | null;
  maxTokens: number | null;
  offerWeatherTool: boolean;
}

/** The tool the page can offer, to show what a tool call looks like. */
export const WEATHER_TOOL: ToolInput = {
  function: {
    name: 'get_weather',
    description: 'The current weather in a city.',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', description: 'A city name, e.g. Paris' } },
      required: ['city'],
    },
  },
};

/**
 * What the history says a tool returned. The page shows tool calls but runs no tools; the API
 * wants every assistant tool call answered by a tool message before the conversation goes on.
 */
export const TOOL_NOT_RUN = JSON.stringify({ error: 'This chat page shows tool calls but does not run tools.' });

export function userMessage(user: UserTurn): ChatMessageInput {
  if (!user.imageUrl) return { user: { content: user.text } };
  const parts: ContentPartInput[] = [];
  if (user.text) parts.push({ text: user.text });
  parts.push({ imageUrl: { url: user.imageUrl } });
  return { user: { parts } };
}

export function buildMessages(system: string, history: readonly PastTurn[], next: UserTurn): ChatMessageInput[] {
  const messages: ChatMessageInput[] = [];
  if (system.trim()) messages.push({ system: { content: system } });
  for (const turn of history) {
    messages.push(userMessage(turn.user));
    if (turn.toolCalls.length > 0) {
      messages.push({
        assistant: {
          content: turn.answer || null,
          toolCalls: turn.toolCalls.map((call) => ({ id: call.id, function: { name: call.name, arguments: call.arguments } })),
          ...reasoningOf(turn),
        },
      });
      for (const call of turn.toolCalls) messages.push({ tool: { toolCallId: call.id, content: TOOL_NOT_RUN } });
    } else if (turn.answer) {
      messages.push({ assistant: { content: turn.answer, ...reasoningOf(turn) } });
    }
  }
  messages.push(userMessage(next));
  return messages;
}

export function buildInput(settings: Settings, history: readonly PastTurn[], next: UserTurn): ChatCompletionInput {
  return {
    model: settings.model,
    messages: buildMessages(settings.system, history, next),
    // Left out (null) means "the upstream's default": nothing is sent upstream for it.
    temperature: settings.temperature,
    maxTokens: settings.maxTokens,
    ...(settings.offerWeatherTool ? { tools: [WEATHER_TOOL] } : {}),
  };
}

/** Arguments as indented JSON where they parse, as sent where they do not (models can emit invalid JSON). */
export function prettyArguments(json: string): string {
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}
