/**
 * The operations both client examples send. `npm run codegen` turns each `graphql()` call into
 * a typed document in ./gql/ (client preset), so `data` and `variables` are typed in either client.
 */
import { graphql } from './gql/index.js';

/** Every failure is a member of the result union implementing `Error`. */
export const FailureFragment = graphql(`
  fragment Failure on Error {
    __typename
    message
    retryable
    ... on RateLimitError {
      retryAfterSeconds
    }
    ... on InvalidRequestError {
      param
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
      ...Failure
    }
  }
`);

export const AskMutation = graphql(`
  mutation Ask($input: ChatCompletionInput!) {
    chatCompletion(input: $input) {
      __typename
      ... on ChatCompletion {
        id
        choices {
          message {
            content
          }
          finishReason
        }
        usage {
          totalTokens
        }
      }
      ...Failure
    }
  }
`);

export const StreamSubscription = graphql(`
  subscription Stream($input: ChatCompletionInput!) {
    chatCompletionStream(input: $input) {
      __typename
      ... on ChatCompletionChunk {
        id
        choices {
          delta {
            content
          }
        }
      }
      ... on ChatCompletion {
        id
        choices {
          message {
            content
          }
          finishReason
        }
        usage {
          totalTokens
        }
      }
      ...Failure
    }
  }
`);

/** A resumable stream: each chunk's `seq` lets the client skip what it already has after a resume. */
export const ResumableStreamSubscription = graphql(`
  subscription ResumableStream($input: ChatCompletionInput!, $resume: StreamResumeInput) {
    chatCompletionStream(input: $input, resume: $resume) {
      __typename
      ... on ChatCompletionChunk {
        seq
        choices {
          delta {
            content
          }
        }
      }
      ... on ChatCompletion {
        choices {
          finishReason
        }
        usage {
          totalTokens
        }
      }
      ...Failure
    }
  }
`);
