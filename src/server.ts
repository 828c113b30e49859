/**
 * `npm start`: read the configuration, start the embedded mock upstream when no upstream is
 * configured, serve, and shut down gracefully on SIGTERM/SIGINT.
 */
import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { startMockUpstream } from './mock-upstream/server.js';
import { startTracing, tracingRequested } from './tracing.js';

async function main(): Promise<void> {
  const result = loadConfig();
  if (!result.ok) {
    for (const problem of result.problems) console.error(`chatql: configuration error: ${problem}`);
    process.exit(1);
  }
  const config = result.config;
  const logger = createLogger(config.logLevel, undefined, { pretty: config.logPretty });

  let closeMock: (() => Promise<void>) | undefined;
  if (config.upstream.embeddedMock) {
    const mock = await startMockUpstream();
    config.upstream.baseURL = mock.url;
    closeMock = () => mock.close();
    logger.info(
      { upstream: mock.url },
      'no OPENAI_BASE_URL or OPENAI_API_KEY set: serving the embedded mock upstream (set them to use a real one)',
    );
  }

  // OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is set (read by the exporter itself).
  const tracing = tracingRequested(process.env) ? await startTracing(process.env) : null;
  if (tracing) logger.info('exporting traces over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT)');
  const app = buildApp(config, logger, tracing ? { tracer: tracing.tracer } : {});
  let address: { url: string; port: number };
  try {
    address = await app.start();
  } catch (error) {
    logger.fatal({ err: error }, `cannot listen on ${config.host}:${config.port}`);
    await closeMock?.();
    process.exit(1);
  }
  logger.info(
    {
      url: `${address.url}/graphql`,
      chat: `${address.url}/chat`,
      upstream: config.upstream.embeddedMock ? 'embedded mock' : 'configured',
      introspection: config.introspection,
      graphiql: config.graphiql,
    },
    config.graphiql
      ? `ChatQL ready: chat at ${address.url}/chat, GraphQL and GraphiQL at ${address.url}/graphql`
      : `ChatQL ready: chat at ${address.url}/chat, GraphQL at ${address.url}/graphql (GraphiQL off: GRAPHIQL=true turns it on)`,
  );

  let signals = 0;
  const shutdown = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down');
    void app
      .stop()
      .then(() => closeMock?.())
      .then(() =>
        tracing?.shutdown().catch((error: unknown) => logger.warn({ error: String(error) }, 'the last spans could not be exported')),
      )
      .then(() => {
        logger.info('stopped');
        process.exit(0);
      });
  };
  // SIGHUP: read CLIENT_KEYS_FILE again (AUTH_MODE=api-key), so that keys are added or revoked
  // without a restart.
  process.on('SIGHUP', () => {
    if (app.reloadClientKeys() === null) logger.info('SIGHUP: nothing to reload (CLIENT_KEYS_FILE is read with AUTH_MODE=api-key only)');
  });
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

void main();
