/**
 * Many live streams at once: ramped in steps, paced at one chunk a second, 100 subscriptions per
 * graphql-ws connection. Per step: errors, stalls, the service's event-loop delay, its resident
 * memory per stream, and how much of it comes back once the streams end; the top step runs
 * several cycles, so that a leak shows as growth.
 */
import type { Client } from 'graphql-ws';

import type { BenchShape } from '../../src/mock-upstream/bench.js';
import type { ProcessStats } from '../lib/child.js';
import { newRecord, openWsClient, type StreamRecord, verify, wsStream } from '../lib/clients.js';
import { type PhaseContext, range, sleep, within } from '../lib/phase.js';
import { round } from '../lib/stats.js';
import { startChild } from '../processes.js';
import type { SdkShare } from '../sdk-child.js';

const PER_CONNECTION = 100;
/** Subscriptions opened per second while ramping up: 10,000 in 10 s, then they all run together. */
const RAMP_PER_SECOND = 1000;
/** A stream with no event for this long, while the upstream sends one a second, has stalled. */
const STALL_MS = 3000;
/**
 * The wait between a step's end and its "after" memory: longer than idle upstream connections
 * live (the mock's server closes them after 5 s, Node's default keep-alive timeout).
 */
const SETTLE_MS = 6000;
/** How long after its due end a stream may still finish; later, it counts as an error. */
const GRACE_MS = 15_000;

export interface CapacityPlan {
  steps: number[];
  /** How often the top step runs (a leak shows as growth from cycle to cycle). */
  cycles: number;
  shape: BenchShape & { wordDelayMs: number };
  sdkStreams: number;
}

const MB = 1024 * 1024;
const cpuOf = (stats: ProcessStats) => stats.cpu.user + stats.cpu.system;

export async function capacityPhase(ctx: PhaseContext, plan: CapacityPlan) {
  const { signal } = ctx;
  const mockUrl = ctx.upstream.ready.mocks.capacity ?? '';
  const streamMs = plan.shape.wordDelayMs * plan.shape.chunkCount;

  // The openai SDK's own share, measured alone in a small process of its own.
  ctx.progress(`the openai SDK's own memory per stream: ${plan.sdkStreams} open SDK streams in a separate process`);
  const sdkChild = await startChild<SdkShare>({
    name: 'sdk-share',
    script: 'sdk-child.ts',
    args: [mockUrl, String(plan.sdkStreams)],
    cpu: 1,
    nodeArgs: ['--expose-gc'],
    readyTimeoutMs: 60_000,
  });
  const sdkShare = sdkChild.ready;
  await sdkChild.stop(2000);

  const service = await ctx.startService('capacity');
  // Warm-up: the code paths of a stream, then the baseline after garbage collection.
  {
    const clients = await Promise.all(range(2).map(() => openWsClient(service.wsUrl)));
    const runs = range(200).map((i) => {
      const record = newRecord();
      const run = wsStream(clients[i % 2] as Client, `warm ${i}`, record, { onFirstContent: () => run.stop() });
      return run.done;
    });
    await within(Promise.all(runs), 30_000, 'capacity warm-up', signal);
    await Promise.all(clients.map((client) => client.dispose()));
    await sleep(1000, signal);
  }
  const warm = await service.child.stats({ gc: true, reset: true });

  const runs = [...plan.steps, ...range(plan.cycles - 1).map(() => plan.steps.at(-1) ?? 0)];
  const stepSeconds = (n: number) => n / RAMP_PER_SECOND + (streamMs + SETTLE_MS + 2000) / 1000;
  ctx.progress(
    `steps ${runs.map((n) => n.toLocaleString('en')).join(' → ')} streams (${PER_CONNECTION} per graphql-ws connection, opened ${RAMP_PER_SECOND} a second), each ${plan.shape.chunkCount} chunks a second apart: about ${Math.round(runs.reduce((sum, n) => sum + stepSeconds(n), 0))} s`,
  );
  const steps: Record<string, unknown>[] = [];
  for (const [index, streams] of runs.entries()) {
    const cycle = index - plan.steps.length + 2; // 1.. for runs of the top step
    const connections = Math.ceil(streams / PER_CONNECTION);
    const clients = await Promise.all(range(connections).map(() => openWsClient(service.wsUrl, 30_000)));
    const dispose = () => Promise.all(clients.map((client) => client.dispose()));
    ctx.defer(dispose);
    const start = await service.child.stats({ reset: true });

    const records: StreamRecord[] = [];
    const done: Promise<void>[] = [];
    let open = 0;
    let peakLive = 0;
    let liveStats: ProcessStats | null = null;
    let stalls = 0;
    const watcher = setInterval(() => {
      const now = performance.now();
      for (const record of records) {
        if (record.endedAt === null && !record.stalled && now - record.lastEventAt > STALL_MS) {
          record.stalled = true;
          stalls += 1;
        }
      }
    }, 250);
    const chunksSoFar = () => records.reduce((sum, record) => sum + record.contents.length, 0);
    let hold: { cpuSeconds: number; seconds: number; chunks: number; loadCpuShare: number } | null = null;
    try {
      const began = performance.now();
      // Ramp: a batch every 20 ms, round-robin over the connections.
      for (let opened = 0; opened < streams; ) {
        const due = Math.min(streams, Math.ceil(((performance.now() - began + 20) / 1000) * RAMP_PER_SECOND));
        for (; opened < due; opened++) {
          const record = newRecord();
          records.push(record);
          open += 1;
          peakLive = Math.max(peakLive, open);
          done.push(
            wsStream(clients[opened % connections] as Client, `capacity ${index} ${opened}`, record).done.then(() => void (open -= 1)),
          );
        }
        await sleep(20, signal);
      }
      // The hold: every stream open, from the end of the ramp to the first stream's end. The
      // service's CPU over it says what a live stream costs in the steady state.
      const holdStart = {
        stats: await service.child.stats(),
        at: performance.now(),
        chunks: chunksSoFar(),
        load: process.cpuUsage(),
        upstream: await ctx.upstream.stats(),
      };
      // A stream still running this long after its due end has failed; the step does not wait for it.
      const deadline = holdStart.at + streamMs + GRACE_MS;
      const left = () => Math.max(0, deadline - performance.now());
      await within(Promise.race(done), left(), 'the first stream', signal).catch(() => undefined);
      const holdEnd = { stats: await service.child.stats(), at: performance.now(), chunks: chunksSoFar() };
      // What every open stream keeps alive (garbage collected first; a pause of a few hundred ms
      // at most, one late sample for the event-loop histogram).
      liveStats = await service.child.stats({ gc: true });
      // The load side: this process (the clients) and the mock upstream, which share one CPU.
      const load = process.cpuUsage(holdStart.load);
      const upstreamMicros = cpuOf(await ctx.upstream.stats()) - cpuOf(holdStart.upstream);
      hold = {
        cpuSeconds: round((cpuOf(holdEnd.stats) - cpuOf(holdStart.stats)) / 1e6, 3),
        seconds: round((holdEnd.at - holdStart.at) / 1000, 3),
        chunks: holdEnd.chunks - holdStart.chunks,
        // Near a whole core, the load side, not the service, sets the pace.
        loadCpuShare: round((load.user + load.system + upstreamMicros) / 1000 / (holdEnd.at - holdStart.at), 3),
      };
      // Streams still running at the deadline count as errors (verify() says so); the step goes on.
      await within(Promise.all(done), left(), `${streams} live streams`, signal).catch((error: unknown) => {
        if (signal.aborted) throw error;
      });
    } finally {
      clearInterval(watcher);
    }
    const during = await service.child.stats({ reset: true });
    await dispose();
    await sleep(SETTLE_MS, signal);
    const operations = await service.child.request<number>('operations');
    const after = await service.child.stats({ gc: true, reset: true });

    const problems = records.map((record) => verify(record, plan.shape)).filter((problem): problem is string => problem !== null);
    const perStream = (during.peakRss - warm.memory.rss) / streams;
    const recovered = (after.memory.rss - warm.memory.rss) / warm.memory.rss;
    steps.push({
      streams,
      cycle: cycle >= 1 ? cycle : null,
      connections,
      peakLive,
      errors: problems.length,
      firstErrors: [...new Set(problems)].slice(0, 3),
      stalls,
      eventLoopP99Ms: round(during.eventLoop.p99, 2),
      eventLoopMaxMs: round(during.eventLoop.max, 2),
      peakRssMB: round(during.peakRss / MB, 1),
      liveHeapPerStreamKB: liveStats && round((liveStats.memory.heapUsed - warm.memory.heapUsed) / streams / 1024, 1),
      liveRssPerStreamKB: liveStats && round((liveStats.memory.rss - warm.memory.rss) / streams / 1024, 1),
      afterRssMB: round(after.memory.rss / MB, 1),
      afterHeapUsedMB: round(after.memory.heapUsed / MB, 1),
      afterHeapTotalMB: round(after.memory.heapTotal / MB, 1),
      afterExternalMB: round((after.memory.external + after.memory.arrayBuffers) / MB, 1),
      rssPerStreamKB: round(perStream / 1024, 1),
      afterVsWarm: round(recovered, 4),
      operationsLeft: operations,
      cpuSeconds: round((cpuOf(during) - cpuOf(start)) / 1e6, 2),
      hold: hold && {
        ...hold,
        cpuShare: round(hold.cpuSeconds / hold.seconds, 3),
        cpuMicrosPerChunk: hold.chunks ? round((hold.cpuSeconds * 1e6) / hold.chunks, 1) : null,
      },
    });
    ctx.progress(
      `  ${streams.toLocaleString('en')} streams${cycle >= 1 ? ` (cycle ${cycle})` : ''}: ${problems.length} errors, ${stalls} stalls, loop delay p99 ${during.eventLoop.p99.toFixed(1)} ms, ${(perStream / 1024).toFixed(1)} KB/stream, after ${(recovered * 100).toFixed(1)} % vs warm; service ${(((hold?.cpuSeconds ?? 0) / (hold?.seconds || 1)) * 100).toFixed(0)} %, load side ${((hold?.loadCpuShare ?? 0) * 100).toFixed(0)} % of a core`,
    );
  }
  await service.child.stop();
  return figures(ctx, warm, steps, sdkShare, plan);
}

function figures(ctx: PhaseContext, warm: ProcessStats, steps: Record<string, unknown>[], sdkShare: SdkShare, plan: CapacityPlan) {
  const top = plan.steps.at(-1) ?? 0;
  const topRuns = steps.filter((step) => step.streams === top);
  const worst = (key: string) => Math.max(...topRuns.map((step) => step[key] as number));
  const errors = worst('errors');
  const stalls = worst('stalls');
  const sdkKB = sdkShare.rssPerStream / 1024;
  const holds = topRuns.map((step) => step.hold as { cpuMicrosPerChunk: number | null; loadCpuShare: number; cpuShare: number } | null);
  const loadShare = Math.max(...holds.map((hold) => hold?.loadCpuShare ?? 0));
  // The load side (the clients and the mock upstream share one CPU) near a whole core: the
  // stalls and the CPU per chunk would be its, not the service's.
  const saturated = loadShare >= 0.9;
  const loadNote = `the load side (the clients and the mock upstream, one CPU) at ${(loadShare * 100).toFixed(0)} % of its core`;
  ctx.figure({
    label: `Capacity ${top.toLocaleString('en')} live streams: errors / stalls`,
    unit: '',
    chatql: `${errors} / ${stalls}`,
    target: '0 / 0',
    pass: errors === 0 && stalls === 0 ? true : saturated && errors === 0 ? null : false,
    note: `worst of ${topRuns.length} cycles; ${loadNote}${saturated && stalls > 0 ? ': it could not keep up, so the stalls may be its' : ''}`,
  });
  const perStream = worst('rssPerStreamKB');
  const heap = worst('liveHeapPerStreamKB');
  ctx.figure({
    label: `Capacity: RSS per stream at ${top.toLocaleString('en')}`,
    unit: 'KB',
    chatql: perStream,
    target: '≤ 50 KB',
    pass: perStream <= 50,
    note: `openai SDK streams alone: ${sdkKB.toFixed(1)} KB (${((sdkKB / perStream) * 100).toFixed(0)} %); live V8 heap a stream: ${heap.toFixed(1)} KB (SDK alone ${(sdkShare.heapPerStream / 1024).toFixed(1)} KB)`,
  });
  const loopP99 = worst('eventLoopP99Ms');
  ctx.figure({
    label: `Capacity: event-loop delay p99 at ${top.toLocaleString('en')}`,
    unit: 'ms',
    chatql: loopP99,
    target: '< 100 ms',
    pass: loopP99 < 100,
  });
  // CPU per paced chunk over the hold (every stream open, a chunk a second each), unless the load
  // clients were the limit: then the figure would measure them, and it is not reported.
  const perChunk = Math.max(...holds.map((hold) => hold?.cpuMicrosPerChunk ?? Number.NaN));
  ctx.figure({
    label: `Capacity: service CPU per paced chunk at ${top.toLocaleString('en')}`,
    unit: 'µs',
    chatql: saturated ? 'not measured' : perChunk,
    target: '≤ 60 µs',
    pass: saturated ? null : perChunk <= 60,
    note: saturated
      ? `${loadNote}: it, not the service, set the pace`
      : `service ${(Math.max(...holds.map((hold) => hold?.cpuShare ?? 0)) * 100).toFixed(0)} % of its core; the load side (clients and mock upstream) ${(loadShare * 100).toFixed(0)} % of its`,
  });
  for (const step of steps) {
    if (step.streams === top) continue;
    ctx.figure({
      label: `Capacity ${(step.streams as number).toLocaleString('en')}: errors / stalls, KB/stream`,
      unit: '',
      chatql: `${step.errors} / ${step.stalls}, ${step.rssPerStreamKB} KB`,
      pass: null,
      note: `loop delay p99 ${step.eventLoopP99Ms} ms`,
    });
  }
  // After each cycle: the live heap (after garbage collection) back within 10 % of warm, and no
  // growth from cycle to cycle. The resident size is reported only: the allocator keeps the native
  // memory of thousands of sockets and buffers for reuse.
  const warmHeapMB = warm.memory.heapUsed / MB;
  for (const step of topRuns) {
    const heapGrowth = (step.afterHeapUsedMB as number) / warmHeapMB - 1;
    ctx.figure({
      label: `Capacity: live heap after cycle ${step.cycle} vs warm`,
      unit: '%',
      chatql: heapGrowth * 100,
      target: '≤ 10 %',
      pass: heapGrowth <= 0.1,
      note: `heap ${step.afterHeapUsedMB} vs ${round(warmHeapMB, 1)} MB; RSS ${step.afterRssMB} MB after vs ${round(warm.memory.rss / MB, 1)} MB warm (${round((step.afterVsWarm as number) * 100, 1)} %, peak ${step.peakRssMB} MB)`,
    });
  }
  if (topRuns.length > 1) {
    const first = topRuns[0]?.afterHeapUsedMB as number;
    const last = topRuns.at(-1)?.afterHeapUsedMB as number;
    const growth = last / first - 1;
    ctx.figure({
      label: `Capacity: live heap growth, cycle 1 → ${topRuns.length}`,
      unit: '%',
      chatql: growth * 100,
      target: '≤ 5 %',
      pass: growth <= 0.05,
      note: `${first} → ${last} MB`,
    });
  }
  return {
    plan: {
      ...plan,
      rampPerSecond: RAMP_PER_SECOND,
      perConnection: PER_CONNECTION,
      stallMs: STALL_MS,
      settleMs: SETTLE_MS,
      graceMs: GRACE_MS,
    },
    sdkShare: { ...sdkShare, rssPerStreamKB: round(sdkKB, 2) },
    warm: {
      rssMB: round(warm.memory.rss / MB, 1),
      heapUsedMB: round(warm.memory.heapUsed / MB, 1),
      heapTotalMB: round(warm.memory.heapTotal / MB, 1),
      externalMB: round((warm.memory.external + warm.memory.arrayBuffers) / MB, 1),
    },
    steps,
  };
}
