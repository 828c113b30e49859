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
    "\n  fragment ChatError on Error {\n    __typename\n    message\n    retryable\n    source\n    ... on RateLimitError {\n      retryAfterSeconds\n    }\n    ... on InvalidRequestError {\n      param\n      code\n    }\n    ... on UpstreamUnavailableError {\n      status\n    }\n  }\n": typeof types.ChatErrorFragmentDoc,
    "\n  query Models {\n    models {\n      __typename\n      ... on ModelList {\n        models {\n          id\n        }\n      }\n      ...ChatError\n    }\n  }\n": typeof types.ModelsDocument,
    "\n  query Viewer {\n    viewer {\n      __typename\n      ... on Viewer {\n        clientId\n        authMode\n        limits {\n          requestsPerMinute {\n            limit\n            remaining\n          }\n          dailyTokens {\n            limit\n            remaining\n          }\n        }\n      }\n      ...ChatError\n    }\n  }\n": typeof types.ViewerDocument,
    "\n  subscription ChatStream($input: ChatCompletionInput!) {\n    chatCompletionStream(input: $input) {\n      __typename\n      ... on ChatCompletionChunk {\n        choices {\n          index\n          delta {\n            content\n            reasoningContent\n            refusal\n            toolCalls {\n              index\n              id\n              function {\n                name\n                arguments\n              }\n            }\n          }\n        }\n      }\n      ... on ChatCompletion {\n        choices {\n          index\n          finishReason\n          message {\n            content\n            refusal\n            reasoningContent\n            thinkingBlocks {\n              type\n              thinking\n              signature\n              data\n            }\n            toolCalls {\n              id\n              function {\n                name\n                arguments\n              }\n            }\n          }\n        }\n        usage {\n          promptTokens\n          completionTokens\n        }\n      }\n      ...ChatError\n    }\n  }\n": typeof types.ChatStreamDocument,
};
const documents: Documents = {
    "\n  fragment ChatError on Error {\n    __typename\n    message\n    retryable\n    source\n    ... on RateLimitError {\n      retryAfterSeconds\n    }\n    ... on InvalidRequestError {\n      param\n      code\n    }\n    ... on UpstreamUnavailableError {\n      status\n    }\n  }\n": types.ChatErrorFragmentDoc,
    "\n  query Models {\n    models {\n      __typename\n      ... on ModelList {\n        models {\n          id\n        }\n      }\n      ...ChatError\n    }\n  }\n": types.ModelsDocument,
    "\n  query Viewer {\n    viewer {\n      __typename\n      ... on Viewer {\n        clientId\n        authMode\n        limits {\n          requestsPerMinute {\n            limit\n            remaining\n          }\n          dailyTokens {\n            limit\n            remaining\n          }\n        }\n      }\n      ...ChatError\n    }\n  }\n": types.ViewerDocument,
    "\n  subscription ChatStream($input: ChatCompletionInput!) {\n    chatCompletionStream(input: $input) {\n      __typename\n      ... on ChatCompletionChunk {\n        choices {\n          index\n          delta {\n            content\n            reasoningContent\n            refusal\n            toolCalls {\n              index\n              id\n              function {\n                name\n                arguments\n              }\n            }\n          }\n        }\n      }\n      ... on ChatCompletion {\n        choices {\n          index\n          finishReason\n          message {\n            content\n            refusal\n            reasoningContent\n            thinkingBlocks {\n              type\n              thinking\n              signature\n              data\n            }\n            toolCalls {\n              id\n              function {\n                name\n                arguments\n              }\n            }\n          }\n        }\n        usage {\n          promptTokens\n          completionTokens\n        }\n      }\n      ...ChatError\n    }\n  }\n": types.ChatStreamDocument,
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
export function graphql(source: "\n  fragment ChatError on Error {\n    __typename\n    message\n    retryable\n    source\n    ... on RateLimitError {\n      retryAfterSeconds\n    }\n    ... on InvalidRequestError {\n      param\n      code\n    }\n    ... on UpstreamUnavailableError {\n      status\n    }\n  }\n"): (typeof documents)["\n  fragment ChatError on Error {\n    __typename\n    message\n    retryable\n    source\n    ... on RateLimitError {\n      retryAfterSeconds\n    }\n    ... on InvalidRequestError {\n      param\n      code\n    }\n    ... on UpstreamUnavailableError {\n      status\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Models {\n    models {\n      __typename\n      ... on ModelList {\n        models {\n          id\n        }\n      }\n      ...ChatError\n    }\n  }\n"): (typeof documents)["\n  query Models {\n    models {\n      __typename\n      ... on ModelList {\n        models {\n          id\n        }\n      }\n      ...ChatError\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Viewer {\n    viewer {\n      __typename\n      ... on Viewer {\n        clientId\n        authMode\n        limits {\n          requestsPerMinute {\n            limit\n            remaining\n          }\n          dailyTokens {\n            limit\n            remaining\n          }\n        }\n      }\n      ...ChatError\n    }\n  }\n"): (typeof documents)["\n  query Viewer {\n    viewer {\n      __typename\n      ... on Viewer {\n        clientId\n        authMode\n        limits {\n          requestsPerMinute {\n            limit\n            remaining\n          }\n          dailyTokens {\n            limit\n            remaining\n          }\n        }\n      }\n      ...ChatError\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription ChatStream($input: ChatCompletionInput!) {\n    chatCompletionStream(input: $input) {\n      __typename\n      ... on ChatCompletionChunk {\n        choices {\n          index\n          delta {\n            content\n            reasoningContent\n            refusal\n            toolCalls {\n              index\n              id\n              function {\n                name\n                arguments\n              }\n            }\n          }\n        }\n      }\n      ... on ChatCompletion {\n        choices {\n          index\n          finishReason\n          message {\n            content\n            refusal\n            reasoningContent\n            thinkingBlocks {\n              type\n              thinking\n              signature\n              data\n            }\n            toolCalls {\n              id\n              function {\n                name\n                arguments\n              }\n            }\n          }\n        }\n        usage {\n          promptTokens\n          completionTokens\n        }\n      }\n      ...ChatError\n    }\n  }\n"): (typeof documents)["\n  subscription ChatStream($input: ChatCompletionInput!) {\n    chatCompletionStream(input: $input) {\n      __typename\n      ... on ChatCompletionChunk {\n        choices {\n          index\n          delta {\n            content\n            reasoningContent\n            refusal\n            toolCalls {\n              index\n              id\n              function {\n                name\n                arguments\n              }\n            }\n          }\n        }\n      }\n      ... on ChatCompletion {\n        choices {\n          index\n          finishReason\n          message {\n            content\n            refusal\n            reasoningContent\n            thinkingBlocks {\n              type\n              thinking\n              signature\n              data\n            }\n            toolCalls {\n              id\n              function {\n                name\n                arguments\n              }\n            }\n          }\n        }\n        usage {\n          promptTokens\n          completionTokens\n        }\n      }\n      ...ChatError\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;