/**
 * Resumable streams (`chatCompletionStream(input, resume: { key, after })`): the first
 * subscription with a key starts the generation and records it; a later one with the same key, by
 * the same client, attaches to it (no second upstream call, no second admission) and gets what
 * came after `after`, then the live events, then the terminal event. A key is remembered (a
 * tombstone) long after its events are gone, so a known key never starts a second generation.
 *
 * Without REDIS_URL, generations and tombstones live in this process: a resume works on the same
 * replica. With it, every generation's events are mirrored to Redis (`RedisStreamLog`), and a
 * subscriber on any replica follows them there.
 */
import { createHash } from 'node:crypto';

import type { Principal } from '../auth/principal.js';
import type { StreamEvent } from '../chat/stream.js';
import type { ChatRequest } from '../chat/types.js';
import { type DomainError, ErrorSource, InvalidRequestError, NotFoundError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Operation } from '../operations.js';
import { Generation } from './generation.js';
import { type RedisStreamLog, storeUnavailable } from './redis-log.js';

/** What a client sends to make a stream resumable. */
export interface ResumeRequest {
  key: string;
  after?: number | null;
}

/** A key a client may choose: long and random enough not to be guessed, plain enough for any store. */
export const RESUME_KEY = /^[A-Za-z0-9_-]{16,128}$/;

/** The refusal of a malformed key, before anything is looked up. */
export function checkResumeKey(key: string): InvalidRequestError | null {
  return RESUME_KEY.test(key)
    ? null
    : new InvalidRequestError(
        'resume.key must be 16 to 128 characters of A-Z a-z 0-9 _ - (e.g. a UUID).',
        ErrorSource.SERVICE,
        'resume.key',
        'invalid_key',
      );
}

export type ResumeOutcome = 'attached' | 'not_found' | 'mismatch' | 'store_unavailable';

export interface ResumableOptions {
  graceMs: number;
  ttlMs: number;
  /** A generation whose log passes this stops being resumable. */
  maxBytes: number;
  /** All the logs kept in this process; the oldest finished generations go first. */
  storeBytes: number;
  /** The shared log (REDIS_URL); null keeps everything in this process. */
  shared: RedisStreamLog | null;
  /** Set: every resume is refused at `resume` with this message (several workers without the shared log). */
  refusal?: string | null;
  logger: Logger;
  /** Counts attach attempts by outcome (`chatql_stream_resumes_total`). */
  onResume?(outcome: ResumeOutcome): void;
}

/** A new generation's run loop and its operation, or why it could not start. */
export type Starter = () => { operation: Operation; source: AsyncIterator<StreamEvent> } | DomainError;

/** The id of a client's key: its hash, so that neither the key nor another client's keys show. */
function generationId(clientId: string, key: string): string {
  return createHash('sha256').update(clientId).update('\0').update(key).digest('base64url').slice(0, 32);
}

/** JSON with sorted keys and without null or absent fields: two requests that mean the same compare equal. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== null && item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([name, item]) => `${JSON.stringify(name)}:${canonical(item)}`).join(',')}}`;
}

export function fingerprint(input: ChatRequest): string {
  return createHash('sha256').update(canonical(input)).digest('base64url');
}

const POLL_MS = 300;

export class ResumableStreams {
  /** Generations this process runs or ran lately, by id. */
  private readonly generations = new Map<string, Generation>();
  /** Keys whose generation is gone from memory but still known: id → fingerprint and until when. */
  private readonly tombstones = new Map<string, { fp: string; until: number }>();
  private bytes = 0;
  private readonly poller: NodeJS.Timeout | null;

  constructor(private readonly options: ResumableOptions) {
    this.poller = options.shared ? setInterval(() => void this.poll(), POLL_MS) : null;
    this.poller?.unref();
  }

  /** Generations running here with no subscriber attached anywhere (in their grace period). */
  get detached(): number {
    let count = 0;
    for (const generation of this.generations.values()) if (generation.detached) count += 1;
    return count;
  }

  private refuse(outcome: ResumeOutcome, error: DomainError): DomainError {
    this.options.onResume?.(outcome);
    this.options.logger.info({ outcome }, 'stream attach refused');
    return error;
  }

  private notFound(): DomainError {
    return this.refuse(
      'not_found',
      new NotFoundError(
        'No resumable generation with this key is known (it is unknown, too old, or its events were dropped).',
        ErrorSource.SERVICE,
      ),
    );
  }

  private mismatch(): DomainError {
    return this.refuse(
      'mismatch',
      new InvalidRequestError(
        'This key belongs to a generation of another input: resume with the same input, or choose a new key.',
        ErrorSource.SERVICE,
        'resume.key',
        'key_mismatch',
      ),
    );
  }

  private attached(id: string, after: number | null, where: 'local' | 'remote'): void {
    this.options.onResume?.('attached');
    this.options.logger.info({ stream: id.slice(0, 12), after, where }, 'stream attached');
  }

  /**
   * A subscription with `resume`: attaches to the client's generation with this key, or starts it.
   * Resolves with the subscriber's events (a refusal is its one terminal event).
   */
  async open(
    principal: Principal,
    input: ChatRequest,
    resume: ResumeRequest,
    signal: AbortSignal,
    start: Starter,
  ): Promise<AsyncIterableIterator<StreamEvent>> {
    if (this.options.refusal) {
      return Generation.refusal(new InvalidRequestError(this.options.refusal, ErrorSource.SERVICE, 'resume', 'unsupported'));
    }
    const after = resume.after ?? null;
    const id = generationId(principal.id, resume.key);
    const fp = fingerprint(input);
    const local = this.generations.get(id);
    if (local) {
      if (local.fingerprint !== fp) return Generation.refusal(this.mismatch());
      if (!local.resumable) return Generation.refusal(this.notFound());
      this.attached(id, after, 'local');
      return local.attach(after, signal);
    }
    const tombstone = this.tombstones.get(id);
    if (tombstone && tombstone.until > Date.now()) {
      return Generation.refusal(tombstone.fp === fp ? this.notFound() : this.mismatch());
    }
    const shared = this.options.shared;
    if (shared === null) {
      if (after !== null) return Generation.refusal(this.notFound());
      return this.begin(id, fp, signal, start);
    }
    try {
      if (!shared.available) throw new Error('not connected');
      for (let attempt = 0; attempt < 2; attempt++) {
        const meta = await shared.meta(id);
        if (meta) {
          if (meta.fp !== fp) return Generation.refusal(this.mismatch());
          if (meta.state === 'dropped') return Generation.refusal(this.notFound());
          // It may have started here meanwhile.
          const started = this.generations.get(id);
          if (started) {
            this.attached(id, after, 'local');
            return started.attach(after, signal);
          }
          this.attached(id, after, 'remote');
          return shared.follow(id, after, signal);
        }
        if (after !== null) return Generation.refusal(this.notFound());
        if (await shared.create(id, fp)) return this.begin(id, fp, signal, start);
        // Another subscription with this key created it first: attach to that one.
      }
      return Generation.refusal(this.refuse('store_unavailable', storeUnavailable()));
    } catch (error) {
      this.options.logger.warn({ error: (error as Error).message }, 'resumable stream store unavailable: resume refused');
      return Generation.refusal(this.refuse('store_unavailable', storeUnavailable()));
    }
  }

  /** Starts a new generation here and attaches its first subscriber. */
  private begin(id: string, fp: string, signal: AbortSignal, start: Starter): AsyncIterableIterator<StreamEvent> {
    const started = start();
    if (!('operation' in started)) return Generation.refusal(started);
    const shared = this.options.shared;
    let sharedBytes = 0;
    let dropped = false;
    const generation = new Generation({
      id,
      fingerprint: fp,
      operation: started.operation,
      graceMs: this.options.graceMs,
      maxBytes: this.options.maxBytes,
      hooks: {
        onEvent: (event, seq) => {
          if (!shared || dropped) return;
          sharedBytes += shared.append(id, seq, event);
          if (sharedBytes > this.options.maxBytes) {
            dropped = true;
            shared.drop(id, fp, generation.startedAt);
          }
        },
        onDetached: (detached) => {
          if (detached)
            this.options.logger.info(
              { stream: id.slice(0, 12), graceMs: this.options.graceMs },
              'stream detached: waiting for a subscriber',
            );
        },
      },
    });
    this.generations.set(id, generation);
    const subscriber = generation.attach(null, signal);
    void generation.pump(started.source).finally(() => {
      shared?.end(id, fp, generation.startedAt, dropped || !generation.resumable);
      this.bytes += generation.bytes;
      this.forgetLater(generation);
      this.trim();
    });
    return subscriber;
  }

  /** A finished generation stays replayable for the TTL, then only its tombstone remains. */
  private forgetLater(generation: Generation): void {
    const timer = setTimeout(() => this.forget(generation), this.options.ttlMs);
    timer.unref();
  }

  private forget(generation: Generation): void {
    if (this.generations.get(generation.id) !== generation) return;
    this.generations.delete(generation.id);
    this.bytes -= generation.bytes;
    // At least TTL + grace after the start, and after the end too.
    const until = Math.max(generation.startedAt, generation.endedAt ?? Date.now()) + this.options.ttlMs + this.options.graceMs;
    this.tombstones.set(generation.id, { fp: generation.fingerprint, until });
    const sweep = setTimeout(
      () => {
        const tombstone = this.tombstones.get(generation.id);
        if (tombstone && tombstone.until <= Date.now()) this.tombstones.delete(generation.id);
      },
      until - Date.now() + 10,
    );
    sweep.unref();
  }

  /** Keeps the finished logs within STREAM_RESUME_STORE_BYTES, the oldest going first. */
  private trim(): void {
    if (this.bytes <= this.options.storeBytes) return;
    for (const generation of this.generations.values()) {
      if (this.bytes <= this.options.storeBytes) break;
      if (generation.ended) this.forget(generation);
    }
  }

  /**
   * `cancelChatCompletionStream`: stops the client's generation with this key, wherever it runs.
   * Resolves false when none was running.
   */
  async cancel(principal: Principal, key: string): Promise<boolean> {
    const id = generationId(principal.id, key);
    const local = this.generations.get(id);
    if (local && !local.ended) {
      local.stop();
      this.options.logger.info({ stream: id.slice(0, 12) }, 'stream cancelled');
      return true;
    }
    if (local || this.options.shared === null) return false;
    const cancelled = await this.options.shared.cancel(id);
    if (cancelled) this.options.logger.info({ stream: id.slice(0, 12), where: 'remote' }, 'stream cancelled');
    return cancelled;
  }

  /** The producer's round (with Redis): leases, cancels, and who still listens on other replicas. */
  private async poll(): Promise<void> {
    const shared = this.options.shared;
    if (!shared?.available) return;
    const running = [...this.generations.values()].filter((generation) => !generation.ended);
    if (running.length === 0) return;
    try {
      const state = await shared.poll(running.map((generation) => generation.id));
      for (const generation of running) {
        const seen = state.get(generation.id);
        if (!seen) continue;
        if (seen.cancel) generation.stop();
        else generation.setRemote(seen.remote, seen.stop);
      }
    } catch {
      // The store is away: the generations go on for their subscribers here.
    }
  }

  close(): void {
    if (this.poller) clearInterval(this.poller);
  }
}
