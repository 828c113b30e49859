/**
 * Every running upstream-bound operation, each with one AbortController. Two things abort it:
 * the client leaving (the transport's own signal) and the end of the shutdown grace period. The
 * reason tells them apart, because a client that left needs no answer while an operation stopped
 * by shutdown owes its client a terminal, retryable error.
 */

/** Why an operation's upstream request was aborted. */
export const AbortReason = {
  /** The client completed the subscription, closed its socket, or abandoned the HTTP request. */
  CLIENT_GONE: 'client-gone',
  /** The shutdown grace period ran out while the operation was still running. */
  SHUTDOWN: 'shutdown',
  /** A resumable generation was stopped: by its last subscriber, a cancel, or its grace running out. */
  STOPPED: 'stopped',
} as const;
export type AbortReason = (typeof AbortReason)[keyof typeof AbortReason];

export class Operation {
  readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  readonly startedAt = performance.now();
  private readonly onTransportAbort = () => this.abort(AbortReason.CLIENT_GONE);

  constructor(
    private readonly tracker: OperationTracker,
    readonly kind: 'mutation' | 'subscription',
    private readonly transportSignal: AbortSignal | undefined,
  ) {
    if (transportSignal?.aborted) this.abort(AbortReason.CLIENT_GONE);
    else transportSignal?.addEventListener('abort', this.onTransportAbort, { once: true });
  }

  abort(reason: AbortReason): void {
    if (!this.signal.aborted) this.controller.abort(reason);
  }

  /** True when shutdown, not the client, stopped this operation. */
  get stoppedByShutdown(): boolean {
    return this.signal.aborted && this.signal.reason === AbortReason.SHUTDOWN;
  }

  /** Call exactly once, when the operation has sent its last event. */
  end(): void {
    this.transportSignal?.removeEventListener('abort', this.onTransportAbort);
    this.tracker.release(this);
  }
}

export class OperationTracker {
  private readonly live = new Set<Operation>();
  private idle: (() => void) | null = null;
  /** Set once shutdown begins; new operations are refused from then on. */
  draining = false;

  get size(): number {
    return this.live.size;
  }

  /** Live operations of one kind; walks them all, so for scrapes, not for hot paths. */
  countOf(kind: Operation['kind']): number {
    let count = 0;
    for (const operation of this.live) if (operation.kind === kind) count += 1;
    return count;
  }

  /** Registers a new operation, or returns null while draining (the caller answers "shutting down"). */
  begin(kind: Operation['kind'], transportSignal: AbortSignal | undefined): Operation | null {
    if (this.draining) return null;
    const operation = new Operation(this, kind, transportSignal);
    this.live.add(operation);
    return operation;
  }

  /** @internal Called by `Operation.end()`. */
  release(operation: Operation): void {
    this.live.delete(operation);
    if (this.live.size === 0) this.idle?.();
  }

  private whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.live.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idle = null;
        resolve(false);
      }, timeoutMs);
      this.idle = () => {
        clearTimeout(timer);
        this.idle = null;
        resolve(true);
      };
    });
  }

  /**
   * Refuses new operations, lets running ones finish within `graceMs`, then aborts the rest (they
   * answer with a retryable error) and waits up to `flushMs` for those answers to be sent.
   */
  async drain(graceMs: number, flushMs = 2000): Promise<{ finished: number; aborted: number }> {
    this.draining = true;
    const running = this.live.size;
    if (await this.whenIdle(graceMs)) return { finished: running, aborted: 0 };
    const aborted = this.live.size;
    for (const operation of this.live) operation.abort(AbortReason.SHUTDOWN);
    await this.whenIdle(flushMs);
    return { finished: running - aborted, aborted };
  }
}
