/**
 * `npm run example:urql`: against a running ChatQL (CHATQL_URL, default
 * http://localhost:4000/graphql), asks for one completion over HTTP and prints it, then streams
 * another over graphql-ws, printing its words as they come. Exits 1 on a typed error.
 */
import { WebSocket } from 'ws';

import { AskMutation, StreamSubscription } from '../operations.js';
import { createUrqlClient } from './client.js';

const url = process.env.CHATQL_URL ?? 'http://localhost:4000/graphql';
const model = process.env.CHATQL_MODEL ?? 'chatql-mock';
const client = createUrqlClient(url, { webSocketImpl: WebSocket });
const input = (content: string) => ({ model, messages: [{ user: { content } }] });

const { data, error } = await client.mutation(AskMutation, { input: input('Hello from urql') }).toPromise();
const answer = data?.chatCompletion;
if (error || answer?.__typename !== 'ChatCompletion') {
  console.error(
    `chatCompletion: ${error?.message ?? `${answer?.__typename}: ${answer && 'message' in answer ? answer.message : 'no data'}`}`,
  );
  process.exit(1);
}
console.log(`chatCompletion (${answer.usage?.totalTokens} tokens):\n${answer.choices[0]?.message.content}\n`);

process.stdout.write('chatCompletionStream: ');
await new Promise<void>((resolve, reject) => {
  const { unsubscribe } = client
    .subscription(StreamSubscription, { input: input('Stream this, please') })
    .subscribe(({ data: event, error: failure }) => {
      if (failure) return reject(failure);
      const streamed = event?.chatCompletionStream;
      if (streamed?.__typename === 'ChatCompletionChunk') process.stdout.write(streamed.choices[0]?.delta.content ?? '');
      else if (streamed?.__typename === 'ChatCompletion') {
        process.stdout.write(`\n(${streamed.choices[0]?.finishReason}, ${streamed.usage?.totalTokens} tokens)\n`);
        unsubscribe();
        resolve();
      } else if (streamed) reject(new Error(`${streamed.__typename}: ${streamed.message}`));
    });
});
process.exit(0);
