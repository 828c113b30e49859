/**
 * Removes secrets from text that may reach a client or a log line: the configured upstream key,
 * anything shaped like a provider key, bearer tokens, and the upstream's URL (which can carry
 * credentials or reveal internal hosts).
 */

/** Provider key shapes: OpenAI/LiteLLM `sk-...`, Anthropic `sk-ant-...`, and bearer tokens in text. */
const KEY_SHAPES = [/\bsk-[A-Za-z0-9_\-*.]{4,}/g, /\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi];

export type Redactor = (text: string) => string;

export function createRedactor(secrets: ReadonlyArray<string | undefined>): Redactor {
  const literals = secrets
    .filter((secret): secret is string => typeof secret === 'string' && secret.length >= 4)
    .sort((a, b) => b.length - a.length);
  return (text) => {
    let result = text;
    for (const literal of literals) result = result.split(literal).join('[redacted]');
    for (const shape of KEY_SHAPES) {
      result = result.replace(shape, (match, bearer?: string) =>
        typeof bearer === 'string' ? `${bearer}[redacted]` : '[redacted]',
      );
    }
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
