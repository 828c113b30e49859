import { GraphQLError, Kind, valueFromASTUntyped } from 'graphql';

import { builder } from '../builder.js';
import type { JsonObject } from '../chat/types.js';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const DateTimeScalar = builder.scalarType('DateTime', {
  description: 'An instant as an ISO 8601 string in UTC, e.g. 2026-11-25T16:22:36.000Z.',
  serialize: (value) => value.toISOString(),
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : null;
    if (!date || Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO 8601 string.');
    return date;
  },
});

export const JSONObjectScalar = builder.scalarType('JSONObject', {
  description: 'A JSON object (not an array or a primitive), e.g. a JSON Schema.',
  serialize: (value) => value,
  parseValue: (value) => {
    if (!isPlainObject(value)) throw new GraphQLError('JSONObject must be a JSON object.');
    // Parsed from JSON (variables) or a GraphQL literal: every value in it is a JSON value.
    return value as JsonObject;
  },
  parseLiteral: (ast, variables) => {
    if (ast.kind !== Kind.OBJECT) throw new GraphQLError('JSONObject must be a JSON object.');
    return valueFromASTUntyped(ast, variables) as JsonObject;
  },
});
