/**
 * `GET /models`, cached for MODELS_CACHE_MS and shared by concurrent callers, so that a page load
 * of many clients costs one upstream call. The last outcome doubles as the upstream's health
 * report in `/readyz`.
 */
import type OpenAI from 'openai';

import { type DomainError, ErrorSource, InvalidRequestError, UpstreamUnavailableError } from '../errors.js';
import { CallAborted, type CallContext, callWithRetry } from './call.js';
import type { WireModel } from './wire.js';

export interface UpstreamHealth {
  /** Whether the last `GET /models` succeeded; null until the first call has finished. */
  ok: boolean | null;
  checkedAt: string | null;
  /** The error type of the last failure, e.g. `AuthenticationError`. */
  lastError: string | null;
}

export interface ModelsServiceDeps extends CallContext {
  client: OpenAI;
  cacheMs: number;
}

export class ModelsService {
  private cached: { models: WireModel[]; expiresAt: number } | null = null;
  private inFlight: Promise<WireModel[]> | null = null;
  private readonly stopping = new AbortController();
  readonly health: UpstreamHealth = { ok: null, checkedAt: null, lastError: null };

  constructor(private readonly deps: ModelsServiceDeps) {}

  /** The upstream's models. Throws a `ChatQLError`. */
  list(): Promise<WireModel[]> {
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

  /** Aborts a call in flight (at shutdown). */
  close(): void {
    this.stopping.abort();
  }

  private async fetch(): Promise<WireModel[]> {
    try {
      const page = await callWithRetry(this.deps, 'models', this.stopping.signal, () =>
        this.deps.client.models.list({ signal: this.stopping.signal }),
      );
      const models = (page.data as unknown as WireModel[]).filter((model) => typeof model?.id === 'string');
      this.record(null);
      this.cached = { models, expiresAt: performance.now() + this.deps.cacheMs };
      return models;
    } catch (error) {
      const mapped =
        error instanceof CallAborted
          ? new UpstreamUnavailableError('The service is shutting down; retry the request.', ErrorSource.SERVICE)
          : error instanceof InvalidRequestError
            ? // ModelsResult has no InvalidRequestError: a 4xx on a bodiless GET is the upstream's fault.
              new UpstreamUnavailableError(error.message, ErrorSource.UPSTREAM, null, false)
            : (error as DomainError);
      this.record(mapped);
      throw mapped;
    }
  }

  private record(error: DomainError | null): void {
    this.health.ok = error === null;
    this.health.checkedAt = new Date().toISOString();
    this.health.lastError = error?.name ?? null;
  }
}
