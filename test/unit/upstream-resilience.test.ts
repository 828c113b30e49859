/**
 * The upstream resilience settings (UPSTREAM_IDLE_TIMEOUT_MS, UPSTREAM_BREAKER_*, UPSTREAM_FALLBACKS)
 * as loadConfig reads them, the UPSTREAM_FALLBACKS parser, and the circuit breaker's state machine
 * in process (the same behaviour end to end: test/e2e/faults.e2e.ts).
 */
import { APIConnectionError, APIUserAbortError, BadRequestError } from 'openai';
import { describe, expect, it } from 'vitest';

import { UpstreamBreaker } from '../../src/upstream/breaker.js';
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

describe('UpstreamBreaker (threshold 2, cool-down 80 ms)', () => {
  const unwell = (error: unknown) => error instanceof APIConnectionError;
  const down = () => Promise.reject(new APIConnectionError({ message: 'refused' }));
  const up = () => Promise.resolve('answer');
  const signal = new AbortController().signal;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  async function opened(events: string[] = []): Promise<UpstreamBreaker> {
    const breaker = new UpstreamBreaker(2, 80, { onOpen: () => events.push('open'), onClose: () => events.push('close') });
    for (let i = 0; i < 2; i++) await expect(breaker.run(signal, down, unwell)).rejects.toBeInstanceOf(APIConnectionError);
    return breaker;
  }

  it('opens after 2 consecutive unwell failures, not after 1; a success in between resets the count', async () => {
    const breaker = new UpstreamBreaker(2, 80);
    await expect(breaker.run(signal, down, unwell)).rejects.toThrow();
    await expect(breaker.run(signal, up, unwell)).resolves.toBe('answer');
    await expect(breaker.run(signal, down, unwell)).rejects.toThrow();
    expect(breaker.state).toBe('closed');
    await expect(breaker.run(signal, down, unwell)).rejects.toThrow();
    expect(breaker.state).toBe('open');
    expect(breaker.admits()).toBe(false);
    expect(breaker.refusal().message).toBe('The upstream is failing; it will be tried again in 1 s.');
    const status = breaker.status();
    expect(status.state).toBe('open');
    expect(Date.parse(status.opensUntil ?? '') - Date.now()).toBeLessThanOrEqual(80);
  });

  it('does not count failures that are not unwell (a 400) or client cancellations: 4 of them leave it closed', async () => {
    const breaker = new UpstreamBreaker(2, 80);
    const aborted = new AbortController();
    aborted.abort();
    const badRequest = () => Promise.reject(new BadRequestError(400, { message: 'bad' }, 'bad', new Headers()));
    await expect(breaker.run(signal, badRequest, unwell)).rejects.toThrow();
    await expect(breaker.run(signal, badRequest, unwell)).rejects.toThrow();
    await expect(breaker.run(aborted.signal, () => Promise.reject(new APIUserAbortError()), unwell)).rejects.toThrow();
    await expect(breaker.run(aborted.signal, down, unwell)).rejects.toThrow();
    expect(breaker.state).toBe('closed');
  });

  it('after the cool-down lets exactly 1 probe through (others refused meanwhile); its success closes it', async () => {
    const events: string[] = [];
    const breaker = await opened(events);
    await sleep(100);
    expect(breaker.state).toBe('halfOpen');
    expect(breaker.admits()).toBe(true);
    let answer!: (value: string) => void;
    const probe = breaker.run(signal, () => new Promise<string>((resolve) => (answer = resolve)), unwell);
    expect(breaker.admits(), 'a probe is under way').toBe(false);
    expect(breaker.refusal().message).toMatch(/trial request is under way/);
    answer('probed');
    await expect(probe).resolves.toBe('probed');
    expect(breaker.state).toBe('closed');
    expect(events).toEqual(['open', 'close']);
  });

  it('a failed probe, or a cancelled one, opens it again for another cool-down', async () => {
    const events: string[] = [];
    const breaker = await opened(events);
    await sleep(100);
    await expect(breaker.run(signal, down, unwell)).rejects.toThrow();
    expect(breaker.state).toBe('open');
    await sleep(100);
    const leaving = new AbortController();
    leaving.abort();
    await expect(breaker.run(leaving.signal, () => Promise.reject(new APIUserAbortError()), unwell)).rejects.toThrow();
    expect(breaker.state, 'a cancelled probe proves nothing').toBe('open');
    expect(events).toEqual(['open', 'open', 'open']);
  });

  it('counts a failure after the first chunk (recordFailure) towards the threshold', async () => {
    const breaker = new UpstreamBreaker(2, 80);
    breaker.recordFailure();
    await sleep(0);
    expect(breaker.state).toBe('closed');
    breaker.recordFailure();
    await sleep(0);
    expect(breaker.state).toBe('open');
  });
});
