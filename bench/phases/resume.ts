/**
 * What resumable streams cost: 50 concurrent burst streams over graphql-ws, plain and with
 * `resume`, interleaved, on a service whose store is in memory and on one whose store is Redis
 * (where `redis-server` is on this machine): the service's added CPU per chunk and the chunk rate
 * against the plain streams. Then the time from a resume to its first replayed chunk, on the same
 * replica (memory) and on another (Redis).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect, createServer } from 'node:net';

import type { Client } from 'graphql-ws';

import type { BenchShape } from '../../src/mock-upstream/bench.js';
import { newRecord, openWsClient, type StreamRecord, verify, wsStream } from '../lib/clients.js';
import { type PhaseContext, range, rotate, type Service, throwIfAborted, within } from '../lib/phase.js';
import { median, round } from '../lib/stats.js';

const STREAMS = 50;

function redisServer(): string | null {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A redis-server of the phase's own, without persistence; null where the binary is missing. */
async function startRedis(ctx: PhaseContext): Promise<string | null> {
  const binary = redisServer();
  if (!binary) return null;
  const port = await freePort();
  const child: ChildProcess = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  ctx.defer(() => child.kill('SIGKILL'));
  const ping = () =>
    new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.setTimeout(500);
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
      socket.once('error', () => resolve(false));
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
    });
  for (let i = 0; i < 100; i++) {
    if (await ping()) return `redis://127.0.0.1:${port}`;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return null;
}

interface Rounds {
  rate: Record<'plain' | 'resumable', number[]>;
  micros: Record<'plain' | 'resumable', number[]>;
  broken: string[];
}

/** Interleaved rounds of 50 burst streams, plain and resumable, on one service. */
async function burstRounds(ctx: PhaseContext, service: Service, shape: BenchShape, trials: number): Promise<Rounds> {
  const clients: Client[] = await Promise.all(range(STREAMS).map(() => openWsClient(service.wsUrl)));
  ctx.defer(() => Promise.all(clients.map((client) => client.dispose())));
  const rounds: Rounds = { rate: { plain: [], resumable: [] }, micros: { plain: [], resumable: [] }, broken: [] };
  const round = async (kind: 'plain' | 'resumable', trial: number) => {
    const records: StreamRecord[] = range(STREAMS).map(() => newRecord());
    const before = await service.child.stats();
    const began = performance.now();
    const running = records.map((record, i) =>
      wsStream(clients[i]!, `resume ${kind} ${trial} ${i}`, record, kind === 'resumable' ? { resume: { key: randomUUID() } } : {}),
    );
    await within(Promise.all(running.map((run) => run.done)), 60_000, `${STREAMS} ${kind} burst streams`, ctx.signal);
    const ended = Math.max(...records.map((record) => record.endedAt ?? performance.now()));
    const after = await service.child.stats();
    const chunks = records.reduce((sum, record) => sum + record.contents.length, 0);
    for (const record of records) {
      const problem = verify(record, shape);
      if (problem) rounds.broken.push(`${kind}: ${problem}`);
    }
    return {
      rate: (chunks / (ended - began)) * 1000,
      micros: (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / Math.max(1, chunks),
    };
  };
  for (const kind of ['plain', 'resumable'] as const) await round(kind, -1); // warm-up
  for (let trial = 0; trial < trials; trial++) {
    for (const kind of rotate(['plain', 'resumable'] as const, trial)) {
      throwIfAborted(ctx.signal);
      const { rate, micros } = await round(kind, trial);
      rounds.rate[kind].push(rate);
      rounds.micros[kind].push(micros);
    }
  }
  await Promise.all(clients.map((client) => client.dispose()));
  return rounds;
}

/** Drops a paced resumable stream after 5 chunks, resumes it on `to` with after: 5: ms to the first replayed chunk. */
async function resumeLatency(ctx: PhaseContext, from: Service, to: Service, trials: number): Promise<number[]> {
  const times: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    throwIfAborted(ctx.signal);
    const key = randomUUID();
    const first = await openWsClient(from.wsUrl);
    let seen = 0;
    const fiveIn = new Promise<void>((resolve) => {
      const record = newRecord();
      wsStream(first, `resume latency ${trial}`, record, { resume: { key } });
      const timer = setInterval(() => {
        seen = record.contents.length;
        if (seen >= 5) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    await within(fiveIn, 15_000, 'five chunks of a paced stream', ctx.signal);
    // A drop: the client goes away without `complete`.
    await first.dispose();
    const second = await openWsClient(to.wsUrl);
    const record = newRecord(true);
    const started = performance.now();
    const running = wsStream(second, `resume latency ${trial}`, record, { resume: { key, after: 5 } });
    await within(running.done, 30_000, 'the resumed stream', ctx.signal);
    if (record.firstContentAt !== null) times.push(record.firstContentAt - started);
    await second.dispose();
  }
  return times;
}

export async function resumePhase(ctx: PhaseContext, shapes: { burst: BenchShape }) {
  const trials = ctx.quick ? 2 : 5;
  ctx.progress(`${trials} trials × ${STREAMS} burst streams over graphql-ws, plain and resumable, in memory`);
  const memory = await ctx.startService('burst');
  const inMemory = await burstRounds(ctx, memory, shapes.burst, trials);
  await memory.child.stop();
  const addedMemory = median(inMemory.micros.resumable) - median(inMemory.micros.plain);
  ctx.figure({
    label: `Service CPU per chunk, ${STREAMS} burst streams, resumable (memory) against plain`,
    unit: 'µs',
    direct: round(median(inMemory.micros.plain), 1),
    chatql: round(median(inMemory.micros.resumable), 1),
    delta: round(addedMemory, 1),
    deltaKind: 'diff',
    target: '≤ 5 µs added',
    pass: addedMemory <= 5,
    note: `chunk rate ${((median(inMemory.rate.resumable) / median(inMemory.rate.plain)) * 100).toFixed(0)} % of plain`,
  });

  const redisUrl = await startRedis(ctx);
  let onRedis: Rounds | null = null;
  if (redisUrl) {
    ctx.progress(`the same with the store on Redis (${redisUrl})`);
    const shared = await ctx.startService('burst', { REDIS_URL: redisUrl });
    onRedis = await burstRounds(ctx, shared, shapes.burst, trials);
    await shared.child.stop();
    const ratio = median(onRedis.rate.resumable.map((rate, i) => rate / (onRedis!.rate.plain[i] ?? Number.NaN)));
    ctx.figure({
      label: `Chunks/s, ${STREAMS} burst streams, resumable (Redis) against plain`,
      unit: 'chunks/s',
      direct: median(onRedis.rate.plain),
      chatql: median(onRedis.rate.resumable),
      delta: ratio,
      deltaKind: 'ratio',
      target: '≥ 80 % of plain',
      pass: ratio >= 0.8,
      note: `service CPU ${median(onRedis.micros.resumable).toFixed(1)} µs a chunk against ${median(onRedis.micros.plain).toFixed(1)} plain`,
    });
  } else {
    ctx.figure({ label: 'Resumable streams on Redis', unit: '', chatql: 'skipped', pass: null, note: 'redis-server is not installed' });
  }

  ctx.progress('resume latency: a paced stream dropped after 5 chunks, resumed with after: 5');
  const latencyTrials = ctx.quick ? 3 : 10;
  const paced = await ctx.startService('paced');
  const local = await resumeLatency(ctx, paced, paced, latencyTrials);
  ctx.figure({
    label: 'Resume to its first replayed chunk, same replica (memory)',
    unit: 'ms',
    chatql: round(median(local), 2),
    pass: null,
  });
  await paced.child.stop();
  if (redisUrl) {
    const [a, b] = await Promise.all([
      ctx.startService('paced', { REDIS_URL: redisUrl }),
      ctx.startService('paced', { REDIS_URL: redisUrl }),
    ]);
    const remote = await resumeLatency(ctx, a, b, latencyTrials);
    ctx.figure({
      label: 'Resume to its first replayed chunk, another replica (Redis)',
      unit: 'ms',
      chatql: round(median(remote), 2),
      pass: null,
    });
  }
  const broken = [...inMemory.broken, ...(onRedis?.broken ?? [])];
  ctx.figure({
    label: 'Resumable burst streams intact (order, usage once)',
    unit: '',
    chatql: broken.length === 0 ? 'all' : `${broken.length} broken`,
    target: 'all',
    pass: broken.length === 0,
    ...(broken[0] ? { note: broken[0] } : {}),
  });
  return { inMemory, onRedis };
}
