/**
 * The page's GraphQL documents. `npm run codegen` turns each `graphql()` call into a typed
 * document in ./gql/, so results and variables are typed end to end, and writes their trusted
 * ids; `registerDocuments` below lets the client send them by id.
 */
import { graphql } from './gql/index.js';
import { registerDocuments } from './trusted-documents.js';

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
      limit
    }
    ... on InvalidRequestError {
      param
      code
    }
    ... on UpstreamUnavailableError {
      status
      retryAfterSeconds
    }
    ... on ContentBlockedError {
      guardrail
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
          unavailableUntil
          pricing {
            inputPerMillionTokens
            outputPerMillionTokens
            cachedInputPerMillionTokens
            currency
          }
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
          dailySpend {
            limit
            remaining
            currency
          }
        }
        spentToday {
          amount
          currency
        }
      }
      ...ChatError
    }
  }
`);

/** One answer, streamed: with `resume`, it survives a dropped connection or a reload. */
export const ChatStreamSubscription = graphql(`
  subscription ChatStream($input: ChatCompletionInput!, $resume: StreamResumeInput) {
    chatCompletionStream(input: $input, resume: $resume) {
      __typename
      ... on ChatCompletionChunk {
        seq
        choices {
          index
          delta {
            content
            reasoningContent
            refusal
            thinkingBlocks {
              type
              thinking
              signature
              data
            }
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
        usage {
          promptTokens
          completionTokens
          totalTokens
          cost {
            amount
            currency
            source
          }
        }
      }
      ... on ChatCompletion {
        upstreamRequestId
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
          totalTokens
          cost {
            amount
            currency
            source
          }
        }
      }
      ...ChatError
    }
  }
`);

registerDocuments(ModelsQuery, ViewerQuery, ChatStreamSubscription);
