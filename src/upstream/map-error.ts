/**
 * The one place where upstream failures become domain errors. Everything the SDK can throw, and the
 * error objects upstreams put in their streams (LiteLLM's `{"error": ...}`, vLLM's
 * `{"object": "error", ...}`), ends up as one of the classes in `src/errors.ts`.
 */
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { errors as undiciErrors } from 'undici';

import {
  AuthenticationError,
  BudgetExceededError,
  type DomainError,
  ErrorSource,
  InvalidRequestError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
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

/** Classifies by status first; errors without one (mid-stream) by their type and code strings. */
function classify(
  status: number | undefined,
  body: WireError,
  retryAfterSeconds: number | null,
  redact: Redactor,
): DomainError {
  const type = text(body.type);
  const code = body.code === null || body.code === undefined ? null : String(body.code);
  const rawMessage = text(body.message);
  const message = (fallback: string) => (rawMessage && clientText(rawMessage, redact)) || fallback;

  // LiteLLM reports exhausted budgets as 400, 401 or 429 over its versions: match the words, not the status.
  if ((type && BUDGET_KIND.test(type)) || (code && BUDGET_KIND.test(code)) || (rawMessage && BUDGET_MESSAGE.test(rawMessage))) {
    return new BudgetExceededError(message('The spending budget is exhausted.'), UPSTREAM);
  }
  const kind = `${type ?? ''} ${code ?? ''}`.toLowerCase();
  const effective =
    status ??
    statusFromCode(body.code) ??
    (/rate_limit|ratelimit|tokens|requests/.test(kind) ? 429
      : /auth|invalid_api_key/.test(kind) ? 401
      : /permission/.test(kind) ? 403
      : /not_?found|model_not_found/.test(kind) ? 404
      : /timeout/.test(kind) ? 408
      : /invalid_request|badrequest|context_length|unsupported/.test(kind) ? 400
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
      return new RateLimitError(message('The upstream is rate limiting requests.'), UPSTREAM, retryAfterSeconds);
    case undefined:
      return new UpstreamUnavailableError(message('The upstream failed.'), UPSTREAM, null);
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
  return new UpstreamUnavailableError(message(`The upstream failed with status ${effective}.`), UPSTREAM, effective);
}

export function mapUpstreamError(error: unknown, redact: Redactor): DomainError {
  if (error instanceof InBandUpstreamError) return classify(undefined, error.body, null, redact);
  // Test the timeout first: APIConnectionTimeoutError extends APIConnectionError.
  if (error instanceof APIConnectionTimeoutError) {
    return new UpstreamTimeoutError('The upstream did not answer in time.', UPSTREAM);
  }
  if (error instanceof APIUserAbortError) {
    return new UpstreamUnavailableError('The upstream request was cancelled.', UPSTREAM);
  }
  // UPSTREAM_IDLE_TIMEOUT_MS (undici's bodyTimeout, see http.ts): the headers came, then silence.
  // It reaches us raw, not wrapped by the SDK, from the body of a stream or of a JSON answer.
  if (error instanceof undiciErrors.BodyTimeoutError) {
    return new UpstreamTimeoutError('The upstream stalled: it went silent in the middle of its answer.', UPSTREAM);
  }
  if (error instanceof APIConnectionError) {
    return new UpstreamUnavailableError('Could not connect to the upstream.', UPSTREAM);
  }
  if (error instanceof APIError) {
    const body: WireError =
      typeof error.error === 'object' && error.error !== null
        ? (error.error as WireError)
        : { message: typeof error.error === 'string' ? error.error : null };
    return classify(error.status, body, parseRetryAfter(error.headers), redact);
  }
  if (error instanceof SyntaxError) {
    // A response that is not what the protocol says will not turn right by asking again.
    return new UpstreamUnavailableError('The upstream sent a malformed response.', UPSTREAM, null, false);
  }
  // undici's "terminated" (a reset mid-body), socket errors and anything else the stream throws.
  return new UpstreamUnavailableError('The connection to the upstream was lost.', UPSTREAM);
}

/**
 * Whether a failure says the upstream itself is unwell: it could not be reached, failed (5xx), or
 * was too slow (a header timeout, 408, an idle stall). These count towards a target's circuit
 * breaker and send a call on to the next fallback. A 4xx, a 429 or a budget error says the
 * upstream is working and refused this request; a cancellation says nothing about it; a malformed
 * answer is a protocol mismatch that another attempt would not mend.
 */
export function isUpstreamUnwell(error: unknown, mapped: DomainError): boolean {
  if (error instanceof APIUserAbortError) return false;
  if (mapped.source !== UPSTREAM) return false;
  if (mapped instanceof UpstreamTimeoutError) return true;
  return mapped instanceof UpstreamUnavailableError && mapped.retryable;
}

/** What the server log gets about a failure: everything useful for an operator, secrets redacted. */
export function describeUpstreamError(error: unknown, redact: Redactor): Record<string, unknown> {
  if (error instanceof APIError) {
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
    return {
      kind: error.name,
      message: redact(error.message),
      ...(cause instanceof Error ? { cause: redact(`${cause.name}: ${cause.message}`) } : {}),
    };
  }
  return { kind: typeof error, message: redact(String(error)) };
}
