/**
 * One of several workers (WORKERS above 1): the same app as a process of its own serves PORT, tied
 * to the primary by a `PrimaryLink`, each of its log lines marked with its `worker` id (cluster's,
 * new at each restart). The primary stops it with SIGTERM, and a terminal's Ctrl-C sends SIGINT
 * to every process of the group as well: the graceful stop runs once, whichever comes and however
 * many; a second signal to the primary is what ends everything at once.
 */
import cluster from 'node:cluster';

import { type App, buildApp, reloadFiles } from '../app.js';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { explainListenFailure } from '../startup.js';
import { startTracing, tracingRequested } from '../tracing.js';
import { MOCK_URL_VARIABLE } from './ipc.js';
import { PrimaryLink } from './link.js';

export async function runWorker(config: Config, parent: Logger): Promise<void> {
  const logger = parent.child({ worker: cluster.worker?.id ?? 0 });
  const link = new PrimaryLink(config.workers, logger);
  let app: App | null = null;
  let stop: ((signal: NodeJS.Signals) => void) | null = null;
  let stopSignal: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopSignal) return;
    stopSignal = signal;
    // Nothing served yet: nothing to drain.
    if (!stop) process.exit(0);
    stop(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Before the app exists, the files it reads as it starts are current; the primary passes a
  // SIGHUP on again once this worker serves.
  process.on('SIGHUP', () => {
    if (app) reloadFiles(app, logger);
  });

  if (config.upstream.embeddedMock) {
    const mockUrl = process.env[MOCK_URL_VARIABLE];
    if (!mockUrl) {
      logger.fatal(`no ${MOCK_URL_VARIABLE} from the primary: a worker does not start an embedded mock upstream of its own`);
      process.exit(1);
    }
    config.upstream.baseURL = mockUrl;
  }

  // OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is set: each worker exports its own spans.
  const tracing = tracingRequested(process.env) ? await startTracing(process.env) : null;
  const started = buildApp(config, logger, { ...(tracing ? { tracer: tracing.tracer } : {}), worker: link });
  let url: string;
  try {
    ({ url } = await started.start());
  } catch (error) {
    explainListenFailure(error, config, logger);
    process.exit(1);
  }
  app = started;
  if (tracing) link.onAnnounce(() => logger.info('exporting traces over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT)'));

  stop = (signal) => {
    logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down');
    void started
      .stop()
      .then(() =>
        tracing?.shutdown().catch((error: unknown) => logger.warn({ error: String(error) }, 'the last spans could not be exported')),
      )
      .then(() => {
        logger.info('stopped');
        process.exit(0);
      });
  };
  if (stopSignal) stop(stopSignal);
  else link.ready(url);
}
