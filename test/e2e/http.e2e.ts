/**
 * The service's HTTP surface besides GraphQL execution: health and readiness, GraphiQL served
 * from the service itself, the chat page at /chat, both compressed, CORS, and the `models` query
 * with its cache.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { get as httpGet, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../src/config.js';
import type { MockUpstream } from '../../src/mock-upstream/server.js';
import { postGraphQL } from '../utils/clients.js';
import { ModelsQuery } from '../utils/operations.js';
import { dispose, refusedPort, startMock, startService, until } from '../utils/servers.js';

/** Waits until the service's start-up call to GET /models has been answered. */
function warmedUp(mock: MockUpstream): Promise<void> {
  return until(
    () => mock.requests.some((request) => request.path === '/v1/models' && request.closedAt !== undefined),
    5000,
    'the warm-up models call',
  );
}

describe('health and readiness', () => {
  it('reports the upstream in /readyz without failing readiness on it', async () => {
    const port = await refusedPort();
    const service = await startService(null, { OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`, UPSTREAM_MAX_RETRIES: '0' });
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    await until(() => service.rawLogs.some((line) => line.includes('"call":"models"')), 5000, 'the warm-up models call');
    const response = await fetch(`${service.url}/readyz`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: string; upstream: { ok: boolean; lastError: string } };
    expect(body.status).toBe('ready');
    expect(body.upstream.ok).toBe(false);
    expect(body.upstream.lastError).toBe('UpstreamUnavailableError');
    expect(JSON.stringify(body)).not.toContain(String(port));
  });

  it('reports a reachable upstream', async () => {
    const mock = await startMock();
    const service = await startService(mock);
    await warmedUp(mock);
    const body = (await (await fetch(`${service.url}/readyz`)).json()) as { upstream: { ok: boolean | null; lastError: string | null } };
    expect(body.upstream).toMatchObject({ ok: true, lastError: null });
  });
});

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A GET that sends exactly the given headers and keeps the body as it came: fetch would ask for
 * gzip and brotli by itself and decompress the answer.
 */
function getAsSent(url: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = httpGet(new URL(url), { headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
    });
    request.on('error', reject);
  });
}

/** The body of a response decoded by its Content-Encoding. */
function decoded(response: RawResponse): Buffer {
  const encoding = response.headers['content-encoding'];
  if (encoding === 'br') return brotliDecompressSync(response.body);
  if (encoding === 'gzip') return gunzipSync(response.body);
  return response.body;
}

/**
 * Checks one resource's compressed forms against its identity form: the encoding asked for, the
 * same bytes once decoded, a much smaller body, Vary, an ETag of its own and a 304 on it.
 */
async function expectCompressed(url: string, headers: Record<string, string>, maxRatio: number): Promise<void> {
  const identity = await getAsSent(url, headers);
  expect(identity.status).toBe(200);
  expect(identity.headers['content-encoding']).toBeUndefined();
  expect(identity.headers.vary).toBe('Accept-Encoding');
  expect(Number(identity.headers['content-length'])).toBe(identity.body.length);
  for (const [acceptEncoding, encoding] of [
    ['br', 'br'],
    ['gzip', 'gzip'],
    ['gzip, deflate, br', 'br'],
  ] as const) {
    const response = await getAsSent(url, { ...headers, 'accept-encoding': acceptEncoding });
    expect(response.status, acceptEncoding).toBe(200);
    expect(response.headers['content-encoding'], acceptEncoding).toBe(encoding);
    expect(response.headers.vary, acceptEncoding).toBe('Accept-Encoding');
    expect(response.headers['content-type'], acceptEncoding).toBe(identity.headers['content-type']);
    expect(response.headers['cache-control'], acceptEncoding).toBe(identity.headers['cache-control']);
    expect(Number(response.headers['content-length']), acceptEncoding).toBe(response.body.length);
    // Large bodies: compare as booleans, so that a failure does not print them.
    expect(decoded(response).equals(identity.body), `${acceptEncoding}: decoded body equals the identity body`).toBe(true);
    const ratio = response.body.length / identity.body.length;
    expect(ratio, `${acceptEncoding}: ${response.body.length} of ${identity.body.length} bytes`).toBeLessThan(maxRatio);
    // Each encoding is a representation of its own: its own tag, a 304 on it, not on another's.
    const etag = response.headers.etag ?? '';
    expect(etag).not.toBe(identity.headers.etag);
    const revalidated = await getAsSent(url, { ...headers, 'accept-encoding': acceptEncoding, 'if-none-match': etag });
    expect(revalidated.status, acceptEncoding).toBe(304);
    expect(revalidated.body.length).toBe(0);
    expect(revalidated.headers.vary).toBe('Accept-Encoding');
    expect((await getAsSent(url, { ...headers, 'if-none-match': etag })).status, `${acceptEncoding} tag, identity asked for`).toBe(200);
  }
  const plain = await getAsSent(url, { ...headers, 'if-none-match': identity.headers.etag ?? '' });
  expect(plain.status).toBe(304);
}

describe('GraphiQL', () => {
  it('is served by the service itself, with no script or style from another host', async () => {
    const mock = await startMock();
    const service = await startService(mock);
    await warmedUp(mock);
    const response = await fetch(service.httpUrl, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    // The page inlines all of GraphiQL (megabytes): assert on booleans, so a failure does not print it.
    const html = await response.text();
    expect(html.includes('<title>ChatQL</title>')).toBe(true);
    expect(/<script[^>]+src=["']https?:/i.test(html)).toBe(false);
    expect(/<link[^>]+href=["']https?:/i.test(html)).toBe(false);
    // The example document names a model the upstream serves and shows a streaming subscription.
    expect(html.includes('model: \\"chatql-mock\\"') || html.includes('model: "chatql-mock"')).toBe(true);
    expect(html.includes('chatCompletionStream')).toBe(true);
    // ... with tools, next to a mutation and the error fragment.
    for (const part of ['name: \\"get_weather\\"', 'mutation Ask', 'fragment Failure on Error']) {
      expect(html.includes(part) || html.includes(part.replaceAll('\\', '')), part).toBe(true);
    }
  });

  it('is compressed by Accept-Encoding (identity without it), with a strong ETag, no-cache and 304s', async () => {
    const mock = await startMock();
    const service = await startService(mock);
    await warmedUp(mock);
    const html = { accept: 'text/html' };
    await expectCompressed(service.httpUrl, html, 0.3);
    const identity = await getAsSent(service.httpUrl, html);
    expect(identity.body.length).toBeGreaterThan(5_000_000);
    expect(identity.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(identity.headers['cache-control']).toBe('no-cache');
    expect(identity.headers.etag).toMatch(/^"[\w-]+"$/);
    expect(identity.headers['x-request-id']).toBeTruthy();
    expect(identity.body.includes('<title>ChatQL</title>')).toBe(true);
    // Compressed once: a second brotli answer is the same bytes, and a query string, which the
    // page reads in the browser, changes nothing.
    const first = await getAsSent(service.httpUrl, { ...html, 'accept-encoding': 'br' });
    const again = await getAsSent(`${service.httpUrl}?query=%7B__typename%7D`, { ...html, 'accept-encoding': 'br' });
    expect(again.headers.etag).toBe(first.headers.etag);
    expect(again.body.equals(first.body)).toBe(true);
    // Quality values count (sirv's chat page reads names only).
    const preferred = async (acceptEncoding: string) =>
      (await getAsSent(service.httpUrl, { ...html, 'accept-encoding': acceptEncoding })).headers['content-encoding'] ?? 'identity';
    expect(await preferred('br;q=0.5, gzip')).toBe('gzip');
    expect(await preferred('br;q=0, gzip;q=0')).toBe('identity');
    expect(await preferred('*')).toBe('br');
    expect(await preferred('deflate')).toBe('identity');
    // `*` and a list of tags match as HTTP says; a tag of an older page does not.
    expect((await getAsSent(service.httpUrl, { ...html, 'if-none-match': '*' })).status).toBe(304);
    const listed = `"stale", W/${identity.headers.etag}`;
    expect((await getAsSent(service.httpUrl, { ...html, 'if-none-match': listed })).status).toBe(304);
    expect((await getAsSent(service.httpUrl, { ...html, 'if-none-match': '"stale"' })).status).toBe(200);
  });

  it('is not served with GRAPHIQL=false, compressed or not', async () => {
    const service = await startService(await startMock(), { GRAPHIQL: 'false' });
    const response = await getAsSent(service.httpUrl, { accept: 'text/html', 'accept-encoding': 'br' });
    expect(response.headers['content-encoding']).toBeUndefined();
    expect(response.headers.etag).toBeUndefined();
    expect(response.body.toString()).not.toMatch(/<html|graphiql/i);
  });
});

describe('chat page', () => {
  /** A stand-in for a built page (dist/web): index.html and one hashed asset. */
  function fakeBuild(): string {
    const dir = mkdtempSync(join(tmpdir(), 'chatql-web-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(
      join(dir, 'index.html'),
      '<!doctype html><title>Chat</title><script type="module" src="/chat/assets/index-Ab12Cd34.js"></script>',
    );
    writeFileSync(join(dir, 'assets/index-Ab12Cd34.js'), 'console.log("chat");');
    dispose(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  /** A GET with the path exactly as given: fetch would resolve `..` before sending. */
  function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const request = httpGet(new URL(url), { path }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      request.on('error', reject);
    });
  }

  it('redirects / to /chat', async () => {
    const service = await startService(await startMock());
    const response = await fetch(`${service.url}/`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/chat');
  });

  it('serves index.html revalidated on every load and hashed assets cached for a year', async () => {
    const service = await startService(await startMock(), {}, { webDir: fakeBuild() });
    for (const path of ['/chat', '/chat/', '/chat/index.html']) {
      const page = await fetch(`${service.url}${path}`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html;charset=utf-8');
      expect(page.headers.get('cache-control')).toBe('no-cache');
      expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(await page.text()).toContain('<title>Chat</title>');
    }
    const first = await fetch(`${service.url}/chat`);
    const etag = first.headers.get('etag');
    expect(etag).toBeTruthy();
    expect((await fetch(`${service.url}/chat`, { headers: { 'if-none-match': etag! } })).status).toBe(304);

    const asset = await fetch(`${service.url}/chat/assets/index-Ab12Cd34.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript');
    expect(asset.headers.get('cache-control')).toBe('public,max-age=31536000,immutable');
    expect(await asset.text()).toBe('console.log("chat");');
    expect((await fetch(`${service.url}/chat/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${service.url}/chat`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${service.url}/chat`, { method: 'POST', body: '{}' })).status).toBe(405);
    // GraphQL and health stay where they were.
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
  });

  it('serves nothing outside its directory', async () => {
    const service = await startService(await startMock(), {}, { webDir: fakeBuild() });
    for (const path of [
      '/chat/../package.json',
      '/chat/%2e%2e/package.json',
      '/chat/assets/../../package.json',
      '/chat/..%2fpackage.json',
    ]) {
      const response = await rawGet(service.url, path);
      expect(response.status, path).not.toBe(200);
      expect(response.body, path).not.toContain('"name"');
    }
  });

  it('serves the built page precompressed: brotli and gzip by Accept-Encoding, Vary, an ETag per encoding', async () => {
    // The default directory: the page that `npm run build` (or the tests' global setup) built and compressed.
    const service = await startService(await startMock());
    const index = await getAsSent(`${service.url}/chat`);
    expect(index.status).toBe(200);
    const script = /<script[^>]+src="(\/chat\/assets\/[^"]+\.js)"/.exec(index.body.toString())?.[1];
    expect(script).toBeDefined();
    const url = `${service.url}${script}`;
    await expectCompressed(url, {}, 0.5);
    const asset = await getAsSent(url, { 'accept-encoding': 'br' });
    expect(asset.headers['content-type']).toBe('text/javascript');
    expect(asset.headers['cache-control']).toBe('public,max-age=31536000,immutable');
    // The page itself keeps its policy, whichever form it is served in.
    for (const acceptEncoding of ['br', 'gzip', 'identity']) {
      const page = await getAsSent(`${service.url}/chat`, { 'accept-encoding': acceptEncoding });
      expect(page.headers['cache-control'], acceptEncoding).toBe('no-cache');
      expect(page.headers['content-security-policy'], acceptEncoding).toContain("default-src 'self'");
      expect(decoded(page).toString(), acceptEncoding).toContain('<title>');
    }
  });

  it('serves a file without compressed siblings as it is, whatever the client accepts', async () => {
    const service = await startService(await startMock(), {}, { webDir: fakeBuild() });
    const asset = await getAsSent(`${service.url}/chat/assets/index-Ab12Cd34.js`, { 'accept-encoding': 'br, gzip' });
    expect(asset.headers['content-encoding']).toBeUndefined();
    expect(asset.headers.vary).toBe('Accept-Encoding');
    expect(asset.body.toString()).toBe('console.log("chat");');
  });

  it('answers 503 with what to run while the page is not built', async () => {
    const service = await startService(await startMock(), {}, { webDir: join(tmpdir(), 'chatql-no-such-build') });
    const response = await fetch(`${service.url}/chat`);
    expect(response.status).toBe(503);
    expect(await response.text()).toBe('The chat page is not built: run `npm run build`.\n');
  });
});

describe('CORS', async () => {
  const mock = await startMock();

  async function preflight(url: string, origin: string): Promise<string | null> {
    const response = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    return response.headers.get('access-control-allow-origin');
  }

  it('allows local development origins and the own origin by default, and no other', async () => {
    const service = await startService(mock);
    expect(await preflight(service.httpUrl, 'http://localhost:5173')).toBe('http://localhost:5173');
    expect(await preflight(service.httpUrl, 'http://127.0.0.1:3000')).toBe('http://127.0.0.1:3000');
    expect(await preflight(service.httpUrl, service.url)).toBe(service.url);
    expect(await preflight(service.httpUrl, 'https://evil.example')).toBeNull();
    expect(await preflight(service.httpUrl, 'http://localhost.evil.example')).toBeNull();
  });

  it('allows exactly the configured CORS_ORIGINS', async () => {
    const service = await startService(mock, { CORS_ORIGINS: 'https://app.example.com,https://*.preview.example.com' });
    expect(await preflight(service.httpUrl, 'https://app.example.com')).toBe('https://app.example.com');
    expect(await preflight(service.httpUrl, 'https://pr-7.preview.example.com')).toBe('https://pr-7.preview.example.com');
    expect(await preflight(service.httpUrl, 'http://localhost:5173')).toBeNull();
    expect(await preflight(service.httpUrl, 'https://app.example.com.evil.example')).toBeNull();
  });
});

describe('models', () => {
  it('lists the upstream models and serves repeats from the cache', async () => {
    const mock = await startMock();
    const service = await startService(mock, { MODELS_CACHE_MS: '60000' });
    const modelCalls = () => mock.requests.filter((request) => request.path === '/v1/models').length;
    await until(() => modelCalls() === 1, 5000, 'the warm-up models call');
    const results = await Promise.all([1, 2, 3].map(() => postGraphQL(service, ModelsQuery, {})));
    for (const { body } of results) {
      const models = body.data?.models;
      expect(models?.__typename).toBe('ModelList');
      if (models?.__typename !== 'ModelList') continue;
      expect(models.models[0]).toStrictEqual({
        id: 'chatql-mock',
        ownedBy: 'chatql-mock',
        created: '2025-01-01T00:00:00.000Z',
        unavailableUntil: null,
        // No MODEL_PRICES_FILE, and UPSTREAM_PRICES is off against a configured upstream.
        pricing: null,
      });
      expect(models.models.map((model) => model.id)).toContain('fail-429');
    }
    expect(modelCalls()).toBe(1);
  });

  it('asks the upstream again once the cache has expired', async () => {
    const mock = await startMock();
    const service = await startService(mock, { MODELS_CACHE_MS: '0' });
    const modelCalls = () => mock.requests.filter((request) => request.path === '/v1/models').length;
    await until(() => modelCalls() === 1, 5000, 'the warm-up models call');
    await postGraphQL(service, ModelsQuery, {});
    await postGraphQL(service, ModelsQuery, {});
    expect(modelCalls()).toBe(3);
  });
});

describe('request body limit (MAX_BODY_BYTES)', async () => {
  const mock = await startMock();
  const service = await startService(mock, { MAX_BODY_BYTES: '4096' });
  const chatRequests = () => mock.requests.filter((request) => request.path === '/v1/chat/completions').length;

  /** A mutation whose JSON body is about `bytes` long. */
  function mutationBody(bytes: number): string {
    const query = 'mutation { chatCompletion(input: {model: "chatql-mock", messages: [{user: {content: "PAD"}}]}) { __typename } }';
    const padding = 'x'.repeat(Math.max(0, bytes - query.length - 20));
    return JSON.stringify({ query: query.replace('PAD', padding) });
  }

  it('answers a body within the limit', async () => {
    const body = mutationBody(3500);
    const response = await fetch(service.httpUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(response.status).toBe(200);
    expect(await response.json()).toStrictEqual({ data: { chatCompletion: { __typename: 'ChatCompletion' } } });
  });

  it('refuses a larger body with 413 before reading it, and calls no upstream', async () => {
    const before = chatRequests();
    const body = mutationBody(5000);
    const response = await fetch(service.httpUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(response.status).toBe(413);
    const answer = (await response.json()) as { errors: Array<{ message: string }> };
    expect(answer.errors[0]?.message).toContain('MAX_BODY_BYTES');
    expect(chatRequests()).toBe(before);
    // The service goes on answering.
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
  });

  it('refuses a body without Content-Length (chunked) with 411', async () => {
    const before = chatRequests();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(mutationBody(200)));
        controller.close();
      },
    });
    const response = await fetch(service.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(411);
    expect(chatRequests()).toBe(before);
  });

  it('is validated at start-up', async () => {
    const result = loadConfig({ MAX_BODY_BYTES: '10' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]).toContain('MAX_BODY_BYTES');
  });
});
