/**
 * Accessibility checks of a page with axe-core, for the browser tests. axe is injected with
 * `page.evaluate` (a DevTools evaluation, which the page's Content-Security-Policy does not
 * govern: an inline <script> it would refuse), then `axe.run` checks the whole document. No vitest
 * here: the caller asserts on what `axeViolations` returns and prints it with `formatViolations`.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

import type { Page } from 'playwright-core';

export type Impact = 'minor' | 'moderate' | 'serious' | 'critical';

/** One rule broken, with every element that breaks it. */
export interface Violation {
  id: string;
  impact: Impact | null;
  help: string;
  helpUrl: string;
  nodes: Array<{ target: unknown[]; failureSummary?: string; html: string }>;
}

let source: Promise<string> | undefined;

function axeSource(): Promise<string> {
  source ??= readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  return source;
}

/** Loads axe into the page's current document, unless it is there already; throws when it does not load. */
export async function injectAxe(page: Page): Promise<string> {
  const present = await page.evaluate(() => typeof (window as { axe?: { run?: unknown } }).axe?.run === 'function');
  if (!present) await page.evaluate(await axeSource());
  const version = await page.evaluate(() => (window as { axe?: { version?: string } }).axe?.version ?? null);
  if (version === null) throw new Error('axe-core did not load into the page');
  return version;
}

const SEVERE: ReadonlySet<Impact | null> = new Set(['serious', 'critical']);

/**
 * Runs axe on the whole document and returns its violations of impact serious or critical (all of
 * them with `{ all: true }`).
 */
export async function axeViolations(page: Page, options: { all?: boolean } = {}): Promise<Violation[]> {
  await injectAxe(page);
  const violations = (await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: unknown[] }> } }).axe;
    const results = await axe.run(document, { resultTypes: ['violations'] });
    return results.violations;
  })) as Violation[];
  return options.all ? violations : violations.filter((violation) => SEVERE.has(violation.impact));
}

/**
 * Violations found in several variants of a page (light, dark, narrow...), merged into lines a
 * person can act on: each rule once (impact, what it wants, its documentation), then the elements
 * that break it, grouped by why and in which variants. Empty when there are none.
 */
export function formatViolations(found: ReadonlyArray<{ where: string; violations: readonly Violation[] }>): string {
  // rule id -> element -> { why, html, variants }
  const rules = new Map<string, { heading: string; nodes: Map<string, { why: string; html: string; where: string[] }> }>();
  for (const { where, violations } of found) {
    for (const violation of violations) {
      const rule = rules.get(violation.id) ?? {
        heading: `${violation.id} (${violation.impact ?? 'no impact'}): ${violation.help} <${violation.helpUrl}>`,
        nodes: new Map(),
      };
      rules.set(violation.id, rule);
      for (const node of violation.nodes) {
        const target = node.target.map(String).join(' ');
        const entry = rule.nodes.get(target) ?? {
          why: (node.failureSummary ?? '').replace(/\s*\n\s*/g, ' '),
          html: node.html.slice(0, 160),
          where: [],
        };
        rule.nodes.set(target, entry);
        if (!entry.where.includes(where)) entry.where.push(where);
      }
    }
  }
  const lines: string[] = [];
  for (const { heading, nodes } of rules.values()) {
    lines.push(heading);
    // Elements failing for the same reason in the same variants: one entry.
    const groups = new Map<string, { why: string; where: string[]; elements: string[] }>();
    for (const [target, node] of nodes) {
      const key = `${node.why}\u0000${node.where.join('\u0000')}`;
      const group = groups.get(key) ?? { why: node.why, where: node.where, elements: [] };
      groups.set(key, group);
      group.elements.push(`${target}  ${node.html}`);
    }
    for (const group of groups.values()) {
      lines.push(`  in: ${group.where.join('; ')}`, `  why: ${group.why}`, ...group.elements.map((element) => `    - ${element}`));
    }
  }
  return lines.join('\n');
}
