// The Responses API's errors. Before the first byte: an HTTP status with OpenAI's envelope
// `{"error":{"message","type","param","code"}}` (the Responses API uses the same one). After it:
// the error in `response.failed` (`response.error: {code, message}`) and an `error` event, built by
// the stream translator from `streamError` below.
import { Type } from 'typebox';
import type { ErrorKind, GatewayError } from '../server/errors.ts';
import type { ErrorRenderer } from '../server/surface.ts';

const ERROR_TYPE: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  authentication: 'invalid_request_error',
  permission: 'permission_error',
  not_found: 'invalid_request_error',
  too_large: 'invalid_request_error',
  rate_limit_requests: 'requests',
  rate_limit_tokens: 'tokens',
  quota: 'insufficient_quota',
  overloaded: 'server_error',
  unavailable: 'server_error',
  timeout: 'server_error',
  upstream: 'server_error',
  internal: 'server_error',
};

export const ResponsesErrorSchema = Type.Object(
  {
    error: Type.Object({
      message: Type.String(),
      type: Type.String({ description: 'invalid_request_error, server_error, requests, tokens, …' }),
      param: Type.Union([Type.String(), Type.Null()], { description: 'the request field at fault' }),
      code: Type.Union([Type.String(), Type.Null()], {
        description: 'model_not_found, response_not_found, rate_limit_exceeded, upstream_timeout, …',
      }),
    }),
  },
  { title: 'ResponsesError', description: 'An error, in the OpenAI error envelope.' },
);

export const responsesErrors: ErrorRenderer = {
  errorBody: (error) => ({
    error: { message: error.message, type: ERROR_TYPE[error.kind], param: error.param, code: error.code },
  }),
  schema: ResponsesErrorSchema,
};

/**
 * The `{code, message}` of `response.failed`. Codex keys on the code: `context_length_exceeded`
 * stops the turn, `rate_limit_exceeded` waits for the "try again in N s" of the message,
 * `insufficient_quota` stops; anything else (`server_error`) is retried.
 */
export function streamError(error: GatewayError): { code: string; message: string; param: string | null } {
  const code =
    error.code === 'context_length_exceeded' || error.code === 'insufficient_quota'
      ? error.code
      : error.status === 429
        ? 'rate_limit_exceeded'
        : 'server_error';
  const retryAfter = error.headers['retry-after'];
  const message =
    code === 'rate_limit_exceeded' && retryAfter !== undefined
      ? `${error.message} Please try again in ${retryAfter}s.`
      : error.message;
  return { code, message, param: error.param };
}
