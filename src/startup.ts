/**
 * What start-up says besides the configuration's problems (which stop it, in config.ts): the
 * "ready" line, the choices that are allowed but worth a line in the log, and what a failed first
 * look at the upstream most likely means.
 */
import type { Config } from './config.js';
import { AuthenticationError, ChatQLError, ErrorSource, NotFoundError, UpstreamUnavailableError } from './errors.js';
import type { Logger } from './logger.js';
import type { UpstreamTarget } from './upstream/targets.js';

export function logStartupWarnings(config: Config, targets: readonly UpstreamTarget[], logger: Logger): void {
  const { auth } = config.security;
  const elsewhere = targets.filter((target) => !target.sharesPrimaryUpstream).map((target) => target.name);
  if (auth.mode === 'forward' && elsewhere.length > 0) {
    logger.warn(
      { fallbacks: elsewhere },
      "AUTH_MODE=forward: fallbacks on another base URL are skipped, since a client's key goes only to the upstream it belongs to",
    );
  }
  if (auth.mode === 'jwt' && !auth.requireExp) {
    logger.warn('JWT_REQUIRE_EXP=false: tokens without an exp claim are accepted and never expire; prefer short-lived tokens');
  }
  if (config.production && config.metricsPort === null) {
    logger.info('/metrics is not served: with NODE_ENV=production set METRICS_PORT to serve it on a listener of its own');
  }
  if (auth.mode === 'none' && config.upstream.apiKey !== undefined && !config.upstream.embeddedMock) {
    logger.warn(
      'AUTH_MODE=none: anyone who can reach this service spends the upstream key; set AUTH_MODE to api-key, jwt or forward before exposing it',
    );
  }
}

/** The base URL as a log line may show it: no credentials in it, no trailing slash. */
function shownBaseUrl(baseURL: string | undefined): string {
  if (baseURL === undefined) return 'https://api.openai.com/v1';
  const url = new URL(baseURL);
  url.username = '';
  url.password = '';
  url.search = '';
  return url.href.replace(/\/+$/, '');
}

/**
 * The first line a started service logs: where it is, and what it serves. With `cluster`, the
 * primary's one line for all its workers (src/cluster/primary.ts), naming each one's pid.
 */
export function logReady(
  config: Config,
  logger: Logger,
  url: string,
  metricsUrl: string | undefined,
  cluster?: { workers: number; pids: Record<number, number | undefined> },
): void {
  const graphql = config.graphiql
    ? `GraphQL and GraphiQL at ${url}/graphql`
    : `GraphQL at ${url}/graphql (GraphiQL off: GRAPHIQL=true turns it on)`;
  const upstream = config.upstream.embeddedMock
    ? '; upstream: the embedded mock (set OPENAI_BASE_URL and OPENAI_API_KEY to use a real one)'
    : '';
  logger.info(
    {
      ...(cluster === undefined ? {} : { workers: cluster.workers, pids: cluster.pids }),
      url: `${url}/graphql`,
      chat: `${url}/chat`,
      ...(metricsUrl === undefined ? {} : { metrics: metricsUrl }),
      upstream: config.upstream.embeddedMock ? 'embedded mock' : 'configured',
      introspection: config.introspection,
      graphiql: config.graphiql,
    },
    `ChatQL ready${cluster === undefined ? '' : ` (${cluster.workers} workers)`}: chat at ${url}/chat, ${graphql}${upstream}`,
  );
}

/** What a failed `listen` most likely means, in one fatal line (a port in use names PORT). */
export function explainListenFailure(error: unknown, config: Config, logger: Logger): void {
  const { code, port } = error as { code?: unknown; port?: unknown };
  if (code === 'EADDRINUSE') {
    logger.fatal(`port ${port ?? config.port} is already in use on ${config.host}: set PORT to another port, or stop what listens there`);
  } else if (code === 'EACCES') {
    logger.fatal(`port ${port ?? config.port} on ${config.host} needs privileges this process lacks: set PORT to 1024 or above`);
  } else {
    logger.fatal(`cannot listen on ${config.host}:${config.port}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * The start-up check of the upstream (the models warm-up) failed: one line saying what it most
 * likely means. A refused connection or a DNS failure is named by the "upstream call failed" line
 * before it (its `error.network`).
 */
export function explainUpstreamFailure(error: unknown, config: Config, logger: Logger): void {
  if (!(error instanceof ChatQLError) || error.source !== ErrorSource.UPSTREAM) return;
  const models = `GET ${shownBaseUrl(config.upstream.baseURL)}/models`;
  if (error instanceof NotFoundError) logger.warn(`${models} answered 404: does OPENAI_BASE_URL end with /v1?`);
  else if (error instanceof AuthenticationError) logger.warn(`${models} answered 401: the upstream refused the key; check OPENAI_API_KEY`);
  else if (error instanceof UpstreamUnavailableError && error.status === null) {
    logger.warn(`${models} failed: the upstream could not be reached or answered unexpectedly; the line before names the cause`);
  }
}
