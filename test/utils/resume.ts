/**
 * Subscribers of resumable streams for the tests: over graphql-ws (whose socket a test can cut, as
 * a lost network does) and over SSE, each collecting the events it got and how it ended.
 */
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import { WebSocket } from 'ws';

import type { ChatCompletionInput, ResumableStreamSubscription as ResumableStreamResult, StreamResumeInput } from '../gql/graphql.js';
import { sseEvents } from './clients.js';
import { ResumableStreamSubscription } from './operations.js';
import { dispose, type TestService } from './servers.js';

export type ResumableEvent = ResumableStreamResult['chatCompletionStream'];

export interface ResumeSubscriber {
  events: ResumableEvent[];
  /** Resolves when the stream completed, or the subscriber was stopped or dropped. */
  ended: Promise<void>;
  /** Resolves once `count` chunks have arrived. */
  chunks(count: number): Promise<void>;
  /** Leaves as a lost network does: the connection is cut, no `complete` is sent. */
  drop(): void;
  /** Leaves as a client that is done: graphql-ws `complete` (over SSE: closing, the only way there). */
  stop(): void;
}

function collector() {
  const events: ResumableEvent[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  let end!: () => void;
  const ended = new Promise<void>((resolve) => {
    end = resolve;
  });
  const push = (event: ResumableEvent) => {
    events.push(event);
    const chunks = events.filter((item) => item.__typename === 'ChatCompletionChunk').length;
    for (const waiter of waiters.splice(0)) {
      if (chunks >= waiter.count) waiter.resolve();
      else waiters.push(waiter);
    }
  };
  const chunks = (count: number) =>
    new Promise<void>((resolve, reject) => {
      if (events.filter((item) => item.__typename === 'ChatCompletionChunk').length >= count) return resolve();
      waiters.push({ count, resolve });
      void ended.then(() => reject(new Error(`the stream ended after ${events.length} events, before ${count} chunks`)));
    });
  return { events, ended, end, push, chunks };
}

/** A graphql-ws subscriber; `auth` goes in connectionParams. */
export function subscribeResumableWs(
  service: TestService,
  input: ChatCompletionInput,
  resume: StreamResumeInput | null,
  options: { auth?: string; retryAttempts?: number } = {},
): ResumeSubscriber & { sockets: WebSocket[] } {
  const { events, ended, end, push, chunks } = collector();
  const sockets: WebSocket[] = [];
  class Recorded extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      sockets.push(this);
    }
  }
  const client = createClient({
    url: service.wsUrl,
    webSocketImpl: Recorded,
    lazy: true,
    retryAttempts: options.retryAttempts ?? 0,
    retryWait: async () => new Promise((resolve) => setTimeout(resolve, 50)),
    shouldRetry: () => true,
    ...(options.auth ? { connectionParams: { authorization: options.auth } } : {}),
  });
  dispose(async () => client.dispose());
  const unsubscribe = client.subscribe<{ chatCompletionStream: ResumableEvent }>(
    { query: print(ResumableStreamSubscription), variables: { input, resume } as Record<string, unknown> },
    {
      next: (result) => {
        if (result.data) push(result.data.chatCompletionStream);
      },
      error: () => end(),
      complete: () => end(),
    },
  );
  return {
    events,
    ended,
    chunks,
    sockets,
    drop: () => {
      sockets.at(-1)?.terminate();
      if ((options.retryAttempts ?? 0) === 0) end();
    },
    stop: () => {
      unsubscribe();
      end();
    },
  };
}

/** An SSE subscriber (graphql-sse's distinct connections, what Yoga serves). */
export function subscribeResumableSse(
  service: TestService,
  input: ChatCompletionInput,
  resume: StreamResumeInput | null,
  options: { auth?: string } = {},
): ResumeSubscriber {
  const { events, ended, end, push, chunks } = collector();
  const controller = new AbortController();
  void (async () => {
    const response = await fetch(service.httpUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        ...(options.auth ? { authorization: options.auth } : {}),
      },
      body: JSON.stringify({ query: print(ResumableStreamSubscription), variables: { input, resume } }),
      signal: controller.signal,
    });
    for await (const { event, data } of sseEvents(response)) {
      if (event === 'complete') return;
      if (event === 'next') push((JSON.parse(data) as { data: { chatCompletionStream: ResumableEvent } }).data.chatCompletionStream);
    }
  })()
    .catch(() => undefined)
    .finally(() => end());
  const leave = () => {
    controller.abort();
    end();
  };
  return { events, ended, chunks, drop: leave, stop: leave };
}

/** The text of the chunks, in `seq` order, each `seq` once (a client skips what it already has). */
export function streamedText(events: readonly ResumableEvent[]): string {
  const bySeq = new Map<number, string>();
  for (const event of events) {
    if (event.__typename !== 'ChatCompletionChunk') continue;
    if (!bySeq.has(event.seq)) bySeq.set(event.seq, event.choices.map((choice) => choice.delta.content ?? '').join(''));
  }
  return [...bySeq.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, text]) => text)
    .join('');
}

export function chunkSeqs(events: readonly ResumableEvent[]): number[] {
  return events.flatMap((event) => (event.__typename === 'ChatCompletionChunk' ? [event.seq] : []));
}

export function terminal(events: readonly ResumableEvent[]): ResumableEvent | undefined {
  const last = events.at(-1);
  return last && last.__typename !== 'ChatCompletionChunk' ? last : undefined;
}

/** A key as a client makes one: a UUID. */
export function newKey(): string {
  return crypto.randomUUID();
}
