/**
 * Limits on the shape of GraphQL documents, enforced at parse and validation time, before any
 * resolver (and so any upstream call) runs. They are envelop plugins, so they apply to HTTP, SSE
 * and graphql-ws alike (graphql-ws executes through `yoga.getEnveloped`). Each refusal is a GraphQL
 * error in the top-level `errors` list; none runs per streamed chunk.
 */
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { type ExecutionResult, GraphQLError, NoSchemaIntrospectionCustomRule, type ValidationContext, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Deepest selection, introspection included, fragments counted at the depth where they are spread.
 * GraphiQL's own introspection query (`getIntrospectionQuery()`) is 15 levels deep this way (its
 * `TypeRef` fragment nests `ofType`); the service's operations are 6 at most. 25 levels are refused.
 */
export const MAX_DEPTH = 20;

/** Aliases per operation (`__typename` aliases not counted). */
export const MAX_ALIASES = 10;

/**
 * Lexical tokens per document, as armor counts them: GraphiQL's example document is about 320,
 * its introspection query about 160, the tests' documents 160 at most. The margin is for documents
 * written by hand; ones built to make the parser work are refused while being parsed.
 */
export const MAX_TOKENS = 2000;

/** Directives per operation (`@include`/`@skip`/`@defer`...). */
export const MAX_DIRECTIVES = 10;

/**
 * armor's cost estimate (objects 2, scalars 1, times 1.5 per level) of the non-introspection
 * fields: the service's documents cost 560 at most. Introspection is left to the depth and token
 * limits, since the factor per level makes GraphiQL's introspection query "cost" about 87,000.
 */
export const MAX_COST = 3000;

/**
 * Fields that call the upstream (and spend its key): each may be selected at most once per
 * document, so aliases cannot turn one request into many upstream calls.
 */
export const PAID_FIELDS: ReadonlySet<string> = new Set(['chatCompletion', 'chatCompletionStream']);

/** Refuses a document that selects a paid field more than once, under any alias. */
export const singlePaidFieldRule: ValidationRule = (context: ValidationContext) => {
  const seen = new Set<string>();
  return {
    Field(node) {
      const name = node.name.value;
      if (!PAID_FIELDS.has(name)) return;
      if (seen.has(name)) {
        context.reportError(
          new GraphQLError(`"${name}" may be selected only once per document: it calls the upstream.`, { nodes: [node] }),
        );
      }
      seen.add(name);
    },
  };
};

const SUGGESTION = /\s*Did you mean [^?]*\?/g;

function hideSuggestions<T extends GraphQLError | Error>(error: T): T {
  if (error instanceof GraphQLError) error.message = error.message.replace(SUGGESTION, '').trim();
  return error;
}

function maskResult(result: unknown, setResult: (result: ExecutionResult) => void): void {
  if (!result || typeof result !== 'object' || Symbol.asyncIterator in result) return;
  const { errors } = result as ExecutionResult;
  if (errors?.length) setResult({ ...(result as ExecutionResult), errors: errors.map(hideSuggestions) });
}

export interface ArmorOptions {
  /** When false, introspection is refused and error messages carry no field suggestions. */
  introspection: boolean;
}

export function armorPlugins({ introspection }: ArmorOptions): Plugin[] {
  const armor = EnvelopArmorPlugin({
    maxDepth: { n: MAX_DEPTH, ignoreIntrospection: false, flattenFragments: true },
    maxAliases: { n: MAX_ALIASES },
    maxTokens: { n: MAX_TOKENS },
    maxDirectives: { n: MAX_DIRECTIVES },
    costLimit: { maxCost: MAX_COST, ignoreIntrospection: true },
    // "Did you mean ...?" would reveal the schema that disabled introspection hides.
    blockFieldSuggestion: { enabled: !introspection },
  });
  const rules: Plugin = {
    onValidate({ addValidationRule }) {
      addValidationRule(singlePaidFieldRule);
      if (introspection) return undefined;
      addValidationRule(NoSchemaIntrospectionCustomRule);
      // armor masks `Did you mean "field"?` only; graphql-js also suggests enum values and types.
      return ({ valid, result, setResult }) => {
        if (!valid) setResult(result.map(hideSuggestions));
      };
    },
    // Variable values are checked at execution, and their errors suggest enum values too. Only
    // results that are not streams are looked at: nothing here runs per chunk.
    ...(introspection
      ? {}
      : {
          onExecute: () => ({ onExecuteDone: ({ result, setResult }) => maskResult(result, setResult) }),
          onSubscribe: () => ({ onSubscribeResult: ({ result, setResult }) => maskResult(result, setResult) }),
        }),
  };
  return [rules, armor as Plugin];
}
