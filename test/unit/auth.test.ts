import { createHash, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { bearerToken, createAuthenticator } from '../../src/auth/authenticate.js';
import { parseClientKeys } from '../../src/auth/keys-file.js';
import { isModelAllowed, mergeLimits, UNLIMITED } from '../../src/auth/principal.js';
import { AuthenticationError } from '../../src/errors.js';
import { estimatePromptTokens } from '../../src/limits/estimate.js';
import { ok, problems } from '../utils/config.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const UPSTREAM = { OPENAI_BASE_URL: 'http://localhost:4000/v1', OPENAI_API_KEY: 'sk-upstream-1234' };

function keysFile(content: unknown): string {
  const path = join(tmpdir(), `chatql-keys-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('AUTH_MODE=forward: tokens that may go upstream as a header', () => {
  const forward = createAuthenticator({ mode: 'forward' }, UNLIMITED);

  it.each([
    ['a control character', 'sk-x\u0001'],
    ['a non-ASCII character', 'sk-€uro'],
    ['4,097 characters', `sk-${'x'.repeat(4094)}`],
  ])('refuses a token with %s (AuthenticationError, source SERVICE)', async (_label, token) => {
    const outcome = await forward.authenticate(`Bearer ${token}`);
    expect(outcome).toBeInstanceOf(AuthenticationError);
    expect((outcome as AuthenticationError).source).toBe('SERVICE');
    expect((outcome as AuthenticationError).message).toBe('The bearer token must be 1 to 4096 visible ASCII characters.');
  });

  it('accepts 4,096 visible ASCII characters, and forwards the token as it came', async () => {
    const token = `sk-${'x'.repeat(4093)}`;
    expect(await forward.authenticate(`Bearer ${token}`)).toMatchObject({
      upstreamKey: token,
      id: expect.stringMatching(/^key-[0-9a-f]{16}$/),
    });
  });
});

describe('security configuration', () => {
  it('refuses to start in production without an explicit AUTH_MODE, and starts with AUTH_MODE=none set on purpose', () => {
    expect(problems({ ...UPSTREAM, NODE_ENV: 'production' }).join('\n')).toMatch(/AUTH_MODE is not set.*AUTH_MODE=none/);
    expect(ok({ ...UPSTREAM, NODE_ENV: 'production', AUTH_MODE: 'none' }).security.auth.mode).toBe('none');
  });

  it('names the missing pieces of each mode, one line each', () => {
    expect(problems({ AUTH_MODE: 'api-key' })).toEqual([expect.stringMatching(/needs CLIENT_KEYS_FILE/)]);
    expect(problems({ AUTH_MODE: 'jwt' })).toEqual([expect.stringMatching(/JWT_SECRET.*JWT_PUBLIC_KEY.*JWT_JWKS_URL/)]);
    expect(problems({ AUTH_MODE: 'jwt', JWT_SECRET: 'short' })).toEqual([expect.stringMatching(/at least 32 bytes/)]);
    expect(problems({ AUTH_MODE: 'jwt', JWT_SECRET: 'x'.repeat(32), JWT_JWKS_URL: 'https://a.example/jwks' })).toEqual([
      expect.stringMatching(/takes one of/),
    ]);
    expect(problems({ AUTH_MODE: 'jwt', JWT_PUBLIC_KEY: 'not a pem' })).toEqual([expect.stringMatching(/PEM public key/)]);
    expect(problems({ AUTH_MODE: 'jwt', JWT_JWKS_URL: 'ftp://x' })).toEqual([expect.stringMatching(/http\(s\) URL/)]);
    expect(problems({ AUTH_MODE: 'magic' })).toEqual([expect.stringMatching(/AUTH_MODE must be one of none, api-key, jwt, forward/)]);
    expect(problems({ JWT_SECRET: 'x'.repeat(40) })).toEqual([expect.stringMatching(/JWT_SECRET is set but AUTH_MODE is none/)]);
    expect(problems({ REDIS_URL: 'http://localhost:6379' })).toEqual([expect.stringMatching(/redis:\/\//)]);
    expect(problems({ CLIENT_REQUESTS_PER_MINUTE: '-1', CLIENT_MAX_TOKENS: '0' })).toHaveLength(2);
  });

  it('reads a PEM public key given on one line with \\n, and the default limits', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString().replace(/\n/g, '\\n');
    const config = ok({
      AUTH_MODE: 'jwt',
      JWT_PUBLIC_KEY: pem,
      CLIENT_REQUESTS_PER_MINUTE: '60',
      CLIENT_MAX_TOKENS: '4096',
      ALLOWED_MODELS: 'gpt-4o-mini, gpt-4.1*',
      REDIS_URL: 'redis://:secret@localhost:6379/0',
    });
    expect(config.security.auth).toMatchObject({ mode: 'jwt', key: { kind: 'publicKey' } });
    expect(config.security.defaultLimits).toMatchObject({ requestsPerMinute: 60, maxTokens: 4096, tokensPerMinute: null });
    expect(config.security.allowedModels).toEqual(['gpt-4o-mini', 'gpt-4.1*']);
  });
});

describe('CLIENT_KEYS_FILE', () => {
  it('reads ids, key hashes, limits and models', () => {
    const result = parseClientKeys(
      JSON.stringify({ clients: [{ id: 'client-1', keySha256: sha('k1'), limits: { requestsPerMinute: 5 }, models: ['m*'], note: 'QA' }] }),
      'keys.json',
    );
    expect(result).toMatchObject({ ok: true, clients: [{ id: 'client-1', limits: { requestsPerMinute: 5, models: ['m*'] } }] });
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    ['no clients', { clients: [] }, /at least one client/],
    ['a key instead of its hash', { clients: [{ id: 'a', keySha256: 'ck_plain_key' }] }, /clients\.0\.keySha256 must be the 64 hex digits/],
    ['an unknown field', { clients: [{ id: 'a', keySha256: sha('k'), key: 'k' }] }, /clients\.0/],
    ['an unknown limit', { clients: [{ id: 'a', keySha256: sha('k'), limits: { rpm: 5 } }] }, /clients\.0\.limits/],
    ['a bad id', { clients: [{ id: 'a b', keySha256: sha('k') }] }, /clients\.0\.id/],
    ['the reserved id', { clients: [{ id: 'anonymous', keySha256: sha('k') }] }, /reserved/],
    [
      'the same id twice',
      {
        clients: [
          { id: 'a', keySha256: sha('k') },
          { id: 'a', keySha256: sha('l') },
        ],
      },
      /listed twice/,
    ],
    [
      'the same key twice',
      {
        clients: [
          { id: 'a', keySha256: sha('k') },
          { id: 'b', keySha256: sha('k').toUpperCase() },
        ],
      },
      /same as an earlier/,
    ],
  ])('refuses %s, saying where', (_name, content, message) => {
    const path = keysFile(content);
    const found = problems({ AUTH_MODE: 'api-key', CLIENT_KEYS_FILE: path });
    expect(found.join('\n')).toMatch(message);
    expect(found.join('\n')).toContain(path);
  });

  it('reports a missing file', () => {
    expect(problems({ AUTH_MODE: 'api-key', CLIENT_KEYS_FILE: '/nonexistent/keys.json' })).toEqual([
      expect.stringMatching(/cannot be read: ENOENT/),
    ]);
  });
});

describe('authentication', () => {
  it('reads bearer tokens and nothing else', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer   abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeNull();
    expect(bearerToken('Bearer')).toBeNull();
    expect(bearerToken('Bearer a b')).toBeNull();
  });

  it('finds an api-key client by its key, and refuses others without echoing them', async () => {
    const auth = createAuthenticator(
      {
        mode: 'api-key',
        clients: [{ id: 'c1', keySha256: Buffer.from(sha('key-one'), 'hex'), limits: { dailyTokens: 10 } }],
        file: 'unused.json',
      },
      { ...UNLIMITED, requestsPerMinute: 7 },
    );
    expect(await auth.authenticate('Bearer key-one')).toMatchObject({ id: 'c1', limits: { requestsPerMinute: 7, dailyTokens: 10 } });
    const refused = await auth.authenticate('Bearer key-two');
    expect(refused).toBeInstanceOf(AuthenticationError);
    expect((refused as AuthenticationError).message).not.toContain('key-two');
    expect(await auth.authenticate(undefined)).toBeInstanceOf(AuthenticationError);
  });
});

describe('limits', () => {
  it('lets a client override a default, and lift it with null', () => {
    const defaults = { ...UNLIMITED, requestsPerMinute: 60, maxTokens: 1000 };
    expect(mergeLimits(defaults, { requestsPerMinute: 5, maxTokens: null, models: ['a'] })).toMatchObject({
      requestsPerMinute: 5,
      maxTokens: null,
      models: ['a'],
    });
    expect(mergeLimits(defaults, {})).toEqual(defaults);
  });

  it('matches models exactly or by a trailing *', () => {
    expect(isModelAllowed(null, 'anything')).toBe(true);
    expect(isModelAllowed(['gpt-4o'], 'gpt-4o')).toBe(true);
    expect(isModelAllowed(['gpt-4o'], 'gpt-4o-mini')).toBe(false);
    expect(isModelAllowed(['gpt-4o*'], 'gpt-4o-mini')).toBe(true);
    expect(isModelAllowed([], 'gpt-4o')).toBe(false);
  });

  it('estimates text at about 4 characters a token, images at a fixed cost whatever their size', () => {
    const text = { model: 'm', messages: [{ user: { content: 'x'.repeat(400) } }] };
    expect(estimatePromptTokens(text)).toBe(104);
    const image = {
      model: 'm',
      messages: [{ user: { parts: [{ imageUrl: { url: `data:image/png;base64,${'A'.repeat(1_000_000)}` } }] } }],
    };
    expect(estimatePromptTokens(image)).toBe(4 + 765);
  });
});

describe('client metric labels', () => {
  it('gives the first ids a label of their own and the rest one shared label', async () => {
    const { clientLabels } = await import('../../src/metrics.js');
    const label = clientLabels(2);
    expect([label('a'), label('b'), label('c'), label('a'), label(null)]).toEqual(['a', 'b', 'other', 'a', 'unauthenticated']);
  });
});
