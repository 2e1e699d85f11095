// GraphQL Code Generator: types for every operation in src/, generated from the checked-in
// schema (the live schema, exported by `tollgate export-schema`). A schema change that breaks an
// operation fails here or in `tsc`, before anything ships.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../schema.graphql',
  documents: ['src/**/*.{ts,tsx}', '!src/graphql/generated/**'],
  ignoreNoDocuments: false,
  generates: {
    'src/graphql/generated/': {
      preset: 'client',
      config: {
        // Documents as strings with their types attached: the SPA posts them as text and does
        // not need the `graphql` library (parser and printer) in its bundle.
        documentMode: 'string',
        enumsAsTypes: true,
        useTypeImports: true,
        // Custom scalars as they arrive over JSON.
        scalars: { DateTime: 'string', JSON: 'unknown' },
        strictScalars: true,
        // A nullable field in a result is `T | null`, never missing.
        avoidOptionals: { field: true, inputValue: false, object: false, defaultValue: false },
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
