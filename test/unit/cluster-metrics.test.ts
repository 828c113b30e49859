/**
 * The workers' registries added up the way the primary does it (src/cluster/metrics.ts): prom-client's
 * AggregatorRegistry, by each metric's `aggregator` (src/metrics.ts).
 */
import { AggregatorRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';

import { createMetrics } from '../../src/metrics.js';
import { sample } from '../utils/metrics.js';

/** One worker's registry: `completions` operations ended, its breakers in `state`, one WebSocket open. */
function worker(completions: number, state: number) {
  const metrics = createMetrics({
    operations: () => 1,
    streams: () => 1,
    webSockets: () => 1,
    upstreamBreakers: () => [{ upstream: 'primary', state }],
    modelBreakers: () => [{ upstream: 'primary', model: 'gpt-4o', state }],
    detachedStreams: () => 0,
  });
  metrics.operations.inc({ operation: 'chatCompletion', outcome: 'ChatCompletion' }, completions);
  metrics.latency.observe({ operation: 'chatCompletion' }, 0.2);
  return metrics.registry;
}

describe('the cluster-wide /metrics', () => {
  it('sums counters, histograms and live gauges, takes the worst breaker state, and leaves out the start time', async () => {
    const workers = [worker(3, 0), worker(4, 1), worker(0, 2)];
    const text = await AggregatorRegistry.aggregate(await Promise.all(workers.map((registry) => registry.getMetricsAsJSON()))).metrics();
    expect(sample(text, 'chatql_operations_total{operation="chatCompletion",outcome="ChatCompletion"}')).toBe(7);
    expect(sample(text, 'chatql_operation_duration_seconds_count{operation="chatCompletion"}')).toBe(3);
    expect(sample(text, 'chatql_active_operations')).toBe(3);
    expect(sample(text, 'chatql_active_streams')).toBe(3);
    expect(sample(text, 'chatql_websocket_connections')).toBe(3);
    expect(sample(text, 'chatql_upstream_breaker_state{upstream="primary"}')).toBe(2);
    expect(sample(text, 'chatql_upstream_model_breaker_state{upstream="primary",model="gpt-4o"}')).toBe(2);
    expect(text).not.toContain('chatql_process_start_time_seconds');
    expect(text.match(/^chatql_process_nodejs_version_info\{/gm), 'the same in every worker: once').toHaveLength(1);
  });
});
