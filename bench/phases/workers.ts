/**
 * WORKERS=1 against WORKERS=2: 50 burst streams over graphql-ws, each on a connection of its own
 * (so that the primary spreads them over the workers), against `npm start`'s own entry point
 * (`dist/server.js`) on the burst mock. Unlike the other phases nothing is pinned apart: the
 * workers may use every core, and they share them with the mock upstream and the load clients,
 * which this phase says in its notes. On a machine with two cores, the second worker can only
 * win what the load side leaves of the second core.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Client } from 'graphql-ws';

import type { BenchShape } from '../../src/mock-upstream/bench.js';
import { newRecord, openWsClient, type StreamRecord, verify, wsStream } from '../lib/clients.js';
import { type PhaseContext, range, sleep, throwIfAborted, within } from '../lib/phase.js';
import { median, round } from '../lib/stats.js';
import { canPin } from '../processes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STREAMS = 50;
/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux). */
const TICKS = 100;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** User + system CPU of `pid` and its children (the workers), in µs; 0 where /proc is missing. */
function clusterCpuMicros(pid: number): number {
  const ticks = (of: number) => {
    try {
      const fields = readFileSync(`/proc/${of}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return 0;
    }
  };
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // No /proc: CPU is not reported.
  }
  return ((ticks(pid) + children.reduce((sum, child) => sum + ticks(child), 0)) / TICKS) * 1e6;
}

interface Cluster {
  child: ChildProcess;
  wsUrl: string;
  stop(): Promise<void>;
}

async function startCluster(workers: number, mockUrl: string, signal: AbortSignal): Promise<Cluster> {
  const port = await freePort();
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    AUTH_MODE: 'none',
    WORKERS: String(workers),
    PORT: String(port),
    HOST: '127.0.0.1',
    OPENAI_BASE_URL: mockUrl,
    OPENAI_API_KEY: 'bench',
    LOG_LEVEL: 'warn',
  };
  const server = join(ROOT, 'dist', 'server.js');
  // This process is pinned to one CPU, and a child inherits that: the service gets every CPU back.
  const command = canPin() ? 'taskset' : process.execPath;
  const args = canPin() ? ['-c', `0-${cpus().length - 1}`, process.execPath, server] : [server];
  const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + 30_000;
  for (;;) {
    throwIfAborted(signal);
    const ready = await fetch(`${url}/readyz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (child.exitCode !== null || performance.now() > deadline) throw new Error(`WORKERS=${workers}: the service did not start`);
    await sleep(100, signal);
  }
  return {
    child,
    wsUrl: `${url.replace(/^http/, 'ws')}/graphql`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
      }),
  };
}

export async function workersPhase(ctx: PhaseContext, shapes: { burst: BenchShape }) {
  const trials = ctx.quick ? 2 : 4;
  const mockUrl = ctx.upstream.ready.mocks.burst ?? '';
  // Not availableParallelism(): this process is pinned to one CPU, and that counts only what it may use.
  const cores = cpus().length;
  ctx.progress(
    `WORKERS=1 against WORKERS=2: ${trials} trials × ${STREAMS} burst streams over graphql-ws, on dist/server.js; nothing pinned: the service, the mock upstream and the load clients share ${cores} cores`,
  );
  const results: Record<string, { rate: number[]; microsPerChunk: number[]; broken: number }> = {};
  for (const workers of [1, 2]) {
    const cluster = await startCluster(workers, mockUrl, ctx.signal);
    ctx.defer(() => cluster.stop());
    const outcome = { rate: [] as number[], microsPerChunk: [] as number[], broken: 0 };
    for (let trial = -1; trial < trials; trial++) {
      const clients: Client[] = await Promise.all(range(STREAMS).map(() => openWsClient(cluster.wsUrl)));
      const records: StreamRecord[] = range(STREAMS).map(() => newRecord());
      const cpuBefore = clusterCpuMicros(cluster.child.pid ?? 0);
      const began = performance.now();
      const runs = records.map((record, i) => wsStream(clients[i] as Client, `workers ${workers} ${trial} ${i}`, record));
      await within(Promise.all(runs.map((run) => run.done)), 60_000, `${STREAMS} burst streams on WORKERS=${workers}`, ctx.signal);
      const ended = Math.max(...records.map((record) => record.endedAt ?? performance.now()));
      const micros = clusterCpuMicros(cluster.child.pid ?? 0) - cpuBefore;
      const chunks = records.reduce((sum, record) => sum + record.contents.length, 0);
      await Promise.all(clients.map((client) => client.dispose()));
      if (trial < 0) continue; // warm-up
      outcome.rate.push((chunks / (ended - began)) * 1000);
      outcome.microsPerChunk.push(micros / Math.max(1, chunks));
      outcome.broken += records.filter((record) => verify(record, shapes.burst) !== null).length;
    }
    await cluster.stop();
    results[workers] = outcome;
  }
  const one = results[1]!;
  const two = results[2]!;
  const ratio = median(two.rate) / median(one.rate);
  ctx.figure({
    label: `Chunks/s, ${STREAMS} burst streams, graphql-ws, WORKERS=2 against 1`,
    unit: 'chunks/s',
    direct: median(one.rate),
    chatql: median(two.rate),
    delta: ratio,
    deltaKind: 'ratio',
    pass: null,
    note: `direct column: WORKERS=1; service CPU ${median(one.microsPerChunk).toFixed(1)} → ${median(two.microsPerChunk).toFixed(1)} µs a chunk (all its processes); ${cores} cores shared with the mock upstream and the load clients`,
  });
  ctx.figure({
    label: 'Burst streams intact on both (order, usage once)',
    unit: '',
    chatql: `${trials * STREAMS * 2 - one.broken - two.broken}/${trials * STREAMS * 2}`,
    target: 'all',
    pass: one.broken + two.broken === 0,
  });
  return {
    cores,
    trials,
    streams: STREAMS,
    workers1: { chunksPerSecond: one.rate.map((v) => round(v, 0)), microsPerChunk: one.microsPerChunk.map((v) => round(v, 1)) },
    workers2: { chunksPerSecond: two.rate.map((v) => round(v, 0)), microsPerChunk: two.microsPerChunk.map((v) => round(v, 1)) },
  };
}
