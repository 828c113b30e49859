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
 */
import { Client, fetchExchange, makeOperation, mapExchange, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient } from 'graphql-ws';

import { DocumentMode, documentIdOf } from './trusted-documents.js';

export function createChatClient(endpoint = new URL('/graphql', location.href)): Client {
  const wsEndpoint = new URL(endpoint);
  wsEndpoint.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = createWsClient({
    url: wsEndpoint.href,
    // A dropped connection ends the answer with an error and a Retry button. graphql-ws would
    // otherwise reconnect and subscribe again, silently asking the model a second time.
    retryAttempts: 0,
  });
  const mode = new DocumentMode();
  return new Client({
    url: endpoint.href,
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
          subscribe: (sink) => ({ unsubscribe: mode.subscribe(ws, request, documentIdOf(operation.query), sink) }),
        }),
      }),
    ],
  });
}
