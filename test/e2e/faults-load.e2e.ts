/**
 * Operable under load and faults, against the real service and the mock upstream, each test stating
 * the numbers it checked:
 *
 * 1. 1,000 live subscriptions (800 graphql-ws on 32 raw connections, 200 SSE) dropped abruptly by
 *    their clients (TCP torn down without a close frame, fetches aborted): every upstream request
 *    is aborted, nothing is left open, and the heap comes back to its baseline.
 * 2. SIGTERM to the real process during 200 live streams and 200 mutations: each of the 400 gets
 *    its whole answer or a retryable "shutting down" error, none is cut off silently, and the
 *    process exits 0 within the grace plus a margin.
 * 3. Slow readers: a graphql-ws client that stops reading is terminated after SLOW_CLIENT_TIMEOUT_MS
 *    (its upstream request aborted, the service's buffer for it bounded) while other clients go on;
 *    an SSE client that stops reading is held by backpressure (bounded memory) until its
 *    connection goes away.
 */
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { print } from 'graphql';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

import type { MockUpstream, RecordedRequest } from '../../src/mock-upstream/server.js';
import type { ChatCompletionInput } from '../gql/graphql.js';
import { sseEvents } from '../utils/clients.js';
import { ChatCompletionMutation, ChatCompletionStreamSubscription } from '../utils/operations.js';
import { metric } from '../utils/metrics.js';
import { ready, run } from '../utils/process.js';
import { dispose, startMock, startService, type TestService, until } from '../utils/servers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const STREAM_QUERY = print(ChatCompletionStreamSubscription);
const MUTATION_QUERY = print(ChatCompletionMutation);

function input(model: string, prompt: string, extra: Partial<ChatCompletionInput> = {}): ChatCompletionInput {
  return { model, messages: [{ user: { content: prompt } }], ...extra };
}

function chatRequests(mock: MockUpstream, from = 0): RecordedRequest[] {
  return mock.requests.slice(from).filter((request) => request.path === '/v1/chat/completions');
}

/** A forced GC where V8 lets this process have one (the flag is set at run time, no CLI option needed). */
const gc: (() => void) | null = (() => {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return null;
  }
})();

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await sleep(gc ? 100 : 1000);
    gc?.();
  }
  return process.memoryUsage().heapUsed;
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** A sample of /metrics that must be there. */
async function gauge(service: TestService, name: string): Promise<number> {
  const value = await metric(service, name);
  if (value === undefined) throw new Error(`${name} is not in /metrics`);
  return value;
}

// ---------- clients ----------

/** What one stream got: its terminal event, and how the transport ended it. */
interface StreamOutcome {
  events: number;
  lastEventAt: number;
  /** The last `next` payload's `chatCompletionStream`, when it is not a chunk. */
  terminal: { __typename: string; retryable?: boolean; message?: string } | null;
  /** The server completed the operation (graphql-ws `complete`, SSE `event: complete`). */
  completed: boolean;
  /** Anything else: a graphql-ws `error` message, the socket closing first, a failed fetch... */
  failure: string | null;
  done: Promise<void>;
}

function outcome(): StreamOutcome & { finish: () => void } {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return { events: 0, lastEventAt: 0, terminal: null, completed: false, failure: null, done, finish };
}

function record(stream: StreamOutcome, payload: unknown): void {
  stream.events += 1;
  stream.lastEventAt = performance.now();
  const event = (payload as { data?: { chatCompletionStream?: StreamOutcome['terminal'] } } | undefined)?.data?.chatCompletionStream;
  if (event && event.__typename !== 'ChatCompletionChunk') stream.terminal = event;
}

/** A bare graphql-transport-ws connection carrying many subscriptions; prints nothing per message. */
class RawGraphQLWs {
  readonly socket: WebSocket;
  readonly streams = new Map<string, ReturnType<typeof outcome>>();
  readonly ready: Promise<void>;
  closeCode: number | null = null;
  private counter = 0;

  constructor(url: string) {
    const socket = new WebSocket(url, 'graphql-transport-ws');
    this.socket = socket;
    socket.on('error', () => undefined);
    dispose(async () => socket.terminate());
    this.ready = new Promise((resolve, reject) => {
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
      socket.on('close', (code) => {
        this.closeCode = code;
        reject(new Error(`closed with ${code} before connection_ack`));
        for (const stream of this.streams.values()) {
          if (!stream.completed && stream.failure === null) stream.failure = `socket closed (${code}) before complete`;
          stream.finish();
        }
      });
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString()) as { type: string; id?: string; payload?: unknown };
        if (message.type === 'connection_ack') return resolve();
        const stream = message.id === undefined ? undefined : this.streams.get(message.id);
        if (!stream) return;
        if (message.type === 'next') record(stream, message.payload);
        else if (message.type === 'complete') {
          stream.completed = true;
          stream.finish();
        } else if (message.type === 'error') {
          stream.failure = `error message: ${JSON.stringify(message.payload)}`;
          stream.finish();
        }
      });
    });
    this.ready.catch(() => undefined);
  }

  subscribe(chatInput: ChatCompletionInput): StreamOutcome {
    const id = `op-${++this.counter}`;
    const stream = outcome();
    this.streams.set(id, stream);
    void this.ready.then(
      () => this.socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: STREAM_QUERY, variables: { input: chatInput } } })),
      () => undefined,
    );
    return stream;
  }
}

/** A subscription over SSE (fetch); `abort()` drops it the way a closing browser tab would. */
function subscribeSse(service: TestService, chatInput: ChatCompletionInput): StreamOutcome & { abort: () => void } {
  const stream = outcome();
  const controller = new AbortController();
  void (async () => {
    const response = await fetch(service.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: STREAM_QUERY, variables: { input: chatInput } }),
      signal: controller.signal,
    });
    for await (const { event, data } of sseEvents(response)) {
      if (event === 'complete') {
        stream.completed = true;
        return;
      }
      if (event === 'next') record(stream, JSON.parse(data));
    }
    throw new Error('the SSE response ended without `event: complete`');
  })()
    .catch((error: unknown) => {
      if (!controller.signal.aborted) stream.failure = String(error);
    })
    .finally(() => stream.finish());
  return Object.assign(stream, { abort: () => controller.abort() });
}

// ---------- 1. 1,000 subscriptions dropped abruptly ----------

describe('1,000 live subscriptions dropped abruptly by their clients', () => {
  it('800 graphql-ws + 200 SSE: upstream requests aborted 1000/1000 within 10 s, operations, WebSocket connections and open upstream requests back to 0, heap growth < 50 MB', async () => {
    // 1 word a second: every stream is live (chunks flowing) for the whole test, at ~1,000 chunks/s in all.
    const mock = await startMock({ wordDelayMs: 1000 });
    const service = await startService(mock, { LOG_LEVEL: 'warn' });
    const wsConnections = await gauge(service, 'chatql_websocket_connections');

    /** Opens `ws` graphql-ws subscriptions on `connections` sockets and `sse` SSE ones, waits until all are live upstream, drops them all. */
    const round = async (name: string, connections: number, ws: number, sse: number) => {
      const from = mock.requests.length;
      const sockets = Array.from({ length: connections }, () => new RawGraphQLWs(service.wsUrl));
      await Promise.all(sockets.map((socket) => socket.ready));
      const wsStreams = Array.from({ length: ws }, (_, i) => sockets[i % connections]!.subscribe(input('chatql-mock', `${name} ws ${i}`)));
      const sseStreams = Array.from({ length: sse }, (_, i) => subscribeSse(service, input('chatql-mock', `${name} sse ${i}`)));
      const total = ws + sse;
      await until(
        () => chatRequests(mock, from).length === total && service.app.operations.size === total,
        20_000,
        `${total} live upstream requests (${name})`,
      );
      const requests = chatRequests(mock, from);
      expect(requests.filter((request) => request.closedAt !== undefined).length, `${name}: upstream requests closed before the drop`).toBe(
        0,
      );
      expect(await gauge(service, 'chatql_websocket_connections'), `${name}: WebSocket connections while live`).toBe(
        wsConnections + connections,
      );

      const droppedAt = performance.now();
      for (const socket of sockets) socket.socket.terminate();
      for (const stream of sseStreams) stream.abort();
      const closed = await Promise.race([
        Promise.all(requests.map((request) => request.closed)).then(() => true),
        sleep(15_000).then(() => false),
      ]);
      const closedCount = requests.filter((request) => request.closedAt !== undefined).length;
      const abortedCount = requests.filter((request) => request.aborted).length;
      const slowestMs = Math.max(...requests.map((request) => (request.closedAt ?? Infinity) - droppedAt));
      expect(closed, `${name}: upstream requests closed ${closedCount}/${total} within 15 s`).toBe(true);
      expect(abortedCount, `${name}: upstream requests aborted (cut short) ${abortedCount}/${total}`).toBe(total);
      await until(() => service.app.operations.size === 0, 10_000, `${name}: no running operation`);
      await until(() => mock.openRequests() === 0, 10_000, `${name}: no open upstream request`);
      let wsLeft = -1;
      const deadline = performance.now() + 10_000;
      while ((wsLeft = await gauge(service, 'chatql_websocket_connections')) !== wsConnections && performance.now() < deadline)
        await sleep(50);
      expect(wsLeft, `${name}: WebSocket connections back to the baseline ${wsConnections}`).toBe(wsConnections);
      await Promise.all([...wsStreams, ...sseStreams].map((stream) => stream.done));
      const live = [...wsStreams, ...sseStreams].filter((stream) => stream.events > 0).length;
      return { total, closedCount, abortedCount, slowestMs, live };
    };

    // Warm-up: the same round at a tenth of the size, so that the baseline holds the JIT and pools.
    await round('warm-up', 4, 80, 20);
    const baseline = await settledHeap();

    const startedAt = performance.now();
    const result = await round('load', 32, 800, 200);
    const heapGrowth = (await settledHeap()) - baseline;
    const summary =
      `upstream requests aborted ${result.abortedCount}/${result.total} (slowest ${result.slowestMs.toFixed(0)} ms after the drop), ` +
      `streams that had events ${result.live}/${result.total}, operations left 0, WebSocket connections left ${wsConnections}, ` +
      `open upstream requests 0, heap growth ${mb(heapGrowth)} MB (${gc ? 'forced GC' : 'settled, no GC'}), round ${((performance.now() - startedAt) / 1000).toFixed(1)} s`;
    console.log(`[faults-load] 1,000 dropped: ${summary}`);
    expect(result.slowestMs, `every upstream request closed within 10 s of the drop (${summary})`).toBeLessThan(10_000);
    expect(heapGrowth, `heap growth under 50 MB (${summary})`).toBeLessThan(50 * 1024 * 1024);
  }, 90_000);
});

// ---------- 2. SIGTERM during 400 operations ----------

describe('SIGTERM to the real process during 200 live streams and 200 mutations', () => {
  it('400/400 answered (100+100 finished whole, 100+100 retryable "shutting down"), 0 cut off, exit 0 within SHUTDOWN_GRACE_MS 5000 + 5 s', async () => {
    // 100 ms a word: the whole reply (100 words) takes 10 s, longer than the grace; 30 words take 3 s.
    const mock = await startMock({ wordDelayMs: 100 });
    const graceMs = 5000;
    const running = run({
      PORT: '0',
      OPENAI_BASE_URL: mock.url,
      OPENAI_API_KEY: 'sk-test-upstream-key-0123456789',
      SHUTDOWN_GRACE_MS: String(graceMs),
      UPSTREAM_BREAKER_THRESHOLD: '0',
      // `ready` reads the address from the start-up line, an info line.
      LOG_LEVEL: 'info',
    });
    const service = await ready(running);

    const mutate = async (chatInput: ChatCompletionInput) => {
      try {
        const response = await fetch(service.httpUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
          body: JSON.stringify({ query: MUTATION_QUERY, variables: { input: chatInput } }),
        });
        const body = (await response.json()) as { data?: { chatCompletion?: StreamOutcome['terminal'] }; errors?: unknown };
        if (response.status !== 200 || body.errors)
          return { result: null, failure: `HTTP ${response.status} ${JSON.stringify(body.errors)}` };
        return { result: body.data?.chatCompletion ?? null, failure: null };
      } catch (error) {
        return { result: null, failure: `fetch failed: ${String(error)}` };
      }
    };

    // Warm the process up (JIT, pools) so that the 400 below become live quickly.
    await Promise.all(Array.from({ length: 20 }, (_, i) => mutate(input('chatql-mock', `warm ${i}`))));
    const warmSse = Array.from({ length: 10 }, (_, i) => subscribeSse(service, input('chatql-mock', `warm sse ${i}`, { maxTokens: 2 })));
    await Promise.all(warmSse.map((stream) => stream.done));
    const from = mock.requests.length;

    const connections = Array.from({ length: 10 }, () => new RawGraphQLWs(service.wsUrl));
    await Promise.all(connections.map((connection) => connection.ready));
    const stream = (i: number, chatInput: ChatCompletionInput) =>
      i % 2 === 0 ? connections[(i / 2) % connections.length]!.subscribe(chatInput) : subscribeSse(service, chatInput);
    // Those that cannot finish within the grace first, those that can once the first are live: all
    // must be in flight at SIGTERM (the fail-slow-headers mutations answer 2 s after they arrive).
    const startedAt = performance.now();
    const longStreams = Array.from({ length: 100 }, (_, i) => stream(i, input('chatql-mock', `long ${i}`)));
    const hangingMutations = Array.from({ length: 100 }, (_, i) => mutate(input('fail-hang', `hang ${i}`)));
    await until(() => chatRequests(mock, from).length === 200, 15_000, '200 live upstream requests');
    const firstHalfMs = performance.now() - startedAt;
    const shortStreams = Array.from({ length: 100 }, (_, i) => stream(i, input('chatql-mock', `short ${i}`, { maxTokens: 30 })));
    const slowMutations = Array.from({ length: 100 }, (_, i) => mutate(input('fail-slow-headers', `slow ${i}`)));
    await until(() => chatRequests(mock, from).length === 400, 15_000, '400 live upstream requests');
    running.child.kill('SIGTERM');
    const liveMs = performance.now() - startedAt;
    const live = chatRequests(mock, from);
    const openAtSigterm = live.filter((request) => request.closedAt === undefined).length;
    const finishedEarly = live
      .filter((request) => request.closedAt !== undefined)
      .map((request) => JSON.stringify(request.body).match(/(short|long|slow|hang) \d+/)?.[0]);
    expect(
      openAtSigterm,
      `all 400 upstream requests in flight when SIGTERM was sent, ${(performance.now() - startedAt).toFixed(0)} ms after the first (200 live after ${firstHalfMs.toFixed(0)} ms) (finished early: ${finishedEarly.slice(0, 5).join(', ')})`,
    ).toBe(400);

    const [hanging, slow] = await Promise.all([Promise.all(hangingMutations), Promise.all(slowMutations)]);
    await Promise.all([...longStreams, ...shortStreams].map((one) => one.done));
    const { code, ms } = await running.exit;

    const answered = (terminal: StreamOutcome['terminal']) =>
      terminal?.__typename === 'ChatCompletion' ? 'finished' : terminal?.retryable === true ? 'retryable' : 'other';
    const outcomes = [
      ...[...longStreams, ...shortStreams].map((one) => ({
        kind: 'stream',
        answer: one.completed && one.failure === null ? answered(one.terminal) : 'cut off',
        detail: one.failure ?? JSON.stringify(one.terminal),
      })),
      ...[...hanging, ...slow].map((one) => ({
        kind: 'mutation',
        answer: one.failure === null ? answered(one.result) : 'cut off',
        detail: one.failure ?? JSON.stringify(one.result),
      })),
    ];
    const count = (answer: string, kind?: string) =>
      outcomes.filter((one) => one.answer === answer && (kind === undefined || one.kind === kind)).length;
    const summary =
      `answered ${count('finished') + count('retryable')}/400: finished ${count('finished')} (streams ${count('finished', 'stream')}, mutations ${count('finished', 'mutation')}), ` +
      `stopped with a retryable error ${count('retryable')} (streams ${count('retryable', 'stream')}, mutations ${count('retryable', 'mutation')}), ` +
      `cut off ${count('cut off')}, other ${count('other')}; all 400 live ${liveMs.toFixed(0)} ms after the first, then SIGTERM; exit code ${code} ${ms.toFixed(0)} ms after SIGTERM (grace ${graceMs} ms)`;
    console.log(`[faults-load] SIGTERM: ${summary}`);
    const problems = outcomes
      .filter((one) => one.answer === 'cut off' || one.answer === 'other')
      .slice(0, 3)
      .map((one) => one.detail);
    expect(count('cut off') + count('other'), `none cut off silently (${summary}; e.g. ${problems.join(' | ')})`).toBe(0);
    // The ones that had time finished whole; the rest got "shutting down".
    expect(shortStreams.filter((one) => one.terminal?.__typename === 'ChatCompletion').length, `short streams finished (${summary})`).toBe(
      100,
    );
    expect(slow.filter((one) => one.result?.__typename === 'ChatCompletion').length, `slow-headers mutations finished (${summary})`).toBe(
      100,
    );
    const shuttingDown = [...longStreams.map((one) => one.terminal), ...hanging.map((one) => one.result)];
    expect(
      shuttingDown.filter(
        (one) => one?.__typename === 'UpstreamUnavailableError' && one.retryable === true && /shutting down/i.test(one.message ?? ''),
      ).length,
      `long streams and hanging mutations stopped with a retryable "shutting down" (${summary})`,
    ).toBe(200);
    expect(code, summary).toBe(0);
    expect(ms, `exit within the grace + 5 s (${summary})`).toBeLessThan(graceMs + 5000);
    await until(() => mock.openRequests() === 0, 5000, 'every upstream request closed');
  }, 60_000);
});

// ---------- 3. slow readers ----------

describe('a client too slow to read', () => {
  /**
   * The bench model, paced at 1 ms a chunk: 10,000 chunks of 2 KiB (20 MiB) over 10 s or more, fast
   * enough to fill the socket buffers within a second and still being written when the service lets
   * go. (A burst would not do: loopback's receive buffers grow to 32 MiB here, so the mock would
   * hand the whole answer to the kernel at once and its request would count as finished.)
   */
  const mockOptions = { wordDelayMs: 1, bench: { chunkCount: 10_000, chunkBytes: 2048 } };
  const sendTimeoutMs = 2000;

  it("graphql-ws: terminated (1006) after SLOW_CLIENT_TIMEOUT_MS 2000 (+ < 1.5 s), upstream aborted < 1 s later, service buffer < 64 KiB, heap growth < 20 MB, other client's streams all whole", async () => {
    const mock = await startMock(mockOptions);
    const service = await startService(mock, { LOG_LEVEL: 'warn', SLOW_CLIENT_TIMEOUT_MS: String(sendTimeoutMs) });

    const slow = new RawGraphQLWs(service.wsUrl);
    await slow.ready;
    let pausedAt = 0;
    // Stops reading at its first message: the rest piles up in the kernel's buffers, then in the service's.
    slow.socket.once('message', () => {
      // ws's own pause: pausing the TCP socket alone is undone by ws when its parser drains.
      slow.socket.pause();
      pausedAt = performance.now();
    });
    const from = mock.requests.length;
    const stuck = slow.subscribe(input('chatql-mock-bench', 'flood me'));
    await until(() => chatRequests(mock, from).length === 1 && pausedAt > 0, 5000, 'the slow stream to start');
    const upstream = chatRequests(mock, from)[0]!;
    // The heap once the socket buffers are full; from here on it must not grow with the stream.
    await sleep(500);
    const heapStuck = await settledHeap();

    // Meanwhile, another client on another connection streams whole answers, one after another.
    const others: StreamOutcome[] = [];
    const heapSamples: number[] = [];
    while (upstream.closedAt === undefined && performance.now() - pausedAt < sendTimeoutMs + 10_000) {
      const other = new RawGraphQLWs(service.wsUrl);
      const done = other.subscribe(input('chatql-mock', `other ${others.length}`));
      others.push(done);
      await done.done;
      other.socket.close();
      gc?.();
      heapSamples.push(process.memoryUsage().heapUsed);
      await sleep(100);
    }
    await Promise.race([upstream.closed, sleep(1000)]);
    // Events already in ws's parser still arrive after pause(); then the kernel's buffers fill up
    // (loopback's grow to megabytes), and only then do the service's sends stop completing.
    const lastEventAt = stuck.lastEventAt;
    const eventsBeforeCut = stuck.events;
    const closedMs = (upstream.closedAt ?? Infinity) - lastEventAt;
    // The client reads again, and so learns that the server dropped the connection.
    slow.socket.resume();
    await Promise.race([stuck.done, sleep(5000)]);
    const cut = service.logs.find((line) => String(line.msg).includes('stopped reading')) as
      | { time: number; bufferedBytes?: number; stuckMs?: number }
      | undefined;
    const cutAt = cut ? cut.time - (Date.now() - performance.now()) : Infinity;
    const afterCutMs = (upstream.closedAt ?? Infinity) - cutAt;
    const heapGrowth = Math.max(...heapSamples) - heapStuck;
    const othersWhole = others.filter((one) => one.completed && one.terminal?.__typename === 'ChatCompletion').length;
    const summary =
      `terminated after it flushed nothing for ${cut?.stuckMs} ms (SLOW_CLIENT_TIMEOUT_MS ${sendTimeoutMs}), upstream closed ${afterCutMs.toFixed(0)} ms later ` +
      `and ${closedMs.toFixed(0)} ms after the client's last event (${eventsBeforeCut} events), ` +
      `the slow client's socket closed with ${slow.closeCode}, service buffer for it ${cut?.bufferedBytes} bytes, ` +
      `heap growth while stuck ${mb(heapGrowth)} MB, other client's streams whole ${othersWhole}/${others.length}`;
    console.log(`[faults-load] slow graphql-ws reader: ${summary}`);
    expect(upstream.aborted, `the upstream request was aborted (${summary})`).toBe(true);
    expect(cut?.stuckMs, `cut once SLOW_CLIENT_TIMEOUT_MS had passed (${summary})`).toBeGreaterThanOrEqual(sendTimeoutMs);
    expect(cut?.stuckMs, `cut within SLOW_CLIENT_TIMEOUT_MS + 1.5 s (the check runs every 500 ms here) (${summary})`).toBeLessThan(
      sendTimeoutMs + 1500,
    );
    expect(afterCutMs, `upstream closed within 1 s of the cut (${summary})`).toBeLessThan(1000);
    expect(closedMs, `upstream closed within SLOW_CLIENT_TIMEOUT_MS + 6 s of the client's last event (${summary})`).toBeLessThan(
      sendTimeoutMs + 6000,
    );
    expect(slow.closeCode, `terminated without a close frame (${summary})`).toBe(1006);
    expect(stuck.completed).toBe(false);
    expect(cut?.bufferedBytes, `the service's buffer for the slow socket under 64 KiB (${summary})`).toBeLessThan(64 * 1024);
    expect(heapGrowth, `heap growth while stuck under 20 MB (${summary})`).toBeLessThan(20 * 1024 * 1024);
    expect(others.length, summary).toBeGreaterThanOrEqual(3);
    expect(othersWhole, `every stream of the other client ran to its end (${summary})`).toBe(others.length);
    await until(() => service.app.operations.size === 0 && mock.openRequests() === 0, 5000, 'nothing left running');
  }, 30_000);

  it('SSE: backpressure bounds the buffers (heap growth < 30 MB); a client that stopped reading is dropped after SLOW_CLIENT_TIMEOUT_MS 2000 of flushing nothing (< 8 s after it stops reading), which aborts the upstream', async () => {
    const mock = await startMock(mockOptions);
    const service = await startService(mock, { LOG_LEVEL: 'warn', SLOW_CLIENT_TIMEOUT_MS: '2000' });
    const from = mock.requests.length;
    const url = new URL(service.httpUrl);
    const body = JSON.stringify({ query: STREAM_QUERY, variables: { input: input('chatql-mock-bench', 'flood me over SSE') } });
    // A raw TCP client: it reads the first 64 KiB, then stops reading with the connection open.
    const socket = connect(Number(url.port), url.hostname);
    dispose(async () => socket.destroy());
    socket.on('error', () => undefined);
    let received = 0;
    socket.on('data', (data: Buffer) => {
      received += data.length;
      if (received >= 64 * 1024) socket.pause();
    });
    socket.write(
      `POST /graphql HTTP/1.1\r\nHost: ${url.host}\r\ncontent-type: application/json\r\naccept: text/event-stream\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    await until(
      () => chatRequests(mock, from).length === 1 && socket.isPaused(),
      5000,
      'the SSE stream to start and the client to stop reading',
    );
    const upstream = chatRequests(mock, from)[0]!;
    const pausedAt = performance.now();
    await sleep(500);
    const heapStuck = await settledHeap();
    const heapSamples: number[] = [];
    for (let i = 0; i < 5; i++) {
      await sleep(500);
      gc?.();
      heapSamples.push(process.memoryUsage().heapUsed);
    }
    const heapPeak = Math.max(...heapSamples) - heapStuck;
    // The client stays connected and silent: the service drops it once its socket has flushed
    // nothing for SLOW_CLIENT_TIMEOUT_MS.
    await Promise.race([upstream.closed, sleep(10_000)]);
    const closedMs = (upstream.closedAt ?? Infinity) - pausedAt;
    const summary =
      `client read ${(received / 1024).toFixed(0)} KiB then stopped; heap growth while stuck +${mb(heapPeak)} MB; ` +
      `upstream closed ${closedMs.toFixed(0)} ms after the client stopped reading`;
    console.log(`[faults-load] slow SSE reader: ${summary}`);
    expect(heapPeak, `heap growth under 30 MB while stuck (${summary})`).toBeLessThan(30 * 1024 * 1024);
    expect(upstream.aborted, summary).toBe(true);
    expect(closedMs, `dropped no sooner than SLOW_CLIENT_TIMEOUT_MS (${summary})`).toBeGreaterThan(2000);
    // The kernel's socket buffers take a few MB before bytes start waiting in the service.
    expect(closedMs, `dropped within SLOW_CLIENT_TIMEOUT_MS + 6 s of the client stopping (${summary})`).toBeLessThan(8000);
    expect(
      service.rawLogs.some((line) => line.includes('SSE client stopped reading')),
      summary,
    ).toBe(true);
    await until(() => service.app.operations.size === 0, 5000, 'no running operation');
  }, 30_000);
});
