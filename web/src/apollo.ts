/**
 * The page's Apollo Client: queries and mutations over HTTP, subscriptions over graphql-ws on the
 * same `/graphql` path, every operation by its trusted-document id (see trusted-documents.ts).
 *
 * - HTTP: Apollo's HttpLink, whose `fetch` sends `documentId` in place of `query`, and the text
 *   once the service has said it keeps no trusted documents.
 * - graphql-ws: a small terminating link in place of Apollo's GraphQLWsLink, because the id, not
 *   the text, has to go in the subscribe message; a connection the service refuses (close code
 *   4403) ends its subscriptions with a `CredentialRefusedError`.
 * - The credential (credential.ts) goes as `Authorization: Bearer …` on each HTTP request and as
 *   `connectionParams.authorization` when a graphql-ws connection opens; when it changes, the
 *   graphql-ws client is replaced, so the next subscription connects with the new one.
 *
 * Streams are never cached: every chunk of one stream has the same `id`, so the hook subscribes
 * with `fetchPolicy: 'no-cache'` (see useChatStream.ts).
 */
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { print } from '@apollo/client/utilities';
import { OperationTypeNode } from 'graphql';
import { type Client as WsClient, createClient as createWsClient } from 'graphql-ws';
import { Observable } from 'rxjs';

import type { Credential } from './credential.js';
import { CredentialRefusedError } from './failures.js';
import generated from './gql/possible-types.js';
import { DocumentMode, documentIdForOperation } from './trusted-documents.js';

/** graphql-ws's close code for a connection the service refused: no, bad or expired credential. */
export const WS_FORBIDDEN = 4403;

/** A graphql-ws close event, or anything else a subscription failed with, as the error the page reads. */
function transportError(error: unknown): unknown {
  const close = error as { code?: unknown; reason?: unknown } | null;
  if (close !== null && typeof close === 'object' && typeof close.code === 'number') {
    const reason = typeof close.reason === 'string' && close.reason !== '' ? close.reason : null;
    if (close.code === WS_FORBIDDEN) return new CredentialRefusedError(reason ?? 'The service refused the connection.');
    return new Error(`The connection closed (${close.code}${reason ? `: ${reason}` : ''}).`);
  }
  return error;
}

export function createChatClient(credential: Credential, endpoint = new URL('/graphql', location.href)): ApolloClient {
  const wsEndpoint = new URL(endpoint);
  wsEndpoint.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';
  const connect = (): WsClient =>
    createWsClient({
      url: wsEndpoint.href,
      // A dropped connection ends the answer with an error (a resumable one is resumed by the page).
      // graphql-ws would otherwise reconnect and subscribe again, silently asking the model twice.
      retryAttempts: 0,
      // Read as each connection opens: the credential of that moment, none when it is empty.
      connectionParams: () => {
        const authorization = credential.authorization;
        return authorization === null ? {} : { authorization };
      },
    });
  let ws = connect();
  // A connection stays authenticated as whoever opened it: a new credential needs a new one.
  credential.onChange(() => {
    const old = ws;
    ws = connect();
    void old.dispose();
  });
  const mode = new DocumentMode();

  const http = new HttpLink({
    uri: endpoint.href,
    fetch: (input, init) => {
      const headers = new Headers(init?.headers);
      const authorization = credential.authorization;
      if (authorization !== null) headers.set('authorization', authorization);
      const withCredential = { ...init, headers };
      const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as { operationName?: unknown }) : null;
      const documentId = typeof body?.operationName === 'string' ? documentIdForOperation(body.operationName) : null;
      return documentId === null ? fetch(input, withCredential) : mode.fetchFor(documentId)(input, withCredential);
    },
  });

  const subscriptions = new ApolloLink(
    (operation) =>
      new Observable((observer) => {
        const request = { query: print(operation.query), variables: operation.variables, operationName: operation.operationName };
        return mode.subscribe(ws, request, documentIdForOperation(operation.operationName ?? ''), {
          next: (result) => observer.next(result as ApolloLink.Result),
          error: (error) => observer.error(transportError(error)),
          complete: () => observer.complete(),
        });
      }),
  );

  return new ApolloClient({
    link: ApolloLink.split(({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION, subscriptions, http),
    cache: new InMemoryCache({
      // Which types `... on Error` and each result union stand for, so fragments on them match.
      possibleTypes: generated.possibleTypes,
      typePolicies: {
        // Chunks and completions of one stream share the upstream's `id`: never normalise them.
        ChatCompletionChunk: { keyFields: false },
        ChatCompletion: { keyFields: false },
      },
    }),
  });
}
