/**
 * Streams dropped by their clients mid-answer (after the first content chunk): how soon the
 * service closes each one's upstream request. The mock records when each request closed; the
 * two processes' clocks are compared over IPC, so that the delay is measured across them.
 */
import type { Client } from 'graphql-ws';

import { newRecord, openWsClient, type Running, sseStream, type StreamRecord, wsStream } from '../lib/clients.js';
import { type PhaseContext, range, sleep, within } from '../lib/phase.js';
import { median, round, rounded, summarize } from '../lib/stats.js';
import type { UpstreamRecord } from '../upstream-child.js';

const WITHIN_MS = 100;
/** Streams started per second. */
const START_PER_SECOND = 100;

const absoluteNow = () => performance.timeOrigin + performance.now();

/** The upstream process's clock minus ours, from the fastest of a few IPC round trips. */
async function clockOffset(ctx: PhaseContext): Promise<{ offsetMs: number; roundTripMs: number }> {
  const probes: { offset: number; roundTrip: number }[] = [];
  for (let i = 0; i < 15; i++) {
    const sent = absoluteNow();
    const theirs = await ctx.upstream.request<number>('clock');
    const received = absoluteNow();
    probes.push({ offset: theirs - (sent + received) / 2, roundTrip: received - sent });
  }
  probes.sort((a, b) => a.roundTrip - b.roundTrip);
  const best = probes.slice(0, 5);
  return { offsetMs: median(best.map((probe) => probe.offset)), roundTripMs: best[0]?.roundTrip ?? Number.NaN };
}

export async function cancellationPhase(ctx: PhaseContext, counts: { ws: number; sse: number }) {
  const { signal } = ctx;
  const service = await ctx.startService('cancel');
  const clients = await Promise.all(range(10).map(() => openWsClient(service.wsUrl)));
  ctx.defer(() => Promise.all(clients.map((client) => client.dispose())));
  ctx.progress(
    `${counts.ws} streams over graphql-ws, then ${counts.sse} over SSE, started ${START_PER_SECOND} a second, each dropped after its first content chunk: about ${Math.round((counts.ws + counts.sse) / START_PER_SECOND + 2)} s`,
  );

  const transports = {
    ws: (i: number, prompt: string, record: StreamRecord, onFirst: () => void) =>
      wsStream(clients[i % clients.length] as Client, prompt, record, { onFirstContent: onFirst }),
    sse: (_i: number, prompt: string, record: StreamRecord, onFirst: () => void) =>
      sseStream(service.httpUrl, prompt, record, { onFirstContent: onFirst }),
  };
  const results: Record<string, unknown> = {};
  for (const transport of ['ws', 'sse'] as const) {
    await ctx.upstream.request('reset', { mock: 'cancel' });
    const dropped = new Map<string, number>();
    const problems: string[] = [];
    const runs: Promise<void>[] = [];
    // Started at a steady rate, so that each drop meets a service doing ordinary work rather than a
    // queue of this phase's own subscriptions.
    const began = performance.now();
    for (let i = 0; i < counts[transport]; i++) {
      const due = began + (i * 1000) / START_PER_SECOND;
      if (due > performance.now()) await sleep(due - performance.now(), signal);
      const prompt = `cancel ${transport} ${i}`;
      const record = newRecord();
      // The drop happens inside the first chunk's callback: the moment the client has seen text.
      const run: Running = transports[transport](i, prompt, record, () => {
        dropped.set(prompt, absoluteNow());
        run.stop();
      });
      runs.push(
        run.done.then(() => {
          if (!dropped.has(prompt)) problems.push(record.error ?? 'ended before its first content chunk');
        }),
      );
    }
    await within(Promise.all(runs), 60_000, `cancellation over ${transport}`, signal);
    await sleep(500, signal); // the last drops' upstream requests close within this, or count as late
    const clock = await clockOffset(ctx);
    const records = await ctx.upstream.request<UpstreamRecord[]>('records', { mock: 'cancel' });
    const byMarker = new Map(records.map((record) => [record.marker, record]));
    const delays: number[] = [];
    let notClosed = 0;
    for (const [prompt, droppedAt] of dropped) {
      const record = byMarker.get(prompt);
      if (!record || record.closedAt === null) {
        notClosed += 1;
        continue;
      }
      delays.push(record.closedAt - clock.offsetMs - droppedAt);
    }
    const inTime = delays.filter((delay) => delay <= WITHIN_MS).length;
    const share = dropped.size ? inTime / dropped.size : 0;
    const summary = summarize(delays);
    const name = transport === 'ws' ? 'graphql-ws' : 'SSE';
    ctx.figure({
      label: `Cancellation over ${name}: upstream closed ≤ ${WITHIN_MS} ms`,
      unit: '%',
      chatql: share * 100,
      target: '100 %',
      pass: inTime === dropped.size && dropped.size > 0 && problems.length === 0,
      note: `${inTime}/${dropped.size}; p50 ${summary.p50.toFixed(1)}, p99 ${summary.p99.toFixed(1)}, max ${summary.max.toFixed(1)} ms${notClosed ? `; ${notClosed} never closed` : ''}${problems.length ? `; ${problems.length} streams failed: ${problems[0]}` : ''}`,
    });
    results[transport] = {
      streams: counts[transport],
      startPerSecond: START_PER_SECOND,
      dropped: dropped.size,
      withinShare: round(share, 4),
      notClosed,
      failed: problems.length,
      firstProblems: problems.slice(0, 3),
      delayMs: rounded(summary, 2),
      clock: { offsetMs: round(clock.offsetMs, 3), roundTripMs: round(clock.roundTripMs, 3) },
    };
  }
  await service.child.stop();
  return results;
}
