/**
 * The bench's child processes: spawned with `child_process.fork` (an IPC channel for ready
 * reports and `stats` requests), pinned to a CPU with `taskset` where it exists, and killed when
 * the bench exits however it exits.
 *
 * Children run as plain JavaScript on the compiled `dist/`, like `npm start`: their TypeScript is
 * transpiled once per run (no type check; `tsc --noEmit` does that). A TypeScript loader in the
 * service's process would add its own thread (about 90 MB of RSS here) and turn source maps on.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync, type WriteStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

import ts from 'typescript';

import type { ProcessStats, StatsRequest } from './lib/child.js';

const live = new Set<ChildProcess>();

function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\nbench: ${signal}: stopping the child processes`);
    killAll();
    process.exit(130);
  });
}

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
/** Under node_modules: ignored by git, and bare imports (openai) still resolve from there. */
const CHILDREN_DIR = join(ROOT, 'node_modules', '.cache', 'chatql-bench');
const CHILD_SOURCES = ['service-child.ts', 'upstream-child.ts', 'sdk-child.ts', 'lib/child.ts'];

/** Transpiles the child scripts to CHILDREN_DIR; returns nothing, `startChild` finds them there. */
export function prepareChildren(): void {
  mkdirSync(join(CHILDREN_DIR, 'lib'), { recursive: true });
  // Node would read the .js files as CommonJS: package scopes stop at node_modules.
  writeFileSync(join(CHILDREN_DIR, 'package.json'), '{ "type": "module" }\n');
  for (const source of CHILD_SOURCES) {
    const { outputText } = ts.transpileModule(readFileSync(join(BENCH_DIR, source), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023, verbatimModuleSyntax: true },
      fileName: source,
    });
    writeFileSync(join(CHILDREN_DIR, source.replace(/\.ts$/, '.js')), outputText);
  }
}

/** The compiled service (`npm run build`), as children import it. */
export const DIST_URL = pathToFileURL(`${join(ROOT, 'dist')}/`).href;

let taskset: boolean | undefined;

/** True when `taskset` runs here and there are at least two CPUs to pin to. */
export function canPin(): boolean {
  if (taskset === undefined) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      taskset = availableParallelism() >= 2;
    } catch {
      taskset = false;
    }
  }
  return taskset;
}

/** Pins this process, all its threads included, to `cpu`. */
export function pinSelf(cpu: number): void {
  if (canPin()) execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' });
}

export interface ChildOptions {
  name: string;
  /** The child's module, relative to bench/ (e.g. 'service-child.ts'); see prepareChildren. */
  script: string;
  args?: string[];
  /** CPU to pin to, or null for none. */
  cpu: number | null;
  /** Extra node flags (e.g. `--expose-gc`). */
  nodeArgs?: string[];
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /** Where the child's stdout and stderr go (its log); they are counted either way. */
  logFile?: string;
}

export interface Child<Ready = unknown> {
  name: string;
  pid: number;
  ready: Ready;
  /** Lines the child wrote to stdout/stderr (its log). */
  logLines: () => number;
  logTail: () => string[];
  request<T>(type: string, payload?: unknown, timeoutMs?: number): Promise<T>;
  stats(request?: StatsRequest): Promise<ProcessStats>;
  /** Asks the child to stop, then kills it if it has not exited within `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
}

interface Reply {
  id?: number;
  type?: string;
  ok?: boolean;
  result?: unknown;
  error?: string;
}

export async function startChild<Ready>(options: ChildOptions): Promise<Child<Ready>> {
  const nodeArgs = options.nodeArgs ?? [];
  const pinned = options.cpu !== null && canPin();
  const script = join(CHILDREN_DIR, options.script.replace(/\.ts$/, '.js'));
  const child = fork(relative(process.cwd(), script), options.args ?? [], {
    // taskset execs node in place, so the IPC channel (an inherited fd) and the environment carry over.
    execPath: pinned ? 'taskset' : process.execPath,
    execArgv: pinned ? ['-c', String(options.cpu), process.execPath, ...nodeArgs] : nodeArgs,
    env: { ...process.env, ...options.env, CHATQL_DIST: DIST_URL },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => live.delete(child));

  let lines = 0;
  const tail: string[] = [];
  const log: WriteStream | null = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : null;
  const onOutput = (data: Buffer) => {
    log?.write(data);
    for (const line of data.toString().split('\n')) {
      if (!line) continue;
      lines += 1;
      tail.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
      if (tail.length > 5) tail.shift();
    }
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);

  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  const failAll = (why: string) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${options.name}: ${why}`));
    pending.clear();
  };
  void exited.then(() => {
    failAll(`exited (code ${child.exitCode ?? child.signalCode}); last output: ${tail.join(' | ')}`);
    log?.end();
  });

  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${options.name} did not start within ${options.readyTimeoutMs ?? 30_000} ms`)),
      options.readyTimeoutMs ?? 30_000,
    );
    child.on('message', (message: Reply) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve(message.result as Ready);
      } else if (message.type === 'failed') {
        clearTimeout(timer);
        reject(new Error(`${options.name} failed to start: ${message.error}`));
      } else if (message.id !== undefined) {
        const waiter = pending.get(message.id);
        pending.delete(message.id);
        if (message.ok) waiter?.resolve(message.result);
        else waiter?.reject(new Error(`${options.name}: ${message.error}`));
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited before it was ready: ${tail.join(' | ')}`));
    });
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });

  const request = <T>(type: string, payload?: unknown, timeoutMs = 30_000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null || !child.connected) {
        reject(new Error(`${options.name} is not running`));
        return;
      }
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${options.name}: no answer to ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      child.send({ id, type, payload });
    });

  return {
    name: options.name,
    pid: child.pid ?? -1,
    ready,
    logLines: () => lines,
    logTail: () => [...tail],
    request,
    stats: (statsRequest = {}) => request<ProcessStats>('stats', statsRequest),
    stop: async (timeoutMs = 5000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const started = performance.now();
      await request('stop', undefined, timeoutMs).catch(() => undefined);
      const left = Math.max(0, timeoutMs - (performance.now() - started));
      const timer = setTimeout(() => child.kill('SIGKILL'), left);
      await exited;
      clearTimeout(timer);
    },
  };
}
