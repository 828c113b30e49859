/**
 * A circuit breaker per upstream target (cockatiel's, with a ConsecutiveBreaker). After
 * UPSTREAM_BREAKER_THRESHOLD consecutive failures that say the upstream is unwell (see
 * `isUpstreamUnwell`), it opens: calls are answered at once, without touching the upstream, for
 * UPSTREAM_BREAKER_COOLDOWN_MS; then the next call goes through as the one probe (half-open),
 * whose success closes it again and whose failure opens it for another cool-down.
 *
 * Two choices on top of cockatiel's own behaviour:
 * - While the probe runs, other calls are refused at once, like while it is open (cockatiel would
 *   park them until the probe ends, which for a hanging upstream is the whole header timeout).
 * - A probe cancelled by its client proves nothing, so it counts as a failure (back to open for
 *   another cool-down) rather than as cockatiel's "not an error I handle, so a success".
 */
import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  CircuitState,
  circuitBreaker,
  handleWhen,
  type IBreaker,
} from 'cockatiel';

import { ErrorSource, UpstreamUnavailableError } from '../errors.js';

export type BreakerState = 'closed' | 'open' | 'halfOpen';

/** The breaker's state as /readyz reports it. */
export interface BreakerStatus {
  state: BreakerState;
  /** While open: when the next call will be let through as the probe (ISO 8601). */
  opensUntil?: string;
}

/** The gauge's values: `chatql_upstream_breaker_state`. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = { closed: 0, open: 1, halfOpen: 2 };

export interface BreakerEvents {
  /** The breaker opened after a failure; `until` is when it lets a probe through. */
  onOpen?(until: Date): void;
  /** A probe succeeded (or answered with something that is not an outage). */
  onClose?(): void;
}

/** Thrown by `UpstreamBreaker.run` when the call was refused without touching the upstream. */
export function isBreakerRefusal(error: unknown): boolean {
  return error instanceof BrokenCircuitError;
}

/**
 * Consecutive failures, where a stream's success is provisional: cockatiel sees a stream succeed
 * at its first chunk, but a stream that then breaks has failed. A provisional success leaves the
 * count as it is; the stream's real end settles it (`UpstreamBreaker.recordSuccess` or
 * `recordFailure`). Without this, an upstream whose every stream starts and then breaks would
 * reset the count each time and never open the breaker.
 */
class ConsecutiveFailures implements IBreaker {
  /** Consecutive failures so far (cockatiel's `state`, for serialization). */
  state = 0;
  /** Successes still to come from `execute` that are a stream's first chunk. */
  provisional = 0;

  constructor(private readonly threshold: number) {}

  success(): void {
    if (this.provisional > 0) this.provisional -= 1;
    else this.state = 0;
  }

  failure(): boolean {
    this.state += 1;
    return this.state >= this.threshold;
  }
}

export class UpstreamBreaker {
  private readonly policy: CircuitBreakerPolicy;
  private readonly counter: ConsecutiveFailures;
  /** Errors `run` decided count as failures; cockatiel's filter reads this set. */
  private readonly failures = new WeakSet<object>();
  /** Date.now() at which the open breaker lets the next call through as the probe. */
  private probeAt = 0;

  constructor(
    readonly threshold: number,
    readonly cooldownMs: number,
    events: BreakerEvents = {},
  ) {
    this.counter = new ConsecutiveFailures(threshold);
    this.policy = circuitBreaker(
      handleWhen((error) => this.failures.has(error)),
      { halfOpenAfter: cooldownMs, breaker: this.counter },
    );
    this.policy.onBreak(() => {
      // cockatiel set its own `openedAt` to Date.now() just before: this is never earlier than its deadline.
      this.probeAt = Date.now() + cooldownMs;
      events.onOpen?.(new Date(this.probeAt));
    });
    this.policy.onReset(() => events.onClose?.());
  }

  /** Open while cooling down; half-open once a probe may go (or is under way). */
  get state(): BreakerState {
    switch (this.policy.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.Open:
        return Date.now() < this.probeAt ? 'open' : 'halfOpen';
      default:
        return 'halfOpen';
    }
  }

  status(): BreakerStatus {
    const state = this.state;
    return state === 'open' ? { state, opensUntil: new Date(this.probeAt).toISOString() } : { state };
  }

  /** Whether a call may go to the upstream now (when closed, or as the probe). */
  admits(): boolean {
    switch (this.policy.state) {
      case CircuitState.Closed:
        return true;
      case CircuitState.Open:
        return Date.now() >= this.probeAt;
      default:
        // HalfOpen: a probe is under way; Isolated is never used.
        return false;
    }
  }

  /** The answer for a call the breaker refused: safe for clients, saying when to come back. */
  refusal(): UpstreamUnavailableError {
    const waitMs = this.probeAt - Date.now();
    const when =
      this.policy.state === CircuitState.Open && waitMs > 0
        ? `it will be tried again in ${Math.ceil(waitMs / 1000)} s`
        : 'a trial request is under way; retry in a few seconds';
    return new UpstreamUnavailableError(`The upstream is failing; ${when}.`, ErrorSource.UPSTREAM);
  }

  /**
   * Runs one upstream attempt under the breaker; call only when `admits()` said yes, in the same
   * tick (cockatiel reads its state synchronously). `unwell` says whether a failure counts.
   * Throws what `attempt` threw, or a refusal (`isBreakerRefusal`).
   */
  run<T>(signal: AbortSignal, attempt: () => Promise<T>, unwell: (error: unknown) => boolean, stream = false): Promise<T> {
    return this.policy.execute(async () => {
      try {
        const value = await attempt();
        // A stream's first chunk: the success cockatiel records next is provisional.
        if (stream) this.counter.provisional += 1;
        return value;
      } catch (error) {
        const counts = signal.aborted ? this.policy.state === CircuitState.HalfOpen : unwell(error);
        if (counts && typeof error === 'object' && error !== null) this.failures.add(error);
        throw error;
      }
    });
  }

  /** A stream that ran to its end: its provisional success (at the first chunk) counts now. */
  recordSuccess(): void {
    if (this.policy.state === CircuitState.Closed) this.counter.state = 0;
  }

  /**
   * Counts a failure that came after the attempt had succeeded (a stream that broke or stalled
   * after its first chunk). Only while closed: an open or probing breaker has its verdict already.
   */
  recordFailure(): void {
    if (this.policy.state !== CircuitState.Closed) return;
    const failure = new Error('upstream failure after the first chunk');
    this.failures.add(failure);
    this.policy.execute(() => Promise.reject(failure)).catch(() => undefined);
  }
}
