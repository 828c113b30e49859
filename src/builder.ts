/**
 * The Pothos builder: plugins, scalars and the GraphQL context type. Types and fields live in
 * `src/schema/`, one file per domain.
 */
import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';

import type { JsonObject } from './chat/types.js';
import type { Context } from './context.js';

export const builder = new SchemaBuilder<{
  Context: Context;
  Scalars: {
    // Ids come in as strings (GraphQL coerces an integer literal to its string form).
    ID: { Input: string; Output: string | number };
    DateTime: { Input: Date; Output: Date };
    JSONObject: { Input: JsonObject; Output: JsonObject };
  };
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: false;
}>({
  plugins: [ErrorsPlugin],
  // The contract's output fields are non-null unless it says otherwise.
  defaultFieldNullability: false,
  errors: { directResult: true },
});
