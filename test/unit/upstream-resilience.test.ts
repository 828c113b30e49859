/**
 * The upstream resilience settings (UPSTREAM_IDLE_TIMEOUT_MS, UPSTREAM_BREAKER_*, UPSTREAM_FALLBACKS)
 * as loadConfig reads them, the UPSTREAM_FALLBACKS parser, and the circuit breaker's state machine
 * in process (the same behaviour end to end: test/e2e/faults.e2e.ts).
 */
import { describe, expect, it, vi } from 'vitest';

import { CircuitBreaker, HealthTicket, MAX_MODEL_BREAKERS, type Refusal, TargetHealth, type Verdict } from '../../src/upstream/breaker.js';
import { parseUpstreamFallbacks } from '../../src/upstream/fallbacks.js';
import { LITELLM, ok, problems } from '../utils/config.js';

describe('loadConfig: upstream resilience', () => {
  it('has the documented defaults: idle 60000 ms, breaker 5 failures / 30000 ms, no fallbacks', () => {
    const { upstream } = ok({});
    expect(upstream.idleTimeoutMs).toBe(60_000);
    expect(upstream.breakerThreshold).toBe(5);
    expect(upstream.breakerCooldownMs).toBe(30_000);
    expect(upstream.fallbacks).toEqual([]);
  });

  it('reads every variable; 0 turns the idle timeout and the breaker off', () => {
    const { upstream } = ok({
      ...LITELLM,
      UPSTREAM_IDLE_TIMEOUT_MS: '0',
      UPSTREAM_BREAKER_THRESHOLD: '0',
      UPSTREAM_BREAKER_COOLDOWN_MS: '1500',
      UPSTREAM_FALLBACKS: 'http://backup:4000/v1, #gpt-4o-mini',
    });
    expect(upstream).toMatchObject({
      idleTimeoutMs: 0,
      breakerThreshold: 0,
      breakerCooldownMs: 1500,
      fallbacks: [
        { baseURL: 'http://backup:4000/v1', model: undefined },
        { baseURL: undefined, model: 'gpt-4o-mini' },
      ],
    });
  });

  it('reports 4 bad values as 4 problems, one line each naming its variable', () => {
    expect(
      problems({
        ...LITELLM,
        UPSTREAM_IDLE_TIMEOUT_MS: '-1',
        UPSTREAM_BREAKER_THRESHOLD: 'five',
        UPSTREAM_BREAKER_COOLDOWN_MS: '0',
        UPSTREAM_FALLBACKS: 'backup:4000/v1',
      }),
    ).toEqual([
      'UPSTREAM_IDLE_TIMEOUT_MS must be a whole number from 0 to 3600000 (got "-1")',
      'UPSTREAM_BREAKER_THRESHOLD must be a whole number from 0 to 1000 (got "five")',
      'UPSTREAM_BREAKER_COOLDOWN_MS must be a whole number from 1 to 3600000 (got "0")',
      'UPSTREAM_FALLBACKS item 1: "backup:4000/v1" is not an http(s) URL such as http://backup:4000/v1 (e.g. http://backup:4000/v1, http://backup:4000/v1#gpt-4o-mini or #gpt-4o-mini)',
    ]);
  });

  it('refuses a fallback that is OPENAI_BASE_URL itself with the same model (1 problem), but not with a #model', () => {
    expect(problems({ ...LITELLM, UPSTREAM_FALLBACKS: 'http://localhost:4000/v1/' })).toEqual([
      'UPSTREAM_FALLBACKS item 1 is OPENAI_BASE_URL itself with the same model: give it another URL or a #model',
    ]);
    expect(ok({ ...LITELLM, UPSTREAM_FALLBACKS: 'http://localhost:4000/v1#gpt-4o-mini' }).upstream.fallbacks).toEqual([
      { baseURL: 'http://localhost:4000/v1', model: 'gpt-4o-mini' },
    ]);
  });
});

describe('parseUpstreamFallbacks', () => {
  it('reads the 3 item forms in order: <baseURL>, <baseURL>#<model>, #<model> (spaces trimmed)', () => {
    expect(parseUpstreamFallbacks(' http://a:4000/v1 , https://b.example.com/v1#llama-3.1-8b,#gpt-4o-mini ')).toEqual({
      fallbacks: [
        { baseURL: 'http://a:4000/v1', model: undefined },
        { baseURL: 'https://b.example.com/v1', model: 'llama-3.1-8b' },
        { baseURL: undefined, model: 'gpt-4o-mini' },
      ],
      problems: [],
    });
  });

  it('reports each bad item (4 of 5 here) on its own line, by position', () => {
    const { fallbacks, problems: found } = parseUpstreamFallbacks('http://ok:1/v1,,#,ftp://x/v1,http://y/v1#two words');
    expect(fallbacks).toEqual([{ baseURL: 'http://ok:1/v1', model: undefined }]);
    expect(found).toHaveLength(4);
    expect(found[0]).toMatch(/^UPSTREAM_FALLBACKS item 2 is empty/);
    expect(found[1]).toMatch(/^UPSTREAM_FALLBACKS item 3 \("#"\): the model after # must be a name/);
    expect(found[2]).toMatch(/^UPSTREAM_FALLBACKS item 4: "ftp:\/\/x\/v1" is not an http\(s\) URL/);
    expect(found[3]).toMatch(/^UPSTREAM_FALLBACKS item 5 \("http:\/\/y\/v1#two words"\): the model after #/);
  });

  it('does not echo credentials of a bad URL', () => {
    const { problems: found } = parseUpstreamFallbacks('htp://user:s3cret-pass@host/v1');
    expect(found).toHaveLength(1);
    expect(found[0]).not.toContain('s3cret-pass');
  });

  it('refuses more than 10 items', () => {
    const items = Array.from({ length: 11 }, (_, i) => `#model-${i}`).join(',');
    expect(parseUpstreamFallbacks(items).problems).toEqual(['UPSTREAM_FALLBACKS: at most 10 fallbacks (got 11)']);
  });
});

describe('CircuitBreaker (threshold 2, cool-down 80 ms)', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** One call through the breaker, settled with `verdict`; false when it was refused. */
  function call(breaker: CircuitBreaker, verdict: Verdict): boolean {
    const pass = breaker.admit();
    if (!pass) return false;
    breaker.settle(pass, verdict);
    return true;
  }

  function opened(events: string[] = []): CircuitBreaker {
    const breaker = new CircuitBreaker(2, 80, { onOpen: () => events.push('open'), onClose: () => events.push('close') });
    call(breaker, 'failure');
    call(breaker, 'failure');
    return breaker;
  }

  it('opens after 2 consecutive failures, not after 1; a success in between resets the count', () => {
    const breaker = new CircuitBreaker(2, 80);
    call(breaker, 'failure');
    call(breaker, 'success');
    call(breaker, 'failure');
    expect(breaker.state).toBe('closed');
    call(breaker, 'failure');
    expect(breaker.state).toBe('open');
    expect(breaker.admit()).toBeNull();
    const status = breaker.status();
    expect(status.state).toBe('open');
    expect(Date.parse(status.opensUntil ?? '') - Date.now()).toBeLessThanOrEqual(80);
    expect(breaker.blockedUntil()).toBe(Date.parse(status.opensUntil ?? ''));
  });

  it('cancellations count neither way: 4 of them between 2 failures still open it', () => {
    const breaker = new CircuitBreaker(2, 80);
    call(breaker, 'failure');
    for (let i = 0; i < 4; i++) call(breaker, 'cancelled');
    expect(breaker.state).toBe('closed');
    call(breaker, 'failure');
    expect(breaker.state).toBe('open');
  });

  it('after the cool-down lets exactly 1 probe through (others refused meanwhile); its success closes it', async () => {
    const events: string[] = [];
    const breaker = opened(events);
    await sleep(100);
    expect(breaker.state).toBe('halfOpen');
    expect(breaker.blockedUntil()).toBeNull();
    const probe = breaker.admit();
    expect(probe?.probe).toBe(true);
    expect(breaker.admit(), 'a probe is under way').toBeNull();
    expect(breaker.blockedUntil()! - Date.now(), 'a probe under way: come back in about a second').toBeGreaterThan(500);
    breaker.settle(probe!, 'success');
    expect(breaker.state).toBe('closed');
    expect(events).toEqual(['open', 'close']);
  });

  it('a failed probe opens it again for another cool-down', async () => {
    const events: string[] = [];
    const breaker = opened(events);
    await sleep(100);
    call(breaker, 'failure');
    expect(breaker.state).toBe('open');
    expect(events).toEqual(['open', 'open']);
  });

  it('a cancelled probe hands the probe to the next call (it does not keep the breaker open)', async () => {
    const events: string[] = [];
    const breaker = opened(events);
    await sleep(100);
    call(breaker, 'cancelled');
    expect(breaker.state).toBe('halfOpen');
    const next = breaker.admit();
    expect(next?.probe, 'the next call is the probe').toBe(true);
    breaker.settle(next!, 'success');
    expect(breaker.state).toBe('closed');
    expect(events).toEqual(['open', 'close']);
  });

  it("a stream probe's first chunk closes it, one failure short of the threshold: a break then opens it again at once", async () => {
    const breaker = opened();
    await sleep(100);
    const probe = breaker.admit()!;
    breaker.settle(probe, 'provisional');
    expect(breaker.state, 'the model answers: others may go').toBe('closed');
    expect(breaker.admit()?.probe).toBe(false);
    // The probe stream then breaks: its end settles as a plain call.
    breaker.settle({ breaker, probe: false }, 'failure');
    expect(breaker.state).toBe('open');
  });

  it('a failure of a call admitted before the breaker opened does not extend the cool-down', () => {
    const breaker = new CircuitBreaker(2, 80);
    const late = breaker.admit()!;
    call(breaker, 'failure');
    call(breaker, 'failure');
    const until = breaker.status().opensUntil;
    breaker.settle(late, 'failure');
    expect(breaker.status().opensUntil).toBe(until);
    breaker.settle(late, 'success');
    expect(breaker.state, 'nor does its success close it').toBe('open');
  });
});

describe('TargetHealth (threshold 2, cool-down 80 ms): a breaker per model, one for the target', () => {
  function settleOne(health: TargetHealth, model: string, outcome: Parameters<HealthTicket['settle']>[0]): HealthTicket | Refusal {
    const ticket = health.admit(model);
    if (ticket instanceof HealthTicket) ticket.settle(outcome);
    return ticket;
  }

  it("model failures open that model's breaker only: model-a refused until its probe, model-b and the target untouched", () => {
    const opened: Array<string | null> = [];
    const health = new TargetHealth(2, 80, { onOpen: (model) => opened.push(model) });
    for (let i = 0; i < 12; i++) settleOne(health, 'model-a', 'model');
    const refusal = health.admit('model-a');
    expect(refusal).not.toBeInstanceOf(HealthTicket);
    expect((refusal as Refusal).model).toBe('model-a');
    expect((refusal as Refusal).until - Date.now()).toBeLessThanOrEqual(80);
    expect(health.admit('model-b')).toBeInstanceOf(HealthTicket);
    expect(health.breaker.state).toBe('closed');
    expect(opened, 'opened once: refused calls do not count').toEqual(['model-a']);
    expect(health.blockedUntil('model-a')).not.toBeNull();
    expect(health.blockedUntil('model-b')).toBeNull();
    expect(health.openBreakers()).toEqual([{ model: 'model-a', state: 'open', until: expect.any(String) }]);
  });

  it('target failures open the target breaker: every model refused, with model null in the refusal', () => {
    const health = new TargetHealth(2, 80);
    settleOne(health, 'model-a', 'target');
    settleOne(health, 'model-b', 'target');
    expect(health.breaker.state).toBe('open');
    for (const model of ['model-a', 'model-b', 'model-c']) expect((health.admit(model) as Refusal).model).toBeNull();
    expect(health.openBreakers().map((breaker) => breaker.model)).toEqual([null]);
  });

  it('4xx answers (none) and cancellations count against nothing; a model failure says the target is reachable', () => {
    const health = new TargetHealth(2, 80);
    settleOne(health, 'model-a', 'target');
    settleOne(health, 'model-a', 'model');
    settleOne(health, 'model-a', 'target');
    expect(health.breaker.state, 'a model failure between two target failures resets the target count').toBe('closed');
    for (let i = 0; i < 6; i++) settleOne(health, 'model-a', i % 2 === 0 ? 'none' : 'cancelled');
    expect(health.openBreakers()).toEqual([]);
  });

  it("a refusal by the model's breaker hands the target's probe back to the next call", () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 0 });
    try {
      const health = new TargetHealth(1, 80);
      // A model-b call admitted while all was closed, settled after the target opened.
      const early = health.admit('model-b') as HealthTicket;
      settleOne(health, 'model-c', 'target');
      vi.setSystemTime(50);
      early.settle('model');
      expect(health.openBreakers().map(({ model, until }) => [model, Date.parse(until)])).toEqual([
        [null, 80],
        ['model-b', 130],
      ]);
      vi.setSystemTime(100);
      // The target is due for its probe, model-b is not: the probe is not spent on model-b.
      expect((health.admit('model-b') as Refusal).model).toBe('model-b');
      const probe = health.admit('model-c');
      expect(probe).toBeInstanceOf(HealthTicket);
      (probe as HealthTicket).settle('success');
      expect(health.breaker.state).toBe('closed');
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps at most MAX_MODEL_BREAKERS model breakers, dropping the least recently used', () => {
    const health = new TargetHealth(2, 80);
    for (let i = 0; i < MAX_MODEL_BREAKERS + 50; i++) settleOne(health, `model-${i}`, 'success');
    expect(health.modelStates()).toHaveLength(MAX_MODEL_BREAKERS);
    expect(health.modelStates()[0]?.model).toBe('model-50');
  });
});
