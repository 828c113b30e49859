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
  // Readable lines in a terminal, JSON lines for log shippers, unless LOG_FORMAT says which.
  const pretty = config.logFormat === 'pretty' || (config.logFormat === null && process.stdout.isTTY === true);
  const logger = createLogger(config.logLevel, undefined, { pretty });

  let closeMock: (() => Promise<void>) | undefined;
  if (config.upstream.embeddedMock) {
    const mock = await startMockUpstream();
    config.upstream.baseURL = mock.url;
    closeMock = () => mock.close();
  }

  // OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is set (read by the exporter itself).
  const tracing = tracingRequested(process.env) ? await startTracing(process.env) : null;
  const app = buildApp(config, logger, tracing ? { tracer: tracing.tracer } : {});
  try {
    // Logs the "ready" line with its URLs first, then what start-up has to say.
    await app.start();
  } catch (error) {
    const { code, port } = error as { code?: unknown; port?: unknown };
    if (code === 'EADDRINUSE') {
      logger.fatal(`port ${port ?? config.port} is already in use on ${config.host}: set PORT to another port, or stop what listens there`);
    } else if (code === 'EACCES') {
      logger.fatal(`port ${port ?? config.port} on ${config.host} needs privileges this process lacks: set PORT to 1024 or above`);
    } else {
      logger.fatal(`cannot listen on ${config.host}:${config.port}: ${error instanceof Error ? error.message : String(error)}`);
    }
    await closeMock?.();
    process.exit(1);
  }
  if (tracing) logger.info('exporting traces over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT)');

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
  // SIGHUP: read CLIENT_KEYS_FILE (AUTH_MODE=api-key) and MODEL_PRICES_FILE again, so that keys
  // are added or revoked and prices changed without a restart.
  process.on('SIGHUP', () => {
    const keys = app.reloadClientKeys();
    const prices = app.reloadPrices();
    if (keys === null && prices === null) {
      logger.info('SIGHUP: nothing to reload (CLIENT_KEYS_FILE is read with AUTH_MODE=api-key only; no MODEL_PRICES_FILE)');
    }
  });
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

void main();
