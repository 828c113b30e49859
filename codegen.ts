import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * `npm run codegen` first prints schema/schema.graphql from the Pothos schema
 * (scripts/print-schema.ts), then generates typed documents for every `graphql(...)` operation
 * of the tests, the chat page (web/) and the client examples (examples/), so that each is typed
 * end to end, and the `possibleTypes` map the examples' caches need. Every output is checked in;
 * CI fails when running codegen changes them.
 */
const clientPreset = {
  preset: 'client',
  presetConfig: { fragmentMasking: false },
  config: {
    useTypeImports: true,
    enumsAsTypes: true,
    scalars: {
      DateTime: { input: 'string', output: 'string' },
      JSONObject: { input: 'Record<string, unknown>', output: 'Record<string, unknown>' },
    },
  },
} as const;

/**
 * The chat page's and the tests' documents are also written to a trusted-documents manifest,
 * `persisted-documents.json` (`"sha256:<hex>"` -> the document's normalised text), which
 * `PERSISTED_DOCUMENTS` takes. `embedHashInDocument` (the preset's default mode) keeps each
 * document whole and only adds `__meta__.hash`, so clients that send `query` work as before.
 */
const trustedClientPreset = {
  ...clientPreset,
  presetConfig: { ...clientPreset.presetConfig, persistedDocuments: { mode: 'embedHashInDocument', hashAlgorithm: 'sha256' } },
} as const;

const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  ignoreNoDocuments: false,
  importExtension: '.js',
  generates: {
    'test/gql/': { ...trustedClientPreset, documents: ['test/**/*.ts', '!test/gql/**'] },
    'web/src/gql/': { ...trustedClientPreset, documents: ['web/src/**/*.{ts,tsx}', '!web/src/gql/**'] },
    'examples/gql/': { ...clientPreset, documents: ['examples/**/*.ts', '!examples/gql/**'] },
    // Which concrete types each union and interface (`Error`) stands for: a normalising cache
    // needs it to match `... on Error` against a `RateLimitError`. Apollo's `possibleTypes`...
    'examples/gql/possible-types.ts': { plugins: ['fragment-matcher'], config: { useExplicitTyping: true } },
    'web/src/gql/possible-types.ts': { plugins: ['fragment-matcher'], config: { useExplicitTyping: true } },
    // ...and Graphcache's `schema` (a minified introspection), which also tells it to skip the
    // fragments of the other union members when it writes a result.
    'examples/gql/introspection.ts': { plugins: ['urql-introspection'], config: { module: 'es2015', useTypeImports: true } },
  },
};

export default config;
