/**
 * The bench's output: an aligned plain-text table (each figure beside its target), the raw results
 * as JSON, and a chart drawn by hand as SVG (no dependency).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Figure } from './phase.js';

export interface Meta {
  mode: 'quick' | 'full';
  startedAt: string;
  cpu: string;
  cores: number;
  node: string;
  pinning: string;
  /** The commit measured, and whether src/ differed from it when the build ran. */
  commit: string;
  srcDirty: boolean;
  elapsedSeconds?: number;
}

export interface PhaseOutcome {
  status: 'ok' | 'failed' | 'timeout' | 'skipped';
  durationMs: number;
  error?: string;
  result?: unknown;
}

export interface Results {
  meta: Meta;
  figures: Figure[];
  phases: Record<string, PhaseOutcome>;
}

function number(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  switch (unit) {
    case 'ms':
      return `${value.toFixed(3)} ms`;
    case 'req/s':
    case 'chunks/s':
      return `${Math.round(value).toLocaleString('en')} ${unit}`;
    case '%':
      return `${value.toFixed(1)} %`;
    case 'KB':
      return `${value.toFixed(1)} KB`;
    case 'µs':
      return `${value.toFixed(1)} µs`;
    default:
      return `${value}${unit ? ` ${unit}` : ''}`;
  }
}

function cell(value: number | string | null | undefined, unit: string): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : number(value, unit);
}

function delta(figure: Figure): string {
  if (figure.delta === null || figure.delta === undefined) return '';
  if (!Number.isFinite(figure.delta)) return 'n/a';
  if (figure.deltaKind === 'ratio') return `${(figure.delta * 100).toFixed(1)} %`;
  return `${figure.delta >= 0 ? '+' : '−'}${number(Math.abs(figure.delta), figure.unit)}`;
}

export function table(results: Results): string {
  const { meta } = results;
  const header = ['Figure', 'Direct', 'ChatQL', 'Δ / ratio', 'Bare RTT', 'Target', 'Result', 'Note'];
  const rows = results.figures.map((figure) => [
    figure.label,
    cell(figure.direct, figure.unit),
    cell(figure.chatql, figure.unit),
    delta(figure),
    cell(figure.bare, figure.unit),
    figure.target ?? '',
    figure.failed ?? (figure.pass === true ? 'PASS' : figure.pass === false ? 'MISS' : ''),
    figure.note ?? '',
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) =>
    row
      .map((text, i) => (i === 0 || i >= 5 ? text.padEnd(widths[i] ?? 0) : text.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const failed = Object.entries(results.phases).filter(([, outcome]) => outcome.status !== 'ok');
  const misses = results.figures.filter((figure) => figure.pass === false).length;
  const targets = results.figures.filter((figure) => figure.pass !== null && figure.pass !== undefined).length;
  return [
    `ChatQL benchmark (${meta.mode}), ${meta.startedAt}`,
    `CPU: ${meta.cpu} × ${meta.cores} cores · Node ${meta.node} · ${meta.pinning}`,
    `Commit ${meta.commit}${meta.srcDirty ? ' with uncommitted changes in src/' : ''}`,
    '',
    line(header),
    line(widths.map((width) => '-'.repeat(width))),
    ...rows.map(line),
    '',
    ...failed.map(([name, outcome]) => `Phase ${name}: ${outcome.status.toUpperCase()}${outcome.error ? `: ${outcome.error}` : ''}`),
    `${targets - misses} of ${targets} targets met${meta.elapsedSeconds === undefined ? '' : `; elapsed ${Math.floor(meta.elapsedSeconds / 60)} min ${Math.round(meta.elapsedSeconds % 60)} s`}`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// SVG

interface Series {
  name: string;
  color: string;
  values: Array<number | null>;
}

interface Chart {
  title: string;
  unit: string;
  groups: string[];
  series: Series[];
  /** Horizontal reference lines (targets, the SDK's share). */
  lines?: Array<{ value: number; label: string }>;
}

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return ([1, 2, 2.5, 5, 10].find((step) => step * power >= value) ?? 10) * power;
}

function short(value: number): string {
  if (value === 0) return '0';
  if (value >= 10_000) return `${Math.round(value / 1000)}k`;
  if (value >= 100) return String(Math.round(value));
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(value >= 1 ? 2 : 3);
}

function barChart(chart: Chart, x: number, y: number, width: number, height: number): string {
  const left = x + 56;
  const top = y + 44;
  const plotWidth = width - 56 - 10;
  const plotHeight = height - 44 - 40;
  const all = [...chart.series.flatMap((series) => series.values), ...(chart.lines ?? []).map((line) => line.value)];
  const max = niceMax(Math.max(0, ...all.filter((value): value is number => value !== null && Number.isFinite(value))));
  const scale = (value: number) => top + plotHeight - (value / max) * plotHeight;
  const out: string[] = [`<text x="${x}" y="${y + 16}" class="title">${escapeHtml(chart.title)}</text>`];
  for (let i = 0; i <= 4; i++) {
    const value = (max / 4) * i;
    out.push(`<line x1="${left}" x2="${left + plotWidth}" y1="${scale(value)}" y2="${scale(value)}" class="grid"/>`);
    out.push(`<text x="${left - 6}" y="${scale(value) + 4}" class="axis" text-anchor="end">${short(value)}</text>`);
  }
  out.push(`<text x="${left - 6}" y="${top - 12}" class="axis" text-anchor="end">${escapeHtml(chart.unit)}</text>`);
  const groupWidth = plotWidth / Math.max(1, chart.groups.length);
  const barWidth = Math.min(40, (groupWidth * 0.8) / Math.max(1, chart.series.length));
  chart.groups.forEach((group, g) => {
    const start = left + g * groupWidth + (groupWidth - barWidth * chart.series.length) / 2;
    chart.series.forEach((series, s) => {
      const value = series.values[g];
      if (value === null || value === undefined || !Number.isFinite(value)) return;
      const bx = start + s * barWidth;
      out.push(
        `<rect x="${bx.toFixed(1)}" y="${scale(value).toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${(top + plotHeight - scale(value)).toFixed(1)}" fill="${series.color}"/>`,
      );
      out.push(
        `<text x="${(bx + barWidth / 2 - 1).toFixed(1)}" y="${(scale(value) - 3).toFixed(1)}" class="value" text-anchor="middle">${short(value)}</text>`,
      );
    });
    out.push(
      `<text x="${(left + g * groupWidth + groupWidth / 2).toFixed(1)}" y="${top + plotHeight + 16}" class="axis" text-anchor="middle">${escapeHtml(group)}</text>`,
    );
  });
  // Reference lines may lie close together: their labels go right, left, right...
  (chart.lines ?? []).forEach((line, i) => {
    out.push(`<line x1="${left}" x2="${left + plotWidth}" y1="${scale(line.value)}" y2="${scale(line.value)}" class="ref"/>`);
    const [lx, anchor] = i % 2 === 0 ? [left + plotWidth - 4, 'end'] : [left + 4, 'start'];
    out.push(`<text x="${lx}" y="${scale(line.value) - 4}" class="axis" text-anchor="${anchor}">${escapeHtml(line.label)}</text>`);
  });
  chart.series.forEach((series, s) => {
    const lx = left + s * 150;
    out.push(`<rect x="${lx}" y="${top + plotHeight + 26}" width="10" height="10" fill="${series.color}"/>`);
    out.push(`<text x="${lx + 14}" y="${top + plotHeight + 35}" class="axis">${escapeHtml(series.name)}</text>`);
  });
  return out.join('\n');
}

const COLORS = { bare: '#9e9e9e', direct: '#4e79a7', chatql: '#f28e2b', sse: '#59a14f', sdk: '#b07aa1' };

/** The charts the results allow; a failed phase leaves its chart out. */
function charts(results: Results): Chart[] {
  const out: Chart[] = [];
  const mutation = results.phases.mutation?.result as
    | {
        latency: Record<'bare' | 'direct' | 'chatql', { p50: number; p99: number }>;
        closedLoop: Array<{ concurrency: number; rate: { direct: number; chatql: number } }>;
      }
    | undefined;
  if (mutation) {
    const { bare, direct, chatql } = mutation.latency;
    out.push({
      title: 'Mutation latency at concurrency 1',
      unit: 'ms',
      groups: ['p50', 'p99'],
      series: [
        { name: 'bare HTTP round trip', color: COLORS.bare, values: [bare.p50, bare.p99] },
        { name: 'direct (openai SDK)', color: COLORS.direct, values: [direct.p50, direct.p99] },
        { name: 'ChatQL', color: COLORS.chatql, values: [chatql.p50, chatql.p99] },
      ],
    });
    out.push({
      title: 'Mutation throughput by concurrency (closed loop)',
      unit: 'req/s',
      groups: mutation.closedLoop.map((entry) => `c=${entry.concurrency}`),
      series: [
        { name: 'direct (openai SDK)', color: COLORS.direct, values: mutation.closedLoop.map((entry) => entry.rate.direct) },
        { name: 'ChatQL', color: COLORS.chatql, values: mutation.closedLoop.map((entry) => entry.rate.chatql) },
      ],
    });
  }
  const streaming = results.phases.streaming?.result as
    | {
        paced: {
          ttft: Record<'direct' | 'ws' | 'sse', { p50: number }>;
          gaps: Record<'direct' | 'ws' | 'sse', { p50: number; p99: number }>;
        };
      }
    | undefined;
  if (streaming) {
    const { ttft, gaps } = streaming.paced;
    out.push({
      title: 'Paced stream: time to first token and gap between chunks',
      unit: 'ms',
      groups: ['first token p50', 'gap p50', 'gap p99'],
      series: [
        { name: 'direct (openai SDK)', color: COLORS.direct, values: [ttft.direct.p50, gaps.direct.p50, gaps.direct.p99] },
        { name: 'ChatQL graphql-ws', color: COLORS.chatql, values: [ttft.ws.p50, gaps.ws.p50, gaps.ws.p99] },
        { name: 'ChatQL SSE', color: COLORS.sse, values: [ttft.sse.p50, gaps.sse.p50, gaps.sse.p99] },
      ],
    });
  }
  const capacity = results.phases.capacity?.result as
    | { sdkShare: { rssPerStreamKB: number }; steps: Array<{ streams: number; cycle: number | null; rssPerStreamKB: number }> }
    | undefined;
  if (capacity) {
    out.push({
      title: 'Resident memory per live stream, by step',
      unit: 'KB',
      groups: capacity.steps.map((step) => `${step.streams.toLocaleString('en')}${step.cycle && step.cycle > 1 ? ` (${step.cycle})` : ''}`),
      series: [
        { name: 'ChatQL service (peak − warm) / streams', color: COLORS.chatql, values: capacity.steps.map((step) => step.rssPerStreamKB) },
      ],
      lines: [
        { value: 100, label: 'target 100 KB' },
        { value: capacity.sdkShare.rssPerStreamKB, label: `openai SDK stream alone ${capacity.sdkShare.rssPerStreamKB.toFixed(1)} KB` },
      ],
    });
  }
  return out;
}

export function svg(results: Results): string {
  const list = charts(results);
  const width = 900;
  const height = 280;
  const body = list.map((chart, i) => barChart(chart, 20, 56 + i * (height + 20), width - 40, height)).join('\n');
  const total = 66 + list.length * (height + 20);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${total}" viewBox="0 0 ${width} ${total}" font-family="system-ui, sans-serif">
<style>.title{font-size:15px;font-weight:600}.axis{font-size:11px;fill:#444}.value{font-size:10px;fill:#222}.grid{stroke:#e5e5e5}.ref{stroke:#c00;stroke-dasharray:4 3}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="20" y="24" font-size="17" font-weight="700">ChatQL benchmark (${escapeHtml(results.meta.mode)}), ${escapeHtml(results.meta.startedAt)}</text>
<text x="20" y="42" class="axis">${escapeHtml(`${results.meta.cpu} × ${results.meta.cores} cores · Node ${results.meta.node} · ${results.meta.pinning}`)}</text>
${body}
</svg>
`;
}

/**
 * Writes `<timestamp>.json` and, unless `partial` (a run of some phases only, which must not
 * replace a whole run's figures), `latest.json` and `latest.svg`; returns the paths.
 */
export function writeResults(directory: string, results: Results, partial: boolean): string[] {
  const json = `${JSON.stringify(results, null, 2)}\n`;
  const stamped = join(directory, `${results.meta.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(stamped, json);
  if (partial) return [stamped];
  writeFileSync(join(directory, 'latest.json'), json);
  writeFileSync(join(directory, 'latest.svg'), svg(results));
  return [stamped, join(directory, 'latest.json'), join(directory, 'latest.svg')];
}
