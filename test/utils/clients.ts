/**
 * Real clients of the service, typed by the documents codegen generates: plain HTTP POST,
 * graphql-ws over a real WebSocket, and Server-Sent Events over fetch.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type ExecutionResult, print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import { WebSocket } from 'ws';

import { dispose, type TestService } from './servers.js';

export async function postGraphQL<TResult, TVariables>(
  service: TestService,
  document: TypedDocumentNode<TResult, TVariables>,
  variables: TVariables,
  init: { signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: ExecutionResult<TResult> }> {
  const response = await fetch(service.httpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...init.headers },
    body: JSON.stringify({ query: print(document), variables }),
    signal: init.signal,
  });
  return { status: response.status, body: (await response.json()) as ExecutionResult<TResult> };
}

/** A subscription in progress: its events so far, and how it ended. */
export interface Subscription<TResult> {
  events: TResult[];
  /** Resolves when the server completes the operation; rejects on a protocol-level error. */
  done: Promise<void>;
  /** Resolves with the next event (or immediately if one is already waiting past `index`). */
  waitForEvents(count: number): Promise<void>;
  /** Ends the subscription from the client side. */
  stop(): void;
}

function collector<TResult>() {
  const events: TResult[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  let settle!: { resolve: () => void; reject: (error: unknown) => void };
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // Unhandled until a test awaits it; a failed stream fails the test that awaits `done`.
  done.catch(() => undefined);
  const push = (event: TResult) => {
    events.push(event);
    for (const waiter of waiters.splice(0)) {
      if (events.length >= waiter.count) waiter.resolve();
      else waiters.push(waiter);
    }
  };
  const waitForEvents = (count: number) =>
    events.length >= count
      ? Promise.resolve()
      : Promise.race([
          new Promise<void>((resolve) => waiters.push({ count, resolve })),
          done.then(() => {
            if (events.length < count) throw new Error(`stream completed after ${events.length} of ${count} events`);
          }),
        ]);
  return { events, done, push, settle, waitForEvents };
}

export function createWsClient(service: TestService, connectionParams?: Record<string, unknown>): Client {
  const client = createClient({
    url: service.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    ...(connectionParams ? { connectionParams } : {}),
  });
  dispose(async () => client.dispose());
  return client;
}

/** How a graphql-ws socket was closed. */
export interface WsClose {
  code: number;
  reason: string;
}

/** A graphql-ws client whose connections and closes can be watched. */
export interface WatchedWsClient {
  client: Client;
  /** Every close of the client's sockets so far, in order. */
  closes: WsClose[];
  /** How many times the server acknowledged `connection_init`. */
  readonly acks: number;
  /** Resolves with the next close (or the latest one not yet waited for). */
  nextClose(): Promise<WsClose>;
  /** Resolves at the next `connection_ack` (or at once if one came that was not yet waited for). */
  nextAck(): Promise<void>;
}

/**
 * A graphql-ws client that records the code and reason of every close of its sockets and every
 * `connection_ack`. With `lazy: false` it connects at once and stays connected until disposed.
 */
export function createWatchedWsClient(
  service: TestService,
  connectionParams?: Record<string, unknown>,
  options: { lazy?: boolean } = {},
): WatchedWsClient {
  const closes: WsClose[] = [];
  let closesSeen = 0;
  let acks = 0;
  let acksSeen = 0;
  const closeWaiters: Array<() => void> = [];
  const ackWaiters: Array<() => void> = [];
  const client = createClient({
    url: service.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: options.lazy ?? true,
    ...(connectionParams ? { connectionParams } : {}),
    // A non-lazy client reports a failed connection here; the test reads it from `closes`.
    onNonLazyError: () => undefined,
    on: {
      connected: () => {
        acks += 1;
        for (const wake of ackWaiters.splice(0)) wake();
      },
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string | Buffer };
        closes.push({ code, reason: String(reason) });
        for (const wake of closeWaiters.splice(0)) wake();
      },
    },
  });
  dispose(async () => client.dispose());
  return {
    client,
    closes,
    get acks() {
      return acks;
    },
    nextClose: async () => {
      while (closes.length <= closesSeen) await new Promise<void>((resolve) => closeWaiters.push(resolve));
      return closes[closesSeen++]!;
    },
    nextAck: async () => {
      while (acks <= acksSeen) await new Promise<void>((resolve) => ackWaiters.push(resolve));
      acksSeen += 1;
    },
  };
}

export function subscribeWs<TResult, TVariables>(
  client: Client,
  document: TypedDocumentNode<TResult, TVariables>,
  variables: TVariables,
): Subscription<TResult> {
  const { events, done, push, settle, waitForEvents } = collector<TResult>();
  const unsubscribe = client.subscribe<TResult>(
    { query: print(document), variables: variables as Record<string, unknown> },
    {
      next: (result) => {
        if (result.errors?.length) settle.reject(new Error(result.errors.map((error) => error.message).join('; ')));
        else if (result.data) push(result.data);
      },
      error: (error) => settle.reject(error),
      complete: () => settle.resolve(),
    },
  );
  return { events, done, waitForEvents, stop: unsubscribe };
}

/** The events of a Server-Sent Events response, as they arrive; throws when it is not a 2xx with a body. */
export async function* sseEvents(response: Response): AsyncGenerator<{ event: string | undefined; data: string }> {
  if (!response.ok || !response.body) throw new Error(`SSE request failed with ${response.status}`);
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(frame)?.[1];
      const data = frame
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      yield { event, data };
    }
  }
}

export function subscribeSse<TResult, TVariables>(
  service: TestService,
  document: TypedDocumentNode<TResult, TVariables>,
  variables: TVariables,
  init: { headers?: Record<string, string> } = {},
): Subscription<TResult> {
  const { events, done, push, settle, waitForEvents } = collector<TResult>();
  const controller = new AbortController();
  void (async () => {
    const response = await fetch(service.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...init.headers },
      body: JSON.stringify({ query: print(document), variables }),
      signal: controller.signal,
    });
    for await (const { event, data } of sseEvents(response)) {
      if (event === 'complete') return settle.resolve();
      if (event === 'next') {
        const result = JSON.parse(data) as ExecutionResult<TResult>;
        if (result.errors?.length) throw new Error(result.errors.map((error) => error.message).join('; '));
        if (result.data) push(result.data);
      }
    }
    throw new Error('SSE stream ended without a complete event');
  })().catch((error: unknown) => settle.reject(error));
  return { events, done, waitForEvents, stop: () => controller.abort() };
}
