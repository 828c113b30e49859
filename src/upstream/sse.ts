/**
 * A streamed chat completion read once, linearly: the response body (undici's Node stream, see
 * `http.ts`) decoded as UTF-8 as it comes (a character split across two reads is held back), split into server-sent events by
 * `eventsource-parser` (which holds only the unfinished line between reads), and each event's data
 * `JSON.parse`d once. It replaces the openai SDK's `Stream` for streaming calls: the SDK's reader
 * copies the unread rest of every read for each event, and its objects were most of what a live
 * stream held in memory. The SDK still makes the request (headers, timeout, its typed errors for
 * answers that are not 2xx); this only reads the body of a 2xx.
 *
 * It reads what the SDK read, the same way:
 * - `data: [DONE]` ends the stream; an upstream that never sends it ends when its body does;
 * - comments (`: ping`) and `event:`, `id:`, `retry:` lines are skipped; CRLF and CR line ends work;
 * - an event whose data has an `error` member is thrown as the SDK's `APIError`, with the
 *   response's headers, so that `classify.ts` reads in-band errors as it always has (vLLM's flat
 *   `object: "error"` chunks are the caller's, as before);
 * - data that is not JSON is thrown as the `SyntaxError` of `JSON.parse`, an event over 16 Mi
 *   characters as `MalformedUpstreamAnswer`;
 * - a body that fails after the request was aborted ends the stream quietly (the caller's
 *   cancellation, not the upstream's); any other failure of the body is thrown as it came.
 *
 * Backpressure is kept: the body is paused while parsed chunks wait to be taken, so a client
 * that stops reading stops the upstream read too, as the SDK's pull-based reader did.
 */
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import { APIError } from 'openai';

import { MalformedUpstreamAnswer } from './classify.js';
import type { WireChunk } from './wire.js';

/** The longest event (or unfinished line) held between reads: far above any real chunk. */
const MAX_EVENT_CHARS = 16 * 1024 * 1024;

interface Waiter {
  resolve(result: IteratorResult<WireChunk, undefined>): void;
  reject(error: unknown): void;
}

const DONE: IteratorResult<WireChunk, undefined> = Object.freeze({ done: true, value: undefined });

export class ChunkReader implements AsyncIterator<WireChunk, undefined> {
  /** Parsed chunks not yet taken; `head` is the next one. */
  private queue: WireChunk[] = [];
  private head = 0;
  private waiter: Waiter | null = null;
  /** The stream's end: `[DONE]`, the body's end, or the caller's `return()`. */
  private ended = false;
  private failure: unknown = null;
  private readonly parser: EventSourceParser;
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    private readonly body: Readable,
    private readonly headers: Headers,
    signal: AbortSignal,
  ) {
    this.parser = createParser({
      onEvent: (event) => this.onEvent(event),
      // Unknown fields and bad `retry` values are skipped, as the SDK skipped them.
      onError: (error) => {
        if (error.type === 'max-buffer-size-exceeded') {
          this.fail(new MalformedUpstreamAnswer(`The upstream sent an event over ${MAX_EVENT_CHARS} characters.`));
        }
      },
      maxBufferSize: MAX_EVENT_CHARS,
    });
    // Decoded here rather than by `setEncoding`: undici's body hands out Buffers after a pause.
    body.on('data', (bytes: Buffer) => this.onData(this.decoder.write(bytes)));
    body.on('end', () => this.finish(null));
    body.on('error', (error: Error) => this.finish(signal.aborted ? null : error));
  }

  next(): Promise<IteratorResult<WireChunk, undefined>> {
    if (this.head < this.queue.length) return Promise.resolve({ done: false, value: this.take() });
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(DONE);
    this.body.resume();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** The caller stopped reading: the body is destroyed, so that the upstream sees its request closed. */
  return(): Promise<IteratorResult<WireChunk, undefined>> {
    if (!this.ended) {
      this.ended = true;
      this.body.destroy();
    }
    this.queue = [];
    this.head = 0;
    return Promise.resolve(DONE);
  }

  private take(): WireChunk {
    const chunk = this.queue[this.head]!;
    this.queue[this.head++] = undefined as unknown as WireChunk;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
    return chunk;
  }

  private onData(text: string): void {
    if (this.ended) return;
    this.parser.feed(text);
    const waiter = this.waiter;
    if (waiter !== null) {
      if (this.head < this.queue.length) {
        this.waiter = null;
        waiter.resolve({ done: false, value: this.take() });
      } else if (this.ended) {
        this.settleWaiter();
      }
    }
    // Chunks wait to be taken: read no more until they are (after `[DONE]`, the body drains).
    if (!this.ended && this.head < this.queue.length) this.body.pause();
  }

  private onEvent(event: EventSourceMessage): void {
    if (this.ended || this.failure !== null) return;
    const { data } = event;
    if (data.startsWith('[DONE]')) {
      // The answer is complete. The rest of the body is drained, not destroyed, so that the
      // connection goes back to the pool.
      this.ended = true;
      this.body.resume();
      return;
    }
    let chunk: WireChunk & { error?: unknown };
    try {
      chunk = JSON.parse(data);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (chunk?.error) {
      this.fail(new APIError(undefined, chunk.error as object, undefined, this.headers));
      return;
    }
    this.queue.push(chunk);
  }

  private fail(error: unknown): void {
    // Chunks parsed before the failure are still delivered; the failure comes after them.
    this.failure = error;
    this.ended = true;
    this.body.destroy();
    this.settleWaiter();
  }

  private finish(error: Error | null): void {
    if (error !== null && !this.ended) this.failure = error;
    this.ended = true;
    this.settleWaiter();
  }

  private settleWaiter(): void {
    const waiter = this.waiter;
    if (waiter === null) return;
    if (this.head < this.queue.length) return; // onData delivers it
    this.waiter = null;
    if (this.failure !== null) waiter.reject(this.failure);
    else waiter.resolve(DONE);
  }
}
