/**
 * The account of one chat operation: its trace span (upstream attempts are its children), its
 * metrics, and its one `operation` log line, written when it has ended. Prompts and answers are
 * in the line only with LOG_CONTENT=true, each string cut at MAX_LOGGED_STRING.
 */
import { type Span, SpanStatusCode, type Tracer } from '@opentelemetry/api';

import type { AuthOutcome } from '../auth/authenticate.js';
import { AuthenticationError } from '../errors.js';
import type { Logger } from '../logger.js';
import { clientLabels, type Metrics } from '../metrics.js';
import type { Cost } from '../pricing/prices.js';
import type { WireCompletion } from '../upstream/wire.js';
import type { ChatRequest } from './types.js';

/** What the one log line of an operation holds (prompts and completions only with LOG_CONTENT=true). */
export interface OperationReport {
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
  /** What it cost, where known. */
  cost?: Cost | null;
  /** The upstream's id of the request (LiteLLM's call id, or x-request-id). */
  upstreamRequestId?: string | null;
  chunks?: number;
  /** The operation's trace span, ended with the report; upstream attempts are its children. */
  span: Span;
  /** A stream stopped before its end, and by whom. */
  aborted?: 'client_gone' | 'shutdown';
  /** LOG_CONTENT=true: the input's messages, and the answer's text once there is one. */
  messages?: ChatRequest['messages'];
  completion?: string | null;
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

export interface ReporterDeps {
  logger: Logger;
  tracer: Tracer;
  metrics?: Metrics;
  /** LOG_CONTENT: put the messages and the answer's text in the operation's log line. */
  logContent?: boolean;
}

export class OperationReporter {
  /** Client ids as bounded metric labels. */
  private readonly clientLabel = clientLabels();

  constructor(private readonly deps: ReporterDeps) {}

  /** A report for an operation starting now, with its span; its outcome is filled in when it ends. */
  start(operation: OperationReport['operation'], input: ChatRequest, call: { requestId: string; principal: AuthOutcome }): OperationReport {
    const clientId = call.principal instanceof AuthenticationError ? null : call.principal.id;
    const span = this.deps.tracer.startSpan(operation === 'chatCompletion' ? 'chat.completion' : 'chat.completion.stream', {
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
    if (this.deps.logContent) report.messages = clipStrings(input.messages) as ChatRequest['messages'];
    return report;
  }

  /** LOG_CONTENT=true: the answer's text for the log line. */
  recordAnswer(report: OperationReport, completion: WireCompletion): void {
    if (this.deps.logContent) report.completion = clipStrings(completion.choices[0]?.message?.content ?? null) as string | null;
  }

  /** Ends the span, counts the metrics and writes the one info line; call once, when the operation has ended. */
  end(report: OperationReport): void {
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
      if (report.cost) metrics.cost.inc({ model, client, currency: report.cost.currency }, report.cost.amount);
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
}
