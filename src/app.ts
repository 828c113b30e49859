/**
 * The application: Yoga (HTTP and SSE) and graphql-ws on one node:http server, the upstream
 * services behind them, health endpoints, and an orderly shutdown. `src/server.ts` runs it;
 * tests build it on port 0.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { createYoga } from 'graphql-yoga';

import type { Tracer } from '@opentelemetry/api';

import { type AuthOutcome, createAuthenticator, type ReloadResult } from './auth/authenticate.js';
import { ChatService } from './chat/service.js';
import type { Config } from './config.js';
import type { Context } from './context.js';
import { armorPlugins } from './http/armor.js';
import { CSRF_MESSAGE, isSimpleContentType, isUntrustedRequest, useCsrfProtection } from './http/csrf.js';
import { graphiqlOptions, renderGraphiQL } from './http/graphiql.js';
import { hostRefusal, isHostAllowed } from './http/hosts.js';
import { isOriginAllowed, type OriginPolicy } from './http/origins.js';
import { needsPreAuthentication, preAuthenticate } from './http/pre-auth.js';
import { SlowClientWatch } from './http/slow-clients.js';
import { persistedDocumentsPlugins } from './http/persisted.js';
import { REQUEST_ID_HEADER, requestIdFrom } from './http/request-id.js';
import { CHAT_PATH, createWebHandler, isChatPath } from './http/web.js';
import { attachGraphQLWebSocket, type WebSocketInitialContext } from './http/websocket.js';
import { LimitsGate } from './limits/gate.js';
import { connectRedis } from './limits/redis.js';
import type { Logger } from './logger.js';
import { OperationTracker } from './operations.js';
import { createMetrics, modelLabels } from './metrics.js';
import { createRedactor, upstreamUrlSecrets } from './redact.js';
import { schema } from './schema/index.js';
import { noopTracer } from './tracing.js';
import { BREAKER_STATE_VALUE } from './upstream/breaker.js';
import { closeTargets, createUpstreamTargets, describeTargets } from './upstream/targets.js';
import { ModelsService } from './chat/models.js';
import { RejectedKeys } from './upstream/rejected-keys.js';

/** Offered in GraphiQL's example document until the upstream's model list is known. */
const FALLBACK_EXAMPLE_MODEL = 'gpt-4o-mini';

export interface App {
  /** Starts listening; resolves with the address. Port 0 picks a free port. */
  start(): Promise<{ url: string; port: number; /** Where /metrics is served when METRICS_PORT is set. */ metricsUrl?: string }>;
  /**
   * Graceful shutdown: readiness turns 503, new operations are refused with a retryable error,
   * running ones get `graceMs` to finish, then the rest are stopped with a retryable error and
   * every connection is closed.
   */
  stop(graceMs?: number): Promise<void>;
  /**
   * AUTH_MODE=api-key: reads CLIENT_KEYS_FILE again (on SIGHUP). Keys added work at once; a
   * removed or replaced key is refused from now on, and its open graphql-ws connections are closed
   * with 4403. A file with problems changes nothing. Null in the other modes.
   */
  reloadClientKeys(): ReloadResult | null;
  readonly operations: OperationTracker;
}

/**
 * Refuses a POST body before it is read: 413 when its Content-Length is over the limit, 411 when
 * it has none (a chunked body could only be counted while being parsed). Node's HTTP parser holds
 * a request to its declared length, so the check is exact. The connection is closed after the
 * answer, so the unread body is never parsed.
 */
function bodyWithinLimit(req: IncomingMessage, res: ServerResponse, maxBytes: number): boolean {
  const declared = req.headers['content-length'];
  const refuse = (status: number, message: string) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
    res.end(JSON.stringify({ errors: [{ message }] }));
    return false;
  };
  if (declared === undefined) {
    return refuse(411, `A Content-Length header is required; bodies may be up to ${maxBytes} bytes.`);
  }
  if (Number(declared) > maxBytes) {
    return refuse(413, `The request body is ${declared} bytes; the limit is ${maxBytes} bytes (MAX_BODY_BYTES).`);
  }
  return true;
}

/** Yoga's log calls, as JSON lines; its per-request debug lines cost nothing unless debug is on. */
function yogaLogger(logger: Logger, redact: (text: string) => string) {
  const format = (args: unknown[]) => args.map((arg) => redact(arg instanceof Error ? (arg.stack ?? arg.message) : String(arg)));
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (...args: unknown[]) => {
      if (logger.isLevelEnabled(level)) logger[level]({ yoga: format(args) }, 'yoga');
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface BuildAppOptions {
  /** The built chat page to serve at /chat. @default dist/web at the package root */
  webDir?: string;
  /** Interval of the server's WebSocket pings. @default 15000 */
  wsKeepAliveMs?: number;
  /** Where spans go (see `src/tracing.ts`). @default the OpenTelemetry API's no-op tracer */
  tracer?: Tracer;
}

/** Interval of the server's WebSocket pings; a socket that missed the previous pong is dropped. */
const WS_KEEP_ALIVE_MS = 15_000;

export function buildApp(config: Config, logger: Logger, options: BuildAppOptions = {}): App {
  const { security } = config;
  const redact = createRedactor([
    config.upstream.apiKey,
    ...upstreamUrlSecrets(config.upstream.baseURL),
    ...config.upstream.fallbacks.flatMap((fallback) => upstreamUrlSecrets(fallback.baseURL)),
    ...(security.redisUrl ? upstreamUrlSecrets(security.redisUrl) : []),
  ]);
  const operations = new OperationTracker();
  // Model names as bounded labels of the breaker metrics (a client may ask for any name).
  const modelLabel = modelLabels();
  // `targets` and `websocket` are created further down; the gauges read them only when /metrics is scraped.
  const metrics = createMetrics({
    operations: () => operations.size,
    streams: () => operations.countOf('subscription'),
    webSockets: () => websocket.connections,
    upstreamBreakers: () => targets.flatMap(({ name, health }) => (health ? [{ upstream: name, state: BREAKER_STATE_VALUE[health.breaker.state] }] : [])),
    modelBreakers: () =>
      targets.flatMap(({ name, health }) =>
        (health?.modelStates() ?? []).map(({ model, state }) => ({ upstream: name, model: modelLabel(model), state: BREAKER_STATE_VALUE[state] })),
      ),
  });
  // The primary, then each fallback: one client and its circuit breakers each.
  const targets = createUpstreamTargets(config.upstream, logger, {
    onBreakerOpen: (upstream, model) => metrics.breakerOpened.inc({ upstream, model: model === null ? '' : modelLabel(model) }),
  });
  const callContext = { retry: { maxRetries: config.upstream.maxRetries }, redact, logger, metrics, tracer: options.tracer ?? noopTracer() };
  const redis = security.redisUrl ? connectRedis(security.redisUrl, logger, redact) : null;
  const gate = new LimitsGate({
    redis: redis?.client ?? null,
    allowedModels: security.allowedModels,
    onRefusal: (limit) => metrics.limitRefusals.inc({ limit }),
  });
  const authenticator = createAuthenticator(security.auth, security.defaultLimits);
  // AUTH_MODE=forward: keys the upstream refused lately are refused again without a call.
  const rejectedKeys = security.auth.mode === 'forward' ? new RejectedKeys(config.modelsCacheMs) : undefined;
  const chat = new ChatService({ ...callContext, targets, operations, metrics, gate, logContent: config.logContent, maxMessages: config.maxMessages, ...(rejectedKeys ? { rejectedKeys } : {}) });
  const models = new ModelsService({ ...callContext, target: targets[0]!, cacheMs: config.modelsCacheMs, ...(rejectedKeys ? { rejectedKeys } : {}) });

  // The host names the service answers to and the origins that count as its own or allowed.
  const origins: OriginPolicy = { corsOrigins: config.corsOrigins, hosts: config.allowedHosts };
  // Large requests authenticated before their body was read (see src/http/pre-auth.ts).
  const preAuthenticated = new WeakMap<IncomingMessage, AuthOutcome>();

  const yoga = createYoga<WebSocketInitialContext & { req?: IncomingMessage }, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    context: async ({ request, req, operationSignal, operationRequestId, operationPrincipal }): Promise<Context> => ({
      chat,
      models,
      logger,
      gate,
      authMode: authenticator.mode,
      // graphql-ws authenticated its connection at `connection_init`; HTTP and SSE send a header.
      principal:
        operationPrincipal ?? (req && preAuthenticated.get(req)) ?? (await authenticator.authenticate(request.headers.get('authorization'))),
      // graphql-ws passes its per-operation signal; over HTTP and SSE the request's own signal
      // fires when the client disconnects.
      signal: operationSignal ?? request.signal,
      // `handle` has put the (checked or generated) id on every HTTP request.
      requestId: operationRequestId ?? request.headers.get(REQUEST_ID_HEADER) ?? '',
    }),
    // Off in production unless GRAPHIQL=true: the page is 9 MB, and it needs introspection.
    graphiql: config.graphiql ? () => graphiqlOptions(models.peek()?.[0]?.id ?? FALLBACK_EXAMPLE_MODEL) : false,
    renderGraphiQL,
    landingPage: false,
    // Unexpected exceptions stay "Unexpected error." with no stack, whatever NODE_ENV says.
    maskedErrors: { isDev: false },
    cors: (request) => {
      const origin = request.headers.get('origin');
      if (!origin || !isOriginAllowed(origin, request.headers.get('host'), origins)) return false;
      // `['*']` makes Yoga reflect the request's origin (with Vary: Origin); it is reached only
      // for origins allowed above.
      return { origin: ['*'], credentials: true, maxAge: 600 };
    },
    logging: yogaLogger(logger, redact),
    // The body size is checked in `handle` from Content-Length, before Yoga reads a byte; Yoga's
    // own limit would pipe every body through a TransformStream (about 4 % of a mutation's CPU).
    maxRequestBodySize: false,
    // Batched requests (a JSON array body) are off unless GRAPHQL_BATCH_LIMIT allows them; each
    // operation of a batch then passes the same limits, per-client ones included.
    batching: config.batchLimit === 0 ? false : { limit: config.batchLimit },
    plugins: [
      useCsrfProtection(origins),
      ...armorPlugins({ introspection: config.introspection }),
      // Trusted documents (PERSISTED_DOCUMENTS): refuses anything but a listed document's id in
      // `onParams`, before parsing; graphql-ws gets the same store below.
      ...persistedDocumentsPlugins(config.persistedDocuments),
    ],
  });

  const web = createWebHandler(options.webDir);

  const readiness = () => ({
    status: operations.draining ? 'draining' : 'ready',
    upstream: { embeddedMock: config.upstream.embeddedMock, ...models.health, ...describeTargets(targets) },
    operations: operations.size,
    limits: { store: gate.store, ...(redis ? { redis: redis.status } : {}) },
  });

  const serveMetrics = (res: ServerResponse) => {
    void metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  };
  // With METRICS_PORT, /metrics lives on its own listener (same HOST), so it need not face clients.
  const metricsServer =
    config.metricsPort === null
      ? null
      : createServer((req, res) => {
          if (req.url?.split('?', 1)[0] === '/metrics' && req.method === 'GET') serveMetrics(res);
          else res.writeHead(404).end();
        });

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url?.split('?', 1)[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (path === '/readyz') {
      // The upstream's health is reported, not enforced: an outage reaches clients as typed
      // errors, which beats a load balancer's 503.
      res.writeHead(operations.draining ? 503 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(readiness()));
      return;
    }
    // Orchestrators probe the health endpoints by IP address; everything else must name an allowed host.
    if (!isHostAllowed(config.allowedHosts, req.headers.host)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(hostRefusal(req.headers.host));
      return;
    }
    if (path === '/metrics' && config.metricsOnMainPort && req.method === 'GET') {
      serveMetrics(res);
      return;
    }
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(302, { location: CHAT_PATH }).end();
      return;
    }
    if (path !== undefined && isChatPath(path)) {
      web(req, res);
      return;
    }
    const requestId = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    req.headers[REQUEST_ID_HEADER] = requestId;
    res.setHeader(REQUEST_ID_HEADER, requestId);
    if (req.method === 'POST') {
      // CSRF: a POST that a browser could send cross-site without a preflight is refused unread.
      const { origin, host } = req.headers;
      const site = req.headers['sec-fetch-site'];
      if (
        isUntrustedRequest(origin, typeof site === 'string' ? site : undefined, host, origins) &&
        isSimpleContentType(req.headers['content-type'])
      ) {
        res.writeHead(403, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
        res.end(JSON.stringify({ errors: [{ message: CSRF_MESSAGE }] }));
        return;
      }
      if (!bodyWithinLimit(req, res, config.maxBodyBytes)) return;
      if (needsPreAuthentication(req, authenticator)) {
        void preAuthenticate(req, res, authenticator, rejectedKeys).then((outcome) => {
          if (outcome === null) return;
          preAuthenticated.set(req, outcome);
          serveGraphQL(req, res);
        });
        return;
      }
    }
    serveGraphQL(req, res);
  };

  const serveGraphQL = (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers.accept?.includes('text/event-stream')) {
      // Dropping the connection aborts the stream and its upstream request.
      const unwatch = slowClients.watch(req.socket, (stuck) => {
        logger.warn(stuck, 'SSE client stopped reading: connection dropped (SLOW_CLIENT_TIMEOUT_MS)');
        req.socket.destroy();
      });
      res.once('close', unwatch);
    }
    void yoga.requestListener(req, res);
  };

  // Clients that stopped reading, SSE and graphql-ws alike (see src/http/slow-clients.ts).
  const slowClients = new SlowClientWatch(config.slowClientTimeoutMs);

  const server = createServer(handle);
  server.keepAliveTimeout = 5_000;
  const websocket = attachGraphQLWebSocket(server, yoga, logger, {
    origins,
    maxPayload: config.maxBodyBytes,
    connectionInitWaitTimeoutMs: config.wsConnectionInitTimeoutMs,
    maxOperations: config.wsMaxSubscriptions,
    slowClients,
    persistedDocuments: config.persistedDocuments,
    authenticate: (authorization) => authenticator.authenticate(authorization),
    keepAliveMs: options.wsKeepAliveMs ?? WS_KEEP_ALIVE_MS,
  });

  let stopping: Promise<void> | null = null;

  return {
    operations,
    reloadClientKeys: () => {
      if (!authenticator.reload) return null;
      const result = authenticator.reload();
      if (result.ok) {
        const closed = websocket.refreshPrincipals((principal) => authenticator.refresh(principal));
        logger.info({ clients: result.clients, closedConnections: closed }, 'CLIENT_KEYS_FILE reloaded');
      } else {
        logger.error({ problems: result.problems }, 'CLIENT_KEYS_FILE not reloaded: the file has problems; the keys read before stay in use');
      }
      return result;
    },
    start: async () => {
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      const listen = (target: typeof server, port: number) =>
        new Promise<number>((resolve, reject) => {
          target.once('error', reject);
          target.listen(port, config.host, () => {
            target.off('error', reject);
            resolve((target.address() as AddressInfo).port);
          });
        });
      const elsewhere = targets.filter((target) => !target.sharesPrimaryUpstream).map((target) => target.name);
      if (security.auth.mode === 'forward' && elsewhere.length > 0) {
        logger.warn(
          { fallbacks: elsewhere },
          "AUTH_MODE=forward: fallbacks on another base URL are skipped, since a client's key goes only to the upstream it belongs to",
        );
      }
      if (security.auth.mode === 'jwt' && !security.auth.requireExp) {
        logger.warn('JWT_REQUIRE_EXP=false: tokens without an exp claim are accepted and never expire; prefer short-lived tokens');
      }
      if (config.production && config.metricsPort === null) {
        logger.info('/metrics is not served: with NODE_ENV=production set METRICS_PORT to serve it on a listener of its own');
      }
      if (security.auth.mode === 'none' && config.upstream.apiKey !== undefined && !config.upstream.embeddedMock) {
        logger.warn(
          'AUTH_MODE=none: anyone who can reach this service spends the upstream key; set AUTH_MODE to api-key, jwt or forward before exposing it',
        );
      }
      const port = await listen(server, config.port);
      const metricsPort = metricsServer ? await listen(metricsServer, config.metricsPort ?? 0) : null;
      // Warm the models cache, so that /readyz and GraphiQL know the upstream from the start.
      models.list().catch(() => undefined);
      return {
        url: `http://${host}:${port}`,
        port,
        ...(metricsPort === null ? {} : { metricsUrl: `http://${host}:${metricsPort}/metrics` }),
      };
    },
    stop: (graceMs = config.shutdownGraceMs) =>
      (stopping ??= (async () => {
        const started = performance.now();
        const { finished, aborted } = await operations.drain(graceMs);
        logger.info({ finished, aborted, ms: Math.round(performance.now() - started) }, 'operations drained');
        models.close();
        slowClients.close();
        await websocket.close();
        await redis?.close();
        await closeTargets(targets);
        metricsServer?.close();
        metricsServer?.closeAllConnections();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          // Whatever is still open has had its answer: drop it rather than wait for the peer.
          setTimeout(() => server.closeAllConnections(), 500).unref();
        });
      })()),
  };
}
