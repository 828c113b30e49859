/**
 * Spend limits per client (`dailySpend`, CLIENT_DAILY_SPEND), end to end: each request reserves
 * its upper cost (the prompt's estimate at the input price, the answer's bound at the output
 * price) and settles at its real cost; racing requests cannot together overrun the limit; a
 * client with a limit cannot use an unpriced model; `viewer` shows what was spent and what is
 * left; two replicas share the count through Redis.
 */
import { randomBytes } from 'node:crypto';

import { beforeAll, describe, expect, it } from 'vitest';

import type { MockUpstream } from '../../src/mock-upstream/server.js';
import type {
  ChatCompletionInput,
  ChatCompletionMutation as ChatCompletionMutationResult,
  ViewerQuery as ViewerQueryResult,
} from '../gql/graphql.js';
import { chatCalls, startWarmService } from '../utils/answers.js';
import { postGraphQL, subscribeSse } from '../utils/clients.js';
import { sha256Hex, writeKeysFile } from '../utils/keys.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription, ViewerQuery } from '../utils/operations.js';
import { REDIS_SERVER, REDIS_SKIP_REASON, startRedis } from '../utils/redis.js';
import { startMock, type TestService, until } from '../utils/servers.js';

type Outcome = ChatCompletionMutationResult['chatCompletion'];
type Viewer = Extract<ViewerQueryResult['viewer'], { __typename: 'Viewer' }>;

const keyOf = (id: string) => `cq_${id}_${randomBytes(12).toString('hex')}`;

/** chatql-mock-long's prices per million tokens (the mock's GET /model/info). */
const PRICE = { input: 0.15, output: 0.6 };
/** Nanos (billionths of the currency) per answer token at that price. */
const NANOS_PER_ANSWER_TOKEN = PRICE.output * 1000;

/** The service's estimate of a one-message prompt (see src/limits/estimate.ts): 4 + a token per 4 characters. */
const promptEstimate = (text: string) => 4 + Math.ceil(text.length / 4);

const HELLO = 'Hello there';

function input(extra: Partial<ChatCompletionInput> = {}, model = 'chatql-mock-long'): ChatCompletionInput {
  return { model, messages: [{ user: { content: HELLO } }], ...extra };
}

interface Clients {
  service: TestService;
  keys: Record<string, string>;
}

/** A service in api-key mode whose clients have the given own limits; prices from the mock's /model/info. */
async function start(mock: MockUpstream, clients: Record<string, object>, env: Record<string, string> = {}): Promise<Clients> {
  const keys = Object.fromEntries(Object.keys(clients).map((id) => [id, keyOf(id)]));
  const file = writeKeysFile(Object.entries(clients).map(([id, limits]) => ({ id, keySha256: sha256Hex(keys[id]!), limits })));
  const service = await startWarmService(mock, { AUTH_MODE: 'api-key', CLIENT_KEYS_FILE: file, UPSTREAM_PRICES: 'litellm', ...env });
  return { service, keys };
}

async function ask(service: TestService, key: string, chatInput: ChatCompletionInput): Promise<Outcome> {
  const { body } = await postGraphQL(
    service,
    ChatCompletionMutation,
    { input: chatInput },
    { headers: { authorization: `Bearer ${key}` } },
  );
  expect(body.errors, JSON.stringify(body)).toBeUndefined();
  return body.data!.chatCompletion;
}

async function viewer(service: TestService, key: string): Promise<Viewer> {
  const { body } = await postGraphQL(service, ViewerQuery, {}, { headers: { authorization: `Bearer ${key}` } });
  const result = body.data?.viewer;
  if (result?.__typename !== 'Viewer') throw new Error(JSON.stringify(body));
  return result;
}

/** Polls `viewer` until what it says was spent is `amount`: a stream settles as it ends, just after its last event. */
async function spentReaches(service: TestService, key: string, amount: number): Promise<Viewer> {
  const deadline = performance.now() + 5000;
  for (;;) {
    const seen = await viewer(service, key);
    if (Math.abs(seen.spentToday.amount - amount) < 1e-12 || performance.now() > deadline) return seen;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function costOf(outcome: Outcome): number {
  if (outcome.__typename !== 'ChatCompletion') throw new Error(`expected a ChatCompletion, got ${JSON.stringify(outcome)}`);
  const amount = outcome.usage?.cost?.amount;
  if (typeof amount !== 'number') throw new Error('no cost');
  return amount;
}

const sentMaxTokens = (mock: MockUpstream) => (chatCalls(mock).at(-1)!.body as { max_tokens?: number }).max_tokens;

let mock: MockUpstream;

beforeAll(async () => {
  mock = await startMock();
});

describe('a daily spend limit', () => {
  it('bounds the answer by what is left, settles at the real cost, then refuses with BudgetExceededError before any upstream call', async () => {
    const { service, keys } = await start(mock, { spender: { dailySpend: 0.001 } });
    const key = keys.spender!;
    const fresh = await viewer(service, key);
    expect(fresh.spentToday).toEqual({ amount: 0, currency: 'USD', source: 'PRICE_TABLE' });
    const midnight = new Date(new Date().setUTCHours(24, 0, 0, 0)).toISOString();
    expect(fresh.limits.dailySpend).toEqual({ limit: 0.001, remaining: 0.001, currency: 'USD', resetsAt: midnight });

    const first = await ask(service, key, input());
    // What is left once the prompt is in, at the output price: the answer's bound, sent upstream.
    const promptNanos = Math.ceil(promptEstimate(HELLO) * PRICE.input * 1000);
    expect(sentMaxTokens(mock)).toBe(Math.floor((1_000_000 - promptNanos) / NANOS_PER_ANSWER_TOKEN));
    const cost = costOf(first);
    expect(cost).toBeLessThanOrEqual(0.001);
    const after = await viewer(service, key);
    expect(after.spentToday.amount).toBeCloseTo(cost, 12);
    expect(after.limits.dailySpend?.remaining).toBeCloseTo(0.001 - cost, 12);

    const calls = chatCalls(mock).length;
    const refused = await ask(service, key, input());
    expect(refused).toMatchObject({ __typename: 'BudgetExceededError', source: 'SERVICE', retryable: false });
    expect((refused as { message: string }).message).toContain('daily spend limit (0.001 USD)');
    // The stream is refused the same way, as its one event.
    const stream = subscribeSse(
      service,
      ChatCompletionStreamSubscription,
      { input: input() },
      { headers: { authorization: `Bearer ${key}` } },
    );
    await stream.done;
    expect(stream.events.map((event) => event.chatCompletionStream.__typename)).toEqual(['BudgetExceededError']);
    expect(chatCalls(mock).length).toBe(calls);
    expect((await viewer(service, key)).spentToday.amount).toBeCloseTo(cost, 12);
  });

  it('holds a running stream at its upper cost, and gives back what it did not spend when it ends', async () => {
    const slow = await startMock({ wordDelayMs: 20 });
    const { service, keys } = await start(slow, { streamer: { dailySpend: 1 } });
    const key = keys.streamer!;
    const stream = subscribeSse(
      service,
      ChatCompletionStreamSubscription,
      { input: input({ maxTokens: 40 }) },
      { headers: { authorization: `Bearer ${key}` } },
    );
    await until(() => stream.events.length >= 2, 5000, 'the first chunks');
    const upper = (Math.ceil(promptEstimate(HELLO) * PRICE.input * 1000) + 40 * NANOS_PER_ANSWER_TOKEN) / 1e9;
    const running = await viewer(service, key);
    expect(running.spentToday.amount).toBeCloseTo(upper, 12);
    expect(running.limits.dailySpend?.remaining).toBeCloseTo(1 - upper, 12);
    await stream.done;
    const terminal = stream.events.at(-1)?.chatCompletionStream;
    if (terminal?.__typename !== 'ChatCompletion') throw new Error(JSON.stringify(terminal));
    const cost = terminal.usage?.cost?.amount ?? Number.NaN;
    const settled = await spentReaches(service, key, cost);
    expect(settled.spentToday.amount).toBeCloseTo(cost, 12);
    expect(cost).toBeLessThan(upper);
  });

  it('20 racing requests together never spend more than the limit', async () => {
    const { service, keys } = await start(mock, { racer: { dailySpend: 0.0005 } });
    const key = keys.racer!;
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => ask(service, key, input())));
    const answered = outcomes.filter((outcome) => outcome.__typename === 'ChatCompletion');
    expect(answered.length).toBeGreaterThan(0);
    expect(outcomes.every((outcome) => outcome.__typename === 'ChatCompletion' || outcome.__typename === 'BudgetExceededError')).toBe(true);
    const spent = answered.reduce((sum, outcome) => sum + costOf(outcome), 0);
    expect(spent).toBeLessThanOrEqual(0.0005);
    expect((await viewer(service, key)).spentToday.amount).toBeCloseTo(spent, 12);
  });

  it('multiplies the answer bound by n', async () => {
    const { service, keys } = await start(mock, { one: { dailySpend: 0.001 }, two: { dailySpend: 0.001 } });
    await ask(service, keys.one!, input());
    const single = sentMaxTokens(mock)!;
    const outcome = await ask(service, keys.two!, input({ n: 2 }));
    const double = sentMaxTokens(mock)!;
    expect(double).toBe(Math.floor(single / 2));
    if (outcome.__typename !== 'ChatCompletion') throw new Error(JSON.stringify(outcome));
    expect(outcome.choices.map((choice) => choice.index)).toEqual([0, 1]);
    expect(costOf(outcome)).toBeLessThanOrEqual(0.001);
  });

  it('refuses a model without a price as PermissionDeniedError, before any upstream call', async () => {
    const { service, keys } = await start(mock, { careful: { dailySpend: 5 }, free: {} });
    const calls = chatCalls(mock).length;
    const refused = await ask(service, keys.careful!, input({}, 'chatql-mock-bench'));
    expect(refused).toMatchObject({ __typename: 'PermissionDeniedError', source: 'SERVICE' });
    expect((refused as { message: string }).message).toContain('has no price');
    expect(chatCalls(mock).length).toBe(calls);
    // A client without a spend limit may use it.
    expect((await ask(service, keys.free!, input({}, 'chatql-mock-bench'))).__typename).toBe('ChatCompletion');
  });

  it('CLIENT_DAILY_SPEND is the default; a client may lift it with null; spend is counted for every client', async () => {
    const { service, keys } = await start(mock, { defaulted: {}, lifted: { dailySpend: null } }, { CLIENT_DAILY_SPEND: '2.5' });
    expect((await viewer(service, keys.defaulted!)).limits.dailySpend?.limit).toBe(2.5);
    expect((await viewer(service, keys.lifted!)).limits.dailySpend).toBeNull();
    const cost = costOf(await ask(service, keys.lifted!, input({ maxTokens: 10 })));
    expect((await viewer(service, keys.lifted!)).spentToday.amount).toBeCloseTo(cost, 12);
  });

  it('refuses a start-up with an unreadable CLIENT_DAILY_SPEND', async () => {
    await expect(startWarmService(mock, { CLIENT_DAILY_SPEND: 'five dollars' })).rejects.toThrow(/CLIENT_DAILY_SPEND must be an amount/);
  });
});

describe.skipIf(!REDIS_SERVER)(`spend shared by replicas through Redis${REDIS_SERVER ? '' : ` (skipped: ${REDIS_SKIP_REASON})`}`, () => {
  it('what one replica spent counts on the other, which refuses once the limit is spent', async () => {
    const redis = await startRedis();
    const key = keyOf('shared');
    const file = writeKeysFile([{ id: 'shared', keySha256: sha256Hex(key), limits: { dailySpend: 0.001 } }]);
    const env = { AUTH_MODE: 'api-key', CLIENT_KEYS_FILE: file, UPSTREAM_PRICES: 'litellm', REDIS_URL: redis.url };
    const [one, two] = [await startWarmService(mock, env), await startWarmService(mock, env)];
    // Until its connection is up, a replica counts in its own memory: wait for both.
    for (const replica of [one, two]) {
      const redisUp = async () =>
        ((await (await fetch(`${replica.url}/readyz`)).json()) as { limits: { redis?: string } }).limits.redis === 'up';
      const deadline = performance.now() + 10_000;
      while (!(await redisUp())) {
        if (performance.now() > deadline) throw new Error('redis did not come up');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const cost = costOf(await ask(one, key, input()));
    expect((await spentReaches(two, key, cost)).spentToday.amount).toBeCloseTo(cost, 12);
    const calls = chatCalls(mock).length;
    expect((await ask(two, key, input())).__typename).toBe('BudgetExceededError');
    expect(chatCalls(mock).length).toBe(calls);
  });
});
