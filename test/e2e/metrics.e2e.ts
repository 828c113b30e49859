/** Prometheus metrics: what the operations leave in /metrics, on the main port or METRICS_PORT. */
import { describe, expect, it } from 'vitest';

import { createWsClient, postGraphQL, subscribeWs } from '../utils/clients.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription } from '../utils/operations.js';
import { sample } from '../utils/metrics.js';
import { startMock, startService, until } from '../utils/servers.js';

describe('/metrics', async () => {
  const mock = await startMock();

  it('counts operations by outcome, tokens by model, upstream errors and retries, and reports live gauges', async () => {
    const service = await startService(mock);
    const input = (model: string) => ({ model, messages: [{ user: { content: 'hello' } }] });
    await postGraphQL(service, ChatCompletionMutation, { input: input('chatql-mock') });
    await postGraphQL(service, ChatCompletionMutation, { input: input('fail-429') });
    mock.enqueue({ status: 503, body: { error: { message: 'busy', type: 'server_error', param: null, code: null } } });
    await postGraphQL(service, ChatCompletionMutation, { input: input('chatql-mock') });
    const client = createWsClient(service);
    const stream = subscribeWs(client, ChatCompletionStreamSubscription, { input: input('chatql-mock') });
    await stream.done;

    await until(() => service.app.operations.size === 0, 2000, 'operations to end');
    const response = await fetch(`${service.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(sample(text, 'chatql_operations_total{operation="chatCompletion",outcome="ChatCompletion"}')).toBe(2);
    expect(sample(text, 'chatql_operations_total{operation="chatCompletion",outcome="RateLimitError"}')).toBe(1);
    expect(sample(text, 'chatql_operations_total{operation="chatCompletionStream",outcome="ChatCompletion"}')).toBe(1);
    expect(sample(text, 'chatql_upstream_errors_total{error="RateLimitError"}')).toBe(1);
    expect(sample(text, 'chatql_upstream_errors_total{error="UpstreamUnavailableError"}')).toBe(1);
    expect(sample(text, 'chatql_upstream_retries_total')).toBe(1);
    expect(sample(text, 'chatql_tokens_total{model="chatql-mock",kind="completion",client="anonymous"}')).toBeGreaterThan(0);
    expect(sample(text, 'chatql_time_to_first_token_seconds_count')).toBe(1);
    expect(sample(text, 'chatql_upstream_duration_seconds_count{call="chat.completions",upstream="primary",outcome="ok"}')).toBe(2);
    expect(
      sample(text, 'chatql_upstream_duration_seconds_count{call="chat.completions",upstream="primary",outcome="UpstreamUnavailableError"}'),
    ).toBe(1);
    expect(sample(text, 'chatql_upstream_duration_seconds_count{call="chat.completions.stream",upstream="primary",outcome="ok"}')).toBe(1);
    expect(sample(text, 'chatql_operation_duration_seconds_count{operation="chatCompletion"}')).toBe(3);
    expect(sample(text, 'chatql_active_operations')).toBe(0);
    expect(text).toContain('chatql_process_');

    // While a stream runs, the gauges see it and its connection.
    const running = subscribeWs(createWsClient(service), ChatCompletionStreamSubscription, { input: input('fail-stall') });
    await running.waitForEvents(2);
    const live = await (await fetch(`${service.url}/metrics`)).text();
    expect(sample(live, 'chatql_active_operations')).toBe(1);
    expect(sample(live, 'chatql_active_streams')).toBe(1);
    expect(sample(live, 'chatql_websocket_connections')).toBe(1);
    running.stop();
    await until(() => service.app.operations.size === 0, 2000, 'the stream to end');
    const after = await (await fetch(`${service.url}/metrics`)).text();
    expect(sample(after, 'chatql_streams_aborted_total{reason="client_gone"}')).toBe(1);
  });

  it('counts refusals by limit, and tokens by client with a bounded set of labels', async () => {
    const service = await startService(mock, { CLIENT_REQUESTS_PER_MINUTE: '1', ALLOWED_MODELS: 'chatql-mock' });
    const input = (model: string) => ({ model, messages: [{ user: { content: 'hello' } }] });
    await postGraphQL(service, ChatCompletionMutation, { input: input('chatql-mock-reasoning') });
    await postGraphQL(service, ChatCompletionMutation, { input: input('chatql-mock') });
    await postGraphQL(service, ChatCompletionMutation, { input: input('chatql-mock') });
    const text = await (await fetch(`${service.url}/metrics`)).text();
    expect(sample(text, 'chatql_limit_refusals_total{limit="model"}')).toBe(1);
    expect(sample(text, 'chatql_limit_refusals_total{limit="requestsPerMinute"}')).toBe(1);
    expect(sample(text, 'chatql_tokens_total{model="chatql-mock",kind="prompt",client="anonymous"}')).toBeGreaterThan(0);
  });

  it('moves to its own listener with METRICS_PORT, off the main port', async () => {
    const service = await startService(mock, { METRICS_PORT: '0' });
    expect(service.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const own = await fetch(service.metricsUrl!);
    expect(own.status).toBe(200);
    expect(await own.text()).toContain('chatql_active_operations');
    expect((await fetch(`${service.url}/metrics`)).status).toBe(404);
  });
});
