/**
 * The mutation against a direct SDK call: latency at concurrency 1 (with the bare HTTP round trip
 * as the floor), closed-loop throughput and p99 by concurrency, one open-loop run at a fixed
 * arrival rate, and the service's CPU time per request.
 */
import { performance } from 'node:perf_hooks';

import { chatqlInput, MODEL, MUTATION_DOCUMENT, sdkClient } from '../lib/clients.js';
import { type PhaseContext, range, rotate, throwIfAborted } from '../lib/phase.js';
import { median, round, rounded, summarize } from '../lib/stats.js';

type Call = () => Promise<void>;
type Side = 'bare' | 'direct' | 'chatql';

const PROMPT = 'Summarise the benchmark in one paragraph.';
const HEADERS = { 'content-type': 'application/json', accept: 'application/json' };

interface LoopResult {
  latencies: number[];
  errors: number;
  elapsedMs: number;
}

/** `concurrency` workers, each sending its next request when the last one is answered. */
async function closedLoop(call: Call, concurrency: number, durationMs: number, signal: AbortSignal): Promise<LoopResult> {
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + durationMs;
  const worker = async () => {
    while (performance.now() < end && !signal.aborted) {
      const sent = performance.now();
      try {
        await call();
        latencies.push(performance.now() - sent);
      } catch {
        // A failing side must not spin: an error costs as much time as a slow answer.
        if (++errors > 1000) throw new Error('more than 1000 failed requests');
      }
    }
  };
  await Promise.all(range(concurrency).map(worker));
  throwIfAborted(signal);
  return { latencies, errors, elapsedMs: performance.now() - start };
}

/**
 * Requests sent at fixed times, scheduled in advance, whatever happened to earlier ones; each
 * latency counts from its scheduled time, so a stalled server cannot hide its queue (no
 * coordinated omission).
 */
function openLoop(call: Call, ratePerSecond: number, durationMs: number): Promise<LoopResult & { dropped: number }> {
  const interval = 1000 / ratePerSecond;
  const total = Math.floor(durationMs / interval);
  const start = performance.now() + 5;
  const latencies: number[] = [];
  let errors = 0;
  let dropped = 0;
  let launched = 0;
  let inflight = 0;
  return new Promise((resolve) => {
    const finish = () => resolve({ latencies, errors, dropped, elapsedMs: performance.now() - start });
    const tick = () => {
      const now = performance.now();
      while (launched < total && start + launched * interval <= now) {
        const scheduled = start + launched * interval;
        launched += 1;
        if (inflight >= 4096) {
          dropped += 1;
          continue;
        }
        inflight += 1;
        call()
          .then(
            () => void latencies.push(performance.now() - scheduled),
            () => void (errors += 1),
          )
          .finally(() => {
            inflight -= 1;
            if (launched === total && inflight === 0) finish();
          });
      }
      if (launched < total) setTimeout(tick, Math.max(0, start + launched * interval - performance.now()));
      else if (inflight === 0) finish();
    };
    tick();
  });
}

export async function mutationPhase(ctx: PhaseContext) {
  const { quick, signal } = ctx;
  const service = await ctx.startService('burst');
  const sdk = sdkClient(ctx.upstream.ready.mocks.burst ?? '');
  const body = JSON.stringify({ query: MUTATION_DOCUMENT, variables: chatqlInput(PROMPT) });
  const chatqlOnce = () => fetch(service.httpUrl, { method: 'POST', headers: HEADERS, body });

  // The bare server answers ChatQL's own answer: the same bytes both ways, minus ChatQL.
  const sample = await (await chatqlOnce()).text();
  if (!sample.includes('"__typename":"ChatCompletion"')) throw new Error(`unexpected mutation answer: ${sample.slice(0, 200)}`);
  await ctx.upstream.request('bareBody', { body: sample });

  const calls: Record<Side, Call> = {
    bare: async () => {
      await (await fetch(ctx.upstream.ready.bareUrl, { method: 'POST', headers: HEADERS, body })).json();
    },
    direct: async () => {
      const completion = await sdk.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: PROMPT }] });
      if (!completion.choices[0]?.message.content) throw new Error('no content');
    },
    chatql: async () => {
      const answer = (await (await chatqlOnce()).json()) as { data?: { chatCompletion?: { __typename?: string } } };
      if (answer.data?.chatCompletion?.__typename !== 'ChatCompletion') throw new Error('not a ChatCompletion');
    },
  };

  // --- Latency at concurrency 1, interleaved in short trials.
  const trials = quick ? 6 : 20;
  const perTrial = quick ? 100 : 200;
  const warmup = quick ? 200 : 500;
  ctx.progress(`latency at concurrency 1: ${warmup} warm-up, then ${trials} trials × ${perTrial} requests each of bare, direct, ChatQL`);
  for (const side of ['bare', 'direct', 'chatql'] as const) for (let i = 0; i < warmup; i++) await calls[side]();
  const samples: Record<Side, number[]> = { bare: [], direct: [], chatql: [] };
  const trialP50: Record<Side, number[]> = { bare: [], direct: [], chatql: [] };
  const trialP99: Record<Side, number[]> = { bare: [], direct: [], chatql: [] };
  let latencyErrors = 0;
  for (let trial = 0; trial < trials; trial++) {
    throwIfAborted(signal);
    for (const side of rotate(['bare', 'direct', 'chatql'] as const, trial)) {
      const these: number[] = [];
      for (let i = 0; i < perTrial; i++) {
        const sent = performance.now();
        try {
          await calls[side]();
          these.push(performance.now() - sent);
        } catch {
          latencyErrors += 1;
        }
      }
      samples[side].push(...these);
      const summary = summarize(these);
      trialP50[side].push(summary.p50);
      trialP99[side].push(summary.p99);
    }
  }
  const latency = { bare: summarize(samples.bare), direct: summarize(samples.direct), chatql: summarize(samples.chatql) };
  const addedP50 = median(trialP50.chatql.map((value, i) => value - (trialP50.direct[i] ?? Number.NaN)));
  const ownCost = median(trialP50.chatql.map((value, i) => value - (trialP50.direct[i] ?? Number.NaN) - (trialP50.bare[i] ?? Number.NaN)));
  const addedP99 = latency.chatql.p99 - latency.direct.p99;
  // Per trial, a p99 is the 2nd-largest of 200 samples: noisy alone, but their median shrugs off a burst of host noise.
  const addedP99PerTrial = median(trialP99.chatql.map((value, i) => value - (trialP99.direct[i] ?? Number.NaN)));
  ctx.figure({
    label: 'Mutation latency p50, c=1',
    unit: 'ms',
    direct: latency.direct.p50,
    chatql: latency.chatql.p50,
    delta: addedP50,
    deltaKind: 'diff',
    bare: latency.bare.p50,
    pass: null,
    note: 'added: median of per-trial differences',
  });
  ctx.figure({
    label: "ChatQL's own cost p50 (added − bare)",
    unit: 'ms',
    chatql: ownCost,
    bare: latency.bare.p50,
    target: '≤ 0.3 ms',
    pass: ownCost <= 0.3,
  });
  ctx.figure({
    label: 'Mutation latency p99, c=1',
    unit: 'ms',
    direct: latency.direct.p99,
    chatql: latency.chatql.p99,
    delta: addedP99,
    deltaKind: 'diff',
    bare: latency.bare.p99,
    target: '≤ 4 ms added',
    pass: addedP99 <= 4,
    note: `median of per-trial p99 differences: ${addedP99PerTrial >= 0 ? '+' : ''}${addedP99PerTrial.toFixed(3)} ms`,
  });

  // --- Closed loop by concurrency, with the service's CPU time per request.
  const concurrencies = [1, 8, 32, 128];
  const loopTrials = quick ? 2 : 4;
  const loopMs = quick ? 600 : 1500;
  ctx.progress(
    `closed loop at concurrency ${concurrencies.join(', ')}: ${loopTrials} × (${loopMs} ms direct, ${loopMs} ms ChatQL) each, about ${Math.round((concurrencies.length * loopTrials * 2 * loopMs) / 1000 + 3)} s`,
  );
  const closed: Record<string, unknown>[] = [];
  let cpuMicros = 0;
  let cpuRequests = 0;
  const rateAt: Record<number, { direct: number; chatql: number }> = {};
  for (const concurrency of concurrencies) {
    for (const side of ['direct', 'chatql'] as const) await closedLoop(calls[side], concurrency, 300, signal);
    const pooled = { direct: [] as number[], chatql: [] as number[] };
    const rates = { direct: [] as number[], chatql: [] as number[] };
    let errors = 0;
    let cpuHere = 0;
    let chatqlMs = 0;
    for (let trial = 0; trial < loopTrials; trial++) {
      for (const side of rotate(['direct', 'chatql'] as const, trial)) {
        const before = side === 'chatql' ? await service.child.stats() : null;
        const result = await closedLoop(calls[side], concurrency, loopMs, signal);
        if (before) {
          const after = await service.child.stats();
          const micros = after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system;
          cpuMicros += micros;
          cpuHere += micros;
          cpuRequests += result.latencies.length;
          chatqlMs += result.elapsedMs;
        }
        pooled[side].push(...result.latencies);
        rates[side].push((result.latencies.length / result.elapsedMs) * 1000);
        errors += result.errors;
      }
    }
    const direct = summarize(pooled.direct);
    const chatql = summarize(pooled.chatql);
    const rate = { direct: median(rates.direct), chatql: median(rates.chatql) };
    rateAt[concurrency] = rate;
    const ratio = median(rates.chatql.map((value, i) => value / (rates.direct[i] ?? Number.NaN)));
    const target = concurrency === 32 ? { target: '≥ 30 % of direct', pass: ratio >= 0.3 } : { pass: null };
    const cpuShare = cpuHere / 1000 / chatqlMs;
    ctx.figure({
      label: `Mutation throughput, c=${concurrency}`,
      unit: 'req/s',
      direct: rate.direct,
      chatql: rate.chatql,
      delta: ratio,
      deltaKind: 'ratio',
      ...target,
      note: `service CPU ${(cpuShare * 100).toFixed(0)} % of its core${errors ? `; ${errors} errors` : ''}`,
    });
    ctx.figure({
      label: `Mutation p99, c=${concurrency} (closed loop)`,
      unit: 'ms',
      direct: direct.p99,
      chatql: chatql.p99,
      delta: chatql.p99 - direct.p99,
      deltaKind: 'diff',
      pass: null,
    });
    closed.push({
      concurrency,
      rate,
      ratio: round(ratio),
      direct: rounded(direct),
      chatql: rounded(chatql),
      errors,
      serviceCpuMsPerRequest: round(cpuHere / 1000 / Math.max(1, pooled.chatql.length), 4),
      serviceCpuShare: round(cpuHere / 1000 / chatqlMs, 3),
    });
  }
  const cpuMsPerRequest = cpuMicros / 1000 / Math.max(1, cpuRequests);
  ctx.figure({
    label: 'Service CPU per mutation (closed loop)',
    unit: 'ms',
    chatql: cpuMsPerRequest,
    pass: null,
    note: 'user + system, all concurrencies',
  });

  // --- Open loop at a fixed rate both sides can serve (an overloaded side's p99 only says how long the run was).
  const c8 = rateAt[8];
  const rate = Math.round(Math.min(2000, 0.7 * Math.min(c8?.direct ?? 285, c8?.chatql ?? 285)));
  const openTrials = quick ? 1 : 3;
  const openMs = quick ? 1500 : 3000;
  ctx.progress(
    `open loop at ${rate} req/s (70 % of the slower side's closed-loop rate at c=8): ${openTrials} × (${openMs} ms direct, ${openMs} ms ChatQL)`,
  );
  const open = { direct: [] as number[], chatql: [] as number[] };
  let openErrors = 0;
  let openDropped = 0;
  for (let trial = 0; trial < openTrials; trial++) {
    for (const side of rotate(['direct', 'chatql'] as const, trial)) {
      throwIfAborted(signal);
      const result = await openLoop(calls[side], rate, openMs);
      open[side].push(...result.latencies);
      openErrors += result.errors;
      openDropped += result.dropped;
    }
  }
  const openDirect = summarize(open.direct);
  const openChatql = summarize(open.chatql);
  ctx.figure({
    label: `Mutation p99, open loop ${rate} req/s`,
    unit: 'ms',
    direct: openDirect.p99,
    chatql: openChatql.p99,
    delta: openChatql.p99 - openDirect.p99,
    deltaKind: 'diff',
    pass: null,
    note: `p50 ${openDirect.p50.toFixed(2)} → ${openChatql.p50.toFixed(2)} ms${openErrors + openDropped ? `; ${openErrors} errors, ${openDropped} dropped` : ''}`,
  });

  await service.child.stop();
  return {
    latency: {
      trials,
      perTrial,
      errors: latencyErrors,
      bare: rounded(latency.bare, 4),
      direct: rounded(latency.direct, 4),
      chatql: rounded(latency.chatql, 4),
      addedP50: round(addedP50, 4),
      addedP99: round(addedP99, 4),
      addedP99MedianPerTrial: round(addedP99PerTrial, 4),
      ownCostP50: round(ownCost, 4),
    },
    closedLoop: closed,
    serviceCpuMsPerRequest: round(cpuMsPerRequest, 4),
    openLoop: {
      ratePerSecond: rate,
      trials: openTrials,
      durationMs: openMs,
      direct: rounded(openDirect),
      chatql: rounded(openChatql),
      errors: openErrors,
      dropped: openDropped,
    },
  };
}
