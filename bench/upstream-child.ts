/**
 * The upstream side of the bench, in a process of its own: the mock upstreams (one per pacing
 * the phases need: the service takes one base URL, so each phase's service points at its own
 * mock) and a bare HTTP server that answers a fixed body, the floor any HTTP round trip costs.
 *
 * Argument: the JSON list of `MockSpec`. Ready report: `UpstreamReady`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

import type { BenchShape } from '../src/mock-upstream/bench.js';
import type { MockUpstream } from '../src/mock-upstream/server.js';
import { reportFailure, reportReady, serveParent } from './lib/child.js';

export interface MockSpec {
  name: string;
  firstTokenDelayMs: number;
  wordDelayMs: number;
  bench: BenchShape;
  /** Keep request records for `records` (cancellation); other mocks drop theirs every second. */
  record: boolean;
}

export interface UpstreamReady {
  /** Base URL (with /v1) of each mock, by name. */
  mocks: Record<string, string>;
  /** The bare server: any method, any path. */
  bareUrl: string;
}

/** One upstream request as the cancellation phase needs it; times absolute (ms since the epoch). */
export interface UpstreamRecord {
  /** The last message's content: the bench puts a unique marker there. */
  marker: string | null;
  receivedAt: number;
  closedAt: number | null;
  aborted: boolean;
}

const absolute = (at: number) => performance.timeOrigin + at;

async function main(): Promise<void> {
  // The compiled mock, from the same `npm run build` as the service.
  const { startMockUpstream } = (await import(
    new URL('mock-upstream/server.js', process.env.CHATQL_DIST ?? '').href
  )) as typeof import('../src/mock-upstream/server.js');
  const specs = JSON.parse(process.argv[2] ?? '[]') as MockSpec[];
  const mocks = new Map<string, MockUpstream>();
  for (const spec of specs) {
    const mock = await startMockUpstream({
      firstTokenDelayMs: spec.firstTokenDelayMs,
      wordDelayMs: spec.wordDelayMs,
      bench: spec.bench,
    });
    mocks.set(spec.name, mock);
    // Records hold headers and bodies: a mutation run would pile up hundreds of megabytes.
    if (!spec.record) setInterval(() => mock.reset(), 1000).unref();
  }

  let bareBody = Buffer.from('{"data":{}}');
  const bare = createServer((req, res) => {
    req.resume();
    req.once('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': bareBody.length });
      res.end(bareBody);
    });
  });
  bare.on('connection', (socket) => socket.setNoDelay(true));
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));

  const mockNamed = (payload: unknown): MockUpstream => {
    const name = (payload as { mock?: string } | undefined)?.mock ?? '';
    const mock = mocks.get(name);
    if (!mock) throw new Error(`no mock named ${name}`);
    return mock;
  };

  serveParent({
    bareBody: (payload) => {
      bareBody = Buffer.from((payload as { body: string }).body);
      return bareBody.length;
    },
    reset: (payload) => mockNamed(payload).reset(),
    openRequests: (payload) => mockNamed(payload).openRequests(),
    records: (payload): UpstreamRecord[] =>
      mockNamed(payload)
        .requests.filter((record) => record.path === '/v1/chat/completions')
        .map((record) => {
          const messages = (record.body as { messages?: Array<{ content?: unknown }> } | undefined)?.messages;
          const content = messages?.at(-1)?.content;
          return {
            marker: typeof content === 'string' ? content : null,
            receivedAt: absolute(record.receivedAt),
            closedAt: record.closedAt === undefined ? null : absolute(record.closedAt),
            aborted: record.aborted,
          };
        }),
    stop: async () => {
      await Promise.all([...mocks.values()].map((mock) => mock.close()));
      bare.closeAllConnections();
      setImmediate(() => process.exit(0));
    },
  });

  reportReady({
    mocks: Object.fromEntries([...mocks].map(([name, mock]) => [name, mock.url])),
    bareUrl: `http://127.0.0.1:${(bare.address() as AddressInfo).port}/`,
  } satisfies UpstreamReady);
}

main().catch(reportFailure);
