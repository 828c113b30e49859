/**
 * One upstream call with ChatQL's retry policy around it, shared by the mutation, the stream
 * (up to its first chunk) and the models query; chat calls also go through each target's circuit
 * breakers and on to the fallbacks. Every failure is classified once (`classifyFailure`) and
 * logged once; the retries, the failover and the breakers act on that classification alone.
 */
import { context as otelContext, type Span, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';

import { type DomainError, ErrorSource, UpstreamUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Redactor } from '../redact.js';
import { HealthTicket, type Refusal } from './breaker.js';
import { classifyFailure, describeUpstreamError, type Failure } from './classify.js';
import { type RetryPolicy, retryDelayMs, waitBeforeRetry } from './retry.js';
import { modelFor, type UpstreamTarget } from './targets.js';

export interface CallContext {
  retry: RetryPolicy;
  redact: Redactor;
  logger: Logger;
  /** Counts failed upstream calls by the error they mapped to. */
  metrics?: Pick<Metrics, 'upstreamErrors' | 'upstreamLatency'>;
  /** Spans per operation (ChatService) and per attempt, a child of `CallStats.span`; none without a tracer. */
  tracer?: Tracer;
}

/** Thrown by the calls below when the signal aborted: the caller decides what, if anything, to answer. */
export class CallAborted extends Error {
  override readonly name = 'CallAborted';
}

/** Counts the retries made, for the operation's log line. */
export interface CallStats {
  retries: number;
  /** The operation's span, parent of each attempt's span. */
  span?: Span;
}

/** How a target's attempts ended without a value: the error to answer, and whether the next target may try. */
class TargetFailed extends Error {
  constructor(
    readonly error: DomainError,
    /** The upstream was unwell (its health says so) or a breaker refused: the next target may serve. */
    readonly failover: boolean,
  ) {
    super(error.message);
  }
}

interface RetryLoop {
  what: string;
  maxRetries: number;
  /** The target's name in log lines; absent for the models query. */
  upstream?: string;
  /** Chat calls: the target's breakers, and the model name it is asked for. */
  health?: { target: UpstreamTarget; model: string };
  /** A stream: its attempt succeeds at the first chunk, which the breakers take as provisional. */
  stream?: boolean;
}

/** A breaker's refusal, safe for clients, saying when to come back. */
function refusalError(refusal: Refusal): UpstreamUnavailableError {
  const waitMs = Math.max(0, refusal.until - Date.now());
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  const what = refusal.model === null ? 'The upstream is failing' : `The model "${clip(refusal.model)}" is failing upstream`;
  return new UpstreamUnavailableError(
    `${what}; it will be tried again in ${seconds} s.`,
    ErrorSource.UPSTREAM,
    null,
    true,
    Math.round(waitMs / 100) / 10,
  );
}

function clip(text: string): string {
  return text.length <= 100 ? text : `${text.slice(0, 99)}…`;
}

/**
 * A failure raised inside the service (a bug, not the upstream): logged at error level with its
 * stack, once, so that it is found and fixed.
 */
function logServiceFailure(context: CallContext, what: string, thrown: unknown, upstream: { upstream?: string }): void {
  const stack = thrown instanceof Error ? (thrown.stack ?? `${thrown.name}: ${thrown.message}`) : String(thrown);
  context.logger.error({ call: what, ...upstream, error: context.redact(stack) }, 'upstream call failed inside the service');
}

/**
 * Runs `attempt` until it succeeds, fails finally, runs out of retries, meets an open breaker, or
 * `signal` aborts. Resolves with the value and the health ticket still to settle for a stream
 * (already settled otherwise); throws `TargetFailed` or `CallAborted`.
 */
async function retryLoop<T>(
  context: CallContext,
  loop: RetryLoop,
  signal: AbortSignal,
  attempt: () => Promise<T>,
  stats: CallStats,
): Promise<{ value: T; ticket: HealthTicket | null }> {
  const { upstream } = loop;
  const policy = { ...context.retry, maxRetries: loop.maxRetries };
  const target = upstream === undefined ? {} : { upstream };
  const health = loop.health?.target.health ?? null;
  let last: Failure | undefined;
  for (let retries = 0; ; retries++, stats.retries++) {
    let ticket: HealthTicket | null = null;
    if (health) {
      const admitted = health.admit(loop.health!.model);
      if (!(admitted instanceof HealthTicket)) {
        // An open breaker stops the retries too: it opened because calls like this one keep failing.
        const error = last?.error ?? refusalError(admitted);
        context.logger.info(
          { call: loop.what, ...target, model: admitted.model, outcome: error.name },
          last === undefined ? 'upstream call refused by an open circuit breaker' : 'upstream circuit breaker open: no more retries',
        );
        throw new TargetFailed(error, true);
      }
      ticket = admitted;
    }
    const span = context.tracer?.startSpan(
      loop.what,
      { kind: SpanKind.CLIENT, attributes: { 'chatql.upstream': upstream ?? 'primary', 'chatql.attempt': retries + 1 } },
      stats.span ? trace.setSpan(otelContext.active(), stats.span) : undefined,
    );
    const startedAt = performance.now();
    const observe = (outcome: string) =>
      context.metrics?.upstreamLatency.observe(
        { call: loop.what, upstream: upstream ?? 'primary', outcome },
        (performance.now() - startedAt) / 1000,
      );
    try {
      const value = await attempt();
      ticket?.settle(loop.stream ? 'provisional' : 'success');
      span?.end();
      observe('ok');
      return { value, ticket: loop.stream ? ticket : null };
    } catch (thrown) {
      const failure: Failure = signal.aborted
        ? { ...classifyFailure(thrown, context.redact), origin: 'cancelled' }
        : classifyFailure(thrown, context.redact);
      ticket?.settle(failure.origin === 'upstream' ? failure.health : 'cancelled');
      if (failure.origin === 'cancelled') {
        span?.setAttribute('chatql.outcome', 'cancelled');
        span?.end();
        if (signal.aborted) throw new CallAborted();
      }
      const { error } = failure;
      observe(error.name);
      span?.setAttribute('error.type', error.name);
      span?.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      span?.end();
      if (failure.origin === 'service') {
        logServiceFailure(context, loop.what, thrown, target);
        throw new TargetFailed(error, false);
      }
      context.metrics?.upstreamErrors.inc({ error: error.name });
      const delay = retryDelayMs(failure, retries, policy);
      const details = {
        call: loop.what,
        ...target,
        attempt: retries + 1,
        outcome: error.name,
        error: describeUpstreamError(thrown, context.redact),
      };
      if (delay === null) {
        context.logger.warn(details, 'upstream call failed');
        throw new TargetFailed(error, failure.health !== 'none');
      }
      last = failure;
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
 * Runs `attempt` until it succeeds, fails finally, or `signal` aborts. Throws the classified
 * `DomainError`, or `CallAborted`. No breaker and no fallback: for the models query, which stays
 * on the primary so that /readyz keeps reporting what the upstream itself says.
 */
export async function callWithRetry<T>(
  context: CallContext,
  what: string,
  signal: AbortSignal,
  attempt: () => Promise<T>,
  stats: CallStats = { retries: 0 },
): Promise<T> {
  try {
    return (await retryLoop(context, { what, maxRetries: context.retry.maxRetries }, signal, attempt, stats)).value;
  } catch (error) {
    throw error instanceof TargetFailed ? error.error : error;
  }
}

/** What served a chat call, and the health ticket a stream settles at its end. */
export interface Served<T> {
  value: T;
  target: UpstreamTarget;
  /** A stream's breakers, provisionally satisfied by its first chunk: settle with how it ended. Null without breakers and for one-shot calls. */
  ticket: HealthTicket | null;
}

/**
 * A chat call for `model`: the primary with its retries, then each fallback in order (one attempt
 * each), for as long as the failures say the upstream is unwell (their health is `model` or
 * `target`) or a breaker refuses; any other failure (a 4xx, a 429, the service's own) is the
 * answer at once. When every target failed, throws the primary's error: what the configured
 * upstream said (or its breaker's refusal), whatever the fallbacks are.
 */
export async function callWithFailover<T>(
  context: CallContext,
  what: string,
  signal: AbortSignal,
  targets: readonly UpstreamTarget[],
  model: string,
  attempt: (target: UpstreamTarget) => Promise<T>,
  stats: CallStats = { retries: 0 },
): Promise<Served<T>> {
  let first: DomainError | undefined;
  for (let index = 0; index < targets.length; index++) {
    const target = targets[index]!;
    try {
      const loop: RetryLoop = {
        what,
        maxRetries: target.maxRetries,
        upstream: target.name,
        health: { target, model: modelFor(target, model) },
        stream: what === 'chat.completions.stream',
      };
      const { value, ticket } = await retryLoop(context, loop, signal, () => attempt(target), stats);
      return { value, target, ticket };
    } catch (error) {
      if (!(error instanceof TargetFailed)) throw error;
      if (!error.failover) throw error.error;
      first ??= error.error;
      const next = targets[index + 1];
      if (next) context.logger.info({ call: what, upstream: target.name, next: next.name }, 'upstream unwell: trying the next fallback');
    }
  }
  throw first!;
}

/**
 * Classifies and logs a failure that happened after the retry window (mid-stream), and settles
 * the stream's health ticket with it. Returns the error to answer.
 */
export function failWithoutRetry(
  context: CallContext,
  what: string,
  thrown: unknown,
  served?: { target: UpstreamTarget; ticket: HealthTicket | null },
): DomainError {
  const failure = classifyFailure(thrown, context.redact);
  served?.ticket?.settle(failure.origin === 'upstream' ? failure.health : 'cancelled');
  const upstream = served === undefined ? {} : { upstream: served.target.name };
  if (failure.origin === 'service') {
    logServiceFailure(context, what, thrown, upstream);
    return failure.error;
  }
  context.metrics?.upstreamErrors.inc({ error: failure.error.name });
  context.logger.warn(
    { call: what, ...upstream, outcome: failure.error.name, error: describeUpstreamError(thrown, context.redact) },
    'upstream call failed',
  );
  return failure.error;
}
