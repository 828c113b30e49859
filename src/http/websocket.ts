/**
 * graphql-ws on the HTTP server's `/graphql` path, executing through Yoga's envelop so that both
 * transports share one execution path and the same plugins.
 *
 * Each operation gets its own AbortController, handed to resolvers as `context.signal`. It fires
 * from the transport's own events, the client's `complete` message and the socket closing, at the
 * moment they arrive: graphql-ws itself only learns that an operation ended after the operation's
 * iterator has returned, which can wait for the next upstream chunk.
 *
 * Hostile clients: an upgrade whose `Origin` is not allowed (CORS does not cover WebSockets) gets
 * HTTP 403; a frame over `maxPayload` closes the socket with 1009; a client that sends no
 * `connection_init` in time is closed with 4408 (graphql-ws); the server pings every
 * `keepAliveMs` and terminates a socket that did not answer the previous ping; and a connection
 * may run at most `maxOperations` operations at once: one more gets an `error` message for that
 * operation (the others go on).
 */
import type { IncomingMessage, Server } from 'node:http';

import { type ExecutionArgs, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { type WebSocket, WebSocketServer } from 'ws';

import type { Logger } from '../logger.js';
import { isOriginAllowed } from './origins.js';
import { REQUEST_ID_HEADER, requestIdFrom } from './request-id.js';

/** What graphql-ws operations add to Yoga's initial context. */
export interface WebSocketInitialContext {
  operationSignal?: AbortSignal;
  /** The operation's request id: the upgrade's `x-request-id` and the operation's id. */
  operationRequestId?: string;
}

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
}

export interface WebSocketLimits {
  /** Browser origins allowed to upgrade (CORS_ORIGINS); null means the default list. */
  corsOrigins: RegExp[] | null;
  /** Largest frame accepted; a larger one closes the socket with 1009. */
  maxPayload: number;
  /** Time allowed between the upgrade and `connection_init` (close 4408 after). */
  connectionInitWaitTimeoutMs: number;
  /** Operations running at once per connection. */
  maxOperations: number;
  /** Interval of the server's pings; a socket that missed the previous pong is terminated. */
  keepAliveMs: number;
}

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
      if (!origin || isOriginAllowed(origin, req.headers.host ?? null, limits.corsOrigins)) return callback(true);
      logger.debug({ origin }, 'WebSocket upgrade refused: origin not allowed');
      callback(false, 403, 'Origin not allowed');
    },
  });
  const operations = new WeakMap<WebSocket, Map<string, AbortController>>();

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

  server.on('connection', (socket) => {
    const byId = new Map<string, AbortController>();
    operations.set(socket, byId);
    alive.add(socket);
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
      for (const controller of byId.values()) controller.abort();
      byId.clear();
    });
  });

  useServer<Record<string, unknown>, { socket: WebSocket }>(
    {
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args as ExecutionArgs),
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args as ExecutionArgs),
      onSubscribe: async (ctx, id, payload) => {
        const byId = operations.get(ctx.extra.socket);
        if (byId && byId.size >= limits.maxOperations) {
          return [
            new GraphQLError(
              `Too many operations on this connection: at most ${limits.maxOperations} may run at once (WS_MAX_SUBSCRIPTIONS).`,
            ),
          ];
        }
        const controller = new AbortController();
        byId?.set(id, controller);
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: (ctx.extra as { request?: unknown }).request,
          socket: ctx.extra.socket,
          params: payload,
          operationSignal: controller.signal,
          operationRequestId: `${requestIdFrom((ctx.extra as { request?: IncomingMessage }).request?.headers[REQUEST_ID_HEADER])}:${id}`,
        });
        let document: ReturnType<typeof parse>;
        try {
          document = parse(payload.query);
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
  );

  return {
    server,
    get connections() {
      return server.clients.size;
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
