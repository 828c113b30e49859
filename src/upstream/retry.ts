/**
 * ChatQL's own retry policy (the SDK's is off: its retries wait out any Retry-After in a timer that
 * an abort cannot cut short). Retried: dropped or refused connections, 408, 409, 5xx, and a 429
 * whose Retry-After is short enough for a person to wait on; a longer 429 is answered at once so
 * that a frontend can show the wait. Streams are retried only before their first chunk reached the
 * client (the caller decides that).
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { errors as undiciErrors } from 'undici';

import { RateLimitError, type ChatQLError, UpstreamUnavailableError } from '../errors.js';

export interface RetryPolicy {
  /** Retries after the first attempt. @default 2 */
  maxRetries: number;
  /** First backoff; doubles per retry, with jitter. @default 250 */
  baseDelayMs?: number;
  /** Longest backoff, and the longest Retry-After that is waited on. @default 2000 */
  maxDelayMs?: number;
}

const RETRIED_STATUSES = new Set([408, 409]);

/**
 * How long to wait before the next attempt after `error` (mapped to `mapped`), or null when the
 * error is final. `attempt` counts retries already made.
 */
export function retryDelayMs(error: unknown, mapped: ChatQLError, attempt: number, policy: RetryPolicy): number | null {
  if (attempt >= policy.maxRetries) return null;
  // An abort is the caller's decision; a header timeout already waited the full budget, and so did
  // an idle stall before the first chunk (UPSTREAM_IDLE_TIMEOUT_MS): both go on to the fallbacks.
  if (
    error instanceof APIUserAbortError ||
    error instanceof APIConnectionTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError
  ) {
    return null;
  }
  const base = policy.baseDelayMs ?? 250;
  const cap = policy.maxDelayMs ?? 2000;
  if (mapped instanceof RateLimitError) {
    if (mapped.retryAfterSeconds === null) return backoff(base, cap, attempt);
    const waitMs = mapped.retryAfterSeconds * 1000;
    // A little jitter so that replicas told the same Retry-After do not retry in lock-step.
    return waitMs <= cap ? waitMs + Math.random() * 50 : null;
  }
  const status = error instanceof APIError ? error.status : undefined;
  if (status !== undefined && RETRIED_STATUSES.has(status)) return backoff(base, cap, attempt);
  if (mapped instanceof UpstreamUnavailableError && mapped.retryable) return backoff(base, cap, attempt);
  return null;
}

/** Exponential backoff with "equal jitter": between half and all of base * 2^attempt, capped. */
function backoff(base: number, cap: number, attempt: number): number {
  const ceiling = Math.min(cap, base * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** Waits `ms`, or rejects at once when `signal` aborts. */
export function waitBeforeRetry(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal });
}
