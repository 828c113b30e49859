/**
 * The failures ChatQL reports as data: one class per member of the contract's error unions.
 *
 * These are plain domain errors: no GraphQL and no SDK imports. `src/upstream/classify.ts` turns
 * the SDK's errors into them; the service's own checks throw them directly; `src/schema/errors.ts`
 * exposes each as a GraphQL object type implementing the `Error` interface.
 * Every message is safe to show to an end user: callers redact before constructing.
 */

/** Who decided the failure; mirrors the contract's `ErrorSource` enum. */
export const ErrorSource = {
  /** This service's own validation, authentication or limits, before or instead of an upstream call. */
  SERVICE: 'SERVICE',
  /** The upstream's answer, or its silence, its broken stream, its refused connection. */
  UPSTREAM: 'UPSTREAM',
} as const;
export type ErrorSource = (typeof ErrorSource)[keyof typeof ErrorSource];

export abstract class ChatQLError extends Error {
  abstract readonly retryable: boolean;
  constructor(
    message: string,
    readonly source: ErrorSource,
  ) {
    super(message);
  }
}

export class InvalidRequestError extends ChatQLError {
  override readonly name = 'InvalidRequestError';
  readonly retryable = false;
  constructor(
    message: string,
    source: ErrorSource,
    /** The input path (service checks) or the upstream's own `param`. */
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message, source);
  }
}

export class AuthenticationError extends ChatQLError {
  override readonly name = 'AuthenticationError';
  readonly retryable = false;
}

export class PermissionDeniedError extends ChatQLError {
  override readonly name = 'PermissionDeniedError';
  readonly retryable = false;
}

export class NotFoundError extends ChatQLError {
  override readonly name = 'NotFoundError';
  readonly retryable = false;
}

/** Which limit a RateLimitError is about; mirrors the contract's `RateLimitKind` enum. */
export type RateLimitKind = 'REQUESTS' | 'TOKENS' | 'CONCURRENT_STREAMS' | 'UNKNOWN';

export class RateLimitError extends ChatQLError {
  override readonly name = 'RateLimitError';
  readonly retryable = true;
  constructor(
    message: string,
    source: ErrorSource,
    /** How long the caller should wait, from Retry-After where the upstream sent one. */
    readonly retryAfterSeconds: number | null = null,
    readonly limit: RateLimitKind = 'UNKNOWN',
  ) {
    super(message, source);
  }
}

/** A guardrail or a content filter refused the request before any output. */
export class ContentBlockedError extends ChatQLError {
  override readonly name = 'ContentBlockedError';
  readonly retryable = false;
  constructor(
    message: string,
    source: ErrorSource,
    /** The guardrail that refused it, where the upstream names it. */
    readonly guardrail: string | null = null,
  ) {
    super(message, source);
  }
}

export class BudgetExceededError extends ChatQLError {
  override readonly name = 'BudgetExceededError';
  readonly retryable = false;
}

export class UpstreamTimeoutError extends ChatQLError {
  override readonly name = 'UpstreamTimeoutError';
  readonly retryable = true;
}

export class UpstreamUnavailableError extends ChatQLError {
  override readonly name = 'UpstreamUnavailableError';
  constructor(
    message: string,
    source: ErrorSource,
    /** The upstream's HTTP status, where it sent one. */
    readonly status: number | null = null,
    readonly retryable = true,
    /** Refused by an open circuit breaker: seconds until its next probe. */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message, source);
  }
}

/** Every class above, in the contract's union order. The schema and the error plugin list these. */
export const ERROR_CLASSES = [
  InvalidRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  RateLimitError,
  BudgetExceededError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
  ContentBlockedError,
] as const;

/** The answer every operation gets while the service drains for shutdown. */
export function shuttingDownError(): UpstreamUnavailableError {
  return new UpstreamUnavailableError('The service is shutting down; retry the request.', ErrorSource.SERVICE);
}

/** Any of the concrete failures above. */
export type DomainError = InstanceType<(typeof ERROR_CLASSES)[number]>;
