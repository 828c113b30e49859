/** WORKERS: how many processes serve PORT (src/cluster/), read and checked with the rest of the configuration. */
import { availableParallelism } from 'node:os';

import { describe, expect, it } from 'vitest';

import { ok, problems } from '../utils/config.js';

describe('WORKERS', () => {
  it('is 1 by default (one process, no cluster), a whole number when set, and one per core with auto', () => {
    expect(ok({}).workers).toBe(1);
    expect(ok({ WORKERS: '4' }).workers).toBe(4);
    expect(ok({ WORKERS: ' 2 ' }).workers).toBe(2);
    expect(ok({ WORKERS: 'auto' }).workers).toBe(availableParallelism());
    expect(ok({ WORKERS: '' }).workers, 'empty counts as unset').toBe(1);
  });

  it('refuses anything else, saying what it takes', () => {
    for (const raw of ['0', '-1', '1.5', 'two', 'AUTO', '1025']) {
      expect(problems({ WORKERS: raw })).toEqual([
        `WORKERS must be a whole number from 1 to 1024, or auto for one per core (got "${raw}")`,
      ]);
    }
  });
});
