/**
 * graphql-ws on the HTTP server's `/graphql` path, executing through Yoga's envelop so that both
 * transports share one execution path and the same plugins.
 *
 * Each operation gets its own AbortController, handed to resolvers as `context.signal`. It fires
 * from the transport's own events, the client's `complete` message and the socket closing, at the
 * moment they arrive: graphql-ws itself only learns that an operation ended after the operation's
 * iterator has returned, which can wait for the next upstream chunk.
 *
 * Hostile clients: an upgrade whose `Host` is not in ALLOWED_HOSTS, or whose `Origin` is not
 * allowed (CORS does not cover WebSockets), gets HTTP 403; a frame over `maxPayload` closes the socket with 1009; a client that sends no
 * `connection_init` in time is closed with 4408 (graphql-ws); the server pings every
 * `keepAliveMs` and terminates a socket that did not answer the previous ping; and a connection
 * may run at most `maxOperations` operations at once: one more gets an `error` message for that
 * operation (the others go on).
 *
 * Slow readers: graphql-ws awaits each send's callback before it pulls the next event, so a client
 * that stops reading leaves at most one message per operation in the service's buffers (the kernel's
 * socket buffers take the rest), but it holds its operations, and their upstream requests, for as
 * long as it stays connected: `slowClients` (src/http/slow-clients.ts) terminates a socket that has
 * flushed nothing for SLOW_CLIENT_TIMEOUT_MS with bytes waiting.
 *
 * Trusted documents: with `persistedDocuments` set, a subscribe message runs only a listed document,
 * named by `documentId` (or Apollo's `extensions.persistedQuery`) next to an empty `query`; anything
 * else gets an `error` message for that operation, before parsing, and the socket stays open.
 */
import type { IncomingMessage, Server } from 'node:http';

import { type ExecutionArgs, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { type WebSocket, WebSocketServer } from 'ws';

import type { AuthOutcome } from '../auth/authenticate.js';
import type { Principal } from '../auth/principal.js';
import { AuthenticationError } from '../errors.js';
import type { Logger } from '../logger.js';
import { hostRefusal, isHostAllowed } from './hosts.js';
import { isOriginAllowed, type OriginPolicy } from './origins.js';
import type { SlowClientWatch } from './slow-clients.js';
import { type PersistedDocuments, resolveOperation } from './persisted.js';
import { operationRequestId, REQUEST_ID_HEADER, requestIdFrom } from './request-id.js';

/** What graphql-ws operations add to Yoga's initial context. */
export interface WebSocketInitialContext {
  operationSignal?: AbortSignal;
  /** The operation's request id: the upgrade's `x-request-id` and the operation's id. */
  operationRequestId?: string;
  /** The client authenticated at `connection_init`. */
  operationPrincipal?: Principal;
}

/** Close codes of refused connections (graphql-ws's own: 4403 Forbidden, 4429 Too many requests). */
export const WS_FORBIDDEN = 4403;
export const WS_TOO_MANY_CONNECTIONS = 4429;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the user context does not matter here
type AnyYoga = YogaServerInstance<WebSocketInitialContext, any>;
type Envelope = ReturnType<AnyYoga['getEnveloped']>;

interface EnvelopedRoot {
  execute: Envelope['execute'];
  subscribe: Envelope['subscribe'];
}

export interface GraphQLWebSocket {
  server: WebSocketServer;
  /** Open WebSocket connections. */
  readonly connections: number;
  /** Closes every connection with 1001 (going away) and stops accepting new ones. */
  close(): Promise<void>;
  /**
   * After the credentials changed (CLIENT_KEYS_FILE reloaded): each connection's client becomes
   * `refresh(client)`, or the connection is closed with 4403 when that is null (its key was
   * removed or replaced). Returns how many were closed.
   */
  refreshPrincipals(refresh: (principal: Principal) => Principal | null): number;
}

export interface WebSocketLimits {
  /** Host names the service answers to (ALLOWED_HOSTS) and browser origins allowed to upgrade (CORS_ORIGINS). */
  origins: OriginPolicy;
  /** Largest frame accepted; a larger one closes the socket with 1009. */
  maxPayload: number;
  /** Time allowed between the upgrade and `connection_init` (close 4408 after). */
  connectionInitWaitTimeoutMs: number;
  /** Operations running at once per connection. */
  maxOperations: number;
  /** Interval of the server's pings; a socket that missed the previous pong is terminated. */
  keepAliveMs: number;
  /** Drops a client that stopped reading (SLOW_CLIENT_TIMEOUT_MS), shared with SSE. */
  slowClients: SlowClientWatch;
  /** Trusted documents (PERSISTED_DOCUMENTS): when set, only these run, by id; null: any document. */
  persistedDocuments: PersistedDocuments | null;
  /** Authenticates `connectionParams.authorization` at `connection_init`. */
  authenticate: (authorization: string | undefined) => Promise<AuthOutcome>;
}

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
function closeReason(text: string): string {
  const bytes = Buffer.from(text);
  return bytes.length <= 123 ? text : `${bytes.subarray(0, 120).toString().replace(/\uFFFD+$/, '')}...`;
}

/** The longest delay setTimeout takes; a token valid for longer is checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function attachGraphQLWebSocket(
  httpServer: Server,
  yoga: AnyYoga,
  logger: Logger,
  limits: WebSocketLimits,
): GraphQLWebSocket {
  const server = new WebSocketServer({
    server: httpServer,
    path: yoga.graphqlEndpoint,
    maxPayload: limits.maxPayload,
    // Browsers always send Origin on a WebSocket upgrade; other clients (no Origin) are let in.
    verifyClient: ({ origin, req }, callback) => {
      if (!isHostAllowed(limits.origins.hosts, req.headers.host)) {
        logger.debug({ host: req.headers.host }, 'WebSocket upgrade refused: host not allowed');
        return callback(false, 403, hostRefusal(req.headers.host).trim());
      }
      if (!origin || isOriginAllowed(origin, req.headers.host ?? null, limits.origins)) return callback(true);
      logger.debug({ origin }, 'WebSocket upgrade refused: origin not allowed');
      callback(false, 403, 'Origin not allowed');
    },
  });
  const operations = new WeakMap<WebSocket, Map<string, AbortController>>();
  /** Sockets whose `connection_init` was accepted. */
  const acknowledged = new WeakSet<WebSocket>();
  const principals = new WeakMap<WebSocket, Principal>();
  /** Open, authenticated connections per client id (this replica's). */
  const perClient = new Map<string, number>();

  /** Closes the socket when its credential expires; no operation starts on it after that. */
  const closeOnExpiry = (socket: WebSocket, expiresAt: number) => {
    const wait = expiresAt - Date.now();
    const timer = setTimeout(
      () => (wait > MAX_TIMER_MS ? closeOnExpiry(socket, expiresAt) : socket.close(WS_FORBIDDEN, 'Forbidden: the token has expired')),
      Math.max(0, Math.min(wait, MAX_TIMER_MS)),
    );
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };

  // Keep-alive: one timer for all sockets, nothing per message.
  const alive = new WeakSet<WebSocket>();
  const keepAlive = setInterval(() => {
    for (const socket of server.clients) {
      if (!alive.has(socket)) {
        socket.terminate();
        continue;
      }
      alive.delete(socket);
      socket.ping();
    }
  }, limits.keepAliveMs);
  keepAlive.unref();

  const abort = (socket: WebSocket, id: string) => {
    const byId = operations.get(socket);
    byId?.get(id)?.abort();
    byId?.delete(id);
  };

  server.on('connection', (socket, request) => {
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
      if (event === 'message' && !acknowledged.has(socket) && messageBytes(args[0]) > PRE_ACK_MAX_BYTES) {
        logger.debug({ bytes: messageBytes(args[0]) }, 'WebSocket message before connection_ack over 64 KiB: closed with 1009');
        socket.close(1009, 'Message too big before connection_ack');
        return true;
      }
      return emit(event, ...args);
    }) as typeof socket.emit;
    const byId = new Map<string, AbortController>();
    operations.set(socket, byId);
    alive.add(socket);
    // A client that stopped reading: a close frame would queue behind the stuck bytes, so the TCP
    // connection is dropped (the client sees 1006); the socket's `close` aborts its operations.
    const unwatch = limits.slowClients.watch(request.socket, (stuck) => {
      logger.warn(stuck, 'WebSocket client stopped reading: connection terminated (SLOW_CLIENT_TIMEOUT_MS)');
      socket.terminate();
    });
    socket.on('pong', () => alive.add(socket));
    socket.on('message', (data, isBinary) => {
      // Client messages are few (init, subscribe, complete, ping), so peeking at them costs nothing
      // on the token path; graphql-ws parses and validates them itself.
      if (isBinary || byId.size === 0) return;
      const text = data.toString();
      if (!text.includes('"complete"')) return;
      try {
        const message = JSON.parse(text) as { type?: unknown; id?: unknown };
        if (message.type === 'complete' && typeof message.id === 'string') abort(socket, message.id);
      } catch {
        // graphql-ws answers malformed messages by closing the socket.
      }
    });
    socket.once('close', () => {
      unwatch();
      for (const controller of byId.values()) controller.abort();
      byId.clear();
    });
  });

  useServer<Record<string, unknown>, { socket: WebSocket }>(
    {
      onConnect: async (ctx) => {
        const { socket } = ctx.extra;
        // Browsers cannot set headers on an upgrade, so the credential travels in connection_init;
        // other clients may send it on the upgrade request instead.
        const raw =
          ctx.connectionParams?.authorization ??
          ctx.connectionParams?.Authorization ??
          (ctx.extra as { request?: IncomingMessage }).request?.headers.authorization;
        const outcome = await limits.authenticate(typeof raw === 'string' ? raw : undefined);
        if (outcome instanceof AuthenticationError) {
          // graphql-ws closes with 4403 "Forbidden" after this; the first close (with the why) wins.
          socket.close(WS_FORBIDDEN, closeReason(`Forbidden: ${outcome.message}`));
          return false;
        }
        if (outcome.expiresAt !== null && outcome.expiresAt <= Date.now()) {
          socket.close(WS_FORBIDDEN, 'Forbidden: the token has expired');
          return false;
        }
        const open = perClient.get(outcome.id) ?? 0;
        const max = outcome.limits.maxConnections;
        if (max !== null && open >= max) {
          socket.close(WS_TOO_MANY_CONNECTIONS, closeReason(`Too many connections: at most ${max} at once for this client`));
          return false;
        }
        if (socket.readyState !== socket.OPEN) return false;
        perClient.set(outcome.id, open + 1);
        socket.once('close', () => {
          const left = (perClient.get(outcome.id) ?? 1) - 1;
          if (left > 0) perClient.set(outcome.id, left);
          else perClient.delete(outcome.id);
        });
        principals.set(socket, outcome);
        acknowledged.add(socket);
        if (outcome.expiresAt !== null) closeOnExpiry(socket, outcome.expiresAt);
        return true;
      },
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args as ExecutionArgs),
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args as ExecutionArgs),
      onSubscribe: async (ctx, id, payload) => {
        const principal = principals.get(ctx.extra.socket);
        if (principal?.expiresAt != null && principal.expiresAt <= Date.now()) {
          ctx.extra.socket.close(WS_FORBIDDEN, 'Forbidden: the token has expired');
          return [new GraphQLError('The token has expired.')];
        }
        const byId = operations.get(ctx.extra.socket);
        if (byId && byId.size >= limits.maxOperations) {
          return [
            new GraphQLError(
              `Too many operations on this connection: at most ${limits.maxOperations} may run at once (WS_MAX_SUBSCRIPTIONS).`,
            ),
          ];
        }
        // graphql-ws has checked that `query` is a string; `documentId` rides along in the payload.
        const query = resolveOperation(limits.persistedDocuments, payload);
        if (query instanceof GraphQLError) return [query];
        const controller = new AbortController();
        byId?.set(id, controller);
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: (ctx.extra as { request?: unknown }).request,
          socket: ctx.extra.socket,
          params: { ...payload, query },
          operationSignal: controller.signal,
          ...(principal ? { operationPrincipal: principal } : {}),
          operationRequestId: operationRequestId(requestIdFrom((ctx.extra as { request?: IncomingMessage }).request?.headers[REQUEST_ID_HEADER]), id),
        });
        let document: ReturnType<typeof parse>;
        try {
          document = parse(query);
        } catch (error) {
          // A syntax error, or armor's token limit: an error for this operation, not a broken socket.
          abort(ctx.extra.socket, id);
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const args = {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe } satisfies EnvelopedRoot,
        };
        let errors: readonly GraphQLError[];
        try {
          errors = validate(args.schema, args.document);
        } catch (error) {
          // armor's limits throw their refusal instead of reporting it.
          if (!(error instanceof GraphQLError)) throw error;
          errors = [error];
        }
        if (errors.length > 0) {
          abort(ctx.extra.socket, id);
          return errors;
        }
        return args;
      },
      onComplete: (ctx, id) => {
        operations.get(ctx.extra.socket)?.delete(id);
      },
      onError: (ctx, id, _payload, errors) => {
        operations.get(ctx.extra.socket)?.delete(id);
        logger.debug({ operationId: id, errors: errors.map((error) => error.message) }, 'graphql-ws operation failed');
      },
      connectionInitWaitTimeout: limits.connectionInitWaitTimeoutMs,
    },
    server,
    // graphql-ws's own keep-alive is an interval per socket; the one timer above does the same.
    0,
  );

  return {
    server,
    get connections() {
      return server.clients.size;
    },
    refreshPrincipals: (refresh) => {
      let closed = 0;
      for (const socket of server.clients) {
        const principal = principals.get(socket);
        if (!principal) continue;
        const current = refresh(principal);
        if (current) {
          principals.set(socket, current);
        } else {
          closed += 1;
          socket.close(WS_FORBIDDEN, 'Forbidden: the credential was revoked');
        }
      }
      return closed;
    },
    close: async () => {
      clearInterval(keepAlive);
      // Operations have ended by now (the tracker drained them), but graphql-ws sends each `complete`
      // only after the operation's iterator has returned: let those go out before the close frame.
      const deadline = performance.now() + 1000;
      while ([...server.clients].some((socket) => (operations.get(socket)?.size ?? 0) > 0) && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await new Promise<void>((resolve) => {
        for (const socket of server.clients) socket.close(1001, 'Server shutting down');
        server.close(() => resolve());
        // A peer that never answers the close handshake must not hold shutdown up.
        setTimeout(() => {
          for (const socket of server.clients) socket.terminate();
        }, 1000).unref();
      });
    },
  };
}
