// watsonx `/ml/` error bodies (docs/watsonx-api.md §9) and the errors the simulator can be asked for.
import { randomBytes } from 'node:crypto';

export const MORE_INFO_BASE = 'https://cloud.ibm.com/apidocs/watsonx-ai';
export const MORE_INFO_TEXT_CHAT = `${MORE_INFO_BASE}#text-chat`;
export const MORE_INFO_TEXT_GENERATION = `${MORE_INFO_BASE}#text-generation`;
export const MORE_INFO_TEXT_EMBEDDINGS = `${MORE_INFO_BASE}#text-embeddings`;

/** An error answer before any byte of a response was sent. */
export interface SimulatedError {
  status: number;
  code: string;
  message: string;
  headers?: Record<string, string>;
}

export function newTrace(): string {
  return randomBytes(16).toString('hex');
}

export function watsonxErrorBody(error: SimulatedError, moreInfo: string) {
  return {
    errors: [{ code: error.code, message: error.message, more_info: moreInfo }],
    trace: newTrace(),
    status_code: error.status,
  };
}

const INSTANCE_ID = '857f0e97-5fe1-43c4-94db-962104f71b70';
const RATE_LIMIT = 8;

/** The error answered for `[[sim:error=STATUS]]`: the code watsonx uses for that status where known. */
export function errorForStatus(status: number): SimulatedError {
  switch (status) {
    case 400:
      return { status, code: 'invalid_input_argument', message: 'Simulated invalid input argument' };
    case 401:
      return {
        status,
        code: 'authentication_token_not_valid',
        message: 'Failed to authenticate the request due to invalid token',
      };
    case 403:
      return {
        status,
        code: 'no_associated_service_instance_error',
        message: `project_id ${INSTANCE_ID} is not associated with a WML instance`,
      };
    case 404:
      return { status, code: 'model_not_supported', message: "Model 'simulated/model' is not supported" };
    case 429:
      return {
        status,
        code: 'rate_limit_reached_requests',
        message: `Rate limit of ${RATE_LIMIT} requests per 1s was reached for instance id ${INSTANCE_ID} (user IBMid-6910011FLG, plan 3f6acf43-ede8-413a-ac69-f8af3bb0cbfe)`,
        headers: {
          'x-requests-limit-rate': String(RATE_LIMIT),
          'x-requests-limit-remaining': '0',
          'Retry-After': '1',
        },
      };
    case 500:
      return { status, code: 'internal_server_error', message: 'Simulated internal server error' };
    case 503:
      return { status, code: 'service_unavailable', message: 'Simulated service unavailable' };
    default:
      return { status, code: 'simulated_error', message: `Simulated HTTP ${status} error` };
  }
}
