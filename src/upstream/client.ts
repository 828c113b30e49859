import OpenAI from 'openai';

import type { UpstreamConfig } from '../config.js';
import { createUpstreamFetch } from './http.js';

/**
 * The only upstream client. The SDK's own retries are off (see `retry.ts`); its `timeout` bounds
 * the wait for response headers, which is what UPSTREAM_TIMEOUT_MS promises. Its console logging is
 * off: failures reach our own log, redacted, through `describeUpstreamError`.
 */
export function createUpstreamClient(upstream: UpstreamConfig): { client: OpenAI; close: () => Promise<void> } {
  const http = createUpstreamFetch();
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
