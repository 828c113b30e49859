/**
 * graphql-ws on the HTTP server's `/graphql` path, executing through Yoga's envelop so that both
 * transports share one execution path and the same plugins.
 *
 * Each operation gets its own AbortController, handed to resolvers as `context.signal`. It fires
 * from the transport's own events, the client's `complete` message and the socket closing, at the
 * moment they arrive: graphql-ws itself only learns that an operation ended after the operation's
 * iterator has returned, which can wait for the next upstream chunk.
 */
import type { Server } from 'node:http';

import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { type WebSocket, WebSocketServer } from 'ws';

import type { Logger } from '../logger.js';

/** What graphql-ws operations add to Yoga's initial context. */
export interface WebSocketInitialContext {
  operationSignal?: AbortSignal;
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

export function attachGraphQLWebSocket(
  httpServer: Server,
  yoga: AnyYoga,
  logger: Logger,
): GraphQLWebSocket {
  const server = new WebSocketServer({ server: httpServer, path: yoga.graphqlEndpoint });
  const operations = new WeakMap<WebSocket, Map<string, AbortController>>();

  const abort = (socket: WebSocket, id: string) => {
    const byId = operations.get(socket);
    byId?.get(id)?.abort();
    byId?.delete(id);
  };

  server.on('connection', (socket) => {
    const byId = new Map<string, AbortController>();
    operations.set(socket, byId);
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
        const controller = new AbortController();
        operations.get(ctx.extra.socket)?.set(id, controller);
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: (ctx.extra as { request?: unknown }).request,
          socket: ctx.extra.socket,
          params: payload,
          operationSignal: controller.signal,
        });
        const args = {
          schema,
          operationName: payload.operationName,
          document: parse(payload.query),
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe } satisfies EnvelopedRoot,
        };
        const errors = validate(args.schema, args.document);
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
    },
    server,
  );

  return {
    server,
    get connections() {
      return server.clients.size;
    },
    close: async () => {
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
