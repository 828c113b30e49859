/**
 * WORKERS above 1: the node:cluster primary. It serves no GraphQL itself: it starts the embedded
 * mock upstream once for all, forks the workers (which share PORT), keeps for them what must hold
 * across them (the limits' counters without Redis, the connection counts, the cluster's state),
 * adds their metrics up, restarts a worker that dies, and passes the signals on: SIGTERM and
 * SIGINT drain every worker, SIGHUP makes each reload its files.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { RateLimiterClusterMaster } from 'rate-limiter-flexible';

import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { explainListenFailure, logReady } from '../startup.js';
import { ConnectionCounts } from './counts.js';
import { CHANNEL, isOurs, MOCK_URL_VARIABLE, type PrimaryMessage, type WorkerMessage } from './ipc.js';
import { ClusterMetrics, createMetricsServer } from './metrics.js';

/** The first restart's delay; each restart in a row of the same worker doubles it, up to RESTART_MAX_MS. */
const RESTART_FIRST_MS = 1000;
const RESTART_MAX_MS = 30_000;
/** A worker that was up this long was well: its next restart waits RESTART_FIRST_MS again. */
const STABLE_MS = 60_000;
/** Past SHUTDOWN_GRACE_MS, what workers have to close their connections and exit before they are killed. */
const STOP_MARGIN_MS = 5000;

/** One of the WORKERS places: the worker in it now, and its restarts. */
interface Slot {
  worker: Worker | null;
  /** It said `ready`: it listens on PORT. */
  serving: boolean;
  forkedAt: number;
  /** Restarts in a row, each after less than STABLE_MS up. */
  failures: number;
  restart: NodeJS.Timeout | null;
  /** A SIGHUP came while it was starting: passed on once it serves. */
  reload: boolean;
}

export async function runPrimary(config: Config, logger: Logger): Promise<void> {
  const expected = config.workers;
  // Before any worker: a worker's first count is answered by this master, which must be there
  // to hear the worker's limiter announce itself. With Redis, the workers count there instead.
  if (config.security.redisUrl === null) new RateLimiterClusterMaster();

  const env: Record<string, string> = {};
  let closeMock: (() => Promise<void>) | undefined;
  if (config.upstream.embeddedMock) {
    const { startMockUpstream } = await import('../mock-upstream/server.js');
    const mock = await startMockUpstream();
    env[MOCK_URL_VARIABLE] = mock.url;
    closeMock = () => mock.close();
  }

  const slots: Slot[] = Array.from({ length: expected }, () => ({
    worker: null,
    serving: false,
    forkedAt: 0,
    failures: 0,
    restart: null,
    reload: false,
  }));
  const live = () => slots.flatMap((slot) => (slot.worker ? [slot.worker] : []));
  const serving = () => slots.flatMap((slot) => (slot.worker && slot.serving && slot.worker.isConnected() ? [slot.worker] : []));
  const send = (worker: Worker, message: PrimaryMessage) => {
    // A worker that just died may not have said so yet: a message to it is dropped, not thrown.
    if (worker.isConnected()) worker.send(message, () => undefined);
  };
  const connections = new ConnectionCounts();
  const metrics = new ClusterMetrics(serving);
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;

  let metricsServer: Server | null = null;
  let metricsUrl: string | undefined;
  if (config.metricsPort !== null) {
    const server = createMetricsServer(metrics);
    try {
      const port = await new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.metricsPort ?? 0, config.host, () => resolve((server.address() as AddressInfo).port));
      });
      metricsServer = server;
      metricsUrl = `http://${host}:${port}/metrics`;
    } catch (error) {
      explainListenFailure(error, config, logger);
      await closeMock?.();
      process.exit(1);
    }
  }

  let url = '';
  /** The whole cluster has served once: the "ready" line is out, and a worker that dies is restarted. */
  let started = false;
  let stopping = false;
  let exitCode = 0;
  let stragglers: NodeJS.Timeout | null = null;

  const broadcast = () => {
    const message: PrimaryMessage = { channel: CHANNEL, type: 'state', ready: serving().length, expected };
    for (const worker of live()) send(worker, message);
  };

  const announce = () => {
    started = true;
    const pids = Object.fromEntries(serving().map((worker) => [worker.id, worker.process.pid]));
    logReady(config, logger, url, metricsUrl, { workers: expected, pids });
    if (config.security.redisUrl === null) {
      logger.warn(
        `WORKERS=${expected} without REDIS_URL: resumable streams (chatCompletionStream with resume) are refused, since a resume may reach another worker than its stream; set REDIS_URL to keep them`,
      );
    }
    // One worker says what start-up has to say (configuration warnings, the upstream's first answer), for all.
    const speaker = serving()[0];
    if (speaker) send(speaker, { channel: CHANNEL, type: 'announce' });
  };

  const receive = (slot: Slot, worker: Worker, message: WorkerMessage) => {
    switch (message.type) {
      case 'ready':
        slot.serving = true;
        url = message.url;
        if (slot.reload) {
          slot.reload = false;
          worker.process.kill('SIGHUP');
        }
        broadcast();
        if (!started && !stopping && slots.every((each) => each.serving)) announce();
        return;
      case 'metrics':
        metrics.text().then(
          (value) => send(worker, { channel: CHANNEL, type: 'answer', id: message.id, value }),
          (error: Error) => send(worker, { channel: CHANNEL, type: 'answer', id: message.id, error: error.message }),
        );
        return;
      case 'connection-open':
        send(worker, { channel: CHANNEL, type: 'answer', id: message.id, value: connections.open(worker.id, message.client, message.max) });
        return;
      case 'connection-close':
        connections.close(worker.id, message.client);
        return;
      case 'collected':
        metrics.collected(worker, message.id, message.metrics);
        return;
    }
  };

  const finish = async () => {
    if (stragglers) clearTimeout(stragglers);
    metricsServer?.close();
    metricsServer?.closeAllConnections();
    await closeMock?.();
    logger.info('stopped');
    process.exit(exitCode);
  };

  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    for (const slot of slots) {
      if (slot.restart) clearTimeout(slot.restart);
      slot.restart = null;
    }
    // A signal rather than a message: a worker still loading would drop a message, and no handler
    // yet means SIGTERM ends it outright, which is what a stop wants of it.
    for (const worker of live()) worker.process.kill('SIGTERM');
    stragglers = setTimeout(() => {
      const left = live();
      logger.error(
        { workers: left.map((worker) => worker.id) },
        'workers still running after SHUTDOWN_GRACE_MS and a margin: killed (SIGKILL)',
      );
      exitCode = 1;
      for (const worker of left) worker.process.kill('SIGKILL');
    }, config.shutdownGraceMs + STOP_MARGIN_MS);
    if (live().length === 0) void finish();
  };

  const exited = (slot: Slot, worker: Worker, code: number | null, signal: string | null) => {
    const pid = worker.process.pid;
    if (slot.worker === worker) {
      slot.worker = null;
      slot.serving = false;
    }
    connections.forget(worker.id);
    metrics.gone(worker);
    if (stopping) {
      logger.info({ worker: worker.id, pid, code, signal }, 'worker stopped');
      if (live().length === 0) void finish();
      return;
    }
    broadcast();
    if (!started) {
      logger.fatal(
        { worker: worker.id, pid, code, signal },
        'a worker exited before the cluster was up (the lines before say why): stopping',
      );
      stop(1);
      return;
    }
    if (performance.now() - slot.forkedAt >= STABLE_MS) slot.failures = 0;
    const delay = Math.min(RESTART_MAX_MS, RESTART_FIRST_MS * 2 ** slot.failures);
    slot.failures += 1;
    logger.warn(
      { worker: worker.id, pid, code, signal, restartInMs: delay },
      `worker ${worker.id} (pid ${pid}) exited unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`}): restarting it in ${delay} ms`,
    );
    slot.restart = setTimeout(() => {
      slot.restart = null;
      fork(slot);
    }, delay);
  };

  const fork = (slot: Slot) => {
    const worker = cluster.fork(env);
    slot.worker = worker;
    slot.serving = false;
    slot.forkedAt = performance.now();
    worker.on('message', (message: unknown) => {
      if (isOurs<WorkerMessage>(message)) receive(slot, worker, message);
    });
    // Sending to a worker whose channel just closed; its `exit` follows.
    worker.on('error', (error: Error) => logger.debug({ worker: worker.id, error: error.message }, 'worker channel error'));
    worker.on('exit', (code: number | null, signal: string | null) => exited(slot, worker, code, signal));
    if (started) logger.info({ worker: worker.id, pid: worker.process.pid }, 'worker restarted');
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting at once');
      for (const worker of live()) worker.process.kill('SIGKILL');
      process.exit(1);
    }
    logger.info({ signal, graceMs: config.shutdownGraceMs, workers: live().length }, 'shutting down');
    stop(0);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () => {
    let passed = 0;
    for (const slot of slots) {
      if (!slot.worker) continue;
      if (slot.serving) {
        slot.worker.process.kill('SIGHUP');
        passed += 1;
      } else {
        slot.reload = true;
      }
    }
    logger.info({ workers: passed }, 'SIGHUP: passed on to every worker, which reads CLIENT_KEYS_FILE and MODEL_PRICES_FILE again');
  });

  for (const slot of slots) fork(slot);
}
