/**
 * A conversation as the page keeps it (in IndexedDB, see store.ts) and as the API wants it: every
 * earlier turn is sent again, because chat completions are stateless. No DOM here.
 *
 * A turn is the person's message and the rounds of the assistant's answer: one round, or, when
 * the model calls tools, a round that calls them, their results, and the round that follows up.
 */
import type { Failure } from './failures.js';
import type {
  ChatCompletionInput,
  ChatMessageInput,
  ContentPartInput,
  FinishReason,
  ThinkingBlockInput,
  ToolInput,
} from './gql/graphql.js';
import type { StreamedMessage } from './useChatStream.js';

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

export interface ToolResult {
  callId: string;
  content: string;
  /** `demo`: the page's built-in implementation ran it; `typed`: the person typed it. */
  source: 'demo' | 'typed';
}

export type RoundStatus =
  /** Being written; with `key`, resumable after a reload. */
  | 'streaming'
  | 'done'
  | 'stopped'
  | 'failed'
  /** The page went away mid-answer and the generation was no longer kept. */
  | 'interrupted';

/** One answer of the assistant within a turn. */
export interface Round {
  status: RoundStatus;
  message: StreamedMessage;
  finishReason: FinishReason | null;
  usage: { promptTokens: number; completionTokens: number; totalTokens: number } | null;
  cost: { amount: number; currency: string } | null;
  failure: Failure | null;
  /** When it failed (ms since the epoch): a rate limit's countdown runs from there. */
  failedAt?: number;
  /** The results given back for `message.toolCalls`, by call id. */
  toolResults: ToolResult[];
  /** While streaming: what was sent, the resume key and the last chunk's `seq` (what `message` holds). */
  input?: ChatCompletionInput | null;
  key?: string | null;
  lastSeq?: number;
}

export interface Turn {
  id: string;
  user: UserTurn;
  rounds: Round[];
}

export interface Conversation {
  id: string;
  /** The first words of the first message, until renamed. */
  title: string;
  renamed: boolean;
  createdAt: number;
  updatedAt: number;
  turns: Turn[];
}

export interface Settings {
  model: string;
  system: string;
  temperature: number | null;
  maxTokens: number | null;
  offerWeatherTool: boolean;
}

/** The tool the page can offer, and run (tools.ts), to show the whole tool loop. */
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
 * What the history says a tool returned when it was given no result (the answer was stopped, or
 * the person moved on): the API wants every assistant tool call answered before the conversation
 * goes on.
 */
export const TOOL_NOT_RUN = JSON.stringify({ error: 'The tool was not run.' });

/** Titles are cut to this many characters. */
const TITLE_CHARS = 48;

export function titleOf(user: UserTurn): string {
  const text = user.text.replace(/\s+/g, ' ').trim();
  if (!text) return user.imageUrl ? 'Image' : 'New chat';
  return text.length <= TITLE_CHARS ? text : `${text.slice(0, TITLE_CHARS - 1).trimEnd()}…`;
}

export function newConversation(id: string, now = Date.now()): Conversation {
  return { id, title: 'New chat', renamed: false, createdAt: now, updatedAt: now, turns: [] };
}

export function newRound(): Round {
  return {
    status: 'streaming',
    message: { content: '', reasoning: '', refusal: '', thinkingBlocks: [], toolCalls: [] },
    finishReason: null,
    usage: null,
    cost: null,
    failure: null,
    toolResults: [],
  };
}

export function userMessage(user: UserTurn): ChatMessageInput {
  if (!user.imageUrl) return { user: { content: user.text } };
  const parts: ContentPartInput[] = [];
  if (user.text) parts.push({ text: user.text });
  parts.push({ imageUrl: { url: user.imageUrl } });
  return { user: { parts } };
}

/** The reasoning fields of an answer, exactly as received: only those it had (Anthropic models want them with tool calls). */
function reasoningOf(message: StreamedMessage): { reasoningContent?: string; thinkingBlocks?: ThinkingBlockInput[] } {
  return {
    ...(message.reasoning ? { reasoningContent: message.reasoning } : {}),
    ...(message.thinkingBlocks.length > 0
      ? { thinkingBlocks: message.thinkingBlocks.map(({ type, thinking, signature, data }) => ({ type, thinking, signature, data })) }
      : {}),
  };
}

/** Whether a round goes into the history: it has something, and it was not a failure. */
function counts(round: Round): boolean {
  return round.status !== 'failed' && round.status !== 'streaming' && (round.message.content !== '' || round.message.toolCalls.length > 0);
}

/** A round as history: the assistant's message, then a tool message for each of its calls. */
function roundMessages(round: Round): ChatMessageInput[] {
  const { message } = round;
  if (message.toolCalls.length === 0) return [{ assistant: { content: message.content, ...reasoningOf(message) } }];
  const messages: ChatMessageInput[] = [
    {
      assistant: {
        content: message.content || null,
        toolCalls: message.toolCalls.map((call) => ({ id: call.id, function: { name: call.name, arguments: call.arguments } })),
        ...reasoningOf(message),
      },
    },
  ];
  for (const call of message.toolCalls) {
    const result = round.toolResults.find((candidate) => candidate.callId === call.id);
    messages.push({ tool: { toolCallId: call.id, content: result?.content ?? TOOL_NOT_RUN } });
  }
  return messages;
}

/**
 * The messages for round `roundIndex` of turn `turnIndex`: the system prompt, every earlier turn
 * whole, then this turn's message and its rounds before this one.
 */
export function buildMessages(system: string, turns: readonly Turn[], turnIndex: number, roundIndex: number): ChatMessageInput[] {
  const messages: ChatMessageInput[] = [];
  if (system.trim()) messages.push({ system: { content: system } });
  turns.slice(0, turnIndex + 1).forEach((turn, index) => {
    const rounds = index === turnIndex ? turn.rounds.slice(0, roundIndex) : turn.rounds;
    // A failed turn is no history; one stopped before any text is its question alone.
    if (index !== turnIndex && turn.rounds.length > 0 && turn.rounds.every((round) => round.status === 'failed')) return;
    messages.push(userMessage(turn.user));
    for (const round of rounds) if (counts(round)) messages.push(...roundMessages(round));
  });
  return messages;
}

export function buildInput(settings: Settings, turns: readonly Turn[], turnIndex: number, roundIndex: number): ChatCompletionInput {
  return {
    model: settings.model,
    messages: buildMessages(settings.system, turns, turnIndex, roundIndex),
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

/** Tokens and cost of a whole conversation, where known. */
export function totalsOf(conversation: Conversation): { tokens: number; cost: { amount: number; currency: string } | null } {
  let tokens = 0;
  let amount = 0;
  let currency: string | null = null;
  for (const turn of conversation.turns) {
    for (const round of turn.rounds) {
      tokens += round.usage?.totalTokens ?? 0;
      if (round.cost) {
        amount += round.cost.amount;
        currency = round.cost.currency;
      }
    }
  }
  return { tokens, cost: currency === null ? null : { amount, currency } };
}
