/**
 * Removes secrets from text that may reach a client or a log line: the configured upstream key,
 * anything shaped like a known credential, bearer tokens, private addresses, and the upstream's
 * URL (which can carry credentials or reveal internal hosts).
 */

/**
 * Credential shapes: OpenAI/LiteLLM `sk-...` (Anthropic's `sk-ant-...` too), bearer tokens in text,
 * AWS access key ids (`AKIA...`, `ASIA...`), GitHub tokens (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`,
 * `github_pat_`), Slack tokens (`xoxb-`, `xoxp-`...), Google API keys (`AIza...`) and JWTs.
 */
const KEY_SHAPES = [
  /\bsk-[A-Za-z0-9_\-*.]{4,}/g,
  /\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi,
  /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g,
  /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g,
  /\bxox[abposr]-[A-Za-z0-9-]{8,}/g,
  /\bAIza[A-Za-z0-9_-]{30,}/g,
  /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g,
];

/**
 * Private and loopback addresses: they map a deployment's insides. IPv4 10/8, 172.16/12,
 * 192.168/16, 127/8, 169.254/16, and IPv6 loopback, unique-local (fc00::/7) and link-local (fe80::/10).
 */
const PRIVATE_ADDRESSES = [
  /\b(?:10(?:\.\d{1,3}){3}|172\.(?:1[6-9]|2\d|3[01])(?:\.\d{1,3}){2}|192\.168(?:\.\d{1,3}){2}|127(?:\.\d{1,3}){3}|169\.254(?:\.\d{1,3}){2})\b/g,
  /(?<![\w:])(?:::1|f[cd][0-9a-f]{2}(?::[0-9a-f]{0,4}){1,7}|fe[89ab][0-9a-f](?::[0-9a-f]{0,4}){1,7})(?![\w:])/gi,
];

export type Redactor = (text: string) => string;

export function createRedactor(secrets: ReadonlyArray<string | undefined>): Redactor {
  const literals = secrets
    .filter((secret): secret is string => typeof secret === 'string' && secret.length >= 4)
    .sort((a, b) => b.length - a.length);
  return (text) => {
    let result = text;
    for (const literal of literals) result = result.split(literal).join('[redacted]');
    for (const shape of KEY_SHAPES) {
      result = result.replace(shape, (_match, bearer?: string) => (typeof bearer === 'string' ? `${bearer}[redacted]` : '[redacted]'));
    }
    for (const address of PRIVATE_ADDRESSES) result = result.replace(address, '[private address]');
    return result;
  };
}

/**
 * `redact`, also removing `secret`: for the calls made with a client's own key
 * (AUTH_MODE=forward), whose failures an upstream may quote with the key in them.
 */
export function redactingAlso(redact: Redactor, secret: string | null): Redactor {
  if (secret === null || secret.length < 4) return redact;
  return (text) => redact(text.split(secret).join('[redacted]'));
}

/** The secrets derived from an upstream base URL: the whole URL, its origin, and its host. */
export function upstreamUrlSecrets(baseURL: string | undefined): string[] {
  if (!baseURL || !URL.canParse(baseURL)) return [];
  const url = new URL(baseURL);
  return [baseURL, baseURL.replace(/\/+$/, ''), url.origin, url.host, url.hostname, url.username, url.password].filter(
    (part) => part.length >= 4,
  );
}
