/**
 * The service under test, in a process of its own: the compiled `dist/app.js`, exactly what
 * `npm start` runs, built with its own configuration loader against the mock upstream given as
 * the first argument (`CHATQL_DIST` says where dist/ is). Run with `--expose-gc` so that `stats`
 * can report live memory.
 */
import { reportFailure, reportReady, serveParent } from './lib/child.js';

export interface ServiceReady {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
}

async function main(): Promise<void> {
  const dist = new URL(process.env.CHATQL_DIST ?? '');
  const { buildApp } = (await import(new URL('app.js', dist).href)) as typeof import('../src/app.js');
  const { loadConfig } = (await import(new URL('config.js', dist).href)) as typeof import('../src/config.js');
  const { createLogger } = (await import(new URL('logger.js', dist).href)) as typeof import('../src/logger.js');

  const loaded = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    OPENAI_BASE_URL: process.argv[2],
    OPENAI_API_KEY: 'bench',
    LOG_LEVEL: 'warn',
    // What the phase adds (REDIS_URL for the resumable streams' store, say).
    ...(JSON.parse(process.env.CHATQL_BENCH_ENV ?? '{}') as Record<string, string>),
  });
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  const app = buildApp(loaded.config, createLogger(loaded.config.logLevel));
  const { url } = await app.start();

  serveParent({
    operations: () => app.operations.size,
    stop: async () => {
      await app.stop(0);
      // A plain exit (not a kill) lets --cpu-prof write its profile.
      setImmediate(() => process.exit(0));
    },
  });
  reportReady({ url } satisfies ServiceReady);
}

main().catch(reportFailure);
