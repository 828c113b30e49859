/**
 * The client examples of the README (examples/apollo, examples/urql), with the real libraries
 * against a running service: a mutation, a streaming subscription to its terminal event, and
 * typed errors read through `... on Error`. Neither cache may warn: the warnings are what a
 * missing `possibleTypes` or a chunk normalised by its id would print.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';

import type { ApolloClient } from '@apollo/client';
import type { Client } from '@urql/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';

import { createApolloClient } from '../../examples/apollo/client.js';
import type { StreamSubscription as StreamResult } from '../../examples/gql/graphql.js';
import { AskMutation, ModelsQuery, StreamSubscription } from '../../examples/operations.js';
import { replyText } from '../../src/mock-upstream/reply.js';
import { createUrqlClient } from '../../examples/urql/client.js';
import { startMock, startService, type TestService } from '../utils/servers.js';

type StreamEvent = StreamResult['chatCompletionStream'];

const input = (model: string, content: string) => ({ model, messages: [{ user: { content } }] });

let service: TestService;
/** A service whose upstream refuses its key: `models` answers AuthenticationError. */
let refused: TestService;
let warnings: unknown[][];

beforeAll(async () => {
  service = await startService(await startMock({ wordDelayMs: 2 }));
  refused = await startService(await startMock({ apiKey: 'sk-another-key-0123456789' }));
});

beforeEach(() => {
  warnings = [];
  for (const method of ['warn', 'error'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void warnings.push(args));
  }
});

afterEach(() => {
  vi.restoreAllMocks();
  expect(warnings).toEqual([]);
});

/** What a finished stream must look like: more than one chunk, whose deltas make up the terminal ChatCompletion. */
function expectWholeStream(events: StreamEvent[], prompt: string): void {
  const chunks = events.filter((event) => event.__typename === 'ChatCompletionChunk');
  const last = events.at(-1);
  expect(chunks.length).toBeGreaterThan(1);
  expect(events.slice(0, -1).every((event) => event.__typename === 'ChatCompletionChunk')).toBe(true);
  expect(last?.__typename).toBe('ChatCompletion');
  if (last?.__typename !== 'ChatCompletion') return;
  const streamed = chunks.map((chunk) => chunk.choices.map((choice) => choice.delta.content ?? '').join('')).join('');
  expect(streamed).toBe(replyText([{ role: 'user', content: prompt }]));
  expect(last.choices[0]?.message.content).toBe(streamed);
  expect(last.choices[0]?.finishReason).toBe('STOP');
  // Every chunk of the stream and the whole completion share the upstream's id.
  expect(
    new Set(events.map((event) => (event.__typename === 'ChatCompletionChunk' || event.__typename === 'ChatCompletion' ? event.id : '')))
      .size,
  ).toBe(1);
}

describe('Apollo Client (examples/apollo)', () => {
  let client: ApolloClient;
  beforeEach(() => {
    client = createApolloClient(service.httpUrl, { webSocketImpl: WebSocket });
  });
  afterAll(() => client?.stop());

  it('runs a mutation over HTTP, and keeps the completion out of the normalised store', async () => {
    const { data } = await client.mutate({ mutation: AskMutation, variables: { input: input('chatql-mock', 'Hello Apollo') } });
    const result = data?.chatCompletion;
    expect(result?.__typename).toBe('ChatCompletion');
    if (result?.__typename !== 'ChatCompletion') return;
    expect(result.choices[0]?.message.content).toBe(replyText([{ role: 'user', content: 'Hello Apollo' }]));
    expect(result.usage?.totalTokens).toBeGreaterThan(0);
    // keyFields: false: no `ChatCompletion:<id>` entity that the next completion with that id would overwrite.
    expect(Object.keys(client.cache.extract() as Record<string, unknown>).filter((key) => key.startsWith('ChatCompletion'))).toEqual([]);
  });

  it('streams a subscription over graphql-ws to its terminal ChatCompletion', async () => {
    const events: StreamEvent[] = [];
    await new Promise<void>((resolve, reject) => {
      client
        .subscribe({ query: StreamSubscription, variables: { input: input('chatql-mock', 'Stream to Apollo') }, fetchPolicy: 'no-cache' })
        .subscribe({
          next: ({ data, error }) => {
            if (error) reject(error);
            else if (data) events.push(data.chatCompletionStream);
          },
          error: reject,
          complete: resolve,
        });
    });
    expectWholeStream(events, 'Stream to Apollo');
  });

  it('reads typed errors through ... on Error: a rate limit, and an authentication error from the cache', async () => {
    const { data } = await client.mutate({ mutation: AskMutation, variables: { input: input('fail-429', 'Too fast') } });
    expect(data?.chatCompletion).toMatchObject({ __typename: 'RateLimitError', retryable: true, retryAfterSeconds: 30 });
    expect(data?.chatCompletion.__typename === 'RateLimitError' && data.chatCompletion.message).toMatch(/Rate limit reached/);

    // A query's answer is read back from the cache: `... on Failure` matches an
    // AuthenticationError only through possibleTypes.
    const other = createApolloClient(refused.httpUrl, { webSocketImpl: WebSocket });
    const models = await other.query({ query: ModelsQuery });
    expect(models.data?.models).toMatchObject({ __typename: 'AuthenticationError', retryable: false, message: expect.any(String) });
    other.stop();
  });
});

describe('urql with Graphcache (examples/urql)', () => {
  let client: Client;
  beforeEach(() => {
    client = createUrqlClient(service.httpUrl, { webSocketImpl: WebSocket });
  });

  it('runs a mutation over HTTP', async () => {
    const { data, error } = await client.mutation(AskMutation, { input: input('chatql-mock', 'Hello urql') }).toPromise();
    expect(error).toBeUndefined();
    const result = data?.chatCompletion;
    expect(result?.__typename).toBe('ChatCompletion');
    if (result?.__typename !== 'ChatCompletion') return;
    expect(result.choices[0]?.message.content).toBe(replyText([{ role: 'user', content: 'Hello urql' }]));
  });

  it('streams a subscription over graphql-ws to its terminal ChatCompletion', async () => {
    const events: StreamEvent[] = [];
    await new Promise<void>((resolve, reject) => {
      client.subscription(StreamSubscription, { input: input('chatql-mock', 'Stream to urql') }).subscribe((result) => {
        if (result.error) reject(result.error);
        // urql repeats the last event with hasNext: false when the server completes the operation.
        else if (result.hasNext === false) resolve();
        else if (result.data) events.push(result.data.chatCompletionStream);
      });
    });
    expectWholeStream(events, 'Stream to urql');
  });

  it('reads typed errors through ... on Error: a rate limit, and an authentication error from the cache', async () => {
    const { data } = await client.mutation(AskMutation, { input: input('fail-429', 'Too fast') }).toPromise();
    expect(data?.chatCompletion).toMatchObject({ __typename: 'RateLimitError', retryable: true, retryAfterSeconds: 30 });

    const other = createUrqlClient(refused.httpUrl, { webSocketImpl: WebSocket });
    const models = await other.query(ModelsQuery, {}).toPromise();
    expect(models.error).toBeUndefined();
    expect(models.data?.models).toMatchObject({ __typename: 'AuthenticationError', retryable: false, message: expect.any(String) });
  });
});

describe('the runnable examples (npm run example:apollo, npm run example:urql)', () => {
  it.each([
    ['apollo', 'Hello from Apollo Client'],
    ['urql', 'Hello from urql'],
  ])('examples/%s/main.ts prints a completion, then streams one to its end, and exits 0', async (name, prompt) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `examples/${name}/main.ts`], {
      cwd: new URL('../..', import.meta.url),
      env: { PATH: process.env.PATH ?? '', CHATQL_URL: service.httpUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (data: Buffer) => (output += data.toString()));
    child.stderr.on('data', (data: Buffer) => (output += data.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code, output).toBe(0);
    expect(output).toContain(`chatCompletion (`);
    expect(output).toContain(replyText([{ role: 'user', content: prompt }]));
    expect(output).toContain(`chatCompletionStream: ${replyText([{ role: 'user', content: 'Stream this, please' }])}`);
    expect(output).toMatch(/\(STOP, \d+ tokens\)/);
  });
});

describe('the resumable stream example (npm run example:resume)', () => {
  it('cuts its connection after chunk 5, reconnects by graphql-ws retry, and gets the whole answer from one generation', async () => {
    const mock = await startMock({ wordDelayMs: 5 });
    const resumable = await startService(mock);
    mock.reset();
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/resume.ts'], {
      cwd: new URL('../..', import.meta.url),
      env: { PATH: process.env.PATH ?? '', CHATQL_URL: resumable.httpUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (data: Buffer) => (output += data.toString()));
    child.stderr.on('data', (data: Buffer) => (output += data.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code, output).toBe(0);
    expect(output).toContain('(cutting the connection after chunk 5)');
    expect(output).toContain(replyText([{ role: 'user', content: 'Tell me something worth resuming' }]));
    expect(output).toMatch(/\(STOP after \d+ chunks, \d+ tokens, 2 connections\)/);
    expect(
      mock.requests.filter((request) => request.path === '/v1/chat/completions'),
      'one generation',
    ).toHaveLength(1);
  });
});
