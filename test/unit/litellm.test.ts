/**
 * What a LiteLLM proxy (and OpenAI, Azure) say beyond the plain OpenAI shapes: guardrail and
 * content-filter refusals, which rate limit a 429 is about, budgets in their many shapes.
 */
import { APIError } from 'openai';
import { describe, expect, it } from 'vitest';

import { BudgetExceededError, ContentBlockedError, ErrorSource, InvalidRequestError, RateLimitError } from '../../src/errors.js';
import { createRedactor } from '../../src/redact.js';
import { classifyFailure } from '../../src/upstream/classify.js';

const redact = createRedactor(['sk-secret-key-123']);

function http(status: number, body: object | undefined, headers: Record<string, string> = {}): APIError {
  return APIError.generate(status, body, undefined, new Headers({ 'content-type': 'application/json', ...headers }));
}

function midStream(error: object): APIError {
  return new APIError(undefined, error, undefined, new Headers({ 'content-type': 'text/event-stream' }));
}

const classify = (error: unknown) => classifyFailure(error, redact);

describe('guardrails and content filters → ContentBlockedError', () => {
  it("LiteLLM's guardrail refusal (an object for message) keeps its words and names the guardrail", () => {
    const failure = classify(
      http(400, {
        error: {
          message: { error: 'Violated guardrail policy', guardrail: 'pii-mask', detected: ['email'] },
          type: 'None',
          param: 'None',
          code: '400',
        },
      }),
    );
    expect(failure.error).toBeInstanceOf(ContentBlockedError);
    const blocked = failure.error as ContentBlockedError;
    expect(blocked.message).toBe('Violated guardrail policy');
    expect(blocked.guardrail).toBe('pii-mask');
    expect(blocked.retryable).toBe(false);
    expect(blocked.source).toBe(ErrorSource.UPSTREAM);
    // A refusal of the request says nothing of the model's health, and is not retried.
    expect(failure.retry).toBe(false);
    expect(failure.health).toBe('none');
  });

  it('a guardrail without a name has guardrail null', () => {
    const blocked = classify(
      http(400, { error: { message: { error: 'Violated guardrail policy', bedrock_guardrail_response: {} } } }),
    ).error;
    expect(blocked).toBeInstanceOf(ContentBlockedError);
    expect((blocked as ContentBlockedError).guardrail).toBeNull();
  });

  it("OpenAI's and Azure's prompt filter (400, code content_filter) is ContentBlockedError", () => {
    const blocked = classify(
      http(400, {
        error: {
          message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
          type: null,
          param: 'prompt',
          code: 'content_filter',
          status: 400,
          innererror: { code: 'ResponsibleAIPolicyViolation' },
        },
      }),
    ).error;
    expect(blocked).toBeInstanceOf(ContentBlockedError);
    expect(blocked.message).toMatch(/content management policy/);
  });

  it('an in-band guardrail event mid-stream is ContentBlockedError too', () => {
    const blocked = classify(
      midStream({ message: { error: 'Violated guardrail policy', guardrail: 'toxicity' }, type: 'None', code: '400' }),
    );
    expect(blocked.error).toBeInstanceOf(ContentBlockedError);
  });

  it('a plain 400 stays InvalidRequestError', () => {
    expect(classify(http(400, { error: { message: 'Bad thing', type: 'invalid_request_error', code: null } })).error).toBeInstanceOf(
      InvalidRequestError,
    );
  });
});

describe('which rate limit → RateLimitError.limit', () => {
  const limitOf = (error: unknown) => {
    const mapped = classify(error).error;
    expect(mapped).toBeInstanceOf(RateLimitError);
    return (mapped as RateLimitError).limit;
  };

  it("from OpenAI's type (tokens / requests)", () => {
    expect(
      limitOf(http(429, { error: { message: 'Rate limit reached on tokens per min (TPM)', type: 'tokens', code: 'rate_limit_exceeded' } })),
    ).toBe('TOKENS');
    expect(limitOf(http(429, { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } }))).toBe(
      'REQUESTS',
    );
  });

  it("from LiteLLM's rate_limit_type", () => {
    expect(limitOf(http(429, { error: { message: 'Rate limit exceeded', type: 'None', code: '429', rate_limit_type: 'tokens' } }))).toBe(
      'TOKENS',
    );
  });

  it('from which x-ratelimit-remaining-* header is 0', () => {
    const body = { error: { message: 'Rate limit exceeded. Limit type: unknown', type: 'None', param: 'None', code: '429' } };
    expect(limitOf(http(429, body, { 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-remaining-requests': '12' }))).toBe('TOKENS');
    expect(limitOf(http(429, body, { 'x-ratelimit-remaining-tokens': '900', 'x-ratelimit-remaining-requests': '0' }))).toBe('REQUESTS');
  });

  it('UNKNOWN when nothing says', () => {
    expect(limitOf(http(429, { error: { message: 'Slow down', type: 'None', code: '429' } }))).toBe('UNKNOWN');
  });

  it('an in-band LiteLLM error with code "429" and type "None" is a rate limit', () => {
    const mapped = classify(
      midStream({ message: 'litellm.RateLimitError: Rate limit reached, please retry', type: 'None', param: null, code: '429' }),
    );
    expect(mapped.error).toBeInstanceOf(RateLimitError);
    // "None" is no type: not shown as one.
    expect(mapped.error.message).not.toMatch(/\bNone\b/);
  });
});

describe('LiteLLM budgets in all their shapes → BudgetExceededError', () => {
  it.each([
    [
      '400 auth_error',
      400,
      { message: 'Budget has been exceeded! Current cost: 0.0010747, Max budget: 0.0', type: 'auth_error', param: null, code: 400 },
    ],
    [
      '400 budget_exceeded, string code',
      400,
      { message: 'Budget has been exceeded! Current cost: 0.0, Max budget: -7.0', type: 'budget_exceeded', param: null, code: '400' },
    ],
    [
      '429 crossed budget',
      429,
      { message: 'No deployments available - crossed budget: deployment=x', type: 'None', param: null, code: '429' },
    ],
    [
      '401 end-user budget',
      401,
      {
        message: 'ExceededBudget: End User=ishaan3 over budget. Spend=0.00088, Budget=0.0001',
        type: 'auth_error',
        param: 'None',
        code: 401,
      },
    ],
    ['type budget_exceeded, any words', 429, { message: 'Key over its limit', type: 'budget_exceeded', param: null, code: '429' }],
  ])('%s', (_name, status, error) => {
    const mapped = classify(http(status, { error })).error;
    expect(mapped).toBeInstanceOf(BudgetExceededError);
    expect(mapped.retryable).toBe(false);
  });
});
