// The OpenAI error envelope: `{"error":{"message","type","param","code"}}`, with OpenAI's `type`
// for each kind of the gateway's one error policy (src/server/errors.ts).
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

export const openAIErrors: ErrorRenderer = { errorBody: (error) => toOpenAIError(error) };
