/**
 * One upstream call with ChatQL's retry policy around it, shared by the mutation, the stream
 * (up to its first chunk) and the models query. Failures come out mapped and logged once.
 */
import type { DomainError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Redactor } from '../redact.js';
import { describeUpstreamError, mapUpstreamError } from './map-error.js';
import { type RetryPolicy, retryDelayMs, waitBeforeRetry } from './retry.js';

export interface CallContext {
  retry: RetryPolicy;
  redact: Redactor;
  logger: Logger;
  /** Counts failed upstream calls by the error they mapped to. */
  metrics?: Pick<Metrics, 'upstreamErrors'>;
}

/** Thrown by `callWithRetry` when the signal aborted: the caller decides what, if anything, to answer. */
export class CallAborted extends Error {
  override readonly name = 'CallAborted';
}

/**
 * Runs `attempt` until it succeeds, fails finally, or `signal` aborts. Throws the mapped
 * `ChatQLError`, or `CallAborted`.
 */
export async function callWithRetry<T>(
  context: CallContext,
  what: string,
  signal: AbortSignal,
  attempt: () => Promise<T>,
  /** Counts the retries made, for the operation's log line. */
  stats: { retries: number } = { retries: 0 },
): Promise<T> {
  for (let retries = 0; ; retries++, stats.retries++) {
    try {
      return await attempt();
    } catch (error) {
      if (signal.aborted) throw new CallAborted();
      const mapped = mapUpstreamError(error, context.redact);
      const delay = retryDelayMs(error, mapped, retries, context.retry);
      context.metrics?.upstreamErrors.inc({ error: mapped.name });
      const details = { call: what, attempt: retries + 1, outcome: mapped.name, error: describeUpstreamError(error, context.redact) };
      if (delay === null) {
        context.logger.warn(details, 'upstream call failed');
        throw mapped;
      }
      context.logger.info({ ...details, retryInMs: Math.round(delay) }, 'upstream call failed, retrying');
      try {
        await waitBeforeRetry(delay, signal);
      } catch {
        throw new CallAborted();
      }
    }
  }
}

/** Maps and logs a failure that happened after the retry window (mid-stream). */
export function failWithoutRetry(context: CallContext, what: string, error: unknown): DomainError {
  const mapped = mapUpstreamError(error, context.redact);
  context.metrics?.upstreamErrors.inc({ error: mapped.name });
  context.logger.warn({ call: what, outcome: mapped.name, error: describeUpstreamError(error, context.redact) }, 'upstream call failed');
  return mapped;
}
