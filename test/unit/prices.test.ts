import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { boundCost, computeCost, loadPricesFile, PriceTable, pricesFromModelInfo, reportedCost } from '../../src/pricing/prices.js';

const dir = mkdtempSync(join(tmpdir(), 'chatql-prices-'));
function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('MODEL_PRICES_FILE', () => {
  it('reads model ids and prefix* patterns, the cached price optional', () => {
    const loaded = loadPricesFile(
      file(
        'ok.json',
        JSON.stringify({
          'gpt-4o': { inputPerMillionTokens: 2.5, outputPerMillionTokens: 10, cachedInputPerMillionTokens: 1.25 },
          'claude-*': { inputPerMillionTokens: 3, outputPerMillionTokens: 15 },
        }),
      ),
    );
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect(loaded.prices.get('gpt-4o')).toEqual({
      inputPerMillionTokens: 2.5,
      outputPerMillionTokens: 10,
      cachedInputPerMillionTokens: 1.25,
    });
    expect(loaded.prices.get('claude-*')?.cachedInputPerMillionTokens).toBeNull();
  });

  it.each([
    ['a missing file', null, /does not exist/],
    ['invalid JSON', '{"gpt-4o": ', /is not readable JSON/],
    ['a negative price', JSON.stringify({ m: { inputPerMillionTokens: -1, outputPerMillionTokens: 1 } }), /m\.inputPerMillionTokens/],
    ['a missing price', JSON.stringify({ m: { inputPerMillionTokens: 1 } }), /m\.outputPerMillionTokens/],
    ['an unknown field', JSON.stringify({ m: { inputPerMillionTokens: 1, outputPerMillionTokens: 1, input: 3 } }), /m: .*input/i],
    ['not an object', '[1, 2]', /MODEL_PRICES_FILE/],
  ])('names the problem: %s', (_name, content, problem) => {
    const path = content === null ? join(dir, 'absent.json') : file(`bad-${_name.replaceAll(' ', '-')}.json`, content);
    const loaded = loadPricesFile(path);
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    expect(loaded.problems.join('\n')).toMatch(problem);
    expect(loaded.problems.join('\n')).toContain(path);
  });
});

describe('PriceTable', () => {
  const price = (input: number) => ({ inputPerMillionTokens: input, outputPerMillionTokens: input * 4, cachedInputPerMillionTokens: null });

  it('an exact id wins over a pattern, the longest pattern over shorter ones, the file over the upstream', () => {
    const table = new PriceTable({
      currency: 'EUR',
      file: null,
      filePrices: new Map([
        ['gpt-*', price(1)],
        ['gpt-4o*', price(2)],
        ['gpt-4o-mini', price(3)],
      ]),
    });
    expect(table.priceOf('gpt-4o-mini')?.inputPerMillionTokens).toBe(3);
    expect(table.priceOf('gpt-4o-2024-08-06')?.inputPerMillionTokens).toBe(2);
    expect(table.priceOf('gpt-3.5-turbo')?.inputPerMillionTokens).toBe(1);
    expect(table.priceOf('claude-3')).toBeNull();
    table.setUpstreamPrices(
      new Map([
        ['claude-3', price(5)],
        ['gpt-4o-mini', price(9)],
      ]),
    );
    expect(table.priceOf('claude-3')?.inputPerMillionTokens).toBe(5);
    expect(table.priceOf('gpt-4o-mini')?.inputPerMillionTokens).toBe(3);
    expect(table.currency).toBe('EUR');
  });

  it("costOf: the upstream's figure wins; else the price table's; null when neither", () => {
    const table = new PriceTable({ currency: 'USD', file: null, filePrices: new Map([['m', price(1)]]) });
    const usage = { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 };
    expect(table.costOf('m', usage)).toEqual({ amount: 0.003, currency: 'USD', source: 'PRICE_TABLE' });
    expect(table.costOf('m', { ...usage, cost: 0.042 } as never)).toEqual({ amount: 0.042, currency: 'USD', source: 'UPSTREAM' });
    expect(table.costOf('m', usage, '0.0123')).toEqual({ amount: 0.0123, currency: 'USD', source: 'UPSTREAM' });
    expect(table.costOf('other', usage)).toBeNull();
    expect(table.costOf('other', usage, '0.5')?.source).toBe('UPSTREAM');
    expect(table.costOf('m', null)).toBeNull();
  });

  it('reload: a file with problems changes nothing', () => {
    const path = file('reload.json', JSON.stringify({ m: { inputPerMillionTokens: 1, outputPerMillionTokens: 2 } }));
    const loaded = loadPricesFile(path);
    if (!loaded.ok) throw new Error('expected the file to load');
    const table = new PriceTable({ currency: 'USD', file: path, filePrices: loaded.prices });
    writeFileSync(path, JSON.stringify({ m: { inputPerMillionTokens: 7, outputPerMillionTokens: 8 } }));
    expect(table.reload()?.ok).toBe(true);
    expect(table.priceOf('m')?.inputPerMillionTokens).toBe(7);
    writeFileSync(path, '{ broken');
    expect(table.reload()?.ok).toBe(false);
    expect(table.priceOf('m')?.inputPerMillionTokens).toBe(7);
    expect(new PriceTable({ currency: 'USD', file: null, filePrices: new Map() }).reload()).toBeNull();
  });
});

describe('cost arithmetic', () => {
  const gpt4o = { inputPerMillionTokens: 2.5, outputPerMillionTokens: 10, cachedInputPerMillionTokens: 1.25 };

  it('prompt minus cached at the input price, cached at the cached price, completion at the output price', () => {
    const usage = {
      prompt_tokens: 2000,
      completion_tokens: 300,
      prompt_tokens_details: { cached_tokens: 1500 },
      completion_tokens_details: { reasoning_tokens: 200 },
    };
    // 500 × 2.5 + 1500 × 1.25 + 300 × 10, per million
    expect(computeCost(gpt4o, usage)).toBe(0.006125);
  });

  it('cached tokens at the input price where the model has no cached price', () => {
    const usage = { prompt_tokens: 1000, completion_tokens: 0, prompt_tokens_details: { cached_tokens: 1000 } };
    expect(computeCost({ ...gpt4o, cachedInputPerMillionTokens: null }, usage)).toBe(0.0025);
  });

  it('cached tokens beyond the prompt are capped by it', () => {
    expect(computeCost(gpt4o, { prompt_tokens: 10, completion_tokens: 0, prompt_tokens_details: { cached_tokens: 50 } })).toBe(0.0000125);
  });

  it('boundCost: the prompt at the input price, the answer bound at the output price', () => {
    expect(boundCost(gpt4o, 1000, 100)).toBe(0.0035);
  });

  it('reportedCost: usage.cost, else the header; nothing that is not a finite, non-negative number', () => {
    expect(reportedCost({ cost: 0.5 } as never, '0.25')).toBe(0.5);
    expect(reportedCost({}, '0.25')).toBe(0.25);
    expect(reportedCost(null, '1e-5')).toBe(0.00001);
    expect(reportedCost({ cost: 'free' } as never, 'NaN')).toBeNull();
    expect(reportedCost({ cost: -1 } as never, '-2')).toBeNull();
    expect(reportedCost(undefined, null)).toBeNull();
  });
});

describe("LiteLLM's GET /model/info", () => {
  it('reads per-token prices as prices per million; entries without both prices are unpriced', () => {
    const prices = pricesFromModelInfo({
      data: [
        {
          model_name: 'gpt-4o',
          model_info: { input_cost_per_token: 2.5e-6, output_cost_per_token: 1e-5, cache_read_input_token_cost: 1.25e-6 },
        },
        { model_name: 'local-llama', model_info: { input_cost_per_token: null, output_cost_per_token: null } },
        { model_name: 'half', model_info: { input_cost_per_token: 1e-6 } },
        { model_info: { input_cost_per_token: 1e-6, output_cost_per_token: 1e-6 } },
        null,
      ],
    });
    expect([...prices.keys()]).toEqual(['gpt-4o']);
    expect(prices.get('gpt-4o')).toEqual({ inputPerMillionTokens: 2.5, outputPerMillionTokens: 10, cachedInputPerMillionTokens: 1.25 });
    expect(pricesFromModelInfo({ detail: 'Not found' }).size).toBe(0);
    expect(pricesFromModelInfo(null).size).toBe(0);
  });
});
