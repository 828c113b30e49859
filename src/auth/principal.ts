/**
 * Who is calling, and what they may do: the result of authentication, read by the limits gate,
 * the `viewer` query and the upstream call. Per-client limits come from the client's entry in
 * CLIENT_KEYS_FILE or its JWT's `chatql` claim, over the CLIENT_* defaults of the configuration.
 */
import { z } from 'zod';

/** How clients prove who they are (AUTH_MODE). */
export const AUTH_MODES = ['none', 'api-key', 'jwt', 'forward'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

/**
 * A client's limits; null means no limit. Rates are counted per client across all replicas when
 * REDIS_URL is set, across the workers of one primary (WORKERS) otherwise, or in the one process.
 */
export interface ClientLimits {
  requestsPerMinute: number | null;
  /** Estimated before a call from the prompt and maxTokens, then settled with the real usage. */
  tokensPerMinute: number | null;
  /** Live `chatCompletionStream` subscriptions at once. */
  concurrentStreams: number | null;
  /** Prompt plus completion tokens per UTC day. */
  dailyTokens: number | null;
  /** The largest `maxTokens` / `maxCompletionTokens` a request may ask for; also sent when it asks for none. */
  maxTokens: number | null;
  /** Open graphql-ws connections at once, counted where the rates are. */
  maxConnections: number | null;
  /**
   * With a token limit (dailyTokens or tokensPerMinute): the answer bound sent upstream when the
   * request sets none, unless what is left of the tightest allowance is smaller
   * (CLIENT_DEFAULT_ANSWER_TOKENS).
   */
  defaultAnswerTokens: number;
  /** Spend per UTC day, in PRICE_CURRENCY; reserved and settled like tokens. */
  dailySpend: number | null;
  /** Models this client may use (entries ending in `*` match by prefix); null: every model the service allows. */
  models: readonly string[] | null;
}

export const UNLIMITED: ClientLimits = {
  requestsPerMinute: null,
  tokensPerMinute: null,
  concurrentStreams: null,
  dailyTokens: null,
  maxTokens: null,
  maxConnections: null,
  defaultAnswerTokens: 4096,
  dailySpend: null,
  models: null,
};

/** The authenticated caller of an operation. */
export interface Principal {
  /** The client id: a key file entry's `id`, a JWT's `sub`, or `anonymous` with AUTH_MODE=none. */
  id: string;
  limits: ClientLimits;
  /** With AUTH_MODE=forward: the client's own bearer token, sent upstream as the key. */
  upstreamKey: string | null;
  /** When the credential stops being valid (a JWT's `exp`), in ms since the epoch. */
  expiresAt: number | null;
}

/** The client id of every caller with AUTH_MODE=none; no authenticated client may have it. */
export const ANONYMOUS = 'anonymous';

/** Client ids travel upstream as `user` and into logs and metric labels: keep them plain. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

/** Up to GraphQL's largest Int, since `viewer` reports the limits. */
const count = z.number().int().min(0).max(2_147_483_647);

/** A client's own limits, as written in CLIENT_KEYS_FILE or a JWT's `chatql` claim; all optional. */
export const clientLimitsSchema = z
  .object({
    requestsPerMinute: count.nullable(),
    tokensPerMinute: count.nullable(),
    concurrentStreams: count.nullable(),
    dailyTokens: count.nullable(),
    maxTokens: count.min(1).nullable(),
    maxConnections: count.nullable(),
    defaultAnswerTokens: count.min(16),
    dailySpend: z.number().finite().min(0).nullable(),
  })
  .partial()
  .strict();

export type ClientLimitsOverride = z.infer<typeof clientLimitsSchema> & { models?: readonly string[] | null | undefined };

export const modelListSchema = z.array(z.string().min(1).max(256)).max(10_000);

/**
 * A client's effective limits: its own values over the defaults (an explicit null lifts a
 * default). The service-wide ALLOWED_MODELS applies on top of `models` (see `ModelPolicy`).
 */
export function mergeLimits(defaults: ClientLimits, own: ClientLimitsOverride | undefined): ClientLimits {
  if (!own) return defaults;
  const pick = <K extends keyof ClientLimits>(key: K): ClientLimits[K] =>
    own[key] === undefined ? defaults[key] : (own[key] as ClientLimits[K]);
  return {
    requestsPerMinute: pick('requestsPerMinute'),
    tokensPerMinute: pick('tokensPerMinute'),
    concurrentStreams: pick('concurrentStreams'),
    dailyTokens: pick('dailyTokens'),
    maxTokens: pick('maxTokens'),
    maxConnections: pick('maxConnections'),
    defaultAnswerTokens: pick('defaultAnswerTokens'),
    dailySpend: pick('dailySpend'),
    models: pick('models'),
  };
}

/** Whether `model` is allowed by a list (null: all). Entries ending in `*` match by prefix. */
export function isModelAllowed(models: readonly string[] | null, model: string): boolean {
  if (models === null) return true;
  return models.some((entry) => (entry.endsWith('*') ? model.startsWith(entry.slice(0, -1)) : entry === model));
}
