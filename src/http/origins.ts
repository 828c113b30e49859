import { type HostPolicy, isHostAllowed } from './hosts.js';

/**
 * Which browser origins may call the API. Yoga's default CORS policy reflects any origin, which
 * would let any web page spend the upstream key; ChatQL allows its own origin and the origins an
 * operator lists in CORS_ORIGINS, by default the local development ones only.
 */

/** Used when CORS_ORIGINS is unset: any port on the loopback host names. */
export const DEFAULT_ORIGIN_PATTERNS = ['http://localhost:*', 'http://127.0.0.1:*', 'http://[::1]:*'];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Compiles one pattern: an exact origin (`https://app.example.com`), a wildcard port
 * (`http://localhost:*`), a wildcard subdomain (`https://*.example.com`), or `*` for any origin.
 */
export function compileOriginPattern(pattern: string): RegExp | string {
  if (pattern === '*') return /^.*$/;
  const match = /^(https?):\/\/(\*\.)?([a-z0-9.-]+|\[[0-9a-f:]+\])(:(\d{1,5}|\*))?$/i.exec(pattern);
  if (!match) {
    return `"${pattern}" is not an origin (scheme://host[:port], where a leading "*." or the port may be "*")`;
  }
  const [, scheme, wildcardSubdomain, host, , port] = match;
  const source =
    `^${scheme!.toLowerCase()}://` +
    (wildcardSubdomain ? '([a-z0-9-]+\\.)+' : '') +
    escapeRegExp(host!.toLowerCase()) +
    (port === '*' ? '(:\\d{1,5})?' : port ? `:${port}` : '') +
    '$';
  return new RegExp(source);
}

export function parseOriginPatterns(list: string): { patterns: RegExp[]; problems: string[] } {
  const patterns: RegExp[] = [];
  const problems: string[] = [];
  for (const entry of list
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)) {
    const compiled = compileOriginPattern(entry.replace(/\/$/, ''));
    if (typeof compiled === 'string') problems.push(compiled);
    else patterns.push(compiled);
  }
  return { patterns, problems };
}

const defaultPatterns = DEFAULT_ORIGIN_PATTERNS.map((pattern) => compileOriginPattern(pattern) as RegExp);

/** Which origins are the service's own or allowed: the allowed hosts and CORS_ORIGINS. */
export interface OriginPolicy {
  /** CORS_ORIGINS; null means the default list (the loopback origins, any port). */
  corsOrigins: RegExp[] | null;
  /** ALLOWED_HOSTS: the host names the service answers to. */
  hosts: HostPolicy;
}

/**
 * True where a request carrying `origin` may be answered with CORS headers, and may run
 * mutations and subscriptions: the service's own origin, or an allowed pattern. The own origin
 * is the Host the request was sent to, and only when that host is an allowed one (ALLOWED_HOSTS):
 * the Host header alone is never trusted, since a DNS-rebinding page sets it to its own name.
 * With ALLOWED_HOSTS=* no Host is the service's own.
 */
export function isOriginAllowed(origin: string, requestHost: string | null, policy: OriginPolicy): boolean {
  const normalized = origin.toLowerCase();
  if (requestHost && !policy.hosts.any && isHostAllowed(policy.hosts, requestHost)) {
    const host = normalized.replace(/^https?:\/\//, '');
    if (host === requestHost.toLowerCase()) return true;
  }
  return (policy.corsOrigins ?? defaultPatterns).some((pattern) => pattern.test(normalized));
}
