import OpenAI from 'openai';

import type { UpstreamConfig } from '../config.js';
import { createUpstreamFetch } from './http.js';

/**
 * An upstream client (one per target: the primary and each fallback, each with its own connection
 * pool). The SDK's own retries are off (see `retry.ts`); its `timeout` bounds the wait for
 * response headers, which is what UPSTREAM_TIMEOUT_MS promises; UPSTREAM_IDLE_TIMEOUT_MS bounds
 * each silence after them (see `http.ts`). Its console logging is
 * off: failures reach our own log, redacted, through `describeUpstreamError`.
 */
export function createUpstreamClient(upstream: Pick<UpstreamConfig, 'baseURL' | 'apiKey' | 'timeoutMs' | 'idleTimeoutMs'>): {
  client: OpenAI;
  close: () => Promise<void>;
} {
  const http = createUpstreamFetch({ idleTimeoutMs: upstream.idleTimeoutMs });
  const client = new OpenAI({
    baseURL: upstream.baseURL ?? 'https://api.openai.com/v1',
    // The SDK insists on a key; for upstreams that need none (Ollama) the Authorization header is removed.
    apiKey: upstream.apiKey ?? 'no-key',
    ...(upstream.apiKey === undefined ? { defaultHeaders: { Authorization: null } } : {}),
    maxRetries: 0,
    timeout: upstream.timeoutMs,
    logLevel: 'off',
    fetch: http.fetch,
  });
  return { client, close: http.close };
}
