/**
 * How much memory the openai SDK's own stream objects take, measured alone: N streams opened with
 * the SDK (as the service opens them) against a paced mock and held open, in a process that does
 * nothing else. Arguments: the mock's base URL, N. Needs `--expose-gc`.
 */
import OpenAI from 'openai';

import { processStats, reportFailure, reportReady, serveParent } from './lib/child.js';

export interface SdkShare {
  streams: number;
  /** RSS, heap and external+arrayBuffers per open stream (bytes), live memory only (after gc). */
  rssPerStream: number;
  heapPerStream: number;
  externalPerStream: number;
}

async function main(): Promise<void> {
  const [baseURL = '', count = '1000'] = process.argv.slice(2);
  const streams = Number(count);
  const client = new OpenAI({ baseURL, apiKey: 'bench', maxRetries: 0 });
  const open = async (content: string, signal: AbortSignal, firstContent: () => void) => {
    const stream = await client.chat.completions.create(
      { model: 'chatql-mock-bench', messages: [{ role: 'user', content }], stream: true, stream_options: { include_usage: true } },
      { signal },
    );
    let told = false;
    try {
      for await (const chunk of stream) {
        if (!told && chunk.choices[0]?.delta.content) {
          told = true;
          firstContent();
        }
      }
    } catch {
      // Aborted at the end of the measurement.
    }
  };
  /** Resolves once each of the n streams has its first content chunk (they stay open). */
  const openAll = (n: number, prefix: string, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      let waiting = n;
      for (let i = 0; i < n; i++) void open(`${prefix} ${i}`, signal, () => --waiting === 0 && resolve()).catch(reject);
    });

  // Warm up the SDK's code paths and the connection pool's machinery, then take the baseline.
  const warm = new AbortController();
  await Promise.race([openAll(20, 'warm', warm.signal), new Promise((resolve) => setTimeout(resolve, 5000))]);
  warm.abort();
  await new Promise((resolve) => setTimeout(resolve, 200));
  const before = await processStats({ gc: true });
  const measured = new AbortController();
  await openAll(streams, 'share', measured.signal);
  const during = await processStats({ gc: true });
  measured.abort();
  const per = (key: 'rss' | 'heapUsed') => (during.memory[key] - before.memory[key]) / streams;
  const external = (m: NodeJS.MemoryUsage) => m.external + m.arrayBuffers;
  serveParent({});
  reportReady({
    streams,
    rssPerStream: per('rss'),
    heapPerStream: per('heapUsed'),
    externalPerStream: (external(during.memory) - external(before.memory)) / streams,
  } satisfies SdkShare);
  setTimeout(() => process.exit(0), 100);
}

main().catch(reportFailure);
