/**
 * Chat completions, one-shot and streamed: validate, translate, call the upstream with the retry
 * policy, and answer with the upstream's own objects (resolvers read them as they are) or a
 * domain error. Each call runs as an `Operation`, so that a departing client or the end of the
 * shutdown grace aborts its upstream request at once.
 */
import type {
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
} from 'openai/resources/chat/completions';

import { context, propagation, type Span, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';

import type { AuthOutcome } from '../auth/authenticate.js';
import type { Principal } from '../auth/principal.js';
import { AuthenticationError, ChatQLError, type DomainError, ErrorSource, shuttingDownError, UpstreamUnavailableError } from '../errors.js';
import { generateRequestId, isHeaderSafeRequestId } from '../http/request-id.js';
import { estimatePromptTokens } from '../limits/estimate.js';
import type { Admission, LimitsGate } from '../limits/gate.js';
import { clientLabels, type Metrics } from '../metrics.js';
import { redactingAlso } from '../redact.js';
import { noopTracer } from '../tracing.js';
import { AbortReason, type Operation, type OperationTracker } from '../operations.js';
import type { ChatCompletionInputShape } from '../schema/chat-input.js';
import type { HealthTicket } from '../upstream/breaker.js';
import { CallAborted, type CallContext, callWithFailover, failWithoutRetry } from '../upstream/call.js';
import { InBandUpstreamError, MalformedUpstreamAnswer, serviceFailure, StreamEndedUnfinished } from '../upstream/classify.js';
import type { RejectedKeys } from '../upstream/rejected-keys.js';
import { PRIMARY, unavailableUntil, type UpstreamTarget } from '../upstream/targets.js';
import { translateChatInput } from '../upstream/translate.js';
import type { WireChunk, WireCompletion, WireError } from '../upstream/wire.js';
import { ChunkAccumulator } from './accumulate.js';
import { validateChatInput } from './validate.js';

/** One event of `chatCompletionStream`: a chunk, then exactly one terminal completion or error. */
export type StreamEvent = WireChunk | WireCompletion | DomainError;

/** The terminal completions of streams, told apart from chunks without a field of their own. */
const finalCompletions = new WeakSet<object>();

export function isFinalCompletion(event: StreamEvent): event is WireCompletion {
  return finalCompletions.has(event);
}

export interface ChatServiceDeps extends CallContext {
  /** The primary first, then the fallbacks in order (see `callWithFailover`). */
  targets: readonly UpstreamTarget[];
  operations: OperationTracker;
  /** Per-client limits, checked before any upstream call. */
  gate: LimitsGate;
  metrics?: Metrics;
  /** LOG_CONTENT: put the messages and the answer's text in the operation's log line. */
  logContent?: boolean;
  /** AUTH_MODE=forward: keys the upstream refused lately, refused here without a call. */
  rejectedKeys?: RejectedKeys;
  /** MAX_MESSAGES. @default 1000 */
  maxMessages?: number;
}


/** What the transport knows of one operation. */
export interface OperationCall {
  /** Fires when the client leaves (see `Context.signal`). */
  signal: AbortSignal | undefined;
  requestId: string;
  principal: AuthOutcome;
}

/**
 * Headers of an upstream call: the request id, the operation span's `traceparent` when tracing is
 * on, and with AUTH_MODE=forward the client's own key (checked header-safe at authentication).
 */
function upstreamHeaders(call: OperationCall, principal: Principal, span: Span): Record<string, string> {
  // The transports build header-safe ids; this keeps a header the HTTP client would refuse to send
  // from ever leaving the service.
  const requestId = isHeaderSafeRequestId(call.requestId) ? call.requestId : generateRequestId();
  const headers: Record<string, string> =
    principal.upstreamKey === null
      ? { 'x-request-id': requestId }
      : { 'x-request-id': requestId, authorization: `Bearer ${principal.upstreamKey}` };
  propagation.inject(trace.setSpan(context.active(), span), headers);
  return headers;
}

const CANCELLED = 'The request was cancelled.';

/** What the one log line of an operation holds (prompts and completions only with LOG_CONTENT=true). */
interface OperationReport {
  operation: 'chatCompletion' | 'chatCompletionStream';
  requestId: string;
  /** The authenticated client; null when authentication failed. */
  clientId: string | null;
  model: string;
  startedAt: number;
  retries: number;
  /** The fallback that answered (`fallback-1`...); absent when the primary did. */
  upstream?: string;
  /** The model a `#model` fallback was asked for instead of `model`. */
  servedModel?: string;
  outcome: string;
  status?: number | null;
  ttftMs?: number;
  usage?: WireCompletion['usage'];
  chunks?: number;
  /** The operation's trace span, ended with the report; upstream attempts are its children. */
  span: Span;
  /** A stream stopped before its end, and by whom. */
  aborted?: 'client_gone' | 'shutdown';
  /** LOG_CONTENT=true: the input's messages, and the answer's text once there is one. */
  messages?: ChatCompletionInputShape['messages'];
  completion?: string | null;
}

/** vLLM before 0.10.1 sends its in-band error as a flat chunk with `object: "error"`. */
function isInBandError(chunk: WireChunk): boolean {
  return chunk.object === 'error';
}

/** The request as `target` takes it: a `#model` fallback asks for its own model. */
function forTarget<T extends { model: string }>(body: T, target: UpstreamTarget): T {
  return target.model === undefined ? body : { ...body, model: target.model };
}

/** LOG_CONTENT: the longest string kept whole in a log line (a data: URI image is megabytes). */
const MAX_LOGGED_STRING = 4096;

/** A copy of `value` whose long strings are cut, saying how long they were. */
function clipStrings(value: unknown): unknown {
  if (typeof value === 'string') {
    return value.length <= MAX_LOGGED_STRING ? value : `${value.slice(0, MAX_LOGGED_STRING)}… (${value.length} characters)`;
  }
  if (Array.isArray(value)) return value.map(clipStrings);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, clipStrings(item)]));
  }
  return value;
}

/** Not errors of the operation's span: an answer, and a client that left. */
const SPAN_OK_OUTCOMES = new Set(['ChatCompletion', 'cancelled']);

export class ChatService {
  /** Client ids as bounded metric labels. */
  private readonly clientLabel = clientLabels();
  private readonly tracer: Tracer;

  /** The targets a client's forwarded key may go to: the primary's own upstream only. */
  private readonly forwardTargets: readonly UpstreamTarget[];

  constructor(private readonly deps: ChatServiceDeps) {
    this.tracer = deps.tracer ?? noopTracer();
    this.forwardTargets = deps.targets.filter((target) => target.sharesPrimaryUpstream);
  }

  /**
   * The targets that may serve `principal`: all of them, except that a client's own key
   * (AUTH_MODE=forward) goes only to the upstream it belongs to, never to a fallback elsewhere.
   */
  private targetsFor(principal: Principal): readonly UpstreamTarget[] {
    return principal.upstreamKey === null ? this.deps.targets : this.forwardTargets;
  }

  /**
   * When `model` may next be served for `principal`: null while some target would serve it now,
   * otherwise the earliest next probe of its open breakers (`Model.unavailableUntil`).
   */
  unavailableUntil(model: string, principal: Principal): Date | null {
    const until = unavailableUntil(this.targetsFor(principal), model);
    return until === null ? null : new Date(until);
  }

  /** AUTH_MODE=forward: a key the upstream refused lately is refused again without a call. */
  private rejectedKey(principal: Principal): AuthenticationError | null {
    return principal.upstreamKey === null ? null : (this.deps.rejectedKeys?.check(principal.upstreamKey) ?? null);
  }

  /** AUTH_MODE=forward: remembers the upstream's 401 for the client's key. */
  private noteRefusal(principal: Principal, error: unknown): void {
    if (principal.upstreamKey !== null && error instanceof AuthenticationError && error.source === ErrorSource.UPSTREAM) {
      this.deps.rejectedKeys?.remember(principal.upstreamKey, error);
    }
  }

  /**
   * A failure raised inside the service outside the upstream call (a bug): logged with its
   * stack, answered as a non-retryable service failure without internals.
   */
  private unexpected(error: unknown, report: OperationReport): DomainError {
    const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.deps.logger.error({ requestId: report.requestId, operation: report.operation, error: this.deps.redact(stack) }, 'operation failed inside the service');
    return serviceFailure().error;
  }

  /** A report for an operation starting now, with its span; its outcome is filled in when it ends. */
  private startReport(operation: OperationReport['operation'], input: ChatCompletionInputShape, call: OperationCall): OperationReport {
    const clientId = call.principal instanceof AuthenticationError ? null : call.principal.id;
    const span = this.tracer.startSpan(operation === 'chatCompletion' ? 'chat.completion' : 'chat.completion.stream', {
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': input.model,
        'chatql.request_id': call.requestId,
        ...(clientId === null ? {} : { 'chatql.client_id': clientId }),
      },
    });
    const report: OperationReport = {
      operation,
      requestId: call.requestId,
      clientId,
      model: input.model,
      startedAt: performance.now(),
      retries: 0,
      outcome: 'ChatCompletion',
      span,
    };
    if (this.deps.logContent) report.messages = clipStrings(input.messages) as ChatCompletionInputShape['messages'];
    return report;
  }

  /** The upstream call's context: with a client's own key (AUTH_MODE=forward), that key is redacted too. */
  private callContext(principal: Principal): CallContext {
    return principal.upstreamKey === null ? this.deps : { ...this.deps, redact: redactingAlso(this.deps.redact, principal.upstreamKey) };
  }

  /** LOG_CONTENT=true: the answer's text for the log line. */
  private recordAnswer(report: OperationReport, completion: WireCompletion): void {
    if (this.deps.logContent) report.completion = clipStrings(completion.choices[0]?.message?.content ?? null) as string | null;
  }

  /** One info line per operation, and its metrics, written when it has ended. */
  private report(report: OperationReport): void {
    const { usage, startedAt, span, ...fields } = report;
    const latencyMs = performance.now() - startedAt;
    if (span.isRecording()) {
      span.setAttributes({
        'chatql.outcome': report.outcome,
        'chatql.retries': report.retries,
        ...(typeof usage?.prompt_tokens === 'number' ? { 'gen_ai.usage.input_tokens': usage.prompt_tokens } : {}),
        ...(typeof usage?.completion_tokens === 'number' ? { 'gen_ai.usage.output_tokens': usage.completion_tokens } : {}),
        ...(report.ttftMs === undefined ? {} : { 'chatql.time_to_first_token_ms': report.ttftMs }),
        ...(report.chunks === undefined ? {} : { 'chatql.chunks': report.chunks }),
        ...(report.upstream === undefined ? {} : { 'chatql.upstream': report.upstream }),
        ...(typeof report.status === 'number' ? { 'http.response.status_code': report.status } : {}),
      });
      if (!SPAN_OK_OUTCOMES.has(report.outcome)) span.setStatus({ code: SpanStatusCode.ERROR, message: report.outcome });
    }
    span.end();
    const metrics = this.deps.metrics;
    if (metrics) {
      const { operation, outcome } = report;
      metrics.operations.inc({ operation, outcome });
      metrics.latency.observe({ operation }, latencyMs / 1000);
      if (report.ttftMs !== undefined) metrics.timeToFirstToken.observe(report.ttftMs / 1000);
      if (report.retries > 0) metrics.retries.inc(report.retries);
      if (report.upstream !== undefined) metrics.fallbacks.inc({ upstream: report.upstream });
      // Only answers carry usage, so the model label stays within what the upstream serves.
      const client = this.clientLabel(report.clientId);
      const model = report.servedModel ?? report.model;
      if (usage?.prompt_tokens) metrics.tokens.inc({ model, kind: 'prompt', client }, usage.prompt_tokens);
      if (usage?.completion_tokens) metrics.tokens.inc({ model, kind: 'completion', client }, usage.completion_tokens);
      if (report.aborted) metrics.streamsAborted.inc({ reason: report.aborted });
    }
    this.deps.logger.info(
      {
        ...fields,
        latencyMs: Math.round(latencyMs * 10) / 10,
        ...(report.ttftMs === undefined ? {} : { ttftMs: Math.round(report.ttftMs * 10) / 10 }),
        promptTokens: usage?.prompt_tokens ?? null,
        completionTokens: usage?.completion_tokens ?? null,
      },
      'operation',
    );
  }

  /** The whole completion (upstream `stream: false`). Throws a `ChatQLError` on any failure. */
  async complete(input: ChatCompletionInputShape, call: OperationCall): Promise<WireCompletion> {
    const report = this.startReport('chatCompletion', input, call);
    const operation = this.deps.operations.begin('mutation', call.signal);
    const { principal } = call;
    let admission: Admission | undefined;
    try {
      if (principal instanceof AuthenticationError) throw principal;
      const problem = validateChatInput(input, this.deps.maxMessages);
      if (problem) throw problem;
      if (!operation) throw shuttingDownError();
      const rejected = this.rejectedKey(principal);
      if (rejected) throw rejected;
      admission = await this.deps.gate.admit(principal, input, false);
      const body = translateChatInput(admission.input, false) as ChatCompletionCreateParamsNonStreaming;
      const headers = upstreamHeaders(call, principal, report.span);
      const { value: completion, target } = await callWithFailover(
        this.callContext(principal),
        'chat.completions',
        operation.signal,
        this.targetsFor(principal),
        body.model,
        async (target) => {
          const answer = (await target.client.chat.completions.create(forTarget(body, target), {
            signal: operation.signal,
            headers,
          })) as unknown as WireCompletion;
          if (typeof answer?.id !== 'string' || !Array.isArray(answer.choices)) {
            throw new MalformedUpstreamAnswer('The upstream answered with something other than a chat completion.');
          }
          return answer;
        },
        report,
      );
      if (target.name !== PRIMARY) report.upstream = target.name;
      if (target.model !== undefined) report.servedModel = target.model;
      report.usage = completion.usage;
      this.recordAnswer(report, completion);
      admission.settle(completion.usage?.total_tokens ?? null);
      return completion;
    } catch (caught) {
      // A failed call cost nothing; a cancelled one may have (the estimate stands).
      admission?.settle(caught instanceof CallAborted ? null : 0);
      if (principal instanceof AuthenticationError) throw caught;
      this.noteRefusal(principal, caught);
      const error =
        caught instanceof CallAborted
          ? operation?.stoppedByShutdown
            ? shuttingDownError()
            : new UpstreamUnavailableError(CANCELLED, ErrorSource.SERVICE)
          : caught instanceof ChatQLError
            ? caught
            : this.unexpected(caught, report);
      report.outcome = caught instanceof CallAborted && !operation?.stoppedByShutdown ? 'cancelled' : error.name;
      report.status = error instanceof UpstreamUnavailableError ? error.status : undefined;
      throw error;
    } finally {
      operation?.end();
      this.report(report);
    }
  }

  /**
   * The live stream (upstream `stream: true`). Never throws: every failure is the terminal event.
   * The returned iterator's `return()` aborts the upstream request before it waits for the
   * generator, which may be parked on the next chunk (see STACK.md: `return()` alone queues
   * behind a pending `next()`); the transports also abort through `transportSignal`.
   *
   * An operation that never started (the client completed the subscription, or closed its socket,
   * before the first `next()`, as React StrictMode and fast route changes do) ends at once: a
   * generator that was never started skips its `finally`, so nothing else would end it.
   */
  stream(input: ChatCompletionInputShape, call: OperationCall): AsyncIterableIterator<StreamEvent> {
    const report = this.startReport('chatCompletionStream', input, call);
    const { principal } = call;
    if (principal instanceof AuthenticationError) return this.once(principal, report);
    const problem = validateChatInput(input, this.deps.maxMessages);
    if (problem) return this.once(problem, report);
    const rejected = this.rejectedKey(principal);
    if (rejected) return this.once(rejected, report);
    const operation = this.deps.operations.begin('subscription', call.signal);
    if (!operation) return this.once(shuttingDownError(), report);
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
      this.report(report);
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
          generator = this.run(input, call, principal, operation, report);
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
  private async *once(event: DomainError, report: OperationReport): AsyncGenerator<StreamEvent, void> {
    report.outcome = event.name;
    this.report(report);
    yield event;
  }

  private async *run(
    input: ChatCompletionInputShape,
    call: OperationCall,
    principal: Principal,
    operation: Operation,
    report: OperationReport,
  ): AsyncGenerator<StreamEvent, void> {
    const { signal } = operation;
    let iterator: AsyncIterator<WireChunk> | undefined;
    let served: { target: UpstreamTarget; ticket: HealthTicket | null } | undefined;
    let terminal: StreamEvent | null = null;
    let admission: Admission | undefined;
    const accumulator = new ChunkAccumulator();
    try {
      admission = await this.deps.gate.admit(principal, input, true);
      const body = translateChatInput(admission.input, true) as ChatCompletionCreateParamsStreaming;
      const headers = upstreamHeaders(call, principal, report.span);
      // Retries cover everything up to the first chunk, which is the last moment a retry is invisible.
      // Fallbacks too: once a chunk has gone to the client, no other target may take over.
      const started = await callWithFailover(
        this.callContext(principal),
        'chat.completions.stream',
        signal,
        this.targetsFor(principal),
        body.model,
        async (target) => {
          const stream = await target.client.chat.completions.create(forTarget(body, target), { signal, headers });
          const opened = stream[Symbol.asyncIterator]() as AsyncIterator<WireChunk>;
          const first = await opened.next();
          if (first.done) {
            // The SDK ends an aborted stream quietly: that is the caller's cancellation, not the upstream's.
            if (signal.aborted) throw new CallAborted();
            throw new StreamEndedUnfinished('no chunk at all');
          }
          if (isInBandError(first.value)) throw new InBandUpstreamError(first.value as WireError);
          iterator = opened;
          return first;
        },
        report,
      );
      let next: IteratorResult<WireChunk> = started.value;
      served = started;
      const serving = started.target;
      if (serving.name !== PRIMARY) report.upstream = serving.name;
      if (serving.model !== undefined) report.servedModel = serving.model;
      report.ttftMs = performance.now() - report.startedAt;
      while (!next.done) {
        const chunk = next.value;
        if (isInBandError(chunk)) throw new InBandUpstreamError(chunk as WireError);
        accumulator.add(chunk);
        yield chunk;
        next = await iterator!.next();
      }
      // The SDK ends a stream quietly when its request is aborted: that is not a finished answer.
      if (signal.aborted) {
        if (operation.stoppedByShutdown) yield (terminal = shuttingDownError());
        return;
      }
      const result = accumulator.finish();
      if (!result.ok) throw new StreamEndedUnfinished(result.reason);
      finalCompletions.add(result.completion);
      served.ticket?.settle('success');
      this.recordAnswer(report, result.completion);
      yield (terminal = result.completion);
    } catch (error) {
      if (signal.aborted) {
        if (operation.stoppedByShutdown) yield (terminal = shuttingDownError());
        return;
      }
      this.noteRefusal(principal, error);
      yield (terminal = error instanceof CallAborted ? new UpstreamUnavailableError(CANCELLED, ErrorSource.SERVICE)
        : error instanceof ChatQLError ? (error as DomainError)
        : served === undefined ? this.unexpected(error, report)
        : failWithoutRetry(this.callContext(principal), 'chat.completions.stream', error, served));
    } finally {
      operation.end();
      // A stream stopped on our side (the client left, shutdown) says nothing of the upstream's health.
      served?.ticket?.settle('cancelled');
      // Real usage where the upstream sent it; otherwise, once anything was generated, the prompt's
      // estimate and a token per chunk; nothing for a call that failed before its first chunk.
      const generated = accumulator.count > 0 || terminal === null;
      admission?.settle(accumulator.usage?.total_tokens ?? (generated ? estimatePromptTokens(input) + accumulator.count : 0));
      report.outcome = terminal === null ? 'cancelled' : terminal instanceof Error ? terminal.name : 'ChatCompletion';
      report.status = terminal instanceof UpstreamUnavailableError ? terminal.status : undefined;
      report.usage = accumulator.usage;
      report.chunks = accumulator.count;
      if (signal.aborted) report.aborted = operation.stoppedByShutdown ? 'shutdown' : 'client_gone';
      this.report(report);
      // Lets the SDK release its response body when the stream ended early on our side.
      void iterator?.return?.().catch(() => undefined);
    }
  }
}
