/**
 * What each model costs, and what each request cost. Prices come from MODEL_PRICES_FILE (model ids
 * or `prefix*` patterns, per million tokens) and, with UPSTREAM_PRICES=litellm, from the proxy's
 * `GET /model/info`; the file wins where both price a model. One currency per deployment
 * (PRICE_CURRENCY): every price and every spend limit is in it.
 *
 * A request's cost is the upstream's own figure where it reports one (LiteLLM's
 * `x-litellm-response-cost` header, `usage.cost` in a body or a stream's last chunk), otherwise
 * computed: prompt tokens minus cached ones at the input price, cached ones at the cached price
 * (the input price where there is none), completion tokens (reasoning included) at the output price.
 */
import { readFileSync } from 'node:fs';

import { z } from 'zod';

import type { WireUsage } from '../upstream/wire.js';
import type { Cost } from './cost.js';

export type { Cost } from './cost.js';

export interface ModelPrice {
  inputPerMillionTokens: number;
  outputPerMillionTokens: number;
  cachedInputPerMillionTokens: number | null;
}

const price = z.number().finite().min(0);
const entrySchema = z
  .object({ inputPerMillionTokens: price, outputPerMillionTokens: price, cachedInputPerMillionTokens: price.optional() })
  .strict();
const fileSchema = z.record(z.string().min(1).max(256), entrySchema);

export type PricesFileResult = { ok: true; prices: Map<string, ModelPrice> } | { ok: false; problems: string[] };

/** Reads MODEL_PRICES_FILE; every problem is reported with its place in the file. */
export function loadPricesFile(path: string): PricesFileResult {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `is not readable JSON: ${(error as Error).message}`;
    return { ok: false, problems: [`MODEL_PRICES_FILE ${path} ${why}`] };
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map(
        (issue) => `MODEL_PRICES_FILE ${path}: ${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`,
      ),
    };
  }
  const prices = new Map<string, ModelPrice>();
  for (const [model, entry] of Object.entries(parsed.data)) {
    prices.set(model, {
      inputPerMillionTokens: entry.inputPerMillionTokens,
      outputPerMillionTokens: entry.outputPerMillionTokens,
      cachedInputPerMillionTokens: entry.cachedInputPerMillionTokens ?? null,
    });
  }
  return { ok: true, prices };
}

/** An exact id wins over a pattern, the longest pattern over shorter ones. */
function lookup(prices: ReadonlyMap<string, ModelPrice>, model: string): ModelPrice | null {
  const exact = prices.get(model);
  if (exact) return exact;
  let best: { length: number; price: ModelPrice } | null = null;
  for (const [pattern, entry] of prices) {
    if (!pattern.endsWith('*')) continue;
    const prefix = pattern.slice(0, -1);
    if (model.startsWith(prefix) && (best === null || prefix.length > best.length)) best = { length: prefix.length, price: entry };
  }
  return best?.price ?? null;
}

/** A cost rounded to a billionth of the currency, so that sums do not show float noise. */
function rounded(amount: number): number {
  return Math.round(amount * 1e9) / 1e9;
}

/** The cost of `usage` at `price`. */
export function computeCost(price: ModelPrice, usage: WireUsage): number {
  const prompt = usage.prompt_tokens ?? 0;
  const cached = Math.min(prompt, usage.prompt_tokens_details?.cached_tokens ?? 0);
  const completion = usage.completion_tokens ?? 0;
  const cachedPrice = price.cachedInputPerMillionTokens ?? price.inputPerMillionTokens;
  return rounded(
    ((prompt - cached) * price.inputPerMillionTokens + cached * cachedPrice + completion * price.outputPerMillionTokens) / 1e6,
  );
}

/** The most a request can cost: its prompt's estimate at the input price, its answer bound at the output price. */
export function boundCost(price: ModelPrice, promptTokens: number, answerTokens: number): number {
  return rounded((promptTokens * price.inputPerMillionTokens + answerTokens * price.outputPerMillionTokens) / 1e6);
}

/** The upstream's own figure of what the answer cost: a header, or `usage.cost`. */
export function reportedCost(usage: WireUsage | null | undefined, header: string | null | undefined): number | null {
  const fromUsage = (usage as { cost?: unknown } | null | undefined)?.cost;
  if (typeof fromUsage === 'number' && Number.isFinite(fromUsage) && fromUsage >= 0) return fromUsage;
  const fromHeader = header === null || header === undefined ? Number.NaN : Number.parseFloat(header);
  return Number.isFinite(fromHeader) && fromHeader >= 0 ? fromHeader : null;
}

export interface PriceTableOptions {
  currency: string;
  /** MODEL_PRICES_FILE, read again by `reload`; null: none. */
  file: string | null;
  /** The prices read from the file at start-up. */
  filePrices: Map<string, ModelPrice>;
}

export class PriceTable {
  private filePrices: Map<string, ModelPrice>;
  /** UPSTREAM_PRICES=litellm: what the proxy said last, by model id. */
  private upstreamPrices = new Map<string, ModelPrice>();

  constructor(private readonly options: PriceTableOptions) {
    this.filePrices = options.filePrices;
  }

  get currency(): string {
    return this.options.currency;
  }

  /** The price of `model`: the file's (exact, then the longest pattern), else the upstream's; null when unpriced. */
  priceOf(model: string): ModelPrice | null {
    return lookup(this.filePrices, model) ?? lookup(this.upstreamPrices, model);
  }

  /** Replaces what the upstream said (UPSTREAM_PRICES=litellm). */
  setUpstreamPrices(prices: Map<string, ModelPrice>): void {
    this.upstreamPrices = prices;
  }

  /** What an answer of `model` cost: the upstream's figure when it gave one, else the price table's; null when neither. */
  costOf(model: string, usage: WireUsage | null | undefined, header?: string | null): Cost | null {
    const reported = reportedCost(usage, header);
    if (reported !== null) return { amount: rounded(reported), currency: this.currency, source: 'UPSTREAM' };
    const price = this.priceOf(model);
    if (!price || !usage) return null;
    return { amount: computeCost(price, usage), currency: this.currency, source: 'PRICE_TABLE' };
  }

  /** SIGHUP: reads MODEL_PRICES_FILE again; a file with problems changes nothing. */
  reload(): PricesFileResult | null {
    if (this.options.file === null) return null;
    const loaded = loadPricesFile(this.options.file);
    if (loaded.ok) this.filePrices = loaded.prices;
    return loaded;
  }
}

/** LiteLLM's `GET /model/info` entries as prices per million tokens. */
export function pricesFromModelInfo(body: unknown): Map<string, ModelPrice> {
  const prices = new Map<string, ModelPrice>();
  const data = (body as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return prices;
  const perMillion = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value * 1e6 : null);
  for (const entry of data as Array<{ model_name?: unknown; model_info?: Record<string, unknown> | null }>) {
    if (typeof entry?.model_name !== 'string' || !entry.model_info) continue;
    const input = perMillion(entry.model_info.input_cost_per_token);
    const output = perMillion(entry.model_info.output_cost_per_token);
    if (input === null || output === null) continue;
    prices.set(entry.model_name, {
      inputPerMillionTokens: Math.round(input * 1e6) / 1e6,
      outputPerMillionTokens: Math.round(output * 1e6) / 1e6,
      cachedInputPerMillionTokens: (() => {
        const cached = perMillion(entry.model_info.cache_read_input_token_cost);
        return cached === null ? null : Math.round(cached * 1e6) / 1e6;
      })(),
    });
  }
  return prices;
}
