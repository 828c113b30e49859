/**
 * The child side of the bench's IPC: answers the parent's requests by type, reports resource
 * figures (`stats`), and exits when the parent goes away, so that no child outlives a bench that
 * was killed.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

/** What `stats` reports; times are absolute milliseconds (`performance.timeOrigin + now`). */
export interface ProcessStats {
  at: number;
  memory: NodeJS.MemoryUsage;
  /** Largest RSS and V8 heap in use sampled (every 100 ms) since the last reset. */
  peakRss: number;
  peakHeapUsed: number;
  /** Cumulative CPU time of the process, microseconds. */
  cpu: NodeJS.CpuUsage;
  /** Event-loop delay since the last reset, milliseconds beyond the 10 ms timer it measures with. */
  eventLoop: { p50: number; p99: number; max: number; samples: number };
}

export interface StatsRequest {
  /** Start a new window for `peakRss` and `eventLoop` after this report. */
  reset?: boolean;
  /** Collect garbage first (needs `--expose-gc`); the memory figures are then what is live. */
  gc?: boolean;
}

type Handler = (payload: unknown) => unknown;

const RESOLUTION_MS = 10;
const eventLoop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
eventLoop.enable();
let peakRss = 0;
let peakHeapUsed = 0;
function sample(): NodeJS.MemoryUsage {
  const memory = process.memoryUsage();
  peakRss = Math.max(peakRss, memory.rss);
  peakHeapUsed = Math.max(peakHeapUsed, memory.heapUsed);
  return memory;
}
setInterval(sample, 100).unref();

export function absoluteNow(): number {
  return performance.timeOrigin + performance.now();
}

async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  // Two rounds with a turn of the loop between: weak references and finalizers get their chance.
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
}

export async function processStats({ reset = false, gc = false }: StatsRequest = {}): Promise<ProcessStats> {
  if (gc) await collectGarbage();
  const memory = sample();
  const excess = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
  const stats: ProcessStats = {
    at: absoluteNow(),
    memory,
    peakRss,
    peakHeapUsed,
    cpu: process.cpuUsage(),
    eventLoop: {
      p50: excess(eventLoop.percentile(50)),
      p99: excess(eventLoop.percentile(99)),
      max: excess(eventLoop.max),
      samples: eventLoop.count,
    },
  };
  if (reset) {
    eventLoop.reset();
    peakRss = memory.rss;
    peakHeapUsed = memory.heapUsed;
  }
  return stats;
}

/** Answers `{ id, type, payload }` messages with `{ id, ok, result | error }`; `stats` and `clock` built in. */
export function serveParent(handlers: Record<string, Handler>): void {
  const all: Record<string, Handler> = {
    stats: (payload) => processStats(payload as StatsRequest),
    clock: () => absoluteNow(),
    ...handlers,
  };
  process.on('message', (message: { id: number; type: string; payload?: unknown }) => {
    const handler = all[message.type];
    void (async () => {
      try {
        if (!handler) throw new Error(`unknown request ${message.type}`);
        process.send?.({ id: message.id, ok: true, result: await handler(message.payload) });
      } catch (error) {
        process.send?.({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) });
      }
    })();
  });
  // The parent is gone (killed, crashed): nobody will ever stop us.
  process.on('disconnect', () => process.exit(0));
}

export function reportReady(result: unknown): void {
  process.send?.({ type: 'ready', result });
}

export function reportFailure(error: unknown): never {
  process.send?.({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
}
