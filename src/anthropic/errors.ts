// Anthropic's error envelope: `{"type":"error","error":{"type","message"},"request_id"}`, with the
// error type the Anthropic SDKs map to their error classes, for each kind of the gateway's one error
// policy (src/server/errors.ts).
import { Type } from 'typebox';
import type { ErrorKind, GatewayError } from '../server/errors.ts';
import type { ErrorRenderer } from '../server/surface.ts';

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string; details?: { error_code: string } };
  request_id: string | null;
}

const ANTHROPIC_TYPE: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  permission: 'permission_error',
  not_found: 'not_found_error',
  too_large: 'request_too_large',
  rate_limit_requests: 'rate_limit_error',
  rate_limit_tokens: 'rate_limit_error',
  quota: 'rate_limit_error',
  overloaded: 'overloaded_error',
  // watsonx or IAM unavailable (503): the SDKs retry it as they retry Anthropic's 529 overloaded.
  unavailable: 'overloaded_error',
  timeout: 'timeout_error',
  upstream: 'api_error',
  internal: 'api_error',
};

export function anthropicErrorType(error: GatewayError): string {
  return ANTHROPIC_TYPE[error.kind];
}

export function toAnthropicError(error: GatewayError, requestId: string | null): AnthropicErrorBody {
  return {
    type: 'error',
    error: {
      type: anthropicErrorType(error),
      message: error.message,
      // The gateway's stable code (model_not_found, upstream_timeout, …): the SDK's `errorCode`.
      ...(error.code !== null && { details: { error_code: error.code } }),
    },
    request_id: requestId === '' ? null : requestId,
  };
}

export const AnthropicErrorSchema = Type.Object(
  {
    type: Type.Literal('error'),
    error: Type.Object({
      type: Type.String({
        description:
          'invalid_request_error, authentication_error, not_found_error, rate_limit_error, overloaded_error, api_error, …',
      }),
      message: Type.String(),
      details: Type.Optional(
        Type.Object({
          error_code: Type.String({ description: 'model_not_found, upstream_timeout, invalid_api_key, …' }),
        }),
      ),
    }),
    request_id: Type.Union([Type.String(), Type.Null()]),
  },
  { title: 'AnthropicError', description: 'An error, in the Anthropic error envelope.' },
);

export const anthropicErrors: ErrorRenderer = {
  errorBody: (error, requestId) => toAnthropicError(error, requestId),
  schema: AnthropicErrorSchema,
  // Anthropic answers "overloaded" with 529, which its SDKs and Claude Code retry with backoff.
  status: (error) => (error.kind === 'overloaded' ? 529 : error.status),
};
