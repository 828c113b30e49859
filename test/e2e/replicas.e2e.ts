/**
 * Two replicas (two real service processes) and one real redis-server: one client's limit holds
 * across both, and when Redis goes away the replicas keep serving, each holding the client to the
 * limit on its own (fail open to per-replica limits), and say so in their logs and /readyz.
 */
import { beforeAll, describe, expect, it } from 'vitest';

import { postGraphQL } from '../utils/clients.js';
import { sha256Hex, writeKeysFile } from '../utils/keys.js';
import { ChatCompletionMutation } from '../utils/operations.js';
import { ready, run, type Running } from '../utils/process.js';
import { REDIS_SERVER, REDIS_SKIP_REASON, startRedis, type TestRedis } from '../utils/redis.js';
import { startMock, type TestService, until } from '../utils/servers.js';
import type { MockUpstream } from '../../src/mock-upstream/server.js';

const UPSTREAM_KEY = 'sk-replica-upstream-key-0123456789';
const LIMIT = 6;
const CLIENTS = ['shared-1', 'shared-2', 'outage-1', 'budget-1'] as const;
const DAILY_BUDGET = 1000;
const keyOf = (id: string) => `ck-${id}-secret-key-0123456789`;

interface Replica {
  running: Running;
  service: TestService;
}

async function readiness(replica: Replica): Promise<{ limits: { store: string; redis?: string } }> {
  const response = await fetch(`${replica.service.url}/readyz`);
  return (await response.json()) as { limits: { store: string; redis?: string } };
}

async function ask(replica: Replica, client: string): Promise<string> {
  const { body } = await postGraphQL(
    replica.service,
    ChatCompletionMutation,
    { input: { model: 'chatql-mock', messages: [{ user: { content: `hello from ${client}` } }] } },
    { headers: { authorization: `Bearer ${keyOf(client)}` } },
  );
  return body.data?.chatCompletion.__typename ?? `errors: ${JSON.stringify(body.errors)}`;
}

const chatRequests = (mock: MockUpstream, client: string) =>
  mock.requests.filter((request) => request.path.endsWith('/chat/completions') && (request.body as { user?: string }).user === client)
    .length;

describe.skipIf(!REDIS_SERVER)(`two replicas sharing limits through Redis${REDIS_SERVER ? '' : ` (skipped: ${REDIS_SKIP_REASON})`}`, () => {
  let mock: MockUpstream;
  let redis: TestRedis;
  let replicas: Replica[];

  beforeAll(async () => {
    mock = await startMock();
    redis = await startRedis();
    const keysFile = writeKeysFile(
      CLIENTS.map((id) => ({
        id,
        keySha256: sha256Hex(keyOf(id)),
        ...(id === 'budget-1' ? { limits: { requestsPerMinute: null, dailyTokens: DAILY_BUDGET } } : {}),
      })),
    );
    const env = {
      PORT: '0',
      HOST: '127.0.0.1',
      OPENAI_BASE_URL: mock.url,
      OPENAI_API_KEY: UPSTREAM_KEY,
      AUTH_MODE: 'api-key',
      CLIENT_KEYS_FILE: keysFile,
      CLIENT_REQUESTS_PER_MINUTE: String(LIMIT),
      REDIS_URL: redis.url,
      LOG_LEVEL: 'info',
    };
    replicas = await Promise.all(
      [0, 1].map(async () => {
        const running = run(env);
        return { running, service: await ready(running) };
      }),
    );
    for (const replica of replicas) {
      await until(() => replica.running.output().includes('redis connected'), 10_000, 'the replica to connect to redis');
    }
  }, 60_000);

  it(`holds one client to ${LIMIT} requests a minute across both replicas (10 concurrent requests, 5 to each)`, async () => {
    const client = CLIENTS[0];
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => ask(replicas[i % 2]!, client)));
    expect(outcomes.filter((outcome) => outcome === 'ChatCompletion')).toHaveLength(LIMIT);
    expect(outcomes.filter((outcome) => outcome === 'RateLimitError')).toHaveLength(10 - LIMIT);
    expect(chatRequests(mock, client), 'upstream calls made for the client').toBe(LIMIT);
    // Another client has its own allowance, on either replica.
    expect(await ask(replicas[1]!, CLIENTS[1])).toBe('ChatCompletion');
    for (const replica of replicas) expect((await readiness(replica)).limits).toEqual({ store: 'redis', redis: 'up' });
  });

  it(`holds 20 concurrent long answers (10 on each replica) of a client with a ${DAILY_BUDGET}-token daily budget to at most 1,250 tokens in all`, async () => {
    const client = 'budget-1';
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const { body } = await postGraphQL(
          replicas[i % 2]!.service,
          ChatCompletionMutation,
          {
            input: {
              model: 'chatql-mock-long',
              messages: [{ user: { content: `Please tell me a long story about the sea, number ${i}.` } }],
            },
          },
          { headers: { authorization: `Bearer ${keyOf(client)}` } },
        );
        return body.data!.chatCompletion;
      }),
    );
    const used = outcomes.reduce((sum, outcome) => sum + (outcome.__typename === 'ChatCompletion' ? outcome.usage!.totalTokens : 0), 0);
    const answered = outcomes.filter((outcome) => outcome.__typename === 'ChatCompletion').length;
    console.log(
      `[replicas] 20 concurrent chatql-mock-long requests, daily budget ${DAILY_BUDGET}, 2 replicas: ${answered} answered, ${used} tokens used in all`,
    );
    expect(answered).toBeGreaterThanOrEqual(1);
    expect(used).toBeLessThanOrEqual(1250);
    expect(
      outcomes
        .filter((outcome) => outcome.__typename !== 'ChatCompletion')
        .every((outcome) => outcome.__typename === 'BudgetExceededError'),
    ).toBe(true);
  });

  it('keeps serving when Redis goes away, each replica holding the limit on its own, and shares it again when Redis is back', async () => {
    const client = CLIENTS[2];
    await redis.stop();
    for (const replica of replicas) {
      await until(() => replica.running.output().includes('redis unavailable'), 10_000, 'the replica to notice');
      expect((await readiness(replica)).limits).toEqual({ store: 'redis', redis: 'down' });
    }
    // Fail open to per-replica limits: each replica admits LIMIT on its own.
    const outcomes = await Promise.all(Array.from({ length: 2 * LIMIT }, (_, i) => ask(replicas[i % 2]!, client)));
    expect(
      outcomes.filter((outcome) => outcome === 'ChatCompletion'),
      `outcomes: ${outcomes.join(', ')}`,
    ).toHaveLength(2 * LIMIT);
    expect(await ask(replicas[0]!, client), "the replica's own limit still holds").toBe('RateLimitError');
    expect(await ask(replicas[1]!, client)).toBe('RateLimitError');
    expect(chatRequests(mock, client)).toBe(2 * LIMIT);

    await redis.restart();
    for (const replica of replicas) {
      await until(() => replica.running.output().split('redis connected').length > 2, 15_000, 'the replica to reconnect');
      expect((await readiness(replica)).limits).toEqual({ store: 'redis', redis: 'up' });
    }
    // Redis came back empty (no persistence): the shared count starts again.
    expect(await ask(replicas[0]!, client)).toBe('ChatCompletion');
    for (const replica of replicas) {
      expect(replica.running.output(), 'no key in any log line').not.toMatch(new RegExp(`${UPSTREAM_KEY}|ck-[a-z0-9-]+-secret-key`));
    }
  }, 60_000);
});
