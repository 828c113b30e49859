/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  fragment Failure on Error {\n    __typename\n    message\n    retryable\n    ... on RateLimitError {\n      retryAfterSeconds\n    }\n    ... on InvalidRequestError {\n      param\n    }\n  }\n": typeof types.FailureFragmentDoc,
    "\n  query Models {\n    models {\n      __typename\n      ... on ModelList {\n        models {\n          id\n        }\n      }\n      ...Failure\n    }\n  }\n": typeof types.ModelsDocument,
    "\n  mutation Ask($input: ChatCompletionInput!) {\n    chatCompletion(input: $input) {\n      __typename\n      ... on ChatCompletion {\n        id\n        choices {\n          message {\n            content\n          }\n          finishReason\n        }\n        usage {\n          totalTokens\n        }\n      }\n      ...Failure\n    }\n  }\n": typeof types.AskDocument,
    "\n  subscription Stream($input: ChatCompletionInput!) {\n    chatCompletionStream(input: $input) {\n      __typename\n      ... on ChatCompletionChunk {\n        id\n        choices {\n          delta {\n            content\n          }\n        }\n      }\n      ... on ChatCompletion {\n        id\n        choices {\n          message {\n            content\n          }\n          finishReason\n        }\n        usage {\n          totalTokens\n        }\n      }\n      ...Failure\n    }\n  }\n": typeof types.StreamDocument,
    "\n  subscription ResumableStream($input: ChatCompletionInput!, $resume: StreamResumeInput) {\n    chatCompletionStream(input: $input, resume: $resume) {\n      __typename\n      ... on ChatCompletionChunk {\n        seq\n        choices {\n          delta {\n            content\n          }\n        }\n      }\n      ... on ChatCompletion {\n        choices {\n          finishReason\n        }\n        usage {\n          totalTokens\n        }\n      }\n      ...Failure\n    }\n  }\n": typeof types.ResumableStreamDocument,
};
const documents: Documents = {
    "\n  fragment Failure on Error {\n    __typename\n    message\n    retryable\n    ... on RateLimitError {\n      retryAfterSeconds\n    }\n    ... on InvalidRequestError {\n      param\n    }\n  }\n": types.FailureFragmentDoc,
    "\n  query Models {\n    models {\n      __typename\n      ... on ModelList {\n        models {\n          id\n        }\n      }\n      ...Failure\n    }\n  }\n": types.ModelsDocument,
    "\n  mutation Ask($input: ChatCompletionInput!) {\n    chatCompletion(input: $input) {\n      __typename\n      ... on ChatCompletion {\n        id\n        choices {\n          message {\n            content\n          }\n          finishReason\n        }\n        usage {\n          totalTokens\n        }\n      }\n      ...Failure\n    }\n  }\n": types.AskDocument,
    "\n  subscription Stream($input: ChatCompletionInput!) {\n    chatCompletionStream(input: $input) {\n      __typename\n      ... on ChatCompletionChunk {\n        id\n        choices {\n          delta {\n            content\n          }\n        }\n      }\n      ... on ChatCompletion {\n        id\n        choices {\n          message {\n            content\n          }\n          finishReason\n        }\n        usage {\n          totalTokens\n        }\n      }\n      ...Failure\n    }\n  }\n": types.StreamDocument,
    "\n  subscription ResumableStream($input: ChatCompletionInput!, $resume: StreamResumeInput) {\n    chatCompletionStream(input: $input, resume: $resume) {\n      __typename\n      ... on ChatCompletionChunk {\n        seq\n        choices {\n          delta {\n            content\n          }\n        }\n      }\n      ... on ChatCompletion {\n        choices {\n          finishReason\n        }\n        usage {\n          totalTokens\n        }\n      }\n      ...Failure\n    }\n  }\n": types.ResumableStreamDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment Failure on Error {\n    __typename\n    message\n    retryable\n    ... on RateLimitError {\n      retryAfterSeconds\n    }\n    ... on InvalidRequestError {\n      param\n    }\n  }\n"): (typeof documents)["\n  fragment Failure on Error {\n    __typename\n    message\n    retryable\n    ... on RateLimitError {\n      retryAfterSeconds\n    }\n    ... on InvalidRequestError {\n      param\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Models {\n    models {\n      __typename\n      ... on ModelList {\n        models {\n          id\n        }\n      }\n      ...Failure\n    }\n  }\n"): (typeof documents)["\n  query Models {\n    models {\n      __typename\n      ... on ModelList {\n        models {\n          id\n        }\n      }\n      ...Failure\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation Ask($input: ChatCompletionInput!) {\n    chatCompletion(input: $input) {\n      __typename\n      ... on ChatCompletion {\n        id\n        choices {\n          message {\n            content\n          }\n          finishReason\n        }\n        usage {\n          totalTokens\n        }\n      }\n      ...Failure\n    }\n  }\n"): (typeof documents)["\n  mutation Ask($input: ChatCompletionInput!) {\n    chatCompletion(input: $input) {\n      __typename\n      ... on ChatCompletion {\n        id\n        choices {\n          message {\n            content\n          }\n          finishReason\n        }\n        usage {\n          totalTokens\n        }\n      }\n      ...Failure\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription Stream($input: ChatCompletionInput!) {\n    chatCompletionStream(input: $input) {\n      __typename\n      ... on ChatCompletionChunk {\n        id\n        choices {\n          delta {\n            content\n          }\n        }\n      }\n      ... on ChatCompletion {\n        id\n        choices {\n          message {\n            content\n          }\n          finishReason\n        }\n        usage {\n          totalTokens\n        }\n      }\n      ...Failure\n    }\n  }\n"): (typeof documents)["\n  subscription Stream($input: ChatCompletionInput!) {\n    chatCompletionStream(input: $input) {\n      __typename\n      ... on ChatCompletionChunk {\n        id\n        choices {\n          delta {\n            content\n          }\n        }\n      }\n      ... on ChatCompletion {\n        id\n        choices {\n          message {\n            content\n          }\n          finishReason\n        }\n        usage {\n          totalTokens\n        }\n      }\n      ...Failure\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription ResumableStream($input: ChatCompletionInput!, $resume: StreamResumeInput) {\n    chatCompletionStream(input: $input, resume: $resume) {\n      __typename\n      ... on ChatCompletionChunk {\n        seq\n        choices {\n          delta {\n            content\n          }\n        }\n      }\n      ... on ChatCompletion {\n        choices {\n          finishReason\n        }\n        usage {\n          totalTokens\n        }\n      }\n      ...Failure\n    }\n  }\n"): (typeof documents)["\n  subscription ResumableStream($input: ChatCompletionInput!, $resume: StreamResumeInput) {\n    chatCompletionStream(input: $input, resume: $resume) {\n      __typename\n      ... on ChatCompletionChunk {\n        seq\n        choices {\n          delta {\n            content\n          }\n        }\n      }\n      ... on ChatCompletion {\n        choices {\n          finishReason\n        }\n        usage {\n          totalTokens\n        }\n      }\n      ...Failure\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;