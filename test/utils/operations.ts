/**
 * The operation documents the tests send, typed by codegen (`npm run codegen` regenerates
 * test/gql/ from them). They select every field, so that a mapping mistake anywhere shows.
 */
import { graphql } from '../gql/index.js';

export const ErrorFieldsFragment = graphql(`
  fragment ErrorFields on Error {
    __typename
    message
    source
    retryable
    ... on InvalidRequestError {
      param
      code
    }
    ... on RateLimitError {
      retryAfterSeconds
      limit
    }
    ... on ContentBlockedError {
      guardrail
    }
    ... on UpstreamUnavailableError {
      status
      retryAfterSeconds
    }
  }
`);

export const CompletionFieldsFragment = graphql(`
  fragment CompletionFields on ChatCompletion {
    id
    model
    created
    systemFingerprint
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
      logprobs {
        content {
          token
          logprob
          bytes
          topLogprobs {
            token
            logprob
            bytes
          }
        }
      }
    }
    usage {
      promptTokens
      completionTokens
      totalTokens
      promptTokensDetails {
        cachedTokens
      }
      completionTokensDetails {
        reasoningTokens
      }
      cost {
        amount
        currency
        source
      }
    }
  }
`);

export const ChatCompletionMutation = graphql(`
  mutation ChatCompletion($input: ChatCompletionInput!) {
    chatCompletion(input: $input) {
      __typename
      ...CompletionFields
      ...ErrorFields
    }
  }
`);

export const ChatCompletionStreamSubscription = graphql(`
  subscription ChatCompletionStream($input: ChatCompletionInput!) {
    chatCompletionStream(input: $input) {
      __typename
      ... on ChatCompletionChunk {
        id
        model
        choices {
          index
          finishReason
          delta {
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
              index
              id
              function {
                name
                arguments
              }
            }
          }
          logprobs {
            content {
              token
              logprob
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
      ...CompletionFields
      ...ErrorFields
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
          ownedBy
          created
          unavailableUntil
          pricing {
            inputPerMillionTokens
            outputPerMillionTokens
            cachedInputPerMillionTokens
            currency
          }
        }
      }
      ...ErrorFields
    }
  }
`);

export const ViewerQuery = graphql(`
  query Viewer {
    viewer {
      __typename
      ... on Viewer {
        clientId
        authMode
        expiresAt
        allowedModels
        limits {
          requestsPerMinute {
            limit
            remaining
            resetsAt
          }
          tokensPerMinute {
            limit
            remaining
            resetsAt
          }
          concurrentStreams {
            limit
            remaining
            resetsAt
          }
          dailyTokens {
            limit
            remaining
            resetsAt
          }
          dailySpend {
            limit
            remaining
            currency
            resetsAt
          }
          maxTokens
          maxConnections
        }
        spentToday {
          amount
          currency
          source
        }
      }
      ...ErrorFields
    }
  }
`);

/** A resumable stream: each chunk's `seq`, its text, then the terminal event. */
export const ResumableStreamSubscription = graphql(`
  subscription ResumableStream($input: ChatCompletionInput!, $resume: StreamResumeInput) {
    chatCompletionStream(input: $input, resume: $resume) {
      __typename
      ... on ChatCompletionChunk {
        id
        seq
        choices {
          delta {
            content
          }
          finishReason
        }
      }
      ...CompletionFields
      ...ErrorFields
    }
  }
`);

export const CancelStreamMutation = graphql(`
  mutation CancelStream($key: String!) {
    cancelChatCompletionStream(key: $key) {
      __typename
      ... on StreamCancelled {
        cancelled
      }
      ...ErrorFields
    }
  }
`);
