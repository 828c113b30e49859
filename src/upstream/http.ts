/**
 * The HTTP client under the openai SDK. The SDK accepts any fetch; Node's built-in one (undici's
 * WHATWG fetch) builds a Request, tees its body for a possible redirect, and runs the full fetch
 * algorithm on every call, which the CPU profile of a mutation showed as a large share of the
 * service's own cost. ChatQL's upstream calls need none of that (no redirects, no cookies, no
 * CORS), so this fetch sends them with undici's `request` on a keep-alive connection pool.
 *
 * What it returns is a Response in all the ways the SDK reads one (status, ok, url, headers,
 * json(), text(), body), with the body left as undici's Node stream: a streamed answer's body is
 * read by `sse.ts` straight from it, without a WHATWG ReadableStream per response, which was a
 * large share of the CPU and memory each live stream costs.
 */
import { Agent, request } from 'undici';

type UndiciBody = Awaited<ReturnType<typeof request>>['body'];

/** The parts of a fetch Response the openai SDK uses (checked against openai@6's sources). */
class UpstreamResponse {
  readonly ok: boolean;
  constructor(
    readonly status: number,
    readonly headers: Headers,
    readonly url: string,
    readonly body: UndiciBody | null,
  ) {
    this.ok = status >= 200 && status < 300;
  }

  json(): Promise<unknown> {
    return this.body ? this.body.json() : Promise.reject(new SyntaxError('empty body'));
  }

  text(): Promise<string> {
    return this.body ? this.body.text() : Promise.resolve('');
  }
}

export interface UpstreamFetchOptions {
  /** How long an idle upstream connection is kept for reuse. @default 30000 */
  keepAliveTimeoutMs?: number;
  /**
   * Longest silence between two reads of a response body (from its headers on), i.e. an upstream
   * that stalls mid-answer (UPSTREAM_IDLE_TIMEOUT_MS). 0: wait for ever. @default 0
   */
  idleTimeoutMs?: number;
}

function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const name in raw) {
    const value = raw[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.set(name, value);
  }
  return headers;
}

function plainHeaders(init: HeadersInit | undefined): Record<string, string> {
  if (!init) return {};
  if (init instanceof Headers) return Object.fromEntries(init);
  if (Array.isArray(init)) return Object.fromEntries(init);
  return init as Record<string, string>;
}

export function createUpstreamFetch(options: UpstreamFetchOptions = {}): {
  fetch: typeof fetch;
  close: () => Promise<void>;
} {
  const agent = new Agent({
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
    // undici's body timeout is exactly an idle timer: re-armed on every read, not a cap on the whole
    // answer (a stream may last minutes), and not running while the body is paused by backpressure
    // (a slow client is not an upstream stall). When it fires, undici destroys the socket (so the
    // upstream sees its request closed) and the body fails with a BodyTimeoutError, which
    // classify.ts turns into an UpstreamTimeoutError.
    bodyTimeout: options.idleTimeoutMs ?? 0,
    // The SDK bounds the wait for headers itself (UPSTREAM_TIMEOUT_MS) through the signal.
    headersTimeout: 0,
  });
  const upstreamFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const response = await request(url, {
      dispatcher: agent,
      method: (init?.method ?? 'GET') as 'GET',
      headers: plainHeaders(init?.headers),
      body: (init?.body ?? undefined) as string | undefined,
      signal: init?.signal ?? undefined,
    });
    const empty = response.statusCode === 204 || response.statusCode === 304 || init?.method === 'HEAD';
    if (empty) response.body.resume();
    return new UpstreamResponse(response.statusCode, toHeaders(response.headers), url, empty ? null : response.body) as unknown as Response;
  };
  return { fetch: upstreamFetch as typeof fetch, close: () => agent.destroy() };
}
