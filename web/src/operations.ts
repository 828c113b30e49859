/**
 * The page's GraphQL documents. `npm run codegen` turns each `graphql()` call into a typed
 * document in ./gql/, so results and variables are typed end to end.
 */
import { graphql } from './gql/index.js';

/**
 * Every failure is a member of the result union implementing `Error`: `... on Error` catches
 * them all (including members added later), the specific fragments add what a message needs.
 */
export const ChatErrorFragment = graphql(`
  fragment ChatError on Error {
    __typename
    message
    retryable
    ... on RateLimitError {
      retryAfterSeconds
    }
    ... on InvalidRequestError {
      param
      code
    }
    ... on UpstreamUnavailableError {
      status
    }
  }
`);

export const ModelsQuery = graphql(`
  query Models {
    models {
      __typename
      ... on ModelList {
        models {
          id
        }
      }
      ...ChatError
    }
  }
`);

export const ChatStreamSubscription = graphql(`
  subscription ChatStream($input: ChatCompletionInput!) {
    chatCompletionStream(input: $input) {
      __typename
      ... on ChatCompletionChunk {
        choices {
          index
          delta {
            content
            reasoningContent
            refusal
            toolCalls {
              index
              id
              function {
                name
                arguments
              }
            }
          }
        }
      }
      ... on ChatCompletion {
        choices {
          index
          finishReason
          message {
            content
            refusal
            toolCalls {
              id
              function {
                name
                arguments
              }
            }
          }
        }
        usage {
          promptTokens
          completionTokens
        }
      }
      ...ChatError
    }
  }
`);
