/**
 * One chat operation over any transport, checked for the envelope every answer must have, and
 * the checks every error answer gets: shared by the error and fault suites.
 */
import { expect } from 'vitest';

import type { MockUpstream, RecordedRequest } from '../../src/mock-upstream/server.js';
import type {
  ChatCompletionInput,
  ChatCompletionMutation as ChatCompletionMutationResult,
  ChatCompletionStreamSubscription as ChatCompletionStreamResult,
} from '../gql/graphql.js';
import { createWsClient, postGraphQL, subscribeSse, subscribeWs } from './clients.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription } from './operations.js';
import { startService, type TestService, until } from './servers.js';

/** The upstream key `startService` configures. */
export const UPSTREAM_KEY = 'sk-test-upstream-key-0123456789';

export type Transport = 'mutation' | 'graphql-ws' | 'sse';
export const ALL_TRANSPORTS: readonly Transport[] = ['mutation', 'graphql-ws', 'sse'];
export const SUBSCRIPTION_TRANSPORTS: readonly Transport[] = ['graphql-ws', 'sse'];

export type StreamEvent = ChatCompletionStreamResult['chatCompletionStream'];
export type Chunk = Extract<StreamEvent, { __typename: 'ChatCompletionChunk' }>;
/** What an operation ends with: the mutation's result, or the subscription's terminal event. */
export type Outcome = ChatCompletionMutationResult['chatCompletion'] | Exclude<StreamEvent, Chunk>;

export interface Answer {
  outcome: Outcome;
  /** The ChatCompletionChunk events before the terminal event (always empty for the mutation). */
  chunks: Chunk[];
  /** Everything the client received, serialized, for searches for secrets. */
  raw: string;
  ms: number;
}

/**
 * Runs one chat operation over `transport` and checks the envelope every answer must have: no
 * top-level GraphQL error, and for a subscription zero or more chunks, then exactly one terminal
 * event, then completion.
 */
export async function ask(service: TestService, transport: Transport, chatInput: ChatCompletionInput): Promise<Answer> {
  const started = performance.now();
  if (transport === 'mutation') {
    const { status, body } = await postGraphQL(service, ChatCompletionMutation, { input: chatInput });
    const ms = performance.now() - started;
    const raw = JSON.stringify(body);
    expect(body.errors, raw.slice(0, 2000)).toBeUndefined();
    expect(status).toBe(200);
    const outcome = body.data?.chatCompletion;
    if (!outcome) throw new Error(`no data in ${raw.slice(0, 500)}`);
    return { outcome, chunks: [], raw, ms };
  }
  const subscription =
    transport === 'graphql-ws'
      ? subscribeWs(createWsClient(service), ChatCompletionStreamSubscription, { input: chatInput })
      : subscribeSse(service, ChatCompletionStreamSubscription, { input: chatInput });
  // Rejects on any top-level GraphQL error or protocol failure; resolves only on `complete`.
  await subscription.done;
  const ms = performance.now() - started;
  const events = subscription.events.map((event) => event.chatCompletionStream);
  const raw = JSON.stringify(subscription.events);
  const terminal = events.at(-1);
  if (!terminal) throw new Error('the subscription completed without any event');
  if (terminal.__typename === 'ChatCompletionChunk') throw new Error(`the subscription ended on a chunk: ${raw.slice(0, 500)}`);
  const before = events.slice(0, -1);
  // Exactly one terminal event: everything before it is a chunk.
  expect(
    before.map((event) => event.__typename).filter((name) => name !== 'ChatCompletionChunk'),
    'exactly one terminal event',
  ).toEqual([]);
  return { outcome: terminal, chunks: before as Chunk[], raw, ms };
}

/** The typed error, and nothing of a stack or a key (the upstream's, or `secrets`) in anything the client got. */
export function expectError(answer: Answer, expected: Record<string, unknown>, secrets: readonly string[] = []): void {
  expect(answer.outcome, answer.raw.slice(0, 2000)).toMatchObject(expected);
  const outcome = answer.outcome;
  if (outcome.__typename === 'ChatCompletion') throw new Error('expected an error');
  expect(outcome.message.length).toBeGreaterThan(0);
  expect(outcome.message).not.toMatch(/unexpected error/i);
  expect(answer.raw).not.toContain('    at ');
  for (const secret of [UPSTREAM_KEY, ...secrets]) expect(answer.raw).not.toContain(secret);
}

/** The chat completion requests the mock received (the models warm-up and listings excluded). */
export function chatCalls(mock: MockUpstream): RecordedRequest[] {
  return mock.requests.filter((request) => request.path === '/v1/chat/completions');
}

/**
 * Starts a service against `mock` and waits for its models warm-up, so that it cannot land in a
 * test's count of upstream requests (the mock may serve services started before).
 */
export async function startWarmService(mock: MockUpstream, env: Record<string, string> = {}): Promise<TestService> {
  const warmedUp = () => mock.requests.filter((request) => request.path === '/v1/models' && request.closedAt !== undefined).length;
  const before = warmedUp();
  const service = await startService(mock, env);
  await until(() => warmedUp() > before, 5000, 'the models warm-up');
  return service;
}
