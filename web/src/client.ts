/**
 * The GraphQL client: urql's core over HTTP for queries and mutations, and graphql-ws on the same
 * `/graphql` path for subscriptions.
 *
 * No cache exchange: the page runs one query (the model list, asked again only on Retry) and
 * subscriptions, whose events must never be cached or merged (every chunk of one stream carries
 * the same upstream `id`).
 *
 * Every operation goes by its trusted-document id (`documentId`), and as text only once the
 * service has said it has no trusted documents (see trusted-documents.ts): the same build works
 * against a service with `PERSISTED_DOCUMENTS` and one without.
 *
 * The credential (credential.ts), when there is one, goes as `Authorization: Bearer <value>` on
 * every HTTP request and as `connectionParams.authorization` in graphql-ws's `connection_init`,
 * both read when the request or connection starts. When it changes, the graphql-ws client is
 * replaced, so the next subscription connects afresh with the new value. A connection the service
 * refuses (close code 4403) ends its subscriptions with a `CredentialRefusedError`.
 */
import { Client, fetchExchange, makeOperation, mapExchange, subscriptionExchange } from '@urql/core';
import { type Client as WsClient, createClient as createWsClient } from 'graphql-ws';

import type { Credential } from './credential.js';
import { CredentialRefusedError } from './failures.js';
import { DocumentMode, documentIdOf } from './trusted-documents.js';

/** graphql-ws's close code for a connection the service refused: no, bad or expired credential. */
export const WS_FORBIDDEN = 4403;

/** The sink of one subscription, with a 4403 close turned into a `CredentialRefusedError`. */
type Sink = Parameters<DocumentMode['subscribe']>[3];

function refusalsNamed(sink: Sink): Sink {
  return {
    next: (value) => sink.next(value),
    complete: () => sink.complete(),
    error: (error: unknown) => {
      const close = error as { code?: unknown; reason?: unknown } | null;
      if (close !== null && typeof close === 'object' && close.code === WS_FORBIDDEN) {
        const reason = typeof close.reason === 'string' && close.reason !== '' ? close.reason : 'The service refused the connection.';
        sink.error(new CredentialRefusedError(reason));
        return;
      }
      sink.error(error);
    },
  };
}

export function createChatClient(credential: Credential, endpoint = new URL('/graphql', location.href)): Client {
  const wsEndpoint = new URL(endpoint);
  wsEndpoint.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';
  const connect = (): WsClient =>
    createWsClient({
      url: wsEndpoint.href,
      // A dropped connection ends the answer with an error and a Retry button. graphql-ws would
      // otherwise reconnect and subscribe again, silently asking the model a second time.
      retryAttempts: 0,
      // Read as each connection opens: the credential of that moment, none when it is empty.
      connectionParams: () => {
        const authorization = credential.authorization;
        return authorization === null ? {} : { authorization };
      },
    });
  let ws = connect();
  // A connection stays authenticated as whoever opened it: a new credential needs a new one.
  // (The page stops a streaming answer before it changes the credential.)
  credential.onChange(() => {
    const old = ws;
    ws = connect();
    void old.dispose();
  });
  const mode = new DocumentMode();
  return new Client({
    url: endpoint.href,
    // Read for each HTTP request; the trusted-documents `fetch` below keeps these headers.
    fetchOptions: () => {
      const authorization = credential.authorization;
      return authorization === null ? {} : { headers: { authorization } };
    },
    exchanges: [
      // HTTP by id: urql's fetchExchange builds the request as always (text in `query`, GET for
      // the model list) and calls the operation's `context.fetch`. Given here to each query and
      // mutation whose document carries an id, that `fetch` swaps `query` for `documentId` on the
      // wire, and resends the request unchanged if the service refuses ids: urql, and so the
      // page, only ever see the answer that counts. (A `fetch` option on the Client would see
      // only the wire request; this way the id comes from the very document being run.)
      mapExchange({
        onOperation(operation) {
          const documentId = operation.kind === 'query' || operation.kind === 'mutation' ? documentIdOf(operation.query) : null;
          if (documentId === null) return operation;
          return makeOperation(operation.kind, operation, { ...operation.context, fetch: mode.fetchFor(documentId) });
        },
      }),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request, operation) => ({
          subscribe: (sink) => ({ unsubscribe: mode.subscribe(ws, request, documentIdOf(operation.query), refusalsNamed(sink)) }),
        }),
      }),
    ],
  });
}
