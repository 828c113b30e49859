/**
 * The pure parts of resumable streams: which keys are accepted, when two inputs are the same
 * generation's, and how events go into the shared log and come back.
 */
import { describe, expect, it } from 'vitest';

import { isFinalCompletion, markFinal } from '../../src/chat/stream.js';
import { ErrorSource, RateLimitError } from '../../src/errors.js';
import { leaveOf, stoppedError } from '../../src/streams/generation.js';
import { decodeEvent, encodeEvent } from '../../src/streams/redis-log.js';
import { checkResumeKey, fingerprint } from '../../src/streams/resumable.js';
import type { WireCompletion } from '../../src/upstream/wire.js';

describe('resume keys', () => {
  it.each(['0b7f4a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b', 'a'.repeat(16), `key_${'x'.repeat(124)}`])('accepts %s', (key) => {
    expect(checkResumeKey(key)).toBeNull();
  });

  it.each(['short', 'a'.repeat(129), 'has spaces in it, sixteen+', 'ünïcödé-key-123456', 'dots.are.not.allowed'])(
    'refuses %j at resume.key',
    (key) => {
      expect(checkResumeKey(key)).toMatchObject({ name: 'InvalidRequestError', param: 'resume.key', source: 'SERVICE' });
    },
  );
});

describe('input fingerprints', () => {
  const input = { model: 'm', messages: [{ user: { content: 'hi' } }], temperature: 0.5 };

  it('are equal for the same request, whatever the key order and null or absent fields', () => {
    expect(fingerprint({ temperature: 0.5, messages: [{ user: { content: 'hi', name: null } }], model: 'm', topP: null })).toBe(
      fingerprint(input),
    );
  });

  it('differ when anything sent differs', () => {
    expect(fingerprint({ ...input, temperature: 0.6 })).not.toBe(fingerprint(input));
    expect(fingerprint({ ...input, messages: [{ user: { content: 'hi!' } }] })).not.toBe(fingerprint(input));
    expect(fingerprint({ ...input, model: 'n' })).not.toBe(fingerprint(input));
  });
});

describe('events in the shared log', () => {
  it('round-trips a chunk with its seq', () => {
    const chunk = { id: 'c1', model: 'm', choices: [{ index: 0, delta: { content: 'Hi' } }], seq: 3 };
    const [field, value] = encodeEvent(chunk);
    expect(field).toBe('c');
    expect(decodeEvent(field, value)).toEqual(chunk);
  });

  it('round-trips the final completion, still told apart from a chunk', () => {
    const completion = markFinal({ id: 'c1', object: 'chat.completion', created: 1, model: 'm', choices: [] } as WireCompletion);
    const [field, value] = encodeEvent(completion);
    expect(field).toBe('f');
    const back = decodeEvent(field, value);
    expect(isFinalCompletion(back)).toBe(true);
    expect(back).toEqual(completion);
  });

  it('round-trips a terminal error as its data: name, message and fields', () => {
    const [field, value] = encodeEvent(new RateLimitError('Too many requests.', ErrorSource.SERVICE, 12, 'TOKENS'));
    expect(field).toBe('e');
    expect(decodeEvent(field, value)).toEqual({
      name: 'RateLimitError',
      message: 'Too many requests.',
      source: 'SERVICE',
      retryable: true,
      retryAfterSeconds: 12,
      limit: 'TOKENS',
    });
    expect(decodeEvent(...encodeEvent(stoppedError()))).toMatchObject({
      name: 'UpstreamUnavailableError',
      retryable: false,
      source: 'SERVICE',
    });
  });
});

describe('how a subscriber left', () => {
  it('is a stop for graphql-ws complete, a drop for anything else', () => {
    const stop = new AbortController();
    stop.abort('stop');
    const drop = new AbortController();
    drop.abort('drop');
    const sse = new AbortController();
    sse.abort();
    expect([leaveOf(stop.signal), leaveOf(drop.signal), leaveOf(sse.signal)]).toEqual(['stop', 'drop', 'drop']);
  });
});
