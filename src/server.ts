/**
 * `npm start`: read the configuration, start the embedded mock upstream when no upstream is
 * configured, serve, and shut down gracefully on SIGTERM/SIGINT. With WORKERS above 1 this
 * process is a node:cluster primary or one of its workers (src/cluster/); the modules each side
 * needs are loaded there, so that the primary loads none of the GraphQL, upstream or limits code.
 */
import cluster from 'node:cluster';

import { type Config, loadConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';

async function main(): Promise<void> {
  const result = loadConfig();
  if (!result.ok) {
    // A worker finds problems the primary did not only in a file changed since (a restarted worker
    // reads CLIENT_KEYS_FILE again, say): worth its own lines.
    for (const problem of result.problems) console.error(`chatql: configuration error: ${problem}`);
    process.exit(1);
  }
  const config = result.config;
  // Readable lines in a terminal, JSON lines for log shippers, unless LOG_FORMAT says which.
  const pretty = config.logFormat === 'pretty' || (config.logFormat === null && process.stdout.isTTY === true);
  const logger = createLogger(config.logLevel, undefined, { pretty });
  if (config.workers === 1) await serve(config, logger);
  else if (cluster.isPrimary) await (await import('./cluster/primary.js')).runPrimary(config, logger);
  else await (await import('./cluster/worker.js')).runWorker(config, logger);
}

/** One process serving PORT (WORKERS=1). */
async function serve(config: Config, logger: Logger): Promise<void> {
  const [{ buildApp, reloadFiles }, { startMockUpstream }, { explainListenFailure }, { startTracing, tracingRequested }] =
    await Promise.all([import('./app.js'), import('./mock-upstream/server.js'), import('./startup.js'), import('./tracing.js')]);
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
    explainListenFailure(error, config, logger);
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
  process.on('SIGHUP', () => reloadFiles(app, logger));
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

void main();
