/**
 * `npm run bench [-- --quick] [--only=mutation,streaming,capacity,cancellation,resume,workers] [--cpu-prof] [--no-build]`
 *
 * Builds the service, starts the mock upstreams and the service in child processes (pinned apart
 * with taskset where it exists), drives both sides of each comparison from this process in
 * interleaved short trials, and prints one table: each figure of ChatQL against calling the mock
 * directly with the openai SDK in the same run, next to its target. Raw results and a chart go to
 * bench/results/ (`--only` runs write their own JSON but leave latest.* alone). `--cpu-prof`
 * profiles the service children and prints where their time went; `--no-build` skips the build.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import type { Figure, PhaseContext, Service } from './lib/phase.js';
import { PhaseTimeout } from './lib/phase.js';
import { summarizeProfiles } from './lib/profile.js';
import { type Meta, type PhaseOutcome, type Results, table, writeResults } from './lib/report.js';
import { cancellationPhase } from './phases/cancellation.js';
import { capacityPhase } from './phases/capacity.js';
import { mutationPhase } from './phases/mutation.js';
import { resumePhase } from './phases/resume.js';
import { streamingPhase } from './phases/streaming.js';
import { workersPhase } from './phases/workers.js';
import { canPin, type Child, pinSelf, prepareChildren, startChild } from './processes.js';
import type { ServiceReady } from './service-child.js';
import type { MockSpec, UpstreamReady } from './upstream-child.js';

const began = performance.now();
const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const RESULTS = join(ROOT, 'bench', 'results');
const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const only = process.argv
  .find((arg) => arg.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const profileDir = args.has('--cpu-prof') ? mkdtempSync(join(tmpdir(), 'chatql-bench-profile-')) : null;
/** The whole run's budget: the issue allows 2 minutes for --quick and 15 for the full run. */
const BUDGET_MS = quick ? 110_000 : 14 * 60_000;

/** Resolves once the service at `url` reports its Redis connection up (10 s at most). */
async function redisUp(url: string): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline) {
    const body = (await fetch(`${url}/readyz`).then((response) => response.json())) as { limits?: { redis?: string } };
    if (body.limits?.redis === 'up') return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the service at ${url} did not connect to Redis within 10 s`);
}

const elapsed = () => {
  const seconds = Math.round((performance.now() - began) / 1000);
  return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
};
const say = (message: string) => console.log(`[${elapsed()}] ${message}`);

// Bench shapes. A capacity stream lasts 20 s (8 s in --quick), one chunk a second: long enough to
// outlive the ramp of its step, so that all the step's streams run together for about 10 s.
const SHAPES = {
  burst: { chunkCount: 200, chunkBytes: 16 },
  paced: { chunkCount: 20, chunkBytes: 16, firstTokenDelayMs: 10, wordDelayMs: 10 },
  capacity: { chunkCount: quick ? 8 : 20, chunkBytes: 16, wordDelayMs: 1000 },
  cancel: { chunkCount: 20, chunkBytes: 16 },
};
const MOCKS: MockSpec[] = [
  { name: 'burst', firstTokenDelayMs: 0, wordDelayMs: 0, bench: SHAPES.burst, record: false },
  {
    name: 'paced',
    firstTokenDelayMs: SHAPES.paced.firstTokenDelayMs,
    wordDelayMs: SHAPES.paced.wordDelayMs,
    bench: SHAPES.paced,
    record: false,
  },
  { name: 'capacity', firstTokenDelayMs: 1000, wordDelayMs: 1000, bench: SHAPES.capacity, record: false },
  // The next chunk comes 300 ms after the first: a service that only notices a drop then is caught.
  { name: 'cancel', firstTokenDelayMs: 20, wordDelayMs: 300, bench: SHAPES.cancel, record: true },
];

type PhaseName = 'mutation' | 'streaming' | 'capacity' | 'cancellation' | 'resume' | 'workers';
const PHASES: Array<{ name: PhaseName; budgetMs: number; run: (ctx: PhaseContext) => Promise<unknown> }> = [
  { name: 'mutation', budgetMs: quick ? 60_000 : 240_000, run: (ctx) => mutationPhase(ctx) },
  {
    name: 'streaming',
    budgetMs: quick ? 45_000 : 180_000,
    run: (ctx) => streamingPhase(ctx, { paced: SHAPES.paced, burst: SHAPES.burst }),
  },
  {
    name: 'capacity',
    budgetMs: quick ? 75_000 : 480_000,
    run: (ctx) =>
      capacityPhase(ctx, {
        steps: quick ? [500, 1000] : [1000, 4000, 7000, 10_000],
        cycles: quick ? 1 : 3,
        shape: SHAPES.capacity,
        sdkStreams: 1000,
      }),
  },
  {
    name: 'resume',
    budgetMs: quick ? 40_000 : 120_000,
    run: (ctx) => resumePhase(ctx, { burst: SHAPES.burst }),
  },
  {
    name: 'cancellation',
    budgetMs: quick ? 30_000 : 90_000,
    run: (ctx) => cancellationPhase(ctx, quick ? { ws: 200, sse: 50 } : { ws: 1000, sse: 200 }),
  },
  {
    name: 'workers',
    budgetMs: quick ? 40_000 : 90_000,
    run: (ctx) => workersPhase(ctx, { burst: SHAPES.burst }),
  },
];

function git(...gitArgs: string[]): string {
  try {
    return execFileSync('git', gitArgs, { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

function build(): void {
  say('building the service (npm run build), so that the bench runs what `npm start` runs');
  const result = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
  if (result.status !== 0) {
    console.error(result.stdout, result.stderr, result.error ?? '');
    throw new Error('npm run build failed: nothing to measure');
  }
  prepareChildren();
}

async function runPhase(
  phase: (typeof PHASES)[number],
  upstream: Child<UpstreamReady>,
  figures: Figure[],
): Promise<PhaseOutcome & { serviceLog?: { lines: number; tail: string[] } }> {
  const started = performance.now();
  const remaining = BUDGET_MS - (started - began);
  if (remaining < 5000) return { status: 'skipped', durationMs: 0, error: 'no time left in the run budget' };
  const timeoutMs = Math.min(phase.budgetMs, remaining);
  const controller = new AbortController();
  const cleanups: Array<() => unknown> = [];
  const services: Array<Child<ServiceReady>> = [];
  let serviceCount = 0;
  const ctx: PhaseContext = {
    quick,
    upstream,
    signal: controller.signal,
    defer: (cleanup) => void cleanups.push(cleanup),
    progress: (message) => say(`${phase.name}: ${message}`),
    figure: (figure) => void figures.push({ phase: phase.name, ...figure }),
    startService: async (mock, env = {}): Promise<Service> => {
      const url = upstream.ready.mocks[mock];
      if (!url) throw new Error(`no mock named ${mock}`);
      const name = `service-${phase.name}-${++serviceCount}`;
      const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
      const child = await startChild<ServiceReady>({
        name,
        script: 'service-child.ts',
        args: [url],
        cpu: 1,
        nodeArgs: ['--expose-gc', ...profile],
        // As deployed: graphql-js, among others, skips its development-time checks.
        env: { NODE_ENV: 'production', CHATQL_BENCH_ENV: JSON.stringify(env) },
        logFile: join(RESULTS, 'service-log.tmp'),
      });
      services.push(child);
      // With REDIS_URL, the service listens before its Redis connection is up, and a resumable
      // stream subscribed in between is refused as "store unavailable": wait for /readyz to say up.
      if (env.REDIS_URL) await redisUp(child.ready.url);
      return { child, httpUrl: `${child.ready.url}/graphql`, wsUrl: `${child.ready.url.replace(/^http/, 'ws')}/graphql` };
    },
  };
  say(`${phase.name}: starting (at most ${Math.round(timeoutMs / 1000)} s)`);
  let timer: NodeJS.Timeout | undefined;
  let outcome: PhaseOutcome;
  try {
    const result = await Promise.race([
      phase.run(ctx),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort();
          reject(new PhaseTimeout(`did not finish within ${Math.round(timeoutMs / 1000)} s`));
        }, timeoutMs);
      }),
    ]);
    outcome = { status: 'ok', durationMs: Math.round(performance.now() - started), result };
  } catch (error) {
    controller.abort();
    const timeout = error instanceof PhaseTimeout;
    const message = error instanceof Error ? error.message : String(error);
    outcome = { status: timeout ? 'timeout' : 'failed', durationMs: Math.round(performance.now() - started), error: message };
    figures.push({
      phase: phase.name,
      label: `${phase.name} phase`,
      unit: '',
      failed: timeout ? 'TIMEOUT' : 'FAILED',
      pass: null,
      note: message.slice(0, 160),
    });
    say(`${phase.name}: ${outcome.status}: ${message}`);
  } finally {
    clearTimeout(timer);
  }
  for (const cleanup of cleanups.reverse())
    await Promise.resolve()
      .then(cleanup)
      .catch(() => undefined);
  await Promise.all(services.map((service) => service.stop(5000)));
  const lines = services.reduce((sum, service) => sum + service.logLines(), 0);
  say(`${phase.name}: done in ${Math.round(outcome.durationMs / 1000)} s`);
  return lines ? { ...outcome, serviceLog: { lines, tail: services.flatMap((service) => service.logTail()).slice(-5) } } : outcome;
}

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const meta: Meta = {
    mode: quick ? 'quick' : 'full',
    startedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    node: process.version,
    pinning: canPin()
      ? 'pinned with taskset: service on CPU 1; upstream and load clients on CPU 0'
      : 'NOT pinned (taskset unavailable or a single CPU): figures are noisier',
    commit: git('rev-parse', '--short', 'HEAD') || 'unknown',
    srcDirty: git('status', '--porcelain', '--', 'src') !== '',
  };
  say(`ChatQL bench, ${meta.mode} run (${quick ? 'under 2 minutes' : 'under 15 minutes'}); ${meta.pinning}`);
  if (!args.has('--no-build')) build();
  else prepareChildren();
  pinSelf(0);

  const upstream = await startChild<UpstreamReady>({
    name: 'upstream',
    script: 'upstream-child.ts',
    args: [JSON.stringify(MOCKS)],
    cpu: 0,
  });
  const figures: Figure[] = [];
  const phases: Results['phases'] = {};
  for (const phase of PHASES) {
    if (only && !only.includes(phase.name)) continue;
    phases[phase.name] = await runPhase(phase, upstream, figures);
  }
  const upstreamStats = await upstream.stats().catch(() => null);
  await upstream.stop(3000);

  meta.elapsedSeconds = Math.round((performance.now() - began) / 100) / 10;
  const results: Results & { upstream?: unknown; config: unknown } = {
    meta,
    figures,
    phases,
    config: { args: process.argv.slice(2), mocks: MOCKS, shapes: SHAPES },
    upstream: upstreamStats && {
      cpuSeconds: (upstreamStats.cpu.user + upstreamStats.cpu.system) / 1e6,
      peakRssMB: Math.round(upstreamStats.peakRss / 1048576),
    },
  };
  console.log(`\n${table(results)}\n`);
  for (const path of writeResults(RESULTS, results, only !== undefined)) say(`wrote ${path.replace(`${ROOT}/`, '')}`);
  if (only) say('a partial run (--only): latest.json and latest.svg were left as they were');
  if (profileDir) console.log(`\n${summarizeProfiles(profileDir)}\n(profiles in ${profileDir})`);
  say(`finished in ${meta.elapsedSeconds} s`);
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error('bench:', error instanceof Error ? error.message : error);
  process.exit(1);
});
