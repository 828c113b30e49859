/**
 * The service's configuration: read once from the environment at start-up and validated whole, so
 * that an operator sees every problem in one go (one line each) instead of one per restart.
 */
import { availableParallelism } from 'node:os';

import { z } from 'zod';

import { readSecurityConfig, type SecurityConfig } from './auth/config.js';
import { defaultAllowedHosts, type HostPolicy, listensOnAllInterfaces, parseAllowedHosts } from './http/hosts.js';
import { parseOriginPatterns } from './http/origins.js';
import { loadPersistedDocuments, type PersistedDocuments } from './plugins/persisted.js';
import { loadPricesFile, type ModelPrice } from './pricing/prices.js';
import { parseUpstreamFallbacks, type UpstreamFallback } from './upstream/fallbacks.js';

export interface UpstreamConfig {
  /** The SDK's `baseURL` (with `/v1`); undefined means OpenAI's own endpoint. */
  baseURL: string | undefined;
  /** Undefined for upstreams that need no key (Ollama): no Authorization header is sent. */
  apiKey: string | undefined;
  /** True when neither variable was set and the embedded mock upstream serves the requests. */
  embeddedMock: boolean;
  /** How long to wait for the upstream's response headers. @default 60000 */
  timeoutMs: number;
  /** Retries after the first attempt, for failures that may pass (see `src/upstream/retry.ts`). @default 2 */
  maxRetries: number;
  /** Longest silence between the bytes of an answer once its headers arrived (a stall); 0: none. @default 60000 */
  idleTimeoutMs: number;
  /** Consecutive unwell failures that open a target's circuit breaker; 0: no breaker. @default 5 */
  breakerThreshold: number;
  /** How long an open breaker answers at once before it lets one probe through. @default 30000 */
  breakerCooldownMs: number;
  /** UPSTREAM_FALLBACKS, in order (see `src/upstream/fallbacks.ts`). @default [] */
  fallbacks: UpstreamFallback[];
}

export interface Config {
  /** @default 4000 */
  port: number;
  /**
   * WORKERS: processes serving PORT. 1 is the one process of old; more run a node:cluster primary
   * that forks them (src/cluster/). `auto`: os.availableParallelism(). @default 1
   */
  workers: number;
  /** @default '127.0.0.1' (containers set '0.0.0.0') */
  host: string;
  upstream: UpstreamConfig;
  /** How long a `models` answer is served from memory. @default 60000 */
  modelsCacheMs: number;
  /** How long running operations may go on after SIGTERM. @default 10000 */
  shutdownGraceMs: number;
  /** Largest request body accepted, sized for data: URI images. @default 10485760 (10 MiB) */
  maxBodyBytes: number;
  /** Serve /metrics on this port (same HOST) instead of the main one; null: on the main port, or not at all in production. */
  metricsPort: number | null;
  /** Whether /metrics is served on the main port: without METRICS_PORT, outside production only. */
  metricsOnMainPort: boolean;
  /** Browser origins allowed to call the API; null means the default (own origin and localhost). */
  corsOrigins: RegExp[] | null;
  /** ALLOWED_HOSTS: the Host names requests may name; the default is the loopback names and HOST. */
  allowedHosts: HostPolicy;
  /** Whether GraphiQL is served at /graphql. @default true, false with NODE_ENV=production (GRAPHIQL=true turns it on) */
  graphiql: boolean;
  /** MAX_MESSAGES: the most messages one chat request may carry. @default 1000 */
  maxMessages: number;
  /** What models cost and in which currency (PRICE_CURRENCY, MODEL_PRICES_FILE, UPSTREAM_PRICES). */
  pricing: {
    currency: string;
    /** MODEL_PRICES_FILE's path, read again on SIGHUP; null: none. */
    file: string | null;
    filePrices: Map<string, ModelPrice>;
    /** UPSTREAM_PRICES=litellm: also read the proxy's `GET /model/info`. */
    upstream: 'litellm' | null;
  };
  /** Resumable streams (`chatCompletionStream(resume:)`). */
  streams: {
    /** STREAM_RESUME_GRACE_MS: how long a generation whose subscribers dropped goes on, waiting for one. @default 30000 */
    graceMs: number;
    /** STREAM_RESUME_TTL_MS: how long a generation's events are kept after its end. @default 300000 */
    ttlMs: number;
    /** STREAM_RESUME_MAX_BYTES: past this, a generation stops being resumable. @default 4 MiB */
    maxBytes: number;
    /** STREAM_RESUME_STORE_BYTES: every log kept in this process, the oldest finished going first. @default 256 MiB */
    storeBytes: number;
  };
  production: boolean;
  /** Whether introspection (and field suggestions in errors) is on. @default true, false with NODE_ENV=production */
  introspection: boolean;
  /** GRAPHQL_BATCH_LIMIT: operations one batched (JSON array) request may hold; 0 refuses batches. @default 0 */
  batchLimit: number;
  /** How long a graphql-ws client has to send `connection_init` before the socket closes with 4408. @default 3000 */
  wsConnectionInitTimeoutMs: number;
  /** Operations running at once on one graphql-ws connection; one more closes the socket with 4429. @default 100 */
  wsMaxSubscriptions: number;
  /**
   * How long a graphql-ws socket may hold unsent messages without any of them completing (a client
   * that stopped reading) before it is terminated, which aborts its operations. @default 30000
   */
  slowClientTimeoutMs: number;
  /**
   * Trusted documents (PERSISTED_DOCUMENTS, read at start-up): when set, only these documents run,
   * sent by id; null: any document runs.
   */
  persistedDocuments: PersistedDocuments | null;
  /** AUTH_MODE and credentials, per-client default limits, ALLOWED_MODELS, REDIS_URL. */
  security: SecurityConfig;
  /** @default 'info' */
  logLevel: string;
  /** LOG_FORMAT: JSON lines, or readable lines for a terminal; null (unset): readable when stdout is a terminal. */
  logFormat: 'json' | 'pretty' | null;
  /** LOG_CONTENT=true: operation log lines carry the prompt and the completion. @default false */
  logContent: boolean;
}

function integer(name: string, min: number, max: number, fallback: number) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return fallback;
      const value = Number(raw);
      if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
        ctx.addIssue({
          code: 'custom',
          message: `${name} must be a whole number from ${min} to ${max} (got "${raw}")`,
        });
        return z.NEVER;
      }
      return value;
    });
}

/** More workers than this is a typo, not a machine. */
const MAX_WORKERS = 1024;

/** The largest GraphQL Int. */
const MAX_INT = 2_147_483_647;

/** The -1 that `integer` gives an unset limit, as null (no limit). */
function unlimitedIfUnset(value: number): number | null {
  return value === -1 ? null : value;
}

const envSchema = z.object({
  PORT: integer('PORT', 0, 65535, 4000),
  WORKERS: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return 1;
      if (raw.trim() === 'auto') return availableParallelism();
      const value = Number(raw);
      if (!/^\s*\d+\s*$/.test(raw) || value < 1 || value > MAX_WORKERS) {
        ctx.addIssue({
          code: 'custom',
          message: `WORKERS must be a whole number from 1 to ${MAX_WORKERS}, or auto for one per core (got "${raw}")`,
        });
        return z.NEVER;
      }
      return value;
    }),
  HOST: z.string().default('127.0.0.1'),
  OPENAI_BASE_URL: z
    .string()
    .optional()
    .refine((raw) => raw === undefined || (/^https?:\/\/[^\s/]+/i.test(raw) && URL.canParse(raw)), {
      message: 'OPENAI_BASE_URL must be an http(s) URL such as http://localhost:4000/v1',
    }),
  OPENAI_API_KEY: z.string().optional(),
  UPSTREAM_TIMEOUT_MS: integer('UPSTREAM_TIMEOUT_MS', 1, 3_600_000, 60_000),
  UPSTREAM_MAX_RETRIES: integer('UPSTREAM_MAX_RETRIES', 0, 10, 2),
  UPSTREAM_IDLE_TIMEOUT_MS: integer('UPSTREAM_IDLE_TIMEOUT_MS', 0, 3_600_000, 60_000),
  UPSTREAM_BREAKER_THRESHOLD: integer('UPSTREAM_BREAKER_THRESHOLD', 0, 1000, 5),
  UPSTREAM_BREAKER_COOLDOWN_MS: integer('UPSTREAM_BREAKER_COOLDOWN_MS', 1, 3_600_000, 30_000),
  MODELS_CACHE_MS: integer('MODELS_CACHE_MS', 0, 86_400_000, 60_000),
  // Parsed in loadConfig (parseUpstreamFallbacks), which refuses a fallback equal to OPENAI_BASE_URL.
  UPSTREAM_FALLBACKS: z.string().optional(),
  SHUTDOWN_GRACE_MS: integer('SHUTDOWN_GRACE_MS', 0, 3_600_000, 10_000),
  MAX_BODY_BYTES: integer('MAX_BODY_BYTES', 1024, 1_073_741_824, 10 * 1024 * 1024),
  METRICS_PORT: integer('METRICS_PORT', 0, 65535, -1),
  // Per-client default limits; unset (-1) is no limit. GraphQL's Int bounds them (`viewer`).
  CLIENT_REQUESTS_PER_MINUTE: integer('CLIENT_REQUESTS_PER_MINUTE', 0, MAX_INT, -1),
  CLIENT_TOKENS_PER_MINUTE: integer('CLIENT_TOKENS_PER_MINUTE', 0, MAX_INT, -1),
  CLIENT_CONCURRENT_STREAMS: integer('CLIENT_CONCURRENT_STREAMS', 0, MAX_INT, -1),
  CLIENT_DAILY_TOKENS: integer('CLIENT_DAILY_TOKENS', 0, MAX_INT, -1),
  CLIENT_MAX_TOKENS: integer('CLIENT_MAX_TOKENS', 1, MAX_INT, -1),
  CLIENT_MAX_CONNECTIONS: integer('CLIENT_MAX_CONNECTIONS', 1, MAX_INT, -1),
  CLIENT_DEFAULT_ANSWER_TOKENS: integer('CLIENT_DEFAULT_ANSWER_TOKENS', 16, MAX_INT, 4096),
  MAX_MESSAGES: integer('MAX_MESSAGES', 1, 100_000, 1000),
  PRICE_CURRENCY: z
    .string()
    .regex(/^[A-Z]{3}$/, 'PRICE_CURRENCY must be a three-letter currency code such as USD or EUR')
    .default('USD'),
  MODEL_PRICES_FILE: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return null;
      const loaded = loadPricesFile(raw.trim());
      if (loaded.ok) return { path: raw.trim(), prices: loaded.prices };
      for (const problem of loaded.problems) ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }),
  UPSTREAM_PRICES: z.enum(['litellm', 'none'], { message: 'UPSTREAM_PRICES must be litellm or none' }).optional(),
  CLIENT_DAILY_SPEND: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return null;
      const value = Number(raw);
      if (!/^\s*\d+(\.\d+)?\s*$/.test(raw) || !Number.isFinite(value)) {
        ctx.addIssue({
          code: 'custom',
          message: `CLIENT_DAILY_SPEND must be an amount in PRICE_CURRENCY such as 5 or 0.25 (got "${raw}")`,
        });
        return z.NEVER;
      }
      return value;
    }),
  STREAM_RESUME_GRACE_MS: integer('STREAM_RESUME_GRACE_MS', 1000, 86_400_000, 30_000),
  STREAM_RESUME_TTL_MS: integer('STREAM_RESUME_TTL_MS', 1000, 86_400_000, 300_000),
  STREAM_RESUME_MAX_BYTES: integer('STREAM_RESUME_MAX_BYTES', 1024, 1_073_741_824, 4 * 1024 * 1024),
  STREAM_RESUME_STORE_BYTES: integer('STREAM_RESUME_STORE_BYTES', 1024, 68_719_476_736, 256 * 1024 * 1024),
  ALLOWED_HOSTS: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return null;
      const parsed = parseAllowedHosts(raw);
      for (const problem of parsed.problems) ctx.addIssue({ code: 'custom', message: problem });
      return parsed.policy;
    }),
  GRAPHIQL: z.enum(['true', 'false'], { message: 'GRAPHIQL must be true or false' }).optional(),
  CORS_ORIGINS: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return null;
      const parsed = parseOriginPatterns(raw);
      for (const problem of parsed.problems) ctx.addIssue({ code: 'custom', message: `CORS_ORIGINS: ${problem}` });
      return parsed.patterns;
    }),
  GRAPHQL_INTROSPECTION: z.enum(['true', 'false'], { message: 'GRAPHQL_INTROSPECTION must be true or false' }).optional(),
  GRAPHQL_BATCH_LIMIT: integer('GRAPHQL_BATCH_LIMIT', 0, 100, 0),
  WS_CONNECTION_INIT_TIMEOUT_MS: integer('WS_CONNECTION_INIT_TIMEOUT_MS', 1, 600_000, 3_000),
  WS_MAX_SUBSCRIPTIONS: integer('WS_MAX_SUBSCRIPTIONS', 1, 100_000, 100),
  SLOW_CLIENT_TIMEOUT_MS: integer('SLOW_CLIENT_TIMEOUT_MS', 100, 3_600_000, 30_000),
  // A path (relative to the working directory) to codegen's persisted-documents.json, read here so
  // that a missing or broken manifest stops the start-up with the other problems.
  PERSISTED_DOCUMENTS: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return null;
      const loaded = loadPersistedDocuments(raw.trim());
      if (loaded.ok) return loaded.documents;
      ctx.addIssue({ code: 'custom', message: loaded.problem });
      return z.NEVER;
    }),
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .string()
    .optional()
    .refine((raw) => raw === undefined || (/^https?:\/\//i.test(raw) && URL.canParse(raw)), {
      message: 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL such as http://otel-collector:4318',
    }),
  NODE_ENV: z.string().optional(),
  // Read and checked by src/auth/config.ts (readSecurityConfig), which reports their problems.
  AUTH_MODE: z.string().optional(),
  CLIENT_KEYS_FILE: z.string().optional(),
  JWT_SECRET: z.string().optional(),
  JWT_PUBLIC_KEY: z.string().optional(),
  JWT_JWKS_URL: z.string().optional(),
  JWT_ISSUER: z.string().optional(),
  JWT_AUDIENCE: z.string().optional(),
  JWT_REQUIRE_EXP: z.string().optional(),
  ALLOWED_MODELS: z.string().optional(),
  REDIS_URL: z.string().optional(),
  // Read by the OpenTelemetry exporter and src/tracing.ts when OTEL_EXPORTER_OTLP_ENDPOINT is set.
  OTEL_SERVICE_NAME: z.string().optional(),
  OTEL_BSP_SCHEDULE_DELAY: z.string().optional(),
  LOG_FORMAT: z.enum(['json', 'pretty'], { message: 'LOG_FORMAT must be json or pretty' }).optional(),
  LOG_CONTENT: z.enum(['true', 'false'], { message: 'LOG_CONTENT must be true or false' }).default('false'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
});

/**
 * Every environment variable the service reads, from the schema above: the one list the
 * configuration reference (docs/configuration.md) is checked against.
 */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

/** Reads the configuration; empty variables count as unset. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ConfigResult {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''));
  const parsed = envSchema.safeParse(present);
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => issue.message);
  const production = present.NODE_ENV === 'production';
  const embeddedMock = present.OPENAI_BASE_URL === undefined && present.OPENAI_API_KEY === undefined;
  if (embeddedMock && production) {
    problems.push(
      'no upstream configured: set OPENAI_BASE_URL (and OPENAI_API_KEY where the upstream needs one); ' +
        'the embedded mock upstream is not started with NODE_ENV=production',
    );
  }
  // Read here rather than in the schema: a fallback equal to OPENAI_BASE_URL is refused.
  const fallbacks =
    present.UPSTREAM_FALLBACKS === undefined
      ? { fallbacks: [], problems: [] }
      : parseUpstreamFallbacks(present.UPSTREAM_FALLBACKS, present.OPENAI_BASE_URL);
  problems.push(...fallbacks.problems);
  const host = present.HOST ?? '127.0.0.1';
  if (production && present.ALLOWED_HOSTS === undefined && listensOnAllInterfaces(host)) {
    problems.push(
      `ALLOWED_HOSTS is not set: with NODE_ENV=production and HOST=${host} (every interface), list the host names clients use ` +
        '(e.g. ALLOWED_HOSTS=chat.example.com), so that a DNS-rebinding page cannot reach the service under a name of its own; * turns the check off',
    );
  }
  const security = readSecurityConfig(present, problems);
  if (!parsed.success || security === null || problems.length > 0) return { ok: false, problems };
  const vars = parsed.data;
  return {
    ok: true,
    config: {
      port: vars.PORT,
      workers: vars.WORKERS,
      host: vars.HOST,
      upstream: {
        baseURL: vars.OPENAI_BASE_URL,
        apiKey: vars.OPENAI_API_KEY,
        embeddedMock,
        timeoutMs: vars.UPSTREAM_TIMEOUT_MS,
        maxRetries: vars.UPSTREAM_MAX_RETRIES,
        idleTimeoutMs: vars.UPSTREAM_IDLE_TIMEOUT_MS,
        breakerThreshold: vars.UPSTREAM_BREAKER_THRESHOLD,
        breakerCooldownMs: vars.UPSTREAM_BREAKER_COOLDOWN_MS,
        fallbacks: fallbacks.fallbacks,
      },
      modelsCacheMs: vars.MODELS_CACHE_MS,
      shutdownGraceMs: vars.SHUTDOWN_GRACE_MS,
      maxBodyBytes: vars.MAX_BODY_BYTES,
      metricsPort: vars.METRICS_PORT === -1 ? null : vars.METRICS_PORT,
      metricsOnMainPort: vars.METRICS_PORT === -1 && !production,
      corsOrigins: vars.CORS_ORIGINS,
      allowedHosts: vars.ALLOWED_HOSTS ?? defaultAllowedHosts(vars.HOST),
      graphiql: vars.GRAPHIQL === undefined ? !production : vars.GRAPHIQL === 'true',
      maxMessages: vars.MAX_MESSAGES,
      pricing: {
        currency: vars.PRICE_CURRENCY,
        file: vars.MODEL_PRICES_FILE?.path ?? null,
        filePrices: vars.MODEL_PRICES_FILE?.prices ?? new Map(),
        // The embedded mock publishes its prices the way LiteLLM does: used unless told otherwise.
        upstream: vars.UPSTREAM_PRICES === 'litellm' || (vars.UPSTREAM_PRICES === undefined && embeddedMock) ? 'litellm' : null,
      },
      streams: {
        graceMs: vars.STREAM_RESUME_GRACE_MS,
        ttlMs: vars.STREAM_RESUME_TTL_MS,
        maxBytes: vars.STREAM_RESUME_MAX_BYTES,
        storeBytes: vars.STREAM_RESUME_STORE_BYTES,
      },
      production,
      introspection: vars.GRAPHQL_INTROSPECTION === undefined ? !production : vars.GRAPHQL_INTROSPECTION === 'true',
      batchLimit: vars.GRAPHQL_BATCH_LIMIT,
      wsConnectionInitTimeoutMs: vars.WS_CONNECTION_INIT_TIMEOUT_MS,
      wsMaxSubscriptions: vars.WS_MAX_SUBSCRIPTIONS,
      slowClientTimeoutMs: vars.SLOW_CLIENT_TIMEOUT_MS,
      persistedDocuments: vars.PERSISTED_DOCUMENTS,
      security: {
        ...security,
        defaultLimits: {
          requestsPerMinute: unlimitedIfUnset(vars.CLIENT_REQUESTS_PER_MINUTE),
          tokensPerMinute: unlimitedIfUnset(vars.CLIENT_TOKENS_PER_MINUTE),
          concurrentStreams: unlimitedIfUnset(vars.CLIENT_CONCURRENT_STREAMS),
          dailyTokens: unlimitedIfUnset(vars.CLIENT_DAILY_TOKENS),
          maxTokens: unlimitedIfUnset(vars.CLIENT_MAX_TOKENS),
          maxConnections: unlimitedIfUnset(vars.CLIENT_MAX_CONNECTIONS),
          defaultAnswerTokens: vars.CLIENT_DEFAULT_ANSWER_TOKENS,
          dailySpend: vars.CLIENT_DAILY_SPEND,
          models: null,
        },
      },
      logLevel: vars.LOG_LEVEL,
      logFormat: vars.LOG_FORMAT ?? null,
      logContent: vars.LOG_CONTENT === 'true',
    },
  };
}
