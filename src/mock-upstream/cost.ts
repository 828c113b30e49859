/**
 * What the mock's priced models cost, and how they report it the way a LiteLLM proxy does: the
 * `x-litellm-response-cost` header on a whole answer, `usage.cost` in a stream's usage chunk.
 * Pure, so that a test computes the figure it expects with the very function the mock uses.
 */

/** A model's prices, per million tokens (LiteLLM's `model_info` gives them per token). */
export interface MockPrice {
  readonly input: number;
  readonly output: number;
  /** Cached prompt tokens; the input price where there is none. */
  readonly cachedInput?: number;
}

/** The token counts a cost is computed from: a subset of the usage object, so the SDK's `CompletionUsage` fits. */
export interface TokenCounts {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly prompt_tokens_details?: { readonly cached_tokens?: number } | null;
}

/**
 * What `usage` costs at `price`: uncached prompt tokens at the input price, cached ones at the
 * cached price, completion tokens (reasoning included) at the output price. Rounded to 1e-12, so
 * that float noise never reaches the header text.
 */
export function mockCost(price: MockPrice, usage: TokenCounts): number {
  const cached = Math.min(usage.prompt_tokens, usage.prompt_tokens_details?.cached_tokens ?? 0);
  const amount =
    ((usage.prompt_tokens - cached) * price.input + cached * (price.cachedInput ?? price.input) + usage.completion_tokens * price.output) /
    1e6;
  return Math.round(amount * 1e12) / 1e12;
}

/**
 * The header text of a cost: a plain decimal number (no exponent, which `String(6e-7)` would give),
 * parsing back to the same number.
 */
export function formatCost(cost: number): string {
  return cost.toFixed(12).replace(/\.?0+$/, '');
}
