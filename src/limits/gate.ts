/**
 * Per-client limits, checked before any upstream call: the model allowlists, the maxTokens
 * ceiling, the daily token budget, requests and tokens per minute, and live streams at once.
 *
 * Counting is rate-limiter-flexible's: fixed windows (a minute, a UTC day) kept in memory, or in
 * Redis when REDIS_URL is set so that every replica counts against the same limit. When Redis
 * cannot be reached, each limiter falls back to its in-memory "insurance" twin: the service keeps
 * serving, and each replica holds a client to its limits on its own until Redis is back (fail
 * open to per-replica limits; see SECURITY.md). With several workers (WORKERS) and no Redis, the
 * counters live in the cluster's primary (RateLimiterCluster), so that the workers of one machine
 * count as one.
 *
 * Open graphql-ws connections (maxConnections) are counted here too, by the same store: see
 * `openConnection`.
 */
import type { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterCluster, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

import { ANONYMOUS, isModelAllowed, type Principal } from '../auth/principal.js';
import {
  BudgetExceededError,
  type DomainError,
  ErrorSource,
  InvalidRequestError,
  PermissionDeniedError,
  RateLimitError,
} from '../errors.js';
import type { ChatRequest } from '../chat/types.js';
import type { ModelPrice } from '../pricing/prices.js';
import { type ConnectionCounter, type ConnectionRelease, MemoryConnectionCounter } from './connections.js';
import { estimatePromptTokens } from './estimate.js';

/** `connections` is counted in a window with Redis only (see `openConnection`). */
type Kind = 'requests' | 'tokens' | 'streams' | 'daily' | 'spend' | 'connections';

/** The windows a request's bound is reserved in. */
type ReservedKind = 'daily' | 'tokens' | 'spend';

interface ReservedWindowSpec {
  kind: ReservedKind;
  limit: number;
  key: string;
  /** The prompt's share, in the window's points (tokens, or billionths of PRICE_CURRENCY). */
  prompt: number;
  /** Points per answer token. */
  perToken: number;
}

interface ReservedWindow extends ReservedWindowSpec {
  /** What was reserved in it. */
  points: number;
  windowEndsAt: number;
}

/** Spend is counted in billionths of PRICE_CURRENCY: whole points, exact for any realistic price. */
const NANOS = 1e9;

/** The spend window of a client without a spend limit: counted, never refused. */
const UNLIMITED_SPEND = Number.MAX_SAFE_INTEGER;

/** Window of each counter, in seconds. */
const WINDOW_SECONDS: Record<Kind, number> = {
  requests: 60,
  tokens: 60,
  // Live streams are released when they end; the window only bounds how long the slots of a
  // replica that died with streams open stay taken.
  streams: 3600,
  // A new key each UTC day; the window just lets yesterday's key expire.
  daily: 25 * 3600,
  spend: 25 * 3600,
  // As for streams: bounds how long a dead replica's connections hold their slots.
  connections: 3600,
};

/**
 * How long a worker waits for the primary to answer a count (RateLimiterCluster's timeout). The
 * primary answers from memory at once; no answer means it is gone, and the worker with it.
 */
const CLUSTER_TIMEOUT_MS = 3000;

/** The count of a client without a connection limit: counted (a reloaded key file may set one), never refused. */
const UNLIMITED_CONNECTIONS = Number.MAX_SAFE_INTEGER;

/** A limit refused: which one, for logs and metrics. */
export type LimitName =
  | 'model'
  | 'maxTokens'
  | 'dailyTokens'
  | 'dailySpend'
  | 'requestsPerMinute'
  | 'tokensPerMinute'
  | 'concurrentStreams';

export interface GateOptions {
  /** Shared counters; null keeps them in this process (or in the cluster's primary, with `cluster`). */
  redis: Redis | null;
  /**
   * In a worker of several (WORKERS) without Redis: count in the primary, which answers
   * RateLimiterCluster (its RateLimiterClusterMaster, src/cluster/primary.ts), and count
   * connections with `connections`. Ignored with Redis, which every worker shares anyway.
   */
  cluster?: { connections: ConnectionCounter } | null;
  /** ALLOWED_MODELS: the models any client may use; null: all. */
  allowedModels: readonly string[] | null;
  /** Called for every refusal, for metrics. */
  onRefusal?: (limit: LimitName) => void;
  /** PRICE_CURRENCY, for the messages of spend refusals. @default USD */
  currency?: string;
}

/** A request that passed the gate: the input to send, and what to do when it has ended. */
export interface Admission {
  /** The input with the client's `user` and maxTokens ceiling applied. */
  input: ChatRequest;
  /**
   * Settles the reservations with the real usage: `tokens` for the token limits, `cost` (in
   * PRICE_CURRENCY) for the spend limit, each null when unknown (the reservation stands). Frees
   * the stream slot. Call exactly once, when the operation has ended.
   */
  settle(tokens: number | null, cost?: number | null): void;
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
  /** The daily spend limit, in PRICE_CURRENCY. */
  dailySpend: SpendStatus | null;
  /** What this client has spent today (reservations of running requests included), in PRICE_CURRENCY. */
  spentToday: { amount: number; currency: string };
}

export interface SpendStatus {
  limit: number;
  remaining: number;
  currency: string;
  resetsAt: Date;
}

/** A request whose room for an answer is below this is refused: a few words are no answer. */
export const MIN_ANSWER_TOKENS = 16;

/** Reservations that lost a race with another request look again this many times before refusing. */
const MAX_RESERVE_ATTEMPTS = 3;

/** What was reserved in each window at admission, given back (or charged) when the call ends. */
interface Reservation {
  /** The answer's bound: what the upstream may generate at most (per choice). */
  bound: number;
  windows: ReservedWindow[];
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
  /** Where connections are counted; null: in Redis, through `limiter('connections')`. */
  private readonly connections: ConnectionCounter | null;

  constructor(private readonly options: GateOptions) {
    this.connections = options.redis ? null : (options.cluster?.connections ?? new MemoryConnectionCounter());
  }

  /** Where the counters live, for /readyz. */
  get store(): 'memory' | 'redis' | 'cluster' {
    if (this.options.redis) return 'redis';
    return this.options.cluster ? 'cluster' : 'memory';
  }

  /** One limiter per counter and limit value (a limiter's points are fixed); keys are per client. */
  /** PRICE_CURRENCY: every spend limit is in it. */
  get currency(): string {
    return this.options.currency ?? 'USD';
  }

  private limiter(kind: Kind, points: number): RateLimiterAbstract {
    const id = `${kind}:${points}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      const options = { keyPrefix: `chatql:${kind}`, points, duration: WINDOW_SECONDS[kind] };
      if (this.options.redis) {
        const memory = new RateLimiterMemory(options);
        limiter = new RateLimiterRedis({
          ...options,
          storeClient: this.options.redis,
          rejectIfRedisNotReady: true,
          insuranceLimiter: memory,
        });
      } else if (this.options.cluster) {
        // The primary keeps one limiter per prefix, created with the points of the first worker to
        // ask: the prefix names the points, as the key of `limiters` does here.
        limiter = new RateLimiterCluster({ ...options, keyPrefix: `chatql:${kind}:${points}`, timeoutMs: CLUSTER_TIMEOUT_MS });
      } else {
        limiter = new RateLimiterMemory(options);
      }
      this.limiters.set(id, limiter);
    }
    return limiter;
  }

  private key(kind: Kind, principal: Principal): string {
    return kind === 'daily' || kind === 'spend' ? `${principal.id}:${utcDay()}` : principal.id;
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
  private async take(kind: Kind, limit: number, key: string, points: number): Promise<{ msBeforeNext: number } | { refusedFor: number }> {
    const limiter = this.limiter(kind, limit);
    try {
      const taken = await limiter.consume(key, points);
      return { msBeforeNext: taken.msBeforeNext };
    } catch (refusal) {
      if (!(refusal instanceof RateLimiterRes)) throw refusal;
      // A refused consume still counted its points: give them back, so that only admitted work counts.
      await limiter.reward(key, points).catch(() => undefined);
      return { refusedFor: refusal.msBeforeNext };
    }
  }

  private give(kind: Kind, limit: number, key: string, points: number): void {
    if (points === 0) return;
    const limiter = this.limiter(kind, limit);
    void (points > 0 ? limiter.reward(key, points) : limiter.penalty(key, -points)).catch(() => undefined);
  }

  /** What is used of `kind` now: points consumed and ms until the window turns (0: no window yet). */
  private async used(kind: Kind, limit: number, key: string): Promise<{ points: number; msBeforeNext: number }> {
    const state = await this.limiter(kind, limit)
      .get(key)
      .catch(() => null);
    return { points: Math.max(0, state?.consumedPoints ?? 0), msBeforeNext: state?.msBeforeNext ?? 0 };
  }

  private refuse(limit: LimitName, error: DomainError): never {
    this.options.onRefusal?.(limit);
    throw error;
  }

  /**
   * Reserves the request's bound in each of its windows at once, atomically: tokens (the prompt's
   * estimate plus the answer's bound) in the daily budget and the minute's allowance, and money
   * (their upper cost, in billionths of PRICE_CURRENCY) in the daily spend. A consume that would
   * take a window over its limit is refused and given back, so racing requests cannot together
   * overrun it. The answer's bound is what the request asks, else the client's
   * `defaultAnswerTokens`, never more than what is left of the tightest window. Throws the
   * refusal; resolves with the reservation.
   */
  private async reserve(
    principal: Principal,
    prompt: number,
    asked: number | null,
    price: ModelPrice | null,
    choices: number,
  ): Promise<Reservation> {
    const limits = principal.limits;
    const windows: ReservedWindowSpec[] = [];
    if (limits.dailyTokens !== null) {
      windows.push({ kind: 'daily', limit: limits.dailyTokens, key: this.key('daily', principal), prompt, perToken: choices });
    }
    if (limits.tokensPerMinute !== null) {
      windows.push({ kind: 'tokens', limit: limits.tokensPerMinute, key: this.key('tokens', principal), prompt, perToken: choices });
    }
    if (limits.dailySpend !== null && price !== null) {
      windows.push({
        kind: 'spend',
        limit: Math.round(limits.dailySpend * NANOS),
        key: this.key('spend', principal),
        prompt: Math.ceil(prompt * price.inputPerMillionTokens * (NANOS / 1e6)),
        perToken: price.outputPerMillionTokens * (NANOS / 1e6) * choices,
      });
    }
    const wanted = asked ?? Math.min(limits.defaultAnswerTokens, limits.maxTokens ?? Number.POSITIVE_INFINITY);
    for (let attempt = 0; ; attempt++) {
      // How many answer tokens each window leaves once the prompt is in.
      const rooms = await Promise.all(
        windows.map(async (window) => {
          const used = await this.used(window.kind, window.limit, window.key);
          const left = window.limit - used.points - window.prompt;
          return {
            ...window,
            room: window.perToken === 0 ? (left >= 0 ? Number.POSITIVE_INFINITY : -1) : Math.floor(left / window.perToken),
            msBeforeNext: used.msBeforeNext,
          };
        }),
      );
      const tightest = rooms.reduce((a, b) => (b.room < a.room ? b : a));
      if (tightest.room < MIN_ANSWER_TOKENS || attempt === MAX_RESERVE_ATTEMPTS) this.refuseReservation(tightest, prompt);
      const bound = Math.min(wanted, tightest.room);
      const taken: ReservedWindow[] = [];
      let raced = false;
      for (const window of windows) {
        const points = window.prompt + Math.ceil(bound * window.perToken);
        const result = await this.take(window.kind, window.limit, window.key, points);
        if ('refusedFor' in result) {
          raced = true;
          break;
        }
        taken.push({ ...window, points, windowEndsAt: Date.now() + result.msBeforeNext });
      }
      if (!raced) return { bound, windows: taken };
      // Another request reserved in between: give this attempt's share back and look again.
      for (const window of taken) this.give(window.kind, window.limit, window.key, window.points);
    }
  }

  /** The refusal when the tightest window leaves less than MIN_ANSWER_TOKENS for the answer. */
  private refuseReservation(tightest: { kind: ReservedKind; limit: number; msBeforeNext: number }, prompt: number): never {
    if (tightest.kind === 'spend') {
      this.refuse(
        'dailySpend',
        new BudgetExceededError(
          `This client's daily spend limit (${tightest.limit / NANOS} ${this.currency}) is spent; it renews at ${nextUtcMidnight().toISOString()}.`,
          ErrorSource.SERVICE,
        ),
      );
    }
    if (tightest.kind === 'daily') {
      this.refuse(
        'dailyTokens',
        new BudgetExceededError(
          `This client's daily token budget (${tightest.limit}) is spent; it renews at ${nextUtcMidnight().toISOString()}.`,
          ErrorSource.SERVICE,
        ),
      );
    }
    this.refuse(
      'tokensPerMinute',
      new RateLimitError(
        `Too many tokens: at most ${tightest.limit} per minute for this client (this request's prompt is about ${prompt}, and the rest of the minute leaves too little for an answer).`,
        ErrorSource.SERVICE,
        seconds(tightest.msBeforeNext || 60_000),
        'TOKENS',
      ),
    );
  }

  /**
   * Checks every limit for one operation and counts it. Throws the refusal as a `DomainError`
   * (nothing counted then); resolves with the admission.
   */
  async admit(principal: Principal, input: ChatRequest, stream: boolean, price: ModelPrice | null = null): Promise<Admission> {
    const limits = principal.limits;
    if (!this.isModelAllowed(principal, input.model)) {
      this.refuse('model', new PermissionDeniedError(`This client may not use the model "${input.model}".`, ErrorSource.SERVICE));
    }
    if (limits.dailySpend !== null && price === null) {
      this.refuse(
        'model',
        new PermissionDeniedError(
          `This client has a daily spend limit, and the model "${input.model}" has no price: its cost could not be bounded. Use a priced model.`,
          ErrorSource.SERVICE,
        ),
      );
    }
    // Each of the n choices is an answer of its own.
    const choices = input.n ?? 1;
    const ceiling = limits.maxTokens;
    const asked = input.maxCompletionTokens ?? input.maxTokens ?? null;
    const boundField = input.maxCompletionTokens === undefined || input.maxCompletionTokens === null ? 'maxTokens' : 'maxCompletionTokens';
    if (ceiling !== null && asked !== null && asked > ceiling) {
      const param = `input.${boundField}`;
      this.refuse(
        'maxTokens',
        new InvalidRequestError(
          `At most ${ceiling} tokens may be asked for (${param} is ${asked}).`,
          ErrorSource.SERVICE,
          param,
          'max_tokens_exceeded',
        ),
      );
    }
    const prompt = estimatePromptTokens(input);
    if (limits.tokensPerMinute !== null && prompt + MIN_ANSWER_TOKENS > limits.tokensPerMinute) {
      this.refuse(
        'tokensPerMinute',
        new InvalidRequestError(
          `The prompt is about ${prompt} tokens: with an answer it can never fit in this client's ${limits.tokensPerMinute} tokens per minute. Send fewer or shorter messages.`,
          ErrorSource.SERVICE,
          'input.messages',
          'prompt_too_large',
        ),
      );
    }
    if (limits.dailyTokens === 0) {
      this.refuse(
        'dailyTokens',
        new BudgetExceededError(
          `This client's daily token budget (0) is spent; it renews at ${nextUtcMidnight().toISOString()}.`,
          ErrorSource.SERVICE,
        ),
      );
    }
    // Anonymous callers (AUTH_MODE=none) keep their own `user`; everyone else is named upstream,
    // so that the upstream's per-user budgets cannot be dodged by choosing a `user`.
    const user = principal.id === ANONYMOUS ? input.user : input.user ? `${principal.id}:${input.user}` : principal.id;

    const taken: Array<[Kind, number, string, number]> = [];
    const undo = () => {
      for (const [kind, limit, key, points] of taken) this.give(kind, limit, key, points);
    };
    try {
      if (limits.requestsPerMinute !== null) {
        const key = this.key('requests', principal);
        const result = await this.take('requests', limits.requestsPerMinute, key, 1);
        if ('refusedFor' in result)
          this.refuse(
            'requestsPerMinute',
            new RateLimitError(
              `Too many requests: at most ${limits.requestsPerMinute} per minute for this client.`,
              ErrorSource.SERVICE,
              seconds(result.refusedFor),
              'REQUESTS',
            ),
          );
        taken.push(['requests', limits.requestsPerMinute, key, 1]);
      }
      if (stream && limits.concurrentStreams !== null) {
        const key = this.key('streams', principal);
        const result = await this.take('streams', limits.concurrentStreams, key, 1);
        // When a stream ends is unknown: no retry-after rather than a made-up one.
        if ('refusedFor' in result)
          this.refuse(
            'concurrentStreams',
            new RateLimitError(
              `Too many live streams: at most ${limits.concurrentStreams} at once for this client; retry when one has ended.`,
              ErrorSource.SERVICE,
              null,
              'CONCURRENT_STREAMS',
            ),
          );
        taken.push(['streams', limits.concurrentStreams, key, 1]);
      }
      const bounded = limits.dailyTokens !== null || limits.tokensPerMinute !== null || limits.dailySpend !== null;
      const reservation = bounded ? await this.reserve(principal, prompt, asked, price, choices) : null;
      // The answer's bound goes upstream when it is tighter than what the request asks: a
      // client with a token or spend limit never gets more than it has left.
      const bound = reservation?.bound ?? (asked === null ? ceiling : null);
      const sent: ChatRequest = {
        ...input,
        user,
        ...(bound !== null && (asked === null || bound < asked) ? { [boundField]: bound } : {}),
      };
      let settled = false;
      return {
        input: sent,
        settle: (tokens, cost = null) => {
          if (settled) return;
          settled = true;
          for (const [kind, limit, key, points] of taken) if (kind === 'streams') this.give(kind, limit, key, points);
          // Without a spend limit, spend is still counted, for the viewer's `spentToday`.
          if (limits.dailySpend === null && cost !== null && cost > 0) {
            this.give('spend', UNLIMITED_SPEND, this.key('spend', principal), -Math.round(cost * NANOS));
          }
          if (reservation === null) return;
          const now = Date.now();
          for (const window of reservation.windows) {
            // Unknown usage (a cancelled call): the reservation stands.
            const used = window.kind === 'spend' ? (cost === null ? null : Math.round(cost * NANOS)) : tokens;
            const refund = window.points - (used ?? window.points);
            // The daily keys name their day, so a refund after midnight still reaches the day it was
            // reserved in; a minute window that has turned is gone, refunds and overruns with it.
            if (window.kind === 'tokens' && now >= window.windowEndsAt) continue;
            this.give(window.kind, window.limit, window.key, refund);
          }
        },
      };
    } catch (error) {
      undo();
      throw error;
    }
  }

  /**
   * Counts a graphql-ws connection against the client's maxConnections: resolves with the release
   * to call when it closes, or null when the client has that many open. In memory (one process)
   * and in the primary (workers) the count is exact, and a dead worker's connections are given
   * back by the primary. In Redis it is a window, like live streams': a dead replica's connections
   * hold their slots until it turns (an hour), and a connection open across the turn is no longer
   * counted (its release is then skipped, rather than given to the next window).
   */
  async openConnection(principal: Principal): Promise<ConnectionRelease | null> {
    const max = principal.limits.maxConnections;
    if (this.connections) return this.connections.open(principal.id, max ?? UNLIMITED_CONNECTIONS);
    if (max === null) return () => undefined;
    const key = this.key('connections', principal);
    const result = await this.take('connections', max, key, 1);
    if ('refusedFor' in result) return null;
    const windowEndsAt = Date.now() + result.msBeforeNext;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (Date.now() < windowEndsAt) this.give('connections', max, key, 1);
    };
  }

  /** What is left of each of the client's limits, for the `viewer` query. */
  async status(principal: Principal): Promise<ViewerLimits> {
    const limits = principal.limits;
    const read = async (kind: Kind, limit: number | null): Promise<LimitStatus | null> => {
      if (limit === null) return null;
      const state = await this.limiter(kind, limit)
        .get(this.key(kind, principal))
        .catch(() => null);
      const consumed = Math.max(0, state?.consumedPoints ?? 0);
      const resetsAt =
        kind === 'daily' ? nextUtcMidnight() : state && kind !== 'streams' ? new Date(Date.now() + state.msBeforeNext) : null;
      return { limit, remaining: Math.max(0, limit - consumed), resetsAt };
    };
    // Spend is counted whether or not the client has a limit, so that `spentToday` always says.
    const spendLimit = limits.dailySpend === null ? UNLIMITED_SPEND : Math.round(limits.dailySpend * NANOS);
    const [requestsPerMinute, tokensPerMinute, concurrentStreams, dailyTokens, spent] = await Promise.all([
      read('requests', limits.requestsPerMinute),
      read('tokens', limits.tokensPerMinute),
      read('streams', limits.concurrentStreams),
      read('daily', limits.dailyTokens),
      this.limiter('spend', spendLimit)
        .get(this.key('spend', principal))
        .then((state) => Math.max(0, state?.consumedPoints ?? 0) / NANOS)
        .catch(() => 0),
    ]);
    const currency = this.currency;
    const dailySpend =
      limits.dailySpend === null
        ? null
        : { limit: limits.dailySpend, remaining: Math.max(0, limits.dailySpend - spent), currency, resetsAt: nextUtcMidnight() };
    return { requestsPerMinute, tokensPerMinute, concurrentStreams, dailyTokens, dailySpend, spentToday: { amount: spent, currency } };
  }
}
