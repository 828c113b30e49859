/**
 * HTTP request policy before and after parsing: the body limit, and cross-site request forgery.
 *
 * The body limit: a POST body is refused before it is read, 413 when its Content-Length is over
 * MAX_BODY_BYTES, 411 when it has none.
 *
 * Cross-site request forgery: a browser sends some requests cross-site without a CORS preflight (a
 * GET, or a POST with a "simple" content type), so CORS alone does not stop them from starting
 * work. A request is judged untrusted when its `Origin` is present and not allowed (same allowlist
 * as CORS), or, without an `Origin`, when `Sec-Fetch-Site` says `cross-site`. Untrusted requests may
 * only run queries (plain GET queries stay allowed, as the GraphQL-over-HTTP spec wants); a POST
 * with a simple or missing content type, or a mutation or subscription, is refused with 403 before
 * execution. Requests without either header (non-browser clients) and same-origin or allowed
 * origins are unaffected. WebSocket upgrades are checked against the same allowlist in
 * `websocket.ts`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import { GraphQLError, Kind, type DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';

import { isOriginAllowed, type OriginPolicy } from './origins.js';

/** Content types a browser may POST cross-site without a preflight. */
const SIMPLE_CONTENT_TYPES = new Set(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);

export const CSRF_MESSAGE =
  'Cross-site requests may only run queries: mutations and subscriptions need a same-origin or allowed origin (CORS_ORIGINS).';

export function isUntrustedRequest(
  origin: string | null | undefined,
  secFetchSite: string | null | undefined,
  host: string | null | undefined,
  origins: OriginPolicy,
): boolean {
  if (origin) return !isOriginAllowed(origin, host ?? null, origins);
  return secFetchSite === 'cross-site';
}

/** True for a POST body a browser could have sent cross-site without a preflight. */
export function isSimpleContentType(contentType: string | null | undefined): boolean {
  if (!contentType) return true;
  const mediaType = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return mediaType === '' || SIMPLE_CONTENT_TYPES.has(mediaType);
}

function hasSideEffects(document: DocumentNode): boolean {
  return document.definitions.some((definition) => definition.kind === Kind.OPERATION_DEFINITION && definition.operation !== 'query');
}

/**
 * Refuses mutations and subscriptions in untrusted HTTP requests (any operation of the document,
 * whichever `operationName` selects), once per request, right after parsing: before Yoga's own
 * check of GET mutations (405), and before validation and execution. graphql-ws operations have
 * no `request` and are left to the upgrade's Origin check.
 */
export function useCsrfProtection(origins: OriginPolicy): Plugin {
  return {
    onParse({ context }) {
      const request = (context as { request?: Request }).request;
      if (!request) return undefined;
      const { headers } = request;
      if (!isUntrustedRequest(headers.get('origin'), headers.get('sec-fetch-site'), headers.get('host'), origins)) return undefined;
      return ({ result }) => {
        if (result && !(result instanceof Error) && hasSideEffects(result)) {
          throw new GraphQLError(CSRF_MESSAGE, { extensions: { http: { status: 403 } } });
        }
      };
    },
  };
}

function refuse(res: ServerResponse, status: number, message: string): false {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
  res.end(JSON.stringify({ errors: [{ message }] }));
  return false;
}

/**
 * Checks a POST before its body is read: refuses (and answers) a request that a browser could
 * send cross-site without a preflight, and a body over `maxBytes` (413) or without a
 * Content-Length (411: a chunked body could only be counted while being parsed). Node's HTTP
 * parser holds a request to its declared length, so the check is exact; the connection is closed
 * after the answer, so the unread body is never parsed. Returns whether the request may go on.
 */
export function admitPostBody(req: IncomingMessage, res: ServerResponse, origins: OriginPolicy, maxBytes: number): boolean {
  const site = req.headers['sec-fetch-site'];
  if (
    isUntrustedRequest(req.headers.origin, typeof site === 'string' ? site : undefined, req.headers.host, origins) &&
    isSimpleContentType(req.headers['content-type'])
  ) {
    return refuse(res, 403, CSRF_MESSAGE);
  }
  const declared = req.headers['content-length'];
  if (declared === undefined) return refuse(res, 411, `A Content-Length header is required; bodies may be up to ${maxBytes} bytes.`);
  if (Number(declared) > maxBytes)
    return refuse(res, 413, `The request body is ${declared} bytes; the limit is ${maxBytes} bytes (MAX_BODY_BYTES).`);
  return true;
}
