/**
 * The upstream targets a chat call may be served by: the primary (OPENAI_BASE_URL) and, in order,
 * the fallbacks of UPSTREAM_FALLBACKS. Each has its own SDK client (its own connection pool) and
 * its own circuit breakers (one for the target, one per model sent to it), and is named
 * `primary`, `fallback-1`, `fallback-2`... in logs, metrics and /readyz: never by its URL.
 */
import type OpenAI from 'openai';

import type { UpstreamConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { type BreakerStatus, type OpenBreaker, TargetHealth } from './breaker.js';
import { createUpstreamClient } from './client.js';
import { sameUrl } from './fallbacks.js';

export const PRIMARY = 'primary';

export interface UpstreamTarget {
  /** `primary`, `fallback-1`, ...: the label of logs and metrics. */
  readonly name: string;
  readonly client: OpenAI;
  /** The model asked of this target instead of the requested one (a `#model` fallback). */
  readonly model: string | undefined;
  /** The target's breakers; null when UPSTREAM_BREAKER_THRESHOLD is 0. */
  readonly health: TargetHealth | null;
  /**
   * Retries on this target: UPSTREAM_MAX_RETRIES on the primary, none on a fallback (a fallback
   * is there because the primary already spent its retries; retrying each one too would multiply
   * the wait of a call that is failing anyway).
   */
  readonly maxRetries: number;
  /**
   * Whether this target is the primary's own upstream (the primary, a `#model` fallback, or a
   * fallback on the same base URL): the only targets a client's forwarded key may go to.
   */
  readonly sharesPrimaryUpstream: boolean;
  close(): Promise<void>;
}

/** What the breakers report as they open and close, for the metrics. */
export interface TargetEvents {
  /** `model` is null for the target's own breaker. */
  onBreakerOpen?(upstream: string, model: string | null): void;
}

export function createUpstreamTargets(upstream: UpstreamConfig, logger: Logger, events: TargetEvents = {}): UpstreamTarget[] {
  const target = (name: string, baseURL: string | undefined, model: string | undefined, maxRetries: number): UpstreamTarget => {
    const { client, close } = createUpstreamClient({ ...upstream, baseURL });
    const health =
      upstream.breakerThreshold === 0
        ? null
        : new TargetHealth(upstream.breakerThreshold, upstream.breakerCooldownMs, {
            onOpen: (breakerModel, until) => {
              events.onBreakerOpen?.(name, breakerModel);
              logger.warn(
                { upstream: name, model: breakerModel, until: until.toISOString() },
                breakerModel === null
                  ? 'upstream circuit breaker opened for the whole target: its calls are answered at once until then'
                  : 'upstream circuit breaker opened for one model: its calls are answered at once until then',
              );
            },
            onClose: (breakerModel) =>
              logger.info({ upstream: name, model: breakerModel }, 'upstream circuit breaker closed: the probe succeeded'),
          });
    const sharesPrimaryUpstream =
      baseURL === upstream.baseURL || (baseURL !== undefined && upstream.baseURL !== undefined && sameUrl(baseURL, upstream.baseURL));
    return { name, client, model, health, maxRetries, sharesPrimaryUpstream, close };
  };
  return [
    target(PRIMARY, upstream.baseURL, undefined, upstream.maxRetries),
    ...upstream.fallbacks.map((fallback, index) =>
      // `#model` items share the primary's upstream, but not its pool or its breakers.
      target(`fallback-${index + 1}`, fallback.baseURL ?? upstream.baseURL, fallback.model, 0),
    ),
  ];
}

/** The model name `target` is asked for when a client asks for `model`. */
export function modelFor(target: UpstreamTarget, model: string): string {
  return target.model ?? model;
}

/**
 * When some target may next serve `model`: null while one would now, otherwise the earliest time
 * one of them lets a probe through (ms since the epoch).
 */
export function unavailableUntil(targets: readonly UpstreamTarget[], model: string): number | null {
  const now = Date.now();
  let earliest = Number.POSITIVE_INFINITY;
  for (const target of targets) {
    const until = target.health?.blockedUntil(modelFor(target, model), now) ?? null;
    if (until === null) return null;
    earliest = Math.min(earliest, until);
  }
  return Number.isFinite(earliest) ? earliest : null;
}

/** Open breakers listed by /readyz at most; the count says how many there are in all. */
export const MAX_LISTED_BREAKERS = 100;

/**
 * `/readyz`'s view: the primary's own breaker and each fallback's (what `breaker` always meant:
 * the target), and every breaker that is not closed, with its target, model and next probe.
 */
export function describeTargets(targets: readonly UpstreamTarget[]): {
  breaker: BreakerStatus | null;
  fallbacks?: Array<{ name: string; model: string | null; breaker: BreakerStatus | null }>;
  openBreakers: Array<{ target: string } & OpenBreaker>;
  openBreakerCount: number;
} {
  const [primary, ...fallbacks] = targets;
  const open = targets
    .flatMap((target) => (target.health?.openBreakers() ?? []).map((breaker) => ({ target: target.name, ...breaker })))
    .sort((a, b) => a.until.localeCompare(b.until));
  return {
    breaker: primary?.health?.breaker.status() ?? null,
    ...(fallbacks.length === 0
      ? {}
      : {
          fallbacks: fallbacks.map((target) => ({
            name: target.name,
            model: target.model ?? null,
            breaker: target.health?.breaker.status() ?? null,
          })),
        }),
    openBreakers: open.slice(0, MAX_LISTED_BREAKERS),
    openBreakerCount: open.length,
  };
}

export async function closeTargets(targets: readonly UpstreamTarget[]): Promise<void> {
  await Promise.all(targets.map((target) => target.close()));
}
