/**
 * The one place where the failures of upstream calls are classified: everything the SDK, undici
 * and Node can throw, and the error objects upstreams put in their streams (LiteLLM's
 * `{"error": ...}`, vLLM's `{"object": "error", ...}`), becomes one of the classes in
 * `src/errors.ts`, plus the two decisions the callers act on: whether to retry, and what it says
 * about the upstream's health (see `classifyFailure`).
 */
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { errors as undiciErrors } from 'undici';

import {
  AuthenticationError,
  BudgetExceededError,
  ChatQLError,
  ContentBlockedError,
  type DomainError,
  ErrorSource,
  InvalidRequestError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  type RateLimitKind,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../errors.js';
import type { Redactor } from '../redact.js';
import type { WireError } from './wire.js';

const UPSTREAM = ErrorSource.UPSTREAM;

/** Longest upstream message passed on to clients; the log keeps the whole body. */
const MAX_MESSAGE_LENGTH = 500;

/**
 * An upstream's error text as a client may see it: its first line only (proxies append Python
 * tracebacks or Node stacks after it), capped, and redacted.
 */
function clientText(raw: string, redact: Redactor): string {
  const firstLine = (raw.split(/\r?\n/, 1)[0] ?? '').trim();
  const capped = firstLine.length > MAX_MESSAGE_LENGTH ? `${firstLine.slice(0, MAX_MESSAGE_LENGTH - 1)}…` : firstLine;
  return redact(capped);
}

/** An upstream error object met inside a 200 stream, with no HTTP status of its own. */
export class InBandUpstreamError extends Error {
  override readonly name = 'InBandUpstreamError';
  constructor(readonly body: WireError) {
    super(typeof body.message === 'string' ? body.message : 'error object in stream');
  }
}

/** Seconds to wait, from `retry-after-ms`, then `retry-after` (seconds or an HTTP date). */
export function parseRetryAfter(headers: Headers | undefined): number | null {
  if (!headers) return null;
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms / 1000;
  const raw = headers.get('retry-after');
  if (!raw) return null;
  const seconds = Number.parseFloat(raw);
  if (Number.isFinite(seconds) && /^\s*[\d.]+\s*$/.test(raw)) return Math.max(0, seconds);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
}

/** The HTTP status an in-band error stands for: LiteLLM and vLLM put it in `code` ("429", 400). */
function statusFromCode(code: WireError['code']): number | undefined {
  const numeric = typeof code === 'number' ? code : typeof code === 'string' && /^\d{3}$/.test(code) ? Number(code) : NaN;
  return numeric >= 100 && numeric <= 599 ? numeric : undefined;
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' && value !== 'None' ? value : null;
}

/** Type/code values and message phrases that mean a spent budget (not, say, a reasoning `budget_tokens` error). */
const BUDGET_KIND = /budget/i;
const BUDGET_MESSAGE = /budget has been exceeded|exceeded ?budget|over budget|crossed budget|budget exceeded|budget_exceeded/i;

/**
 * Which limit a 429 is about: the body's `type` (OpenAI's `tokens` / `requests`), LiteLLM's
 * `rate_limit_type`, the words of the message, or which `x-ratelimit-remaining-*` header is 0.
 */
function rateLimitKind(body: WireError, headers: Headers | undefined): RateLimitKind {
  const stated = `${text(body.type) ?? ''} ${text((body as { rate_limit_type?: unknown }).rate_limit_type) ?? ''}`.toLowerCase();
  if (/\btokens?\b/.test(stated)) return 'TOKENS';
  if (/\brequests?\b/.test(stated)) return 'REQUESTS';
  if (headers?.get('x-ratelimit-remaining-tokens') === '0') return 'TOKENS';
  if (headers?.get('x-ratelimit-remaining-requests') === '0') return 'REQUESTS';
  const words = typeof body.message === 'string' ? body.message : '';
  if (/tokens per (min|minute|day)|\bTPM\b|token limit/i.test(words)) return 'TOKENS';
  if (/requests per (min|minute|day)|\bRPM\b|parallel request/i.test(words)) return 'REQUESTS';
  return 'UNKNOWN';
}

/**
 * A guardrail's or content filter's refusal: LiteLLM's guardrails answer 400 with an object for
 * `message` (`{"error": "Violated guardrail policy", "guardrail": ...}`); OpenAI and Azure refuse
 * a prompt with the code `content_filter`. Null for anything else.
 */
function contentBlocked(body: WireError, redact: Redactor): ContentBlockedError | null {
  const raw = body.message as unknown;
  const code = `${body.code ?? ''} ${text(body.type) ?? ''}`.toLowerCase();
  const objectMessage = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : null;
  if (!objectMessage && !/content_filter|guardrail/.test(code)) return null;
  const said = objectMessage ? (text(objectMessage.error) ?? text(objectMessage.message) ?? text(objectMessage.detail)) : text(raw);
  const named = objectMessage ? (text(objectMessage.guardrail) ?? text(objectMessage.guardrail_name)) : null;
  return new ContentBlockedError(
    said ? clientText(said, redact) : 'The request was blocked by a content policy.',
    UPSTREAM,
    named && clientText(named, redact),
  );
}

/** Classifies by status first; errors without one (mid-stream) by their type and code strings. */
function classifyBody(
  status: number | undefined,
  body: WireError,
  retryAfterSeconds: number | null,
  redact: Redactor,
  headers?: Headers,
): DomainError {
  const type = text(body.type);
  const code = body.code === null || body.code === undefined ? null : String(body.code);
  const rawMessage = text(body.message);
  const message = (fallback: string) => (rawMessage && clientText(rawMessage, redact)) || fallback;
  const blocked = contentBlocked(body, redact);
  if (blocked && (status === undefined || status < 500)) return blocked;

  // LiteLLM reports exhausted budgets as 400, 401 or 429 over its versions: match the words, not the status.
  if ((type && BUDGET_KIND.test(type)) || (code && BUDGET_KIND.test(code)) || (rawMessage && BUDGET_MESSAGE.test(rawMessage))) {
    return new BudgetExceededError(message('The spending budget is exhausted.'), UPSTREAM);
  }
  const kind = `${type ?? ''} ${code ?? ''}`.toLowerCase();
  const effective =
    status ??
    statusFromCode(body.code) ??
    (/rate_limit|ratelimit|tokens|requests/.test(kind)
      ? 429
      : /auth|invalid_api_key/.test(kind)
        ? 401
        : /permission/.test(kind)
          ? 403
          : /not_?found|model_not_found/.test(kind)
            ? 404
            : /timeout/.test(kind)
              ? 408
              : /invalid_request|badrequest|context_length|unsupported/.test(kind)
                ? 400
                : undefined);

  switch (effective) {
    case 401:
      return new AuthenticationError(message('The upstream rejected the credentials.'), UPSTREAM);
    case 403:
      return new PermissionDeniedError(message('The upstream denied access to this model or operation.'), UPSTREAM);
    case 404:
      return new NotFoundError(message('The upstream does not know this model or resource.'), UPSTREAM);
    case 408:
      return new UpstreamTimeoutError(message('The upstream timed out.'), UPSTREAM);
    case 429:
      return new RateLimitError(
        message('The upstream is rate limiting requests.'),
        UPSTREAM,
        retryAfterSeconds,
        rateLimitKind(body, headers),
      );
    case undefined:
      // An error object with nothing to go on, inside a stream: the upstream's own failure.
      return new UpstreamUnavailableError('The upstream failed.', UPSTREAM, null);
  }
  if (effective >= 400 && effective < 500) {
    const param = text(body.param);
    const reason = code && !/^\d+$/.test(code) ? code : (type ?? code);
    return new InvalidRequestError(
      message('The upstream rejected the request.'),
      UPSTREAM,
      param && clientText(param, redact),
      reason && clientText(reason, redact),
    );
  }
  // A 5xx text describes the upstream's insides (host names, addresses, stack frames, sometimes
  // credentials), not the request: it goes to the log only, and the client gets ours.
  return new UpstreamUnavailableError(`The upstream failed (HTTP ${effective}).`, UPSTREAM, effective);
}

/**
 * What one attempt's failure says, decided once, here: the retry policy (`retry.ts`), the failover
 * (`call.ts`) and the circuit breakers (`breaker.ts`) read only this; no other module looks at
 * SDK, undici or Node error types.
 */
export interface Failure {
  /** What the client is answered. */
  error: DomainError;
  /**
   * `upstream`: the upstream answered this, or failed to; `cancelled`: the call was aborted (the
   * client left, or shutdown), which is neither a success nor a failure; `service`: raised inside
   * ChatQL before a byte reached the upstream (input that cannot be sent, or a bug).
   */
  origin: 'upstream' | 'cancelled' | 'service';
  /** Whether the same call may be tried again; the retry policy decides when (or that a Retry-After is too long). */
  retry: boolean;
  /**
   * What the failure says about the upstream's health. `model`: this model at this target is
   * unwell (5xx, 408, a header or idle timeout, a stream that broke or ended unfinished);
   * `target`: the host is (refused connection, DNS, TLS, reset before any response byte);
   * `none`: nothing (4xx, 429, a malformed answer, a cancellation, the service's own failures).
   */
  health: 'model' | 'target' | 'none';
}

/** A stream that ended (cleanly, or with `[DONE]`) before a finish reason: the generation was cut off upstream. */
export class StreamEndedUnfinished extends Error {
  override readonly name = 'StreamEndedUnfinished';
  constructor(readonly reason: string) {
    super(`the upstream stream ended unfinished: ${reason}`);
  }
}

/** An answer that parsed but is not what the protocol says (not a chat completion, say). */
export class MalformedUpstreamAnswer extends Error {
  override readonly name = 'MalformedUpstreamAnswer';
}

/**
 * Codes of Node's and undici's network errors: the connection could not be made, or was lost.
 * Anything else with a `code` (undici's UND_ERR_INVALID_ARG for a header it will not send, say)
 * was raised before a byte left the service.
 */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NODATA',
  'EAI_NONAME',
  'EPROTO',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);
/** OpenSSL's and Node's TLS failures: handshake, protocol, certificate. */
const TLS_CODE = /^(ERR_SSL_|ERR_TLS_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED|SELF_SIGNED_CERT|HOSTNAME_MISMATCH)/;

/** Whether `error` is the network failing (not a local refusal to send). */
function isNetworkError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && (NETWORK_CODES.has(code) || TLS_CODE.test(code));
}

/** The body of an SDK error, in the wire shape `classifyBody` reads. */
function sdkErrorBody(error: APIError): WireError {
  return typeof error.error === 'object' && error.error !== null
    ? (error.error as WireError)
    : { message: typeof error.error === 'string' ? error.error : null };
}

function upstreamFailure(error: DomainError, retry: boolean, health: Failure['health']): Failure {
  return { error, origin: 'upstream', retry, health };
}

/**
 * An upstream's error answer: an HTTP status, or an error object inside a stream. 5xx and 408 say
 * the model is unwell (so does an in-band error with nothing to go on: the stream broke upstream);
 * 409 is retried, as a conflict may pass, but says nothing about health.
 */
function answered(
  status: number | undefined,
  body: WireError,
  retryAfterSeconds: number | null,
  redact: Redactor,
  headers?: Headers,
): Failure {
  const error = classifyBody(status, body, retryAfterSeconds, redact, headers);
  const unwell = error instanceof UpstreamTimeoutError || (error instanceof UpstreamUnavailableError && error.retryable);
  return upstreamFailure(error, error.retryable || status === 409, unwell ? 'model' : 'none');
}

const CANCELLED: Failure = {
  error: new UpstreamUnavailableError('The request was cancelled.', ErrorSource.SERVICE, null, false),
  origin: 'cancelled',
  retry: false,
  health: 'none',
};

/**
 * The service's own failure (a bug on the upstream path): answered without internals, never
 * retried, never sent to a fallback, never counted against the upstream. The caller logs it.
 */
export function serviceFailure(): Failure {
  return {
    error: new UpstreamUnavailableError(
      'ChatQL failed while handling this request; the failure is logged. Retrying will not help.',
      ErrorSource.SERVICE,
      null,
      false,
    ),
    origin: 'service',
    retry: false,
    health: 'none',
  };
}

/**
 * Classifies what an upstream attempt threw. Each row is tested in test/unit/classify.test.ts:
 *
 * | thrown                                                 | error                 | retry   | health |
 * |--------------------------------------------------------|-----------------------|---------|--------|
 * | an HTTP error answer (APIError with a status)          | by status and body    | 5xx, 408, 409, 429 | 5xx, 408: model |
 * | an error object inside a stream                        | by its type and code  | as above | model unless a 4xx or 429 |
 * | header timeout (APIConnectionTimeoutError)             | UpstreamTimeoutError  | no (it waited) | model |
 * | idle timeout (undici's BodyTimeoutError)               | UpstreamTimeoutError  | no (it waited) | model |
 * | no connection (APIConnectionError, a network cause)    | UpstreamUnavailable   | yes     | target |
 * | the connection lost after the headers                  | UpstreamUnavailable   | yes     | model  |
 * | a stream that ended without a finish reason            | UpstreamUnavailable   | yes     | model  |
 * | a malformed answer (SyntaxError, not a completion)     | UpstreamUnavailable   | no      | none   |
 * | an abort (APIUserAbortError, undici's abort)           | cancelled             | no      | none   |
 * | a ChatQLError raised by the service's own code         | itself                | no      | none   |
 * | anything else (a header undici will not send, a stack overflow, a bug) | service failure | no | none |
 */
export function classifyFailure(thrown: unknown, redact: Redactor): Failure {
  if (thrown instanceof InBandUpstreamError) return answered(undefined, thrown.body, null, redact);
  // Test the timeout first: APIConnectionTimeoutError extends APIConnectionError.
  if (thrown instanceof APIConnectionTimeoutError) {
    return upstreamFailure(new UpstreamTimeoutError('The upstream did not answer in time.', UPSTREAM), false, 'model');
  }
  if (thrown instanceof APIUserAbortError || thrown instanceof undiciErrors.RequestAbortedError) return CANCELLED;
  // UPSTREAM_IDLE_TIMEOUT_MS (undici's bodyTimeout, see http.ts): the headers came, then silence.
  // It reaches us raw, not wrapped by the SDK, from the body of a stream or of a JSON answer.
  if (thrown instanceof undiciErrors.BodyTimeoutError) {
    const error = new UpstreamTimeoutError('The upstream stalled: it went silent in the middle of its answer.', UPSTREAM);
    return upstreamFailure(error, false, 'model');
  }
  if (thrown instanceof APIConnectionError) {
    // The SDK wraps whatever its fetch threw before the response headers: the network failing,
    // or undici refusing to send (an invalid header value), which never reached the upstream.
    if (!isNetworkError(thrown.cause)) return serviceFailure();
    return upstreamFailure(new UpstreamUnavailableError('Could not connect to the upstream.', UPSTREAM), true, 'target');
  }
  if (thrown instanceof APIError)
    return answered(thrown.status, sdkErrorBody(thrown), parseRetryAfter(thrown.headers), redact, thrown.headers);
  // After the headers, undici's body errors arrive raw (its fetch would say TypeError "terminated").
  if (isNetworkError(thrown) || (thrown instanceof TypeError && thrown.message === 'terminated' && isNetworkError(thrown.cause))) {
    return upstreamFailure(new UpstreamUnavailableError('The connection to the upstream was lost.', UPSTREAM), true, 'model');
  }
  if (thrown instanceof StreamEndedUnfinished) {
    const error = new UpstreamUnavailableError('The upstream stream ended before the answer was complete.', UPSTREAM);
    return upstreamFailure(error, true, 'model');
  }
  // An answer that is not what the protocol says will not turn right by asking again. The SDK's
  // JSON.parse of the upstream's bytes is the only source of a SyntaxError on this path.
  if (thrown instanceof SyntaxError || thrown instanceof MalformedUpstreamAnswer) {
    return upstreamFailure(new UpstreamUnavailableError('The upstream sent a malformed response.', UPSTREAM, null, false), false, 'none');
  }
  if (thrown instanceof ChatQLError) return { error: thrown as DomainError, origin: 'service', retry: false, health: 'none' };
  return serviceFailure();
}

/**
 * A network failure's cause as an operator needs it: its code and the address it was about
 * (`ECONNREFUSED 127.0.0.1:4000`, `ENOTFOUND llm.internal`, `ERR_SSL_WRONG_VERSION_NUMBER`), from
 * the structured fields of the error or one it wraps; null for anything else. It names the host,
 * never a credential (those fields hold none).
 */
export function networkCause(error: unknown): string | null {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; current = (current as { cause?: unknown }).cause, depth++) {
    if (!isNetworkError(current)) continue;
    const { code, hostname, address, port } = current as unknown as { code: string; hostname?: unknown; address?: unknown; port?: unknown };
    const host = typeof hostname === 'string' ? hostname : typeof address === 'string' ? address : null;
    if (host === null) return code;
    return typeof port === 'number' || typeof port === 'string' ? `${code} ${host}:${port}` : `${code} ${host}`;
  }
  return null;
}

/** What the server log gets about a failure: everything useful for an operator, secrets redacted. */
export function describeUpstreamError(error: unknown, redact: Redactor): Record<string, unknown> {
  // No answer at all (APIConnectionError is an APIError without a status): what failed, below.
  if (error instanceof APIError && !(error instanceof APIConnectionError)) {
    return {
      kind: error.constructor.name,
      status: error.status,
      requestId: error.requestID,
      body: redact(JSON.stringify(error.error ?? null)),
    };
  }
  if (error instanceof InBandUpstreamError) return { kind: 'InBandUpstreamError', body: redact(JSON.stringify(error.body)) };
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const network = networkCause(error);
    return {
      kind: error.constructor.name === 'Error' ? error.name : error.constructor.name,
      message: redact(error.message),
      ...(network === null ? {} : { network }),
      ...(cause instanceof Error ? { cause: redact(`${cause.name}: ${cause.message}`) } : {}),
    };
  }
  return { kind: typeof error, message: redact(String(error)) };
}
