/**
 * OpenTelemetry traces: a span per operation and per upstream attempt, with model, client, request
 * id, outcome and tokens, checked with an in-memory exporter; and OTLP export from the real
 * process when OTEL_EXPORTER_OTLP_ENDPOINT is set, received by a small OTLP/HTTP endpoint.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';

import { createWsClient, postGraphQL, subscribeWs } from '../utils/clients.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription } from '../utils/operations.js';
import { ready, run } from '../utils/process.js';
import { dispose, startMock, startService, until } from '../utils/servers.js';

const input = (model: string) => ({ model, messages: [{ user: { content: 'hello' } }] });

describe('traces', async () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const mock = await startMock();
  const service = await startService(mock, { UPSTREAM_MAX_RETRIES: '1' }, { tracer: provider.getTracer('chatql') });
  const spans = () => exporter.getFinishedSpans();
  const childrenOf = (parent: ReadableSpan) => spans().filter((span) => span.parentSpanContext?.spanId === parent.spanContext().spanId);

  it('has a span per mutation with model, client, request id, outcome and tokens, and a child span per upstream attempt', async () => {
    exporter.reset();
    await postGraphQL(service, ChatCompletionMutation, { input: input('chatql-mock') }, { headers: { 'x-request-id': 'trace-req-1' } });
    await until(() => spans().some((span) => span.name === 'chat.completion'), 2000, 'the operation span');
    const operation = spans().find((span) => span.name === 'chat.completion')!;
    expect(operation.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'chatql-mock',
      'chatql.request_id': 'trace-req-1',
      'chatql.client_id': 'anonymous',
      'chatql.outcome': 'ChatCompletion',
      'chatql.retries': 0,
    });
    expect(operation.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
    expect(operation.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    expect(operation.status.code).toBe(0);
    const attempts = childrenOf(operation);
    expect(attempts.map((span) => [span.name, span.attributes['chatql.attempt'], span.attributes['chatql.upstream']])).toEqual([
      ['chat.completions', 1, 'primary'],
    ]);
    expect(attempts[0]!.spanContext().traceId).toBe(operation.spanContext().traceId);
  });

  it('marks a failed operation as an error, with one span per attempt, retries included', async () => {
    exporter.reset();
    await postGraphQL(service, ChatCompletionMutation, { input: input('fail-500') });
    await until(() => spans().some((span) => span.name === 'chat.completion'), 2000, 'the operation span');
    const operation = spans().find((span) => span.name === 'chat.completion')!;
    expect(operation.status).toMatchObject({ code: 2, message: 'UpstreamUnavailableError' });
    expect(operation.attributes).toMatchObject({
      'chatql.outcome': 'UpstreamUnavailableError',
      'chatql.retries': 1,
      'http.response.status_code': 500,
    });
    const attempts = childrenOf(operation);
    expect(attempts.map((span) => span.attributes['chatql.attempt'])).toEqual([1, 2]);
    for (const attempt of attempts) expect(attempt.attributes['error.type']).toBe('UpstreamUnavailableError');
  });

  it('has a span per stream with its time to first token and chunks, ended when the stream ends', async () => {
    exporter.reset();
    const stream = subscribeWs(createWsClient(service), ChatCompletionStreamSubscription, { input: input('chatql-mock') });
    await stream.done;
    await until(() => spans().some((span) => span.name === 'chat.completion.stream'), 2000, 'the stream span');
    const operation = spans().find((span) => span.name === 'chat.completion.stream')!;
    expect(operation.attributes['chatql.outcome']).toBe('ChatCompletion');
    expect(operation.attributes['chatql.chunks']).toBe(stream.events.length - 1);
    expect(operation.attributes['chatql.time_to_first_token_ms']).toBeGreaterThan(0);
    expect(childrenOf(operation).map((span) => span.name)).toEqual(['chat.completions.stream']);
  });
});

describe('OTLP export from the process', () => {
  it('sends the spans to OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const received: Array<{ path: string; body: string }> = [];
    const collector = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ path: req.url ?? '', body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    dispose(async () => collector.close());
    const mock = await startMock();
    const running = run({
      PORT: '0',
      OPENAI_BASE_URL: mock.url,
      OPENAI_API_KEY: 'sk-otlp-test-key-0123456789',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'chatql-under-test',
    });
    const service = await ready(running);
    await postGraphQL(service, ChatCompletionMutation, { input: input('chatql-mock') });
    // The operation's trace goes upstream as a W3C traceparent, so a tracing proxy joins it.
    const upstreamCall = mock.requests.find((request) => request.path.endsWith('/chat/completions'))!;
    expect(upstreamCall.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    await until(() => received.some((request) => request.body.includes('chat.completion')), 10_000, 'an OTLP export');
    const exported = received.find((request) => request.body.includes('chat.completion'))!;
    expect(exported.path).toBe('/v1/traces');
    expect(exported.body).toContain('chatql-under-test');
    expect(exported.body).toContain('gen_ai.request.model');
    expect(exported.body).not.toContain('sk-otlp-test-key');
    expect(exported.body).toContain(String(upstreamCall.headers.traceparent).split('-')[1]);
    running.child.kill('SIGTERM');
    expect((await running.exit).code).toBe(0);
  });
});
