/**
 * Content negotiation for the pages the service renders itself (GraphiQL's): which encoding a
 * client accepts, whether its cached copy is still current, and the compression, done with
 * node:zlib on the thread pool so that a large page never blocks the event loop.
 */
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

/** The encodings a rendered page is served in besides identity, best first. */
export type Compression = 'br' | 'gzip';

/** What a response's body is encoded with: a compression, or none. */
export type ContentEncoding = Compression | 'identity';

/**
 * Brotli's quality for pages compressed at run time. 11 (the maximum) spends about 17 s on
 * GraphiQL's 9 MB page for 12 % fewer bytes than 5, which takes 0.3 s: the first load waits for it.
 */
const BROTLI_QUALITY = 5;

/** gzip's level at run time: zlib's default, within 1 % of level 9 on GraphiQL's page in half the time. */
const GZIP_LEVEL = 6;

const brotliAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/** The quality value of each coding an Accept-Encoding header names (`br;q=0.5` is 0.5, a bare name 1). */
function codingWeights(header: string): Map<string, number> {
  const weights = new Map<string, number>();
  for (const part of header.toLowerCase().split(',')) {
    const [coding = '', ...params] = part.split(';').map((piece) => piece.trim());
    if (coding === '') continue;
    const q = params.find((param) => param.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    weights.set(coding, Number.isFinite(weight) ? weight : 0);
  }
  return weights;
}

/**
 * The encoding to answer with: brotli or gzip when the client accepts it (by name, `x-gzip` or
 * `*`), the higher quality value winning and brotli the tie; identity otherwise, which every
 * client takes even when it says it would rather not.
 */
export function preferredEncoding(acceptEncoding: string | undefined): ContentEncoding {
  const weights = codingWeights(acceptEncoding ?? '');
  const wildcard = weights.get('*') ?? 0;
  const br = weights.get('br') ?? wildcard;
  const gzipWeight = weights.get('gzip') ?? weights.get('x-gzip') ?? wildcard;
  if (br > 0 && br >= gzipWeight) return 'br';
  return gzipWeight > 0 ? 'gzip' : 'identity';
}

/**
 * Whether an If-None-Match header names `etag` (or is `*`): the weak comparison that the header
 * calls for, so that a `W/` a proxy added still matches.
 */
export function matchesETag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || tag.replace(/^W\//, '') === etag;
  });
}

/** `body` compressed with `compression`, off the event loop. */
export function compress(body: Buffer, compression: Compression): Promise<Buffer> {
  if (compression === 'gzip') return gzipAsync(body, { level: GZIP_LEVEL });
  return brotliAsync(body, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
    },
  });
}
