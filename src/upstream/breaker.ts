/**
 * Circuit breakers: per upstream target, one for each model name sent to it (a model whose
 * provider is down fails alone) and one for the target itself (a host that cannot be reached
 * fails for every model). `classifyFailure` decides which of the two a failure counts against.
 *
 * Each breaker counts consecutive failures. At UPSTREAM_BREAKER_THRESHOLD it opens: calls are
 * refused at once, without touching the upstream, for UPSTREAM_BREAKER_COOLDOWN_MS. Then the next
 * call goes through as the one probe (half-open) while the others are still refused; its success
 * closes the breaker, its failure opens it for another cool-down, and its cancellation proves
 * nothing, so the probe passes to the next call.
 *
 * Streams: a stream's first chunk is a provisional success. It closes a half-open breaker (the
 * model is answering, and a probe must not hold every other call off for a whole generation) but
 * leaves the count one short of the threshold, so that a probe stream that then breaks opens the
 * breaker again at once; only a stream that ends whole resets the count. Without this an upstream
 * whose every stream starts and then breaks would reset the count each time and never open.
 *
 * This is a small state machine of our own rather than a resilience library's policy: the
 * provisional successes, the handed-on probe and the refusal during the probe are the behaviour,
 * and a library's breaker would need all three patched in.
 */

/** What a call did, as far as one breaker is concerned. */
export type Verdict = 'success' | 'provisional' | 'failure' | 'cancelled';

export type BreakerState = 'closed' | 'open' | 'halfOpen';

/** The gauges' values: `chatql_upstream_breaker_state`, `chatql_upstream_model_breaker_state`. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = { closed: 0, open: 1, halfOpen: 2 };

/** The breaker's state as /readyz reports it. */
export interface BreakerStatus {
  state: BreakerState;
  /** While open: when the next call will be let through as the probe (ISO 8601). */
  opensUntil?: string;
}

/** A probe under way is refused callers' "retry after": a probe answers within seconds, usually. */
const PROBE_UNDER_WAY_MS = 1000;

export interface BreakerEvents {
  /** The breaker opened after a failure; `until` is when it lets a probe through. */
  onOpen?(until: Date): void;
  /** A probe succeeded (or answered with something that is not an outage). */
  onClose?(): void;
}

/** One admitted call's hold on a breaker: whether it is the probe. */
export interface Pass {
  readonly breaker: CircuitBreaker;
  readonly probe: boolean;
}

export class CircuitBreaker {
  /** Consecutive failures while closed. */
  private failures = 0;
  /** Date.now() at which an open breaker lets the next call through as the probe; 0 while closed. */
  private probeAt = 0;
  private probing = false;

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly events: BreakerEvents = {},
  ) {}

  get state(): BreakerState {
    if (this.probeAt === 0) return 'closed';
    return !this.probing && Date.now() < this.probeAt ? 'open' : 'halfOpen';
  }

  /** While not closed: when the probe may go (ms since the epoch). */
  get nextProbeAt(): number {
    return this.probeAt;
  }

  status(): BreakerStatus {
    const state = this.state;
    return state === 'open' ? { state, opensUntil: new Date(this.probeAt).toISOString() } : { state };
  }

  /** When a call may next go through (ms since the epoch); null while it may now. */
  blockedUntil(now = Date.now()): number | null {
    if (this.probeAt === 0) return null;
    if (this.probing) return now + PROBE_UNDER_WAY_MS;
    return now < this.probeAt ? this.probeAt : null;
  }

  /** Admits a call (null when refused); the caller settles the pass exactly once. */
  admit(now = Date.now()): Pass | null {
    if (this.probeAt === 0) return { breaker: this, probe: false };
    if (this.probing || now < this.probeAt) return null;
    this.probing = true;
    return { breaker: this, probe: true };
  }

  /** Settles a pass that `admit` gave. */
  settle(pass: Pass, verdict: Verdict): void {
    if (pass.probe) this.probing = false;
    switch (verdict) {
      case 'cancelled':
        // Neither a success nor a failure: a cancelled probe leaves the breaker due for the next call.
        return;
      case 'success':
        if (pass.probe || this.probeAt === 0) this.close(0);
        return;
      case 'provisional':
        if (pass.probe) this.close(this.threshold - 1);
        return;
      case 'failure':
        if (pass.probe) this.open();
        else if (this.probeAt === 0 && ++this.failures >= this.threshold) this.open();
    }
  }

  private open(): void {
    this.probeAt = Date.now() + this.cooldownMs;
    this.failures = 0;
    this.events.onOpen?.(new Date(this.probeAt));
  }

  private close(failures: number): void {
    const wasOpen = this.probeAt !== 0;
    this.probeAt = 0;
    this.failures = failures;
    if (wasOpen) this.events.onClose?.();
  }
}

/** Model breakers kept per target; the least recently used beyond this are dropped. */
export const MAX_MODEL_BREAKERS = 1000;

export interface HealthEvents {
  /** `model` is null for the target's own breaker. */
  onOpen?(model: string | null, until: Date): void;
  onClose?(model: string | null): void;
}

/** A breaker that is not closed, for /readyz and the models query. */
export interface OpenBreaker {
  /** Null for the target's own breaker. */
  model: string | null;
  state: Exclude<BreakerState, 'closed'>;
  /** When the next probe may go (ISO 8601); in the past while half-open. */
  until: string;
}

/** Why a call was refused without touching the upstream, and until when. */
export interface Refusal {
  /** Null when the target's own breaker refused. */
  model: string | null;
  /** Ms since the epoch. */
  until: number;
}

/**
 * One admitted call's passes through a target's breakers. Settle it once with what the call
 * did, read from its `Failure.health` (or its success).
 */
export class HealthTicket {
  private settled = false;
  /** The stream's first chunk came: only the model's verdict is still to come. */
  private provisional = false;

  constructor(
    private readonly targetPass: Pass,
    private readonly modelPass: Pass,
  ) {}

  /**
   * `outcome`: a success, a stream's first chunk (`provisional`), a cancellation, or a failure
   * counting against the model or the target; `none` (a 4xx, a 429, a malformed answer) says the
   * upstream answered, which is a success for both. Later calls are ignored, except that a
   * provisional success may still be followed by the stream's real end.
   */
  settle(outcome: 'success' | 'provisional' | 'cancelled' | 'model' | 'target' | 'none'): void {
    if (this.settled) return;
    if (outcome === 'provisional') {
      // The target answered; the model's verdict waits for the stream's end (a second settle).
      this.targetPass.breaker.settle(this.targetPass, 'success');
      this.modelPass.breaker.settle(this.modelPass, 'provisional');
      this.provisional = true;
      return;
    }
    this.settled = true;
    if (this.provisional) {
      // After the first chunk: the stream's end settles the model only.
      const verdict = outcome === 'model' || outcome === 'target' ? 'failure' : outcome === 'cancelled' ? 'cancelled' : 'success';
      this.modelPass.breaker.settle({ breaker: this.modelPass.breaker, probe: false }, verdict);
      return;
    }
    this.targetPass.breaker.settle(this.targetPass, outcome === 'target' ? 'failure' : outcome === 'cancelled' ? 'cancelled' : 'success');
    this.modelPass.breaker.settle(
      this.modelPass,
      outcome === 'model' ? 'failure' : outcome === 'cancelled' || outcome === 'target' ? 'cancelled' : 'success',
    );
  }
}

/**
 * A target's breakers: its own, and one per model name sent to it, created on first use. Null
 * where UPSTREAM_BREAKER_THRESHOLD is 0.
 */
export class TargetHealth {
  readonly breaker: CircuitBreaker;
  /** By model name, least recently used first (a Map keeps insertion order). */
  private readonly models = new Map<string, CircuitBreaker>();

  constructor(
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly events: HealthEvents = {},
  ) {
    this.breaker = new CircuitBreaker(threshold, cooldownMs, {
      onOpen: (until) => events.onOpen?.(null, until),
      onClose: () => events.onClose?.(null),
    });
  }

  private modelBreaker(model: string): CircuitBreaker {
    let breaker = this.models.get(model);
    if (breaker) {
      this.models.delete(model);
    } else {
      breaker = new CircuitBreaker(this.threshold, this.cooldownMs, {
        onOpen: (until) => this.events.onOpen?.(model, until),
        onClose: () => this.events.onClose?.(model),
      });
      if (this.models.size >= MAX_MODEL_BREAKERS) this.models.delete(this.models.keys().next().value!);
    }
    this.models.set(model, breaker);
    return breaker;
  }

  /**
   * Admits a call for `model` (the name this target is asked for), or says why not and until
   * when. Both breakers must admit; a probe pass taken from one is handed back when the other
   * refuses.
   */
  admit(model: string): HealthTicket | Refusal {
    const now = Date.now();
    const targetPass = this.breaker.admit(now);
    if (!targetPass) return { model: null, until: this.breaker.blockedUntil(now) ?? now };
    const breaker = this.modelBreaker(model);
    const modelPass = breaker.admit(now);
    if (!modelPass) {
      this.breaker.settle(targetPass, 'cancelled');
      return { model, until: breaker.blockedUntil(now) ?? now };
    }
    return new HealthTicket(targetPass, modelPass);
  }

  /** When a call for `model` may next go through (ms since the epoch); null while it may now. Creates nothing. */
  blockedUntil(model: string, now = Date.now()): number | null {
    const target = this.breaker.blockedUntil(now);
    const own = this.models.get(model)?.blockedUntil(now) ?? null;
    return target === null ? own : own === null ? target : Math.max(target, own);
  }

  /** The breakers that are not closed: the target's own first, then its models. */
  openBreakers(): OpenBreaker[] {
    const open: OpenBreaker[] = [];
    const add = (model: string | null, breaker: CircuitBreaker) => {
      const state = breaker.state;
      if (state === 'closed') return;
      open.push({ model, state, until: new Date(breaker.nextProbeAt).toISOString() });
    };
    add(null, this.breaker);
    for (const [model, breaker] of this.models) add(model, breaker);
    return open;
  }

  /** Each model breaker's state, for the gauge. */
  modelStates(): Array<{ model: string; state: BreakerState }> {
    return [...this.models].map(([model, breaker]) => ({ model, state: breaker.state }));
  }
}
