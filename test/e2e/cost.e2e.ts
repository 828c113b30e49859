/**
 * The cost of each request as data, end to end on every transport: the upstream's own figure
 * (LiteLLM's x-litellm-response-cost header, usage.cost in a stream's last chunk) where it reports
 * one, else computed from the model's prices (MODEL_PRICES_FILE, or the proxy's GET /model/info
 * with UPSTREAM_PRICES=litellm); prices in the models query; the log line, the metric, SIGHUP.
 */
import { writeFileSync } from 'node:fs';

import { beforeAll, describe, expect, it } from 'vitest';

import type { MockUpstream } from '../../src/mock-upstream/server.js';
import type { ChatCompletionInput, ModelsQuery as ModelsQueryResult } from '../gql/graphql.js';
import { ALL_TRANSPORTS, ask, type Answer, startWarmService } from '../utils/answers.js';
import { postGraphQL } from '../utils/clients.js';
import { writeTempFile } from '../utils/keys.js';
import { metric } from '../utils/metrics.js';
import { ModelsQuery } from '../utils/operations.js';
import { startMock, type TestService, until } from '../utils/servers.js';

/** The mock's prices per million tokens (its GET /model/info says the same). */
const MOCK_PRICES = {
  'chatql-mock': { input: 0.15, output: 0.6 },
  'chatql-mock-reasoning': { input: 1.1, output: 4.4 },
} as const;

function input(model: string, extra: Partial<ChatCompletionInput> = {}): ChatCompletionInput {
  return { model, messages: [{ user: { content: 'What does this cost?' } }], ...extra };
}

function completion(answer: Answer) {
  const outcome = answer.outcome;
  if (outcome.__typename !== 'ChatCompletion') throw new Error(`expected a ChatCompletion, got ${answer.raw.slice(0, 500)}`);
  return outcome;
}

/** What `usage` costs at `price` (per million tokens), rounded as the service rounds. */
function priced(price: { input: number; output: number }, usage: { promptTokens: number; completionTokens: number }): number {
  return Math.round(((usage.promptTokens * price.input + usage.completionTokens * price.output) / 1e6) * 1e9) / 1e9;
}

/** The operation log lines of `model`. */
function operationLines(service: TestService, model: string) {
  return service.logs.filter((line) => line.msg === 'operation' && line.model === model);
}

let mock: MockUpstream;

beforeAll(async () => {
  mock = await startMock();
});

describe('with UPSTREAM_PRICES=litellm', () => {
  let service: TestService;

  beforeAll(async () => {
    service = await startWarmService(mock, { UPSTREAM_PRICES: 'litellm', UPSTREAM_MAX_RETRIES: '0' });
  });

  it.each(ALL_TRANSPORTS)("%s: a model that reports its cost: the upstream's figure, source UPSTREAM", async (transport) => {
    const answer = await ask(service, transport, input('chatql-mock'));
    const done = completion(answer);
    const usage = done.usage;
    if (!usage) throw new Error('no usage');
    // The mock reports exactly what its prices make, so the figure is checkable.
    expect(usage.cost).toEqual({ amount: priced(MOCK_PRICES['chatql-mock'], usage), currency: 'USD', source: 'UPSTREAM' });
    expect(usage.cost?.amount).toBeGreaterThan(0);
    if (transport !== 'mutation') {
      // The stream's last chunk (the usage chunk) carries the cost too.
      const last = answer.chunks.at(-1);
      expect(last?.usage?.cost).toEqual(usage.cost);
      expect(answer.chunks.slice(0, -1).every((chunk) => chunk.usage === null)).toBe(true);
    }
    // A support id to quote: the upstream's call id, in the answer and in the log line.
    expect(done.upstreamRequestId).toMatch(/^[0-9a-f-]{36}$/);
    await until(() => operationLines(service, 'chatql-mock').some((line) => line.upstreamRequestId === done.upstreamRequestId));
    const line = operationLines(service, 'chatql-mock').find((entry) => entry.upstreamRequestId === done.upstreamRequestId);
    expect(line?.cost).toEqual(usage.cost);
  });

  it.each(ALL_TRANSPORTS)('%s: a priced model that does not report: computed from /model/info, source PRICE_TABLE', async (transport) => {
    const usage = completion(await ask(service, transport, input('chatql-mock-reasoning'))).usage;
    if (!usage) throw new Error('no usage');
    expect(usage.completionTokensDetails?.reasoningTokens).toBeGreaterThan(0);
    expect(usage.cost).toEqual({ amount: priced(MOCK_PRICES['chatql-mock-reasoning'], usage), currency: 'USD', source: 'PRICE_TABLE' });
  });

  it('an unpriced model that reports nothing has cost null', async () => {
    const usage = completion(await ask(service, 'mutation', input('fail-content-filter'))).usage;
    expect(usage?.cost).toBeNull();
  });

  it('the models query shows the prices the proxy publishes, null for an unpriced model', async () => {
    const { body } = await postGraphQL(service, ModelsQuery, {});
    const list = body.data?.models as Extract<ModelsQueryResult['models'], { __typename: 'ModelList' }>;
    const byId = new Map(list.models.map((model) => [model.id, model.pricing]));
    expect(byId.get('chatql-mock')).toEqual({
      inputPerMillionTokens: 0.15,
      outputPerMillionTokens: 0.6,
      cachedInputPerMillionTokens: 0.075,
      currency: 'USD',
    });
    expect(byId.get('chatql-mock-reasoning')).toEqual({
      inputPerMillionTokens: 1.1,
      outputPerMillionTokens: 4.4,
      cachedInputPerMillionTokens: null,
      currency: 'USD',
    });
    expect(byId.get('fail-400')).toBeNull();
  });

  it('counts chatql_cost_total by model, client and currency', async () => {
    const series = 'chatql_cost_total{model="chatql-mock",client="anonymous",currency="USD"}';
    const before = (await metric(service, series)) ?? 0;
    const usage = completion(await ask(service, 'mutation', input('chatql-mock'))).usage;
    expect(((await metric(service, series)) ?? 0) - before).toBeCloseTo(usage?.cost?.amount ?? Number.NaN, 12);
  });
});

describe('with MODEL_PRICES_FILE', () => {
  let service: TestService;
  let pricesFile: string;
  // Its own mock: whether /model/info is called is part of what is tested.
  let mock: MockUpstream;

  beforeAll(async () => {
    mock = await startMock();
    pricesFile = writeTempFile(
      'prices.json',
      JSON.stringify({
        'chatql-mock-reasoning': { inputPerMillionTokens: 2, outputPerMillionTokens: 8 },
        'chatql-mock*': { inputPerMillionTokens: 1, outputPerMillionTokens: 1 },
      }),
    );
    service = await startWarmService(mock, { MODEL_PRICES_FILE: pricesFile, PRICE_CURRENCY: 'EUR', UPSTREAM_MAX_RETRIES: '0' });
  });

  it.each(ALL_TRANSPORTS)('%s: the file prices a model that does not report (an exact id over a pattern)', async (transport) => {
    const usage = completion(await ask(service, transport, input('chatql-mock-reasoning'))).usage;
    if (!usage) throw new Error('no usage');
    expect(usage.cost).toEqual({ amount: priced({ input: 2, output: 8 }, usage), currency: 'EUR', source: 'PRICE_TABLE' });
  });

  it("the upstream's own figure still wins over the file", async () => {
    const usage = completion(await ask(service, 'mutation', input('chatql-mock'))).usage;
    if (!usage) throw new Error('no usage');
    expect(usage.cost?.source).toBe('UPSTREAM');
    expect(usage.cost?.amount).toBe(priced(MOCK_PRICES['chatql-mock'], usage));
  });

  it('pricing comes from the file alone without UPSTREAM_PRICES (patterns included)', async () => {
    const { body } = await postGraphQL(service, ModelsQuery, {});
    const list = body.data?.models as Extract<ModelsQueryResult['models'], { __typename: 'ModelList' }>;
    const byId = new Map(list.models.map((model) => [model.id, model.pricing]));
    expect(byId.get('chatql-mock-reasoning')).toMatchObject({ inputPerMillionTokens: 2, outputPerMillionTokens: 8, currency: 'EUR' });
    expect(byId.get('chatql-mock-refusal')).toMatchObject({ inputPerMillionTokens: 1, outputPerMillionTokens: 1 });
    expect(byId.get('fail-400')).toBeNull();
    expect(mock.requests.some((request) => request.path.endsWith('/model/info'))).toBe(false);
  });

  it('SIGHUP reloads the file; a file with problems changes nothing', async () => {
    writeFileSync(pricesFile, JSON.stringify({ 'chatql-mock-reasoning': { inputPerMillionTokens: 10, outputPerMillionTokens: 10 } }));
    expect(service.app.reloadPrices()?.ok).toBe(true);
    let usage = completion(await ask(service, 'mutation', input('chatql-mock-reasoning'))).usage;
    expect(usage?.cost?.amount).toBe(priced({ input: 10, output: 10 }, usage!));
    writeFileSync(pricesFile, JSON.stringify({ 'chatql-mock-reasoning': { inputPerMillionTokens: 'free' } }));
    const result = service.app.reloadPrices();
    expect(result?.ok).toBe(false);
    expect(
      service.logs.some((line) => line.msg === 'MODEL_PRICES_FILE not reloaded: the file has problems; the prices read before stay in use'),
    ).toBe(true);
    usage = completion(await ask(service, 'mutation', input('chatql-mock-reasoning'))).usage;
    expect(usage?.cost?.amount).toBe(priced({ input: 10, output: 10 }, usage!));
  });
});

describe('a proxy that refuses GET /model/info', () => {
  it('is logged once, and the file alone prices models', async () => {
    const refusing = await startMock({ modelInfo: false });
    const pricesFile = writeTempFile(
      'prices-only.json',
      JSON.stringify({ 'chatql-mock-reasoning': { inputPerMillionTokens: 3, outputPerMillionTokens: 3 } }),
    );
    const service = await startWarmService(refusing, { UPSTREAM_PRICES: 'litellm', MODEL_PRICES_FILE: pricesFile, MODELS_CACHE_MS: '0' });
    const warning = 'UPSTREAM_PRICES=litellm: the upstream did not answer GET /model/info; only MODEL_PRICES_FILE prices models';
    await until(() => service.logs.some((line) => line.msg === warning), 5000, 'the warning');
    for (let i = 0; i < 3; i++) {
      const usage = completion(await ask(service, 'mutation', input('chatql-mock-reasoning'))).usage;
      expect(usage?.cost).toEqual({ amount: priced({ input: 3, output: 3 }, usage!), currency: 'USD', source: 'PRICE_TABLE' });
      await postGraphQL(service, ModelsQuery, {});
    }
    expect(refusing.requests.filter((request) => request.path.endsWith('/model/info')).length).toBeGreaterThan(1);
    expect(service.logs.filter((line) => line.msg === warning)).toHaveLength(1);
  });
});
