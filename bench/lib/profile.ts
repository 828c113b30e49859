/**
 * `--cpu-prof`: a summary of the service's CPU profiles (V8 `.cpuprofile` files), by function and
 * by package, so that the table's misses can be traced to where the service spends its time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a function lives: a package, ChatQL's own dist/, a part of Node, or the runtime. */
function owner(functionName: string, url: string): string {
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules) return inModules[1] ?? url;
  if (url.includes('/dist/')) return 'chatql (dist/)';
  if (functionName === '(garbage collector)') return 'garbage collector';
  if (url.startsWith('node:internal/deps/undici')) return "undici (Node's fetch)";
  if (url.startsWith('node:internal/webstreams')) return 'web streams (Node)';
  if (url.startsWith('node:')) return 'node core (JS)';
  if (url.startsWith('wasm://')) return 'wasm (llhttp)';
  return url === '' ? 'native (syscalls, runtime)' : url;
}

export function summarizeProfiles(directory: string, top = 25): string {
  const selfByFunction = new Map<string, number>();
  const selfByOwner = new Map<string, number>();
  let total = 0;
  const files = readdirSync(directory).filter((file) => file.endsWith('.cpuprofile'));
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(directory, file), 'utf8')) as CpuProfile;
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    profile.samples.forEach((id, i) => {
      const node = nodes.get(id);
      const micros = profile.timeDeltas[i] ?? 0;
      if (!node || node.callFrame.functionName === '(idle)') return;
      const { functionName, url, lineNumber } = node.callFrame;
      const where = url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/')}:${lineNumber + 1}` : '';
      const key = `${functionName || '(anonymous)'} ${where}`.trim();
      selfByFunction.set(key, (selfByFunction.get(key) ?? 0) + micros);
      const group = owner(functionName, url);
      selfByOwner.set(group, (selfByOwner.get(group) ?? 0) + micros);
      total += micros;
    });
  }
  const rows = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, micros]) => `${((micros / total) * 100).toFixed(1).padStart(5)} %  ${(micros / 1000).toFixed(0).padStart(7)} ms  ${key}`);
  return [
    `CPU profile of the service (${files.length} files, ${(total / 1e6).toFixed(1)} s of busy samples), self time:`,
    'By package:',
    ...rows(selfByOwner, 12),
    'By function:',
    ...rows(selfByFunction, top),
  ].join('\n');
}
