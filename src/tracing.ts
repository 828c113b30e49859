/**
 * OpenTelemetry traces: a span per operation (`chat.completion`, `chat.completion.stream`) and a
 * span per upstream attempt (named by its call: `chat.completions`, `chat.completions.stream`,
 * `models`), with the model, the client, the request id, the outcome and the token counts as
 * attributes. Exported over OTLP/HTTP when
 * OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; otherwise the API's
 * no-op tracer is used, whose spans cost a few object allocations per operation and nothing per
 * chunk. The W3C `traceparent` of the operation's span goes upstream, so a LiteLLM proxy that
 * traces joins the same trace. The SDK and the exporter are loaded only when export is asked for
 * (about 100 ms and 5 MB of heap at start-up otherwise).
 */
import { createRequire } from 'node:module';

import { propagation, type Tracer, trace } from '@opentelemetry/api';

export const TRACER_NAME = 'chatql';

/** The tracer when nothing is exported: the API's no-op. */
export function noopTracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

export interface Tracing {
  tracer: Tracer;
  /** Sends the spans still buffered, then stops. */
  shutdown(): Promise<void>;
}

/** OTEL_BSP_SCHEDULE_DELAY: how long spans wait in the batch before export (default 5000 ms). */
function batchDelay(env: NodeJS.ProcessEnv): { scheduledDelayMillis?: number } {
  const delay = Number(env.OTEL_BSP_SCHEDULE_DELAY);
  return Number.isFinite(delay) && delay > 0 ? { scheduledDelayMillis: delay } : {};
}

/** Whether the environment asks for OTLP export. */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

/**
 * Starts OTLP export; the exporter reads the standard OTEL_EXPORTER_OTLP_* variables itself
 * (endpoint, headers, timeout), and the batch processor OTEL_BSP_SCHEDULE_DELAY.
 */
export async function startTracing(env: NodeJS.ProcessEnv = process.env): Promise<Tracing> {
  const [{ W3CTraceContextPropagator }, { OTLPTraceExporter }, { resourceFromAttributes }, { BatchSpanProcessor, TracerProvider }] =
    await Promise.all([
      import('@opentelemetry/core'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/sdk-trace'),
    ]);
  const { version } = createRequire(import.meta.url)('../package.json') as { version: string };
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME?.trim() || 'chatql', 'service.version': version }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ...batchDelay(env) })],
  });
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return { tracer: provider.getTracer(TRACER_NAME, version), shutdown: () => provider.shutdown() };
}
