/**
 * The shared side of resumable streams (REDIS_URL): each generation's events in a Redis Stream,
 * so that a subscriber on any replica can replay and follow them, and the leases and flags that
 * tell the producing replica who still listens and whether to stop.
 *
 * Keys, per generation (`{id}` is a hash of the client id and the key; the key itself is never
 * stored):
 * - `chatql:stream:{id}:meta`: JSON `{ fp, state, startedAt }`, created with SET NX (one producer
 *   wins), kept at least TTL + grace after the start, and TTL after the end: the tombstone.
 * - `chatql:stream:{id}:log`: the Redis Stream of events, entry ids `0-<seq>` (the terminal event
 *   takes the seq after the last chunk), each with one field: `c` (a chunk), `f` (the final
 *   completion) or `e` (a terminal error). Written by the producer in one pipeline per event-loop
 *   turn; its byte bound is the producer's (past it the log is deleted and the meta says
 *   `dropped`), not a silent MAXLEN trim.
 * - `chatql:stream:{id}:producer`: the producer's lease, refreshed while it runs; when it lapses
 *   (the replica died), followers end with a retryable error instead of waiting for ever.
 * - `chatql:stream:{id}:subs`: a sorted set of subscriber leases (score: expiry in ms), one per
 *   subscriber attached on another replica than the producer.
 * - `chatql:stream:{id}:cancel` / `:stop`: flags the producer polls with its lease:
 *   `cancelChatCompletionStream`, and the last remote subscriber's `complete`.
 */
import type { Redis } from 'ioredis';

import { isFinalCompletion, markFinal, type StreamEvent } from '../chat/stream.js';
import { ChatQLError, type DomainError, ErrorSource, UpstreamUnavailableError } from '../errors.js';
import type { WireChunk, WireCompletion } from '../upstream/wire.js';
import { type Leave, leaveOf } from './generation.js';

export interface SharedMeta {
  /** The fingerprint of the generation's input. */
  fp: string;
  state: 'running' | 'ended' | 'dropped';
  startedAt: number;
}

/** How long a lease lasts; it is refreshed every third of that. */
export const LEASE_MS = 3000;
const REFRESH_MS = LEASE_MS / 3;

const key = (id: string, part: string) => `chatql:stream:${id}:${part}`;

/** The store could not be reached: resumes are refused with a retryable error meanwhile. */
export function storeUnavailable(): UpstreamUnavailableError {
  return new UpstreamUnavailableError(
    'Resumable streams are unavailable for now: the stream store cannot be reached. Retry, or subscribe without resume.',
    ErrorSource.SERVICE,
  );
}

function producerGone(): UpstreamUnavailableError {
  return new UpstreamUnavailableError(
    'The replica running this generation stopped before it finished; start the request again.',
    ErrorSource.SERVICE,
  );
}

function tooLarge(): UpstreamUnavailableError {
  return new UpstreamUnavailableError(
    'This generation grew too large to be followed from another replica; start the request again.',
    ErrorSource.SERVICE,
  );
}

/** An event as one Stream entry field and value. */
export function encodeEvent(event: StreamEvent): [string, string] {
  if (event instanceof ChatQLError || 'retryable' in event) {
    const error = event as DomainError & Record<string, unknown>;
    return ['e', JSON.stringify({ ...error, name: error.name, message: error.message })];
  }
  if (isFinalCompletion(event)) return ['f', JSON.stringify(event)];
  return ['c', JSON.stringify(event)];
}

/** Back from a Stream entry: chunks and completions as the resolvers read them, errors as their data. */
export function decodeEvent(field: string, value: string): StreamEvent {
  const parsed = JSON.parse(value) as unknown;
  if (field === 'f') return markFinal(parsed as WireCompletion);
  if (field === 'e') return parsed as DomainError;
  return parsed as WireChunk;
}

export class RedisStreamLog {
  /** Appends waiting for this event-loop turn's pipeline. */
  private pending: Array<{ id: string; seq: number; field: string; value: string }> = [];
  private flushing = false;
  private warned = false;

  constructor(
    private readonly redis: Redis,
    private readonly options: { ttlMs: number; graceMs: number; maxBytes: number; onStoreError: (error: Error) => void },
  ) {}

  get available(): boolean {
    return this.redis.status === 'ready';
  }

  /** Creates the generation's meta when it is new; false when another subscription created it first. */
  async create(id: string, fp: string): Promise<boolean> {
    const meta: SharedMeta = { fp, state: 'running', startedAt: Date.now() };
    const created = await this.redis.set(key(id, 'meta'), JSON.stringify(meta), 'PX', this.options.ttlMs + this.options.graceMs, 'NX');
    if (created === null) return false;
    await this.redis.set(key(id, 'producer'), '1', 'PX', LEASE_MS);
    return true;
  }

  async meta(id: string): Promise<SharedMeta | null> {
    const raw = await this.redis.get(key(id, 'meta'));
    return raw === null ? null : (JSON.parse(raw) as SharedMeta);
  }

  /** Queues one event; every queued event goes in one pipeline at the end of this event-loop turn. */
  append(id: string, seq: number, event: StreamEvent): number {
    const [field, value] = encodeEvent(event);
    this.pending.push({ id, seq, field, value });
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
    return value.length;
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.flushing = false;
    if (batch.length === 0) return;
    const pipeline = this.redis.pipeline();
    const expiry = this.options.ttlMs + this.options.graceMs;
    let last = '';
    for (const entry of batch) {
      pipeline.xadd(key(entry.id, 'log'), `0-${entry.seq}`, entry.field, entry.value);
      if (entry.id !== last) pipeline.pexpire(key(entry.id, 'log'), expiry);
      last = entry.id;
    }
    pipeline.exec().then(
      () => {
        this.warned = false;
      },
      (error: Error) => this.storeError(error),
    );
  }

  private storeError(error: Error): void {
    if (this.warned) return;
    this.warned = true;
    this.options.onStoreError(error);
  }

  /** The generation ended: its log and its tombstone live TTL from now. */
  end(id: string, fp: string, startedAt: number, dropped: boolean): void {
    const meta: SharedMeta = { fp, state: dropped ? 'dropped' : 'ended', startedAt };
    // Written after this turn's appends, so that a follower that sees `ended` finds the terminal event.
    setImmediate(() => {
      const pipeline = this.redis.pipeline();
      pipeline.set(key(id, 'meta'), JSON.stringify(meta), 'PX', this.options.ttlMs + this.options.graceMs);
      if (dropped) pipeline.del(key(id, 'log'));
      else pipeline.pexpire(key(id, 'log'), this.options.ttlMs);
      pipeline.del(key(id, 'producer'), key(id, 'cancel'), key(id, 'stop'));
      pipeline.exec().catch((error: Error) => this.storeError(error));
    });
  }

  /** The log passed its byte bound: no follower can replay it any more. */
  drop(id: string, fp: string, startedAt: number): void {
    const meta: SharedMeta = { fp, state: 'dropped', startedAt };
    this.redis
      .pipeline()
      .set(key(id, 'meta'), JSON.stringify(meta), 'KEEPTTL')
      .del(key(id, 'log'))
      .exec()
      .catch((error: Error) => this.storeError(error));
  }

  /** Asks the producer, wherever it runs, to stop the generation; false when none is running. */
  async cancel(id: string): Promise<boolean> {
    const meta = await this.meta(id);
    if (meta?.state !== 'running') return false;
    await this.redis.set(key(id, 'cancel'), '1', 'PX', LEASE_MS * 2);
    return true;
  }

  /**
   * The producer's round: refreshes its leases and reads, for each of its generations, whether it
   * was cancelled, whether its last remote subscriber stopped, and how many remote subscribers
   * hold a lease.
   */
  async poll(ids: readonly string[]): Promise<Map<string, { cancel: boolean; stop: boolean; remote: number }>> {
    const now = Date.now();
    const pipeline = this.redis.pipeline();
    for (const id of ids) {
      pipeline.set(key(id, 'producer'), '1', 'PX', LEASE_MS);
      pipeline.get(key(id, 'cancel'));
      pipeline.getdel(key(id, 'stop'));
      pipeline.zremrangebyscore(key(id, 'subs'), 0, now);
      pipeline.zcard(key(id, 'subs'));
      pipeline.pexpire(key(id, 'meta'), this.options.ttlMs + this.options.graceMs);
    }
    const results = (await pipeline.exec()) ?? [];
    const state = new Map<string, { cancel: boolean; stop: boolean; remote: number }>();
    ids.forEach((id, index) => {
      const at = (offset: number) => results[index * 6 + offset]?.[1];
      state.set(id, {
        cancel: at(1) !== null && at(1) !== undefined,
        stop: at(2) !== null && at(2) !== undefined,
        remote: Number(at(4) ?? 0),
      });
    });
    return state;
  }

  /**
   * A subscriber on this replica of a generation produced on another: the logged events with
   * `seq` > `after`, then the live ones, then the terminal event. It holds a lease while attached;
   * on leaving, a stop (`complete`) asks the producer to stop when no other subscriber is left.
   */
  follow(id: string, after: number | null, signal: AbortSignal): AsyncIterableIterator<StreamEvent> {
    const subscriber = `${process.pid}-${Math.random().toString(36).slice(2)}`;
    const subs = key(id, 'subs');
    const log = key(id, 'log');
    let reader: Redis | null = null;
    let cursor = `0-${after ?? 0}`;
    let buffered: StreamEvent[] = [];
    let finished = false;
    let left = false;
    const refresh = () => this.redis.zadd(subs, Date.now() + LEASE_MS, subscriber).catch(() => undefined);
    void refresh();
    const timer = setInterval(refresh, REFRESH_MS);
    timer.unref();
    const leave = (how: Leave) => {
      if (left) return;
      left = true;
      clearInterval(timer);
      signal.removeEventListener('abort', onAbort);
      reader?.disconnect();
      const pipeline = this.redis.pipeline().zrem(subs, subscriber);
      if (how === 'stop' && !finished) pipeline.set(key(id, 'stop'), '1', 'PX', LEASE_MS * 2);
      pipeline.exec().catch(() => undefined);
    };
    const onAbort = () => leave(leaveOf(signal));
    if (signal.aborted) queueMicrotask(onAbort);
    else signal.addEventListener('abort', onAbort, { once: true });

    const toEvents = (entries: Array<[string, string[]]>): StreamEvent[] =>
      entries.map(([entryId, fields]) => {
        cursor = entryId;
        return decodeEvent(fields[0]!, fields[1]!);
      });

    /** The next batch: what the log holds after the cursor, or what arrives within a second. */
    const more = async (): Promise<StreamEvent[] | DomainError> => {
      try {
        const logged = (await this.redis.xrange(log, `(${cursor}`, '+', 'COUNT', 500)) as Array<[string, string[]]>;
        if (logged.length > 0) return toEvents(logged);
        reader ??= await this.reader();
        const read = (await reader.xread('COUNT', 500, 'BLOCK', 1000, 'STREAMS', log, cursor)) as Array<
          [string, Array<[string, string[]]>]
        > | null;
        if (read?.[0] && read[0][1].length > 0) return toEvents(read[0][1]);
        // Nothing within a second: is the generation still going somewhere?
        const [meta, producer] = await Promise.all([this.meta(id), this.redis.exists(key(id, 'producer'))]);
        if (meta?.state === 'dropped') return tooLarge();
        if (meta?.state === 'ended') {
          const tail = (await this.redis.xrange(log, `(${cursor}`, '+', 'COUNT', 500)) as Array<[string, string[]]>;
          return tail.length > 0 ? toEvents(tail) : producerGone();
        }
        if (producer === 0) return producerGone();
        return [];
      } catch (error) {
        if (left) return [];
        this.storeError(error as Error);
        return storeUnavailable();
      }
    };

    const done = { done: true as const, value: undefined };
    const iterator: AsyncIterableIterator<StreamEvent> = {
      next: async () => {
        while (!left && !finished) {
          const event = buffered.shift();
          if (event !== undefined) {
            if (typeof (event as { seq?: unknown }).seq !== 'number') {
              finished = true;
              leave('drop');
            }
            return { done: false, value: event };
          }
          const batch = await more();
          if (left) break;
          if (!Array.isArray(batch)) {
            finished = true;
            leave('drop');
            return { done: false, value: batch };
          }
          buffered = batch;
        }
        return done;
      },
      return: async () => {
        leave(leaveOf(signal));
        return done;
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /** A connection of its own for blocking reads; the limits' client stays non-blocking. */
  private async reader(): Promise<Redis> {
    const reader = this.redis.duplicate();
    if (reader.status !== 'ready') {
      await new Promise<void>((resolve, reject) => {
        reader.once('ready', () => resolve());
        reader.once('error', reject);
        setTimeout(() => reject(new Error('the stream store did not answer in time')), 2000).unref();
      });
    }
    return reader;
  }
}
