/**
 * ChatQL's own retry policy (the SDK's is off: its retries wait out any Retry-After in a timer that
 * an abort cannot cut short). Retried: what `classifyFailure` says may be (dropped or refused
 * connections, 408, 409, 5xx, 429), a 429 only when its Retry-After is short enough for a person
 * to wait on; a longer 429 is answered at once so that a frontend can show the wait.
 * Streams are retried only before their first chunk reached the client (the caller decides that).
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { RateLimitError } from '../errors.js';
import type { Failure } from './classify.js';

export interface RetryPolicy {
  /** Retries after the first attempt. @default 2 */
  maxRetries: number;
  /** First backoff; doubles per retry, with jitter. @default 250 */
  baseDelayMs?: number;
  /** Longest backoff, and the longest Retry-After that is waited on. @default 2000 */
  maxDelayMs?: number;
}

/**
 * How long to wait before the next attempt after `failure`, or null when it is final. `attempt`
 * counts retries already made. What may be retried at all is the classification's call
 * (`Failure.retry`: not a header timeout or a stall, which already waited their whole budget).
 */
export function retryDelayMs(failure: Failure, attempt: number, policy: RetryPolicy): number | null {
  if (!failure.retry || attempt >= policy.maxRetries) return null;
  const base = policy.baseDelayMs ?? 250;
  const cap = policy.maxDelayMs ?? 2000;
  const { error } = failure;
  if (error instanceof RateLimitError && error.retryAfterSeconds !== null) {
    const waitMs = error.retryAfterSeconds * 1000;
    // A little jitter so that replicas told the same Retry-After do not retry in lock-step.
    return waitMs <= cap ? waitMs + Math.random() * 50 : null;
  }
  return backoff(base, cap, attempt);
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
