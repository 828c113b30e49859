/**
 * The two sides of every comparison. Direct: the openai SDK against the mock. ChatQL: the same
 * answer through the service, as a mutation over fetch (the HTTP stack the SDK itself uses), and
 * as a subscription over graphql-ws and over SSE. Every stream is recorded the same way, so that
 * the phases compare like with like.
 */
import type { FormattedExecutionResult } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import OpenAI from 'openai';
import { WebSocket } from 'ws';

import { benchChunkText, type BenchShape } from '../../src/mock-upstream/bench.js';
import { BENCH_MOCK_MODEL } from '../../src/mock-upstream/models.js';

export const MODEL = BENCH_MOCK_MODEL;

/** The fields a chat frontend reads: the text, how it ended, what it cost. */
export const MUTATION_DOCUMENT = /* GraphQL */ `
  mutation Ask($input: ChatCompletionInput!) {
    chatCompletion(input: $input) {
      __typename
      ... on ChatCompletion { id choices { message { content } finishReason } usage { promptTokens completionTokens totalTokens } }
      ... on Error { message retryable }
    }
  }
`;

export const STREAM_DOCUMENT = /* GraphQL */ `
  subscription Stream($input: ChatCompletionInput!) {
    chatCompletionStream(input: $input) {
      __typename
      ... on ChatCompletionChunk { choices { delta { content } finishReason } usage { promptTokens completionTokens totalTokens } }
      ... on ChatCompletion { id choices { finishReason } usage { promptTokens completionTokens totalTokens } }
      ... on Error { message retryable }
    }
  }
`;

/** The same stream with `resume`: each chunk's `seq` too. */
export const RESUMABLE_STREAM_DOCUMENT = /* GraphQL */ `
  subscription ResumableStream($input: ChatCompletionInput!, $resume: StreamResumeInput) {
    chatCompletionStream(input: $input, resume: $resume) {
      __typename
      ... on ChatCompletionChunk { seq choices { delta { content } finishReason } usage { promptTokens completionTokens totalTokens } }
      ... on ChatCompletion { id choices { finishReason } usage { promptTokens completionTokens totalTokens } }
      ... on Error { message retryable }
    }
  }
`;

export const chatqlInput = (content: string) => ({ input: { model: MODEL, messages: [{ user: { content } }] } });

export function sdkClient(baseURL: string): OpenAI {
  return new OpenAI({ baseURL, apiKey: 'bench', maxRetries: 0 });
}

/** One stream as a client saw it; times are `performance.now()` in this process. */
export interface StreamRecord {
  startedAt: number;
  lastEventAt: number;
  endedAt: number | null;
  firstContentAt: number | null;
  /** Arrival time of each content delta (kept only where gaps are measured). */
  contentTimes: number[] | null;
  contents: string[];
  usageChunks: number;
  finishReason: string | null;
  /** The stream ended as it should: the SDK's iterator finished / ChatQL's terminal ChatCompletion. */
  completed: boolean;
  error: string | null;
  /** Set by a stall watcher. */
  stalled: boolean;
}

export function newRecord(keepTimes = false): StreamRecord {
  const now = performance.now();
  return {
    startedAt: now,
    lastEventAt: now,
    endedAt: null,
    firstContentAt: null,
    contentTimes: keepTimes ? [] : null,
    contents: [],
    usageChunks: 0,
    finishReason: null,
    completed: false,
    error: null,
    stalled: false,
  };
}

function content(record: StreamRecord, text: string, now: number, onFirst?: () => void): void {
  record.contents.push(text);
  record.contentTimes?.push(now);
  if (record.firstContentAt === null) {
    record.firstContentAt = now;
    onFirst?.();
  }
}

/** What is wrong with a finished stream of the bench model, or null. */
export function verify(record: StreamRecord, shape: BenchShape): string | null {
  if (record.error) return record.error;
  if (!record.completed) return 'ended without its terminal event';
  if (record.contents.length !== shape.chunkCount) return `${record.contents.length} of ${shape.chunkCount} chunks`;
  for (const [i, text] of record.contents.entries()) {
    if (text !== benchChunkText(i, shape.chunkBytes)) return `chunk ${i} out of order or altered`;
  }
  if (record.usageChunks !== 1) return `usage ${record.usageChunks} times`;
  // The SDK passes the wire's 'stop' on; GraphQL's enum says STOP.
  if (record.finishReason?.toLowerCase() !== 'stop') return `finish reason ${record.finishReason}`;
  return null;
}

export interface Running {
  done: Promise<void>;
  /** Drops the stream from the client side. */
  stop(): void;
}

export interface StreamOptions {
  /** Called at the first content delta (the cancellation phase drops the stream there). */
  onFirstContent?: () => void;
  /** A resumable stream (graphql-ws and SSE): the key, and the last `seq` already had. */
  resume?: { key: string; after?: number };
}

function streamRequest(prompt: string, options: StreamOptions): { query: string; variables: Record<string, unknown> } {
  return options.resume
    ? { query: RESUMABLE_STREAM_DOCUMENT, variables: { ...chatqlInput(prompt), resume: options.resume } }
    : { query: STREAM_DOCUMENT, variables: chatqlInput(prompt) };
}

export function directStream(sdk: OpenAI, prompt: string, record: StreamRecord, options: StreamOptions = {}): Running {
  const controller = new AbortController();
  const done = (async () => {
    try {
      const stream = await sdk.chat.completions.create(
        { model: MODEL, messages: [{ role: 'user', content: prompt }], stream: true, stream_options: { include_usage: true } },
        { signal: controller.signal },
      );
      for await (const chunk of stream) {
        const now = performance.now();
        record.lastEventAt = now;
        const choice = chunk.choices[0];
        if (choice?.delta.content) content(record, choice.delta.content, now, options.onFirstContent);
        if (choice?.finish_reason) record.finishReason = choice.finish_reason;
        if (chunk.usage) record.usageChunks += 1;
      }
      record.completed = !controller.signal.aborted;
    } catch (error) {
      if (!controller.signal.aborted) record.error = error instanceof Error ? error.message : String(error);
    } finally {
      record.endedAt = performance.now();
    }
  })();
  return { done, stop: () => controller.abort() };
}

interface StreamEventData {
  chatCompletionStream?: {
    __typename: string;
    choices?: Array<{ delta?: { content?: string | null }; finishReason?: string | null }>;
    usage?: object | null;
    message?: string;
  };
}

/** Applies one ChatQL event (either transport) to the record; true when it was the terminal one. */
function chatqlEvent(record: StreamRecord, result: FormattedExecutionResult<StreamEventData, unknown>, options: StreamOptions): boolean {
  const now = performance.now();
  record.lastEventAt = now;
  const event = result.data?.chatCompletionStream;
  if (result.errors?.length || !event) {
    record.error ??= result.errors?.map((error) => error.message).join('; ') ?? 'an event without data';
    return true;
  }
  if (event.__typename === 'ChatCompletionChunk') {
    const choice = event.choices?.[0];
    if (choice?.delta?.content) content(record, choice.delta.content, now, options.onFirstContent);
    if (choice?.finishReason) record.finishReason = choice.finishReason;
    if (event.usage) record.usageChunks += 1;
    return false;
  }
  if (event.__typename === 'ChatCompletion') {
    if (event.usage) record.completed = true;
    else record.error ??= 'the terminal ChatCompletion has no usage';
  } else {
    record.error ??= `${event.__typename}: ${event.message}`;
  }
  return true;
}

/** A graphql-ws client with its connection open (`lazy: false`, waited for). */
export function openWsClient(wsUrl: string, timeoutMs = 15_000): Promise<Client> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`graphql-ws: no connection within ${timeoutMs} ms`)), timeoutMs);
    const client = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: (error) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(`graphql-ws connection closed (${(error as { code?: number }).code ?? '?'})`));
      },
      on: {
        connected: () => {
          clearTimeout(timer);
          resolve(client);
        },
      },
    });
  });
}

export function wsStream(client: Client, prompt: string, record: StreamRecord, options: StreamOptions = {}): Running {
  let dropped = false;
  let unsubscribe = () => {};
  const done = new Promise<void>((resolve) => {
    const end = () => {
      record.endedAt ??= performance.now();
      resolve();
    };
    unsubscribe = client.subscribe<StreamEventData>(streamRequest(prompt, options), {
      next: (result) => void chatqlEvent(record, result, options),
      error: (error) => {
        if (!dropped) record.error ??= error instanceof Error ? error.message : `protocol error: ${JSON.stringify(error)}`;
        end();
      },
      complete: () => {
        if (!dropped && !record.completed) record.error ??= 'completed without a terminal event';
        end();
      },
    });
  });
  return {
    done,
    stop: () => {
      dropped = true;
      unsubscribe();
    },
  };
}

export function sseStream(httpUrl: string, prompt: string, record: StreamRecord, options: StreamOptions = {}): Running {
  const controller = new AbortController();
  const done = (async () => {
    try {
      const response = await fetch(httpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify(streamRequest(prompt, options)),
        signal: controller.signal,
      });
      if (!response.ok || !response.body) throw new Error(`SSE: HTTP ${response.status}`);
      const decoder = new TextDecoder();
      const reader = response.body.getReader();
      let buffer = '';
      for (;;) {
        const { done: ended, value } = await reader.read();
        if (ended) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (frame.startsWith('event: complete')) {
            if (!record.completed) record.error ??= 'completed without a terminal event';
            return;
          }
          if (!frame.startsWith('event: next')) continue; // keep-alive comments
          const data = frame.slice(frame.indexOf('\ndata:') + 6).trimStart();
          chatqlEvent(record, JSON.parse(data) as FormattedExecutionResult<StreamEventData, unknown>, options);
        }
      }
      record.error ??= 'the SSE response ended without a complete event';
    } catch (error) {
      if (!controller.signal.aborted) record.error ??= error instanceof Error ? error.message : String(error);
    } finally {
      record.endedAt = performance.now();
    }
  })();
  return { done, stop: () => controller.abort() };
}
