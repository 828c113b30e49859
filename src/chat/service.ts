/**
 * Chat completions, one-shot and streamed: validate, admit under the client's limits, translate,
 * call the upstream with the retry policy, breakers and fallbacks, and answer with the upstream's
 * own objects (resolvers read them as they are) or a domain error. Each call runs as an
 * `Operation`, so that a departing client or the end of the shutdown grace aborts its upstream
 * request at once. The stream's run loop is in `stream.ts`, the operation's report in `report.ts`.
 */
import type { Principal } from '../auth/principal.js';
import {
  AuthenticationError,
  ChatQLError,
  type DomainError,
  ErrorSource,
  InvalidRequestError,
  shuttingDownError,
  UpstreamUnavailableError,
} from '../errors.js';
import type { Admission, LimitsGate } from '../limits/gate.js';
import type { Metrics } from '../metrics.js';
import type { OperationTracker } from '../operations.js';
import { redactingAlso } from '../redact.js';
import { noopTracer } from '../tracing.js';
import { createCompletion, upstreamHeaders } from '../upstream/api.js';
import { CallAborted, type CallContext, callWithFailover } from '../upstream/call.js';
import { serviceFailure } from '../upstream/classify.js';
import type { Cost, ModelPrice, PriceTable } from '../pricing/prices.js';
import type { UpstreamPrices } from '../pricing/upstream-prices.js';
import { ToolCallIds } from './tool-ids.js';
import type { RejectedKeys } from '../upstream/rejected-keys.js';
import { PRIMARY, unavailableUntil, type UpstreamTarget } from '../upstream/targets.js';
import { translateChatInput } from '../upstream/translate.js';
import type { WireCompletion } from '../upstream/wire.js';
import { type OperationReport, OperationReporter } from './report.js';
import type { AuthOutcome } from '../auth/authenticate.js';
import { checkResumeKey, type ResumableStreams, type ResumeRequest } from '../streams/resumable.js';
import { once, runStream, type StreamEvent, startOnDemand } from './stream.js';
import type { ChatRequest, OperationCall } from './types.js';
import { validateChatInput } from './validate.js';

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
  /** Resumable streams (`resume`); without them, `resume` is refused. */
  streams?: ResumableStreams;
  /** What models cost (MODEL_PRICES_FILE, UPSTREAM_PRICES). */
  prices?: PriceTable;
  /** UPSTREAM_PRICES=litellm: refreshed before a spend-limited admission. */
  upstreamPrices?: UpstreamPrices;
}

const CANCELLED = 'The request was cancelled.';

export class ChatService {
  private readonly reporter: OperationReporter;
  /** The targets a client's forwarded key may go to: the primary's own upstream only. */
  private readonly forwardTargets: readonly UpstreamTarget[];

  constructor(private readonly deps: ChatServiceDeps) {
    this.reporter = new OperationReporter({
      logger: deps.logger,
      tracer: deps.tracer ?? noopTracer(),
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
      ...(deps.logContent ? { logContent: true } : {}),
    });
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
    this.deps.logger.error(
      { requestId: report.requestId, operation: report.operation, error: this.deps.redact(stack) },
      'operation failed inside the service',
    );
    return serviceFailure().error;
  }

  /** What an answer of `model` cost; null without a price table or a figure. */
  private costOf(model: string, usage: WireCompletion['usage'], header: string | null = null): Cost | null {
    return this.deps.prices?.costOf(model, usage, header) ?? null;
  }

  /**
   * The price the limits bound a request with: only for a client with a spend limit, after a
   * fresh look at the upstream's prices where they are read (fast once they are cached).
   */
  private async priceForLimits(principal: Principal, model: string): Promise<ModelPrice | null> {
    if (principal.limits.dailySpend === null || !this.deps.prices) return null;
    await this.deps.upstreamPrices?.refresh();
    return this.deps.prices.priceOf(model);
  }

  /** The upstream call's context: with a client's own key (AUTH_MODE=forward), that key is redacted too. */
  private callContext(principal: Principal): CallContext {
    return principal.upstreamKey === null ? this.deps : { ...this.deps, redact: redactingAlso(this.deps.redact, principal.upstreamKey) };
  }

  /** The whole completion (upstream `stream: false`). Throws a `ChatQLError` on any failure. */
  async complete(input: ChatRequest, call: OperationCall): Promise<WireCompletion> {
    const report = this.reporter.start('chatCompletion', input, call);
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
      admission = await this.deps.gate.admit(principal, input, false, await this.priceForLimits(principal, input.model));
      const body = translateChatInput(admission.input, false);
      const options = { signal: operation.signal, headers: upstreamHeaders(call.requestId, principal.upstreamKey, report.span) };
      const { value: answered, target } = await callWithFailover(
        this.callContext(principal),
        'chat.completions',
        operation.signal,
        this.targetsFor(principal),
        body.model,
        (target) => createCompletion(target, body, options),
        report,
      );
      const completion = answered.value;
      new ToolCallIds().fixCompletion(completion);
      if (target.name !== PRIMARY) report.upstream = target.name;
      if (target.model !== undefined) report.servedModel = target.model;
      completion.upstreamRequestId = answered.upstreamRequestId;
      const cost = this.costOf(target.model ?? body.model, completion.usage, answered.costHeader);
      if (completion.usage) completion.usage.chatqlCost = cost;
      report.usage = completion.usage;
      report.cost = cost;
      report.upstreamRequestId = answered.upstreamRequestId;
      this.reporter.recordAnswer(report, completion);
      admission.settle(completion.usage?.total_tokens ?? null, cost?.amount ?? null);
      return completion;
    } catch (caught) {
      // A failed call cost nothing; a cancelled one may have (the reservation stands).
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
      this.reporter.end(report);
    }
  }

  /**
   * The live stream (upstream `stream: true`). Never throws: every failure is the terminal event.
   * With `resume`, the generation outlives a dropped subscriber and may be attached to again (see
   * src/streams/resumable.ts).
   */
  stream(input: ChatRequest, call: OperationCall, resume?: ResumeRequest | null): AsyncIterableIterator<StreamEvent> {
    if (resume) return this.resumableStream(input, call, resume);
    const report = this.reporter.start('chatCompletionStream', input, call);
    const { principal } = call;
    if (principal instanceof AuthenticationError) return once(principal, report, this.reporter);
    const problem = validateChatInput(input, this.deps.maxMessages);
    if (problem) return once(problem, report, this.reporter);
    const rejected = this.rejectedKey(principal);
    if (rejected) return once(rejected, report, this.reporter);
    const operation = this.deps.operations.begin('subscription', call.signal);
    if (!operation) return once(shuttingDownError(), report, this.reporter);
    return startOnDemand({
      input,
      call,
      principal,
      operation,
      report,
      reporter: this.reporter,
      gate: this.deps.gate,
      targets: this.targetsFor(principal),
      context: this.callContext(principal),
      noteRefusal: (error) => this.noteRefusal(principal, error),
      unexpected: (error) => this.unexpected(error, report),
      costOf: (model, usage) => this.costOf(model, usage),
      priceForLimits: () => this.priceForLimits(principal, input.model),
    });
  }

  /**
   * A stream with `resume`: the refusals any stream gets come first; then the client's generation
   * with this key is attached to, or started. Only the one that starts it is an operation of its
   * own (one admission, one report); a generation is tied to no subscriber's transport, so that a
   * dropped subscriber leaves it running.
   */
  private resumableStream(input: ChatRequest, call: OperationCall, resume: ResumeRequest): AsyncIterableIterator<StreamEvent> {
    const { principal } = call;
    const refusal =
      principal instanceof AuthenticationError
        ? principal
        : (checkResumeKey(resume.key) ??
          validateChatInput(input, this.deps.maxMessages) ??
          this.rejectedKey(principal) ??
          (this.deps.streams
            ? null
            : new InvalidRequestError('This service does not keep resumable streams.', ErrorSource.SERVICE, 'resume', 'unsupported')));
    if (refusal || principal instanceof AuthenticationError || !this.deps.streams) {
      return once(refusal ?? shuttingDownError(), this.reporter.start('chatCompletionStream', input, call), this.reporter);
    }
    const streams = this.deps.streams;
    const signal = call.signal ?? new AbortController().signal;
    return openOnDemand(signal, () =>
      streams.open(principal, input, resume, signal, () => {
        const operation = this.deps.operations.begin('subscription', undefined);
        if (!operation) return shuttingDownError();
        const report = this.reporter.start('chatCompletionStream', input, call);
        const source = runStream({
          input,
          call,
          principal,
          operation,
          report,
          reporter: this.reporter,
          gate: this.deps.gate,
          targets: this.targetsFor(principal),
          context: this.callContext(principal),
          noteRefusal: (error) => this.noteRefusal(principal, error),
          unexpected: (error) => this.unexpected(error, report),
          costOf: (model, usage) => this.costOf(model, usage),
          priceForLimits: () => this.priceForLimits(principal, input.model),
        });
        return { operation, source };
      }),
    );
  }

  /** `cancelChatCompletionStream`: stops the client's resumable generation with this key. */
  async cancelStream(principal: AuthOutcome, key: string): Promise<{ cancelled: boolean }> {
    if (principal instanceof AuthenticationError) throw principal;
    const problem = checkResumeKey(key);
    if (problem) throw new InvalidRequestError(problem.message, ErrorSource.SERVICE, 'key', 'invalid_key');
    return { cancelled: (await this.deps.streams?.cancel(principal, key)) ?? false };
  }
}

/**
 * The iterator of a resumable subscription, opened at its first `next()`: a subscription the
 * client completed (or dropped) before that opens nothing.
 */
function openOnDemand(signal: AbortSignal, open: () => Promise<AsyncIterableIterator<StreamEvent>>): AsyncIterableIterator<StreamEvent> {
  let opened: Promise<AsyncIterableIterator<StreamEvent>> | null = null;
  /** Once opened, every `next()` goes straight to it: nothing added on the token path. */
  let inner: AsyncIterableIterator<StreamEvent> | null = null;
  const done = { done: true as const, value: undefined };
  const iterator: AsyncIterableIterator<StreamEvent> = {
    next: () => {
      if (inner) return inner.next();
      if (opened === null) {
        if (signal.aborted) return Promise.resolve(done);
        opened = open().then((events) => (inner = events));
      }
      return opened.then((events) => events.next());
    },
    return: async () => {
      if (opened === null) return done;
      const events = await opened;
      return events.return ? events.return() : done;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
