/**
 * The upstream targets a chat call may be served by: the primary (OPENAI_BASE_URL) and, in order,
 * the fallbacks of UPSTREAM_FALLBACKS. Each has its own SDK client (its own connection pool) and
 * its own circuit breaker, and is named `primary`, `fallback-1`, `fallback-2`... in logs, metrics
 * and /readyz: never by its URL.
 */
import type OpenAI from 'openai';

import type { UpstreamConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { type BreakerStatus, UpstreamBreaker } from './breaker.js';
import { createUpstreamClient } from './client.js';

export const PRIMARY = 'primary';

export interface UpstreamTarget {
  /** `primary`, `fallback-1`, ...: the label of logs and metrics. */
  readonly name: string;
  readonly client: OpenAI;
  /** The model asked of this target instead of the requested one (a `#model` fallback). */
  readonly model: string | undefined;
  /** Null when UPSTREAM_BREAKER_THRESHOLD is 0. */
  readonly breaker: UpstreamBreaker | null;
  /**
   * Retries on this target: UPSTREAM_MAX_RETRIES on the primary, none on a fallback (a fallback
   * is there because the primary already spent its retries; retrying each one too would multiply
   * the wait of a call that is failing anyway).
   */
  readonly maxRetries: number;
  close(): Promise<void>;
}

export function createUpstreamTargets(upstream: UpstreamConfig, logger: Logger): UpstreamTarget[] {
  const target = (name: string, baseURL: string | undefined, model: string | undefined, maxRetries: number): UpstreamTarget => {
    const { client, close } = createUpstreamClient({ ...upstream, baseURL });
    const breaker =
      upstream.breakerThreshold === 0
        ? null
        : new UpstreamBreaker(upstream.breakerThreshold, upstream.breakerCooldownMs, {
            onOpen: (until) =>
              logger.warn({ upstream: name, until: until.toISOString() }, 'upstream circuit breaker opened: calls are answered at once until then'),
            onClose: () => logger.info({ upstream: name }, 'upstream circuit breaker closed: the probe succeeded'),
          });
    return { name, client, model, breaker, maxRetries, close };
  };
  return [
    target(PRIMARY, upstream.baseURL, undefined, upstream.maxRetries),
    ...upstream.fallbacks.map((fallback, index) =>
      // `#model` items share the primary's upstream, but not its pool or its breaker.
      target(`fallback-${index + 1}`, fallback.baseURL ?? upstream.baseURL, fallback.model, 0),
    ),
  ];
}

/** `/readyz`'s view: the primary's breaker, and each fallback's when there are any. */
export function describeTargets(targets: readonly UpstreamTarget[]): {
  breaker: BreakerStatus | null;
  fallbacks?: Array<{ name: string; model: string | null; breaker: BreakerStatus | null }>;
} {
  const [primary, ...fallbacks] = targets;
  return {
    breaker: primary?.breaker?.status() ?? null,
    ...(fallbacks.length === 0
      ? {}
      : {
          fallbacks: fallbacks.map((target) => ({
            name: target.name,
            model: target.model ?? null,
            breaker: target.breaker?.status() ?? null,
          })),
        }),
  };
}

export async function closeTargets(targets: readonly UpstreamTarget[]): Promise<void> {
  await Promise.all(targets.map((target) => target.close()));
}
