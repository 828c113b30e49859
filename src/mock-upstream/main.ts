/**
 * `npm run mock-upstream`: runs the mock on its own, for pointing any
 * OpenAI-compatible client (or ChatQL itself) at it.
 *
 * Environment: PORT (default 4010), HOST (default 127.0.0.1), MOCK_API_KEY
 * (require this bearer key), MOCK_WORD_DELAY_MS (default 30) and
 * MOCK_FIRST_TOKEN_DELAY_MS (default 0), the latter two for benchmarks that want
 * the mock out of the way.
 */

import { MOCK_MODELS } from './models.js';
import { startMockUpstream } from './server.js';

function readInteger(name: string, fallback: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new Error(`${name} must be an integer from 0 to ${max}, got "${raw}".`);
  }
  return value;
}

async function main(): Promise<void> {
  const apiKey = process.env.MOCK_API_KEY;
  const mock = await startMockUpstream({
    port: readInteger('PORT', 4010, 65535),
    host: process.env.HOST || '127.0.0.1',
    wordDelayMs: readInteger('MOCK_WORD_DELAY_MS', 30, 60_000),
    firstTokenDelayMs: readInteger('MOCK_FIRST_TOKEN_DELAY_MS', 0, 600_000),
    ...(apiKey ? { apiKey } : {}),
  });
  const auth = apiKey ? ' (bearer key required)' : '';
  // Every served model, so that a person can try the test-only ones too; those are marked, being absent from GET /v1/models.
  const models = MOCK_MODELS.map((model) => (model.listed === false ? `${model.id} (unlisted)` : model.id)).join(', ');
  console.log(`Mock upstream at ${mock.url}${auth}; models: ${models}`);

  const stop = (): void => {
    void mock.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
