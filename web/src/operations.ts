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
    source
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

/**
 * Who the page is signed in as, and what is left of the limits it shows: asked after a credential
 * is saved (and after each answer while signed in). A refused credential is its
 * `AuthenticationError` member.
 */
export const ViewerQuery = graphql(`
  query Viewer {
    viewer {
      __typename
      ... on Viewer {
        clientId
        authMode
        limits {
          requestsPerMinute {
            limit
            remaining
          }
          dailyTokens {
            limit
            remaining
          }
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
            reasoningContent
            thinkingBlocks {
              type
              thinking
              signature
              data
            }
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
