// The gateway's one error policy. Every failure, wherever it starts, becomes a GatewayError: an HTTP
// status, a protocol-neutral kind and code, a message, the request field at fault and extra headers.
// `toGatewayError` is the only place that decides which status and code a failure gets (the
// README's "Errors" section documents the table); each API surface renders the error in its own
// protocol (src/openai/errors.ts: `{"error":{"message","type","param","code"}}`).
import type { FastifyBaseLogger } from 'fastify';
import { IamError, UpstreamError, WatsonxApiError } from '../watsonx/errors.ts';
import { retryAfterMs } from '../watsonx/retry-after.ts';

/** What kind of failure it is, whatever the protocol: each surface maps it to its own error type. */
export type ErrorKind =
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'too_large'
  | 'rate_limit_requests'
  | 'rate_limit_tokens'
  | 'quota'
  | 'overloaded'
  | 'unavailable'
  | 'timeout'
  | 'upstream'
  | 'internal';

export class GatewayError extends Error {
  readonly status: number;
  readonly kind: ErrorKind;
  /** A stable machine-readable code (`model_not_found`, `upstream_timeout`, …), or null. */
  readonly code: string | null;
  /** The request field at fault (`messages[0].content`), or null. */
  readonly param: string | null;
  /** Extra response headers (Retry-After, x-should-retry, Connection). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    message: string,
    options: {
      kind?: ErrorKind;
      code?: string | null;
      param?: string | null;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.name = 'GatewayError';
    this.status = status;
    this.kind = options.kind ?? defaultKind(status);
    this.code = options.code ?? null;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
  }
}

function defaultKind(status: number): ErrorKind {
  switch (status) {
    case 401:
      return 'authentication';
    case 403:
      return 'permission';
    case 404:
      return 'not_found';
    case 413:
      return 'too_large';
    case 429:
      return 'rate_limit_requests';
    case 503:
      return 'unavailable';
    case 504:
      return 'timeout';
  }
  if (status >= 400 && status < 500) return 'invalid_request';
  return status === 500 ? 'internal' : 'upstream';
}

/** Shorthand for a 400 about one request field. */
export function invalidRequest(
  message: string,
  param: string | null,
  code: string | null = null,
): GatewayError {
  return new GatewayError(400, message, { param, code });
}

/** The request bodies the gateway refuses before looking at them (Fastify's parser). */
export const bodyErrors = {
  invalidJson: (detail: string) =>
    invalidRequest(`We could not parse the JSON body of your request: ${detail}`, null, 'invalid_json'),
  tooLarge: () =>
    new GatewayError(413, 'The request body is larger than the gateway accepts (BODY_LIMIT_MB).', {
      code: 'request_too_large',
    }),
  unsupportedMediaType: () =>
    new GatewayError(415, 'Send the request body as application/json.', {
      code: 'unsupported_media_type',
    }),
  lengthMismatch: () =>
    invalidRequest('The Content-Length header does not match the body.', null, 'invalid_body'),
};

/** A body that failed its route's schema (ajv's errors, as Fastify reports them too). */
export function invalidBody(errors: FastifyLikeError['validation']): GatewayError {
  return fromFastify({ validation: errors ?? [], validationContext: 'body' }) as GatewayError;
}

/**
 * How a failed request is logged: nothing alarming when the client had already gone (what failed
 * afterwards, an aborted upstream call, is nobody's error), errors for 5xx, info for refusals.
 */
export function logFailure(
  log: FastifyBaseLogger,
  error: unknown,
  proxyError: GatewayError,
  clientGone: boolean,
): void {
  if (clientGone) log.info({ err: { message: (error as Error).message } }, 'client closed the connection');
  else if (proxyError.status >= 500) log.error({ err: error }, proxyError.message);
  else log.info({ err: { message: proxyError.message, code: proxyError.code } }, 'request refused');
}

const NO_RETRY = { 'x-should-retry': 'false' };
const CONTEXT_OVERFLOW =
  /maximum context length|context length|max_sequence_length|too many (input )?tokens/i;

/** Maps any error thrown while serving a request to the reply the client gets. */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof WatsonxApiError) return fromWatsonx(error);
  if (error instanceof IamError) return fromTokenServer(error);
  if (error instanceof UpstreamError) {
    if (error.kind === 'protocol') {
      return upstreamInvalidResponse(
        `watsonx.ai sent a response the gateway could not read: ${error.message}`,
      );
    }
    if (error.kind === 'timeout') {
      return new GatewayError(504, `watsonx.ai did not answer in time: ${error.message}`, {
        code: 'upstream_timeout',
      });
    }
    return new GatewayError(502, `watsonx.ai could not be reached: ${error.message}`, {
      code: 'upstream_unreachable',
    });
  }
  const fastifyError = fromFastify(error);
  if (fastifyError) return fastifyError;
  return new GatewayError(
    500,
    'The gateway failed unexpectedly; the error was logged with this request id.',
    {
      code: 'internal_error',
    },
  );
}

/** How each token mode is named to clients and operators. */
const TOKEN_SERVICES: Record<IamError['mode'], string> = {
  iam: 'IBM Cloud IAM',
  cp4d: 'Cloud Pak for Data authentication',
  aws: 'IBM SaaS IAM (watsonx on AWS)',
};

/**
 * A token server failed: a refused client key is that client's 401; a refused gateway credential is
 * the operator's 502 (the mode and what to check named, no value); no answer is a 503 with the
 * cause (a certificate, a timeout), never the server's host or address.
 */
function fromTokenServer(error: IamError): GatewayError {
  if (error.kind === 'rejected' && error.owner === 'client') {
    return new GatewayError(
      401,
      `${error.message}. Send your own ${error.mode === 'aws' ? 'IBM SaaS' : 'IBM Cloud'} API key as ` +
        '"Authorization: Bearer <key>" (or an "x-api-key" header).',
      { code: 'invalid_api_key', headers: NO_RETRY },
    );
  }
  if (error.kind === 'rejected') {
    return new GatewayError(
      502,
      `The gateway could not authenticate to watsonx.ai (auth mode ${error.mode}): ${error.message}. ` +
        `The operator must ${error.hint ?? 'check IBM_CLOUD_API_KEY'}.`,
      { code: 'upstream_auth_failed', headers: NO_RETRY },
    );
  }
  return new GatewayError(
    503,
    `${TOKEN_SERVICES[error.mode]} is unavailable, try again later: ${error.publicMessage}`,
    { code: 'iam_unavailable' },
  );
}

function fromWatsonx(error: WatsonxApiError): GatewayError {
  const upstreamMessage = `watsonx.ai: ${error.message}`;
  const status = error.status;
  if ((status === 401 || status === 403) && error.credentialOwner === 'client') {
    // The client's own IBM credential (UPSTREAM_CREDENTIALS=client, WATSONX_AUTH_TYPE=none).
    return new GatewayError(
      status,
      `watsonx.ai refused the IBM credential you sent (HTTP ${status}${error.code ? ` ${error.code}` : ''}: ` +
        `${error.message})` +
        (status === 403 ? '; it has no access to this project, space or deployment.' : '.'),
      { code: status === 401 ? 'invalid_api_key' : 'permission_denied', headers: NO_RETRY },
    );
  }
  if (status === 401 || status === 403) {
    // The client never sees IBM credentials: a 401/403 from watsonx is the operator's problem.
    return new GatewayError(
      502,
      `watsonx.ai refused the gateway's credentials (HTTP ${status}${error.code ? ` ${error.code}` : ''}: ` +
        `${error.message}). The operator must check the gateway's IBM credential (WATSONX_AUTH_TYPE and ` +
        'its settings) and its access to the project or space (WATSONX_PROJECT_ID / WATSONX_SPACE_ID, or ' +
        "the request's X-Watsonx-Project-Id); a ZenApiKey on Cloud Pak for Data 4.x: use WATSONX_AUTH_TYPE=cp4d.",
      { code: 'upstream_auth_failed', headers: NO_RETRY },
    );
  }
  if (status === 404 && (error.code === 'model_not_supported' || /model/i.test(error.message))) {
    return new GatewayError(404, upstreamMessage, {
      code: 'model_not_found',
      param: 'model',
    });
  }
  if (status === 429) {
    const headers: Record<string, string> = {};
    const quota = error.code === 'token_quota_reached';
    // watsonx documents no Retry-After; its rate limits are per second, so without one clients are
    // told to wait 1 s rather than nothing. A spent token quota does not come back in a second.
    const seconds = retryAfterSeconds(error.retryAfter) ?? (quota ? undefined : 1);
    if (seconds !== undefined) {
      headers['retry-after'] = String(Math.ceil(seconds));
      headers['retry-after-ms'] = String(Math.round(seconds * 1000));
    }
    return new GatewayError(429, upstreamMessage, {
      kind: quota ? 'quota' : 'rate_limit_requests',
      code: quota ? 'insufficient_quota' : 'rate_limit_exceeded',
      headers,
    });
  }
  if (status >= 400 && status < 500) {
    if (CONTEXT_OVERFLOW.test(error.message)) {
      return new GatewayError(400, `This model's maximum context length was exceeded. ${upstreamMessage}`, {
        code: 'context_length_exceeded',
        param: 'messages',
      });
    }
    // 422 and other 4xx become 400: clients treat 400 as "fix the request, do not retry".
    const outStatus = status === 404 || status === 413 ? status : 400;
    return new GatewayError(outStatus, upstreamMessage, {
      code: error.code ?? null,
      param: error.errors[0]?.target?.name ?? null,
    });
  }
  // 5xx: keep the standard gateway statuses, fold the rest (500, 520, ...) into 502.
  const outStatus = status === 503 || status === 504 ? status : 502;
  const headers: Record<string, string> = {};
  const seconds = retryAfterSeconds(error.retryAfter);
  if (seconds !== undefined) headers['retry-after'] = String(Math.ceil(seconds));
  return new GatewayError(outStatus, `${upstreamMessage} (upstream HTTP ${status})`, {
    code: 'upstream_error',
    headers,
  });
}

function retryAfterSeconds(value: string | undefined): number | undefined {
  const ms = retryAfterMs(value);
  return ms === undefined ? undefined : ms / 1000;
}

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message?: string;
  validation?: Array<{
    keyword?: string;
    instancePath?: string;
    message?: string;
    params?: Record<string, unknown>;
  }>;
  validationContext?: string;
}

function fromFastify(error: unknown): GatewayError | undefined {
  if (!error || typeof error !== 'object') return undefined;
  const candidate = error as FastifyLikeError;
  if (Array.isArray(candidate.validation)) {
    // A list past its cap is named as such even where the field is a union (`stop`: a string or a
    // list), whose first error would otherwise be "must be string".
    const first =
      candidate.validation.find((entry) => entry.keyword === 'maxItems') ?? candidate.validation[0];
    const param = toParam(first?.instancePath ?? '', first?.params);
    const where = param ?? candidate.validationContext ?? 'body';
    const allowed = first?.params?.allowedValues;
    const detail = Array.isArray(allowed)
      ? `: ${allowed.map((value) => JSON.stringify(value)).join(', ')}`
      : '';
    return invalidRequest(
      `Invalid request: '${where}' ${first?.message ?? 'is invalid'}${detail}`,
      param,
      'invalid_value',
    );
  }
  switch (candidate.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return bodyErrors.invalidJson(candidate.message ?? 'invalid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return bodyErrors.tooLarge();
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return bodyErrors.unsupportedMediaType();
    case 'FST_ERR_BAD_URL':
      return invalidRequest(
        'The request URL is not valid: it has a malformed %-escape.',
        null,
        'invalid_url',
      );
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return bodyErrors.lengthMismatch();
  }
  if (typeof candidate.statusCode === 'number' && candidate.statusCode >= 400 && candidate.statusCode < 500) {
    return new GatewayError(candidate.statusCode, candidate.message ?? 'Bad request', {
      code: candidate.code ?? null,
    });
  }
  return undefined;
}

/** `/messages/0/content` → `messages[0].content`; adds the missing property name for `required` errors. */
function toParam(instancePath: string, params: Record<string, unknown> | undefined): string | null {
  const parts = instancePath.split('/').filter((part) => part.length > 0);
  if (params && typeof params.missingProperty === 'string') parts.push(params.missingProperty);
  if (parts.length === 0) return null;
  return parts.reduce(
    (path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part),
    '',
  );
}

/** A model the catalogue does not know (404 model_not_found, param `model`). */
export function modelNotFound(message: string): GatewayError {
  return new GatewayError(404, message, { code: 'model_not_found', param: 'model' });
}

/** watsonx answered, but with something the gateway cannot use (502 upstream_invalid_response). */
export function upstreamInvalidResponse(message: string): GatewayError {
  return new GatewayError(502, message, { code: 'upstream_invalid_response' });
}
