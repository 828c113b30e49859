/**
 * The `Error` interface and one object type per domain error class (`src/errors.ts`). Resolvers
 * throw these classes; `@pothos/plugin-errors` turns them into members of each field's union.
 */
import { builder } from '../builder.js';
import {
  AuthenticationError,
  BudgetExceededError,
  type ChatQLError,
  ContentBlockedError,
  ErrorSource,
  InvalidRequestError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../errors.js';

export const ErrorSourceEnum = builder.enumType('ErrorSource', {
  values: {
    SERVICE: {
      value: ErrorSource.SERVICE,
      description: 'Decided by this service (its validation, authentication or limits) before or instead of an upstream call.',
    },
    UPSTREAM: {
      value: ErrorSource.UPSTREAM,
      description: 'Answered by the upstream, or caused by it (its status, its stream, its silence).',
    },
  } as const,
});

export const ErrorInterface = builder.interfaceRef<ChatQLError>('Error').implement({
  description: 'What every failure carries. Select `... on Error { message retryable }` to handle any of them.',
  fields: (t) => ({
    message: t.exposeString('message', {
      description: 'Safe to show to an end user; never holds a key, a stack or an upstream URL.',
    }),
    source: t.field({ type: ErrorSourceEnum, resolve: (error) => error.source }),
    retryable: t.exposeBoolean('retryable', {
      description:
        'True where the same request may succeed later unchanged: rate limits, timeouts, 5xx, dropped ' +
        'connections. False for invalid requests, authentication, permission, not found and budget.',
    }),
  }),
});

builder.objectType(InvalidRequestError, {
  name: 'InvalidRequestError',
  description: 'The request is malformed or refused by validation (upstream 400/422, or checked here before any upstream call).',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    param: t.exposeString('param', {
      nullable: true,
      description:
        "The input at fault, where known: for the service's own checks the GraphQL input path " +
        "(e.g. input.messages.0.user.parts), for upstream rejections the upstream's own param as sent.",
    }),
    code: t.exposeString('code', {
      nullable: true,
      description: "A machine-readable reason, e.g. the upstream's `context_length_exceeded` or the service's `out_of_range`.",
    }),
  }),
});

builder.objectType(AuthenticationError, {
  name: 'AuthenticationError',
  description: "No or bad credentials (upstream 401, or the service's own client authentication).",
  interfaces: [ErrorInterface],
});

builder.objectType(PermissionDeniedError, {
  name: 'PermissionDeniedError',
  description: 'The key may not use this model or operation (upstream 403).',
  interfaces: [ErrorInterface],
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  description: 'Unknown model or resource (upstream 404).',
  interfaces: [ErrorInterface],
});

const RateLimitKindEnum = builder.enumType('RateLimitKind', {
  description: 'Which limit a RateLimitError is about.',
  values: {
    REQUESTS: { description: "Requests per minute (or per day): the service's or the upstream's." },
    TOKENS: { description: "Tokens per minute: the service's or the upstream's." },
    CONCURRENT_STREAMS: { description: "Live streams at once (the service's per-client limit)." },
    UNKNOWN: { description: 'The upstream did not say which.' },
  } as const,
});

builder.objectType(ContentBlockedError, {
  name: 'ContentBlockedError',
  description:
    "A guardrail or content filter refused the request before any output (LiteLLM's guardrails, OpenAI's and Azure's content filters); retrying the same request will not help. A stream the upstream cuts with finish reason content_filter ends with a ChatCompletion whose finishReason is CONTENT_FILTER instead.",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    guardrail: t.exposeString('guardrail', { nullable: true, description: 'The guardrail that refused it, where the upstream names it.' }),
  }),
});

builder.objectType(RateLimitError, {
  name: 'RateLimitError',
  description: "Too many requests (upstream 429 for a rate cap, or the service's own per-client limit).",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    limit: t.field({
      type: RateLimitKindEnum,
      description:
        "Which limit: from the service's own limits, the upstream's `type` or `rate_limit_type`, or which x-ratelimit-remaining-* header is 0.",
      resolve: (error) => error.limit ?? 'UNKNOWN',
    }),
    retryAfterSeconds: t.exposeFloat('retryAfterSeconds', {
      nullable: true,
      description: 'From the Retry-After header where there was one.',
    }),
  }),
});

builder.objectType(BudgetExceededError, {
  name: 'BudgetExceededError',
  description: "The key's spending budget is exhausted (upstream 429 whose error says budget); retrying will not help.",
  interfaces: [ErrorInterface],
});

builder.objectType(UpstreamTimeoutError, {
  name: 'UpstreamTimeoutError',
  description: 'The upstream did not answer in time, retries included.',
  interfaces: [ErrorInterface],
});

builder.objectType(UpstreamUnavailableError, {
  name: 'UpstreamUnavailableError',
  description:
    'The upstream failed (5xx, refused or reset connection, malformed stream), retries included; also the answer ' +
    'while the model has an open circuit breaker (retryAfterSeconds), while the service shuts down, and, with source ' +
    'SERVICE and retryable false, when the service itself failed.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    status: t.exposeInt('status', { nullable: true, description: "The upstream's HTTP status, where it sent one." }),
    retryAfterSeconds: t.exposeFloat('retryAfterSeconds', {
      nullable: true,
      description:
        'Set when the call was refused at once by an open circuit breaker (the model, or the whole upstream, kept failing): ' +
        'seconds until the next probe. Null otherwise.',
    }),
  }),
});
