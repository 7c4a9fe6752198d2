// One HTTP exchange of a credential for a token, shared by the token modes (IBM Cloud IAM, Cloud Pak
// for Data /authorize, watsonx on AWS): the POST through the upstream dispatcher, a bounded read,
// and the failure classified as `rejected` (the server refused the credential) or `unreachable`
// (network, TLS, timeout, 5xx, an answer without a token), in words that never hold the secret.
import type { Dispatcher } from 'undici';
import { MAX_IAM_ANSWER_BYTES, readBounded } from './bounded-body.ts';
import {
  describeNetworkError,
  IamError,
  redactCredentials,
  type TokenMode,
  UpstreamError,
} from './errors.ts';
import { parseJsonObject } from './json.ts';
import type { IamTokenResponse } from './types.ts';

export const DEFAULT_TOKEN_TIMEOUT_MS = 30_000;
const MAX_DETAIL_LENGTH = 200;

export interface TokenEndpointOptions {
  /** The full URL the credential is posted to. */
  url: string;
  /** The undici dispatcher of the watsonx calls (pool, proxies, TLS). */
  dispatcher: Dispatcher;
  timeoutMs?: number;
  mode: TokenMode;
  /** How messages name the server: `IBM Cloud IAM`, `Cloud Pak for Data`… */
  service: string;
  /** Whose credential this is: a `client` refusal becomes that client's 401. */
  owner?: 'server' | 'client';
  /** For the operator's message: which settings to check (names, never values). */
  hint?: string;
}

export interface TokenRequest {
  contentType: string;
  body: string;
  /** What the secret is, for `… rejected <what>`: `the API key`, `the username and password`. */
  what: string;
  /** Every form the secret may take in an echo (as sent, URL-encoded…): redacted from messages. */
  secrets: readonly string[];
  /** The token in a 2xx answer (IAM: `access_token`; CP4D: `token` or `accessToken`; AWS: `token`). */
  readToken(body: Record<string, unknown>): IamTokenResponse | undefined;
}

/** Posts the credential; resolves with the token answer or throws an IamError of the endpoint's mode. */
export async function requestToken(
  endpoint: TokenEndpointOptions,
  request: TokenRequest,
): Promise<IamTokenResponse> {
  const url = new URL(endpoint.url);
  const timeoutMs = endpoint.timeoutMs ?? DEFAULT_TOKEN_TIMEOUT_MS;
  const base = { mode: endpoint.mode, owner: endpoint.owner ?? 'server', hint: endpoint.hint } as const;
  const redact = (text: string) => redactCredentials(text, request.secrets);
  const signal = AbortSignal.timeout(timeoutMs);
  let status: number;
  let bodyText: string;
  try {
    const response = await endpoint.dispatcher.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      headers: { 'content-type': request.contentType, accept: 'application/json' },
      body: request.body,
      signal,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    status = response.statusCode;
    // Read the whole body on every path so the connection goes back to the pool.
    bodyText = await readBounded(response.body, MAX_IAM_ANSWER_BYTES, 'its answer');
  } catch (error) {
    const reason = signal.aborted
      ? `no answer within ${timeoutMs} ms`
      : error instanceof UpstreamError
        ? error.message
        : describeNetworkError(error);
    throw new IamError('unreachable', `${endpoint.service} is unreachable: ${redact(reason)}`, {
      ...base,
      cause: error,
      publicMessage: signal.aborted
        ? `${endpoint.service} did not answer within ${timeoutMs} ms`
        : publicReason(endpoint.service, error, reason, url.hostname, redact),
    });
  }

  const body = parseJsonObject(bodyText);
  if (status >= 200 && status < 300) {
    const token = body ? request.readToken(body) : undefined;
    if (token) return token;
    throw new IamError('unreachable', `${endpoint.service} answered HTTP ${status} without an access token`, {
      ...base,
      status,
    });
  }

  const { code, message } = errorDetail(body);
  const detail = [code, message && redact(message).slice(0, MAX_DETAIL_LENGTH)]
    .filter((part) => part !== undefined && part !== '')
    .join(': ');
  // IAM answers an unknown or malformed key with 400 (not 401), so all three mean "refused".
  if (status === 400 || status === 401 || status === 403) {
    throw new IamError(
      'rejected',
      `${endpoint.service} rejected ${request.what} (${detail || `HTTP ${status}`})`,
      {
        ...base,
        status,
        iamCode: code,
      },
    );
  }
  throw new IamError(
    'unreachable',
    `${endpoint.service} answered HTTP ${status}${detail ? ` (${detail})` : ''}`,
    { ...base, status, iamCode: code },
  );
}

/**
 * The code and message of a token server's error body: IAM's `errorCode`/`errorMessage`, CP4D's
 * `_messageCode_`/`message`, or a platform `errors[0]` entry.
 */
function errorDetail(body: Record<string, unknown> | undefined): { code?: string; message?: string } {
  if (!body) return {};
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const first = Array.isArray(body.errors)
    ? (body.errors[0] as Record<string, unknown> | undefined)
    : undefined;
  return {
    code: text(body.errorCode) ?? text(first?.code) ?? text(body.code) ?? text(body._messageCode_),
    message: text(body.errorMessage) ?? text(first?.message) ?? text(body.message) ?? text(body.error),
  };
}

/**
 * What a client may hear of a failure to reach the token server: a TLS or proxy problem by name
 * ("self-signed certificate in certificate chain", "Proxy response (407)"), but never a socket error
 * code (ECONNREFUSED, ENOTFOUND…), an address or a port: those tell an outsider about the network.
 */
function publicReason(
  service: string,
  error: unknown,
  reason: string,
  hostname: string,
  redact: (text: string) => string,
): string {
  const generic = `${service} is unreachable (the cause is in the gateway log)`;
  const code = String((error as { code?: unknown } | undefined)?.code ?? '');
  if (error instanceof UpstreamError) return `${service} is unreachable: ${reason}`;
  if (/^E[A-Z0-9_]+$/.test(code) || /\bE[A-Z]{4,}\b/.test(reason)) return generic;
  if (reason.includes(hostname) || ADDRESS_OR_PORT.test(reason)) return generic;
  return `${service} is unreachable: ${redact(reason)}`;
}

/** An IPv4 address, a bracketed or bare IPv6 address, or a `:port`. */
const ADDRESS_OR_PORT = /\b\d{1,3}(\.\d{1,3}){3}\b|\[?[0-9a-f]*:[0-9a-f]*:[0-9a-f:]*\]?|:\d{2,5}\b/i;

/** The forms a secret may take in an echo: as sent, URL-encoded, form-encoded. */
export function secretForms(secret: string): string[] {
  if (secret === '') return [];
  return [secret, encodeURIComponent(secret), new URLSearchParams({ k: secret }).toString().slice(2)];
}

/**
 * A token answer from a bare JWT (CP4D, AWS): its lifetime from the `exp` and `iat` claims, read
 * without verification (the token is the server's business). A token that is not a JWT gets no
 * lifetime: the token manager then assumes an hour and the 401 retry covers an earlier end.
 */
export function jwtTokenResponse(token: string): IamTokenResponse {
  const payload = token.split('.')[1];
  let claims: Record<string, unknown> | undefined;
  try {
    if (payload !== undefined) claims = parseJsonObject(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    claims = undefined;
  }
  const exp = typeof claims?.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp : undefined;
  const iat = typeof claims?.iat === 'number' && Number.isFinite(claims.iat) ? claims.iat : undefined;
  return {
    access_token: token,
    ...(exp !== undefined && { expiration: exp }),
    ...(exp !== undefined && iat !== undefined && exp > iat && { expires_in: exp - iat }),
  };
}
