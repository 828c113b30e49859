/**
 * Every typed error, as a message a person can act on. No DOM here.
 */
import type { CombinedError } from '@urql/core';

import type { ChatErrorFragment } from './gql/graphql.js';

export type FailureAction =
  /** Nothing to retry: the message says what to do instead. */
  | { kind: 'none' }
  /** Offer a Retry button that sends the same turn again. */
  | { kind: 'retry' }
  /** Count down, then allow sending again (a rate limit with Retry-After). */
  | { kind: 'wait'; seconds: number };

export interface Failure {
  title: string;
  /** What happened and what to do, in plain words. */
  advice: string;
  /** The service's own message, safe to show; shown under the advice for the details. */
  message?: string;
  action: FailureAction;
}

export function describeFailure(error: ChatErrorFragment): Failure {
  const message = error.message;
  switch (error.__typename) {
    case 'RateLimitError': {
      const seconds = error.retryAfterSeconds;
      if (seconds != null && seconds > 0) {
        return { title: 'Rate limited', advice: 'Too many requests for now.', message, action: { kind: 'wait', seconds: Math.ceil(seconds) } };
      }
      return { title: 'Rate limited', advice: 'Too many requests for now: try again in a moment.', message, action: { kind: 'retry' } };
    }
    case 'BudgetExceededError':
      return {
        title: 'Budget exhausted',
        advice: "The spending budget of this service's upstream key is used up. Retrying will not help: contact the operator of this service.",
        message,
        action: { kind: 'none' },
      };
    case 'AuthenticationError':
      return {
        title: 'Authentication failed',
        advice: "The upstream refused this service's credentials. The operator of this service needs to check its API key.",
        message,
        action: { kind: 'none' },
      };
    case 'PermissionDeniedError':
      return { title: 'Model not allowed', advice: "This service's key may not use this model: pick another one.", message, action: { kind: 'none' } };
    case 'NotFoundError':
      return { title: 'Model not found', advice: 'The upstream does not serve this model: pick another one.', message, action: { kind: 'none' } };
    case 'InvalidRequestError':
      return {
        title: 'Invalid request',
        advice: 'The request was refused as it is: change it and send again.',
        message: error.param ? `${message} (parameter: ${error.param})` : message,
        action: { kind: 'none' },
      };
    case 'UpstreamTimeoutError':
      return { title: 'The upstream is slow', advice: 'The model did not answer in time. Retry in a moment.', message, action: { kind: 'retry' } };
    case 'UpstreamUnavailableError':
      return {
        title: 'The upstream is down',
        advice: `The model's server failed${error.status ? ` (HTTP ${error.status})` : ''}. Retry in a moment.`,
        message,
        action: { kind: 'retry' },
      };
    default: {
      // A member added to the schema after this page was built: `... on Error` still gives its message.
      const unknown = error as { message: string; retryable: boolean };
      return { title: 'Something went wrong', advice: unknown.message, action: unknown.retryable ? { kind: 'retry' } : { kind: 'none' } };
    }
  }
}

/** A failure outside the result union: the request never reached the API, or GraphQL rejected it. */
export function describeTransportFailure(error: CombinedError): Failure {
  if (error.graphQLErrors.length > 0) {
    return { title: 'Request rejected', advice: error.graphQLErrors.map((e) => e.message).join(' '), action: { kind: 'none' } };
  }
  return {
    title: 'Connection lost',
    advice: 'The ChatQL service could not be reached. Check your connection, then retry.',
    action: { kind: 'retry' },
  };
}
