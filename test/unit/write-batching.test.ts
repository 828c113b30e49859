/**
 * One write per socket per event-loop turn (src/http/write-batching.ts), on real sockets on port
 * 0: what a turn sends leaves in a single write, in order; a send's callback comes at once below
 * BATCH_HIGH_WATER_BYTES unsent and only after the write above it (backpressure). SSE responses
 * get the same from Node's HTTP response, which the last test holds it to.
 */
import { once } from 'node:events';
import { createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';

import { BATCH_HIGH_WATER_BYTES, batchWebSocketSends } from '../../src/http/write-batching.js';

/** Counts the writes (each a system call) `socket` hands to the kernel. */
function countWrites(socket: Socket): () => number {
  let writes = 0;
  const internals = socket as unknown as { _writev: (...args: unknown[]) => void; _write: (...args: unknown[]) => void };
  const writev = internals._writev.bind(socket);
  const write = internals._write.bind(socket);
  internals._writev = (...args) => {
    writes += 1;
    writev(...args);
  };
  internals._write = (...args) => {
    writes += 1;
    write(...args);
  };
  return () => writes;
}

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function webSocketPair(): Promise<{ server: WebSocket; client: WebSocket }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  const [server] = (await once(wss, 'connection')) as [WebSocket];
  await once(client, 'open');
  closers.push(() => {
    client.terminate();
    return new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  return { server, client };
}

const received = (client: WebSocket, count: number) =>
  new Promise<string[]>((resolve) => {
    const messages: string[] = [];
    client.on('message', (data) => {
      messages.push(String(data));
      if (messages.length === count) resolve(messages);
    });
  });

describe('batchWebSocketSends', () => {
  it('sends what one turn sends in one write, in order, calling each callback at once', async () => {
    const { server, client } = await webSocketPair();
    batchWebSocketSends(server);
    const writes = countWrites((server as unknown as { _socket: Socket })._socket);
    const arriving = received(client, 3);
    const called: number[] = [];
    for (const index of [1, 2, 3]) server.send(`message ${index}`, () => called.push(index));
    // graphql-ws awaits each callback before its next message: they must not wait for the write.
    expect(called).toEqual([1, 2, 3]);
    expect(writes()).toBe(0);
    expect(await arriving).toEqual(['message 1', 'message 2', 'message 3']);
    expect(writes()).toBe(1);
  });

  it(`waits for the write before the callback once ${BATCH_HIGH_WATER_BYTES / 1024} KiB are unsent`, async () => {
    const { server, client } = await webSocketPair();
    batchWebSocketSends(server);
    const arriving = received(client, 2);
    let first = false;
    let second = false;
    server.send('x'.repeat(2 * BATCH_HIGH_WATER_BYTES), () => (first = true));
    server.send('after', () => (second = true));
    expect(first).toBe(true);
    expect(second).toBe(false);
    await arriving;
    await new Promise((resolve) => setImmediate(resolve));
    expect(second).toBe(true);
  });
});

describe('SSE responses', () => {
  // What write-batching.ts leaves to Node: a response's writes of one turn go out in one write.
  it("send the events written in one turn in one write (Node's own corking)", async () => {
    let counted: (() => number) | undefined;
    let respond: ((res: ServerResponse) => void) | undefined;
    const server = createServer((_req, res) => respond?.(res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    respond = (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      // The next turn: the headers have gone out on their own.
      setImmediate(() => {
        counted = countWrites(res.socket as Socket);
        for (const index of [1, 2, 3]) res.write(`data: ${index}\n\n`);
        res.end();
      });
    };
    const body = await new Promise<string>((resolve, reject) => {
      request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, (res) => {
        let text = '';
        res.on('data', (data: Buffer) => (text += data.toString()));
        res.on('end', () => resolve(text));
      })
        .on('error', reject)
        .end();
    });
    expect(body).toBe('data: 1\n\ndata: 2\n\ndata: 3\n\n');
    expect(counted?.()).toBe(1);
  });
});
