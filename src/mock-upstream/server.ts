/**
 * The embedded mock upstream: a real HTTP server (node:http) speaking OpenAI's
 * chat completions wire format, deterministically. `npm start` uses it when no
 * upstream is configured; tests use it to script every failure an upstream can
 * produce and to watch what the service sent it.
 */

import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { answerBench, type BenchShape, DEFAULT_BENCH_SHAPE, renderBenchAnswer } from './bench.js';
import { answerChatCompletion, type StreamTiming } from './chat.js';
import { randomId } from './completion.js';
import { BODY_TOO_LARGE, INVALID_API_KEY, INVALID_JSON, MAX_BODY_BYTES, mockFailure, modelNotFound, routeNotFound } from './errors.js';
import { BENCH_MOCK_MODEL, findMockModel, LISTED_MOCK_MODELS, MOCK_MODELS, type MockModel, PRICED_MOCK_MODELS } from './models.js';
import { parseChatRequest } from './request.js';
import { Pacer, sendError, sendJson } from './wire.js';

export interface MockUpstreamOptions {
  /** Port to listen on. @default 0 (a free port) */
  port?: number;
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /** Delay before the first content chunk of a stream (the role chunk goes out at once). @default 0 */
  firstTokenDelayMs?: number;
  /** Delay between streamed words; a person can watch 20-50 ms. @default 30 */
  wordDelayMs?: number;
  /**
   * When set, requests must carry `Authorization: Bearer <apiKey>` (401 in
   * OpenAI's envelope otherwise). When unset, no auth is checked.
   * @default undefined
   */
  apiKey?: string;
  /**
   * The size of the `chatql-mock-bench` model's answer; paced by `firstTokenDelayMs` and
   * `wordDelayMs` (0 for a burst). @default { chunkCount: 20, chunkBytes: 8 }
   */
  bench?: BenchShape;
  /**
   * `false`: `GET /model/info` and `GET /v1/model/info` answer 404 like any route the mock does not
   * serve (an OpenAI upstream, or a proxy that hides the route), for testing a client's fallback
   * when no prices can be read. @default true
   */
  modelInfo?: boolean;
}

export interface RecordedRequest {
  /** 1, 2, 3 … in order of arrival. */
  id: number;
  method: string;
  /** Path without query, e.g. '/v1/chat/completions'. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body, or undefined (no body, or not JSON). */
  body: unknown;
  /** performance.now() when the request arrived. */
  receivedAt: number;
  /** Resolves when the HTTP exchange ends, either because the response finished or because the client went away. */
  closed: Promise<void>;
  /** performance.now() when closed. */
  closedAt?: number;
  /**
   * True when the connection closed before the response ended: the client went
   * away (an abort), or the mock dropped it (`reset`, fail-break, close()).
   */
  aborted: boolean;
}

export interface ScriptedResponse {
  /** @default 200 */
  status?: number;
  headers?: Record<string, string>;
  /** JSON-encoded as the body; no body when undefined. */
  body?: unknown;
  /** Instead of answering: destroy the socket at once (a reset), or never answer (a hang). */
  action?: 'reset' | 'hang';
  /**
   * Answer the way this mock model behaves (e.g. `fail-break`), whatever model the request names:
   * lets a test make one model fail for a while and then recover.
   */
  behaveAs?: string;
}

export interface MockUpstream {
  /** Base URL including /v1, e.g. http://127.0.0.1:54321/v1 (the SDK's baseURL). */
  url: string;
  port: number;
  /** Every request, in order of arrival (models and chat). */
  requests: RecordedRequest[];
  /**
   * Queues responses for the next chat-completion requests (FIFO, one per
   * request, whatever the model); when the queue is empty the model's behaviour
   * applies. Lets tests script "503, then 429 with retry-after, then 200".
   */
  enqueue(...responses: ScriptedResponse[]): void;
  /** Requests whose response has not ended yet. */
  openRequests(): number;
  /**
   * Resolves with the next request received, once its body is read (calls made
   * before it arrives all get that same request); rejects if the mock closes first.
   */
  nextRequest(): Promise<RecordedRequest>;
  /** Clears `requests` (in place) and the queue. */
  reset(): void;
  /** Closes the server and destroys every open socket (hanging ones too). */
  close(): Promise<void>;
}

/** A fixed `created` for every model: listings stay byte-identical across runs (2025-01-01). */
const MODELS_CREATED = 1735689600;

function modelObject(model: MockModel): object {
  return { id: model.id, object: 'model', created: MODELS_CREATED, owned_by: 'chatql-mock' };
}

/** `GET /v1/models`: the listed models only. */
const MODEL_LIST = { object: 'list', data: LISTED_MOCK_MODELS.map(modelObject) };

/** `GET /v1/models/{id}`: every served model, listed or not, since a test-only model is still there when named. */
const MODEL_OBJECTS = new Map(MOCK_MODELS.map((model) => [model.id, modelObject(model)]));

/** The paths of LiteLLM's model-info route: the proxy serves it both at its root and under /v1. */
const MODEL_INFO_PATHS = new Set(['/model/info', '/v1/model/info']);

/**
 * LiteLLM's `GET /model/info` for every priced model (listed or not): prices per token, the cached
 * price only where there is one. The id is a digest of the name, stable across runs like LiteLLM's
 * deployment ids.
 */
const MODEL_INFO = {
  data: PRICED_MOCK_MODELS.map(({ id, price }) => ({
    model_name: id,
    litellm_params: { model: `chatql-mock/${id}` },
    model_info: {
      id: createHash('sha256').update(id).digest('hex'),
      mode: 'chat',
      litellm_provider: 'chatql-mock',
      input_cost_per_token: price.input / 1e6,
      output_cost_per_token: price.output / 1e6,
      ...(price.cachedInput === undefined ? {} : { cache_read_input_token_cost: price.cachedInput / 1e6 }),
      max_tokens: 8192,
    },
  })),
};

type Body = { ok: true; text: string } | { ok: false; reason: 'too-large' | 'aborted' };

async function readBody(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      size += buffer.length;
      // Keep reading past the limit (without storing), so the 413 reaches a client still sending.
      if (size <= MAX_BODY_BYTES) chunks.push(buffer);
    }
  } catch {
    return { ok: false, reason: 'aborted' };
  }
  if (size > MAX_BODY_BYTES) return { ok: false, reason: 'too-large' };
  return { ok: true, text: Buffer.concat(chunks).toString('utf8') };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

type ParsedJson = { ok: true; value: unknown } | { ok: false };

function parseJson(text: string): ParsedJson {
  if (text.trim() === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** Starts the mock on `options.port` (a free port by default) and resolves once it listens. */
export async function startMockUpstream(options: MockUpstreamOptions = {}): Promise<MockUpstream> {
  const host = options.host ?? '127.0.0.1';
  const timing: StreamTiming = {
    firstTokenDelayMs: options.firstTokenDelayMs ?? 0,
    wordDelayMs: options.wordDelayMs ?? 30,
  };
  const benchAnswer = renderBenchAnswer(options.bench ?? DEFAULT_BENCH_SHAPE, BENCH_MOCK_MODEL);
  const requests: RecordedRequest[] = [];
  const queue: ScriptedResponse[] = [];
  const waiters: { resolve: (request: RecordedRequest) => void; reject: (error: Error) => void }[] = [];
  const sockets = new Set<Socket>();
  // Each open exchange with the promise that settles when it closes, so close() can wait for them.
  const openResponses = new Map<ServerResponse, Promise<void>>();
  const pacers = new Set<Pacer>();
  let nextId = 1;
  let closing = false;

  /** Registers the exchange at once, so that `closed` and `openRequests()` cover it from its first byte. */
  function track(req: IncomingMessage, res: ServerResponse): RecordedRequest {
    let markClosed = (): void => {};
    const record: RecordedRequest = {
      id: nextId++,
      method: req.method ?? 'GET',
      path: new URL(req.url ?? '/', 'http://mock.invalid').pathname,
      headers: { ...req.headers },
      body: undefined,
      receivedAt: performance.now(),
      closed: new Promise<void>((resolve) => {
        markClosed = resolve;
      }),
      aborted: false,
    };
    openResponses.set(res, record.closed);
    res.once('close', () => {
      record.closedAt = performance.now();
      record.aborted = !res.writableFinished;
      openResponses.delete(res);
      markClosed();
    });
    return record;
  }

  function publish(record: RecordedRequest): void {
    requests.push(record);
    for (const waiter of waiters.splice(0)) waiter.resolve(record);
  }

  function authorized(req: IncomingMessage): boolean {
    return options.apiKey === undefined || req.headers.authorization === `Bearer ${options.apiKey}`;
  }

  async function chatCompletion(req: IncomingMessage, res: ServerResponse, json: ParsedJson): Promise<void> {
    // LiteLLM's id of the call, on every answer of this route (errors too), besides the x-request-id all routes carry.
    res.setHeader('x-litellm-call-id', randomUUID());
    const scripted = queue.shift();
    if (scripted?.action === 'reset') {
      // An RST rather than a FIN: what a crashing proxy or a dropped connection looks like.
      req.socket.resetAndDestroy();
      return;
    }
    if (scripted?.action === 'hang') return;
    if (scripted && scripted.behaveAs === undefined) return sendJson(res, scripted.status ?? 200, scripted.body, scripted.headers);

    if (!json.ok) return sendError(res, INVALID_JSON);
    const parsed = parseChatRequest(json.value);
    if (!parsed.ok) return sendError(res, parsed.error);
    const model = findMockModel(scripted?.behaveAs ?? parsed.request.model);
    if (!model) return sendError(res, modelNotFound(parsed.request.model));

    const pacer = new Pacer();
    pacers.add(pacer);
    res.once('close', () => {
      pacer.stop();
      pacers.delete(pacer);
    });
    if (model.behaviour === 'bench') await answerBench(res, parsed.request, benchAnswer, timing, pacer);
    else await answerChatCompletion(res, parsed.request, model, timing, pacer);
  }

  async function route(req: IncomingMessage, res: ServerResponse, record: RecordedRequest, json: ParsedJson): Promise<void> {
    if (!authorized(req)) return sendError(res, INVALID_API_KEY);
    const { method, path } = record;
    if (method === 'POST' && path === '/v1/chat/completions') return chatCompletion(req, res, json);
    if (method === 'GET' && path === '/v1/models') return sendJson(res, 200, MODEL_LIST);
    const modelId = method === 'GET' && path.startsWith('/v1/models/') ? safeDecode(path.slice('/v1/models/'.length)) : undefined;
    if (modelId !== undefined) {
      const model = MODEL_OBJECTS.get(modelId);
      return model ? sendJson(res, 200, model) : sendError(res, modelNotFound(modelId));
    }
    if (method === 'GET' && MODEL_INFO_PATHS.has(path) && options.modelInfo !== false) return sendJson(res, 200, MODEL_INFO);
    sendError(res, routeNotFound(method, path));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Errors on a connection the client dropped are expected; without listeners they would crash the process.
    req.on('error', () => {});
    res.on('error', () => {});
    try {
      res.setHeader('x-request-id', randomId('req_', 32));
      const record = track(req, res);
      const body = await readBody(req);
      const json: ParsedJson = body.ok ? parseJson(body.text) : { ok: false };
      record.body = json.ok ? json.value : undefined;
      publish(record);
      if (!body.ok) return body.reason === 'too-large' ? sendError(res, BODY_TOO_LARGE) : undefined;
      await route(req, res, record, json);
    } catch (error) {
      if (!res.headersSent) sendError(res, mockFailure(error));
      else res.destroy();
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  server.on('connection', (socket) => {
    // Each chunk leaves as soon as it is written: Nagle's algorithm would batch small SSE events.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}/v1`,
    port,
    requests,
    enqueue: (...responses) => void queue.push(...responses),
    openRequests: () => openResponses.size,
    nextRequest: () =>
      closing
        ? Promise.reject(new Error('The mock upstream closed.'))
        : new Promise((resolve, reject) => waiters.push({ resolve, reject })),
    reset: () => {
      requests.length = 0;
      queue.length = 0;
    },
    close: async () => {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const pacer of pacers) pacer.stop();
      for (const socket of sockets) socket.destroy();
      for (const waiter of waiters.splice(0)) waiter.reject(new Error('The mock upstream closed.'));
      // Destroyed sockets close their responses asynchronously; openRequests() is 0 once this resolves.
      await Promise.all([closed, ...openResponses.values()]);
    },
  };
}
