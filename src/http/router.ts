/**
 * What every HTTP request meets before GraphQL: the health endpoints (any Host: orchestrators
 * probe by address), the allowed-hosts check, /metrics (outside production, without
 * METRICS_PORT), the chat page, then for /graphql the request id, GraphiQL's page, the body
 * policy (CSRF, size), the pre-body authentication of large requests, and the slow-client watch of
 * SSE responses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { AuthOutcome, Authenticator } from '../auth/authenticate.js';
import type { Logger } from '../logger.js';
import type { RejectedKeys } from '../upstream/rejected-keys.js';
import { admitPostBody } from './csrf.js';
import { wantsGraphiQL } from './graphiql.js';
import { type HostPolicy, hostRefusal, isHostAllowed } from './hosts.js';
import type { OriginPolicy } from './origins.js';
import { needsPreAuthentication, preAuthenticate } from './pre-auth.js';
import { REQUEST_ID_HEADER, requestIdFrom } from './request-id.js';
import type { SlowClientWatch } from './slow-clients.js';
import { CHAT_PATH, isChatPath } from './web.js';

export interface RouterDeps {
  logger: Logger;
  allowedHosts: HostPolicy;
  origins: OriginPolicy;
  maxBodyBytes: number;
  /** `/readyz`: 503 while draining, and the JSON body. */
  readiness(): { draining: boolean; body: unknown };
  /** Null: /metrics is not served on this listener. */
  serveMetrics: ((res: ServerResponse) => void) | null;
  /** The chat page's static files. */
  web: (req: IncomingMessage, res: ServerResponse) => void;
  /** GraphiQL's page (see `createGraphiQLHandler`); null when GRAPHIQL is off. */
  graphiql: ((req: IncomingMessage, res: ServerResponse) => void) | null;
  /** Yoga's Node listener. */
  graphql: (req: IncomingMessage, res: ServerResponse) => void;
  authenticator: Authenticator;
  rejectedKeys: RejectedKeys | undefined;
  /** Filled for large requests authenticated before their body was read; read by the GraphQL context. */
  preAuthenticated: WeakMap<IncomingMessage, AuthOutcome>;
  slowClients: SlowClientWatch;
}

export function createRouter(deps: RouterDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { logger } = deps;

  const serveGraphQL = (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers.accept?.includes('text/event-stream')) {
      // Dropping the connection aborts the stream and its upstream request.
      const unwatch = deps.slowClients.watch(req.socket, (stuck) => {
        logger.warn(stuck, 'SSE client stopped reading: connection dropped (SLOW_CLIENT_TIMEOUT_MS)');
        req.socket.destroy();
      });
      res.once('close', unwatch);
    }
    deps.graphql(req, res);
  };

  return (req, res) => {
    const path = req.url?.split('?', 1)[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (path === '/readyz') {
      // The upstream's health is reported, not enforced: an outage reaches clients as typed
      // errors, which beats a load balancer's 503.
      const { draining, body } = deps.readiness();
      res.writeHead(draining ? 503 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    if (!isHostAllowed(deps.allowedHosts, req.headers.host)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(hostRefusal(req.headers.host));
      return;
    }
    if (path === '/metrics' && deps.serveMetrics && req.method === 'GET') {
      deps.serveMetrics(res);
      return;
    }
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(302, { location: CHAT_PATH }).end();
      return;
    }
    if (path !== undefined && isChatPath(path)) {
      deps.web(req, res);
      return;
    }
    const requestId = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    req.headers[REQUEST_ID_HEADER] = requestId;
    res.setHeader(REQUEST_ID_HEADER, requestId);
    if (deps.graphiql && wantsGraphiQL(req, path)) {
      deps.graphiql(req, res);
      return;
    }
    if (req.method === 'POST') {
      if (!admitPostBody(req, res, deps.origins, deps.maxBodyBytes)) return;
      if (needsPreAuthentication(req, deps.authenticator)) {
        void preAuthenticate(req, res, deps.authenticator, deps.rejectedKeys).then((outcome) => {
          if (outcome === null) return;
          deps.preAuthenticated.set(req, outcome);
          serveGraphQL(req, res);
        });
        return;
      }
    }
    serveGraphQL(req, res);
  };
}
