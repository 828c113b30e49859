/**
 * `viewer`: who the caller is, in the service's eyes, and what is left of its limits, so that a
 * client can show "42 requests left this minute" or hold back before it is refused.
 */
import type { AuthMode, Principal } from '../auth/principal.js';
import { builder } from '../builder.js';
import { AuthenticationError } from '../errors.js';
import type { LimitStatus, SpendStatus, ViewerLimits } from '../limits/gate.js';
import { CostRef } from './chat-output.js';
import { DateTimeScalar } from './scalars.js';
import './errors.js';

const AuthModeEnum = builder.enumType('AuthMode', {
  description: 'How this service authenticates its clients (AUTH_MODE).',
  values: {
    NONE: { value: 'none', description: 'Open: every caller is `anonymous`.' },
    API_KEY: { value: 'api-key', description: 'A key issued by the operator (CLIENT_KEYS_FILE).' },
    JWT: { value: 'jwt', description: 'A signed JWT; its `sub` is the client id.' },
    FORWARD: { value: 'forward', description: "The client's own upstream key, passed through." },
  } as const,
});

const LimitStatusRef = builder.objectRef<LimitStatus>('LimitStatus').implement({
  description: 'One limit and what is left of it.',
  fields: (t) => ({
    limit: t.exposeInt('limit'),
    remaining: t.exposeInt('remaining'),
    resetsAt: t.field({
      type: DateTimeScalar,
      nullable: true,
      description: 'When the window restarts; null while nothing is counted in it (or, for streams, until one ends).',
      resolve: (status) => status.resetsAt,
    }),
  }),
});

const SpendLimitStatusRef = builder.objectRef<SpendStatus>('SpendLimitStatus').implement({
  description: 'A spend limit and what is left of it, in the currency of this deployment (PRICE_CURRENCY).',
  fields: (t) => ({
    limit: t.exposeFloat('limit'),
    remaining: t.exposeFloat('remaining', { description: 'What is left; running requests hold their upper cost until they end.' }),
    currency: t.exposeString('currency'),
    resetsAt: t.field({ type: DateTimeScalar, description: 'Midnight UTC.', resolve: (status) => status.resetsAt }),
  }),
});

interface ViewerShape {
  principal: Principal;
  mode: AuthMode;
  allowedModels: readonly string[] | null;
  limits: ViewerLimits;
}

const ViewerLimitsRef = builder.objectRef<ViewerShape>('ViewerLimits').implement({
  description: 'Limits of this client; a null field means no such limit.',
  fields: (t) => ({
    requestsPerMinute: t.field({ type: LimitStatusRef, nullable: true, resolve: (v) => v.limits.requestsPerMinute }),
    tokensPerMinute: t.field({
      type: LimitStatusRef,
      nullable: true,
      description: 'Prompt and completion tokens; a request counts its estimate until it has ended.',
      resolve: (v) => v.limits.tokensPerMinute,
    }),
    concurrentStreams: t.field({ type: LimitStatusRef, nullable: true, resolve: (v) => v.limits.concurrentStreams }),
    dailyTokens: t.field({
      type: LimitStatusRef,
      nullable: true,
      description: 'The daily token budget; it renews at midnight UTC.',
      resolve: (v) => v.limits.dailyTokens,
    }),
    dailySpend: t.field({
      type: SpendLimitStatusRef,
      nullable: true,
      description: 'The daily spend limit; it renews at midnight UTC. A client with one may only use priced models.',
      resolve: (v) => v.limits.dailySpend,
    }),
    maxTokens: t.int({
      nullable: true,
      description: 'The most tokens a request may ask for (maxTokens / maxCompletionTokens).',
      resolve: (v) => v.principal.limits.maxTokens,
    }),
    maxConnections: t.int({
      nullable: true,
      description: 'Open graphql-ws connections at once.',
      resolve: (v) => v.principal.limits.maxConnections,
    }),
  }),
});

const ViewerRef = builder.objectRef<ViewerShape>('Viewer').implement({
  description: 'The authenticated client.',
  fields: (t) => ({
    clientId: t.string({
      description: "The id this service knows the client by; it is sent upstream as `user` (with the input's `user` after a colon).",
      resolve: (v) => v.principal.id,
    }),
    authMode: t.field({ type: AuthModeEnum, resolve: (v) => v.mode }),
    expiresAt: t.field({
      type: DateTimeScalar,
      nullable: true,
      description: "When the credential expires (a JWT's exp); a graphql-ws connection is closed then.",
      resolve: (v) => (v.principal.expiresAt === null ? null : new Date(v.principal.expiresAt)),
    }),
    allowedModels: t.stringList({
      nullable: true,
      description: 'The models this client may use (an entry ending in * matches by prefix); null: every model the upstream serves.',
      resolve: (v) => (v.allowedModels === null ? null : [...v.allowedModels]),
    }),
    limits: t.field({ type: ViewerLimitsRef, resolve: (v) => v }),
    spentToday: t.field({
      type: CostRef,
      description:
        "What this client has spent since midnight UTC, running requests at their upper cost until they end. It is ChatQL's own count (source PRICE_TABLE), of figures the upstream reported and costs computed from prices.",
      resolve: (v) => ({ ...v.limits.spentToday, source: 'PRICE_TABLE' as const }),
    }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({
    description: 'Who the caller is and what is left of its limits and budget.',
    type: ViewerRef,
    errors: { types: [AuthenticationError], union: { name: 'ViewerResult' } },
    resolve: async (_root, _args, context): Promise<ViewerShape> => {
      const principal = context.principal;
      if (principal instanceof AuthenticationError) throw principal;
      return {
        principal,
        mode: context.authMode,
        allowedModels: context.gate.allowedModelsFor(principal),
        limits: await context.gate.status(principal),
      };
    },
  }),
}));
