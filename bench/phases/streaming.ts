/**
 * The subscription against a direct SDK stream, over graphql-ws and over SSE: added time to first
 * token and gap between chunks against a paced upstream (one stream at a time), then chunks per
 * second with 50 concurrent burst streams, every chunk checked.
 */
import type { Client } from 'graphql-ws';

import type { BenchShape } from '../../src/mock-upstream/bench.js';
import {
  directStream,
  newRecord,
  openWsClient,
  type Running,
  sdkClient,
  sseStream,
  type StreamRecord,
  verify,
  wsStream,
} from '../lib/clients.js';
import { type PhaseContext, range, rotate, throwIfAborted, within } from '../lib/phase.js';
import { median, round, rounded, summarize } from '../lib/stats.js';

type Side = 'direct' | 'ws' | 'sse';
const SIDES: readonly Side[] = ['direct', 'ws', 'sse'];
const NAMES: Record<Exclude<Side, 'direct'>, string> = { ws: 'graphql-ws', sse: 'SSE' };

export interface StreamingShapes {
  paced: BenchShape & { firstTokenDelayMs: number; wordDelayMs: number };
  burst: BenchShape;
}

function gapsOf(record: StreamRecord): number[] {
  const times = record.contentTimes ?? [];
  return times.slice(1).map((time, i) => time - (times[i] ?? time));
}

export async function streamingPhase(ctx: PhaseContext, shapes: StreamingShapes) {
  const { quick, signal } = ctx;

  // --- Paced: time to first token and gaps, one stream at a time.
  const paced = await ctx.startService('paced');
  const pacedSdk = sdkClient(ctx.upstream.ready.mocks.paced ?? '');
  const ws = await openWsClient(paced.wsUrl);
  ctx.defer(() => ws.dispose());
  const start: Record<Side, (record: StreamRecord, prompt: string) => Running> = {
    direct: (record, prompt) => directStream(pacedSdk, prompt, record),
    ws: (record, prompt) => wsStream(ws, prompt, record),
    sse: (record, prompt) => sseStream(paced.httpUrl, prompt, record),
  };
  const streamMs = shapes.paced.firstTokenDelayMs + shapes.paced.wordDelayMs * (shapes.paced.chunkCount - 1);
  const trials = quick ? 3 : 8;
  const perTrial = quick ? 2 : 4;
  ctx.progress(
    `paced streams (first token ${shapes.paced.firstTokenDelayMs} ms, then a chunk every ${shapes.paced.wordDelayMs} ms): ${trials} trials × ${perTrial} streams each of direct, graphql-ws, SSE, one at a time, about ${Math.round((trials * perTrial * 3 * streamMs) / 1000)} s`,
  );
  const ttft: Record<Side, number[]> = { direct: [], ws: [], sse: [] };
  const gaps: Record<Side, number[]> = { direct: [], ws: [], sse: [] };
  const trialTtft: Record<Side, number[]> = { direct: [], ws: [], sse: [] };
  const trialGap: Record<Side, number[]> = { direct: [], ws: [], sse: [] };
  const pacedProblems: string[] = [];
  const runOne = async (side: Side, n: number) => {
    const record = newRecord(true);
    await within(start[side](record, `paced ${side} ${n}`).done, streamMs + 10_000, `a paced ${side} stream`, signal);
    const problem = verify(record, shapes.paced);
    if (problem) pacedProblems.push(`${side}: ${problem}`);
    return record;
  };
  for (const side of SIDES) for (let i = 0; i < 2; i++) await runOne(side, -1); // warm-up
  for (let trial = 0; trial < trials; trial++) {
    for (const side of rotate(SIDES, trial)) {
      throwIfAborted(signal);
      const ttfts: number[] = [];
      const these: number[] = [];
      for (let i = 0; i < perTrial; i++) {
        const record = await runOne(side, trial * perTrial + i);
        if (record.firstContentAt !== null) ttfts.push(record.firstContentAt - record.startedAt);
        these.push(...gapsOf(record));
      }
      ttft[side].push(...ttfts);
      gaps[side].push(...these);
      trialTtft[side].push(median(ttfts));
      trialGap[side].push(median(these));
    }
  }
  await ws.dispose();
  await paced.child.stop();
  const addedOf = (per: Record<Side, number[]>, side: Side) => median(per[side].map((value, i) => value - (per.direct[i] ?? Number.NaN)));
  const ttftSummary = { direct: summarize(ttft.direct), ws: summarize(ttft.ws), sse: summarize(ttft.sse) };
  const gapSummary = { direct: summarize(gaps.direct), ws: summarize(gaps.ws), sse: summarize(gaps.sse) };
  for (const side of ['ws', 'sse'] as const) {
    const added = addedOf(trialTtft, side);
    const target = side === 'ws' ? { target: '≤ 1.0 ms added', pass: added <= 1.0 } : { pass: null };
    ctx.figure({
      label: `Time to first token p50, ${NAMES[side]}${side === 'ws' ? ' (open connection)' : ''}`,
      unit: 'ms',
      direct: ttftSummary.direct.p50,
      chatql: ttftSummary[side].p50,
      delta: added,
      deltaKind: 'diff',
      ...target,
    });
  }
  for (const side of ['ws', 'sse'] as const) {
    const added = addedOf(trialGap, side);
    ctx.figure({
      label: `Gap between chunks p50, ${NAMES[side]}`,
      unit: 'ms',
      direct: gapSummary.direct.p50,
      chatql: gapSummary[side].p50,
      delta: added,
      deltaKind: 'diff',
      target: '≤ 0.2 ms added',
      pass: added <= 0.2,
    });
    ctx.figure({
      label: `Gap between chunks p99, ${NAMES[side]}`,
      unit: 'ms',
      direct: gapSummary.direct.p99,
      chatql: gapSummary[side].p99,
      delta: gapSummary[side].p99 - gapSummary.direct.p99,
      deltaKind: 'diff',
      pass: null,
    });
  }
  if (pacedProblems.length)
    ctx.figure({
      label: 'Paced streams intact',
      unit: '',
      chatql: `${pacedProblems.length} broken`,
      target: 'all',
      pass: false,
      note: pacedProblems[0],
    });

  // --- Burst: chunks per second with 50 concurrent streams.
  const burst = await ctx.startService('burst');
  const burstSdk = sdkClient(ctx.upstream.ready.mocks.burst ?? '');
  const STREAMS = 50;
  // One connection per stream, as 50 users would have; the SDK pools 50 connections likewise.
  const clients: Client[] = await Promise.all(range(STREAMS).map(() => openWsClient(burst.wsUrl)));
  ctx.defer(() => Promise.all(clients.map((client) => client.dispose())));
  const startBurst: Record<Side, (record: StreamRecord, prompt: string, i: number) => Running> = {
    direct: (record, prompt) => directStream(burstSdk, prompt, record),
    ws: (record, prompt, i) => wsStream(clients[i] as Client, prompt, record),
    sse: (record, prompt) => sseStream(burst.httpUrl, prompt, record),
  };
  const burstTrials = quick ? 2 : 6;
  ctx.progress(
    `burst: ${burstTrials} trials × ${STREAMS} concurrent streams of ${shapes.burst.chunkCount} chunks each of direct, graphql-ws, SSE`,
  );
  const rates: Record<Side, number[]> = { direct: [], ws: [], sse: [] };
  const broken: Record<Side, string[]> = { direct: [], ws: [], sse: [] };
  let streamsChecked = 0;
  // The service's CPU over each ChatQL round: near 100 % of its core means the service is the limit.
  const serviceCpu: Record<'ws' | 'sse', { share: number[]; microsPerChunk: number[] }> = {
    ws: { share: [], microsPerChunk: [] },
    sse: { share: [], microsPerChunk: [] },
  };
  // The openai SDK's own CPU for reading the same chunks: this process's CPU over a direct round
  // (nothing else runs in it then; the mock upstream is a child of its own).
  const sdkMicrosPerChunk: number[] = [];
  const round50 = async (side: Side, trial: number) => {
    const records = range(STREAMS).map(() => newRecord());
    const before = side === 'direct' ? null : await burst.child.stats();
    const ownBefore = process.cpuUsage();
    const began = performance.now();
    const running = records.map((record, i) => startBurst[side](record, `burst ${side} ${trial} ${i}`, i));
    await within(Promise.all(running.map((run) => run.done)), 60_000, `${STREAMS} burst ${side} streams`, signal);
    const ended = Math.max(...records.map((record) => record.endedAt ?? performance.now()));
    const chunks = records.reduce((sum, record) => sum + record.contents.length, 0);
    if (side === 'direct') {
      const own = process.cpuUsage(ownBefore);
      sdkMicrosPerChunk.push((own.user + own.system) / Math.max(1, chunks));
    }
    if (before && side !== 'direct') {
      const after = await burst.child.stats();
      const micros = after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system;
      serviceCpu[side].share.push(micros / 1000 / (ended - began));
      serviceCpu[side].microsPerChunk.push(micros / Math.max(1, chunks));
    }
    return { rate: (chunks / (ended - began)) * 1000, records };
  };
  for (const side of SIDES) await round50(side, -1); // warm-up
  for (const side of ['ws', 'sse'] as const) serviceCpu[side] = { share: [], microsPerChunk: [] };
  sdkMicrosPerChunk.length = 0;
  for (let trial = 0; trial < burstTrials; trial++) {
    for (const side of rotate(SIDES, trial)) {
      throwIfAborted(signal);
      const { rate, records } = await round50(side, trial);
      rates[side].push(rate);
      for (const record of records) {
        const problem = verify(record, shapes.burst);
        if (problem) broken[side].push(problem);
      }
      streamsChecked += records.length;
    }
  }
  await burst.child.stop();
  for (const side of ['ws', 'sse'] as const) {
    const ratio = median(rates[side].map((value, i) => value / (rates.direct[i] ?? Number.NaN)));
    const cpu = serviceCpu[side];
    ctx.figure({
      label: `Chunks/s, ${STREAMS} burst streams, ${NAMES[side]}`,
      unit: 'chunks/s',
      direct: median(rates.direct),
      chatql: median(rates[side]),
      delta: ratio,
      deltaKind: 'ratio',
      target: '≥ 50 % of direct',
      pass: ratio >= 0.5,
      note: `service CPU ${(median(cpu.share) * 100).toFixed(0)} % of its core, ${median(cpu.microsPerChunk).toFixed(0)} µs a chunk`,
    });
  }
  // CPU per chunk: ChatQL relaying it (its own process) against the openai SDK reading it.
  const sdkMicros = median(sdkMicrosPerChunk);
  for (const side of ['ws', 'sse'] as const) {
    const micros = median(serviceCpu[side].microsPerChunk);
    ctx.figure({
      label: `Service CPU per relayed chunk, ${STREAMS} burst streams, ${NAMES[side]}`,
      unit: 'µs',
      direct: sdkMicros,
      chatql: micros,
      delta: micros - sdkMicros,
      deltaKind: 'diff',
      target: '≤ 15 µs and ≤ the SDK',
      pass: micros <= 15 && micros <= sdkMicros,
      note: `direct: the openai SDK alone reading the same chunks, ${sdkMicros.toFixed(1)} µs a chunk`,
    });
  }
  const brokenCount = SIDES.reduce((sum, side) => sum + broken[side].length, 0);
  ctx.figure({
    label: 'Burst streams intact (order, usage once)',
    unit: '',
    chatql: `${streamsChecked - brokenCount}/${streamsChecked}`,
    target: 'all',
    pass: brokenCount === 0,
    ...(brokenCount
      ? {
          note: SIDES.map((side) => (broken[side][0] ? `${side}: ${broken[side][0]}` : ''))
            .filter(Boolean)
            .join('; '),
        }
      : {}),
  });

  return {
    paced: {
      shape: shapes.paced,
      trials,
      perTrial,
      ttft: { direct: rounded(ttftSummary.direct, 4), ws: rounded(ttftSummary.ws, 4), sse: rounded(ttftSummary.sse, 4) },
      addedTtftP50: { ws: round(addedOf(trialTtft, 'ws'), 4), sse: round(addedOf(trialTtft, 'sse'), 4) },
      gaps: { direct: rounded(gapSummary.direct, 4), ws: rounded(gapSummary.ws, 4), sse: rounded(gapSummary.sse, 4) },
      addedGapP50: { ws: round(addedOf(trialGap, 'ws'), 4), sse: round(addedOf(trialGap, 'sse'), 4) },
      problems: pacedProblems.slice(0, 10),
    },
    burst: {
      shape: shapes.burst,
      streams: STREAMS,
      trials: burstTrials,
      chunksPerSecond: {
        direct: rates.direct.map((v) => round(v, 0)),
        ws: rates.ws.map((v) => round(v, 0)),
        sse: rates.sse.map((v) => round(v, 0)),
      },
      broken: { direct: broken.direct.length, ws: broken.ws.length, sse: broken.sse.length },
      sdkMicrosPerChunk: round(sdkMicros, 1),
      serviceCpu: {
        ws: { share: round(median(serviceCpu.ws.share), 3), microsPerChunk: round(median(serviceCpu.ws.microsPerChunk), 1) },
        sse: { share: round(median(serviceCpu.sse.share), 3), microsPerChunk: round(median(serviceCpu.sse.microsPerChunk), 1) },
      },
      firstProblems: SIDES.flatMap((side) => broken[side].slice(0, 3).map((problem) => `${side}: ${problem}`)),
    },
  };
}
