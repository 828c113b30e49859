import { describe, expect, it } from 'vitest';

import { isHeaderSafeRequestId, operationRequestId, requestIdFrom } from '../../src/http/request-id.js';

describe('request ids', () => {
  it('keeps a client x-request-id that is a plain token, and generates one otherwise', () => {
    expect(requestIdFrom('req-123')).toBe('req-123');
    expect(requestIdFrom('bad id\r\n')).toMatch(/^[0-9a-f-]{36}$/);
    expect(requestIdFrom(undefined)).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('joins a graphql-ws operation id to its connection id when the result is header-safe', () => {
    expect(operationRequestId('conn-1', 'op-7')).toBe('conn-1:op-7');
    expect(operationRequestId('conn-1', '1')).toBe('conn-1:1');
  });

  it.each([
    ['a CR LF', 'x\r\ny'],
    ['a non-ASCII character', '€'],
    ['a space', 'id with spaces'],
    ['more than 200 characters in all', 'a'.repeat(200)],
  ])('replaces an operation id with %s by a generated one', (_label, id) => {
    const requestId = operationRequestId('conn-1', id);
    expect(isHeaderSafeRequestId(requestId)).toBe(true);
    expect(requestId.length).toBeLessThanOrEqual(200);
    expect(requestId).toMatch(/^conn-1:[0-9a-f-]{36}$/);
  });

  it('calls header-safe only 1 to 200 visible ASCII characters', () => {
    expect(isHeaderSafeRequestId('a'.repeat(200))).toBe(true);
    expect(isHeaderSafeRequestId('a'.repeat(201))).toBe(false);
    expect(isHeaderSafeRequestId('')).toBe(false);
    expect(isHeaderSafeRequestId('a\tb')).toBe(false);
  });
});
