/**
 * No work for strangers: a large request whose credential is missing or refused is answered 401
 * before its body is read, so that a client without a valid key cannot make the service read,
 * parse and coerce megabytes (a 9 MiB body blocked the event loop for about 2 s). Smaller requests
 * go on to GraphQL, where the refusal is the operation's typed `AuthenticationError`.
 *
 * In `api-key` and `jwt` modes any missing or invalid credential is refused here; in `forward`
 * mode, where only the upstream can judge a key, a missing or malformed one, and a key the
 * upstream refused lately (`RejectedKeys`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { AuthOutcome, Authenticator } from '../auth/authenticate.js';
import { AuthenticationError } from '../errors.js';
import type { RejectedKeys } from '../upstream/rejected-keys.js';

/** Bodies up to this size are read before the credential is judged (the typed error is worth it). */
export const PRE_AUTH_BODY_BYTES = 64 * 1024;

/** Whether the request is large enough to be judged before its body is read. */
export function needsPreAuthentication(req: IncomingMessage, authenticator: Authenticator): boolean {
  return authenticator.mode !== 'none' && req.method === 'POST' && Number(req.headers['content-length']) > PRE_AUTH_BODY_BYTES;
}

/**
 * Authenticates a large request from its headers. Resolves with the outcome to use for its
 * operations, or null when it was refused (answered 401 here, body unread, connection closed).
 */
export async function preAuthenticate(
  req: IncomingMessage,
  res: ServerResponse,
  authenticator: Authenticator,
  rejectedKeys: RejectedKeys | undefined,
): Promise<AuthOutcome | null> {
  const outcome = await authenticator.authenticate(req.headers.authorization);
  const refused =
    outcome instanceof AuthenticationError
      ? outcome
      : outcome.upstreamKey !== null
        ? (rejectedKeys?.check(outcome.upstreamKey) ?? null)
        : null;
  if (refused === null) return outcome;
  res.writeHead(401, {
    'content-type': 'application/json; charset=utf-8',
    'www-authenticate': 'Bearer',
    connection: 'close',
  });
  res.end(JSON.stringify({ errors: [{ message: refused.message, extensions: { code: 'UNAUTHENTICATED' } }] }));
  return null;
}
