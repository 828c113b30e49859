/**
 * The Pothos builder: plugins, scalars and the GraphQL context type. Types and fields live in
 * `src/schema/`, one file per domain.
 */
import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';

import type { Context } from './context.js';

export const builder = new SchemaBuilder<{
  Context: Context;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSONObject: { Input: Record<string, unknown>; Output: Record<string, unknown> };
  };
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: false;
}>({
  plugins: [ErrorsPlugin],
  // The contract's output fields are non-null unless it says otherwise.
  defaultFieldNullability: false,
  errors: { directResult: true },
});
