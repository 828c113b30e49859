/**
 * `GET /models`, cached for MODELS_CACHE_MS and shared by concurrent callers, so that a page load
 * of many clients costs one upstream call. The last outcome doubles as the upstream's health
 * report in `/readyz`.
 */
import { createHash } from 'node:crypto';

import { AuthenticationError, type DomainError, ErrorSource, InvalidRequestError, UpstreamUnavailableError } from '../errors.js';
import { redactingAlso } from '../redact.js';
import { listModels } from '../upstream/api.js';
import { CallAborted, type CallContext, callWithRetry } from '../upstream/call.js';
import type { RejectedKeys } from '../upstream/rejected-keys.js';
import type { UpstreamTarget } from '../upstream/targets.js';
import type { WireModel } from '../upstream/wire.js';
import type { ModelPrice, PriceTable } from '../pricing/prices.js';
import type { UpstreamPrices } from '../pricing/upstream-prices.js';

export interface UpstreamHealth {
  /** Whether the last `GET /models` succeeded; null until the first call has finished. */
  ok: boolean | null;
  checkedAt: string | null;
  /** The error type of the last failure, e.g. `AuthenticationError`. */
  lastError: string | null;
}

export interface ModelsServiceDeps extends CallContext {
  /** The primary: the models query stays on it, so that /readyz reports what the upstream itself says. */
  target: UpstreamTarget;
  cacheMs: number;
  /** AUTH_MODE=forward: keys the upstream refused lately, refused here without a call. */
  rejectedKeys?: RejectedKeys;
  /** What each model costs, for `Model.pricing`. */
  prices?: PriceTable;
  /** UPSTREAM_PRICES=litellm: the proxy's prices, read again with the list when stale. */
  upstreamPrices?: UpstreamPrices;
}

/** Keys whose model lists are kept at once (AUTH_MODE=forward). */
const MAX_CACHED_KEYS = 1000;

export class ModelsService {
  private cached: { models: WireModel[]; expiresAt: number } | null = null;
  /** AUTH_MODE=forward: each client key's own list, by the key's hash; bounded. */
  private readonly byKey = new Map<string, { models: WireModel[]; expiresAt: number }>();
  private inFlight: Promise<WireModel[]> | null = null;
  private readonly stopping = new AbortController();
  readonly health: UpstreamHealth = { ok: null, checkedAt: null, lastError: null };

  constructor(private readonly deps: ModelsServiceDeps) {}

  /**
   * The upstream's models. Throws a `ChatQLError`. With `apiKey` (AUTH_MODE=forward), the list that
   * key sees, cached per key; it does not count towards the upstream's health.
   */
  list(apiKey: string | null = null): Promise<WireModel[]> {
    // The proxy's prices are read beside the list, so that `pricing` is as fresh as the models.
    const prices = this.deps.upstreamPrices?.refresh();
    return prices ? Promise.all([this.listModels(apiKey), prices]).then(([models]) => models) : this.listModels(apiKey);
  }

  /** What `model` costs per million tokens; null when it has no price. */
  priceOf(model: string): (ModelPrice & { currency: string }) | null {
    const table = this.deps.prices;
    const price = table?.priceOf(model);
    return table && price ? { ...price, currency: table.currency } : null;
  }

  private listModels(apiKey: string | null): Promise<WireModel[]> {
    if (apiKey !== null) return this.listFor(apiKey);
    if (this.cached && this.cached.expiresAt > performance.now()) return Promise.resolve(this.cached.models);
    this.inFlight ??= this.fetch().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** The last list fetched, however old, without calling the upstream; null before the first. */
  peek(): WireModel[] | null {
    return this.cached?.models ?? null;
  }

  private async listFor(apiKey: string): Promise<WireModel[]> {
    const id = createHash('sha256').update(apiKey).digest('base64');
    const cached = this.byKey.get(id);
    if (cached && cached.expiresAt > performance.now()) return cached.models;
    const rejected = this.deps.rejectedKeys?.check(apiKey);
    if (rejected) throw rejected;
    let models: WireModel[];
    try {
      models = await this.request(apiKey);
    } catch (error) {
      if (error instanceof AuthenticationError && error.source === ErrorSource.UPSTREAM) this.deps.rejectedKeys?.remember(apiKey, error);
      throw error;
    }
    if (this.byKey.size >= MAX_CACHED_KEYS) this.byKey.delete(this.byKey.keys().next().value!);
    this.byKey.set(id, { models, expiresAt: performance.now() + this.deps.cacheMs });
    return models;
  }

  /** Aborts a call in flight (at shutdown). */
  close(): void {
    this.stopping.abort();
  }

  private async fetch(): Promise<WireModel[]> {
    try {
      const models = await this.request(null);
      this.record(null);
      this.cached = { models, expiresAt: performance.now() + this.deps.cacheMs };
      return models;
    } catch (error) {
      this.record(error as DomainError);
      throw error;
    }
  }

  /** One `GET /models`, with the server's key or `apiKey`. Throws a mapped `DomainError`. */
  private async request(apiKey: string | null): Promise<WireModel[]> {
    const signal = this.stopping.signal;
    // An upstream may quote a client's key in its refusal: redact it too.
    const context = apiKey === null ? this.deps : { ...this.deps, redact: redactingAlso(this.deps.redact, apiKey) };
    try {
      return await callWithRetry(context, 'models', signal, () => listModels(this.deps.target, signal, apiKey));
    } catch (error) {
      throw this.mapFailure(error);
    }
  }

  private mapFailure(error: unknown): DomainError {
    return error instanceof CallAborted
      ? new UpstreamUnavailableError('The service is shutting down; retry the request.', ErrorSource.SERVICE)
      : error instanceof InvalidRequestError
        ? // ModelsResult has no InvalidRequestError: a 4xx on a bodiless GET is the upstream's fault.
          new UpstreamUnavailableError(error.message, ErrorSource.UPSTREAM, null, false)
        : (error as DomainError);
  }

  private record(error: DomainError | null): void {
    this.health.ok = error === null;
    this.health.checkedAt = new Date().toISOString();
    this.health.lastError = error?.name ?? null;
  }
}
