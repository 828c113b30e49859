/**
 * One upstream call with ChatQL's retry policy around it, shared by the mutation, the stream
 * (up to its first chunk) and the models query; chat calls also go through each target's circuit
 * breaker and on to the fallbacks. Failures come out mapped and logged once.
 */
import { context as otelContext, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';

import type { DomainError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Redactor } from '../redact.js';
import { isBreakerRefusal, type UpstreamBreaker } from './breaker.js';
import { describeUpstreamError, isUpstreamUnwell, mapUpstreamError } from './map-error.js';
import { type RetryPolicy, retryDelayMs, waitBeforeRetry } from './retry.js';
import type { UpstreamTarget } from './targets.js';

export interface CallContext {
  retry: RetryPolicy;
  redact: Redactor;
  logger: Logger;
  /** Counts failed upstream calls by the error they mapped to. */
  metrics?: Pick<Metrics, 'upstreamErrors' | 'upstreamLatency'>;
  /** Spans per operation (ChatService) and per attempt, a child of `CallStats.span`; none without a tracer. */
  tracer?: Tracer;
}

/** Thrown by `callWithRetry` when the signal aborted: the caller decides what, if anything, to answer. */
export class CallAborted extends Error {
  override readonly name = 'CallAborted';
}

/** Counts the retries made, for the operation's log line. */
export interface CallStats {
  retries: number;
  /** The operation's span, parent of each attempt's span. */
  span?: Span;
}

/** Mapped errors after which the next target may be tried: the upstream was unwell, or its breaker open. */
const failoverErrors = new WeakSet<DomainError>();

interface RetryLoop {
  what: string;
  maxRetries: number;
  breaker: UpstreamBreaker | null;
  /** The target's name in log lines; absent for the models query. */
  upstream?: string;
  /** A stream: its attempt succeeds at the first chunk, which the breaker takes as provisional. */
  stream?: boolean;
}

/**
 * Runs `attempt` until it succeeds, fails finally, runs out of retries, meets an open breaker, or
 * `signal` aborts. Throws the mapped `ChatQLError`, or `CallAborted`.
 */
async function retryLoop<T>(
  context: CallContext,
  loop: RetryLoop,
  signal: AbortSignal,
  attempt: () => Promise<T>,
  stats: CallStats,
): Promise<T> {
  const { breaker, upstream } = loop;
  const policy = { ...context.retry, maxRetries: loop.maxRetries };
  const target = upstream === undefined ? {} : { upstream };
  let last: DomainError | undefined;
  // An open breaker stops the retries too: it opened because calls like this one keep failing.
  const refused = (): DomainError => {
    const error = last ?? breaker!.refusal();
    context.logger.info(
      { call: loop.what, ...target, outcome: error.name },
      last === undefined ? 'upstream call refused by its open circuit breaker' : 'upstream circuit breaker open: no more retries',
    );
    failoverErrors.add(error);
    return error;
  };
  for (let retries = 0; ; retries++, stats.retries++) {
    if (breaker && !breaker.admits()) throw refused();
    const span = context.tracer?.startSpan(
      loop.what,
      { kind: SpanKind.CLIENT, attributes: { 'chatql.upstream': upstream ?? 'primary', 'chatql.attempt': retries + 1 } },
      stats.span ? trace.setSpan(otelContext.active(), stats.span) : undefined,
    );
    const startedAt = performance.now();
    const observe = (outcome: string) =>
      context.metrics?.upstreamLatency.observe({ call: loop.what, upstream: upstream ?? 'primary', outcome }, (performance.now() - startedAt) / 1000);
    try {
      const value = await (breaker ? breaker.run(signal, attempt, (error) => isUpstreamUnwell(error, mapUpstreamError(error, context.redact)), loop.stream) : attempt());
      span?.end();
      observe('ok');
      return value;
    } catch (error) {
      if (signal.aborted) {
        span?.setAttribute('chatql.outcome', 'cancelled');
        span?.end();
        throw new CallAborted();
      }
      if (isBreakerRefusal(error)) {
        span?.setAttribute('chatql.outcome', 'breaker_open');
        span?.end();
        throw refused();
      }
      const mapped = mapUpstreamError(error, context.redact);
      observe(mapped.name);
      span?.setAttribute('error.type', mapped.name);
      span?.setStatus({ code: SpanStatusCode.ERROR, message: mapped.message });
      span?.end();
      if (isUpstreamUnwell(error, mapped)) failoverErrors.add(mapped);
      const delay = retryDelayMs(error, mapped, retries, policy);
      context.metrics?.upstreamErrors.inc({ error: mapped.name });
      const details = { call: loop.what, ...target, attempt: retries + 1, outcome: mapped.name, error: describeUpstreamError(error, context.redact) };
      if (delay === null) {
        context.logger.warn(details, 'upstream call failed');
        throw mapped;
      }
      last = mapped;
      context.logger.info({ ...details, retryInMs: Math.round(delay) }, 'upstream call failed, retrying');
      try {
        await waitBeforeRetry(delay, signal);
      } catch {
        throw new CallAborted();
      }
    }
  }
}

/**
 * Runs `attempt` until it succeeds, fails finally, or `signal` aborts. Throws the mapped
 * `ChatQLError`, or `CallAborted`. No breaker and no fallback: for the models query, which stays
 * on the primary so that /readyz keeps reporting what the upstream itself says.
 */
export function callWithRetry<T>(
  context: CallContext,
  what: string,
  signal: AbortSignal,
  attempt: () => Promise<T>,
  stats: CallStats = { retries: 0 },
): Promise<T> {
  return retryLoop(context, { what, maxRetries: context.retry.maxRetries, breaker: null }, signal, attempt, stats);
}

/**
 * A chat call: the primary with its retries, then each fallback in order (one attempt each), for
 * as long as the failures say the upstream is unwell (connection errors, 5xx, timeouts, stalls)
 * or a target's breaker is open; any other failure (a 4xx, a 429) is the answer at once. Resolves
 * with the value and the target that served it. When every target failed, throws the primary's
 * error: what the configured upstream said (or its breaker's refusal), whatever the fallbacks are.
 */
export async function callWithFailover<T>(
  context: CallContext,
  what: string,
  signal: AbortSignal,
  targets: readonly UpstreamTarget[],
  attempt: (target: UpstreamTarget) => Promise<T>,
  stats: CallStats = { retries: 0 },
): Promise<{ value: T; target: UpstreamTarget }> {
  let first: unknown;
  for (let index = 0; index < targets.length; index++) {
    const target = targets[index]!;
    try {
      const loop = { what, maxRetries: target.maxRetries, breaker: target.breaker, upstream: target.name, stream: what === 'chat.completions.stream' };
      return { value: await retryLoop(context, loop, signal, () => attempt(target), stats), target };
    } catch (error) {
      if (error instanceof CallAborted || !failoverErrors.has(error as DomainError)) throw error;
      if (index === 0) first = error;
      const next = targets[index + 1];
      if (next) context.logger.info({ call: what, upstream: target.name, next: next.name }, 'upstream unwell: trying the next fallback');
    }
  }
  throw first;
}

/**
 * Maps and logs a failure that happened after the retry window (mid-stream), and counts it
 * against the breaker of the target that was serving, when it says the upstream is unwell.
 */
export function failWithoutRetry(context: CallContext, what: string, error: unknown, target?: UpstreamTarget): DomainError {
  const mapped = mapUpstreamError(error, context.redact);
  if (target?.breaker && isUpstreamUnwell(error, mapped)) target.breaker.recordFailure();
  context.metrics?.upstreamErrors.inc({ error: mapped.name });
  const upstream = target === undefined ? {} : { upstream: target.name };
  context.logger.warn({ call: what, ...upstream, outcome: mapped.name, error: describeUpstreamError(error, context.redact) }, 'upstream call failed');
  return mapped;
}
