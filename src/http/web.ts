/**
 * The chat page (web/, built by `npm run build` into dist/web/), served at /chat by sirv.
 *
 * sirv lists the directory once and serves only the files it found, so no request path can
 * reach outside it. Vite puts a content hash in every asset's name, so assets are cached for a
 * year; index.html names the current assets and is revalidated on every load.
 *
 * The build precompresses the page (scripts/precompress.mjs): sirv answers with the `.br` or `.gz`
 * sibling of a file when the client accepts it, with its own Content-Encoding, Content-Length and
 * ETag (each sibling is a file of its own size), so compression costs nothing per request.
 */
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import sirv from 'sirv';

/** Where `vite build` writes the page: dist/web at the package root, from src/http or dist/http alike. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url));

/** The path the page is served under; web/vite.config.ts builds it with the same `base`. */
export const CHAT_PATH = '/chat';

const ONE_YEAR_S = 365 * 24 * 60 * 60;

/**
 * The page's Content-Security-Policy: its own scripts, styles and API only. Images may be data:
 * URIs (attachments and their previews); `connect-src 'self'` covers the WebSocket as well.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Answers requests for /chat and /chat/*. Until `dir` holds a built page (a checkout where
 * `npm run build` has not run), it answers 503 with what to run.
 */
export function createWebHandler(dir: string = DEFAULT_WEB_DIR): Handler {
  let serve: Handler | null = null;

  const load = (): Handler | null => {
    if (!existsSync(join(dir, 'index.html'))) return null;
    const files = sirv(dir, {
      etag: true,
      brotli: true,
      gzip: true,
      maxAge: ONE_YEAR_S,
      immutable: true,
      setHeaders: (res, pathname) => {
        res.setHeader('X-Content-Type-Options', 'nosniff');
        if (pathname.endsWith('.html') || pathname === '/') {
          res.setHeader('Cache-Control', 'no-cache');
          res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
          res.setHeader('Referrer-Policy', 'no-referrer');
        }
      },
    });
    return (req, res) => {
      // sirv adds Vary only to a 200; HTTP asks a 304 to carry the Vary its 200 would have
      // (RFC 9110, 15.4.5), and every file here may have compressed siblings.
      res.setHeader('Vary', 'Accept-Encoding');
      files(req, res, () => {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n');
      });
    };
  };

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method not allowed\n');
      return;
    }
    serve ??= load();
    if (!serve) {
      res
        .writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
        .end('The chat page is not built: run `npm run build`.\n');
      return;
    }
    // sirv serves from its directory's root: /chat/assets/x.js is its /assets/x.js, /chat its index.html.
    const [path = '', query] = (req.url ?? '').split('?', 2);
    req.url = (path.slice(CHAT_PATH.length) || '/') + (query === undefined ? '' : `?${query}`);
    serve(req, res);
  };
}

/** Whether a request path belongs to the chat page. */
export function isChatPath(path: string): boolean {
  return path === CHAT_PATH || path.startsWith(`${CHAT_PATH}/`);
}
