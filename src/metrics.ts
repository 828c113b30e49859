/**
 * Prometheus metrics (text exposition at /metrics, or on METRICS_PORT). One registry per app, so
 * that several apps in one process (tests) do not share counters. Labels are bounded: the
 * operation names, the error union's member names, the model names the upstream serves, and at
 * most MAX_CLIENT_LABELS client ids (the rest count as `other`).
 *
 * With several workers (WORKERS), the primary adds the workers' registries up
 * (src/cluster/metrics.ts): each metric says how, in its `aggregator`. Counters and histograms are
 * sums, and so are the gauges of live things (operations, streams, connections); the breaker
 * gauges are states, and each worker has breakers of its own: the worst of them, `max`, is the
 * state a dashboard wants (Node's own process metrics come with their aggregators).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Client ids that get a label of their own; JWT subjects are unbounded, so the rest share one. */
export const MAX_CLIENT_LABELS = 100;

/** Maps client ids to bounded label values: the first MAX_CLIENT_LABELS seen, then `other`. */
export function clientLabels(max = MAX_CLIENT_LABELS): (clientId: string | null) => string {
  const known = new Set<string>();
  return (clientId) => {
    if (clientId === null) return 'unauthenticated';
    if (known.has(clientId)) return clientId;
    if (known.size >= max) return 'other';
    known.add(clientId);
    return clientId;
  };
}

/** Model names that get a label of their own on the breaker metrics (clients can send any name). */
export const MAX_MODEL_LABELS = 100;

/** Maps model names to bounded label values: the first `max` seen, then `other`. */
export function modelLabels(max = MAX_MODEL_LABELS): (model: string) => string {
  const known = new Set<string>();
  return (model) => {
    if (known.has(model)) return model;
    if (known.size >= max) return 'other';
    known.add(model);
    return model;
  };
}

/** Seconds; from a cached answer to a long generation. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export interface MetricsSources {
  /** Live streams and mutations. */
  operations: () => number;
  /** Live streams. */
  streams: () => number;
  /** Open graphql-ws connections. */
  webSockets: () => number;
  /** Each upstream target's own breaker state by target name (0 closed, 1 open, 2 half-open); none when off. */
  upstreamBreakers?: () => ReadonlyArray<{ upstream: string; state: number }>;
  /** Each (target, model) breaker's state; none when off. */
  modelBreakers?: () => ReadonlyArray<{ upstream: string; model: string; state: number }>;
  /** Resumable generations running here with no subscriber attached (waiting out their grace). */
  detachedStreams?: () => number;
}

export function createMetrics(sources: MetricsSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'chatql_process_' });
  const metrics = {
    registry,
    operations: new Counter({
      name: 'chatql_operations_total',
      help: 'Operations that ended, by operation and outcome (the result union member, or cancelled).',
      labelNames: ['operation', 'outcome'] as const,
      registers: [registry],
      aggregator: 'sum',
    }),
    latency: new Histogram({
      name: 'chatql_operation_duration_seconds',
      help: 'From the operation starting to its last event.',
      labelNames: ['operation'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
      aggregator: 'sum',
    }),
    timeToFirstToken: new Histogram({
      name: 'chatql_time_to_first_token_seconds',
      help: "Streams: from the operation starting to the upstream's first chunk.",
      buckets: LATENCY_BUCKETS,
      registers: [registry],
      aggregator: 'sum',
    }),
    tokens: new Counter({
      name: 'chatql_tokens_total',
      help: `Tokens the upstream reported, by model, kind (prompt or completion) and client (the first ${MAX_CLIENT_LABELS} client ids; the rest as other).`,
      labelNames: ['model', 'kind', 'client'] as const,
      registers: [registry],
      aggregator: 'sum',
    }),
    cost: new Counter({
      name: 'chatql_cost_total',
      help: `What answers cost, in their currency (PRICE_CURRENCY): the upstream's figures, or the price table's; by model and client (the first ${MAX_CLIENT_LABELS} client ids; the rest as other).`,
      labelNames: ['model', 'client', 'currency'] as const,
      registers: [registry],
      aggregator: 'sum',
    }),
    upstreamLatency: new Histogram({
      name: 'chatql_upstream_duration_seconds',
      help: "Each upstream attempt, by call and target: until the whole answer (chat.completions, models) or the stream's first chunk (chat.completions.stream).",
      labelNames: ['call', 'upstream', 'outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
      aggregator: 'sum',
    }),
    retries: new Counter({
      name: 'chatql_upstream_retries_total',
      help: 'Upstream calls retried under the retry policy.',
      registers: [registry],
      aggregator: 'sum',
    }),
    fallbacks: new Counter({
      name: 'chatql_upstream_fallbacks_total',
      help: 'Chat operations answered by a fallback upstream (UPSTREAM_FALLBACKS), by its name (fallback-1, ...).',
      labelNames: ['upstream'] as const,
      registers: [registry],
      aggregator: 'sum',
    }),
    streamsAborted: new Counter({
      name: 'chatql_streams_aborted_total',
      help: 'Streams stopped before their end: by their client leaving (client_gone) or by the end of the shutdown grace (shutdown).',
      labelNames: ['reason'] as const,
      registers: [registry],
      aggregator: 'sum',
    }),
    limitRefusals: new Counter({
      name: 'chatql_limit_refusals_total',
      help: 'Operations refused by a per-client limit before any upstream call, by limit.',
      labelNames: ['limit'] as const,
      registers: [registry],
      aggregator: 'sum',
    }),
    breakerOpened: new Counter({
      name: 'chatql_upstream_breaker_opened_total',
      help: `Circuit breakers that opened, by target and model (empty for the target's own breaker; the first ${MAX_MODEL_LABELS} model names, the rest as other).`,
      labelNames: ['upstream', 'model'] as const,
      registers: [registry],
      aggregator: 'sum',
    }),
    streamResumes: new Counter({
      name: 'chatql_stream_resumes_total',
      help: 'Subscriptions that asked to attach to a resumable generation, by outcome: attached, not_found, mismatch, store_unavailable.',
      labelNames: ['outcome'] as const,
      registers: [registry],
      aggregator: 'sum',
    }),
    upstreamErrors: new Counter({
      name: 'chatql_upstream_errors_total',
      help: 'Failed upstream calls, by the error they mapped to.',
      labelNames: ['error'] as const,
      registers: [registry],
      aggregator: 'sum',
    }),
  };
  new Gauge({
    name: 'chatql_active_operations',
    help: 'Mutations and streams running now.',
    registers: [registry],
    aggregator: 'sum',
    collect() {
      this.set(sources.operations());
    },
  });
  new Gauge({
    name: 'chatql_active_streams',
    help: 'Streams (chatCompletionStream) running now, over graphql-ws and SSE.',
    registers: [registry],
    aggregator: 'sum',
    collect() {
      this.set(sources.streams());
    },
  });
  new Gauge({
    name: 'chatql_websocket_connections',
    help: 'Open graphql-ws connections.',
    registers: [registry],
    aggregator: 'sum',
    collect() {
      this.set(sources.webSockets());
    },
  });
  const detached = sources.detachedStreams;
  if (detached) {
    new Gauge({
      name: 'chatql_detached_streams',
      help: 'Resumable generations running with no subscriber attached, waiting out STREAM_RESUME_GRACE_MS for one.',
      registers: [registry],
      aggregator: 'sum',
      collect() {
        this.set(detached());
      },
    });
  }
  const breakers = sources.upstreamBreakers;
  if (breakers) {
    new Gauge({
      name: 'chatql_upstream_breaker_state',
      help: "Each upstream target's circuit breaker: 0 closed, 1 open (calls answered at once), 2 half-open (a probe may go or is under way).",
      labelNames: ['upstream'] as const,
      registers: [registry],
      // Open (1) or half-open (2) in any worker shows.
      aggregator: 'max',
      collect() {
        for (const { upstream, state } of breakers()) this.set({ upstream }, state);
      },
    });
  }
  const modelBreakers = sources.modelBreakers;
  if (modelBreakers) {
    new Gauge({
      name: 'chatql_upstream_model_breaker_state',
      help: `Each (target, model) circuit breaker: 0 closed, 1 open, 2 half-open; the first ${MAX_MODEL_LABELS} model names, the rest as other (the worst of them).`,
      labelNames: ['upstream', 'model'] as const,
      registers: [registry],
      aggregator: 'max',
      collect() {
        // Breakers come and go (the least recently used are dropped): only the live ones are series.
        this.reset();
        const worst = new Map<string, { upstream: string; model: string; state: number }>();
        for (const breaker of modelBreakers()) {
          const key = `${breaker.upstream}\u0000${breaker.model}`;
          const seen = worst.get(key);
          if (!seen || breaker.state > seen.state) worst.set(key, breaker);
        }
        for (const { upstream, model, state } of worst.values()) this.set({ upstream, model }, state);
      },
    });
  }
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
