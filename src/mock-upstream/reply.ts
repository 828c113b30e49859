/**
 * Pure, deterministic pieces of a mock completion: the reply text, the "thinking"
 * text, tool-call arguments sampled from a JSON schema (a place taken from the user's
 * words), token counts and logprobs. Same input, same output: tests and benchmarks can
 * rely on every word.
 */

import { isRecord, type ChatMessage, type ChatTool } from './request.js';

export const REFUSAL_TEXT = "I'm sorry, but I can't help with that.";

/** Long prompts are quoted up to this many words, so a reply never takes minutes to stream. */
const MAX_QUOTED_WORDS = 60;

/** OpenAI bills a low-detail image at 85 tokens; any fixed number keeps counts deterministic. */
const TOKENS_PER_IMAGE = 85;

/** Chat formatting overhead OpenAI adds per message. */
const TOKENS_PER_MESSAGE = 3;

const REPLY_BODY = [
  "This reply comes from ChatQL's embedded mock upstream, streamed word by word so that you can watch it arrive.",
  'Each word travels in its own chunk, a short pause after the one before, the way a real model streams its tokens.',
  'The same message always gets the same answer, so tests and benchmarks can count on every word.',
  'Other mock models show the rest: chatql-mock-reasoning thinks before it answers, chatql-mock-refusal declines,',
  'and each fail-* model shows how ChatQL reports one kind of upstream failure.',
  'Configure a real OpenAI-compatible upstream to talk to an actual model.',
].join(' ');

/**
 * Splits text into tokens the way tokenizers do for words: each token carries its
 * leading whitespace, so joining the tokens gives the text back exactly.
 */
export function tokenize(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}

/** The text of a message's content (a string or content parts) and how many images it holds. */
export function readContent(content: unknown): { text: string; images: number } {
  if (typeof content === 'string') return { text: content, images: 0 };
  if (!Array.isArray(content)) return { text: '', images: 0 };
  const texts: string[] = [];
  let images = 0;
  for (const part of content) {
    if (!isRecord(part)) continue;
    if (part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
    if (part.type === 'image_url') images += 1;
  }
  return { text: texts.join(' '), images };
}

/** The tool results the conversation ends with (a parallel call leaves several), oldest first. */
export function trailingToolResults(messages: readonly ChatMessage[]): string[] {
  const results: string[] = [];
  for (let i = messages.length - 1; i >= 0 && messages[i]?.role === 'tool'; i -= 1) {
    results.unshift(readContent(messages[i]?.content).text);
  }
  return results;
}

function lastUserMessage(messages: readonly ChatMessage[]): ChatMessage | undefined {
  return messages.findLast((message) => message.role === 'user');
}

function quote(text: string): string {
  const words = tokenize(text.trim());
  return words.length > MAX_QUOTED_WORDS ? `${words.slice(0, MAX_QUOTED_WORDS).join('')} …` : words.join('');
}

/** The answer to a conversation: quotes the tool results it ends with, or else the last user message. */
export function replyText(messages: readonly ChatMessage[]): string {
  const toolResults = trailingToolResults(messages);
  if (toolResults.length === 1) return `The tool returned: ${quote(toolResults[0] ?? '')}`;
  if (toolResults.length > 1) return `The ${toolResults.length} tools returned: ${toolResults.map(quote).join('; ')}`;
  const user = lastUserMessage(messages);
  if (!user) return `You sent no user message. ${REPLY_BODY}`;
  const { text, images } = readContent(user.content);
  const attached = images === 0 ? '' : ` (with ${images} ${images === 1 ? 'image' : 'images'})`;
  return `You said: "${quote(text)}"${attached}. ${REPLY_BODY}`;
}

/** What the reasoning model "thinks" before it acts. */
export function reasoningText(messages: readonly ChatMessage[], toolNames: readonly string[]): string {
  if (toolNames.length > 0) {
    return `The request needs ${toolNames.join(' and ')}. I will call ${toolNames.length === 1 ? 'it' : 'them'} with arguments that match the schema.`;
  }
  if (trailingToolResults(messages).length > 0) return 'The tool has answered. I will quote its result back.';
  const words = tokenize(readContent(lastUserMessage(messages)?.content).text).length;
  return `The user wrote ${words} ${words === 1 ? 'word' : 'words'}. I will quote them back and say that a mock, not a real model, is answering.`;
}

/** A deterministic prompt size: words of every message, plus per-message and per-image overheads. */
export function countPromptTokens(messages: readonly ChatMessage[]): number {
  let tokens = 0;
  for (const message of messages) {
    const { text, images } = readContent(message.content);
    tokens += TOKENS_PER_MESSAGE + tokenize(text).length + images * TOKENS_PER_IMAGE;
    if (Array.isArray(message.tool_calls)) tokens += tokenize(JSON.stringify(message.tool_calls)).length;
  }
  return tokens;
}

// ---------------------------------------------------------------------------
// Tool-call arguments from a JSON schema

/** Nesting deeper than this (recursive `$ref`s) samples as null rather than looping. */
const MAX_SCHEMA_DEPTH = 8;

/** Generated JSON is streamed in fragments of this many characters, splitting it anywhere as OpenAI does. */
const JSON_FRAGMENT_CHARS = 6;

const PLACE_NAME = /city|location|place|town|destination/i;

/** The place a place-like property gets when the last user message names none. */
export const DEFAULT_PLACE = 'Paris';

/** The words a place follows: "weather in Rome", "a forecast for New York", "at Lyon". */
const PLACE_MARKER = /(?<![\p{L}\p{N}])(?:in|for|at)\s+/giu;

/** Punctuation ends a place name: "in Rome, please" is Rome. */
const PLACE_END = /[.,;:!?()[\]{}"“”«»]/u;

/** A word of a place name: letters (accents and combining marks too), apostrophes and hyphens. */
const PLACE_WORD = /^\p{L}[\p{L}\p{M}'’-]*$/u;

/** Place names longer than this are a sentence the rule misread, not a city. */
const MAX_PLACE_WORDS = 4;

/**
 * Words that end a place name or show that no place follows: prepositions and times ("in Rome on
 * Monday at noon" is Rome), politeness and conjunctions ("in Lyon and Paris" is Lyon), articles,
 * pronouns and idioms ("for me", "in the", "at least", "for example" name none).
 */
const NOT_PLACE_WORDS = new Set(
  [
    'in for at on to from by with near',
    'today tomorrow tonight now noon midnight night morning afternoon evening',
    'please right and or',
    'the a an this that these those next my our your me us you it them',
    'least all example general short',
  ]
    .join(' ')
    .split(' '),
);

/** Particles that stay lower case inside a name, as in "Rio de Janeiro" or "Frankfurt am Main". */
const NAME_PARTICLES = new Set(['de', 'da', 'do', 'dos', 'das', 'del', 'la', 'le', 'du', 'von', 'van', 'am']);

/** The place name that starts `text`, words capitalised, or undefined when no place word starts it. */
function placeAtStart(text: string): string | undefined {
  const phrase = text.split(PLACE_END, 1)[0] ?? '';
  const words: string[] = [];
  for (const word of phrase.split(/\s+/).filter(Boolean)) {
    if (words.length === MAX_PLACE_WORDS || !PLACE_WORD.test(word) || NOT_PLACE_WORDS.has(word.toLowerCase())) break;
    words.push(words.length > 0 && NAME_PARTICLES.has(word.toLowerCase()) ? word.toLowerCase() : capitalise(word));
  }
  return words.length === 0 ? undefined : words.join(' ');
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/**
 * The place a text names: the words after the last "in", "for" or "at" that is followed by one,
 * up to punctuation, a word of `NOT_PLACE_WORDS` or `MAX_PLACE_WORDS` words, each capitalised.
 * "What is the weather in Rome?" names Rome, "weather for new york" New York, "Weather in São Paulo
 * today" São Paulo; "Hello" and "Can you check for me?" name none.
 */
export function placeNamedIn(text: string): string | undefined {
  const starts = [...text.matchAll(PLACE_MARKER)].map((match) => match.index + match[0].length);
  for (const start of starts.reverse()) {
    const place = placeAtStart(text.slice(start));
    if (place !== undefined) return place;
  }
  return undefined;
}

const FORMAT_SAMPLES: Readonly<Record<string, string>> = {
  date: '2025-01-01',
  'date-time': '2025-01-01T00:00:00Z',
  time: '12:00:00',
  email: 'ada@example.com',
  uri: 'https://example.com',
  uuid: '00000000-0000-4000-8000-000000000000',
};

/** What sampling a schema needs besides the schema: its root (for `$ref`s) and the place the user named. */
interface Sampling {
  readonly root: unknown;
  readonly place: string;
}

function sampleString(schema: Record<string, unknown>, name: string | undefined, sampling: Sampling): string {
  const format = typeof schema.format === 'string' ? FORMAT_SAMPLES[schema.format] : undefined;
  if (format !== undefined) return format;
  if (name !== undefined && PLACE_NAME.test(name)) return sampling.place;
  if (name !== undefined && /country/i.test(name)) return 'France';
  return name ?? 'text';
}

function sampleNumber(schema: Record<string, unknown>): number {
  if (typeof schema.minimum === 'number' && schema.minimum > 1) return schema.minimum;
  if (typeof schema.maximum === 'number' && schema.maximum < 1) return schema.maximum;
  return 1;
}

/** Resolves a local `$ref` such as `#/$defs/Address` (what Zod and Pydantic emit). */
function resolveRef(ref: string, root: unknown): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/').filter(Boolean)) {
    const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    node = isRecord(node) ? node[key] : undefined;
  }
  return node;
}

function firstType(type: unknown): unknown {
  return Array.isArray(type) ? (type.find((t) => t !== 'null') ?? type[0]) : type;
}

function sampleValue(schema: unknown, sampling: Sampling, name: string | undefined, depth: number): unknown {
  if (depth > MAX_SCHEMA_DEPTH) return null;
  if (!isRecord(schema)) return sampleString({}, name, sampling);
  if (typeof schema.$ref === 'string') return sampleValue(resolveRef(schema.$ref, sampling.root), sampling, name, depth + 1);
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  const alternatives = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : undefined;
  if (alternatives && alternatives.length > 0) {
    const chosen = alternatives.find((alt) => !(isRecord(alt) && alt.type === 'null')) ?? alternatives[0];
    return sampleValue(chosen, sampling, name, depth + 1);
  }
  if (Array.isArray(schema.allOf)) {
    return Object.assign({}, ...schema.allOf.map((part) => sampleValue(part, sampling, name, depth + 1)).filter(isRecord));
  }
  const type = firstType(schema.type) ?? (isRecord(schema.properties) ? 'object' : 'items' in schema ? 'array' : 'string');
  switch (type) {
    case 'object':
      return sampleObject(schema, sampling, depth);
    case 'array':
      return Array.isArray(schema.prefixItems)
        ? schema.prefixItems.map((item) => sampleValue(item, sampling, name, depth + 1))
        : [sampleValue(schema.items, sampling, name, depth + 1)];
    case 'number':
    case 'integer':
      return sampleNumber(schema);
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return sampleString(schema, name, sampling);
  }
}

function sampleObject(schema: Record<string, unknown>, sampling: Sampling, depth: number): Record<string, unknown> {
  const properties = isRecord(schema.properties) ? schema.properties : {};
  const required = Array.isArray(schema.required) ? schema.required.filter((key) => typeof key === 'string') : [];
  const result: Record<string, unknown> = {};
  // Declared properties in their order, then any required one the schema forgot to declare.
  for (const key of [...Object.keys(properties), ...required]) {
    if (!(key in result)) result[key] = sampleValue(properties[key], sampling, key, depth + 1);
  }
  return result;
}

/**
 * A JSON object that fits a tool's `parameters` schema; `{}` when there is no schema. A place-like
 * string property (city, location, …) gets the place the last user message of `messages` names
 * (see `placeNamedIn`), `DEFAULT_PLACE` when it names none.
 */
export function sampleArguments(parameters: unknown, messages: readonly ChatMessage[] = []): Record<string, unknown> {
  if (!isRecord(parameters)) return {};
  const place = placeNamedIn(readContent(lastUserMessage(messages)?.content).text) ?? DEFAULT_PLACE;
  const value = sampleValue(parameters, { root: parameters, place }, undefined, 0);
  return isRecord(value) ? value : {};
}

/** Splits JSON without spaces into stream fragments (whole code points) whose concatenation is the whole. */
export function jsonFragments(json: string): string[] {
  const chars = Array.from(json);
  const fragments: string[] = [];
  for (let i = 0; i < chars.length; i += JSON_FRAGMENT_CHARS) {
    fragments.push(chars.slice(i, i + JSON_FRAGMENT_CHARS).join(''));
  }
  return fragments;
}

/** The arguments JSON of a tool call answering `messages`, in stream fragments. */
export function argumentFragments(tool: ChatTool, messages: readonly ChatMessage[] = []): string[] {
  return jsonFragments(JSON.stringify(sampleArguments(tool.parameters, messages)));
}

// ---------------------------------------------------------------------------
// Logprobs

export interface TopLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

export interface TokenLogprob extends TopLogprob {
  top_logprobs: TopLogprob[];
}

/** Plausible runner-up tokens for `top_logprobs`. */
const ALTERNATIVES = [
  ' the',
  ' a',
  ' and',
  ' to',
  ',',
  '.',
  ' of',
  ' in',
  ' is',
  ' it',
  ' that',
  ' for',
  ' you',
  ' with',
  ' on',
  ' as',
  ' this',
  ' be',
  ' at',
  ' or',
  ' by',
];

/** FNV-1a: a stable hash, so that a token's logprob is the same on every run. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function entry(token: string, logprob: number): TopLogprob {
  return { token, logprob: Number(logprob.toPrecision(8)), bytes: [...Buffer.from(token, 'utf8')] };
}

/** A deterministic logprob for the token at `position`, with `top` alternatives (the first is the token itself). */
export function tokenLogprob(token: string, position: number, top: number): TokenLogprob {
  const h = hash(`${position}:${token}`);
  // Always below zero and above -1.5: a confident but not certain model.
  const logprob = -((h % 999_999) + 1) / 666_666;
  const chosen = entry(token, logprob);
  const runnersUp = ALTERNATIVES.filter((alt) => alt !== token);
  const tops = [chosen];
  for (let k = 1; k < top; k += 1) {
    tops.push(entry(runnersUp[(h + k) % runnersUp.length] ?? ' ', logprob - 1.5 * k));
  }
  return { ...chosen, top_logprobs: top > 0 ? tops : [] };
}
