/**
 * UPSTREAM_FALLBACKS: the other OpenAI-compatible targets a chat call moves on to when the primary
 * is unwell. A comma-separated list whose items are `<baseURL>` (another upstream, same model),
 * `<baseURL>#<model>` (another upstream and model) or `#<model>` (the primary's upstream, another
 * model), e.g. `http://backup:4000/v1,#gpt-4o-mini`. Every fallback uses OPENAI_API_KEY.
 */

export interface UpstreamFallback {
  /** The SDK's `baseURL` (with `/v1`); undefined means the primary's own upstream. */
  baseURL: string | undefined;
  /** The model to ask for instead of the requested one; undefined keeps the requested model. */
  model: string | undefined;
}

/** More would only add latency to a failing call: each is tried in turn before the answer. */
export const MAX_FALLBACKS = 10;

/** The same check as OPENAI_BASE_URL's: an http(s) URL with a host. */
export function isUpstreamUrl(raw: string): boolean {
  return /^https?:\/\/[^\s/]+/i.test(raw) && URL.canParse(raw);
}

/**
 * Parses the variable; every problem is reported (one line each, naming the item) rather than the
 * first only. `primaryBaseURL` is OPENAI_BASE_URL, to refuse a fallback that is the primary itself.
 */
export function parseUpstreamFallbacks(raw: string, primaryBaseURL?: string): { fallbacks: UpstreamFallback[]; problems: string[] } {
  const fallbacks: UpstreamFallback[] = [];
  const problems: string[] = [];
  const items = raw.split(',').map((item) => item.trim());
  const example = 'e.g. http://backup:4000/v1, http://backup:4000/v1#gpt-4o-mini or #gpt-4o-mini';
  if (items.length > MAX_FALLBACKS) {
    problems.push(`UPSTREAM_FALLBACKS: at most ${MAX_FALLBACKS} fallbacks (got ${items.length})`);
  }
  items.forEach((item, index) => {
    const where = `UPSTREAM_FALLBACKS item ${index + 1}`;
    if (item === '') {
      problems.push(`${where} is empty (items are separated by commas; ${example})`);
      return;
    }
    const hash = item.indexOf('#');
    const url = hash === -1 ? item : item.slice(0, hash).trim();
    const model = hash === -1 ? undefined : item.slice(hash + 1).trim();
    let ok = true;
    if (model !== undefined && (model === '' || /[\s#]/.test(model))) {
      problems.push(`${where} ("${item}"): the model after # must be a name without spaces or # (${example})`);
      ok = false;
    }
    if (url !== '' && !isUpstreamUrl(url)) {
      // The item is not echoed whole: a URL may carry credentials (http://user:pass@host).
      problems.push(`${where}: "${url.replace(/\/\/[^/@]*@/, '//…@')}" is not an http(s) URL such as http://backup:4000/v1 (${example})`);
      ok = false;
    }
    if (ok && model === undefined && primaryBaseURL !== undefined && sameUrl(url, primaryBaseURL)) {
      problems.push(`${where} is OPENAI_BASE_URL itself with the same model: give it another URL or a #model`);
      ok = false;
    }
    if (ok) fallbacks.push({ baseURL: url === '' ? undefined : url, model });
  });
  return { fallbacks, problems };
}

/** Whether two base URLs name the same upstream (a trailing slash aside). */
export function sameUrl(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}
