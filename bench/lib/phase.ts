/**
 * What a phase gets from the runner and gives back: the upstream, fresh services, a deadline
 * (its signal), cleanups that run however the phase ends, and the figures for the table.
 */
import type { Child } from '../processes.js';
import type { ServiceReady } from '../service-child.js';
import type { UpstreamReady } from '../upstream-child.js';

export interface Service {
  child: Child<ServiceReady>;
  httpUrl: string;
  wsUrl: string;
}

/** One line of the table (and of the JSON's `figures`). */
export interface Figure {
  phase: string;
  label: string;
  unit: string;
  direct?: number | null;
  /** ChatQL's figure; a string for compound values such as "0 errors / 0 stalls". */
  chatql?: number | string | null;
  /** ChatQL against direct: a difference in `unit`, or a ratio (shown as %). */
  delta?: number | null;
  deltaKind?: 'diff' | 'ratio';
  /** The bare HTTP round trip, beside the mutation's latency lines. */
  bare?: number | null;
  target?: string;
  /** null: no target for this line. */
  pass?: boolean | null;
  /** The line stands for a phase that failed or ran out of time (its figures are missing). */
  failed?: 'FAILED' | 'TIMEOUT';
  note?: string;
}

export interface PhaseContext {
  quick: boolean;
  upstream: Child<UpstreamReady>;
  /**
   * A fresh service child against the named mock; stopped when the phase ends if not before.
   * `env` adds to its configuration (REDIS_URL, say).
   */
  startService(mock: string, env?: Record<string, string>): Promise<Service>;
  /** Aborts when the phase runs out of time. */
  signal: AbortSignal;
  defer(cleanup: () => unknown): void;
  progress(message: string): void;
  figure(figure: Omit<Figure, 'phase'>): void;
}

export class PhaseTimeout extends Error {
  override readonly name = 'PhaseTimeout';
}

export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new PhaseTimeout('the phase ran out of time');
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new PhaseTimeout('the phase ran out of time'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new PhaseTimeout('the phase ran out of time'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `promise`, or a rejection after `ms` (or when `signal` aborts), whichever comes first. */
export function within<T>(promise: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const fail = (error: Error) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      reject(error);
    };
    const onAbort = () => fail(new PhaseTimeout('the phase ran out of time'));
    const timer = setTimeout(() => fail(new Error(`${what}: not done within ${Math.round(ms / 1000)} s`)), ms);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => fail(error instanceof Error ? error : new Error(String(error))),
    );
  });
}

/** The order of the sides in trial `trial`: rotated, so that no side always runs first. */
export function rotate<T>(items: readonly T[], trial: number): T[] {
  const shift = trial % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
