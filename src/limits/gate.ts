/**
 * Per-client limits, checked before any upstream call: the model allowlists, the maxTokens
 * ceiling, the daily token budget, requests and tokens per minute, and live streams at once.
 *
 * Counting is rate-limiter-flexible's: fixed windows (a minute, a UTC day) kept in memory, or in
 * Redis when REDIS_URL is set so that every replica counts against the same limit. When Redis
 * cannot be reached, each limiter falls back to its in-memory "insurance" twin: the service keeps
 * serving, and each replica holds a client to its limits on its own until Redis is back (fail
 * open to per-replica limits; see SECURITY.md).
 */
import type { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

import { ANONYMOUS, isModelAllowed, type Principal } from '../auth/principal.js';
import { BudgetExceededError, type DomainError, ErrorSource, InvalidRequestError, PermissionDeniedError, RateLimitError } from '../errors.js';
import type { ChatCompletionInputShape } from '../schema/chat-input.js';
import { estimatePromptTokens, estimateRequestTokens } from './estimate.js';

type Kind = 'requests' | 'tokens' | 'streams' | 'daily';

/** Window of each counter, in seconds. */
const WINDOW_SECONDS: Record<Kind, number> = {
  requests: 60,
  tokens: 60,
  // Live streams are released when they end; the window only bounds how long the slots of a
  // replica that died with streams open stay taken.
  streams: 3600,
  // A new key each UTC day; the window just lets yesterday's key expire.
  daily: 25 * 3600,
};

/** A limit refused: which one, for logs and metrics. */
export type LimitName = 'model' | 'maxTokens' | 'dailyTokens' | 'requestsPerMinute' | 'tokensPerMinute' | 'concurrentStreams';

export interface GateOptions {
  /** Shared counters; null keeps them in this process. */
  redis: Redis | null;
  /** ALLOWED_MODELS: the models any client may use; null: all. */
  allowedModels: readonly string[] | null;
  /** Called for every refusal, for metrics. */
  onRefusal?: (limit: LimitName) => void;
}

/** A request that passed the gate: the input to send, and what to do when it has ended. */
export interface Admission {
  /** The input with the client's `user` and maxTokens ceiling applied. */
  input: ChatCompletionInputShape;
  /**
   * Settles the token counters with the real usage (null when it is unknown: the estimate
   * stands) and frees the stream slot. Call exactly once, when the operation has ended.
   */
  settle(tokens: number | null): void;
}

export interface LimitStatus {
  limit: number;
  remaining: number;
  /** When the window restarts; null when nothing has been counted in it yet. */
  resetsAt: Date | null;
}

export interface ViewerLimits {
  requestsPerMinute: LimitStatus | null;
  tokensPerMinute: LimitStatus | null;
  concurrentStreams: LimitStatus | null;
  dailyTokens: LimitStatus | null;
}

function utcDay(now = new Date()): string {
  return now.toISOString().slice(0, 10);
}

function nextUtcMidnight(now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

export class LimitsGate {
  private readonly limiters = new Map<string, RateLimiterAbstract>();

  constructor(private readonly options: GateOptions) {}

  /** Where the counters live, for /readyz. */
  get store(): 'memory' | 'redis' {
    return this.options.redis ? 'redis' : 'memory';
  }

  /** One limiter per counter and limit value (a limiter's points are fixed); keys are per client. */
  private limiter(kind: Kind, points: number): RateLimiterAbstract {
    const id = `${kind}:${points}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      const options = { keyPrefix: `chatql:${kind}`, points, duration: WINDOW_SECONDS[kind] };
      const memory = new RateLimiterMemory(options);
      limiter = this.options.redis
        ? new RateLimiterRedis({ ...options, storeClient: this.options.redis, rejectIfRedisNotReady: true, insuranceLimiter: memory })
        : memory;
      this.limiters.set(id, limiter);
    }
    return limiter;
  }

  private key(kind: Kind, principal: Principal): string {
    return kind === 'daily' ? `${principal.id}:${utcDay()}` : principal.id;
  }

  /** The service-wide and the client's own allowlist, both. */
  isModelAllowed(principal: Principal, model: string): boolean {
    return isModelAllowed(this.options.allowedModels, model) && isModelAllowed(principal.limits.models, model);
  }

  /** The models a client may use, for `viewer`: its own list within ALLOWED_MODELS; null: all. */
  allowedModelsFor(principal: Principal): readonly string[] | null {
    const global = this.options.allowedModels;
    const own = principal.limits.models;
    if (own === null) return global;
    if (global === null) return own;
    return own.filter((model) => model.endsWith('*') || isModelAllowed(global, model));
  }

  /** Counts `points` against `kind`; resolves with the refusal's wait in ms, or null when admitted. */
  private async take(kind: Kind, limit: number, principal: Principal, points: number): Promise<number | null> {
    const limiter = this.limiter(kind, limit);
    const key = this.key(kind, principal);
    try {
      await limiter.consume(key, points);
      return null;
    } catch (refusal) {
      if (!(refusal instanceof RateLimiterRes)) throw refusal;
      // A refused consume still counted its points: give them back, so that only admitted work counts.
      await limiter.reward(key, points).catch(() => undefined);
      return refusal.msBeforeNext;
    }
  }

  private give(kind: Kind, limit: number, principal: Principal, points: number): void {
    if (points === 0) return;
    const limiter = this.limiter(kind, limit);
    const key = this.key(kind, principal);
    void (points > 0 ? limiter.reward(key, points) : limiter.penalty(key, -points)).catch(() => undefined);
  }

  private refuse(limit: LimitName, error: DomainError): never {
    this.options.onRefusal?.(limit);
    throw error;
  }

  /**
   * Checks every limit for one operation and counts it. Throws the refusal as a `DomainError`
   * (nothing counted then); resolves with the admission.
   */
  async admit(principal: Principal, input: ChatCompletionInputShape, stream: boolean): Promise<Admission> {
    const limits = principal.limits;
    if (!this.isModelAllowed(principal, input.model)) {
      this.refuse('model', new PermissionDeniedError(`This client may not use the model "${input.model}".`, ErrorSource.SERVICE));
    }
    const ceiling = limits.maxTokens;
    const asked = input.maxCompletionTokens ?? input.maxTokens;
    if (ceiling !== null && asked !== null && asked !== undefined && asked > ceiling) {
      const param = input.maxCompletionTokens === undefined || input.maxCompletionTokens === null ? 'input.maxTokens' : 'input.maxCompletionTokens';
      this.refuse('maxTokens', new InvalidRequestError(`At most ${ceiling} tokens may be asked for (${param} is ${asked}).`, ErrorSource.SERVICE, param, 'max_tokens_exceeded'));
    }
    // Anonymous callers (AUTH_MODE=none) keep their own `user`; everyone else is named upstream,
    // so that the upstream's per-user budgets cannot be dodged by choosing a `user`.
    const user = principal.id === ANONYMOUS ? input.user : input.user ? `${principal.id}:${input.user}` : principal.id;
    const sent: ChatCompletionInputShape = {
      ...input,
      user,
      ...(ceiling !== null && (asked === null || asked === undefined) ? { maxTokens: ceiling } : {}),
    };

    const taken: Array<[Kind, number, number]> = [];
    const undo = () => {
      for (const [kind, limit, points] of taken) this.give(kind, limit, principal, points);
    };
    try {
      if (limits.dailyTokens !== null) {
        const used = await this.limiter('daily', limits.dailyTokens).get(this.key('daily', principal)).catch(() => null);
        if (limits.dailyTokens === 0 || (used && used.consumedPoints >= limits.dailyTokens)) {
          this.refuse('dailyTokens', new BudgetExceededError(`This client's daily token budget (${limits.dailyTokens}) is spent; it renews at ${nextUtcMidnight().toISOString()}.`, ErrorSource.SERVICE));
        }
      }
      if (limits.requestsPerMinute !== null) {
        const wait = await this.take('requests', limits.requestsPerMinute, principal, 1);
        if (wait !== null) this.refuse('requestsPerMinute', new RateLimitError(`Too many requests: at most ${limits.requestsPerMinute} per minute for this client.`, ErrorSource.SERVICE, seconds(wait)));
        taken.push(['requests', limits.requestsPerMinute, 1]);
      }
      // A request bigger than the whole per-minute allowance counts as the whole allowance: it
      // runs when the window is empty rather than never.
      const estimate = limits.tokensPerMinute === null ? 0 : Math.min(estimateRequestTokens(sent), limits.tokensPerMinute);
      if (limits.tokensPerMinute !== null && estimate > 0) {
        const wait = await this.take('tokens', limits.tokensPerMinute, principal, estimate);
        if (wait !== null) this.refuse('tokensPerMinute', new RateLimitError(`Too many tokens: at most ${limits.tokensPerMinute} per minute for this client (this request may use about ${estimate}).`, ErrorSource.SERVICE, seconds(wait)));
        taken.push(['tokens', limits.tokensPerMinute, estimate]);
      }
      if (stream && limits.concurrentStreams !== null) {
        const wait = await this.take('streams', limits.concurrentStreams, principal, 1);
        // When a stream ends is unknown: no retry-after rather than a made-up one.
        if (wait !== null) this.refuse('concurrentStreams', new RateLimitError(`Too many live streams: at most ${limits.concurrentStreams} at once for this client; retry when one has ended.`, ErrorSource.SERVICE, null));
        taken.push(['streams', limits.concurrentStreams, 1]);
      }
      let settled = false;
      return {
        input: sent,
        settle: (tokens) => {
          if (settled) return;
          settled = true;
          if (stream && limits.concurrentStreams !== null) this.give('streams', limits.concurrentStreams, principal, 1);
          const used = tokens ?? (limits.tokensPerMinute === null ? estimatePromptTokens(sent) : estimate);
          if (limits.tokensPerMinute !== null) this.give('tokens', limits.tokensPerMinute, principal, estimate - used);
          if (limits.dailyTokens !== null && used > 0) this.give('daily', limits.dailyTokens, principal, -used);
        },
      };
    } catch (error) {
      undo();
      throw error;
    }
  }

  /** What is left of each of the client's limits, for the `viewer` query. */
  async status(principal: Principal): Promise<ViewerLimits> {
    const limits = principal.limits;
    const read = async (kind: Kind, limit: number | null): Promise<LimitStatus | null> => {
      if (limit === null) return null;
      const state = await this.limiter(kind, limit).get(this.key(kind, principal)).catch(() => null);
      const consumed = Math.max(0, state?.consumedPoints ?? 0);
      const resetsAt =
        kind === 'daily' ? nextUtcMidnight() : state && kind !== 'streams' ? new Date(Date.now() + state.msBeforeNext) : null;
      return { limit, remaining: Math.max(0, limit - consumed), resetsAt };
    };
    const [requestsPerMinute, tokensPerMinute, concurrentStreams, dailyTokens] = await Promise.all([
      read('requests', limits.requestsPerMinute),
      read('tokens', limits.tokensPerMinute),
      read('streams', limits.concurrentStreams),
      read('daily', limits.dailyTokens),
    ]);
    return { requestsPerMinute, tokensPerMinute, concurrentStreams, dailyTokens };
  }
}
