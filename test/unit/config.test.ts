import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { defaultAllowedHosts, isHostAllowed, parseAllowedHosts } from '../../src/http/hosts.js';
import { isOriginAllowed, type OriginPolicy, parseOriginPatterns } from '../../src/http/origins.js';

/** An origin policy: CORS_ORIGINS `patterns`, and the host names the service answers to. */
function policy(patterns: RegExp[] | null, hosts = 'chatql.example.com,10.0.0.5,chatql.internal'): OriginPolicy {
  return { corsOrigins: patterns, hosts: parseAllowedHosts(hosts).policy };
}
import { LITELLM, ok, problems } from '../utils/config.js';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const config = ok({});
    expect(config.port).toBe(4000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.upstream.timeoutMs).toBe(60_000);
    expect(config.upstream.maxRetries).toBe(2);
    expect(config.modelsCacheMs).toBe(60_000);
    expect(config.shutdownGraceMs).toBe(10_000);
    expect(config.corsOrigins).toBeNull();
    expect(config.production).toBe(false);
    expect(config.logLevel).toBe('info');
    expect(config.introspection).toBe(true);
    expect(config.wsConnectionInitTimeoutMs).toBe(3000);
    expect(config.wsMaxSubscriptions).toBe(100);
  });

  it('turns introspection off in production unless GRAPHQL_INTROSPECTION=true', () => {
    expect(ok({ ...LITELLM, NODE_ENV: 'production', AUTH_MODE: 'none' }).introspection).toBe(false);
    expect(ok({ ...LITELLM, NODE_ENV: 'production', AUTH_MODE: 'none', GRAPHQL_INTROSPECTION: 'true' }).introspection).toBe(true);
    expect(ok({ GRAPHQL_INTROSPECTION: 'false' }).introspection).toBe(false);
  });

  it('reads the graphql-ws limits and reports bad values, one line each', () => {
    const config = ok({ WS_CONNECTION_INIT_TIMEOUT_MS: '500', WS_MAX_SUBSCRIPTIONS: '7' });
    expect(config.wsConnectionInitTimeoutMs).toBe(500);
    expect(config.wsMaxSubscriptions).toBe(7);
    expect(problems({ GRAPHQL_INTROSPECTION: 'yes', WS_CONNECTION_INIT_TIMEOUT_MS: '0', WS_MAX_SUBSCRIPTIONS: 'many' })).toEqual([
      'GRAPHQL_INTROSPECTION must be true or false',
      'WS_CONNECTION_INIT_TIMEOUT_MS must be a whole number from 1 to 600000 (got "0")',
      'WS_MAX_SUBSCRIPTIONS must be a whole number from 1 to 100000 (got "many")',
    ]);
  });

  it('uses the embedded mock when neither OPENAI_BASE_URL nor OPENAI_API_KEY is set', () => {
    const config = ok({});
    expect(config.upstream.embeddedMock).toBe(true);
    expect(config.upstream.baseURL).toBeUndefined();
    expect(config.upstream.apiKey).toBeUndefined();
  });

  it('reads every variable', () => {
    const config = ok({
      ...LITELLM,
      PORT: '8080',
      HOST: '0.0.0.0',
      UPSTREAM_TIMEOUT_MS: '30000',
      UPSTREAM_MAX_RETRIES: '0',
      MODELS_CACHE_MS: '5000',
      SHUTDOWN_GRACE_MS: '2500',
      LOG_LEVEL: 'debug',
      NODE_ENV: 'production',
      AUTH_MODE: 'none',
      CORS_ORIGINS: 'https://app.example.com',
      ALLOWED_HOSTS: 'chat.example.com',
      MAX_MESSAGES: '50',
      CLIENT_DEFAULT_ANSWER_TOKENS: '512',
      GRAPHIQL: 'true',
    });
    expect(config.maxMessages).toBe(50);
    expect(config.security.defaultLimits.defaultAnswerTokens).toBe(512);
    expect(config.graphiql).toBe(true);
    expect(isHostAllowed(config.allowedHosts, 'chat.example.com')).toBe(true);
    expect(isHostAllowed(config.allowedHosts, 'localhost:8080')).toBe(false);
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      upstream: {
        baseURL: 'http://localhost:4000/v1',
        apiKey: 'sk-litellm-master-1234',
        embeddedMock: false,
        timeoutMs: 30_000,
        maxRetries: 0,
      },
      modelsCacheMs: 5000,
      shutdownGraceMs: 2500,
      logLevel: 'debug',
      production: true,
    });
    expect(config.corsOrigins).toHaveLength(1);
  });

  it('ignores variables it does not know (a real process environment)', () => {
    expect(ok({ PATH: '/usr/bin', HOME: '/root', TERM: 'xterm', ...LITELLM }).upstream.baseURL).toBe('http://localhost:4000/v1');
  });

  it('counts empty strings as unset', () => {
    const config = ok({
      PORT: '',
      HOST: '',
      OPENAI_BASE_URL: '',
      OPENAI_API_KEY: '',
      UPSTREAM_TIMEOUT_MS: '',
      UPSTREAM_MAX_RETRIES: '',
      MODELS_CACHE_MS: '',
      SHUTDOWN_GRACE_MS: '',
      CORS_ORIGINS: '',
      LOG_LEVEL: '',
      NODE_ENV: '',
    });
    expect(config.port).toBe(4000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.upstream.embeddedMock).toBe(true);
    expect(config.upstream.timeoutMs).toBe(60_000);
    expect(config.corsOrigins).toBeNull();
    expect(config.logLevel).toBe('info');
  });

  it('a key without a base URL means OpenAI itself (baseURL undefined), not the mock', () => {
    const config = ok({ OPENAI_API_KEY: 'sk-proj-abc123' });
    expect(config.upstream.baseURL).toBeUndefined();
    expect(config.upstream.apiKey).toBe('sk-proj-abc123');
    expect(config.upstream.embeddedMock).toBe(false);
  });

  it('a base URL without a key (Ollama) sends no key, not the mock', () => {
    const config = ok({ OPENAI_BASE_URL: 'http://localhost:11434/v1' });
    expect(config.upstream.baseURL).toBe('http://localhost:11434/v1');
    expect(config.upstream.apiKey).toBeUndefined();
    expect(config.upstream.embeddedMock).toBe(false);
  });

  it('refuses to start in production with no upstream configured', () => {
    const found = problems({ NODE_ENV: 'production', AUTH_MODE: 'none' });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/no upstream configured/i);
  });

  it('starts in production with an upstream', () => {
    expect(ok({ NODE_ENV: 'production', AUTH_MODE: 'none', ...LITELLM }).production).toBe(true);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['UPSTREAM_TIMEOUT_MS', '-1'],
    ['UPSTREAM_TIMEOUT_MS', '0'],
    ['UPSTREAM_TIMEOUT_MS', '1e3'],
    ['UPSTREAM_MAX_RETRIES', 'many'],
    ['MODELS_CACHE_MS', 'forever'],
    ['SHUTDOWN_GRACE_MS', '-5'],
    ['OPENAI_BASE_URL', 'localhost:4000/v1'],
    ['OPENAI_BASE_URL', 'ftp://example.com/v1'],
    ['LOG_LEVEL', 'verbose'],
  ])('reports %s=%s as one problem naming the variable', (name, value) => {
    const found = problems({ ...LITELLM, [name]: value });
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(name);
  });

  it('reports every problem at once, one message each', () => {
    const found = problems({ PORT: 'abc', UPSTREAM_TIMEOUT_MS: '-1' });
    expect(found).toHaveLength(2);
    expect(found.filter((problem) => problem.includes('PORT'))).toHaveLength(1);
    expect(found.filter((problem) => problem.includes('UPSTREAM_TIMEOUT_MS'))).toHaveLength(1);
  });

  it('reports many problems of different kinds at once', () => {
    const found = problems({
      ...LITELLM,
      PORT: 'abc',
      UPSTREAM_MAX_RETRIES: '99',
      OPENAI_BASE_URL: 'not a url',
      LOG_LEVEL: 'loud',
      CORS_ORIGINS: 'https://ok.example.com, bogus',
    });
    expect(found).toHaveLength(5);
    for (const name of ['PORT', 'UPSTREAM_MAX_RETRIES', 'OPENAI_BASE_URL', 'LOG_LEVEL', 'CORS_ORIGINS']) {
      expect(found.some((problem) => problem.includes(name))).toBe(true);
    }
  });

  it('reports a missing upstream in production together with the other problems', () => {
    const found = problems({ NODE_ENV: 'production', AUTH_MODE: 'none', PORT: 'abc' });
    expect(found).toHaveLength(2);
    expect(found.some((problem) => problem.includes('PORT'))).toBe(true);
    expect(found.some((problem) => /no upstream configured/i.test(problem))).toBe(true);
  });

  it('accepts whitespace around numbers', () => {
    expect(ok({ PORT: ' 8080 ' }).port).toBe(8080);
  });

  it('accepts PORT=0 (any free port)', () => {
    expect(ok({ PORT: '0' }).port).toBe(0);
  });

  it('compiles CORS_ORIGINS patterns', () => {
    const origins = ok({ ...LITELLM, CORS_ORIGINS: 'https://app.example.com, http://localhost:*, https://*.example.org' }).corsOrigins;
    expect(origins).toHaveLength(3);
    expect(isOriginAllowed('https://app.example.com', null, policy(origins))).toBe(true);
    expect(isOriginAllowed('http://localhost:5173', null, policy(origins))).toBe(true);
    expect(isOriginAllowed('https://docs.example.org', null, policy(origins))).toBe(true);
    expect(isOriginAllowed('https://evil.example', null, policy(origins))).toBe(false);
  });

  it('reports a malformed CORS_ORIGINS entry, naming the variable and the entry', () => {
    const found = problems({ ...LITELLM, CORS_ORIGINS: 'https://app.example.com,https://app.example.com/path' });
    expect(found).toHaveLength(1);
    expect(found[0]).toContain('CORS_ORIGINS');
    expect(found[0]).toContain('https://app.example.com/path');
  });
});

describe('production defaults', () => {
  const production = { ...LITELLM, NODE_ENV: 'production', AUTH_MODE: 'none' };

  it('refuses HOST on every interface without ALLOWED_HOSTS, saying why; runs with it, or with * on purpose', () => {
    for (const host of ['0.0.0.0', '::']) {
      const found = problems({ ...production, HOST: host });
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(
        /^ALLOWED_HOSTS is not set: with NODE_ENV=production and HOST=.* \(every interface\), list the host names clients use.*DNS-rebinding/,
      );
    }
    expect(ok({ ...production, HOST: '0.0.0.0', ALLOWED_HOSTS: 'chat.example.com' }).allowedHosts.any).toBe(false);
    expect(ok({ ...production, HOST: '0.0.0.0', ALLOWED_HOSTS: '*' }).allowedHosts.any).toBe(true);
    expect(ok({ ...production, HOST: '10.0.0.5' }).host).toBe('10.0.0.5');
    expect(ok({ HOST: '0.0.0.0' }).host, 'outside production the default applies').toBe('0.0.0.0');
  });

  it('serves /metrics on the main port only outside production, GraphiQL only outside production unless GRAPHIQL=true', () => {
    expect(ok({})).toMatchObject({ metricsOnMainPort: true, graphiql: true });
    expect(ok(production)).toMatchObject({ metricsOnMainPort: false, metricsPort: null, graphiql: false });
    expect(ok({ ...production, METRICS_PORT: '9464', GRAPHIQL: 'true' })).toMatchObject({
      metricsOnMainPort: false,
      metricsPort: 9464,
      graphiql: true,
    });
    expect(ok({ GRAPHIQL: 'false' }).graphiql).toBe(false);
  });

  it('reports bad values of the new variables, one line each', () => {
    expect(
      problems({
        ALLOWED_HOSTS: 'ok.example.com,bad host,http://x.example.com',
        MAX_MESSAGES: '0',
        CLIENT_DEFAULT_ANSWER_TOKENS: '8',
        GRAPHIQL: 'yes',
      }),
    ).toEqual([
      'CLIENT_DEFAULT_ANSWER_TOKENS must be a whole number from 16 to 2147483647 (got "8")',
      'MAX_MESSAGES must be a whole number from 1 to 100000 (got "0")',
      'ALLOWED_HOSTS: "bad host" is not a host name (host[:port], an IPv6 address in brackets, or *.example.com)',
      'ALLOWED_HOSTS: "http://x.example.com" is not a host name (host[:port], an IPv6 address in brackets, or *.example.com)',
      'GRAPHIQL must be true or false',
    ]);
  });
});

describe('ALLOWED_HOSTS', () => {
  it('matches names with any port unless a port is given, *.suffix patterns (not the bare name), IPv6 in brackets, case and a trailing dot aside', () => {
    const { policy: hosts, problems: found } = parseAllowedHosts(
      'chat.example.com, api.example.com:8443, *.internal.example, [::1], 10.0.0.5',
    );
    expect(found).toEqual([]);
    for (const host of [
      'chat.example.com',
      'chat.example.com:4000',
      'CHAT.example.com.',
      'api.example.com:8443',
      'a.internal.example',
      'a.b.internal.example:80',
      '[::1]:4000',
      '10.0.0.5',
    ]) {
      expect(isHostAllowed(hosts, host), host).toBe(true);
    }
    for (const host of [
      'api.example.com',
      'api.example.com:443',
      'internal.example',
      'evilinternal.example',
      'rebind.evil.example',
      'chat.example.com.evil.com',
      '[::2]',
      '10.0.0.6',
      '',
      undefined,
    ]) {
      expect(isHostAllowed(hosts, host), String(host)).toBe(false);
    }
  });

  it('defaults to the loopback names, plus HOST when it names one host', () => {
    const loopback = defaultAllowedHosts('127.0.0.1');
    for (const host of ['localhost:4000', '127.0.0.1:4000', '[::1]:4000']) expect(isHostAllowed(loopback, host)).toBe(true);
    expect(isHostAllowed(loopback, 'rebind.evil.example:4000')).toBe(false);
    expect(isHostAllowed(defaultAllowedHosts('0.0.0.0'), '10.0.0.5:4000')).toBe(false);
    expect(isHostAllowed(defaultAllowedHosts('10.0.0.5'), '10.0.0.5:4000')).toBe(true);
    expect(isHostAllowed(defaultAllowedHosts('::'), '[::1]:4000')).toBe(true);
  });

  it('* turns the check off, and stands alone', () => {
    expect(isHostAllowed(parseAllowedHosts('*').policy, 'anything.example')).toBe(true);
    expect(parseAllowedHosts('*,chat.example.com').problems).toEqual(['ALLOWED_HOSTS: * turns the check off and stands alone']);
  });

  it("the service's own origin needs an allowed Host: a DNS-rebinding page's own name is not enough", () => {
    expect(isOriginAllowed('http://rebind.evil.example:4000', 'rebind.evil.example:4000', policy(null, 'localhost,127.0.0.1'))).toBe(false);
    expect(isOriginAllowed('http://localhost:4000', 'localhost:4000', policy(null, 'localhost'))).toBe(true);
    expect(
      isOriginAllowed(
        'https://chat.example.com',
        'chat.example.com',
        policy(parseOriginPatterns('https://app.example.com').patterns, 'chat.example.com'),
      ),
    ).toBe(true);
    expect(
      isOriginAllowed('https://chat.example.com', 'chat.example.com', policy(parseOriginPatterns('https://app.example.com').patterns, '*')),
      'with * no Host is our own',
    ).toBe(false);
  });
});

describe('parseOriginPatterns', () => {
  it('compiles a comma-separated list, ignoring blanks and a trailing slash', () => {
    const { patterns, problems: found } = parseOriginPatterns(' https://app.example.com/ , , http://localhost:* ');
    expect(found).toEqual([]);
    expect(patterns).toHaveLength(2);
    expect(isOriginAllowed('https://app.example.com', null, policy(patterns))).toBe(true);
    expect(isOriginAllowed('http://localhost:3000', null, policy(patterns))).toBe(true);
  });

  it.each([
    'bogus',
    'app.example.com',
    'ftp://files.example.com',
    'https://exa mple.com',
    'https://example.com/path',
    'https://example.com:port',
    'https://*',
  ])('refuses the malformed entry %j', (entry) => {
    const { patterns, problems: found } = parseOriginPatterns(`https://ok.example.com,${entry}`);
    expect(patterns).toHaveLength(1);
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(entry);
  });
});

describe('isOriginAllowed', () => {
  describe('with the default policy', () => {
    it.each(['http://localhost:5173', 'http://localhost:3000', 'http://localhost', 'http://127.0.0.1:3000', 'http://[::1]:8080'])(
      'allows the local development origin %s',
      (origin) => {
        expect(isOriginAllowed(origin, 'chatql.example.com', policy(null))).toBe(true);
      },
    );

    it.each([
      'https://evil.example',
      'http://localhost.evil.com',
      'http://localhost:5173.evil.com',
      'http://127.0.0.1.evil.com',
      'https://localhost:5173',
      'http://evil.com:5173',
      'null',
    ])('refuses %s', (origin) => {
      expect(isOriginAllowed(origin, 'chatql.example.com', policy(null))).toBe(false);
    });

    it("allows the service's own origin (the Origin's host equals the Host header)", () => {
      expect(isOriginAllowed('https://chatql.example.com', 'chatql.example.com', policy(null))).toBe(true);
      expect(isOriginAllowed('http://10.0.0.5:4000', '10.0.0.5:4000', policy(null))).toBe(true);
      expect(isOriginAllowed('https://ChatQL.Example.com', 'chatql.example.com', policy(null))).toBe(true);
    });

    it('refuses an origin whose host differs from the Host header', () => {
      expect(isOriginAllowed('http://10.0.0.5:4001', '10.0.0.5:4000', policy(null))).toBe(false);
      expect(isOriginAllowed('https://chatql.example.com.evil.com', 'chatql.example.com', policy(null))).toBe(false);
      expect(isOriginAllowed('https://evil.example', null, policy(null))).toBe(false);
    });
  });

  describe('with configured patterns', () => {
    const { patterns } = parseOriginPatterns('https://app.example.com,https://*.example.org,http://localhost:*');

    it('allows an exact origin, and only that origin', () => {
      expect(isOriginAllowed('https://app.example.com', null, policy(patterns))).toBe(true);
      expect(isOriginAllowed('http://app.example.com', null, policy(patterns))).toBe(false);
      expect(isOriginAllowed('https://app.example.com:8443', null, policy(patterns))).toBe(false);
      expect(isOriginAllowed('https://other.example.com', null, policy(patterns))).toBe(false);
      expect(isOriginAllowed('https://app.example.com.evil.com', null, policy(patterns))).toBe(false);
    });

    it('allows any subdomain for *., but not the bare domain or a look-alike', () => {
      expect(isOriginAllowed('https://docs.example.org', null, policy(patterns))).toBe(true);
      expect(isOriginAllowed('https://a.b.example.org', null, policy(patterns))).toBe(true);
      expect(isOriginAllowed('https://evilexample.org', null, policy(patterns))).toBe(false);
      expect(isOriginAllowed('https://docs.example.org.evil.com', null, policy(patterns))).toBe(false);
      expect(isOriginAllowed('http://docs.example.org', null, policy(patterns))).toBe(false);
    });

    it('allows any port for :*', () => {
      expect(isOriginAllowed('http://localhost:5173', null, policy(patterns))).toBe(true);
      expect(isOriginAllowed('http://localhost', null, policy(patterns))).toBe(true);
      expect(isOriginAllowed('http://localhost.evil.com', null, policy(patterns))).toBe(false);
    });

    it('replaces the default local origins', () => {
      const only = parseOriginPatterns('https://app.example.com').patterns;
      expect(isOriginAllowed('http://localhost:5173', null, policy(only))).toBe(false);
      expect(isOriginAllowed('http://127.0.0.1:3000', null, policy(only))).toBe(false);
    });

    it('still allows the own origin', () => {
      const only = parseOriginPatterns('https://app.example.com').patterns;
      expect(isOriginAllowed('https://chatql.internal:4000', 'chatql.internal:4000', policy(only))).toBe(true);
    });

    it('* allows any origin', () => {
      expect(isOriginAllowed('https://anything.example', null, policy(parseOriginPatterns('*').patterns))).toBe(true);
    });
  });
});

describe('prices and spend (PRICE_CURRENCY, MODEL_PRICES_FILE, UPSTREAM_PRICES, CLIENT_DAILY_SPEND)', () => {
  const pricesFile = (content: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'chatql-config-prices-')), 'prices.json');
    writeFileSync(path, content);
    return path;
  };

  it('defaults: USD, no file, the proxy prices read only on the embedded mock', () => {
    expect(ok({}).pricing).toMatchObject({ currency: 'USD', file: null, upstream: 'litellm' });
    expect(ok(LITELLM).pricing).toMatchObject({ currency: 'USD', file: null, upstream: null });
    expect(ok({ ...LITELLM, UPSTREAM_PRICES: 'litellm' }).pricing.upstream).toBe('litellm');
    expect(ok({ UPSTREAM_PRICES: 'none' }).pricing.upstream).toBeNull();
  });

  it('reads the file at start-up', () => {
    const path = pricesFile(JSON.stringify({ 'gpt-4o*': { inputPerMillionTokens: 2.5, outputPerMillionTokens: 10 } }));
    const pricing = ok({ ...LITELLM, MODEL_PRICES_FILE: path, PRICE_CURRENCY: 'EUR' }).pricing;
    expect(pricing.file).toBe(path);
    expect(pricing.currency).toBe('EUR');
    expect(pricing.filePrices.get('gpt-4o*')).toEqual({
      inputPerMillionTokens: 2.5,
      outputPerMillionTokens: 10,
      cachedInputPerMillionTokens: null,
    });
  });

  it('reports bad values, one line each, naming the file entry', () => {
    const path = pricesFile(JSON.stringify({ 'gpt-4o': { inputPerMillionTokens: 'cheap', outputPerMillionTokens: 10 } }));
    const found = problems({
      ...LITELLM,
      MODEL_PRICES_FILE: path,
      PRICE_CURRENCY: 'dollars',
      UPSTREAM_PRICES: 'openrouter',
      CLIENT_DAILY_SPEND: '-1',
    });
    expect(found).toHaveLength(4);
    expect(found.join('\n')).toContain(`MODEL_PRICES_FILE ${path}: gpt-4o.inputPerMillionTokens`);
    expect(found.join('\n')).toMatch(/PRICE_CURRENCY must be a three-letter currency code/);
    expect(found.join('\n')).toMatch(/UPSTREAM_PRICES must be litellm or none/);
    expect(found.join('\n')).toMatch(/CLIENT_DAILY_SPEND must be an amount/);
  });

  it('CLIENT_DAILY_SPEND is the default spend limit of every client', () => {
    expect(ok({ ...LITELLM, CLIENT_DAILY_SPEND: '2.50' }).security.defaultLimits.dailySpend).toBe(2.5);
    expect(ok(LITELLM).security.defaultLimits.dailySpend).toBeNull();
  });
});
