/**
 * Per-operation aborts for graphql-ws. Each operation gets its own AbortController, handed to
 * resolvers as `context.signal`. It fires from the transport's own events, the client's
 * `complete` message (reason `stop`) and the socket closing (reason `drop`: a resumable stream
 * waits for its client to come back), at the moment they arrive: graphql-ws itself only
 * learns that an operation ended after the operation's iterator has returned, which can wait for
 * the next upstream chunk.
 */
import type { WebSocket } from 'ws';

export class OperationAborts {
  private readonly bySocket = new WeakMap<WebSocket, Map<string, AbortController>>();

  /** Starts watching a new connection: its `complete` messages and its close abort its operations. */
  watch(socket: WebSocket): void {
    const byId = new Map<string, AbortController>();
    this.bySocket.set(socket, byId);
    socket.on('message', (data, isBinary) => {
      // Client messages are few (init, subscribe, complete, ping), so peeking at them costs nothing
      // on the token path; graphql-ws parses and validates them itself.
      if (isBinary || byId.size === 0) return;
      const text = data.toString();
      if (!text.includes('"complete"')) return;
      try {
        const message = JSON.parse(text) as { type?: unknown; id?: unknown };
        if (message.type === 'complete' && typeof message.id === 'string') this.abort(socket, message.id, 'stop');
      } catch {
        // graphql-ws answers malformed messages by closing the socket.
      }
    });
    socket.once('close', () => {
      for (const controller of byId.values()) controller.abort('drop');
      byId.clear();
    });
  }

  /** Operations running on `socket`. */
  count(socket: WebSocket): number {
    return this.bySocket.get(socket)?.size ?? 0;
  }

  /** A new operation's signal; aborted at once when its socket has already closed. */
  begin(socket: WebSocket, id: string): AbortSignal {
    const controller = new AbortController();
    const byId = this.bySocket.get(socket);
    if (byId && socket.readyState === socket.OPEN) byId.set(id, controller);
    else controller.abort('drop');
    return controller.signal;
  }

  /**
   * Aborts one operation. The reason tells a resumable stream how its subscriber left: `stop`
   * (the client's `complete`) or `drop` (the connection went away).
   */
  abort(socket: WebSocket, id: string, reason: 'stop' | 'drop' = 'stop'): void {
    const byId = this.bySocket.get(socket);
    byId?.get(id)?.abort(reason);
    byId?.delete(id);
  }

  /** The operation ended on its own (graphql-ws completed it). */
  forget(socket: WebSocket, id: string): void {
    this.bySocket.get(socket)?.delete(id);
  }
}
