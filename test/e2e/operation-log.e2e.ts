/**
 * One structured log line per operation, and the request id that ties it to the client's
 * response and the upstream call.
 */
import { describe, expect, it } from 'vitest';

import { createWsClient, postGraphQL, subscribeWs } from '../utils/clients.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription } from '../utils/operations.js';
import { startMock, startService, until } from '../utils/servers.js';

const PROMPT = 'a secret prompt 7f3a';

describe('the operation log line', async () => {
  const mock = await startMock({ wordDelayMs: 5 });
  const service = await startService(mock, { LOG_LEVEL: 'info' });
  const operationLines = () => service.logs.filter((line) => line.msg === 'operation');
  const input = (model = 'chatql-mock') => ({ model, messages: [{ user: { content: PROMPT } }] });

  it('is written once for a mutation, with the request id the client sent, which is echoed and forwarded upstream', async () => {
    const before = operationLines().length;
    const response = await fetch(service.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'client-req-42' },
      body: JSON.stringify({
        query: 'mutation M($input: ChatCompletionInput!) { chatCompletion(input: $input) { __typename } }',
        variables: { input: input() },
      }),
    });
    expect(response.headers.get('x-request-id')).toBe('client-req-42');
    expect(await response.json()).toStrictEqual({ data: { chatCompletion: { __typename: 'ChatCompletion' } } });
    expect(mock.requests.at(-1)?.headers['x-request-id']).toBe('client-req-42');
    const lines = operationLines().slice(before);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 30,
      requestId: 'client-req-42',
      operation: 'chatCompletion',
      model: 'chatql-mock',
      outcome: 'ChatCompletion',
      retries: 0,
    });
    expect(lines[0]!.latencyMs).toBeGreaterThan(0);
    expect(lines[0]!.promptTokens).toBeGreaterThan(0);
    expect(lines[0]!.completionTokens).toBeGreaterThan(0);
  });

  it('replaces a request id that is not a plain token with a generated one', async () => {
    const response = await fetch(service.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'bad id {"level":60}' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('is written once for a stream, with its time to first token, chunks and usage', async () => {
    const before = operationLines().length;
    const stream = subscribeWs(createWsClient(service), ChatCompletionStreamSubscription, { input: input() });
    await stream.done;
    await until(() => operationLines().length > before, 2000, 'the log line');
    const lines = operationLines().slice(before);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ operation: 'chatCompletionStream', outcome: 'ChatCompletion', model: 'chatql-mock' });
    expect(lines[0]!.ttftMs).toBeGreaterThan(0);
    expect(lines[0]!.ttftMs as number).toBeLessThanOrEqual(lines[0]!.latencyMs as number);
    expect(lines[0]!.chunks).toBe(stream.events.length - 1);
    expect(lines[0]!.completionTokens).toBeGreaterThan(0);
    // graphql-ws operations get an id of their own, forwarded upstream too.
    expect(lines[0]!.requestId).toMatch(/:[\w-]+$/);
    expect(mock.requests.at(-1)?.headers['x-request-id']).toBe(lines[0]!.requestId);
  });

  it('names the error member, the status and the retries of a failed operation', async () => {
    const before = operationLines().length;
    mock.enqueue({ status: 503, body: { error: { message: 'busy', type: 'server_error', param: null, code: null } } });
    const retried = await postGraphQL(service, ChatCompletionMutation, { input: input() });
    expect(retried.body.data?.chatCompletion.__typename).toBe('ChatCompletion');
    const limited = await postGraphQL(service, ChatCompletionMutation, { input: input('fail-429') });
    expect(limited.body.data?.chatCompletion.__typename).toBe('RateLimitError');
    mock.enqueue(
      ...[1, 2, 3].map(() => ({ status: 500, body: { error: { message: 'down', type: 'server_error', param: null, code: null } } })),
    );
    await postGraphQL(service, ChatCompletionMutation, { input: input() });
    const lines = operationLines().slice(before);
    expect(lines.map((line) => [line.outcome, line.retries, line.status ?? null])).toStrictEqual([
      ['ChatCompletion', 1, null],
      ['RateLimitError', 0, null],
      ['UpstreamUnavailableError', 2, 500],
    ]);
  });

  it('says "cancelled" when the client left a stream', async () => {
    const before = operationLines().length;
    const stream = subscribeWs(createWsClient(service), ChatCompletionStreamSubscription, { input: input('fail-stall') });
    await stream.waitForEvents(2);
    stream.stop();
    await until(() => operationLines().length > before, 2000, 'the log line');
    expect(operationLines().slice(before)).toMatchObject([{ operation: 'chatCompletionStream', outcome: 'cancelled' }]);
  });

  it('never holds the prompt or the answer', () => {
    expect(service.rawLogs.length).toBeGreaterThan(0);
    expect(service.rawLogs.some((line) => line.includes(PROMPT))).toBe(false);
    expect(service.rawLogs.some((line) => line.includes('You said'))).toBe(false);
  });
});

describe('with LOG_CONTENT=true', async () => {
  const mock = await startMock();
  const service = await startService(mock, { LOG_LEVEL: 'info', LOG_CONTENT: 'true' });
  const operationLines = () => service.logs.filter((line) => line.msg === 'operation');
  const input = { model: 'chatql-mock', messages: [{ user: { content: PROMPT } }] };

  it('holds the messages and the answer of a mutation and of a stream', async () => {
    const { body } = await postGraphQL(service, ChatCompletionMutation, { input });
    const answer = body.data?.chatCompletion.__typename === 'ChatCompletion' ? body.data.chatCompletion.choices[0]?.message.content : null;
    expect(answer).toContain('You said');
    const stream = subscribeWs(createWsClient(service), ChatCompletionStreamSubscription, { input });
    await stream.done;
    await until(() => operationLines().length >= 2, 2000, 'both log lines');
    for (const line of operationLines()) {
      expect(line).toMatchObject({ messages: [{ user: { content: PROMPT } }], completion: answer });
    }
  });

  it('cuts long strings (a data: URI image, a long paste) to 4096 characters, saying how long they were', async () => {
    const long = `${PROMPT} ${'x'.repeat(20_000)}`;
    const before = operationLines().length;
    await postGraphQL(service, ChatCompletionMutation, { input: { model: 'chatql-mock', messages: [{ user: { content: long } }] } });
    await until(() => operationLines().length > before, 2000, 'the log line');
    const logged = (operationLines().at(-1)!.messages as Array<{ user: { content: string } }>)[0]!.user.content;
    expect(logged).toBe(`${long.slice(0, 4096)}… (${long.length} characters)`);
    expect(service.rawLogs.at(-1)!.length).toBeLessThan(12_000);
  });
});
