/**
 * Yoga, the GraphQL server of HTTP and SSE (graphql-ws executes through its envelop too): the
 * schema, the per-operation context, CORS, and the GraphQL plugins (CSRF, document limits,
 * trusted documents). GraphiQL's page is served before Yoga, by the router (see `graphiql.ts`).
 */
import type { IncomingMessage } from 'node:http';

import { createYoga, type YogaServerInstance } from 'graphql-yoga';

import type { AuthOutcome, Authenticator } from '../auth/authenticate.js';
import type { ModelsService } from '../chat/models.js';
import type { ChatService } from '../chat/service.js';
import type { Config } from '../config.js';
import type { Context } from '../context.js';
import type { LimitsGate } from '../limits/gate.js';
import type { Logger } from '../logger.js';
import { armorPlugins } from '../plugins/armor.js';
import { useCompiledSubscriptionEvents } from '../plugins/compiled-events.js';
import { persistedDocumentsPlugins } from '../plugins/persisted.js';
import type { Redactor } from '../redact.js';
import { schema } from '../schema/index.js';
import { useCsrfProtection } from './csrf.js';
import { isOriginAllowed, type OriginPolicy } from './origins.js';
import { REQUEST_ID_HEADER } from './request-id.js';
import type { WebSocketInitialContext } from './ws/server.js';

export type ServerContext = WebSocketInitialContext & { req?: IncomingMessage };
export type GraphQLServer = YogaServerInstance<ServerContext, Context>;

export interface GraphQLServerDeps {
  config: Config;
  logger: Logger;
  redact: Redactor;
  chat: ChatService;
  models: ModelsService;
  gate: LimitsGate;
  authenticator: Authenticator;
  origins: OriginPolicy;
  /** Large requests authenticated before their body was read (see `pre-auth.ts`). */
  preAuthenticated: WeakMap<IncomingMessage, AuthOutcome>;
}

/** Yoga's log calls, as JSON lines; its per-request debug lines cost nothing unless debug is on. */
function yogaLogger(logger: Logger, redact: Redactor) {
  const format = (args: unknown[]) => args.map((arg) => redact(arg instanceof Error ? (arg.stack ?? arg.message) : String(arg)));
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (...args: unknown[]) => {
      if (logger.isLevelEnabled(level)) logger[level]({ yoga: format(args) }, 'yoga');
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export function createGraphQLServer(deps: GraphQLServerDeps): GraphQLServer {
  const { config, logger, chat, models, gate, authenticator, origins, preAuthenticated } = deps;
  return createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    context: async ({ request, req, operationSignal, operationRequestId, operationPrincipal }): Promise<Context> => ({
      chat,
      models,
      logger,
      gate,
      authMode: authenticator.mode,
      // graphql-ws authenticated its connection at `connection_init`; HTTP and SSE send a header.
      principal:
        operationPrincipal ??
        (req && preAuthenticated.get(req)) ??
        (await authenticator.authenticate(request.headers.get('authorization'))),
      // graphql-ws passes its per-operation signal; over HTTP and SSE the request's own signal
      // fires when the client disconnects.
      signal: operationSignal ?? request.signal,
      // The router has put the (checked or generated) id on every HTTP request.
      requestId: operationRequestId ?? request.headers.get(REQUEST_ID_HEADER) ?? '',
    }),
    // The router serves GraphiQL's page (compressed, with an ETag) before a request reaches Yoga.
    graphiql: false,
    landingPage: false,
    // Unexpected exceptions stay "Unexpected error." with no stack, whatever NODE_ENV says.
    maskedErrors: { isDev: false },
    cors: (request) => {
      const origin = request.headers.get('origin');
      if (!origin || !isOriginAllowed(origin, request.headers.get('host'), origins)) return false;
      // `['*']` makes Yoga reflect the request's origin (with Vary: Origin); it is reached only
      // for origins allowed above.
      return { origin: ['*'], credentials: true, maxAge: 600 };
    },
    logging: yogaLogger(logger, deps.redact),
    // The body size is checked by the router from Content-Length, before Yoga reads a byte; Yoga's
    // own limit would pipe every body through a TransformStream (about 4 % of a mutation's CPU).
    maxRequestBodySize: false,
    // Batched requests (a JSON array body) are off unless GRAPHQL_BATCH_LIMIT allows them; each
    // operation of a batch then passes the same limits, per-client ones included.
    batching: config.batchLimit === 0 ? false : { limit: config.batchLimit },
    plugins: [
      useCsrfProtection(origins),
      ...armorPlugins({ introspection: config.introspection }),
      // Trusted documents (PERSISTED_DOCUMENTS): refuses anything but a listed document's id in
      // `onParams`, before parsing; graphql-ws gets the same store.
      ...persistedDocumentsPlugins(config.persistedDocuments),
      // Each subscription event through a plan compiled once per document (graphql-jit).
      useCompiledSubscriptionEvents(),
    ],
  });
}
