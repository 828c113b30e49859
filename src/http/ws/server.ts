/**
 * graphql-ws on the HTTP server's `/graphql` path, executing through Yoga's envelop so that both
 * transports share one execution path and the same plugins (the bridge is `onSubscribe`: it
 * resolves trusted documents, builds each operation's context with its own abort signal, and
 * parses and validates with Yoga's plugins in place).
 *
 * Who may connect and what each connection may do is `connection.ts`'s; aborting an operation
 * the moment its client leaves is `aborts.ts`'s.
 *
 * Hostile clients: an upgrade whose `Host` is not in ALLOWED_HOSTS, or whose `Origin` is not
 * allowed (CORS does not cover WebSockets), gets HTTP 403; a frame over `maxPayload` closes the
 * socket with 1009; a client that sends no `connection_init` in time is closed with 4408
 * (graphql-ws); and a connection may run at most `maxOperations` operations at once: one more gets
 * an `error` message for that operation (the others go on).
 *
 * Slow readers: graphql-ws awaits each send's callback before it pulls the next event, and the
 * callback comes at once only while the socket holds under 16 KiB unsent (`write-batching.ts`, which
 * also makes one write of what a turn sends), so a client that stops reading leaves at most that
 * much in the service's buffers (the kernel's socket buffers take the rest). It still holds its
 * operations, and their upstream requests, for as long as it stays connected: the slow-client
 * watch terminates a socket that has flushed nothing for SLOW_CLIENT_TIMEOUT_MS with bytes waiting.
 *
 * Trusted documents: with `persistedDocuments` set, a subscribe message runs only a listed document,
 * named by `documentId` (or Apollo's `extensions.persistedQuery`) next to an empty `query`; anything
 * else gets an `error` message for that operation, before parsing, and the socket stays open.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

import { type ExecutionArgs, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { type WebSocket, WebSocketServer } from 'ws';

import type { AuthOutcome } from '../../auth/authenticate.js';
import type { Principal } from '../../auth/principal.js';
import type { Logger } from '../../logger.js';
import { type PersistedDocuments, resolveOperation } from '../../plugins/persisted.js';
import { hostRefusal, isHostAllowed } from '../hosts.js';
import { isOriginAllowed, type OriginPolicy } from '../origins.js';
import { operationRequestId, REQUEST_ID_HEADER, requestIdFrom } from '../request-id.js';
import type { SlowClientWatch } from '../slow-clients.js';
import { batchWebSocketSends } from '../write-batching.js';
import { OperationAborts } from './aborts.js';
import { type ConnectionOptions, Connections, WS_FORBIDDEN } from './connection.js';

export { WS_FORBIDDEN, WS_TOO_MANY_CONNECTIONS } from './connection.js';

/** What graphql-ws operations add to Yoga's initial context. */
export interface WebSocketInitialContext {
  operationSignal?: AbortSignal;
  /** The operation's request id: the upgrade's `x-request-id` and the operation's id. */
  operationRequestId?: string;
  /** The client authenticated at `connection_init`. */
  operationPrincipal?: Principal;
}

// biome-ignore lint/suspicious/noExplicitAny: the user context does not matter here
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
  /** See `Connections.refreshPrincipals`. */
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
  /** Counts a connection against its client's CLIENT_MAX_CONNECTIONS (the limits gate's `openConnection`). */
  openConnection: ConnectionOptions['openConnection'];
}

export function attachGraphQLWebSocket(httpServer: Server, yoga: AnyYoga, logger: Logger, limits: WebSocketLimits): GraphQLWebSocket {
  // `noServer`, with the upgrade wired by hand: attached to the HTTP server, ws would re-emit its
  // errors (a port in use, say), and graphql-ws would print them with their stacks.
  const server = new WebSocketServer({
    noServer: true,
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
  const upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // ws checks the path (400 otherwise) and runs `verifyClient`.
    server.handleUpgrade(request, socket, head, (ws) => server.emit('connection', ws, request));
  };
  httpServer.on('upgrade', upgrade);
  const connections = new Connections(server, logger, limits);
  const aborts = new OperationAborts();

  server.on('connection', (socket, request) => {
    batchWebSocketSends(socket);
    connections.watch(socket, request);
    aborts.watch(socket);
  });

  useServer<Record<string, unknown>, { socket: WebSocket; request?: IncomingMessage }>(
    {
      onConnect: (ctx) => connections.accept(ctx.extra.socket, ctx.connectionParams, ctx.extra.request),
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args as ExecutionArgs),
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args as ExecutionArgs),
      onSubscribe: async (ctx, id, payload) => {
        const { socket, request } = ctx.extra;
        const principal = connections.principal(socket);
        if (principal?.expiresAt != null && principal.expiresAt <= Date.now()) {
          socket.close(WS_FORBIDDEN, 'Forbidden: the token has expired');
          return [new GraphQLError('The token has expired.')];
        }
        if (aborts.count(socket) >= limits.maxOperations) {
          return [
            new GraphQLError(
              `Too many operations on this connection: at most ${limits.maxOperations} may run at once (WS_MAX_SUBSCRIPTIONS).`,
            ),
          ];
        }
        // graphql-ws has checked that `query` is a string; `documentId` rides along in the payload.
        const query = resolveOperation(limits.persistedDocuments, payload);
        if (query instanceof GraphQLError) return [query];
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: request,
          socket,
          params: { ...payload, query },
          operationSignal: aborts.begin(socket, id),
          ...(principal ? { operationPrincipal: principal } : {}),
          operationRequestId: operationRequestId(requestIdFrom(request?.headers[REQUEST_ID_HEADER]), id),
        });
        let document: ReturnType<typeof parse>;
        try {
          document = parse(query);
        } catch (error) {
          // A syntax error, or armor's token limit: an error for this operation, not a broken socket.
          aborts.abort(socket, id);
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
          aborts.abort(socket, id);
          return errors;
        }
        return args;
      },
      onComplete: (ctx, id) => aborts.forget(ctx.extra.socket, id),
      onError: (ctx, id, _payload, errors) => {
        aborts.forget(ctx.extra.socket, id);
        logger.debug({ operationId: id, errors: errors.map((error) => error.message) }, 'graphql-ws operation failed');
      },
      connectionInitWaitTimeout: limits.connectionInitWaitTimeoutMs,
    },
    server,
    // graphql-ws's own keep-alive is an interval per socket; `Connections` runs one timer for all.
    0,
  );

  return {
    server,
    get connections() {
      return server.clients.size;
    },
    refreshPrincipals: (refresh) => connections.refreshPrincipals(refresh),
    close: async () => {
      httpServer.off('upgrade', upgrade);
      connections.close();
      // Operations have ended by now (the tracker drained them), but graphql-ws sends each `complete`
      // only after the operation's iterator has returned: let those go out before the close frame.
      const deadline = performance.now() + 1000;
      while ([...server.clients].some((socket) => aborts.count(socket) > 0) && performance.now() < deadline) {
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
