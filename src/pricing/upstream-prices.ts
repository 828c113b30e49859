/**
 * UPSTREAM_PRICES=litellm: the prices a LiteLLM proxy publishes (`GET /model/info`), read at
 * start-up and again when they are older than MODELS_CACHE_MS (in the background: a lookup never
 * waits for the upstream). A proxy that refuses the call is logged once, and the file alone is used.
 */
import type { Logger } from '../logger.js';
import { modelInfo } from '../upstream/api.js';
import type { UpstreamTarget } from '../upstream/targets.js';
import { type PriceTable, pricesFromModelInfo } from './prices.js';

export class UpstreamPrices {
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | null = null;
  private refused = false;
  private readonly stopping = new AbortController();

  constructor(private readonly deps: { target: UpstreamTarget; table: PriceTable; logger: Logger; cacheMs: number }) {}

  /** Reads the proxy's prices when they are stale; resolves when that read has ended, however. */
  refresh(): Promise<void> {
    if (performance.now() - this.fetchedAt < this.deps.cacheMs) return Promise.resolve();
    this.inFlight ??= this.fetch().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async fetch(): Promise<void> {
    try {
      const prices = pricesFromModelInfo(await modelInfo(this.deps.target, this.stopping.signal));
      this.deps.table.setUpstreamPrices(prices);
      this.refused = false;
      this.deps.logger.debug({ models: prices.size }, 'upstream prices read (GET /model/info)');
    } catch (error) {
      if (!this.refused && !this.stopping.signal.aborted) {
        this.refused = true;
        this.deps.logger.warn(
          { error: error instanceof Error ? error.message.split('\n', 1)[0] : String(error) },
          'UPSTREAM_PRICES=litellm: the upstream did not answer GET /model/info; only MODEL_PRICES_FILE prices models',
        );
      }
    } finally {
      this.fetchedAt = performance.now();
    }
  }

  close(): void {
    this.stopping.abort();
  }
}
