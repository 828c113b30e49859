/**
 * The upstream stream's reader (src/upstream/sse.ts) over a real Node stream fed in slices: the
 * wire quirks it must read as the openai SDK read them, and its backpressure.
 */
import { PassThrough } from 'node:stream';

import { APIError } from 'openai';
import { describe, expect, it } from 'vitest';

import { ChunkReader } from '../../src/upstream/sse.js';
import type { WireChunk } from '../../src/upstream/wire.js';

function chunk(content: string): WireChunk {
  return { id: 'c1', model: 'm', choices: [{ index: 0, delta: { content } }] };
}

function event(value: unknown, eol = '\n'): string {
  return `data: ${JSON.stringify(value)}${eol}${eol}`;
}

/** Feeds `parts` one per macrotask, then ends the body, and reads every chunk. */
async function readAll(parts: Array<string | Buffer>, signal = new AbortController().signal): Promise<string[]> {
  const body = new PassThrough();
  const reader = new ChunkReader(body, new Headers({ 'x-request-id': 'r1' }), signal);
  void (async () => {
    for (const part of parts) {
      body.write(part);
      await new Promise((resolve) => setImmediate(resolve));
    }
    body.end();
  })();
  const contents: string[] = [];
  for (;;) {
    const next = await reader.next();
    if (next.done) return contents;
    contents.push(next.value.choices[0]?.delta?.content ?? '');
  }
}

describe('ChunkReader', () => {
  it('reads events split anywhere, several per read, and stops at [DONE]', async () => {
    const wire = `${event(chunk('a'))}${event(chunk('b'))}${event(chunk('c'))}data: [DONE]\n\n${event(chunk('after'))}`;
    expect(await readAll([wire])).toEqual(['a', 'b', 'c']);
    const sliced = Array.from({ length: Math.ceil(wire.length / 7) }, (_, index) => wire.slice(index * 7, index * 7 + 7));
    expect(await readAll(sliced)).toEqual(['a', 'b', 'c']);
  });

  it('reads CRLF and CR line ends, comments, event/id/retry fields and unknown fields', async () => {
    const wire = [
      ': ping\r\n\r\n',
      event(chunk('a'), '\r\n'),
      `event: message\nid: 7\nretry: 1000\nfoo: bar\ndata: ${JSON.stringify(chunk('b'))}\n\n`,
      event(chunk('c'), '\r'),
      'data: [DONE]\r\n\r\n',
    ];
    expect(await readAll(wire)).toEqual(['a', 'b', 'c']);
  });

  it('keeps a character split across two reads whole', async () => {
    const bytes = Buffer.from(event(chunk('héllo €')));
    const at = bytes.indexOf(Buffer.from('€')) + 1;
    expect(await readAll([bytes.subarray(0, at), bytes.subarray(at)])).toEqual(['héllo €']);
  });

  it('ends with the body when the upstream never sends [DONE]', async () => {
    expect(await readAll([event(chunk('a')), event(chunk('b'))])).toEqual(['a', 'b']);
  });

  it('throws an in-band error as the SDK did (an APIError with the body and the headers), after the chunks before it', async () => {
    const body = new PassThrough();
    const reader = new ChunkReader(body, new Headers({ 'x-request-id': 'r1' }), new AbortController().signal);
    body.write(`${event(chunk('a'))}${event({ error: { message: 'overloaded', type: 'server_error', code: 503 } })}`);
    expect((await reader.next()).value?.choices[0]?.delta?.content).toBe('a');
    const thrown = await reader.next().then(
      () => null,
      (error: unknown) => error,
    );
    expect(thrown).toBeInstanceOf(APIError);
    expect((thrown as APIError).error).toMatchObject({ message: 'overloaded' });
    expect((thrown as APIError).headers?.get('x-request-id')).toBe('r1');
    expect(body.destroyed).toBe(true);
  });

  it('throws the SyntaxError of data that is not JSON', async () => {
    await expect(readAll(['data: {not json\n\n'])).rejects.toBeInstanceOf(SyntaxError);
  });

  it("ends quietly when the body fails after the caller's abort, and throws a failure otherwise", async () => {
    const aborted = new AbortController();
    const body = new PassThrough();
    const reader = new ChunkReader(body, new Headers(), aborted.signal);
    const pending = reader.next();
    aborted.abort();
    body.destroy(new Error('aborted'));
    expect(await pending).toEqual({ done: true, value: undefined });

    const broken = new PassThrough();
    const other = new ChunkReader(broken, new Headers(), new AbortController().signal);
    const failing = other.next();
    broken.destroy(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
    await expect(failing).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
  });

  it('pauses the body while parsed chunks wait, and destroys it on return()', async () => {
    const body = new PassThrough();
    const reader = new ChunkReader(body, new Headers(), new AbortController().signal);
    const first = reader.next();
    body.write(`${event(chunk('a'))}${event(chunk('b'))}`);
    expect((await first).value?.choices[0]?.delta?.content).toBe('a');
    expect(body.isPaused()).toBe(true);
    expect((await reader.next()).value?.choices[0]?.delta?.content).toBe('b');
    const third = reader.next();
    expect(body.isPaused()).toBe(false);
    body.write(event(chunk('c')));
    expect((await third).value?.choices[0]?.delta?.content).toBe('c');
    await reader.return();
    expect(body.destroyed).toBe(true);
  });
});
