/**
 * Writing responses: JSON bodies, SSE framing, and the pacing of a stream. A
 * write to a response whose client has gone is skipped rather than attempted:
 * the mock must outlive any client that walks away.
 */

import type { ServerResponse } from 'node:http';
import type { MockHttpError } from './errors.js';

/** True while a body can still be written. */
export function writable(res: ServerResponse): boolean {
  return !res.destroyed && !res.writableEnded;
}

/** Sends a whole JSON response with `content-length`, so keep-alive clients know where it ends. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  if (!writable(res) || res.headersSent) return;
  const payload = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

export function sendError(res: ServerResponse, error: MockHttpError): void {
  sendJson(res, error.status, error.body, error.headers);
}

/** Sends headers at once, so the client's first byte arrives before the first token, as with OpenAI. */
export function startBody(res: ServerResponse, contentType: 'text/event-stream; charset=utf-8' | 'application/json'): void {
  if (!writable(res) || res.headersSent) return;
  res.writeHead(200, {
    'content-type': contentType,
    'cache-control': 'no-cache',
    // Tells proxies such as nginx not to buffer the stream.
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
}

/**
 * Writes one SSE event: `data: <json>` and the blank line that ends it (or
 * `data: [DONE]`). Resolves once the bytes are handed to the socket, for callers
 * that must not destroy it before then.
 */
export function writeEvent(res: ServerResponse, data: object | '[DONE]'): Promise<void> {
  if (!writable(res)) return Promise.resolve();
  return new Promise((resolve) => {
    res.write(`data: ${data === '[DONE]' ? data : JSON.stringify(data)}\n\n`, () => resolve());
  });
}

/**
 * Waits between stream chunks, and stops waiting for good when the client leaves
 * or the server closes, so that an abandoned stream neither writes nor keeps a
 * timer alive.
 */
export class Pacer {
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #wake: ((go: boolean) => void) | undefined;

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Resolves true after `ms`, or false once stopped. A zero delay does not yield to the event loop. */
  wait(ms: number): Promise<boolean> {
    if (this.#stopped) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#wake = undefined;
        resolve(!this.#stopped);
      }, ms);
    });
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#wake?.(false);
    this.#wake = undefined;
  }
}
