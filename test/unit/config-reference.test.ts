/**
 * The configuration reference (docs/configuration.md) against the configuration schema
 * (`CONFIG_VARIABLES` in src/config.ts): every variable the service reads is documented, and
 * every documented variable is one it reads.
 */
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { CONFIG_VARIABLES } from '../../src/config.js';

const reference = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

/** The variables of the reference's tables: the backticked name opening each row. */
const documented = [...reference.matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`/gm)].map((match) => match[1]!);

describe('docs/configuration.md', () => {
  it('documents every variable the configuration schema reads', () => {
    expect(CONFIG_VARIABLES.filter((name) => !documented.includes(name))).toEqual([]);
  });

  it('documents no variable the service does not read', () => {
    expect(documented.filter((name) => !CONFIG_VARIABLES.includes(name))).toEqual([]);
  });

  it('documents each variable once', () => {
    expect(documented.filter((name, index) => documented.indexOf(name) !== index)).toEqual([]);
  });
});
