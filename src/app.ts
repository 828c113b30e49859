/**
 * The application, composed: the upstream targets, the domain services, Yoga (HTTP and SSE) and
 * graphql-ws on one node:http server, the router in front of them, and an orderly start and
 * stop. `src/server.ts` runs it; tests build it on port 0. In a cluster's worker (WORKERS above 1,
 * src/cluster/worker.ts) it is the same app, tied to the primary by a `WorkerLink`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Tracer } from '@opentelemetry/api';

import { type AuthOutcome, createAuthenticator, type ReloadResult } from './auth/authenticate.js';
import { ModelsService } from './chat/models.js';
import { PriceTable, type PricesFileResult } from './pricing/prices.js';
import { UpstreamPrices } from './pricing/upstream-prices.js';
import { ChatService } from './chat/service.js';
import type { Config } from './config.js';
import { createGraphiQLHandler } from './http/graphiql.js';
import type { OriginPolicy } from './http/origins.js';
import { createRouter } from './http/router.js';
import { SlowClientWatch } from './http/slow-clients.js';
import { createWebHandler } from './http/web.js';
import { attachGraphQLWebSocket, type WebSocketLimits } from './http/ws/server.js';
import { createGraphQLServer } from './http/yoga.js';
import type { ConnectionCounter } from './limits/connections.js';
import { LimitsGate } from './limits/gate.js';
import { connectRedis } from './limits/redis.js';
import type { Logger } from './logger.js';
import { createMetrics, modelLabels } from './metrics.js';
import { OperationTracker } from './operations.js';
import { createRedactor, upstreamUrlSecrets } from './redact.js';
import { explainUpstreamFailure, logReady, logStartupWarnings } from './startup.js';
import { noopTracer } from './tracing.js';
import { BREAKER_STATE_VALUE } from './upstream/breaker.js';
import { RedisStreamLog } from './streams/redis-log.js';
import { ResumableStreams } from './streams/resumable.js';
import { RejectedKeys } from './upstream/rejected-keys.js';
import { closeTargets, createUpstreamTargets, describeTargets } from './upstream/targets.js';

export interface App {
  /** Starts listening; resolves with the address. Port 0 picks a free port. */
  start(): Promise<{ url: string; port: number /** Where /metrics is served when METRICS_PORT is set. */; metricsUrl?: string }>;
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
  /** Reads MODEL_PRICES_FILE again (on SIGHUP); a file with problems changes nothing. Null without one. */
  reloadPrices(): PricesFileResult | null;
  readonly operations: OperationTracker;
}

/**
 * A cluster worker's ties to its primary (src/cluster/link.ts): what the primary does for the
 * whole, which this app would otherwise do for itself.
 */
export interface WorkerLink {
  /** Workers serving now and how many there should be, as the primary last said (for /readyz). */
  readonly workers: { ready: number; expected: number };
  /** Every worker's metrics, added up by the primary, as Prometheus text. */
  metrics(): Promise<string>;
  /** What this worker answers when the primary collects the workers' metrics. */
  shareMetrics(read: () => Promise<unknown[]>): void;
  /** Counts graphql-ws connections per client across the workers (without Redis). */
  connections: ConnectionCounter;
  /**
   * Runs `say` once the primary has logged the cluster's "ready" line, in the one worker that
   * speaks for all (start-up warnings, what a failed first look at the upstream means).
   */
  onAnnounce(say: () => void): void;
}

export interface BuildAppOptions {
  /** The built chat page to serve at /chat. @default dist/web at the package root */
  webDir?: string;
  /** Interval of the server's WebSocket pings. @default 15000 */
  wsKeepAliveMs?: number;
  /** Where spans go (see `src/tracing.ts`). @default the OpenTelemetry API's no-op tracer */
  tracer?: Tracer;
  /**
   * Set in a cluster's worker: no "ready" line (the primary logs one for all), no METRICS_PORT
   * listener (the primary's), /metrics and /readyz for the whole cluster, and limits counted in
   * the primary when there is no Redis. @default a process of its own
   */
  worker?: WorkerLink;
}

/** Interval of the server's WebSocket pings; a socket that missed the previous pong is dropped. */
const WS_KEEP_ALIVE_MS = 15_000;

export function buildApp(config: Config, logger: Logger, options: BuildAppOptions = {}): App {
  const { security } = config;
  const { worker } = options;
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
    upstreamBreakers: () =>
      targets.flatMap(({ name, health }) => (health ? [{ upstream: name, state: BREAKER_STATE_VALUE[health.breaker.state] }] : [])),
    detachedStreams: () => streams.detached,
    modelBreakers: () =>
      targets.flatMap(({ name, health }) =>
        (health?.modelStates() ?? []).map(({ model, state }) => ({
          upstream: name,
          model: modelLabel(model),
          state: BREAKER_STATE_VALUE[state],
        })),
      ),
  });
  // The primary, then each fallback: one client and its circuit breakers each.
  const targets = createUpstreamTargets(config.upstream, logger, {
    onBreakerOpen: (upstream, model) => metrics.breakerOpened.inc({ upstream, model: model === null ? '' : modelLabel(model) }),
  });
  const callContext = {
    retry: { maxRetries: config.upstream.maxRetries },
    redact,
    logger,
    metrics,
    tracer: options.tracer ?? noopTracer(),
  };
  const redis = security.redisUrl ? connectRedis(security.redisUrl, logger, redact) : null;
  const gate = new LimitsGate({
    redis: redis?.client ?? null,
    cluster: worker ? { connections: worker.connections } : null,
    allowedModels: security.allowedModels,
    onRefusal: (limit) => metrics.limitRefusals.inc({ limit }),
    currency: config.pricing.currency,
  });
  const authenticator = createAuthenticator(security.auth, security.defaultLimits);
  // AUTH_MODE=forward: keys the upstream refused lately are refused again without a call.
  const rejectedKeys = security.auth.mode === 'forward' ? new RejectedKeys(config.modelsCacheMs) : undefined;
  const withRejectedKeys = rejectedKeys ? { rejectedKeys } : {};
  // Resumable streams: in this process, and mirrored to Redis with REDIS_URL (any replica resumes).
  // Several workers without Redis would each know only their own generations, and a resume goes
  // to whichever worker its connection lands on: refused, rather than "not found" at random.
  const streams = new ResumableStreams({
    ...config.streams,
    refusal:
      config.workers > 1 && !redis
        ? 'Resumable streams need REDIS_URL when WORKERS is above 1: each worker keeps its own streams, and a resume may reach another. Subscribe without resume, or set REDIS_URL.'
        : null,
    shared: redis
      ? new RedisStreamLog(redis.client, {
          ...config.streams,
          onStoreError: (error) =>
            logger.warn({ error: redact(error.message) }, 'resumable stream store unavailable: live streams go on, resumes are refused'),
        })
      : null,
    logger,
    onResume: (outcome) => metrics.streamResumes.inc({ outcome }),
  });
  // What models cost: MODEL_PRICES_FILE, and with UPSTREAM_PRICES=litellm the proxy's /model/info.
  const prices = new PriceTable(config.pricing);
  const upstreamPrices =
    config.pricing.upstream === 'litellm'
      ? new UpstreamPrices({ target: targets[0]!, table: prices, logger, cacheMs: config.modelsCacheMs })
      : undefined;
  const chat = new ChatService({
    ...callContext,
    ...withRejectedKeys,
    targets,
    operations,
    metrics,
    gate,
    logContent: config.logContent,
    maxMessages: config.maxMessages,
    streams,
    prices,
    ...(upstreamPrices ? { upstreamPrices } : {}),
  });
  const models = new ModelsService({
    ...callContext,
    ...withRejectedKeys,
    target: targets[0]!,
    cacheMs: config.modelsCacheMs,
    prices,
    ...(upstreamPrices ? { upstreamPrices } : {}),
  });

  // The host names the service answers to and the origins that count as its own or allowed.
  const origins: OriginPolicy = { corsOrigins: config.corsOrigins, hosts: config.allowedHosts };
  // Large requests authenticated before their body was read (see src/http/pre-auth.ts).
  const preAuthenticated = new WeakMap<IncomingMessage, AuthOutcome>();
  const yoga = createGraphQLServer({ config, logger, redact, chat, models, gate, authenticator, origins, preAuthenticated });

  // A worker answers for the whole cluster: the primary adds every worker's registry up.
  worker?.shareMetrics(() => metrics.registry.getMetricsAsJSON());
  const serveMetrics = (res: ServerResponse) => {
    void (worker ? worker.metrics() : metrics.registry.metrics()).then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  };
  // With METRICS_PORT, /metrics lives on its own listener (same HOST), so it need not face clients;
  // with workers, the primary listens there.
  const metricsServer =
    config.metricsPort === null || worker
      ? null
      : createServer((req, res) => {
          if (req.url?.split('?', 1)[0] === '/metrics' && req.method === 'GET') serveMetrics(res);
          else res.writeHead(404).end();
        });

  // Clients that stopped reading, SSE and graphql-ws alike (see src/http/slow-clients.ts).
  const slowClients = new SlowClientWatch(config.slowClientTimeoutMs);

  const server = createServer(
    createRouter({
      logger,
      allowedHosts: config.allowedHosts,
      origins,
      maxBodyBytes: config.maxBodyBytes,
      readiness: () => ({
        draining: operations.draining,
        body: {
          status: operations.draining ? 'draining' : 'ready',
          upstream: { embeddedMock: config.upstream.embeddedMock, ...models.health, ...describeTargets(targets) },
          operations: operations.size,
          limits: { store: gate.store, ...(redis ? { redis: redis.status } : {}) },
          // This worker answers, so the port serves: ready (see docs/operating.md, Several workers).
          ...(worker ? { workers: worker.workers } : {}),
        },
      }),
      serveMetrics: config.metricsOnMainPort ? serveMetrics : null,
      web: createWebHandler(options.webDir),
      // Off in production unless GRAPHIQL=true: the page is 9 MB, and it needs introspection. Its
      // example document names the upstream's first model once the list is known.
      graphiql: config.graphiql ? createGraphiQLHandler(() => models.peek()?.[0]?.id, logger) : null,
      graphql: (req, res) => void yoga.requestListener(req, res),
      authenticator,
      rejectedKeys,
      preAuthenticated,
      slowClients,
    }),
  );
  server.keepAliveTimeout = 5_000;
  const websocketOptions: WebSocketLimits = {
    origins,
    maxPayload: config.maxBodyBytes,
    connectionInitWaitTimeoutMs: config.wsConnectionInitTimeoutMs,
    maxOperations: config.wsMaxSubscriptions,
    slowClients,
    persistedDocuments: config.persistedDocuments,
    authenticate: (authorization) => authenticator.authenticate(authorization),
    keepAliveMs: options.wsKeepAliveMs ?? WS_KEEP_ALIVE_MS,
    openConnection: (principal) => gate.openConnection(principal),
  };
  const websocket = attachGraphQLWebSocket(server, yoga, logger, websocketOptions);

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
        logger.error(
          { problems: result.problems },
          'CLIENT_KEYS_FILE not reloaded: the file has problems; the keys read before stay in use',
        );
      }
      return result;
    },
    reloadPrices: () => {
      const result = prices.reload();
      if (result === null) return null;
      if (result.ok) logger.info({ models: result.prices.size }, 'MODEL_PRICES_FILE reloaded');
      else
        logger.error(
          { problems: result.problems },
          'MODEL_PRICES_FILE not reloaded: the file has problems; the prices read before stay in use',
        );
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
      const port = await listen(server, config.port);
      const metricsPort = metricsServer ? await listen(metricsServer, config.metricsPort ?? 0) : null;
      const url = `http://${host}:${port}`;
      const metricsUrl = metricsPort === null ? undefined : `http://${host}:${metricsPort}/metrics`;
      // Warm the models cache, so that /readyz and GraphiQL know the upstream from the start, and
      // say in one line what a failure most likely means.
      if (worker) {
        // The primary logs the "ready" line; one worker then says the rest, for all of them.
        const warmUp = models.list();
        warmUp.catch(() => undefined);
        worker.onAnnounce(() => {
          logStartupWarnings(config, targets, logger);
          warmUp.catch((error: unknown) => explainUpstreamFailure(error, config, logger));
        });
      } else {
        logReady(config, logger, url, metricsUrl);
        logStartupWarnings(config, targets, logger);
        models.list().catch((error: unknown) => explainUpstreamFailure(error, config, logger));
      }
      return { url, port, ...(metricsUrl === undefined ? {} : { metricsUrl }) };
    },
    stop: (graceMs = config.shutdownGraceMs) =>
      (stopping ??= (async () => {
        const started = performance.now();
        const { finished, aborted } = await operations.drain(graceMs);
        logger.info({ finished, aborted, ms: Math.round(performance.now() - started) }, 'operations drained');
        models.close();
        upstreamPrices?.close();
        streams.close();
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

/**
 * SIGHUP: reads CLIENT_KEYS_FILE (AUTH_MODE=api-key) and MODEL_PRICES_FILE again, so that keys
 * are added or revoked and prices changed without a restart (in every worker, which the primary
 * forwards the signal to).
 */
export function reloadFiles(app: App, logger: Logger): void {
  const keys = app.reloadClientKeys();
  const prices = app.reloadPrices();
  if (keys === null && prices === null) {
    logger.info('SIGHUP: nothing to reload (CLIENT_KEYS_FILE is read with AUTH_MODE=api-key only; no MODEL_PRICES_FILE)');
  }
}
