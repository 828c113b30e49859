/**
 * The mock upstream's model catalogue. The model name picks the behaviour, so a
 * test (or a person in GraphiQL) reaches any failure mode through the public API
 * alone, without configuring the mock. Exported so that the README table and the
 * GraphiQL examples are generated from one source.
 */

import { type MockPrice, mockCost, type TokenCounts } from './cost.js';
import { HOSTILE_ANSWER, MARKDOWN_ANSWER } from './demo-answers.js';
import { errorEnvelope, INVALID_API_KEY, type MockHttpError, modelNotFound } from './errors.js';

/** What a mock model does with a chat completion request. */
export const MOCK_BEHAVIOUR = {
  /** Answers with a deterministic reply, or calls a tool when tools are offered. */
  reply: 'reply',
  /** Streams `reasoning_content` before answering like `reply`. */
  reasoning: 'reasoning',
  /**
   * Thinks like `reasoning`, with Anthropic's `thinking_blocks` besides (`thinking.ts`), and refuses
   * tool results handed back without the blocks of the turn that called the tools.
   */
  thinking: 'thinking',
  /** Refuses: `content: null`, the text in `refusal`, finish reason `stop`. */
  refusal: 'refusal',
  /** Answers with a fixed HTTP error before any stream starts. */
  httpError: 'http-error',
  /** Accepts the request and never sends headers. */
  hang: 'hang',
  /** Streams a few words, then destroys the socket (non-streaming: destroys it at once). */
  break: 'break',
  /** Streams every word, then `[DONE]` without a finish chunk; non-streaming: `finish_reason: null`. */
  noFinish: 'no-finish',
  /** Streams a few words, then an in-band error event and `[DONE]`; non-streaming: the error as HTTP. */
  streamError: 'stream-error',
  /** Sends headers and a few words, then nothing more, with the socket left open. */
  stall: 'stall',
  /** Sends headers, then nothing at all (not one chunk), with the socket left open. */
  headersOnly: 'headers-only',
  /** Waits `SLOW_HEADERS_MS` before its headers, then answers like `reply`. */
  slowHeaders: 'slow-headers',
  /** Streams a few words, then a chunk that is not valid JSON and `[DONE]`; non-streaming: a truncated JSON body. */
  malformed: 'malformed',
  /** Answers with one content chunk of `HUGE_CHUNK_BYTES` (`hugeChunkText()`), then finishes normally. */
  hugeChunk: 'huge-chunk',
  /** Streams a few words, then ends the response cleanly: no finish chunk, no usage, no `[DONE]`. */
  noDone: 'no-done',
  /** A fixed answer of the server's `bench` size, rendered once per server, for benchmarks. */
  bench: 'bench',
  /** As many words as the request's `max_tokens` allows, one token a word; `LONG_ANSWER_WORDS` without a bound. */
  long: 'long',
  /**
   * Answers with the model's own fixed `answer`, streamed word by word whatever the conversation
   * (no tool calls, no JSON mode), cut short by `max_tokens` like any answer.
   */
  fixed: 'fixed',
  /** Answers a few words, then an output filter stops it: finish reason `content_filter`. */
  contentFilter: 'content-filter',
} as const;

export type MockBehaviour = (typeof MOCK_BEHAVIOUR)[keyof typeof MOCK_BEHAVIOUR];

interface MockModelBase {
  readonly id: string;
  /** One line, for the README and GraphiQL examples. */
  readonly description: string;
  /**
   * `false`: a test-only model, served (chat completions, `GET /v1/models/{id}`) but left out of
   * `GET /v1/models`, so that a chat page's model picker offers what a person would try. Listed by default.
   */
  readonly listed?: false;
  /** What the model costs, listed in `GET /model/info`; unpriced models are left out of it. */
  readonly price?: MockPrice;
  /**
   * `false`: priced, but the answers do not say what they cost, so that a client must compute it
   * from the price. A priced model reports its cost by default (see `costReported`).
   */
  readonly reportsCost?: false;
}

export type MockModel =
  | (MockModelBase & {
      readonly behaviour: Exclude<MockBehaviour, 'http-error' | 'stream-error' | 'fixed'>;
    })
  | (MockModelBase & {
      readonly behaviour: 'fixed';
      /** The whole answer; tokens are its words, each with the whitespace before it. */
      readonly answer: string;
    })
  | (MockModelBase & { readonly behaviour: 'http-error'; readonly error: MockHttpError })
  | (MockModelBase & {
      readonly behaviour: 'stream-error';
      /** The payload of the in-band `data:` event that replaces the rest of the stream. */
      readonly event: object;
      /** What a non-streaming request gets instead. */
      readonly error: MockHttpError;
    });

// LiteLLM's in-band stream error (litellm#9171 shape: string code, the string "None" as type).
const LITELLM_STREAM_ERROR = errorEnvelope('litellm.RateLimitError: Rate limit reached, please retry', 'None', null, '429');

// Azure OpenAI's prompt filter: the envelope plus `status` and `innererror` with the verdict per category.
const AZURE_PROMPT_FILTERED = {
  error: {
    message:
      "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry.",
    type: null,
    param: 'prompt',
    code: 'content_filter',
    status: 400,
    innererror: {
      code: 'ResponsibleAIPolicyViolation',
      content_filter_result: {
        hate: { filtered: false, severity: 'safe' },
        self_harm: { filtered: false, severity: 'safe' },
        sexual: { filtered: false, severity: 'safe' },
        violence: { filtered: true, severity: 'medium' },
      },
    },
  },
};

// vLLM before v0.10.1: a flat body with `object: "error"` and the HTTP status as an integer code (vllm#12886).
const VLLM_FLAT_ERROR = {
  object: 'error',
  message:
    "This model's maximum context length is 2048 tokens. However, you requested 2100 tokens (2000 in the messages, 100 in the completion). Please reduce the length of the messages or completion.",
  type: 'BadRequestError',
  param: null,
  code: 400,
};

/** How long `fail-slow-headers` waits before its headers. */
export const SLOW_HEADERS_MS = 2000;

/** The size of `fail-huge-chunk`'s one content chunk: far beyond any network read or SSE buffer. */
export const HUGE_CHUNK_BYTES = 4 * 1024 * 1024;

let hugeText: string | undefined;

/** `fail-huge-chunk`'s content: numbered 16-character blocks, so that a client can check it whole and in order. */
export function hugeChunkText(): string {
  hugeText ??= Array.from({ length: HUGE_CHUNK_BYTES / 16 }, (_, i) => `${i.toString(16).padStart(8, '0')}:chatql;`).join('');
  return hugeText;
}

/** The default working model: the one `npm start` uses when no upstream is configured. */
export const DEFAULT_MOCK_MODEL = 'chatql-mock';

/** The benchmark's model (see `bench.ts`). */
export const BENCH_MOCK_MODEL = 'chatql-mock-bench';

/** The default model's prices (gpt-4o-mini's), per million tokens. */
const MINI_PRICE: MockPrice = { input: 0.15, output: 0.6, cachedInput: 0.075 };

/**
 * Every model the mock serves, working models first, in the order `GET /v1/models` lists them
 * (those marked `listed: false` left out).
 */
export const MOCK_MODELS: readonly MockModel[] = [
  {
    id: DEFAULT_MOCK_MODEL,
    description:
      'Quotes your last message back, streamed word by word; calls a tool when tools are offered, with arguments built from its JSON schema.',
    behaviour: 'reply',
    price: MINI_PRICE,
  },
  {
    id: 'chatql-mock-reasoning',
    description: 'Like chatql-mock, but thinks first in `reasoning_content` (usage counts reasoning tokens); priced, but reports no cost.',
    behaviour: 'reasoning',
    price: { input: 1.1, output: 4.4 },
    reportsCost: false,
  },
  {
    id: 'chatql-mock-thinking',
    description:
      'Anthropic through LiteLLM: thinks like chatql-mock-reasoning, with signed `thinking_blocks`, which it requires back with tool results.',
    behaviour: 'thinking',
    price: { input: 3, output: 15, cachedInput: 0.3 },
  },
  {
    id: 'chatql-mock-refusal',
    description: 'Refuses: `content` stays null and the text streams in `refusal`; finish reason `stop`.',
    behaviour: 'refusal',
    price: { input: 0.15, output: 0.6 },
  },
  {
    id: 'chatql-mock-markdown',
    description:
      'Answers with a fixed markdown document of about 2,000 words (headings, lists, a task list, a table, code blocks), streamed word by word.',
    behaviour: 'fixed',
    answer: MARKDOWN_ANSWER,
    price: MINI_PRICE,
  },
  {
    id: 'chatql-mock-hostile',
    description:
      'Answers with hostile markup (raw HTML with event handlers, a script, a javascript: link, a remote image, an iframe, a style) to render inert.',
    behaviour: 'fixed',
    answer: HOSTILE_ANSWER,
  },
  {
    id: 'chatql-mock-long',
    description:
      'Answers with as many words as `max_tokens` (or `max_completion_tokens`) allows, one token a word (finish reason `length`); 2,000 words without a bound.',
    behaviour: 'long',
    listed: false,
    price: { input: 0.15, output: 0.6 },
  },
  {
    id: BENCH_MOCK_MODEL,
    description:
      "A fixed answer for benchmarks: `chunkCount` content chunks of `chunkBytes` characters (the server's `bench` option), paced like the others.",
    behaviour: 'bench',
    listed: false,
  },
  {
    id: 'fail-400',
    description: 'HTTP 400 `context_length_exceeded` (param `messages`).',
    behaviour: 'http-error',
    error: {
      status: 400,
      body: errorEnvelope(
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 8227 tokens. Please reduce the length of the messages.",
        'invalid_request_error',
        'messages',
        'context_length_exceeded',
      ),
    },
  },
  {
    id: 'fail-guardrail',
    description: "HTTP 400 from LiteLLM's guardrail: `error.message` is an object (policy, guardrail, what it detected), not a string.",
    behaviour: 'http-error',
    error: {
      status: 400,
      body: {
        error: {
          message: { error: 'Violated guardrail policy', guardrail: 'chatql-mock-pii', detected: ['email'] },
          type: 'None',
          param: 'None',
          code: '400',
        },
      },
    },
  },
  {
    id: 'fail-content-filter-prompt',
    description: "HTTP 400 `content_filter` (param `prompt`): Azure OpenAI's prompt filter, with its `innererror` verdicts.",
    behaviour: 'http-error',
    error: { status: 400, body: AZURE_PROMPT_FILTERED },
  },
  {
    id: 'fail-401',
    description: 'HTTP 401 `invalid_api_key`.',
    behaviour: 'http-error',
    error: INVALID_API_KEY,
  },
  {
    id: 'fail-403',
    description: "HTTP 403 `permission_error`: the model is not in the key's allowlist (LiteLLM).",
    behaviour: 'http-error',
    error: {
      status: 403,
      body: errorEnvelope(
        "Authentication Error, API Key not allowed to access model. This key can only access models=['chatql-mock']. Tried to access fail-403",
        'permission_error',
        null,
        '403',
      ),
    },
  },
  {
    id: 'fail-404',
    description: 'HTTP 404 `model_not_found`.',
    behaviour: 'http-error',
    error: modelNotFound('fail-404'),
  },
  {
    id: 'fail-429',
    description: 'HTTP 429 `rate_limit_exceeded` with `retry-after: 30` and `retry-after-ms: 30000`.',
    behaviour: 'http-error',
    error: {
      status: 429,
      headers: { 'retry-after': '30', 'retry-after-ms': '30000' },
      body: errorEnvelope(
        'Rate limit reached for fail-429 on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 30s.',
        'requests',
        null,
        'rate_limit_exceeded',
      ),
    },
  },
  {
    id: 'fail-429-tokens',
    description:
      "HTTP 429 `rate_limit_exceeded` on tokens per minute (type `tokens`), with `retry-after: 20` and OpenAI's x-ratelimit-* headers.",
    behaviour: 'http-error',
    listed: false,
    error: {
      status: 429,
      headers: {
        'retry-after': '20',
        'x-ratelimit-limit-tokens': '30000',
        'x-ratelimit-remaining-tokens': '0',
        'x-ratelimit-remaining-requests': '499',
      },
      body: errorEnvelope(
        'Rate limit reached for fail-429-tokens on tokens per min (TPM): Limit 30000, Used 30000, Requested 120. Please try again in 20s.',
        'tokens',
        null,
        'rate_limit_exceeded',
      ),
    },
  },
  {
    id: 'fail-429-requests',
    description:
      "HTTP 429 from LiteLLM's own limiter: no typed field, only `x-ratelimit-remaining-requests: 0` says which limit; `retry-after: 5`.",
    behaviour: 'http-error',
    listed: false,
    error: {
      status: 429,
      headers: { 'retry-after': '5', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-remaining-tokens': '10000' },
      body: errorEnvelope(
        'Rate limit exceeded for api_key: sk-...1234. Limit type: requests. Current limit: 10, Remaining: 0.',
        'None',
        'None',
        '429',
      ),
    },
  },
  {
    id: 'fail-budget',
    description: 'HTTP 429 `budget_exceeded` (LiteLLM 2026), no retry-after: retrying will not help.',
    behaviour: 'http-error',
    error: {
      status: 429,
      body: errorEnvelope('Budget has been exceeded! Current cost: 2.51, Max budget: 2.5', 'budget_exceeded', null, '429'),
    },
  },
  {
    id: 'fail-500',
    description: 'HTTP 500 `server_error`.',
    behaviour: 'http-error',
    error: {
      status: 500,
      body: errorEnvelope('The server had an error while processing your request.', 'server_error', null, null),
    },
  },
  {
    id: 'fail-hang',
    description: 'Accepts the request and never answers, not even headers.',
    behaviour: 'hang',
  },
  {
    id: 'fail-break',
    description: 'Streams a few words, then drops the connection (non-streaming: drops it without answering).',
    behaviour: 'break',
  },
  {
    id: 'fail-no-finish',
    description: 'Streams every word, then `[DONE]` with no finish chunk and no usage (non-streaming: `finish_reason: null`).',
    behaviour: 'no-finish',
  },
  {
    id: 'fail-content-filter',
    description:
      'Streams a few words, then the output filter stops it: finish reason `content_filter`, usage, `[DONE]` (non-streaming: the same partial answer).',
    behaviour: 'content-filter',
  },
  {
    id: 'fail-stream-error',
    description: 'Streams a few words, then LiteLLM\'s in-band `data: {"error": ...}` (code "429") and `[DONE]` (non-streaming: HTTP 429).',
    behaviour: 'stream-error',
    event: LITELLM_STREAM_ERROR,
    error: { status: 429, body: LITELLM_STREAM_ERROR },
  },
  {
    id: 'fail-vllm-error',
    description:
      'Streams a few words, then vLLM\'s older flat `data: {"object":"error", ...}` and `[DONE]` (non-streaming: HTTP 400, same flat body).',
    behaviour: 'stream-error',
    event: VLLM_FLAT_ERROR,
    error: { status: 400, body: VLLM_FLAT_ERROR },
  },
  {
    id: 'fail-stall',
    description: 'Sends headers and a few words, then falls silent with the connection open.',
    behaviour: 'stall',
  },
  {
    id: 'fail-headers-only',
    description: 'Sends HTTP 200 headers, then nothing at all (not one chunk), with the connection open.',
    behaviour: 'headers-only',
  },
  {
    id: 'fail-slow-headers',
    description: `Waits ${SLOW_HEADERS_MS / 1000} s before sending its headers, then answers like chatql-mock.`,
    behaviour: 'slow-headers',
  },
  {
    id: 'fail-malformed',
    description: 'Streams a few words, then a chunk that is not valid JSON, and `[DONE]` (non-streaming: a truncated JSON body).',
    behaviour: 'malformed',
  },
  {
    id: 'fail-huge-chunk',
    description: `Answers in one content chunk of ${HUGE_CHUNK_BYTES / 1024 / 1024} MiB, then finishes normally (non-streaming: the same content).`,
    behaviour: 'huge-chunk',
    listed: false,
  },
  {
    id: 'fail-no-done',
    description:
      'Streams a few words, then ends the response cleanly with no finish chunk, no usage and no `[DONE]` (non-streaming: answers normally).',
    behaviour: 'no-done',
  },
];

/** The catalogue entry for a model id, listed or not, or undefined. */
export function findMockModel(id: string): MockModel | undefined {
  return MOCK_MODELS.find((model) => model.id === id);
}

/** The models `GET /v1/models` lists: the catalogue without its test-only (`listed: false`) models, in order. */
export const LISTED_MOCK_MODELS: readonly MockModel[] = MOCK_MODELS.filter((model) => model.listed !== false);

/** The models with a price, listed or not, in catalogue order: what `GET /model/info` describes. */
export const PRICED_MOCK_MODELS: readonly (MockModel & { readonly price: MockPrice })[] = MOCK_MODELS.filter(
  (model): model is MockModel & { readonly price: MockPrice } => model.price !== undefined,
);

/** What an answer of `model` with this usage says it cost; undefined when the model is unpriced or keeps its cost to itself. */
export function costReported(model: MockModel, usage: TokenCounts): number | undefined {
  return model.price === undefined || model.reportsCost === false ? undefined : mockCost(model.price, usage);
}
