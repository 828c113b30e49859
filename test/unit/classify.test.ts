import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, RateLimitError as SDKRateLimitError } from 'openai';
import { errors as undiciErrors } from 'undici';
import { describe, expect, it } from 'vitest';

import {
  AuthenticationError,
  BudgetExceededError,
  type ChatQLError,
  ErrorSource,
  InvalidRequestError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../../src/errors.js';
import { createRedactor } from '../../src/redact.js';
import {
  classifyFailure,
  describeUpstreamError,
  InBandUpstreamError,
  MalformedUpstreamAnswer,
  parseRetryAfter,
  StreamEndedUnfinished,
} from '../../src/upstream/classify.js';
import { retryDelayMs } from '../../src/upstream/retry.js';
import type { WireError } from '../../src/upstream/wire.js';

const KEY = 'sk-secret-key-123';
const redact = createRedactor([KEY]);

/** An SDK error for an HTTP error response, built as the SDK builds it. */
function http(status: number, body: object | undefined, headers: Record<string, string> = {}): APIError {
  return APIError.generate(status, body, undefined, new Headers({ 'content-type': 'application/json', ...headers }));
}

/** The error the SDK throws for a `data: {"error": ...}` event inside a 200 stream. */
function midStream(error: WireError): APIError {
  return new APIError(undefined, error, undefined, new Headers({ 'content-type': 'text/event-stream' }));
}

function map(error: unknown): ChatQLError {
  const mapped = classifyFailure(error, redact).error;
  expect(mapped.message).not.toBe('');
  expect(mapped.message).not.toContain(KEY);
  return mapped;
}

// Error bodies as OpenAI sends them.
const CONTEXT_LENGTH = {
  error: {
    message:
      "This model's maximum context length is 8192 tokens. However, your messages resulted in 8227 tokens. Please reduce the length of the messages.",
    type: 'invalid_request_error',
    param: 'messages',
    code: 'context_length_exceeded',
  },
};
const BAD_KEY = {
  error: {
    message: `Incorrect API key provided: ${KEY}. You can find your API key at https://platform.openai.com/account/api-keys.`,
    type: 'invalid_request_error',
    param: null,
    code: 'invalid_api_key',
  },
};
const MODEL_NOT_FOUND = {
  error: {
    message: 'The model `gpt-4o-2024-05-13` does not exist or you do not have access to it.',
    type: 'invalid_request_error',
    param: null,
    code: 'model_not_found',
  },
};
const RATE_LIMITED = {
  error: {
    message:
      'Rate limit reached for gpt-4 in organization org-abc on tokens per min (TPM): Limit 10000, Used 9348, Requested 5086. Please try again in 26.604s. Visit https://platform.openai.com/account/rate-limits to learn more.',
    type: 'tokens',
    param: null,
    code: 'rate_limit_exceeded',
  },
};

describe('classifyFailure: HTTP errors', () => {
  it('400 context_length_exceeded → InvalidRequestError with the upstream param and code', () => {
    const mapped = map(http(400, CONTEXT_LENGTH));
    expect(mapped).toBeInstanceOf(InvalidRequestError);
    const invalid = mapped as InvalidRequestError;
    expect(invalid.param).toBe('messages');
    expect(invalid.code).toBe('context_length_exceeded');
    expect(invalid.source).toBe(ErrorSource.UPSTREAM);
    expect(invalid.message).toContain('maximum context length is 8192 tokens');
    expect(invalid.retryable).toBe(false);
  });

  it.each([413, 422, 418])('%s → InvalidRequestError', (status) => {
    const mapped = map(
      http(status, { error: { message: 'Request too large', type: 'invalid_request_error', param: 'messages', code: 'too_large' } }),
    );
    expect(mapped).toBeInstanceOf(InvalidRequestError);
    expect((mapped as InvalidRequestError).param).toBe('messages');
    expect((mapped as InvalidRequestError).code).toBe('too_large');
    expect(mapped.retryable).toBe(false);
  });

  it('401 → AuthenticationError, without the key in its message', () => {
    const mapped = map(http(401, BAD_KEY));
    expect(mapped).toBeInstanceOf(AuthenticationError);
    expect(mapped.source).toBe(ErrorSource.UPSTREAM);
    expect(mapped.message).toContain('Incorrect API key provided');
    expect(mapped.retryable).toBe(false);
  });

  it('403 → PermissionDeniedError', () => {
    const mapped = map(
      http(403, {
        error: { message: 'key not allowed to access model gpt-4o', type: 'key_model_access_denied', param: 'model', code: '403' },
      }),
    );
    expect(mapped).toBeInstanceOf(PermissionDeniedError);
    expect(mapped.retryable).toBe(false);
  });

  it('404 model_not_found → NotFoundError', () => {
    const mapped = map(http(404, MODEL_NOT_FOUND));
    expect(mapped).toBeInstanceOf(NotFoundError);
    expect(mapped.message).toContain('gpt-4o-2024-05-13');
    expect(mapped.retryable).toBe(false);
  });

  it('404 from Ollama (type not_found_error, code null) → NotFoundError', () => {
    const mapped = map(http(404, { error: { code: null, message: 'model not found', param: null, type: 'not_found_error' } }));
    expect(mapped).toBeInstanceOf(NotFoundError);
    expect(mapped.message).toBe('model not found');
  });

  it('404 from vLLM (type NotFoundError) → NotFoundError', () => {
    const mapped = map(
      http(404, { error: { message: 'The model `llama-9` does not exist.', type: 'NotFoundError', param: null, code: 404 } }),
    );
    expect(mapped).toBeInstanceOf(NotFoundError);
  });

  it('429 rate_limit_exceeded → RateLimitError, retryable, no Retry-After → null', () => {
    const mapped = map(http(429, RATE_LIMITED, { 'x-request-id': 'req_1' }));
    expect(mapped).toBeInstanceOf(RateLimitError);
    expect(mapped.retryable).toBe(true);
    expect((mapped as RateLimitError).retryAfterSeconds).toBeNull();
  });

  it('429 with retry-after seconds', () => {
    expect((map(http(429, RATE_LIMITED, { 'retry-after': '27' })) as RateLimitError).retryAfterSeconds).toBe(27);
  });

  it('429 prefers retry-after-ms over retry-after', () => {
    const mapped = map(http(429, RATE_LIMITED, { 'retry-after-ms': '1500', 'retry-after': '30' })) as RateLimitError;
    expect(mapped.retryAfterSeconds).toBe(1.5);
  });

  it('429 with retry-after as an HTTP date', () => {
    const date = new Date(Date.now() + 10_000).toUTCString();
    const mapped = map(http(429, RATE_LIMITED, { 'retry-after': date })) as RateLimitError;
    expect(mapped).toBeInstanceOf(RateLimitError);
    expect(mapped.retryAfterSeconds).toBeGreaterThan(8);
    expect(mapped.retryAfterSeconds).toBeLessThanOrEqual(10);
  });

  it('a 429 built with the SDK RateLimitError class maps the same way', () => {
    const error = new SDKRateLimitError(429, RATE_LIMITED.error, undefined, new Headers({ 'retry-after': '2' }));
    const mapped = map(error);
    expect(mapped).toBeInstanceOf(RateLimitError);
    expect((mapped as RateLimitError).retryAfterSeconds).toBe(2);
  });

  it('408 → UpstreamTimeoutError, retryable', () => {
    const mapped = map(http(408, { error: { message: 'Request timed out', type: 'timeout', param: null, code: null } }));
    expect(mapped).toBeInstanceOf(UpstreamTimeoutError);
    expect(mapped.retryable).toBe(true);
  });

  it.each([500, 502, 503, 504])('%s → UpstreamUnavailableError with that status, retryable', (status) => {
    const mapped = map(
      http(status, {
        error: { message: 'The server had an error processing your request.', type: 'server_error', param: null, code: null },
      }),
    );
    expect(mapped).toBeInstanceOf(UpstreamUnavailableError);
    expect((mapped as UpstreamUnavailableError).status).toBe(status);
    expect(mapped.retryable).toBe(true);
  });

  it('a 502 with a non-JSON body (a proxy page) → UpstreamUnavailableError 502', () => {
    const mapped = map(APIError.generate(502, undefined, '<html>502 Bad Gateway</html>', new Headers()));
    expect(mapped).toBeInstanceOf(UpstreamUnavailableError);
    expect((mapped as UpstreamUnavailableError).status).toBe(502);
  });

  it("vLLM's flat pre-0.10.1 error body on a 400 → InvalidRequestError", () => {
    const mapped = map(
      http(400, {
        object: 'error',
        message: "This model's maximum context length is 2048 tokens.",
        type: 'BadRequestError',
        param: null,
        code: 400,
      }),
    );
    expect(mapped).toBeInstanceOf(InvalidRequestError);
  });

  it("vLLM's nested error body with an integer code on a 400 → InvalidRequestError", () => {
    const mapped = map(
      http(400, {
        error: { message: "This model's maximum context length is 2048 tokens.", type: 'BadRequestError', param: null, code: 400 },
      }),
    );
    expect(mapped).toBeInstanceOf(InvalidRequestError);
    expect(mapped.message).toContain('maximum context length');
  });
});

describe('classifyFailure: budgets', () => {
  it.each([
    [
      '2024 auth_error with integer code 400',
      400,
      { message: 'Budget has been exceeded! Current cost: 0.0010747, Max budget: 0.0', type: 'auth_error', param: null, code: 400 },
    ],
    [
      'v1.80 budget_exceeded with code "400"',
      400,
      { message: 'Budget has been exceeded! Current cost: 0.0, Max budget: -7.0', type: 'budget_exceeded', param: null, code: '400' },
    ],
    [
      '2026 budget_exceeded on a 429',
      429,
      {
        message: 'Budget has been exceeded! Key=e7fb Current cost: 0.0, Estimated request cost: 3.64, Max budget: 2.5',
        type: 'budget_exceeded',
        param: null,
        code: '429',
      },
    ],
    [
      'end-user budget on a 401 ("ExceededBudget")',
      401,
      {
        message: 'ExceededBudget: End User=ishaan3 over budget. Spend=0.0008869999999999999, Budget=0.0001',
        type: 'auth_error',
        param: 'None',
        code: 401,
      },
    ],
    [
      'router "crossed budget" on a 429',
      429,
      { message: 'No deployments available - crossed budget: deployment=gpt-4o', type: 'None', param: null, code: '429' },
    ],
    [
      'a second LiteLLM hop with type null',
      400,
      {
        message: 'litellm.BadRequestError: OpenAIException - Budget has been exceeded! Current cost: 1.2, Max budget: 1.0',
        type: null,
        param: null,
        code: '400',
      },
    ],
  ] as const)('LiteLLM %s → BudgetExceededError, not retryable', (_label, status, error) => {
    const mapped = map(http(status, { error }, { 'retry-after': '1' }));
    expect(mapped).toBeInstanceOf(BudgetExceededError);
    expect(mapped.source).toBe(ErrorSource.UPSTREAM);
    expect(mapped.retryable).toBe(false);
  });

  it.each([
    [
      'Anthropic via LiteLLM',
      'litellm.BadRequestError: AnthropicException - max_tokens must be greater than thinking.budget_tokens.',
      null,
      'thinking.budget_tokens',
    ],
    [
      'a budget_tokens range error',
      'thinking.budget_tokens: Input should be greater than or equal to 1024',
      'invalid_request_error',
      'budget_tokens',
    ],
    [
      'a reasoning budget above the limit',
      'reasoning budget_tokens exceeds max_tokens',
      'invalid_request_error',
      'reasoning.budget_tokens',
    ],
  ] as const)('a 400 about budget_tokens (%s) is an InvalidRequestError, not a budget error', (_label, message, type, param) => {
    const mapped = map(http(400, { error: { message, type, param, code: '400' } }));
    expect(mapped).toBeInstanceOf(InvalidRequestError);
    expect(mapped).not.toBeInstanceOf(BudgetExceededError);
  });
});

/** A Node system error as node:net and node:dns raise them: a message and a string `code`. */
function nodeError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** What the SDK throws when its fetch failed before any response: the cause is what fetch threw. */
function noResponse(cause: unknown): APIConnectionError {
  return new APIConnectionError({ message: 'Connection error.', cause: cause as Error });
}

const SERVER_ERROR = { error: { message: 'server error', type: 'server_error', param: null, code: null } };

describe('classifyFailure: the decisions (error, origin, retry, health), every shape in', () => {
  // The shapes below are what openai@6 over undici@7 (src/upstream/http.ts) really threw against
  // a refused port, an unresolvable host, TLS to a plain port, a server that reset, the mock's
  // failure models, and headers that undici or the SDK would not send.
  it.each<[string, unknown, string, string, boolean, string]>([
    // label, thrown, error, origin, retry, health
    ['500', http(500, SERVER_ERROR), 'UpstreamUnavailableError', 'upstream', true, 'model'],
    ['502 (a proxy page)', http(502, undefined), 'UpstreamUnavailableError', 'upstream', true, 'model'],
    ['503', http(503, SERVER_ERROR), 'UpstreamUnavailableError', 'upstream', true, 'model'],
    ['504', http(504, SERVER_ERROR), 'UpstreamUnavailableError', 'upstream', true, 'model'],
    [
      '408',
      http(408, { error: { message: 'timeout', type: null, param: null, code: null } }),
      'UpstreamTimeoutError',
      'upstream',
      true,
      'model',
    ],
    ['400', http(400, CONTEXT_LENGTH), 'InvalidRequestError', 'upstream', false, 'none'],
    ['401', http(401, BAD_KEY), 'AuthenticationError', 'upstream', false, 'none'],
    [
      '403',
      http(403, { error: { message: 'denied', type: 'permission_denied', param: null, code: null } }),
      'PermissionDeniedError',
      'upstream',
      false,
      'none',
    ],
    ['404', http(404, MODEL_NOT_FOUND), 'NotFoundError', 'upstream', false, 'none'],
    [
      '409',
      http(409, { error: { message: 'conflict', type: null, param: null, code: null } }),
      'InvalidRequestError',
      'upstream',
      true,
      'none',
    ],
    [
      '422',
      http(422, { error: { message: 'bad', type: 'invalid_request_error', param: null, code: null } }),
      'InvalidRequestError',
      'upstream',
      false,
      'none',
    ],
    ['429', http(429, RATE_LIMITED), 'RateLimitError', 'upstream', true, 'none'],
    ['429 with a long Retry-After', http(429, RATE_LIMITED, { 'retry-after': '60' }), 'RateLimitError', 'upstream', true, 'none'],
    [
      'a 429 budget error',
      http(429, { error: { message: 'Budget has been exceeded!', type: 'budget_exceeded', param: null, code: '429' } }),
      'BudgetExceededError',
      'upstream',
      false,
      'none',
    ],
    [
      'in-band 500 (LiteLLM)',
      midStream({ message: 'Error processing stream start', type: 'None', param: null, code: '500' }),
      'UpstreamUnavailableError',
      'upstream',
      true,
      'model',
    ],
    [
      'in-band 429 (LiteLLM)',
      midStream({ message: 'rate limited', type: 'None', param: null, code: '429' }),
      'RateLimitError',
      'upstream',
      true,
      'none',
    ],
    [
      'in-band 400 (vLLM flat)',
      new InBandUpstreamError({ message: 'bad', type: 'BadRequestError', param: null, code: 400 }),
      'InvalidRequestError',
      'upstream',
      false,
      'none',
    ],
    ['in-band with nothing to go on', new InBandUpstreamError({ message: 'boom' }), 'UpstreamUnavailableError', 'upstream', true, 'model'],
    ['header timeout', new APIConnectionTimeoutError(), 'UpstreamTimeoutError', 'upstream', false, 'model'],
    ['idle timeout (stall)', new undiciErrors.BodyTimeoutError(), 'UpstreamTimeoutError', 'upstream', false, 'model'],
    [
      'connection refused',
      noResponse(nodeError('connect ECONNREFUSED 127.0.0.1:4000', 'ECONNREFUSED')),
      'UpstreamUnavailableError',
      'upstream',
      true,
      'target',
    ],
    [
      'DNS failure',
      noResponse(nodeError('getaddrinfo ENOTFOUND llm.invalid', 'ENOTFOUND')),
      'UpstreamUnavailableError',
      'upstream',
      true,
      'target',
    ],
    [
      'DNS timeout',
      noResponse(nodeError('getaddrinfo EAI_AGAIN llm.internal', 'EAI_AGAIN')),
      'UpstreamUnavailableError',
      'upstream',
      true,
      'target',
    ],
    [
      'TLS to a plain port',
      noResponse(nodeError('ssl3_get_record:wrong version number', 'ERR_SSL_WRONG_VERSION_NUMBER')),
      'UpstreamUnavailableError',
      'upstream',
      true,
      'target',
    ],
    [
      'TLS, a self-signed certificate',
      noResponse(nodeError('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT')),
      'UpstreamUnavailableError',
      'upstream',
      true,
      'target',
    ],
    [
      'TLS, a wrong host name',
      noResponse(nodeError("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID')),
      'UpstreamUnavailableError',
      'upstream',
      true,
      'target',
    ],
    [
      'reset before any response byte (RST)',
      noResponse(nodeError('read ECONNRESET', 'ECONNRESET')),
      'UpstreamUnavailableError',
      'upstream',
      true,
      'target',
    ],
    [
      'closed before any response byte',
      noResponse(new undiciErrors.SocketError('other side closed')),
      'UpstreamUnavailableError',
      'upstream',
      true,
      'target',
    ],
    ['connect timeout', noResponse(new undiciErrors.ConnectTimeoutError()), 'UpstreamUnavailableError', 'upstream', true, 'target'],
    [
      'a stream that broke after its headers',
      new undiciErrors.SocketError('other side closed'),
      'UpstreamUnavailableError',
      'upstream',
      true,
      'model',
    ],
    [
      'a JSON body cut off mid-way',
      new undiciErrors.SocketError('other side closed'),
      'UpstreamUnavailableError',
      'upstream',
      true,
      'model',
    ],
    ['a reset mid-body (ECONNRESET)', nodeError('read ECONNRESET', 'ECONNRESET'), 'UpstreamUnavailableError', 'upstream', true, 'model'],
    ['a short body', new undiciErrors.ResponseContentLengthMismatchError(), 'UpstreamUnavailableError', 'upstream', true, 'model'],
    [
      'undici fetch\'s "terminated"',
      Object.assign(new TypeError('terminated'), { cause: new undiciErrors.SocketError('other side closed') }),
      'UpstreamUnavailableError',
      'upstream',
      true,
      'model',
    ],
    [
      'a stream that ended unfinished',
      new StreamEndedUnfinished('no finish reason'),
      'UpstreamUnavailableError',
      'upstream',
      true,
      'model',
    ],
    [
      'malformed JSON (SyntaxError)',
      new SyntaxError('Unexpected token < in JSON at position 0'),
      'UpstreamUnavailableError',
      'upstream',
      false,
      'none',
    ],
    ['not a chat completion', new MalformedUpstreamAnswer('not a completion'), 'UpstreamUnavailableError', 'upstream', false, 'none'],
    ['an abort (SDK)', new APIUserAbortError(), 'UpstreamUnavailableError', 'cancelled', false, 'none'],
    ['an abort (undici)', new undiciErrors.RequestAbortedError(), 'UpstreamUnavailableError', 'cancelled', false, 'none'],
    [
      'a header value undici refuses (forwarded token with a control character)',
      noResponse(new undiciErrors.InvalidArgumentError('invalid authorization header')),
      'UpstreamUnavailableError',
      'service',
      false,
      'none',
    ],
    [
      'a header value the SDK refuses ("x\\r\\ny")',
      new TypeError('Headers.append: "x\r\ny" is an invalid header value.'),
      'UpstreamUnavailableError',
      'service',
      false,
      'none',
    ],
    [
      'a header value that is not a ByteString ("€")',
      new TypeError(
        'Cannot convert argument to a ByteString because the character at index 0 has a value of 8364 which is greater than 255.',
      ),
      'UpstreamUnavailableError',
      'service',
      false,
      'none',
    ],
    [
      'a stack overflow in JSON.stringify',
      new RangeError('Maximum call stack size exceeded'),
      'UpstreamUnavailableError',
      'service',
      false,
      'none',
    ],
    ['a bare TypeError "terminated" (no network cause)', new TypeError('terminated'), 'UpstreamUnavailableError', 'service', false, 'none'],
    ['an Error without a code', new Error('socket hang up'), 'UpstreamUnavailableError', 'service', false, 'none'],
    ['a non-Error', 'weird', 'UpstreamUnavailableError', 'service', false, 'none'],
    [
      'a ChatQLError of our own',
      new InvalidRequestError('bad', ErrorSource.SERVICE, 'input.model'),
      'InvalidRequestError',
      'service',
      false,
      'none',
    ],
  ])('%s → %s, origin %s, retry %s, health %s', (_label, thrown, error, origin, retry, health) => {
    const failure = classifyFailure(thrown, redact);
    expect({ error: failure.error.name, origin: failure.origin, retry: failure.retry, health: failure.health }).toEqual({
      error,
      origin,
      retry,
      health,
    });
    expect(failure.error.message).not.toBe('');
  });

  it("answers the service's own failures without internals, source SERVICE, not retryable", () => {
    const failure = classifyFailure(new RangeError('Maximum call stack size exceeded'), redact);
    expect(failure.error).toBeInstanceOf(UpstreamUnavailableError);
    expect(failure.error.source).toBe('SERVICE');
    expect(failure.error.retryable).toBe(false);
    expect(failure.error.message).not.toMatch(/stack|RangeError|connection/i);
  });

  it('a refused connection and a timeout still read as before: no status, retryable', () => {
    const refused = classifyFailure(
      noResponse(nodeError(`connect ECONNREFUSED 127.0.0.1:4000 (key ${KEY})`, 'ECONNREFUSED')),
      redact,
    ).error;
    expect(refused).toBeInstanceOf(UpstreamUnavailableError);
    expect((refused as UpstreamUnavailableError).status).toBeNull();
    expect(refused.retryable).toBe(true);
    expect(refused.source).toBe('UPSTREAM');
    expect(map(new APIConnectionTimeoutError()).retryable).toBe(true);
  });

  it('malformed JSON is not retryable (the spec: retryable for rate limits, timeouts, 5xx and dropped connections)', () => {
    const mapped = map(new SyntaxError('Unexpected token < in JSON at position 0'));
    expect((mapped as UpstreamUnavailableError).status).toBeNull();
    expect(mapped.retryable).toBe(false);
  });
});

describe('classifyFailure: error objects inside a stream', () => {
  it('LiteLLM in-band {"type":"None","code":"429"} → RateLimitError', () => {
    const body = { message: 'litellm.RateLimitError: Rate limit exceeded', type: 'None', param: null, code: '429' };
    expect(map(new InBandUpstreamError(body))).toBeInstanceOf(RateLimitError);
    expect(map(midStream(body))).toBeInstanceOf(RateLimitError);
  });

  it('LiteLLM in-band UnsupportedParamsError with code "400" → InvalidRequestError', () => {
    const body = {
      message: 'litellm.UnsupportedParamsError: openai does not support parameters: top_k',
      type: 'None',
      param: null,
      code: '400',
    };
    expect(map(new InBandUpstreamError(body))).toBeInstanceOf(InvalidRequestError);
    expect(map(midStream(body))).toBeInstanceOf(InvalidRequestError);
  });

  it('LiteLLM "Error processing stream start" code 500 → UpstreamUnavailableError 500', () => {
    const mapped = map(midStream({ message: 'Error processing stream start', code: 500 }));
    expect(mapped).toBeInstanceOf(UpstreamUnavailableError);
    expect((mapped as UpstreamUnavailableError).status).toBe(500);
    expect(mapped.retryable).toBe(true);
  });

  it("vLLM's flat in-band chunk (object: error, integer code 400) → InvalidRequestError", () => {
    const chunk = JSON.parse(
      `{"object":"error","message":"This model's maximum context length is 2048 tokens. However, you requested 2100 tokens.","type":"BadRequestError","param":null,"code":400}`,
    ) as WireError;
    const mapped = map(new InBandUpstreamError(chunk));
    expect(mapped).toBeInstanceOf(InvalidRequestError);
    expect(mapped.message).toContain('maximum context length is 2048 tokens');
  });

  it("vLLM's nested in-band error with integer code 500 → UpstreamUnavailableError", () => {
    const mapped = map(midStream({ message: 'EngineCore encountered an issue.', type: 'InternalServerError', param: null, code: 500 }));
    expect(mapped).toBeInstanceOf(UpstreamUnavailableError);
    expect((mapped as UpstreamUnavailableError).status).toBe(500);
  });

  it('in-band type budget_exceeded (no numeric code) → BudgetExceededError', () => {
    const body = { message: 'Budget has been exceeded!', type: 'budget_exceeded', param: null, code: null };
    expect(map(new InBandUpstreamError(body))).toBeInstanceOf(BudgetExceededError);
    expect(map(new InBandUpstreamError({ ...body, code: '429' }))).toBeInstanceOf(BudgetExceededError);
  });

  it('in-band errors without a numeric code map by their type', () => {
    expect(map(new InBandUpstreamError({ message: 'model not found', type: 'not_found_error', param: null, code: null }))).toBeInstanceOf(
      NotFoundError,
    );
    expect(map(new InBandUpstreamError({ message: 'Slow down', type: 'None', param: null, code: 'rate_limit_exceeded' }))).toBeInstanceOf(
      RateLimitError,
    );
    expect(
      map(
        new InBandUpstreamError({ message: 'too long', type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' }),
      ),
    ).toBeInstanceOf(InvalidRequestError);
    expect(map(new InBandUpstreamError({ message: 'bad key', type: 'auth_error', param: null, code: null }))).toBeInstanceOf(
      AuthenticationError,
    );
  });

  it('an in-band error with nothing to go on → UpstreamUnavailableError', () => {
    const mapped = map(new InBandUpstreamError({ message: 'something broke', type: 'None', param: null, code: null }));
    expect(mapped).toBeInstanceOf(UpstreamUnavailableError);
  });

  it('an in-band error object without a message still gets one', () => {
    const mapped = map(new InBandUpstreamError({ code: '429' }));
    expect(mapped).toBeInstanceOf(RateLimitError);
  });
});

describe('classifyFailure: secrets', () => {
  const leaky = `Incorrect API key provided: ${KEY}. Also tried sk-proj-AbC123xyz789 and sk-ant-api03-QQQQ. Header: Bearer abcdefghijklmnop`;

  it.each([
    ['400', http(400, { error: { message: leaky, type: 'invalid_request_error', param: null, code: 'invalid_value' } })],
    ['401', http(401, { error: { message: leaky, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } })],
    ['403', http(403, { error: { message: leaky, type: 'permission_denied', param: null, code: null } })],
    ['404', http(404, { error: { message: leaky, type: 'not_found_error', param: null, code: null } })],
    ['429', http(429, { error: { message: leaky, type: 'tokens', param: null, code: 'rate_limit_exceeded' } })],
    [
      '429 budget',
      http(429, { error: { message: `Budget has been exceeded! ${leaky}`, type: 'budget_exceeded', param: null, code: '429' } }),
    ],
    ['500', http(500, { error: { message: leaky, type: 'server_error', param: null, code: null } })],
    ['mid-stream', midStream({ message: leaky, type: 'None', param: null, code: '400' })],
    ['in-band', new InBandUpstreamError({ message: leaky, type: 'BadRequestError', param: null, code: 400 })],
    ['connection', new APIConnectionError({ message: `Connection error: ${leaky}`, cause: new Error(leaky) })],
    ['other', new Error(leaky)],
  ])('the message mapped from the %s error carries no key', (_label, error) => {
    const mapped = classifyFailure(error, redact).error;
    expect(mapped.message).not.toContain(KEY);
    expect(mapped.message).not.toContain('sk-proj-AbC123xyz789');
    expect(mapped.message).not.toContain('sk-ant-api03-QQQQ');
    expect(mapped.message).not.toContain('abcdefghijklmnop');
  });

  it('describeUpstreamError logs status, request id and body, redacted', () => {
    const error = http(401, BAD_KEY, { 'x-request-id': 'req_7b966b36' });
    const described = describeUpstreamError(error, redact);
    expect(described).toMatchObject({ status: 401, requestId: 'req_7b966b36' });
    expect(described.body).toContain('invalid_api_key');
    expect(JSON.stringify(described)).not.toContain(KEY);
  });

  it('describeUpstreamError redacts an in-band body', () => {
    const described = describeUpstreamError(new InBandUpstreamError({ message: `bad key ${KEY}`, type: 'None', code: '401' }), redact);
    expect(described.kind).toBe('InBandUpstreamError');
    expect(String(described.body)).toContain('bad key');
    expect(JSON.stringify(described)).not.toContain(KEY);
  });

  it('describeUpstreamError redacts an error message and its cause', () => {
    const error = new APIConnectionError({
      message: `Connection error with ${KEY}`,
      cause: new Error(`request to https://api.example.com failed, Authorization: Bearer ${KEY}`),
    });
    const described = describeUpstreamError(error, redact);
    expect(JSON.stringify(described)).not.toContain(KEY);
    const plain = describeUpstreamError(
      Object.assign(new TypeError(`fetch failed ${KEY}`), { cause: new Error(`other sk-live-ZZZZZZZZ`) }),
      redact,
    );
    expect(plain.kind).toBe('TypeError');
    expect(String(plain.message)).toContain('fetch failed');
    expect(String(plain.cause)).toContain('other');
    expect(JSON.stringify(plain)).not.toContain(KEY);
    expect(JSON.stringify(plain)).not.toContain('sk-live-ZZZZZZZZ');
  });
});

describe('parseRetryAfter', () => {
  it('is null without headers or without the header', () => {
    expect(parseRetryAfter(undefined)).toBeNull();
    expect(parseRetryAfter(new Headers())).toBeNull();
    expect(parseRetryAfter(new Headers({ 'x-ratelimit-reset-requests': '12ms' }))).toBeNull();
  });

  it('reads retry-after-ms as milliseconds', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after-ms': '250' }))).toBe(0.25);
  });

  it('reads retry-after as seconds, fractions included', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after': '3' }))).toBe(3);
    expect(parseRetryAfter(new Headers({ 'retry-after': '0.5' }))).toBe(0.5);
    expect(parseRetryAfter(new Headers({ 'retry-after': '0' }))).toBe(0);
  });

  it('prefers retry-after-ms', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after-ms': '800', 'retry-after': '20' }))).toBe(0.8);
  });

  it('falls back to retry-after when retry-after-ms is not a number', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after-ms': 'soon', 'retry-after': '4' }))).toBe(4);
  });

  it('reads an HTTP date as the seconds until then, and a past date as 0', () => {
    const future = parseRetryAfter(new Headers({ 'retry-after': new Date(Date.now() + 30_000).toUTCString() }));
    expect(future).toBeGreaterThan(28);
    expect(future).toBeLessThanOrEqual(30);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' }))).toBe(0);
  });

  it('is null for garbage', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after': 'later' }))).toBeNull();
  });
});

describe('retryDelayMs', () => {
  const policy = { maxRetries: 2 };

  function delay(error: unknown, attempt = 0, retryPolicy: { maxRetries: number } = policy): number | null {
    return retryDelayMs(classifyFailure(error, redact), attempt, retryPolicy);
  }

  it.each([
    [
      'a refused connection',
      new APIConnectionError({ message: 'Connection error.', cause: nodeError('connect ECONNREFUSED 127.0.0.1:4000', 'ECONNREFUSED') }),
    ],
    ['a reset mid-body', new undiciErrors.SocketError('other side closed')],
    ['408', http(408, { error: { message: 'timeout', type: null, param: null, code: null } })],
    ['409', http(409, { error: { message: 'conflict', type: null, param: null, code: null } })],
    ['500', http(500, { error: { message: 'server error', type: 'server_error', param: null, code: null } })],
    ['502', http(502, undefined)],
    ['503', http(503, { error: { message: 'overloaded', type: 'server_error', param: null, code: null } })],
    ['a 429 without Retry-After', http(429, RATE_LIMITED)],
  ])('retries %s after a backoff of at most 2 s', (_label, error) => {
    const ms = delay(error);
    expect(ms).not.toBeNull();
    expect(ms!).toBeGreaterThan(0);
    expect(ms!).toBeLessThanOrEqual(2000);
  });

  it.each([
    ['1', 1000],
    ['2', 2000],
    ['0.5', 500],
  ])('retries a 429 with retry-after %s s after about that long', (retryAfter, expected) => {
    const ms = delay(http(429, RATE_LIMITED, { 'retry-after': retryAfter }));
    expect(ms).not.toBeNull();
    expect(ms!).toBeGreaterThanOrEqual(expected);
    expect(ms!).toBeLessThan(expected + 250);
  });

  it('retries a 429 with retry-after-ms 1200 after about 1.2 s', () => {
    const ms = delay(http(429, RATE_LIMITED, { 'retry-after-ms': '1200' }));
    expect(ms).not.toBeNull();
    expect(ms!).toBeGreaterThanOrEqual(1200);
    expect(ms!).toBeLessThan(1450);
  });

  it.each([
    ['3 s', { 'retry-after': '3' }],
    ['27 s', { 'retry-after': '27' }],
    ['2500 ms', { 'retry-after-ms': '2500' }],
    ['an HTTP date a minute away', { 'retry-after': new Date(Date.now() + 60_000).toUTCString() }],
  ])('answers a 429 asking for %s at once (null)', (_label, headers) => {
    expect(delay(http(429, RATE_LIMITED, headers))).toBeNull();
  });

  it.each([
    ['400', http(400, CONTEXT_LENGTH)],
    ['401', http(401, BAD_KEY)],
    ['403', http(403, { error: { message: 'denied', type: 'permission_denied', param: null, code: null } })],
    ['404', http(404, MODEL_NOT_FOUND)],
    ['422', http(422, { error: { message: 'bad', type: 'invalid_request_error', param: null, code: null } })],
    [
      'a 429 budget error',
      http(
        429,
        { error: { message: 'Budget has been exceeded!', type: 'budget_exceeded', param: null, code: '429' } },
        { 'retry-after': '1' },
      ),
    ],
    [
      'a 400 budget error',
      http(400, {
        error: {
          message: 'Budget has been exceeded! Current cost: 0.0010747, Max budget: 0.0',
          type: 'auth_error',
          param: null,
          code: 400,
        },
      }),
    ],
    ['a header timeout', new APIConnectionTimeoutError()],
    ['malformed JSON', new SyntaxError('Unexpected end of JSON input')],
  ])('does not retry %s', (_label, error) => {
    expect(delay(error)).toBeNull();
  });

  it('stops once attempt reaches maxRetries', () => {
    const error = http(503, { error: { message: 'overloaded', type: 'server_error', param: null, code: null } });
    expect(delay(error, 1, { maxRetries: 2 })).not.toBeNull();
    expect(delay(error, 2, { maxRetries: 2 })).toBeNull();
    expect(delay(error, 3, { maxRetries: 2 })).toBeNull();
    expect(delay(error, 0, { maxRetries: 0 })).toBeNull();
    expect(delay(http(429, RATE_LIMITED, { 'retry-after': '1' }), 2, { maxRetries: 2 })).toBeNull();
  });

  it('backs off longer as attempts grow, never beyond 2 s', () => {
    const error = new undiciErrors.SocketError('other side closed');
    const samples = (attempt: number) => Array.from({ length: 200 }, () => delay(error, attempt, { maxRetries: 10 })!);
    const byAttempt = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(samples);
    for (const values of byAttempt) {
      for (const value of values) {
        expect(value).toBeGreaterThan(0);
        expect(value).toBeLessThanOrEqual(2000);
      }
    }
    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    expect(mean(byAttempt[1]!)).toBeGreaterThan(mean(byAttempt[0]!));
    expect(mean(byAttempt[2]!)).toBeGreaterThan(mean(byAttempt[1]!));
    expect(mean(byAttempt[3]!)).toBeGreaterThan(mean(byAttempt[2]!));
    expect(Math.max(...byAttempt[9]!)).toBeGreaterThan(Math.max(...byAttempt[0]!));
  });
});
