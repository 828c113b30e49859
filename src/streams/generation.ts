/**
 * One resumable generation, in the process that runs it: the upstream stream is pumped into an
 * event log (its chunks in `seq` order, then exactly one terminal event), and every attached
 * subscriber reads the log through a cursor of its own, from after the chunk it already has, then
 * live. Subscribers come and go; the generation goes on without them for the grace period after
 * the last one was dropped, and stops at once when the last one stops (graphql-ws `complete`) or
 * when it is cancelled.
 */
import type { StreamEvent } from '../chat/stream.js';
import { type DomainError, ErrorSource, UpstreamUnavailableError } from '../errors.js';
import type { Operation } from '../operations.js';
import type { WireChunk } from '../upstream/wire.js';

/** How a subscriber left: graphql-ws `complete` (stop), or its connection went away (drop). */
export type Leave = 'stop' | 'drop';

/** What a subscriber's transport signal says when it aborts (see src/http/ws/aborts.ts). */
export function leaveOf(signal: AbortSignal): Leave {
  return signal.reason === 'stop' ? 'stop' : 'drop';
}

/** The terminal event of a generation that was stopped (by its client, its grace expiring, or a cancel). */
export function stoppedError(): UpstreamUnavailableError {
  return new UpstreamUnavailableError(
    'The generation was stopped before it finished (its client stopped it, cancelled it, or left for longer than the grace period).',
    ErrorSource.SERVICE,
    null,
    false,
  );
}

/** About how many bytes an event takes in the log: its text and a fixed envelope. Cheap on purpose. */
export function eventBytes(event: StreamEvent): number {
  const chunk = event as WireChunk;
  let bytes = 160;
  for (const choice of chunk.choices ?? []) {
    const delta = choice.delta as
      | {
          content?: string | null;
          reasoning_content?: string | null;
          refusal?: string | null;
          tool_calls?: Array<{ function?: { arguments?: string | null } | null }> | null;
          thinking_blocks?: Array<{ thinking?: string | null; signature?: string | null; data?: string | null }> | null;
        }
      | null
      | undefined;
    if (!delta) continue;
    bytes += (delta.content?.length ?? 0) + (delta.reasoning_content?.length ?? 0) + (delta.refusal?.length ?? 0);
    for (const call of delta.tool_calls ?? []) bytes += 64 + (call.function?.arguments?.length ?? 0);
    if (delta.thinking_blocks) {
      for (const block of delta.thinking_blocks) {
        bytes += 32 + (block?.thinking?.length ?? 0) + (block?.signature?.length ?? 0) + (block?.data?.length ?? 0);
      }
    }
  }
  return bytes;
}

export interface GenerationHooks {
  /** Each event as it is logged (a store that mirrors the log appends it). */
  onEvent?(event: StreamEvent, seq: number): void;
  /** The terminal event is in the log. */
  onEnd?(): void;
  /** No subscriber is attached any more (true) or one attached again (false). */
  onDetached?(detached: boolean): void;
}

export interface GenerationOptions {
  id: string;
  fingerprint: string;
  operation: Operation;
  graceMs: number;
  /** Past this many bytes of log, the generation is no longer resumable (live subscribers go on). */
  maxBytes: number;
  hooks?: GenerationHooks;
}

/** Is this event a chunk (not a terminal event)? Terminal events have no `seq`. */
function isChunk(event: StreamEvent): event is WireChunk & { seq: number } {
  return typeof (event as { seq?: unknown }).seq === 'number';
}

export class Generation {
  readonly id: string;
  readonly fingerprint: string;
  readonly startedAt = Date.now();
  /** The chunks in order, then the terminal event. */
  readonly events: StreamEvent[] = [];
  bytes = 0;
  /** False once the log passed `maxBytes`: no new subscriber may attach. */
  resumable = true;
  endedAt: number | null = null;
  /** Subscribers attached in this process. */
  private local = 0;
  /** Subscribers attached elsewhere (leases in the shared store), as the last poll counted them. */
  private remote = 0;
  private graceTimer: NodeJS.Timeout | null = null;
  private wake: Array<() => void> = [];
  private readonly operation: Operation;

  constructor(private readonly options: GenerationOptions) {
    this.id = options.id;
    this.fingerprint = options.fingerprint;
    this.operation = options.operation;
  }

  get ended(): boolean {
    return this.endedAt !== null;
  }

  /** No subscriber attached anywhere, and the generation still running. */
  get detached(): boolean {
    return !this.ended && this.local === 0 && this.remote === 0;
  }

  /** Reads `source` (the run loop of the stream) to its end, logging every event. */
  async pump(source: AsyncIterator<StreamEvent>): Promise<void> {
    let terminal = false;
    try {
      // To its very end: after the terminal event, the run loop settles the limits and reports.
      for (let next = await source.next(); !next.done; next = await source.next()) {
        if (terminal) continue;
        this.push(next.value);
        if (!isChunk(next.value)) terminal = true;
      }
    } finally {
      // Stopped (its client, a cancel, the grace): the run loop ends without a terminal event.
      if (!terminal) this.push(stoppedError());
      this.clearGrace();
      this.options.hooks?.onEnd?.();
    }
  }

  private push(event: StreamEvent): void {
    this.events.push(event);
    const seq = isChunk(event) ? event.seq : this.events.length;
    if (!isChunk(event)) this.endedAt = Date.now();
    if (this.resumable) {
      this.bytes += eventBytes(event);
      if (this.bytes > this.options.maxBytes) this.resumable = false;
    }
    this.options.hooks?.onEvent?.(event, seq);
    const wake = this.wake;
    this.wake = [];
    for (const resolve of wake) resolve();
  }

  /** Stops the generation now: the upstream request is aborted, and its log ends with `stoppedError()`. */
  stop(): void {
    if (this.ended) return;
    this.operation.abort('stopped');
  }

  /** The count of subscribers attached on other replicas (from their leases). */
  setRemote(count: number, stopRequested = false): void {
    this.remote = count;
    if (count > 0) this.clearGrace();
    else if (this.local === 0) this.detachedNow(stopRequested ? 'stop' : 'drop');
  }

  private detachedNow(leave: Leave): void {
    if (this.ended) return;
    if (leave === 'stop') {
      this.stop();
      return;
    }
    if (this.graceTimer) return;
    this.options.hooks?.onDetached?.(true);
    this.graceTimer = setTimeout(() => this.stop(), this.options.graceMs);
    this.graceTimer.unref();
  }

  private clearGrace(): void {
    if (!this.graceTimer) return;
    clearTimeout(this.graceTimer);
    this.graceTimer = null;
    this.options.hooks?.onDetached?.(false);
  }

  /**
   * A subscriber attached now: the logged chunks with `seq` > `after`, the live ones, then the
   * terminal event. `signal` is its transport's: when it aborts, the subscriber leaves (a stop or
   * a drop, by its reason) and its cursor ends.
   */
  attach(after: number | null, signal: AbortSignal): AsyncIterableIterator<StreamEvent> {
    this.local += 1;
    this.clearGrace();
    let index = 0;
    let left = false;
    const leave = (how: Leave) => {
      if (left) return;
      left = true;
      signal.removeEventListener('abort', onAbort);
      this.local -= 1;
      if (this.local === 0 && this.remote === 0) this.detachedNow(how);
      const wake = this.wake;
      this.wake = [];
      for (const resolve of wake) resolve();
    };
    const onAbort = () => leave(leaveOf(signal));
    if (signal.aborted) queueMicrotask(onAbort);
    else signal.addEventListener('abort', onAbort, { once: true });
    // Skip what the subscriber already has.
    if (after !== null) {
      while (index < this.events.length && isChunk(this.events[index]!) && (this.events[index] as { seq: number }).seq <= after) index += 1;
    }
    const done = { done: true as const, value: undefined };
    /** The next logged event for this cursor; after the terminal one, the subscription completes. */
    const deliver = (): IteratorResult<StreamEvent, undefined> => {
      if (left) return done;
      const event = this.events[index++]!;
      if (!isChunk(event)) leave('drop');
      return { done: false, value: event };
    };
    // Woken by a new event, by this subscriber leaving, or by another leaving (then it waits on).
    const waitFor = (resolve: (result: IteratorResult<StreamEvent, undefined>) => void): void => {
      this.wake.push(() => {
        if (left) resolve(done);
        else if (index < this.events.length) resolve(deliver());
        else waitFor(resolve);
      });
    };
    // On the token path: one promise per event, resolved with the event itself (no async wrapper).
    const iterator: AsyncIterableIterator<StreamEvent> = {
      next: () => {
        if (left) return Promise.resolve(done);
        if (index < this.events.length) return Promise.resolve(deliver());
        return new Promise((resolve) => waitFor(resolve));
      },
      return: async () => {
        // graphql-ws calls return() after `complete` or a close: the signal has told how it left.
        leave(leaveOf(signal));
        return done;
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /** A terminal error for a subscriber that could not attach. */
  static refusal(error: DomainError): AsyncIterableIterator<StreamEvent> {
    let sent = false;
    const iterator: AsyncIterableIterator<StreamEvent> = {
      next: async () => {
        if (sent) return { done: true, value: undefined };
        sent = true;
        return { done: false, value: error };
      },
      return: async () => ({ done: true, value: undefined }),
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }
}
