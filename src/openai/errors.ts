// The OpenAI error envelope: `{"error":{"message","type","param","code"}}`, with OpenAI's `type`
// for each kind of the gateway's one error policy (src/server/errors.ts).
import { Type } from 'typebox';
import type { ErrorKind, GatewayError } from '../server/errors.ts';
import type { ErrorRenderer } from '../server/surface.ts';

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const OPENAI_TYPE: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  // OpenAI answers a bad key with invalid_request_error (code invalid_api_key).
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

export function toOpenAIError(error: GatewayError): OpenAIErrorBody {
  return {
    error: { message: error.message, type: OPENAI_TYPE[error.kind], param: error.param, code: error.code },
  };
}

/** The error body in the OpenAPI document: every 4xx/5xx answer of the routes that render OpenAI errors. */
export const OpenAIErrorSchema = Type.Object(
  {
    error: Type.Object({
      message: Type.String(),
      type: Type.String({ description: 'invalid_request_error, server_error, requests, tokens, …' }),
      param: Type.Union([Type.String(), Type.Null()], { description: 'the request field at fault' }),
      code: Type.Union([Type.String(), Type.Null()], {
        description: 'model_not_found, invalid_api_key, rate_limit_exceeded, upstream_timeout, …',
      }),
    }),
  },
  {
    title: 'ErrorResponse',
    description: 'An error, in the OpenAI error envelope (the README lists the statuses and codes).',
  },
);

export const openAIErrors: ErrorRenderer = {
  errorBody: (error) => toOpenAIError(error),
  schema: OpenAIErrorSchema,
};
