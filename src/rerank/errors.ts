// The rerank error body: the OpenAI envelope `{"error":{"message","type","param","code"}}` that
// LiteLLM's and vLLM's rerank servers answer (docs/rerank-and-more.md §3), plus a top-level `message`,
// the one field of Cohere's error body `{"message": …}`, so Cohere-style clients show the reason too.
import { Type } from 'typebox';
import type { ErrorKind, GatewayError } from '../server/errors.ts';
import type { ErrorRenderer } from '../server/surface.ts';

export interface RerankErrorBody {
  message: string;
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** OpenAI's `type` for each kind of the one error policy (the README's error table). */
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

export function toRerankError(error: GatewayError): RerankErrorBody {
  return {
    message: error.message,
    error: { message: error.message, type: ERROR_TYPE[error.kind], param: error.param, code: error.code },
  };
}

export const RerankErrorSchema = Type.Object(
  {
    message: Type.String({ description: 'the same text as error.message (Cohere-style clients read it)' }),
    error: Type.Object({
      message: Type.String(),
      type: Type.String({ description: 'invalid_request_error, server_error, requests, …' }),
      param: Type.Union([Type.String(), Type.Null()], { description: 'the request field at fault' }),
      code: Type.Union([Type.String(), Type.Null()], {
        description: 'too_many_documents, model_not_supported, model_not_found, upstream_timeout, …',
      }),
    }),
  },
  {
    title: 'RerankError',
    description:
      'An error: the OpenAI envelope plus a top-level message (the README lists the statuses and codes).',
  },
);

export const rerankErrors: ErrorRenderer = {
  errorBody: (error) => toRerankError(error),
  schema: RerankErrorSchema,
};
