/**
 * Error bodies the mock sends, in OpenAI's envelope. Messages
 * copy OpenAI's wording where it is known, so that clients are tested against
 * text they will meet in production.
 */

/** An HTTP error response: status, extra headers and JSON body. */
export interface MockHttpError {
  readonly status: number;
  /** Extra headers, such as `retry-after`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The JSON body, usually OpenAI's `{"error": {...}}` envelope. */
  readonly body: object;
}

/** The error object inside the envelope. */
export interface ErrorObject {
  message: string;
  type: string | null;
  param: string | null;
  code: string | number | null;
}

/** OpenAI's envelope; all four keys are always present (the spec marks them required). */
export function errorEnvelope(
  message: string,
  type: string | null,
  param: string | null,
  code: string | number | null,
): { error: ErrorObject } {
  return { error: { message, type, param, code } };
}

/** A 400 `invalid_request_error`, the status OpenAI uses for every malformed request. */
export function invalidRequest(message: string, param: string | null, code: string | null = null): MockHttpError {
  return { status: 400, body: errorEnvelope(message, 'invalid_request_error', param, code) };
}

/** OpenAI's answer for an unknown model (404). */
export function modelNotFound(model: string): MockHttpError {
  return {
    status: 404,
    body: errorEnvelope(
      `The model \`${model}\` does not exist or you do not have access to it.`,
      'invalid_request_error',
      null,
      'model_not_found',
    ),
  };
}

/** OpenAI's 401, minus the echo of the key it received: a mock must never print secrets. */
export const INVALID_API_KEY: MockHttpError = {
  status: 401,
  body: errorEnvelope(
    'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
    'invalid_request_error',
    null,
    'invalid_api_key',
  ),
};

/** OpenAI's answer for a path or method it does not serve. */
export function routeNotFound(method: string, path: string): MockHttpError {
  return {
    status: 404,
    body: errorEnvelope(`Invalid URL (${method} ${path})`, 'invalid_request_error', null, null),
  };
}

/** OpenAI's wording for a body that is not JSON. */
export const INVALID_JSON: MockHttpError = invalidRequest(
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
  null,
);

/** Bodies beyond this are refused; the mock keeps whole bodies in memory for `requests`. */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

export const BODY_TOO_LARGE: MockHttpError = {
  status: 413,
  body: errorEnvelope(`The request body is larger than ${MAX_BODY_BYTES} bytes.`, 'invalid_request_error', null, 'request_too_large'),
};

/** A bug in the mock itself: reported in the envelope rather than crashing the server. */
export function mockFailure(error: unknown): MockHttpError {
  const detail = error instanceof Error ? error.message : String(error);
  return {
    status: 500,
    body: errorEnvelope(`The mock upstream failed: ${detail}`, 'server_error', null, null),
  };
}
