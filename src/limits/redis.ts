/**
 * The Redis connection behind shared limits (REDIS_URL). Commands fail at once while it is down
 * (no offline queue), so that the limiters fall back to memory instead of holding requests up;
 * ioredis reconnects in the background. Each change of state is logged once, not each retry.
 */
import { Redis } from 'ioredis';

import type { Logger } from '../logger.js';
import type { Redactor } from '../redact.js';

export interface RedisStore {
  client: Redis;
  /** For /readyz: whether commands reach Redis now. */
  readonly status: 'up' | 'down';
  close(): Promise<void>;
}

export function connectRedis(url: string, logger: Logger, redact: Redactor): RedisStore {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    // Reconnect quickly at first, then every 2 s, for ever.
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  });
  let status: 'up' | 'down' = 'down';
  let warned = false;
  let closing = false;
  client.on('ready', () => {
    status = 'up';
    warned = false;
    logger.info('redis connected: limits are shared by every replica');
  });
  // One warning per outage (and one at start-up when Redis is not there), not one per retry.
  const down = (detail: Record<string, unknown>) => {
    status = 'down';
    if (warned || closing) return;
    warned = true;
    logger.warn(detail, "redis unavailable: limits fall back to this replica's memory until it is back (requests are still served)");
  };
  client.on('error', (error: Error) => down({ error: redact(error.message) }));
  client.on('close', () => down({ error: 'connection closed' }));
  return {
    client,
    get status() {
      return status;
    },
    close: async () => {
      closing = true;
      client.disconnect();
    },
  };
}
