/**
 * /metrics for the whole cluster, in the primary: each serving worker sends its registry as JSON
 * and prom-client's AggregatorRegistry adds them up, each metric by its `aggregator`
 * (src/metrics.ts). Served on METRICS_PORT by the primary, and through any worker asked for
 * /metrics on the main port.
 *
 * `AggregatorRegistry.clusterMetrics()` would ask every connected worker, one still loading its
 * modules included: that one drops the question (see src/cluster/ipc.ts), and the whole scrape
 * fails after prom-client's 5 s. So the primary asks the workers that said they serve, and
 * aggregates their answers with the same `AggregatorRegistry.aggregate`.
 */
import type { Worker } from 'node:cluster';
import { createServer, type Server } from 'node:http';

import { AggregatorRegistry } from 'prom-client';

import { CHANNEL, type PrimaryMessage } from './ipc.js';

/** As prom-client's clusterMetrics: a worker that has not answered by then fails the scrape. */
const COLLECT_TIMEOUT_MS = 5000;

interface Collection {
  waiting: Set<number>;
  answers: unknown[][];
  resolve(answers: unknown[][]): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class ClusterMetrics {
  private nextId = 1;
  private readonly collections = new Map<number, Collection>();

  /** `serving`: the workers that said they serve (and are still connected). */
  constructor(private readonly serving: () => Worker[]) {}

  /** Every serving worker's metrics, added up, as Prometheus text. */
  async text(): Promise<string> {
    const workers = this.serving();
    const id = this.nextId++;
    const answers = await new Promise<unknown[][]>((resolve, reject) => {
      const collection: Collection = {
        waiting: new Set(workers.map((worker) => worker.id)),
        answers: [],
        resolve,
        reject,
        timer: setTimeout(() => {
          this.collections.delete(id);
          reject(new Error(`no metrics from worker ${[...collection.waiting].join(', ')} in ${COLLECT_TIMEOUT_MS} ms`));
        }, COLLECT_TIMEOUT_MS),
      };
      this.collections.set(id, collection);
      const message: PrimaryMessage = { channel: CHANNEL, type: 'collect', id };
      for (const worker of workers) worker.send(message, () => undefined);
      this.settle(id);
    });
    return AggregatorRegistry.aggregate(answers).metrics();
  }

  /** A worker's answer to the collection `id`. */
  collected(worker: Worker, id: number, metrics: unknown[]): void {
    const collection = this.collections.get(id);
    if (!collection?.waiting.delete(worker.id)) return;
    collection.answers.push(metrics);
    this.settle(id);
  }

  /** A worker exited: its answer will not come, and its counters are gone from the sums with it. */
  gone(worker: Worker): void {
    for (const [id, collection] of this.collections) if (collection.waiting.delete(worker.id)) this.settle(id);
  }

  private settle(id: number): void {
    const collection = this.collections.get(id);
    if (!collection || collection.waiting.size > 0) return;
    this.collections.delete(id);
    clearTimeout(collection.timer);
    collection.resolve(collection.answers);
  }
}

/** The primary's listener on METRICS_PORT (same HOST): GET /metrics, nothing else. */
export function createMetricsServer(metrics: ClusterMetrics): Server {
  return createServer((req, res) => {
    if (req.url?.split('?', 1)[0] !== '/metrics' || req.method !== 'GET') {
      res.writeHead(404).end();
      return;
    }
    metrics.text().then(
      (text) => res.writeHead(200, { 'content-type': AggregatorRegistry.PROMETHEUS_CONTENT_TYPE }).end(text),
      () => res.writeHead(500).end(),
    );
  });
}
