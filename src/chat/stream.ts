/**
 * The live stream's run loop: admission, the upstream stream (retried and failed over up to its
 * first chunk), each chunk on to the client as it comes, then exactly one terminal event (the
 * accumulated `ChatCompletion` or one domain error), and the settling of limits, breakers and the
 * operation's report, whatever ended it.
 */
import type { Principal } from '../auth/principal.js';
import { ChatQLError, type DomainError, ErrorSource, shuttingDownError, UpstreamUnavailableError } from '../errors.js';
import { estimatePromptTokens } from '../limits/estimate.js';
import type { Admission, LimitsGate } from '../limits/gate.js';
import { AbortReason, type Operation } from '../operations.js';
import { isInBandError, type OpenedStream, openStream, upstreamHeaders } from '../upstream/api.js';
import type { HealthTicket } from '../upstream/breaker.js';
import { CallAborted, type CallContext, callWithFailover, failWithoutRetry } from '../upstream/call.js';
import { InBandUpstreamError, StreamEndedUnfinished } from '../upstream/classify.js';
import { PRIMARY, type UpstreamTarget } from '../upstream/targets.js';
import { translateChatInput } from '../upstream/translate.js';
import type { Cost, ModelPrice } from '../pricing/prices.js';
import type { WireChunk, WireCompletion, WireError, WireUsage } from '../upstream/wire.js';
import { ToolCallIds } from './tool-ids.js';
import { ChunkAccumulator } from './accumulate.js';
import type { OperationReport, OperationReporter } from './report.js';
import type { ChatRequest, OperationCall } from './types.js';

/** One event of `chatCompletionStream`: a chunk, then exactly one terminal completion or error. */
export type StreamEvent = WireChunk | WireCompletion | DomainError;

/** The terminal completions of streams, told apart from chunks without a field of their own. */
const finalCompletions = new WeakSet<object>();

export function isFinalCompletion(event: StreamEvent): event is WireCompletion {
  return finalCompletions.has(event);
}

/** Marks `completion` as a stream's terminal event (one read back from a resumable stream's log). */
export function markFinal(completion: WireCompletion): WireCompletion {
  finalCompletions.add(completion);
  return completion;
}

const CANCELLED = 'The request was cancelled.';

/** What one stream's run needs of the service around it. */
export interface StreamRun {
  input: ChatRequest;
  call: OperationCall;
  principal: Principal;
  operation: Operation;
  report: OperationReport;
  reporter: OperationReporter;
  gate: LimitsGate;
  /** The targets that may serve this client, and the call context (redaction included) for it. */
  targets: readonly UpstreamTarget[];
  context: CallContext;
  /** Remembers an upstream refusal of a forwarded key (AUTH_MODE=forward). */
  noteRefusal(error: unknown): void;
  /** Logs and answers a failure of the service's own code. */
  unexpected(error: unknown): DomainError;
  /** What an answer of `model` cost (the upstream's `usage.cost`, or the price table's). */
  costOf(model: string, usage: WireUsage): Cost | null;
  /** The price the limits bound this request with (clients with a spend limit). */
  priceForLimits(): Promise<ModelPrice | null>;
}

export async function* runStream(run: StreamRun): AsyncGenerator<StreamEvent, void> {
  const { input, operation, report, reporter } = run;
  const { signal } = operation;
  let opened: OpenedStream | undefined;
  let served: { target: UpstreamTarget; ticket: HealthTicket | null } | undefined;
  let terminal: StreamEvent | null = null;
  let admission: Admission | undefined;
  const accumulator = new ChunkAccumulator();
  const toolCallIds = new ToolCallIds();
  try {
    admission = await run.gate.admit(run.principal, input, true, await run.priceForLimits());
    const body = translateChatInput(admission.input, true);
    const options = { signal, headers: upstreamHeaders(run.call.requestId, run.principal.upstreamKey, report.span) };
    // Retries cover everything up to the first chunk, which is the last moment a retry is invisible.
    // Fallbacks too: once a chunk has gone to the client, no other target may take over.
    const started = await callWithFailover(
      run.context,
      'chat.completions.stream',
      signal,
      run.targets,
      body.model,
      async (target) => {
        const stream = await openStream(target, body, options);
        if (stream === null) throw new CallAborted();
        return stream;
      },
      report,
    );
    opened = started.value;
    served = started;
    const serving = started.target;
    if (serving.name !== PRIMARY) report.upstream = serving.name;
    if (serving.model !== undefined) report.servedModel = serving.model;
    report.ttftMs = performance.now() - report.startedAt;
    const servedModel = serving.model ?? body.model;
    let next: IteratorResult<WireChunk> = { done: false, value: opened.first };
    let seq = 0;
    while (!next.done) {
      const chunk = next.value;
      if (isInBandError(chunk)) throw new InBandUpstreamError(chunk as WireError);
      // The usage chunk (the last): what the whole answer cost, on it and on the final completion.
      if (chunk.usage) chunk.usage.chatqlCost = run.costOf(servedModel, chunk.usage);
      toolCallIds.fixChunk(chunk);
      accumulator.add(chunk);
      chunk.seq = ++seq;
      yield chunk;
      next = await opened.rest.next();
    }
    // The SDK ends a stream quietly when its request is aborted: that is not a finished answer.
    if (signal.aborted) {
      if (operation.stoppedByShutdown) yield (terminal = shuttingDownError());
      return;
    }
    const result = accumulator.finish();
    if (!result.ok) throw new StreamEndedUnfinished(result.reason);
    finalCompletions.add(result.completion);
    toolCallIds.fixCompletion(result.completion);
    result.completion.upstreamRequestId = opened.upstreamRequestId;
    served.ticket?.settle('success');
    reporter.recordAnswer(report, result.completion);
    yield (terminal = result.completion);
  } catch (error) {
    if (signal.aborted) {
      if (operation.stoppedByShutdown) yield (terminal = shuttingDownError());
      return;
    }
    run.noteRefusal(error);
    yield (terminal =
      error instanceof CallAborted
        ? new UpstreamUnavailableError(CANCELLED, ErrorSource.SERVICE)
        : error instanceof ChatQLError
          ? (error as DomainError)
          : served === undefined
            ? run.unexpected(error)
            : failWithoutRetry(run.context, 'chat.completions.stream', error, served));
  } finally {
    operation.end();
    // A stream stopped on our side (the client left, shutdown) says nothing of the upstream's health.
    served?.ticket?.settle('cancelled');
    // Real usage where the upstream sent it; otherwise, once anything was generated, the prompt's
    // estimate and a token per chunk; nothing for a call that failed before its first chunk.
    const generated = accumulator.count > 0 || terminal === null;
    const cost = accumulator.usage?.chatqlCost ?? null;
    admission?.settle(
      accumulator.usage?.total_tokens ?? (generated ? estimatePromptTokens(input) + accumulator.count : 0),
      cost ? cost.amount : generated ? null : 0,
    );
    report.cost = cost;
    report.upstreamRequestId = opened?.upstreamRequestId ?? null;
    report.outcome = terminal === null ? 'cancelled' : terminal instanceof Error ? terminal.name : 'ChatCompletion';
    report.status = terminal instanceof UpstreamUnavailableError ? terminal.status : undefined;
    report.usage = accumulator.usage;
    report.chunks = accumulator.count;
    if (signal.aborted) report.aborted = operation.stoppedByShutdown ? 'shutdown' : 'client_gone';
    reporter.end(report);
    // Lets the SDK release its response body when the stream ended early on our side.
    void opened?.rest.return?.().catch(() => undefined);
  }
}

/**
 * The stream as the transports take it. Its `return()` aborts the upstream request before it
 * waits for the generator, which may be parked on the next chunk (`return()` alone queues behind
 * a pending `next()`); the transports also abort through the operation's transport signal.
 *
 * An operation that never started (the client completed the subscription, or closed its socket,
 * before the first `next()`, as React StrictMode and fast route changes do) ends at once: a
 * generator that was never started skips its `finally`, so nothing else would end it.
 */
export function startOnDemand(run: StreamRun): AsyncIterableIterator<StreamEvent> {
  const { operation, report, reporter } = run;
  let generator: AsyncGenerator<StreamEvent, void> | null = null;
  /** Set when the operation ended before it started; a stop by shutdown still owes its terminal event. */
  let endedUnstarted: { owed: DomainError | null } | null = null;
  const endUnstarted = () => {
    if (generator !== null || endedUnstarted !== null) return;
    const byShutdown = operation.stoppedByShutdown;
    endedUnstarted = { owed: byShutdown ? shuttingDownError() : null };
    operation.end();
    report.outcome = byShutdown ? 'UpstreamUnavailableError' : 'cancelled';
    report.aborted = byShutdown ? 'shutdown' : 'client_gone';
    report.chunks = 0;
    reporter.end(report);
  };
  if (operation.signal.aborted) endUnstarted();
  else operation.signal.addEventListener('abort', endUnstarted, { once: true });
  const done = (): Promise<IteratorResult<StreamEvent, void>> => Promise.resolve({ done: true, value: undefined });
  return {
    next: () => {
      if (endedUnstarted !== null) {
        const owed = endedUnstarted.owed;
        endedUnstarted.owed = null;
        return owed ? Promise.resolve({ done: false, value: owed }) : done();
      }
      if (generator === null) {
        operation.signal.removeEventListener('abort', endUnstarted);
        generator = runStream(run);
      }
      return generator.next();
    },
    return: (value?: unknown) => {
      operation.abort(AbortReason.CLIENT_GONE);
      endUnstarted();
      return generator === null ? done() : generator.return(value as undefined);
    },
    throw: (error?: unknown) => {
      operation.abort(AbortReason.CLIENT_GONE);
      endUnstarted();
      return generator === null ? done() : generator.throw(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** A stream of one terminal event, for refusals before any upstream call. */
export async function* once(event: DomainError, report: OperationReport, reporter: OperationReporter): AsyncGenerator<StreamEvent, void> {
  report.outcome = event.name;
  reporter.end(report);
  yield event;
}
