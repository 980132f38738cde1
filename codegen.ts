import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Typed documents for the operations in schema/operations, against the committed schema.
 * `npm run codegen` writes tests/generated/; tests and benchmarks import the typed documents.
 */
const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: 'schema/operations/*.graphql',
  // ES module imports with .js extensions, as NodeNext resolution requires.
  emitLegacyCommonJSImports: false,
  generates: {
    'tests/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        avoidOptionals: false,
        // Money: a decimal string out (exact at any size); a string or an integer in.
        scalars: { Cents: { input: 'string | number', output: 'string' } },
      },
    },
  },
};

export default config;
