/**
 * A minimal Apollo Client 4 for ChatQL: queries and mutations over HTTP, subscriptions over
 * graphql-ws on the same /graphql path, and a cache that gets ChatQL's results right.
 *
 *   const client = createApolloClient('http://localhost:4000/graphql');
 *   const { data } = await client.mutate({ mutation: AskMutation, variables: { input } });
 *   client.subscribe({ query: StreamSubscription, variables: { input }, fetchPolicy: 'no-cache' })
 *     .subscribe(({ data }) => ...);
 */
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { OperationTypeNode } from 'graphql';
import { createClient } from 'graphql-ws';

import generated from '../gql/possible-types.js';

export interface ApolloOptions {
  /** A WebSocket class where there is no global one (Node 20: `WebSocket` from `ws`). */
  webSocketImpl?: unknown;
}

export function createApolloClient(url: string, options: ApolloOptions = {}): ApolloClient {
  const ws = createClient({
    url: url.replace(/^http/, 'ws'),
    ...(options.webSocketImpl ? { webSocketImpl: options.webSocketImpl } : {}),
  });
  const link = ApolloLink.split(
    ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION,
    new GraphQLWsLink(ws),
    new HttpLink({ uri: url }),
  );
  const cache = new InMemoryCache({
    // Which types `... on Error` (and each result union) stands for: without it the cache cannot
    // tell that a RateLimitError is an Error, and drops the fragment's fields.
    possibleTypes: generated.possibleTypes,
    typePolicies: {
      // Every chunk of one stream carries the upstream's `id`, and so does the whole completion:
      // normalised by id, they would overwrite each other. Keep them inside their parent instead.
      ChatCompletionChunk: { keyFields: false },
      ChatCompletion: { keyFields: false },
    },
  });
  return new ApolloClient({ link, cache });
}
