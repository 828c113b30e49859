/**
 * Resumable streams across replicas: two real service processes sharing a real redis-server. A
 * generation started on one replica is resumed on the other without a second upstream request;
 * the other replica's lease keeps it going past the grace; a cancel there stops it; a producer
 * that dies ends its followers with a retryable error; Redis going away leaves live streams
 * running and refuses resumes.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';

import type { MockUpstream } from '../../src/mock-upstream/server.js';
import { replyText } from '../../src/mock-upstream/reply.js';
import type { ChatCompletionInput } from '../gql/graphql.js';
import { chatCalls } from '../utils/answers.js';
import { postGraphQL } from '../utils/clients.js';
import { CancelStreamMutation } from '../utils/operations.js';
import { ready, run, type Running } from '../utils/process.js';
import { REDIS_SERVER, REDIS_SKIP_REASON, startRedis, type TestRedis } from '../utils/redis.js';
import { chunkSeqs, newKey, streamedText, subscribeResumableSse, subscribeResumableWs, terminal } from '../utils/resume.js';
import { startMock, type TestService, until } from '../utils/servers.js';

const PROMPT = 'Tell me about resumable streams across replicas, please';
const input = (): ChatCompletionInput => ({ model: 'chatql-mock', messages: [{ user: { content: PROMPT } }] });
const WHOLE = replyText([{ role: 'user', content: PROMPT }]);

interface Replica {
  running: Running;
  service: TestService;
}

describe.skipIf(!REDIS_SERVER)(
  `resumable streams on two replicas sharing Redis${REDIS_SERVER ? '' : ` (skipped: ${REDIS_SKIP_REASON})`}`,
  () => {
    let mock: MockUpstream;
    let redis: TestRedis;

    async function replica(graceMs = 2000): Promise<Replica> {
      const running = run({
        PORT: '0',
        HOST: '127.0.0.1',
        OPENAI_BASE_URL: mock.url,
        OPENAI_API_KEY: 'sk-resume-replicas-0123456789',
        REDIS_URL: redis.url,
        STREAM_RESUME_GRACE_MS: String(graceMs),
        UPSTREAM_BREAKER_THRESHOLD: '0',
        LOG_LEVEL: 'info',
        LOG_FORMAT: 'json',
      });
      const service = await ready(running);
      await until(() => running.output().includes('redis connected'), 10_000, 'the replica to connect to redis');
      return { running, service };
    }

    let a: Replica;
    let b: Replica;
    beforeAll(async () => {
      // 40 ms a word: an answer of about 100 words lasts about 4 s.
      mock = await startMock({ wordDelayMs: 40 });
      redis = await startRedis();
      [a, b] = await Promise.all([replica(), replica()]);
    }, 60_000);
    beforeEach(() => mock.reset());

    it.each(['graphql-ws', 'sse'] as const)(
      'over %s: dropped on replica A after 3 chunks, resumed on replica B with after: 3 → chunks 4…N, the whole answer, 1 upstream request',
      async (transport) => {
        const subscribe = transport === 'graphql-ws' ? subscribeResumableWs : subscribeResumableSse;
        const key = newKey();
        const first = subscribe(a.service, input(), { key });
        await first.chunks(3);
        first.drop();
        const started = performance.now();
        const resumed = subscribe(b.service, input(), { key, after: 3 });
        await resumed.chunks(1);
        console.log(
          `[resume-replicas] ${transport}: first replayed chunk on the other replica ${(performance.now() - started).toFixed(1)} ms after the resume`,
        );
        await resumed.ended;
        expect(chunkSeqs(resumed.events)).toEqual(Array.from({ length: chunkSeqs(resumed.events).length }, (_, i) => i + 4));
        expect(terminal(resumed.events)).toMatchObject({ __typename: 'ChatCompletion', choices: [{ message: { content: WHOLE } }] });
        expect(
          streamedText([
            ...first.events.filter((event) => event.__typename === 'ChatCompletionChunk' && event.seq <= 3),
            ...resumed.events,
          ]),
        ).toBe(WHOLE);
        expect(chatCalls(mock), 'exactly one generation').toHaveLength(1);
      },
    );

    it("a follower on replica B keeps the generation going past A's grace (1 s of 4 s), and gets it to its end", async () => {
      const quick = await replica(1000);
      const key = newKey();
      const first = subscribeResumableWs(quick.service, input(), { key });
      await first.chunks(2);
      first.drop();
      const follower = subscribeResumableWs(b.service, input(), { key });
      await follower.ended;
      expect(terminal(follower.events)).toMatchObject({ __typename: 'ChatCompletion' });
      expect(streamedText(follower.events)).toBe(WHOLE);
      expect(chatCalls(mock)[0]!.aborted).toBe(false);
      quick.running.child.kill('SIGTERM');
    });

    it('cancelChatCompletionStream on replica B stops the generation running on A within 1 s', async () => {
      const key = newKey();
      const subscriber = subscribeResumableWs(a.service, input(), { key });
      await subscriber.chunks(2);
      const request = chatCalls(mock)[0]!;
      const started = performance.now();
      const { body } = await postGraphQL(b.service, CancelStreamMutation, { key });
      expect(body.data?.cancelChatCompletionStream).toEqual({ __typename: 'StreamCancelled', cancelled: true });
      await request.closed;
      const ms = performance.now() - started;
      console.log(`[resume-replicas] cancel on B → upstream aborted on A after ${ms.toFixed(0)} ms`);
      expect(ms).toBeLessThan(1500);
      await subscriber.ended;
      expect(terminal(subscriber.events)).toMatchObject({ __typename: 'UpstreamUnavailableError', source: 'SERVICE', retryable: false });
    });

    it('a graphql-ws complete from the last subscriber, on the other replica, stops the generation', async () => {
      const key = newKey();
      const first = subscribeResumableWs(a.service, input(), { key });
      await first.chunks(2);
      first.drop();
      const follower = subscribeResumableWs(b.service, input(), { key, after: 2 });
      await follower.chunks(4);
      const request = chatCalls(mock)[0]!;
      follower.stop();
      await request.closed;
      expect(request.aborted).toBe(true);
    });

    it('the producing replica killed mid-stream: the follower on the other replica ends with a retryable UpstreamUnavailableError', async () => {
      const doomed = await replica();
      const key = newKey();
      const first = subscribeResumableWs(doomed.service, input(), { key });
      await first.chunks(2);
      const follower = subscribeResumableWs(b.service, input(), { key, after: 2 });
      await follower.chunks(3);
      doomed.running.child.kill('SIGKILL');
      await follower.ended;
      expect(terminal(follower.events)).toMatchObject({ __typename: 'UpstreamUnavailableError', source: 'SERVICE', retryable: true });
    });

    it('Redis stopped mid-stream: the live stream goes on to its end; a resume is refused with a retryable error (store_unavailable)', async () => {
      const key = newKey();
      const live = subscribeResumableWs(a.service, input(), { key });
      await live.chunks(2);
      await redis.stop();
      await until(() => b.running.output().includes('redis unavailable'), 10_000, 'replica B to notice');
      const refused = subscribeResumableWs(b.service, input(), { key, after: 2 });
      await refused.ended;
      expect(refused.events).toMatchObject([{ __typename: 'UpstreamUnavailableError', source: 'SERVICE', retryable: true }]);
      await live.ended;
      expect(terminal(live.events)).toMatchObject({ __typename: 'ChatCompletion' });
      expect(streamedText(live.events)).toBe(WHOLE);
      await redis.restart();
    }, 30_000);
  },
);
