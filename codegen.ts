import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * `npm run codegen` first prints schema/schema.graphql from the Pothos schema
 * (scripts/print-schema.ts), then generates typed documents for every `graphql(...)` operation
 * the tests use, so that tests are typed end to end. Both outputs are checked in; CI fails when
 * running codegen changes them.
 */
const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['test/**/*.ts', '!test/gql/**'],
  ignoreNoDocuments: false,
  importExtension: '.js',
  generates: {
    'test/gql/': {
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
    },
  },
};

export default config;
