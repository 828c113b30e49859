/**
 * Resumable streams on one replica (no Redis: the store is in memory): a dropped subscriber's
 * generation goes on and is attached to again with the same key, without a second upstream call;
 * a stop, a cancel or the grace's end stops it; keys are per client; a known key never starts a
 * second generation. Two replicas sharing Redis: test/e2e/resume-replicas.e2e.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';

import type { MockUpstream } from '../../src/mock-upstream/server.js';
import { replyText } from '../../src/mock-upstream/reply.js';
import type { ChatCompletionInput } from '../gql/graphql.js';
import { chatCalls, startWarmService } from '../utils/answers.js';
import { postGraphQL } from '../utils/clients.js';
import { sha256Hex, writeKeysFile } from '../utils/keys.js';
import { metric } from '../utils/metrics.js';
import { CancelStreamMutation } from '../utils/operations.js';
import { chunkSeqs, newKey, streamedText, subscribeResumableSse, subscribeResumableWs, terminal } from '../utils/resume.js';
import { startMock, type TestService, until } from '../utils/servers.js';

const PROMPT = 'Tell me about resumable streams, please';
const input = (content = PROMPT): ChatCompletionInput => ({ model: 'chatql-mock', messages: [{ user: { content } }] });
/** What the uninterrupted stream says. */
const WHOLE = replyText([{ role: 'user', content: PROMPT }]);

describe('resumable streams, in memory (one replica)', () => {
  let mock: MockUpstream;
  let service: TestService;
  beforeAll(async () => {
    // 25 ms a word: an answer of about 100 words lasts about 2.5 s.
    mock = await startMock({ wordDelayMs: 25 });
    service = await startWarmService(mock, { STREAM_RESUME_GRACE_MS: '3000', STREAM_RESUME_TTL_MS: '5000' });
  });

  it.each(['graphql-ws', 'sse'] as const)(
    'over %s: dropped after 3 chunks, resumed with after: 3 → chunks 4…N and the terminal event, the whole answer, 1 upstream request',
    async (transport) => {
      mock.reset();
      const key = newKey();
      const subscribe = transport === 'graphql-ws' ? subscribeResumableWs : subscribeResumableSse;
      const first = subscribe(service, input(), { key });
      await first.chunks(3);
      first.drop();
      const had = chunkSeqs(first.events).filter((seq) => seq <= 3);
      expect(had).toEqual([1, 2, 3]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const resumed = subscribe(service, input(), { key, after: 3 });
      await resumed.ended;
      const seqs = chunkSeqs(resumed.events);
      expect(seqs[0]).toBe(4);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 4));
      expect(terminal(resumed.events)).toMatchObject({ __typename: 'ChatCompletion', choices: [{ message: { content: WHOLE } }] });
      expect(
        streamedText([...first.events.filter((event) => event.__typename === 'ChatCompletionChunk' && event.seq <= 3), ...resumed.events]),
      ).toBe(WHOLE);
      expect(chatCalls(mock), 'exactly one generation').toHaveLength(1);
      const lines = service.logs.filter((line) => line.msg === 'operation' && line.operation === 'chatCompletionStream');
      expect(lines.at(-1)).toMatchObject({ outcome: 'ChatCompletion' });
    },
  );

  it("graphql-ws's own retry after its socket is cut re-attaches: one generation, the whole answer (chunks deduplicated by seq)", async () => {
    mock.reset();
    const key = newKey();
    const subscriber = subscribeResumableWs(service, input(), { key }, { retryAttempts: 3 });
    await subscriber.chunks(3);
    subscriber.sockets.at(-1)!.terminate();
    await subscriber.ended;
    expect(subscriber.sockets.length, 'the client reconnected').toBeGreaterThan(1);
    expect(terminal(subscriber.events)).toMatchObject({ __typename: 'ChatCompletion' });
    expect(streamedText(subscriber.events)).toBe(WHOLE);
    expect(chatCalls(mock), 'the re-subscribe attached instead of starting again').toHaveLength(1);
    expect(await metric(service, 'chatql_stream_resumes_total{outcome="attached"}')).toBeGreaterThanOrEqual(1);
  });

  it('a graphql-ws complete from the last subscriber stops it at once: the upstream request is closed, a later attach gets the chunks and a stopped error', async () => {
    mock.reset();
    const key = newKey();
    const subscriber = subscribeResumableWs(service, input(), { key });
    await subscriber.chunks(3);
    const request = chatCalls(mock)[0]!;
    const stoppedAt = performance.now();
    subscriber.stop();
    await request.closed;
    const ms = performance.now() - stoppedAt;
    console.log(`[resume] complete → upstream closed in ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(1000);
    expect(request.aborted).toBe(true);
    const late = subscribeResumableWs(service, input(), { key, after: 1 });
    await late.ended;
    expect(chunkSeqs(late.events)[0]).toBe(2);
    expect(terminal(late.events)).toMatchObject({ __typename: 'UpstreamUnavailableError', source: 'SERVICE', retryable: false });
    expect((terminal(late.events) as { message: string }).message).toMatch(/stopped/);
  });

  it('a dropped generation waits out STREAM_RESUME_GRACE_MS (3 s), then is aborted', async () => {
    mock.reset();
    const slowMock = await startMock({ wordDelayMs: 200 });
    const slow = await startWarmService(slowMock, { STREAM_RESUME_GRACE_MS: '1000' });
    slowMock.reset();
    const key = newKey();
    const subscriber = subscribeResumableWs(slow, input(), { key });
    await subscriber.chunks(2);
    const request = chatCalls(slowMock)[0]!;
    const droppedAt = performance.now();
    subscriber.drop();
    await until(() => slow.app.operations.size === 1, 2000, 'the generation to go on');
    expect(await metric(slow, 'chatql_detached_streams')).toBe(1);
    await request.closed;
    const ms = performance.now() - droppedAt;
    console.log(`[resume] drop → upstream aborted after ${ms.toFixed(0)} ms (grace 1000 ms)`);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(4000);
    expect(request.aborted).toBe(true);
    await until(() => slow.app.operations.size === 0, 2000, 'the operation to end');
    expect(await metric(slow, 'chatql_detached_streams')).toBe(0);
  });

  it('cancelChatCompletionStream stops it (cancelled: true), attached subscribers get the stopped error; a second cancel says false', async () => {
    mock.reset();
    const key = newKey();
    const subscriber = subscribeResumableSse(service, input(), { key });
    await subscriber.chunks(2);
    const first = await postGraphQL(service, CancelStreamMutation, { key });
    expect(first.body.data?.cancelChatCompletionStream).toEqual({ __typename: 'StreamCancelled', cancelled: true });
    await subscriber.ended;
    expect(terminal(subscriber.events)).toMatchObject({ __typename: 'UpstreamUnavailableError', source: 'SERVICE', retryable: false });
    await chatCalls(mock)[0]!.closed;
    const second = await postGraphQL(service, CancelStreamMutation, { key });
    expect(second.body.data?.cancelChatCompletionStream).toEqual({ __typename: 'StreamCancelled', cancelled: false });
    const malformed = await postGraphQL(service, CancelStreamMutation, { key: 'short' });
    expect(malformed.body.data?.cancelChatCompletionStream).toMatchObject({ __typename: 'InvalidRequestError', param: 'key' });
  });

  it('refusals: an unknown key with after → NotFoundError; the key of another input → InvalidRequestError at resume.key; a malformed key', async () => {
    mock.reset();
    const unknown = subscribeResumableWs(service, input(), { key: newKey(), after: 2 });
    await unknown.ended;
    expect(unknown.events).toMatchObject([{ __typename: 'NotFoundError', source: 'SERVICE' }]);
    const key = newKey();
    const running = subscribeResumableWs(service, input(), { key });
    await running.chunks(1);
    const other = subscribeResumableWs(service, input('another question entirely'), { key });
    await other.ended;
    expect(other.events).toMatchObject([{ __typename: 'InvalidRequestError', param: 'resume.key', code: 'key_mismatch' }]);
    const malformed = subscribeResumableSse(service, input(), { key: 'not a key!' });
    await malformed.ended;
    expect(malformed.events).toMatchObject([{ __typename: 'InvalidRequestError', param: 'resume.key' }]);
    await running.ended;
    expect(chatCalls(mock)).toHaveLength(1);
    expect(await metric(service, 'chatql_stream_resumes_total{outcome="not_found"}')).toBeGreaterThanOrEqual(1);
    expect(await metric(service, 'chatql_stream_resumes_total{outcome="mismatch"}')).toBeGreaterThanOrEqual(1);
  });

  it('a known but expired key (its events forgotten after STREAM_RESUME_TTL_MS) is NotFoundError, never a second generation', async () => {
    const quick = await startWarmService(mock, { STREAM_RESUME_GRACE_MS: '1000', STREAM_RESUME_TTL_MS: '1000' });
    mock.reset();
    const key = newKey();
    const first = subscribeResumableWs(quick, input('short one'), { key });
    await first.ended;
    expect(terminal(first.events)?.__typename).toBe('ChatCompletion');
    await new Promise((resolve) => setTimeout(resolve, 1300));
    for (const after of [null, 2]) {
      const again = subscribeResumableWs(quick, input('short one'), { key, after });
      await again.ended;
      expect(again.events, `after: ${after}`).toMatchObject([{ __typename: 'NotFoundError' }]);
    }
    expect(chatCalls(mock)).toHaveLength(1);
  });

  it('without resume nothing changes: a dropped subscriber aborts the upstream at once', async () => {
    mock.reset();
    const subscriber = subscribeResumableWs(service, input(), null);
    await subscriber.chunks(2);
    const request = chatCalls(mock)[0]!;
    subscriber.drop();
    await request.closed;
    expect(request.aborted).toBe(true);
    expect(chunkSeqs(subscriber.events).slice(0, 2)).toEqual([1, 2]);
  });
});

describe('resumable streams are per client (AUTH_MODE=api-key)', () => {
  const A = 'ck-resume-client-a-0123456789';
  const B = 'ck-resume-client-b-0123456789';
  let mock: MockUpstream;
  let service: TestService;
  beforeAll(async () => {
    mock = await startMock({ wordDelayMs: 20 });
    service = await startWarmService(mock, {
      AUTH_MODE: 'api-key',
      CLIENT_KEYS_FILE: writeKeysFile([
        { id: 'client-a', keySha256: sha256Hex(A), limits: { concurrentStreams: 1 } },
        { id: 'client-b', keySha256: sha256Hex(B) },
      ]),
    });
  });

  it("another client's key is unknown to it: NotFoundError with after, a generation of its own without", async () => {
    mock.reset();
    const key = newKey();
    const owner = subscribeResumableWs(service, input(), { key }, { auth: `Bearer ${A}` });
    await owner.chunks(2);
    const stranger = subscribeResumableWs(service, input(), { key, after: 1 }, { auth: `Bearer ${B}` });
    await stranger.ended;
    expect(stranger.events).toMatchObject([{ __typename: 'NotFoundError' }]);
    const own = subscribeResumableWs(service, input(), { key }, { auth: `Bearer ${B}` });
    await Promise.all([own.ended, owner.ended]);
    expect(terminal(own.events)?.__typename).toBe('ChatCompletion');
    expect(
      chatCalls(mock)
        .map((call) => (call.body as { user: string }).user)
        .sort(),
    ).toEqual(['client-a', 'client-b']);
  });

  it('a detached generation still holds its concurrent-stream slot (concurrentStreams 1): a new stream is refused until it ends', async () => {
    mock.reset();
    const key = newKey();
    const first = subscribeResumableWs(service, input(), { key }, { auth: `Bearer ${A}` });
    await first.chunks(2);
    first.drop();
    const second = subscribeResumableWs(service, input('a new question'), null, { auth: `Bearer ${A}` });
    await second.ended;
    expect(second.events).toMatchObject([{ __typename: 'RateLimitError', source: 'SERVICE' }]);
    // Attaching again costs no slot: it is the same generation.
    const back = subscribeResumableWs(service, input(), { key, after: 2 }, { auth: `Bearer ${A}` });
    await back.ended;
    expect(terminal(back.events)?.__typename).toBe('ChatCompletion');
    expect(chatCalls(mock)).toHaveLength(1);
  });
});
