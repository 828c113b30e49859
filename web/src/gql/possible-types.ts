
      export type PossibleTypesResultData = {
  "possibleTypes": {
    "CancelChatCompletionStreamResult": [
      "AuthenticationError",
      "InvalidRequestError",
      "RateLimitError",
      "StreamCancelled"
    ],
    "ChatCompletionResult": [
      "AuthenticationError",
      "BudgetExceededError",
      "ChatCompletion",
      "ContentBlockedError",
      "InvalidRequestError",
      "NotFoundError",
      "PermissionDeniedError",
      "RateLimitError",
      "UpstreamTimeoutError",
      "UpstreamUnavailableError"
    ],
    "ChatCompletionStreamEvent": [
      "AuthenticationError",
      "BudgetExceededError",
      "ChatCompletion",
      "ChatCompletionChunk",
      "ContentBlockedError",
      "InvalidRequestError",
      "NotFoundError",
      "PermissionDeniedError",
      "RateLimitError",
      "UpstreamTimeoutError",
      "UpstreamUnavailableError"
    ],
    "Error": [
      "AuthenticationError",
      "BudgetExceededError",
      "ContentBlockedError",
      "InvalidRequestError",
      "NotFoundError",
      "PermissionDeniedError",
      "RateLimitError",
      "UpstreamTimeoutError",
      "UpstreamUnavailableError"
    ],
    "ModelsResult": [
      "AuthenticationError",
      "BudgetExceededError",
      "ModelList",
      "NotFoundError",
      "PermissionDeniedError",
      "RateLimitError",
      "UpstreamTimeoutError",
      "UpstreamUnavailableError"
    ],
    "ViewerResult": [
      "AuthenticationError",
      "Viewer"
    ]
  }
};
      const result: PossibleTypesResultData = {
  "possibleTypes": {
    "CancelChatCompletionStreamResult": [
      "AuthenticationError",
      "InvalidRequestError",
      "RateLimitError",
      "StreamCancelled"
    ],
    "ChatCompletionResult": [
      "AuthenticationError",
      "BudgetExceededError",
      "ChatCompletion",
      "ContentBlockedError",
      "InvalidRequestError",
      "NotFoundError",
      "PermissionDeniedError",
      "RateLimitError",
      "UpstreamTimeoutError",
      "UpstreamUnavailableError"
    ],
    "ChatCompletionStreamEvent": [
      "AuthenticationError",
      "BudgetExceededError",
      "ChatCompletion",
      "ChatCompletionChunk",
      "ContentBlockedError",
      "InvalidRequestError",
      "NotFoundError",
      "PermissionDeniedError",
      "RateLimitError",
      "UpstreamTimeoutError",
      "UpstreamUnavailableError"
    ],
    "Error": [
      "AuthenticationError",
      "BudgetExceededError",
      "ContentBlockedError",
      "InvalidRequestError",
      "NotFoundError",
      "PermissionDeniedError",
      "RateLimitError",
      "UpstreamTimeoutError",
      "UpstreamUnavailableError"
    ],
    "ModelsResult": [
      "AuthenticationError",
      "BudgetExceededError",
      "ModelList",
      "NotFoundError",
      "PermissionDeniedError",
      "RateLimitError",
      "UpstreamTimeoutError",
      "UpstreamUnavailableError"
    ],
    "ViewerResult": [
      "AuthenticationError",
      "Viewer"
    ]
  }
};
      export default result;
    