import { builder } from '../builder.js';
import {
  AuthenticationError,
  BudgetExceededError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../errors.js';
import type { ModelPrice } from '../pricing/prices.js';
import type { WireModel } from '../upstream/wire.js';
import { DateTimeScalar } from './scalars.js';
import './errors.js';

const ModelPricingRef = builder.objectRef<ModelPrice & { currency: string }>('ModelPricing').implement({
  description: "A model's prices (MODEL_PRICES_FILE, or the proxy's GET /model/info with UPSTREAM_PRICES=litellm).",
  fields: (t) => ({
    inputPerMillionTokens: t.exposeFloat('inputPerMillionTokens', { description: 'Per million prompt tokens (cached ones excepted).' }),
    outputPerMillionTokens: t.exposeFloat('outputPerMillionTokens', { description: 'Per million completion tokens, reasoning included.' }),
    cachedInputPerMillionTokens: t.exposeFloat('cachedInputPerMillionTokens', {
      nullable: true,
      description: 'Per million cached prompt tokens; null: they cost the input price.',
    }),
    currency: t.exposeString('currency', { description: 'PRICE_CURRENCY, an ISO 4217 code.' }),
  }),
});

const ModelRef = builder.objectRef<WireModel>('Model').implement({
  description: 'A model the upstream serves.',
  fields: (t) => ({
    unavailableUntil: t.field({
      type: DateTimeScalar,
      nullable: true,
      description:
        'Null while the model is served. Set while every upstream target that could serve it has an open circuit breaker ' +
        '(it kept failing there): the time of the earliest next probe, before which requests for it are answered at once ' +
        'with UpstreamUnavailableError (retryAfterSeconds says the same).',
      resolve: (m, _args, context) =>
        context.principal instanceof AuthenticationError ? null : context.chat.unavailableUntil(m.id, context.principal),
    }),
    id: t.id({ description: 'The name to pass as `model`.', resolve: (m) => m.id }),
    pricing: t.field({
      type: ModelPricingRef,
      nullable: true,
      description: 'What the model costs; null for an unpriced model (which a client with a spend limit cannot use).',
      resolve: (m, _args, context) => context.models.priceOf(m.id),
    }),
    ownedBy: t.string({ nullable: true, resolve: (m) => m.owned_by ?? null }),
    created: t.field({
      type: DateTimeScalar,
      nullable: true,
      resolve: (m) => (typeof m.created === 'number' ? new Date(m.created * 1000) : null),
    }),
  }),
});

const ModelListRef = builder.objectRef<{ models: WireModel[] }>('ModelList').implement({
  fields: (t) => ({
    models: t.field({ type: [ModelRef], resolve: (list) => list.models }),
  }),
});

builder.queryType({
  fields: (t) => ({
    models: t.field({
      description: 'The models that the upstream serves (GET /v1/models, cached for MODELS_CACHE_MS) and that this client may use.',
      type: ModelListRef,
      errors: {
        types: [
          AuthenticationError,
          PermissionDeniedError,
          NotFoundError,
          RateLimitError,
          BudgetExceededError,
          UpstreamTimeoutError,
          UpstreamUnavailableError,
        ],
        union: { name: 'ModelsResult' },
      },
      resolve: async (_root, _args, context) => {
        const { principal } = context;
        if (principal instanceof AuthenticationError) throw principal;
        const models = await context.models.list(principal.upstreamKey);
        // Only the models this client may use (ALLOWED_MODELS and its own list).
        return { models: models.filter((model) => context.gate.isModelAllowed(principal, model.id)) };
      },
    }),
  }),
});
