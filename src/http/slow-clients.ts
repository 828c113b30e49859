/**
 * Clients that stopped reading (SLOW_CLIENT_TIMEOUT_MS), on graphql-ws and SSE alike. Both
 * transports write the next event only once the previous one has gone (graphql-ws awaits each
 * send, Yoga waits for `drain`), so such a client costs bounded memory; but it would hold its
 * streams, and their upstream requests, for as long as it stays connected.
 *
 * One timer samples every watched TCP socket: a socket with bytes waiting to be written
 * (`writableLength`) and no byte flushed since the last progress (`bytesWritten` minus what still
 * waits) for the timeout is stuck, and its owner drops it. Nothing runs per message or per event.
 */
import type { Socket } from 'node:net';

export interface Stuck {
  /** How long nothing was flushed, in ms. */
  stuckMs: number;
  /** Bytes the service still held for the socket. */
  bufferedBytes: number;
}

interface Watched {
  /** Bytes the socket had flushed at the last progress. */
  flushed: number;
  /** When it last made progress (or had nothing waiting). */
  since: number;
  onStuck: (stuck: Stuck) => void;
}

export class SlowClientWatch {
  private readonly watched = new Map<Socket, Watched>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly timeoutMs: number) {
    this.timer = setInterval(() => this.check(), Math.min(1000, Math.max(50, timeoutMs / 4)));
    this.timer.unref();
  }

  /** Calls `onStuck` once, when `socket` has been stuck for the timeout; returns the unwatch. */
  watch(socket: Socket, onStuck: (stuck: Stuck) => void): () => void {
    this.watched.set(socket, { flushed: flushedBytes(socket), since: performance.now(), onStuck });
    return () => this.watched.delete(socket);
  }

  close(): void {
    clearInterval(this.timer);
    this.watched.clear();
  }

  private check(): void {
    const now = performance.now();
    for (const [socket, state] of this.watched) {
      const flushed = flushedBytes(socket);
      if (socket.writableLength === 0 || flushed !== state.flushed) {
        state.flushed = flushed;
        state.since = now;
      } else if (now - state.since >= this.timeoutMs) {
        this.watched.delete(socket);
        state.onStuck({ stuckMs: Math.round(now - state.since), bufferedBytes: socket.writableLength });
      }
    }
  }
}

/** Bytes handed over to the network: `bytesWritten` counts what still waits, too. */
function flushedBytes(socket: Socket): number {
  return socket.bytesWritten - socket.writableLength;
}
