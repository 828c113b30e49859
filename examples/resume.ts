/**
 * `npm run example:resume`: a stream that survives a dropped connection. The client chooses a key
 * for the generation and keeps the `seq` of the last chunk it has; graphql-ws's own retry then
 * re-subscribes with the same id and variables (the key, and `after` as first sent), which attaches
 * to the same generation on any replica: the recorded chunks come again, and the client skips
 * those it already has. Here the connection is cut on purpose after 5 chunks.
 *
 * Against a running ChatQL (CHATQL_URL, default http://localhost:4000/graphql).
 */
import { randomUUID } from 'node:crypto';

import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import { WebSocket } from 'ws';

import type { ResumableStreamSubscription as ResumableStreamResult } from './gql/graphql.js';
import { ResumableStreamSubscription } from './operations.js';

const url = (process.env.CHATQL_URL ?? 'http://localhost:4000/graphql').replace(/^http/, 'ws');
const model = process.env.CHATQL_MODEL ?? 'chatql-mock';

/** The sockets the client opened, so that this example can cut the first one. */
const sockets: WebSocket[] = [];
class TrackedWebSocket extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    sockets.push(this);
  }
}

const client = createClient({
  url,
  webSocketImpl: TrackedWebSocket,
  // Reconnect on a lost connection; each retry re-subscribes with the same id and variables.
  retryAttempts: 5,
  shouldRetry: () => true,
});

// One key per generation, made where the request is made (in React: inside the effect).
const key = randomUUID();
let lastSeq = 0;
let text = '';

await new Promise<void>((resolve, reject) => {
  client.subscribe<ResumableStreamResult>(
    {
      query: print(ResumableStreamSubscription),
      variables: { input: { model, messages: [{ user: { content: 'Tell me something worth resuming' } }] }, resume: { key } },
    },
    {
      next: ({ data }) => {
        const event = data?.chatCompletionStream;
        if (event?.__typename === 'ChatCompletionChunk') {
          // A replay after a reconnect sends chunks the client already has: skip them by seq.
          if (event.seq <= lastSeq) return;
          lastSeq = event.seq;
          text += event.choices[0]?.delta.content ?? '';
          if (lastSeq === 5) {
            console.log('(cutting the connection after chunk 5)');
            sockets[0]?.terminate();
          }
        } else if (event?.__typename === 'ChatCompletion') {
          console.log(
            `${text}\n(${event.choices[0]?.finishReason} after ${lastSeq} chunks, ${event.usage?.totalTokens} tokens, ${sockets.length} connections)`,
          );
        } else if (event) {
          reject(new Error(`${event.__typename}: ${event.message}`));
        }
      },
      error: reject,
      complete: resolve,
    },
  );
});
await client.dispose();
process.exit(0);
