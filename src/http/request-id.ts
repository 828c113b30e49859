/**
 * The request id that ties a client's report to the service's log lines and the upstream's:
 * taken from the client's `x-request-id` when it is a plain token, generated otherwise, echoed on
 * the response and forwarded upstream.
 */
import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-request-id';

/** Ids a client may choose: short, and nothing that could forge a log line or a header. */
const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFrom(header: string | string[] | null | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && CLIENT_ID.test(value) ? value : randomUUID();
}

/** The longest request id sent upstream. */
export const MAX_REQUEST_ID_LENGTH = 200;

/** Visible ASCII only, and short: what any HTTP client sends as a header value and any log line holds. */
const HEADER_SAFE = /^[\x21-\x7e]{1,200}$/;

export function isHeaderSafeRequestId(id: string): boolean {
  return HEADER_SAFE.test(id);
}

export function generateRequestId(): string {
  return randomUUID();
}

/**
 * A graphql-ws operation's request id: the connection's id and the operation's own, when that is
 * header-safe; a generated id in its place otherwise (graphql-ws ids are any string the client
 * chose, "x\r\ny" and "€" included).
 */
export function operationRequestId(connectionId: string, operationId: string): string {
  const id = `${connectionId}:${operationId}`;
  return isHeaderSafeRequestId(id) ? id : `${connectionId}:${randomUUID()}`;
}
