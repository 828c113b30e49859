/**
 * One write per socket per event-loop turn. The token path sends one message per chunk, and an
 * upstream read often holds several chunks (a burst) for the same socket's operations: written
 * one by one, each message was its own `writev` system call, which the CPU profile of the burst
 * benchmark showed as the largest single cost. Here the first message of a turn corks the socket,
 * and a `setImmediate` (after every promise the current I/O callback set off) uncorks it, so that
 * whatever the turn produced leaves in one write.
 *
 * graphql-ws awaits each send's callback before it pulls the next event of an operation; ws calls
 * it only once the bytes are written, which would leave one message per operation per turn. So
 * the callback is called at once while the socket holds less than BATCH_HIGH_WATER_BYTES unsent;
 * above it, the callback waits for the write as before. Backpressure is thus kept, with at most
 * that many bytes more in the service's buffers, and a client that stops reading still leaves
 * bytes waiting for the slow-client watch to see.
 *
 * SSE responses need none of this: Node's HTTP response corks its socket at its first write and
 * uncorks it once the current microtasks have run, so the events of one upstream read already
 * leave in one write, and Yoga does not wait for each write before it pulls the next event.
 */
import type { Socket } from 'node:net';

import { WebSocket } from 'ws';

/** Unsent bytes of a socket under which a send's callback is called at once: a socket's own high-water mark. */
export const BATCH_HIGH_WATER_BYTES = 16 * 1024;

type SendCallback = (error?: Error) => void;

/** Corks `socket` until the end of this turn, unless it already is. */
function corker(socket: Pick<Socket, 'cork' | 'uncork'>): () => void {
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  return () => {
    if (corked) return;
    corked = true;
    socket.cork();
    setImmediate(uncork);
  };
}

/** Batches the messages graphql-ws sends on `socket`; call once, when it connects. */
export function batchWebSocketSends(socket: WebSocket): void {
  const raw = (socket as unknown as { _socket?: Socket | null })._socket;
  if (!raw) return;
  const send = socket.send;
  const cork = corker(raw);
  socket.send = function batchedSend(this: WebSocket, data: unknown, options?: unknown, callback?: SendCallback): void {
    const cb = (typeof options === 'function' ? options : callback) as SendCallback | undefined;
    const opts = typeof options === 'function' ? {} : (options ?? {});
    if (this.readyState !== WebSocket.OPEN) {
      // ws answers a send on a closing socket with an error: graphql-ws must see it.
      send.call(this, data as string, opts, cb);
      return;
    }
    cork();
    if (cb === undefined || this.bufferedAmount >= BATCH_HIGH_WATER_BYTES) {
      send.call(this, data as string, opts, cb);
      return;
    }
    send.call(this, data as string, opts);
    cb();
  } as WebSocket['send'];
}
