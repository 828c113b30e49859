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
