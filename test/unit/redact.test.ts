import { describe, expect, it } from 'vitest';

import { createRedactor, upstreamUrlSecrets } from '../../src/redact.js';

const KEY = 'sk-secret-key-123';

describe('createRedactor', () => {
  const redact = createRedactor([KEY]);

  it('removes the configured key wherever it appears', () => {
    const out = redact(`Incorrect API key provided: ${KEY}. Key was ${KEY}!`);
    expect(out).not.toContain(KEY);
    expect(out).not.toContain('secret-key-123');
    expect(out).toContain('Incorrect API key provided: ');
  });

  it('removes a configured key that does not look like a provider key', () => {
    const litellm = createRedactor(['my-litellm-master-key-9f8e7d']);
    const out = litellm('Authentication Error: my-litellm-master-key-9f8e7d is not valid');
    expect(out).not.toContain('my-litellm-master-key-9f8e7d');
    expect(out).toContain('Authentication Error');
  });

  it('removes a configured key made of regular-expression characters', () => {
    const odd = createRedactor(['k3y.+*?(x)[y]$']);
    expect(odd('value k3y.+*?(x)[y]$ end')).not.toContain('k3y.+*?(x)[y]$');
  });

  it.each([
    'sk-proj-AbC123xyz789_-QwErTy',
    'sk-ant-api03-abcdefABCDEF0123456789',
    'sk-1234abcd',
    'sk-...1234',
    'sk-proj-********************************************************************6CgA',
  ])('removes the provider-key shape %s', (key) => {
    const out = redact(`Incorrect API key provided: ${key}. You can find your API key at https://platform.openai.com/account/api-keys.`);
    expect(out).not.toContain(key);
    expect(out).toContain('Incorrect API key provided: ');
    expect(out).toContain('https://platform.openai.com/account/api-keys');
  });

  it('removes bearer tokens, keeping the word', () => {
    const out = redact('request failed: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.signature');
    expect(out).not.toContain('eyJhbGciOiJIUzI1NiJ9');
    expect(out).not.toContain('signature');
    expect(out).toMatch(/Bearer /);
  });

  it('removes a lower-case bearer token', () => {
    expect(redact('authorization: bearer abcdefgh12345678')).not.toContain('abcdefgh12345678');
  });

  it('removes keys inside JSON text', () => {
    const out = redact(
      JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}`, headers: { authorization: `Bearer ${KEY}` } } }),
    );
    expect(out).not.toContain(KEY);
    expect(() => JSON.parse(out)).not.toThrow();
  });

  it('leaves ordinary text alone', () => {
    const text = "This model's maximum context length is 8192 tokens. Task-list: ask-me, risk-free, disk-usage.";
    expect(redact(text)).toBe(text);
  });

  it('ignores undefined and too-short secrets instead of redacting everything', () => {
    const lenient = createRedactor([undefined, '', 'a']);
    expect(lenient('a banana and a plan')).toBe('a banana and a plan');
  });

  it('redacts the longest secret first, leaving no tail of a longer one', () => {
    const both = createRedactor(['abcd1234', 'abcd1234-extended-secret']);
    const out = both('token abcd1234-extended-secret here');
    expect(out).not.toContain('extended-secret');
    expect(out).not.toContain('abcd1234');
  });
});

describe('upstreamUrlSecrets', () => {
  it('is empty without a URL or with an unparsable one', () => {
    expect(upstreamUrlSecrets(undefined)).toEqual([]);
    expect(upstreamUrlSecrets('')).toEqual([]);
    expect(upstreamUrlSecrets('not a url')).toEqual([]);
  });

  it('lets a redactor hide the upstream URL, its origin and its host', () => {
    const redact = createRedactor([KEY, ...upstreamUrlSecrets('https://litellm.internal.corp:4000/v1')]);
    for (const text of [
      'request to https://litellm.internal.corp:4000/v1/chat/completions failed',
      'Could not reach https://litellm.internal.corp:4000',
      'connect ECONNREFUSED litellm.internal.corp:4000',
    ]) {
      const out = redact(text);
      expect(out).not.toContain('litellm.internal.corp');
    }
  });

  it('hides the host name alone too (DNS errors name the host without its port)', () => {
    const redact = createRedactor(upstreamUrlSecrets('https://litellm.internal.corp:4000/v1'));
    const out = redact('getaddrinfo ENOTFOUND litellm.internal.corp');
    expect(out).not.toContain('litellm.internal.corp');
  });

  it('hides credentials embedded in the URL', () => {
    const redact = createRedactor(upstreamUrlSecrets('https://proxyuser:hunter2pass@gateway.example.net/v1'));
    const out = redact('fetch https://proxyuser:hunter2pass@gateway.example.net/v1/models failed; user proxyuser, password hunter2pass');
    expect(out).not.toContain('hunter2pass');
    expect(out).not.toContain('proxyuser');
    expect(out).not.toContain('gateway.example.net');
  });

  it('hides a URL given with a trailing slash when text shows it without', () => {
    const redact = createRedactor(upstreamUrlSecrets('http://vllm.lab.local:8000/v1/'));
    expect(redact('POST http://vllm.lab.local:8000/v1/chat/completions')).not.toContain('vllm.lab.local');
  });
});
