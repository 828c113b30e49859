/**
 * The GraphQL client: urql's core over HTTP for queries and mutations, and graphql-ws on the same
 * `/graphql` path for subscriptions.
 *
 * No cache exchange: the page runs one query (the model list, asked again only on Retry) and
 * subscriptions, whose events must never be cached or merged (every chunk of one stream carries
 * the same upstream `id`).
 */
import { Client, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient } from 'graphql-ws';

export function createChatClient(endpoint = new URL('/graphql', location.href)): Client {
  const wsEndpoint = new URL(endpoint);
  wsEndpoint.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = createWsClient({
    url: wsEndpoint.href,
    // A dropped connection ends the answer with an error and a Retry button. graphql-ws would
    // otherwise reconnect and subscribe again, silently asking the model a second time.
    retryAttempts: 0,
  });
  return new Client({
    url: endpoint.href,
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
        }),
      }),
    ],
  });
}
