/**
 * graphql-ws connections: who is on each socket and what it may do. Authentication at
 * `connection_init` (close 4403 with the reason when refused), per-client connection limits (close
 * 4429), closing a socket when its token expires or its key is revoked, a cap on what arrives
 * before `connection_ack`, a keep-alive ping on one timer for every socket, and the slow-client
 * watch shared with SSE.
 */
import type { IncomingMessage } from 'node:http';

import type { WebSocket, WebSocketServer } from 'ws';

import type { AuthOutcome } from '../../auth/authenticate.js';
import type { Principal } from '../../auth/principal.js';
import { AuthenticationError } from '../../errors.js';
import type { ConnectionRelease } from '../../limits/connections.js';
import type { Logger } from '../../logger.js';
import type { SlowClientWatch } from '../slow-clients.js';

/** Close codes of refused connections (graphql-ws's own: 4403 Forbidden, 4429 Too many requests). */
export const WS_FORBIDDEN = 4403;
export const WS_TOO_MANY_CONNECTIONS = 4429;

/** The largest message accepted before `connection_ack`. */
export const PRE_ACK_MAX_BYTES = 64 * 1024;

/** The size of a message as ws delivers it (a Buffer, an array of fragments, or an ArrayBuffer). */
function messageBytes(data: unknown): number {
  if (Buffer.isBuffer(data)) return data.length;
  if (Array.isArray(data)) return data.reduce((sum: number, part: Buffer) => sum + part.length, 0);
  if (data instanceof ArrayBuffer) return data.byteLength;
  return 0;
}

/** A close reason may hold 123 bytes. */
export function closeReason(text: string): string {
  const bytes = Buffer.from(text);
  return bytes.length <= 123
    ? text
    : `${bytes
        .subarray(0, 120)
        .toString()
        .replace(/\uFFFD+$/, '')}...`;
}

/** The longest delay setTimeout takes; a token valid for longer is checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ConnectionOptions {
  /** Authenticates `connectionParams.authorization` at `connection_init`. */
  authenticate: (authorization: string | undefined) => Promise<AuthOutcome>;
  /** Interval of the server's pings; a socket that missed the previous pong is terminated. */
  keepAliveMs: number;
  /** Drops a client that stopped reading (SLOW_CLIENT_TIMEOUT_MS), shared with SSE. */
  slowClients: SlowClientWatch;
  /**
   * Counts the connection against its client's CLIENT_MAX_CONNECTIONS (the limits gate's
   * `openConnection`: in this process, across workers or across replicas); resolves with its
   * release, or null at the limit.
   */
  openConnection: (principal: Principal) => Promise<ConnectionRelease | null>;
}

export class Connections {
  /** Sockets whose `connection_init` was accepted. */
  private readonly acknowledged = new WeakSet<WebSocket>();
  private readonly principals = new WeakMap<WebSocket, Principal>();
  private readonly alive = new WeakSet<WebSocket>();
  private readonly keepAlive: NodeJS.Timeout;

  constructor(
    private readonly server: WebSocketServer,
    private readonly logger: Logger,
    private readonly options: ConnectionOptions,
  ) {
    // Keep-alive: one timer for all sockets, nothing per message.
    this.keepAlive = setInterval(() => {
      for (const socket of server.clients) {
        if (!this.alive.has(socket)) {
          socket.terminate();
          continue;
        }
        this.alive.delete(socket);
        socket.ping();
      }
    }, options.keepAliveMs);
    this.keepAlive.unref();
  }

  /** Starts watching a socket that just connected. */
  watch(socket: WebSocket, request: IncomingMessage): void {
    const { logger } = this;
    // A frame over maxPayload: ws closes the socket with 1009 itself and emits an error, which
    // graphql-ws would print to stderr with its stack as an "internal error". It is the client's.
    // Before `connection_ack` (no credential judged yet), a message over PRE_ACK_MAX_BYTES closes
    // the socket with 1009 before graphql-ws parses it: `connection_init` cannot carry megabytes.
    const emit = socket.emit.bind(socket);
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      if (event === 'error' && (args[0] as { code?: unknown } | undefined)?.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        logger.debug('WebSocket frame over MAX_BODY_BYTES: closed with 1009');
        return true;
      }
      if (event === 'message' && !this.acknowledged.has(socket) && messageBytes(args[0]) > PRE_ACK_MAX_BYTES) {
        logger.debug({ bytes: messageBytes(args[0]) }, 'WebSocket message before connection_ack over 64 KiB: closed with 1009');
        socket.close(1009, 'Message too big before connection_ack');
        return true;
      }
      return emit(event, ...args);
    }) as typeof socket.emit;
    this.alive.add(socket);
    socket.on('pong', () => this.alive.add(socket));
    // A client that stopped reading: a close frame would queue behind the stuck bytes, so the TCP
    // connection is dropped (the client sees 1006); the socket's `close` aborts its operations.
    const unwatch = this.options.slowClients.watch(request.socket, (stuck) => {
      logger.warn(stuck, 'WebSocket client stopped reading: connection terminated (SLOW_CLIENT_TIMEOUT_MS)');
      socket.terminate();
    });
    socket.once('close', unwatch);
  }

  /**
   * `connection_init`: authenticates the credential (from `connectionParams`, or the upgrade's
   * Authorization header for clients other than browsers) and counts the connection against its
   * client's limit. Returns whether graphql-ws may acknowledge; a refused socket is closed here
   * with its reason (the first close wins over graphql-ws's own 4403).
   */
  async accept(
    socket: WebSocket,
    connectionParams: Record<string, unknown> | undefined,
    request: IncomingMessage | undefined,
  ): Promise<boolean> {
    // Browsers cannot set headers on an upgrade, so the credential travels in connection_init.
    const raw = connectionParams?.authorization ?? connectionParams?.Authorization ?? request?.headers.authorization;
    const outcome = await this.options.authenticate(typeof raw === 'string' ? raw : undefined);
    if (outcome instanceof AuthenticationError) {
      socket.close(WS_FORBIDDEN, closeReason(`Forbidden: ${outcome.message}`));
      return false;
    }
    if (outcome.expiresAt !== null && outcome.expiresAt <= Date.now()) {
      socket.close(WS_FORBIDDEN, 'Forbidden: the token has expired');
      return false;
    }
    if (socket.readyState !== socket.OPEN) return false;
    const release = await this.options.openConnection(outcome);
    if (release === null) {
      const max = outcome.limits.maxConnections;
      socket.close(WS_TOO_MANY_CONNECTIONS, closeReason(`Too many connections: at most ${max} at once for this client`));
      return false;
    }
    // The count may have taken a round trip (to the primary, to Redis): the client may be gone.
    if (socket.readyState !== socket.OPEN) {
      release();
      return false;
    }
    socket.once('close', release);
    this.principals.set(socket, outcome);
    this.acknowledged.add(socket);
    if (outcome.expiresAt !== null) this.closeOnExpiry(socket, outcome.expiresAt);
    return true;
  }

  /** The client authenticated on `socket`. */
  principal(socket: WebSocket): Principal | undefined {
    return this.principals.get(socket);
  }

  /** Closes the socket when its credential expires; no operation starts on it after that. */
  private closeOnExpiry(socket: WebSocket, expiresAt: number): void {
    const wait = expiresAt - Date.now();
    const timer = setTimeout(
      () => (wait > MAX_TIMER_MS ? this.closeOnExpiry(socket, expiresAt) : socket.close(WS_FORBIDDEN, 'Forbidden: the token has expired')),
      Math.max(0, Math.min(wait, MAX_TIMER_MS)),
    );
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  /**
   * After the credentials changed (CLIENT_KEYS_FILE reloaded): each connection's client becomes
   * `refresh(client)`, or the connection is closed with 4403 when that is null (its key was
   * removed or replaced). Returns how many were closed.
   */
  refreshPrincipals(refresh: (principal: Principal) => Principal | null): number {
    let closed = 0;
    for (const socket of this.server.clients) {
      const principal = this.principals.get(socket);
      if (!principal) continue;
      const current = refresh(principal);
      if (current) {
        this.principals.set(socket, current);
      } else {
        closed += 1;
        socket.close(WS_FORBIDDEN, 'Forbidden: the credential was revoked');
      }
    }
    return closed;
  }

  close(): void {
    clearInterval(this.keepAlive);
  }
}
