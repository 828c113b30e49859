/**
 * Which subscriptions get a compiled per-event plan (src/plugins/compiled-events.ts): the page's and
 * the examples' streams do; an operation that reads a variable below its root field, or that is
 * not a single root field, keeps the full execution per event. What the plans answer is checked
 * end to end by the stream, error, cancellation and resume suites, which run through them.
 */
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';

import { planFor } from '../../src/plugins/compiled-events.js';
import { schema } from '../../src/schema/index.js';
import persisted from '../../web/src/gql/persisted-documents.json' with { type: 'json' };

const plan = (source: string, name?: string) => planFor(schema, parse(source), name);

describe('compiled subscription events', () => {
  it("compiles the chat page's stream document", () => {
    const streams = Object.values(persisted as Record<string, string>).filter((text) => text.includes('subscription'));
    expect(streams.length).toBeGreaterThan(0);
    for (const text of streams) expect(plan(text)).not.toBeNull();
  });

  it('compiles a stream whose variables are read in the root field arguments only', () => {
    const source = `subscription S($input: ChatCompletionInput!) {
      stream: chatCompletionStream(input: $input) { __typename ... on ChatCompletionChunk { seq } }
    }`;
    expect(plan(source, 'S')).not.toBeNull();
  });

  it('keeps the full execution when a variable is read below the root field, or for several roots and queries', () => {
    expect(
      plan(`subscription S($input: ChatCompletionInput!, $more: Boolean!) {
        chatCompletionStream(input: $input) { __typename ... on ChatCompletionChunk @include(if: $more) { seq } }
      }`),
    ).toBeNull();
    expect(
      plan(`subscription S($input: ChatCompletionInput!) { ...Root }
        fragment Root on Subscription { chatCompletionStream(input: $input) { __typename } }`),
    ).toBeNull();
    expect(plan('query Q { models { id } }')).toBeNull();
  });

  it('compiles each document once', () => {
    const document = parse('subscription S($input: ChatCompletionInput!) { chatCompletionStream(input: $input) { __typename } }');
    expect(planFor(schema, document, undefined)).toBe(planFor(schema, document, undefined));
  });
});
