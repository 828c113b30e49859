/**
 * Every typed error, as a message a person can act on. No DOM here.
 */
import { CombinedGraphQLErrors } from '@apollo/client/errors';

import type { ChatErrorFragment } from './gql/graphql.js';

/** A graphql-ws connection the service closed with 4403; `message` is its close reason (apollo.ts). */
export class CredentialRefusedError extends Error {
  override readonly name = 'CredentialRefusedError';
}

/** A typed error as selected by the ChatError fragment; without `source`, it reads as the upstream's. */
type Loosened<T> = T extends { source: infer S } ? Omit<T, 'source'> & { source?: S } : T;
export type ChatError = Loosened<ChatErrorFragment>;

export type FailureAction =
  /** Nothing to retry: the message says what to do instead. */
  | { kind: 'none' }
  /** Offer a Retry button that sends the same turn again. */
  | { kind: 'retry' }
  /** Count down, then allow sending again (a rate limit with Retry-After). */
  | { kind: 'wait'; seconds: number }
  /** The person's own credential is missing or was refused: point to the credential field. */
  | { kind: 'credential' };

/** What the page knows of its own credential, to tell "sign in" from "the operator's key". */
export interface CredentialState {
  /** A credential is set (and was sent). */
  present: boolean;
  /** The service forwards it upstream (AUTH_MODE=forward, from `viewer`): an upstream 401 is about it. */
  forwarded: boolean;
}

const NO_CREDENTIAL: CredentialState = { present: false, forwarded: false };

/** The field's label, as the messages name it. */
const FIELD = '“API key or token”';

export interface Failure {
  title: string;
  /** What happened and what to do, in plain words. */
  advice: string;
  /** The service's own message, safe to show; shown under the advice for the details. */
  message?: string;
  action: FailureAction;
}

/** The service (or, in forward mode, the upstream) refused the person's own credential, or wants one. */
export function credentialFailure(credential: CredentialState, message?: string): Failure {
  return credential.present
    ? {
        title: 'API key or token refused',
        advice: `The saved credential was not accepted: check it in ${FIELD} under Settings, then Save.`,
        ...(message ? { message } : {}),
        action: { kind: 'credential' },
      }
    : {
        title: 'Sign-in needed',
        advice: `This service needs an API key or token: enter it in ${FIELD} under Settings, then Save.`,
        ...(message ? { message } : {}),
        action: { kind: 'credential' },
      };
}

export function describeFailure(error: ChatError, credential: CredentialState = NO_CREDENTIAL): Failure {
  const message = error.message;
  switch (error.__typename) {
    case 'RateLimitError': {
      const seconds = error.retryAfterSeconds;
      if (seconds != null && seconds > 0) {
        return {
          title: 'Rate limited',
          advice: 'Too many requests for now.',
          message,
          action: { kind: 'wait', seconds: Math.ceil(seconds) },
        };
      }
      return { title: 'Rate limited', advice: 'Too many requests for now: try again in a moment.', message, action: { kind: 'retry' } };
    }
    case 'BudgetExceededError':
      return error.source === 'SERVICE'
        ? {
            title: 'Budget exhausted',
            advice:
              "This client's daily budget on this service is used up; it renews at midnight UTC. Retrying will not help: contact the operator of this service for more.",
            message,
            action: { kind: 'none' },
          }
        : {
            title: 'Budget exhausted',
            advice:
              "The spending budget of this service's upstream key is used up. Retrying will not help: contact the operator of this service.",
            message,
            action: { kind: 'none' },
          };
    case 'ContentBlockedError':
      return {
        title: 'Blocked by a content policy',
        advice: `${error.guardrail ? `The guardrail “${error.guardrail}”` : 'A guardrail or content filter'} refused this request before the model answered. Sending the same words again will not help: rephrase it.`,
        message,
        action: { kind: 'none' },
      };
    case 'AuthenticationError':
      // SERVICE: this service's own client authentication (AUTH_MODE). UPSTREAM: the upstream
      // refused the key it was sent, which is the person's own in forward mode.
      if (error.source === 'SERVICE' || credential.forwarded) return credentialFailure(credential, message);
      return {
        title: 'Authentication failed',
        advice: "The upstream refused this service's credentials. The operator of this service needs to check its API key.",
        message,
        action: { kind: 'none' },
      };
    case 'PermissionDeniedError':
      return {
        title: 'Model not allowed',
        advice: "This service's key may not use this model: pick another one.",
        message,
        action: { kind: 'none' },
      };
    case 'NotFoundError':
      return {
        title: 'Model not found',
        advice: 'The upstream does not serve this model: pick another one.',
        message,
        action: { kind: 'none' },
      };
    case 'InvalidRequestError':
      return {
        title: 'Invalid request',
        advice: 'The request was refused as it is: change it and send again.',
        message: error.param ? `${message} (parameter: ${error.param})` : message,
        action: { kind: 'none' },
      };
    case 'UpstreamTimeoutError':
      return {
        title: 'The upstream is slow',
        advice: 'The model did not answer in time. Retry in a moment.',
        message,
        action: { kind: 'retry' },
      };
    case 'UpstreamUnavailableError':
      // A model whose circuit breaker is open: answered at once until its next probe.
      if (error.retryAfterSeconds != null && error.retryAfterSeconds > 0) {
        return {
          title: 'The model is cooling down',
          advice: 'It kept failing upstream, so ChatQL is giving it a rest before it tries it again.',
          message,
          action: { kind: 'wait', seconds: Math.ceil(error.retryAfterSeconds) },
        };
      }
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

/**
 * A failure of the `models` query: like any other, except that a NotFoundError there is no missing
 * model but an upstream that could not list its models at all (GET /models answered 404: usually
 * an OPENAI_BASE_URL without /v1).
 */
export function describeModelsFailure(error: ChatError, credential: CredentialState = NO_CREDENTIAL): Failure {
  if (error.__typename !== 'NotFoundError') return describeFailure(error, credential);
  return {
    title: 'Models unavailable',
    advice: 'The upstream could not list its models (it answered 404). If you run this service, check that OPENAI_BASE_URL ends with /v1.',
    message: error.message,
    action: { kind: 'retry' },
  };
}

/** A failure outside the result union: the request never reached the API, or GraphQL rejected it. */
export function describeTransportFailure(error: unknown, credential: CredentialState = NO_CREDENTIAL): Failure {
  // graphql-ws closed the connection with 4403: no, bad or expired credential.
  if (error instanceof CredentialRefusedError) return credentialFailure(credential, error.message);
  if (CombinedGraphQLErrors.is(error) && error.errors.length > 0) {
    return { title: 'Request rejected', advice: error.errors.map((e) => e.message).join(' '), action: { kind: 'none' } };
  }
  return {
    title: 'Connection lost',
    advice: 'The ChatQL service could not be reached. Check your connection, then retry.',
    action: { kind: 'retry' },
  };
}
