/**
 * The service as a real process, the way `npm start` runs it (src/server.ts through tsx here, so
 * that no build is needed): for start-up, signals, and several replicas side by side.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

import { dispose, type TestService } from './servers.js';

export interface Running {
  child: ChildProcess;
  output: () => string;
  exit: Promise<{ code: number | null; ms: number }>;
}

/** Starts src/server.ts with exactly `env` (plus PATH), the way `npm start` runs dist/server.js. */
export function run(env: Record<string, string>): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: new URL('../..', import.meta.url),
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (data: Buffer) => (output += data.toString()));
  child.stderr!.on('data', (data: Buffer) => (output += data.toString()));
  let stoppedAt = 0;
  const exit = once(child, 'exit').then(([code]) => ({ code: code as number | null, ms: performance.now() - stoppedAt }));
  dispose(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const originalKill = child.kill.bind(child);
  child.kill = (signal?: NodeJS.Signals | number) => {
    stoppedAt = performance.now();
    return originalKill(signal);
  };
  return { child, output: () => output, exit };
}

/** Waits for the start-up line and returns the service's address as a TestService for the clients. */
export async function ready(running: Running): Promise<TestService> {
  const deadline = performance.now() + 15_000;
  for (;;) {
    const match = /GraphQL(?: and GraphiQL)? at (http:\/\/[\d.:]+)\/graphql/.exec(running.output());
    if (match) {
      const url = match[1]!;
      return { url, httpUrl: `${url}/graphql`, wsUrl: `${url.replace('http', 'ws')}/graphql` } as TestService;
    }
    if (running.child.exitCode !== null || performance.now() > deadline) {
      throw new Error(`the service did not start:\n${running.output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
