/**
 * The fault suite of the upstream side: each fault injected against the real service (port 0) with
 * the mock upstream, over real clients (the mutation over HTTP, the stream over graphql-ws and
 * SSE). After each fault: the typed error, nothing of a stack, URL or key in what the client got,
 * the upstream request closed, and the service still answering a normal request. Then the circuit
 * breaker (UPSTREAM_BREAKER_*) and the fallbacks (UPSTREAM_FALLBACKS).
 *
 * Faults covered elsewhere, exactly, and not repeated here (test/e2e/errors.e2e.ts):
 * - no headers at all (fail-hang): "header timeout (UPSTREAM_TIMEOUT_MS=300, fail-hang)";
 * - a reset mid-stream (fail-break): "mid-stream failures" and "fail-break is not retried once a
 *   chunk was sent" (and a reset before any answer: "connection reset (retried)");
 * - an error object mid-stream (fail-stream-error, fail-vllm-error): "mid-stream failures";
 * - a stream ending with [DONE] but no finish reason (fail-no-finish): "mid-stream failures";
 * - a refused connection: "refused connection" (here it is the primary of a fallback test).
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { HUGE_CHUNK_BYTES, hugeChunkText, SLOW_HEADERS_MS } from '../../src/mock-upstream/models.js';
import type { MockUpstream } from '../../src/mock-upstream/server.js';
import type { ChatCompletionInput } from '../gql/graphql.js';
import { createWsClient, subscribeWs } from '../utils/clients.js';
import { ChatCompletionStreamSubscription } from '../utils/operations.js';
import {
  ALL_TRANSPORTS,
  ask,
  chatCalls,
  type Chunk,
  expectError,
  startWarmService,
  SUBSCRIPTION_TRANSPORTS as STREAMS,
} from '../utils/answers.js';
import { metric } from '../utils/metrics.js';
import { refusedPort, startMock, startService, type TestService, until } from '../utils/servers.js';

function input(model = 'chatql-mock', content = 'Hello there'): ChatCompletionInput {
  return { model, messages: [{ user: { content } }] };
}

const streamedText = (chunks: readonly Chunk[]) =>
  chunks.map((chunk) => chunk.choices.map((choice) => choice.delta.content ?? '').join('')).join('');

/** Every upstream request closed, nothing left running, and a normal mutation answered in full. */
async function expectRecovered(service: TestService, mock: MockUpstream): Promise<void> {
  await until(() => mock.openRequests() === 0, 5000, 'every upstream request to be closed');
  await until(() => service.app.operations.size === 0, 5000, 'no operation left running');
  const prompt = `Still there ${Math.random().toString(36).slice(2, 8)}`;
  const answer = await ask(service, 'mutation', input('chatql-mock', prompt));
  expect(answer.outcome.__typename, answer.raw).toBe('ChatCompletion');
  if (answer.outcome.__typename === 'ChatCompletion') {
    expect(answer.outcome.choices[0]?.message.content).toContain(prompt);
  }
}

const timeoutError = { __typename: 'UpstreamTimeoutError', source: 'UPSTREAM', retryable: true };
const unavailable = (status: number | null, retryable = true) => ({
  __typename: 'UpstreamUnavailableError',
  source: 'UPSTREAM',
  retryable,
  status,
});

// ---------------------------------------------------------------------------------------------

describe('upstream faults', () => {
  let mock: MockUpstream;
  let service: TestService;
  beforeAll(async () => {
    mock = await startMock();
    service = await startWarmService(mock, { UPSTREAM_TIMEOUT_MS: '500', UPSTREAM_IDLE_TIMEOUT_MS: '400' });
  });
  beforeEach(() => mock.reset());

  describe(`slow headers (fail-slow-headers: ${SLOW_HEADERS_MS} ms; UPSTREAM_TIMEOUT_MS=500)`, () => {
    it.each(ALL_TRANSPORTS)(
      'over %s → UpstreamTimeoutError after 500 ms (≥ 450, < 1900), 1 upstream call (not retried), closed',
      async (transport) => {
        const answer = await ask(service, transport, input('fail-slow-headers'));
        expectError(answer, timeoutError, [mock.url, `127.0.0.1:${mock.port}`]);
        expect(answer.chunks).toEqual([]);
        expect(answer.ms, 'waited the header timeout').toBeGreaterThanOrEqual(450);
        expect(answer.ms, 'before the headers would have come').toBeLessThan(SLOW_HEADERS_MS - 100);
        const calls = chatCalls(mock);
        expect(calls, 'a header timeout is not retried: 1 call').toHaveLength(1);
        await Promise.race([calls[0]!.closed, new Promise((resolve) => setTimeout(resolve, 3000))]);
        expect(calls[0]!.aborted, 'the upstream request was aborted').toBe(true);
        await expectRecovered(service, mock);
      },
    );
  });

  describe('headers, then silence (fail-headers-only; UPSTREAM_IDLE_TIMEOUT_MS=400)', () => {
    it.each(ALL_TRANSPORTS)(
      'over %s → UpstreamTimeoutError saying "stalled" after 400 ms, no chunk, 1 upstream call, closed',
      async (transport) => {
        const answer = await ask(service, transport, input('fail-headers-only'));
        expectError(answer, timeoutError, [mock.url]);
        expect(answer.outcome.__typename === 'UpstreamTimeoutError' && answer.outcome.message).toMatch(/stalled/);
        expect(answer.chunks).toEqual([]);
        expect(answer.ms, 'waited the idle timeout').toBeGreaterThanOrEqual(350);
        expect(answer.ms).toBeLessThan(5000);
        const calls = chatCalls(mock);
        // A stall before the first chunk waited the whole idle budget, like a header timeout: not retried.
        expect(calls, 'not retried: 1 call').toHaveLength(1);
        await Promise.race([calls[0]!.closed, new Promise((resolve) => setTimeout(resolve, 3000))]);
        expect(calls[0]!.closedAt, 'the upstream request was closed').toBeDefined();
        expect(calls[0]!.aborted).toBe(true);
        await expectRecovered(service, mock);
      },
    );
  });

  describe('a stall mid-stream (fail-stall: headers and a few words, then silence; UPSTREAM_IDLE_TIMEOUT_MS=400)', () => {
    it.each(STREAMS)(
      'over %s → the words, then UpstreamTimeoutError saying "stalled" as the terminal event, 1 upstream call, closed',
      async (transport) => {
        const answer = await ask(service, transport, input('fail-stall'));
        expect(answer.chunks.length, 'role chunk and 3 words before the stall').toBe(4);
        expect(streamedText(answer.chunks).length).toBeGreaterThan(0);
        expectError(answer, timeoutError, [mock.url]);
        expect(answer.outcome.__typename === 'UpstreamTimeoutError' && answer.outcome.message).toMatch(/stalled/);
        const calls = chatCalls(mock);
        expect(calls, 'never retried after the first chunk: 1 call').toHaveLength(1);
        await Promise.race([calls[0]!.closed, new Promise((resolve) => setTimeout(resolve, 3000))]);
        expect(calls[0]!.aborted, 'the upstream request was aborted').toBe(true);
        await expectRecovered(service, mock);
      },
    );
  });

  describe('a malformed JSON chunk (fail-malformed)', () => {
    it.each(STREAMS)(
      'over %s → the words, then UpstreamUnavailableError (not retryable: a malformed answer), 1 upstream call',
      async (transport) => {
        const answer = await ask(service, transport, input('fail-malformed'));
        expect(answer.chunks.length, 'role chunk and 3 words before the bad chunk').toBe(4);
        expectError(answer, unavailable(null, false), [mock.url]);
        expect(answer.outcome.__typename === 'UpstreamUnavailableError' && answer.outcome.message).toMatch(/malformed/);
        expect(answer.raw, 'the bad bytes are not passed on').not.toContain('chatcmpl-malformed');
        expect(chatCalls(mock)).toHaveLength(1);
        await expectRecovered(service, mock);
      },
    );

    it('over mutation (a truncated JSON body) → UpstreamUnavailableError (not retryable), 1 upstream call', async () => {
      const answer = await ask(service, 'mutation', input('fail-malformed'));
      expectError(answer, unavailable(null, false), [mock.url]);
      expect(chatCalls(mock)).toHaveLength(1);
      await expectRecovered(service, mock);
    });
  });

  // Decided: delivered intact. A chunk is passed on as it came; a limit would only turn an
  // upstream's legitimate (if odd) answer into an error the client cannot act on.
  describe(`a chunk of ${HUGE_CHUNK_BYTES / 1024 / 1024} MiB (fail-huge-chunk)`, () => {
    it.each(ALL_TRANSPORTS)(
      `over %s → delivered intact: ${HUGE_CHUNK_BYTES} characters, in one chunk and in the ChatCompletion`,
      async (transport) => {
        const answer = await ask(service, transport, input('fail-huge-chunk'));
        expect(answer.outcome.__typename).toBe('ChatCompletion');
        if (answer.outcome.__typename !== 'ChatCompletion') return;
        const content = answer.outcome.choices[0]?.message.content ?? '';
        expect(content.length).toBe(HUGE_CHUNK_BYTES);
        expect(content === hugeChunkText(), 'the content, byte for byte').toBe(true);
        if (transport !== 'mutation') {
          const withContent = answer.chunks.filter((chunk) => (chunk.choices[0]?.delta.content ?? '') !== '');
          expect(withContent, 'one content chunk').toHaveLength(1);
          expect(streamedText(answer.chunks) === hugeChunkText(), 'the chunk, byte for byte').toBe(true);
        }
        expect(chatCalls(mock)).toHaveLength(1);
        await expectRecovered(service, mock);
      },
      30_000,
    );
  });

  describe('no [DONE] and no finish reason: the body ends cleanly mid-answer (fail-no-done)', () => {
    it.each(STREAMS)(
      'over %s → the words, then UpstreamUnavailableError (the stream ended before the answer was complete), 1 upstream call',
      async (transport) => {
        const answer = await ask(service, transport, input('fail-no-done'));
        expect(answer.chunks.length).toBe(4);
        expectError(answer, unavailable(null), [mock.url]);
        expect(answer.outcome.__typename === 'UpstreamUnavailableError' && answer.outcome.message).toMatch(/ended before/);
        expect(chatCalls(mock)).toHaveLength(1);
        await expectRecovered(service, mock);
      },
    );
  });
});

describe('a DNS failure (a name under .invalid)', () => {
  const host = 'chatql-fault-test.invalid';
  let service: TestService;
  beforeAll(async () => {
    // No breaker: each operation must show the whole retry policy.
    service = await startService(null, { OPENAI_BASE_URL: `http://${host}/v1`, UPSTREAM_BREAKER_THRESHOLD: '0' });
  });

  it.each(ALL_TRANSPORTS)(
    'over %s → UpstreamUnavailableError without status after 3 attempts; the host named to the operator only, as the cause',
    async (transport) => {
      const attempts = () => service.logs.filter((line) => line.upstream === 'primary' && typeof line.attempt === 'number').length;
      const before = attempts();
      const answer = await ask(service, transport, input());
      expectError(answer, unavailable(null), [host]);
      expect(attempts() - before, 'the first attempt and 2 retries, each logged').toBe(3);
      const failed = service.logs.filter((line) => line.upstream === 'primary' && typeof line.attempt === 'number').slice(-3);
      for (const line of failed) expect((line.error as { network?: string }).network).toBe(`ENOTFOUND ${host}`);
      // Nowhere else (the start-up's one-line explanation names the URL it tried): not in the
      // messages, not in the redacted error text.
      for (const line of service.rawLogs) {
        if (line.includes(`"msg":"GET http://${host}/v1/models failed`)) continue;
        expect(line.replaceAll(`"network":"ENOTFOUND ${host}"`, '')).not.toContain(host);
      }
    },
    30_000,
  );
});

// ---------------------------------------------------------------------------------------------

interface BreakerJson {
  state: string;
  opensUntil?: string;
}

interface OpenBreakerJson {
  target: string;
  model: string | null;
  state: string;
  until: string;
}

interface Readiness {
  upstream: {
    breaker: BreakerJson | null;
    fallbacks?: Array<{ name: string; model: string | null; breaker: BreakerJson | null }>;
    openBreakers: OpenBreakerJson[];
    openBreakerCount: number;
  };
}

async function readiness(service: TestService): Promise<{ status: number; body: Readiness }> {
  const response = await fetch(`${service.url}/readyz`);
  return { status: response.status, body: (await response.json()) as Readiness };
}

const BREAKER_SERIES = 'chatql_upstream_breaker_state{upstream="primary"}';
const modelSeries = (model: string) => `chatql_upstream_model_breaker_state{upstream="primary",model="${model}"}`;

describe('circuit breakers per model (UPSTREAM_BREAKER_THRESHOLD=3, UPSTREAM_BREAKER_COOLDOWN_MS=3000, UPSTREAM_MAX_RETRIES=2)', () => {
  const COOLDOWN_MS = 3000;
  let mock: MockUpstream;
  let service: TestService;
  beforeEach(async () => {
    mock = await startMock();
    service = await startWarmService(mock, {
      UPSTREAM_BREAKER_THRESHOLD: '3',
      UPSTREAM_BREAKER_COOLDOWN_MS: String(COOLDOWN_MS),
    });
    mock.reset();
  });

  /** One mutation for `model` answered 500 three times: 3 attempts, 3 consecutive failures, so its breaker opens. */
  async function openBreaker(model = 'fail-500'): Promise<number> {
    const openedAfter = Date.now();
    if (model !== 'fail-500') mock.enqueue(...Array.from({ length: 3 }, () => ({ behaveAs: 'fail-500' })));
    const answer = await ask(service, 'mutation', input(model));
    expectError(answer, unavailable(500));
    return openedAfter;
  }

  it("opens fail-500's breaker after 3 consecutive failures; /readyz (still 200) lists it with target, model and until; the target's own stays closed", async () => {
    const { body: before } = await readiness(service);
    expect(before.upstream).toMatchObject({ breaker: { state: 'closed' }, openBreakers: [], openBreakerCount: 0 });
    expect(await metric(service, BREAKER_SERIES)).toBe(0);

    const openedAfter = await openBreaker();
    expect(chatCalls(mock)).toHaveLength(3);
    const { status, body } = await readiness(service);
    expect(status, '/readyz reports the breaker, it does not fail on it').toBe(200);
    expect(body.upstream.breaker, "the target's own breaker: a 500 says the host answers").toEqual({ state: 'closed' });
    expect(body.upstream.openBreakers).toEqual([{ target: 'primary', model: 'fail-500', state: 'open', until: expect.any(String) }]);
    expect(body.upstream.openBreakerCount).toBe(1);
    const until = Date.parse(body.upstream.openBreakers[0]!.until);
    expect(until).toBeGreaterThanOrEqual(openedAfter + COOLDOWN_MS);
    expect(until).toBeLessThanOrEqual(Date.now() + COOLDOWN_MS);
    expect(await metric(service, BREAKER_SERIES)).toBe(0);
    expect(await metric(service, modelSeries('fail-500'))).toBe(1);
    expect(await metric(service, 'chatql_upstream_breaker_opened_total{upstream="primary",model="fail-500"}')).toBe(1);
    const opened = service.logs.find((line) => String(line.msg).startsWith('upstream circuit breaker opened'));
    expect(opened).toMatchObject({ upstream: 'primary', model: 'fail-500', level: 40 });
  });

  it('while open, answers fail-500 at once (< 300 ms) with retryAfterSeconds and 0 upstream calls on all 3 transports, while chatql-mock is served', async () => {
    await openBreaker();
    mock.reset();
    for (const transport of ALL_TRANSPORTS) {
      const answer = await ask(service, transport, input('fail-500'));
      expectError(answer, unavailable(null), [mock.url]);
      const outcome = answer.outcome as Extract<typeof answer.outcome, { __typename: 'UpstreamUnavailableError' }>;
      expect(outcome.message).toMatch(/^The model "fail-500" is failing upstream; it will be tried again in [1-3] s\.$/);
      expect(outcome.retryAfterSeconds).toBeGreaterThan(0);
      expect(outcome.retryAfterSeconds).toBeLessThanOrEqual(COOLDOWN_MS / 1000);
      expect(answer.ms, transport).toBeLessThan(300);
      const served = await ask(service, transport, input('chatql-mock'));
      expect(served.outcome.__typename, `${transport}: another model is served`).toBe('ChatCompletion');
    }
    expect(
      chatCalls(mock).map((request) => (request.body as { model: string }).model),
      'only chatql-mock reached the upstream',
    ).toEqual(['chatql-mock', 'chatql-mock', 'chatql-mock']);
  });

  it('after the cool-down, lets 1 probe through (half-open: 2) and refuses others meanwhile; a cancelled probe hands the probe on; a success closes it (0)', async () => {
    await openBreaker('chatql-mock');
    await new Promise((resolve) => setTimeout(resolve, COOLDOWN_MS + 100));
    expect((await readiness(service)).body.upstream.openBreakers).toMatchObject([{ model: 'chatql-mock', state: 'halfOpen' }]);
    expect(await metric(service, modelSeries('chatql-mock'))).toBe(2);
    mock.reset();

    // The probe hangs upstream, long enough to send another call meanwhile; then its client leaves.
    mock.enqueue({ action: 'hang' });
    const probe = subscribeWs(createWsClient(service), ChatCompletionStreamSubscription, { input: input() });
    await until(() => chatCalls(mock).length === 1, 2000, 'the probe to reach the upstream');
    const meanwhile = await ask(service, 'graphql-ws', input());
    expectError(meanwhile, unavailable(null));
    expect(meanwhile.outcome.__typename === 'UpstreamUnavailableError' && meanwhile.outcome.retryAfterSeconds).toBeGreaterThan(0);
    expect(meanwhile.ms).toBeLessThan(300);
    expect(chatCalls(mock), 'only the probe reached the upstream').toHaveLength(1);
    probe.stop();
    await until(() => mock.openRequests() === 0, 3000, 'the probe to be aborted');
    expect((await readiness(service)).body.upstream.openBreakers, 'a cancelled probe proves nothing').toMatchObject([
      { model: 'chatql-mock', state: 'halfOpen' },
    ]);

    const probed = await ask(service, 'mutation', input());
    expect(probed.outcome.__typename, probed.raw).toBe('ChatCompletion');
    expect(chatCalls(mock), 'the next call was the probe').toHaveLength(2);
    expect((await readiness(service)).body.upstream.openBreakers).toEqual([]);
    expect(await metric(service, modelSeries('chatql-mock'))).toBe(0);
    expect(
      service.logs.some((line) => line.msg === 'upstream circuit breaker closed: the probe succeeded' && line.model === 'chatql-mock'),
    ).toBe(true);
    await expectRecovered(service, mock);
  });

  it('a probe that fails opens it again at once: 1 upstream call (the open breaker stops the retries)', async () => {
    await openBreaker();
    await new Promise((resolve) => setTimeout(resolve, COOLDOWN_MS + 100));
    mock.reset();
    const answer = await ask(service, 'sse', input('fail-500'));
    expectError(answer, unavailable(500));
    expect(chatCalls(mock), 'the probe only').toHaveLength(1);
    expect((await readiness(service)).body.upstream.openBreakers).toMatchObject([{ model: 'fail-500', state: 'open' }]);
    expect(await metric(service, modelSeries('fail-500'))).toBe(1);
    expect(await metric(service, 'chatql_upstream_breaker_opened_total{upstream="primary",model="fail-500"}')).toBe(2);
  });

  it('streams that start and then break count as failures: after 3 (fail-break) it opens; a stream that ends whole resets the count', async () => {
    // Two broken streams, then a whole one, of the same model: the count starts again.
    mock.enqueue({ behaveAs: 'fail-break' }, { behaveAs: 'fail-break' });
    for (let i = 0; i < 3; i++) {
      const answer = await ask(service, 'graphql-ws', input());
      expect(answer.chunks.length).toBeGreaterThan(0);
      expect(answer.outcome.__typename).toBe(i < 2 ? 'UpstreamUnavailableError' : 'ChatCompletion');
    }
    expect((await readiness(service)).body.upstream.openBreakers).toEqual([]);
    mock.enqueue({ behaveAs: 'fail-break' }, { behaveAs: 'fail-break' }, { behaveAs: 'fail-break' });
    for (let i = 0; i < 3; i++) {
      const answer = await ask(service, 'sse', input());
      expect(answer.chunks.length, 'the stream had started').toBeGreaterThan(0);
      expectError(answer, { __typename: 'UpstreamUnavailableError' });
    }
    expect((await readiness(service)).body.upstream.openBreakers).toMatchObject([{ model: 'chatql-mock', state: 'open' }]);
    const before = chatCalls(mock).length;
    expectError(await ask(service, 'graphql-ws', input()), unavailable(null));
    expect(chatCalls(mock), 'the open breaker answered without the upstream').toHaveLength(before);
  });

  it('4xx and 429 answers do not count: 6 of them (fail-400, fail-429, fail-budget, twice each) open nothing', async () => {
    for (const model of ['fail-400', 'fail-429', 'fail-budget', 'fail-400', 'fail-429', 'fail-budget']) {
      const answer = await ask(service, 'mutation', input(model));
      expect(answer.outcome.__typename).not.toBe('ChatCompletion');
    }
    expect(chatCalls(mock)).toHaveLength(6);
    expect((await readiness(service)).body.upstream).toMatchObject({ breaker: { state: 'closed' }, openBreakers: [] });
  });

  it('client cancellations do not count: 4 streams left while the upstream hangs open nothing', async () => {
    for (let i = 0; i < 4; i++) {
      const subscription = subscribeWs(createWsClient(service), ChatCompletionStreamSubscription, { input: input('fail-hang') });
      await until(() => chatCalls(mock).length === i + 1, 3000, 'the request to reach the upstream');
      subscription.stop();
      await until(() => mock.openRequests() === 0, 3000, 'the upstream request to be aborted');
    }
    expect((await readiness(service)).body.upstream).toMatchObject({ breaker: { state: 'closed' }, openBreakers: [] });
    await expectRecovered(service, mock);
  });
});

// ---------------------------------------------------------------------------------------------

function operationLines(service: TestService): Array<Record<string, unknown>> {
  return service.logs.filter((line) => line.msg === 'operation');
}

describe('fallbacks (UPSTREAM_FALLBACKS)', () => {
  describe('a refused primary, a fallback URL', () => {
    let fallback: MockUpstream;
    let service: TestService;
    let primaryUrl: string;
    beforeAll(async () => {
      fallback = await startMock();
      primaryUrl = `http://127.0.0.1:${await refusedPort()}/v1`;
      service = await startService(null, {
        OPENAI_BASE_URL: primaryUrl,
        UPSTREAM_FALLBACKS: fallback.url,
        UPSTREAM_BREAKER_THRESHOLD: '0',
      });
    });

    it.each(ALL_TRANSPORTS)(
      "over %s → a ChatCompletion from fallback-1 after the primary's 3 attempts; 1 call to the fallback; logged",
      async (transport) => {
        fallback.reset();
        const answer = await ask(service, transport, input('chatql-mock', `fallback over ${transport}`));
        expect(answer.outcome.__typename, answer.raw).toBe('ChatCompletion');
        if (answer.outcome.__typename === 'ChatCompletion') {
          expect(answer.outcome.model).toBe('chatql-mock');
          expect(answer.outcome.choices[0]?.message.content).toContain(`fallback over ${transport}`);
        }
        expect(chatCalls(fallback)).toHaveLength(1);
        expect(answer.raw).not.toContain(primaryUrl);
        expect(answer.raw).not.toContain(fallback.url);
        const line = operationLines(service).at(-1);
        expect(line).toMatchObject({ upstream: 'fallback-1', outcome: 'ChatCompletion', retries: 2 });
      },
    );

    it('/metrics counts 3 fallbacks used; /readyz lists fallback-1 by name (no URL)', async () => {
      expect(await metric(service, 'chatql_upstream_fallbacks_total{upstream="fallback-1"}')).toBe(3);
      const { body } = await readiness(service);
      expect(body.upstream.breaker, 'UPSTREAM_BREAKER_THRESHOLD=0: no breaker').toBeNull();
      expect(body.upstream.fallbacks).toEqual([{ name: 'fallback-1', model: null, breaker: null }]);
      expect(JSON.stringify(body)).not.toContain(fallback.url);
    });
  });

  describe('an open primary breaker sends calls straight to the fallback', () => {
    it('threshold 2: after the primary fails twice, the next call makes 0 primary attempts; both served by fallback-1', async () => {
      const fallback = await startMock();
      const primary = await startMock();
      const service = await startWarmService(primary, { UPSTREAM_FALLBACKS: fallback.url, UPSTREAM_BREAKER_THRESHOLD: '2' });
      primary.reset();
      primary.enqueue({ action: 'reset' }, { action: 'reset' }, { action: 'reset' });
      const first = await ask(service, 'mutation', input());
      expect(first.outcome.__typename, first.raw).toBe('ChatCompletion');
      expect(chatCalls(primary), 'the breaker opened after 2 of the 3 attempts').toHaveLength(2);
      const second = await ask(service, 'graphql-ws', input());
      expect(second.outcome.__typename, second.raw).toBe('ChatCompletion');
      expect(chatCalls(primary), 'no call to the open primary').toHaveLength(2);
      expect(chatCalls(fallback)).toHaveLength(2);
      const { body } = await readiness(service);
      expect(body.upstream.breaker?.state).toBe('open');
      expect(body.upstream.fallbacks?.[0]?.breaker).toEqual({ state: 'closed' });
      expect(await metric(service, 'chatql_upstream_breaker_state{upstream="fallback-1"}')).toBe(0);
    });
  });

  describe('a #model fallback on the same upstream (UPSTREAM_FALLBACKS=#chatql-mock)', () => {
    let mock: MockUpstream;
    let service: TestService;
    beforeAll(async () => {
      mock = await startMock();
      service = await startWarmService(mock, { UPSTREAM_FALLBACKS: '#chatql-mock', UPSTREAM_BREAKER_THRESHOLD: '0' });
    });
    beforeEach(() => mock.reset());

    it.each(ALL_TRANSPORTS)(
      'over %s, fail-500 → 3 calls for fail-500, then 1 for chatql-mock, which answers with its own model',
      async (transport) => {
        const answer = await ask(service, transport, input('fail-500'));
        expect(answer.outcome.__typename, answer.raw).toBe('ChatCompletion');
        if (answer.outcome.__typename === 'ChatCompletion') expect(answer.outcome.model).toBe('chatql-mock');
        const models = chatCalls(mock).map((request) => (request.body as { model: string }).model);
        expect(models).toEqual(['fail-500', 'fail-500', 'fail-500', 'chatql-mock']);
        expect(operationLines(service).at(-1)).toMatchObject({ upstream: 'fallback-1', model: 'fail-500' });
      },
    );

    it.each(ALL_TRANSPORTS)('over %s, a 4xx is the answer: fail-400 → InvalidRequestError after 1 call, no fallback', async (transport) => {
      const answer = await ask(service, transport, input('fail-400'));
      expectError(answer, { __typename: 'InvalidRequestError', source: 'UPSTREAM' });
      expect(chatCalls(mock)).toHaveLength(1);
    });

    it.each(ALL_TRANSPORTS)('over %s, a 429 is the answer: fail-429 → RateLimitError after 1 call, no fallback', async (transport) => {
      const answer = await ask(service, transport, input('fail-429'));
      expectError(answer, { __typename: 'RateLimitError', retryAfterSeconds: 30 });
      expect(chatCalls(mock)).toHaveLength(1);
    });

    it.each(STREAMS)(
      'over %s, no fallback after the first chunk: fail-break → its chunks, then UpstreamUnavailableError, 1 upstream call',
      async (transport) => {
        const answer = await ask(service, transport, input('fail-break'));
        expect(answer.chunks.length).toBeGreaterThan(0);
        expectError(answer, unavailable(null));
        expect(chatCalls(mock).map((request) => (request.body as { model: string }).model)).toEqual(['fail-break']);
        expect(operationLines(service).at(-1)?.upstream, 'served by the primary').toBeUndefined();
      },
    );

    it('over graphql-ws, no fallback after the first chunk: a mid-stream stall of the primary (UPSTREAM_IDLE_TIMEOUT_MS) is its terminal error', async () => {
      const stallService = await startWarmService(mock, {
        UPSTREAM_FALLBACKS: '#chatql-mock',
        UPSTREAM_IDLE_TIMEOUT_MS: '400',
        UPSTREAM_BREAKER_THRESHOLD: '0',
      });
      mock.reset();
      const answer = await ask(stallService, 'graphql-ws', input('fail-stall'));
      expect(answer.chunks.length).toBe(4);
      expectError(answer, timeoutError);
      expect(chatCalls(mock).map((request) => (request.body as { model: string }).model)).toEqual(['fail-stall']);
    });
  });

  it("when every target fails, the answer is the primary's error: refused primary, fallback 503 → UpstreamUnavailableError without status", async () => {
    const fallback = await startMock();
    const service = await startService(null, {
      OPENAI_BASE_URL: `http://127.0.0.1:${await refusedPort()}/v1`,
      UPSTREAM_FALLBACKS: `${fallback.url}#chatql-mock`,
      UPSTREAM_BREAKER_THRESHOLD: '0',
    });
    fallback.enqueue({ status: 503, body: { error: { message: 'busy', type: 'server_error', param: null, code: null } } });
    const answer = await ask(service, 'mutation', input());
    expectError(answer, unavailable(null), [fallback.url]);
    expect(chatCalls(fallback), 'one attempt on a fallback, not retried').toHaveLength(1);
  });
});
