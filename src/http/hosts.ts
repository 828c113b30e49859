/**
 * ALLOWED_HOSTS: the host names this service answers to. A request (or WebSocket upgrade) whose
 * `Host` header names anything else is refused before it reaches GraphQL. This is the defence
 * against DNS rebinding: a page on `rebind.evil.example` whose name is made to resolve to the
 * service's address sends `Host: rebind.evil.example`, which is not on the list, so neither its
 * requests nor its WebSockets get through, and the browser's same-origin rule never makes its
 * origin "our own".
 *
 * Entries: host names or addresses, each with an optional port (`api.example.com`,
 * `api.example.com:8443`, `10.0.0.5`, `[::1]`), and `*.example.com` suffix patterns (any
 * subdomain, not the bare name). A name without a port matches any port. `*` alone turns the check
 * off (the service's own origin then comes only from CORS_ORIGINS).
 */

export interface HostPattern {
  /** Lower case, without a trailing dot; for a suffix pattern, the suffix with its leading dot. */
  name: string;
  suffix: boolean;
  /** Null: any port. */
  port: string | null;
}

export interface HostPolicy {
  /** `*`: every Host is allowed, none is taken as the service's own. */
  any: boolean;
  patterns: HostPattern[];
}

/** The host names every service answers to unless ALLOWED_HOSTS says otherwise. */
const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];

/** HOST values that listen on every interface: they name no host of their own. */
const ALL_INTERFACES = new Set(['0.0.0.0', '::', '[::]', '']);

export function listensOnAllInterfaces(host: string): boolean {
  return ALL_INTERFACES.has(host.trim());
}

const HOST_PATTERN = /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(:(\d{1,5}))?$/;

function compile(entry: string): HostPattern | string {
  const raw = entry
    .trim()
    .toLowerCase()
    .replace(/\.(?=(:\d+)?$)/, '');
  const match = HOST_PATTERN.exec(raw);
  if (!match) return `"${entry}" is not a host name (host[:port], an IPv6 address in brackets, or *.example.com)`;
  const [, wildcard, name, , , , , port] = match;
  if (port !== undefined && Number(port) > 65535) return `"${entry}": the port must be at most 65535`;
  return { name: wildcard ? `.${name}` : name!, suffix: wildcard !== undefined, port: port ?? null };
}

/** Parses ALLOWED_HOSTS; every bad entry is a problem of its own. */
export function parseAllowedHosts(raw: string): { policy: HostPolicy; problems: string[] } {
  const entries = raw
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  const problems: string[] = [];
  if (entries.length === 0) problems.push('ALLOWED_HOSTS must name at least one host (or * to turn the check off)');
  if (entries.includes('*')) {
    if (entries.length > 1) problems.push('ALLOWED_HOSTS: * turns the check off and stands alone');
    return { policy: { any: true, patterns: [] }, problems };
  }
  const patterns: HostPattern[] = [];
  for (const entry of entries) {
    const compiled = compile(entry);
    if (typeof compiled === 'string') problems.push(`ALLOWED_HOSTS: ${compiled}`);
    else patterns.push(compiled);
  }
  return { policy: { any: false, patterns }, problems };
}

/** The default: the loopback names, and HOST when it names one host rather than every interface. */
export function defaultAllowedHosts(host: string): HostPolicy {
  const names = listensOnAllInterfaces(host) ? LOOPBACK : [...LOOPBACK, host.includes(':') && !host.startsWith('[') ? `[${host}]` : host];
  const patterns = names.map(compile).filter((pattern): pattern is HostPattern => typeof pattern !== 'string');
  return { any: false, patterns };
}

/** Splits a Host header into its name (lower case, no trailing dot) and port (null when absent). */
function splitHost(header: string): { name: string; port: string | null } | null {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+?)\.?(?::(\d{1,5}))?$/.exec(header.trim().toLowerCase());
  return match ? { name: match[1]!, port: match[2] ?? null } : null;
}

function matches(pattern: HostPattern, name: string, port: string | null): boolean {
  if (pattern.port !== null && pattern.port !== port) return false;
  return pattern.suffix ? name.endsWith(pattern.name) && name.length > pattern.name.length : name === pattern.name;
}

/** Whether a request's `Host` header names a host the service answers to. */
export function isHostAllowed(policy: HostPolicy, header: string | null | undefined): boolean {
  if (policy.any) return true;
  if (!header) return false;
  const host = splitHost(header);
  return host !== null && policy.patterns.some((pattern) => matches(pattern, host.name, host.port));
}

/** The one line a refused request gets. */
export function hostRefusal(header: string | null | undefined): string {
  const shown = (header ?? '').replace(/[^\x21-\x7e]/g, '').slice(0, 100);
  return header
    ? `Host "${shown}" is not allowed: this service answers only to the names in ALLOWED_HOSTS.\n`
    : 'A Host header is required.\n';
}
