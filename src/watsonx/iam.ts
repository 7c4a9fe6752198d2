import type { Dispatcher } from 'undici';
import { MAX_IAM_ANSWER_BYTES, readBounded } from './bounded-body.ts';
import { describeNetworkError, IamError, redactCredentials, UpstreamError } from './errors.ts';
import type { IamTokenResponse } from './types.ts';
import { parseJsonObject } from './json.ts';

/** Exchanges an IBM Cloud API key for an IAM access token (one HTTP call, no caching). */
export type FetchIamToken = (apiKey: string) => Promise<IamTokenResponse>;

const GRANT_TYPE = 'urn:ibm:params:oauth:grant-type:apikey';
const TOKEN_PATH = '/identity/token';
const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_DETAIL_LENGTH = 200;

/**
 * `<base>/identity/token`. Like the IBM SDK core, a base that already ends in `/identity/token` is
 * accepted as is, so `WATSONX_IAM_URL` may hold either form.
 */
export function iamTokenUrl(iamBaseUrl: string): string {
  let base = iamBaseUrl.trim().replace(/\/+$/, '');
  if (base.endsWith(TOKEN_PATH)) base = base.slice(0, -TOKEN_PATH.length).replace(/\/+$/, '');
  return `${base}${TOKEN_PATH}`;
}

export function createIamTokenFetcher(options: {
  iamUrl: string;
  /** The undici dispatcher of the watsonx calls (pool, proxies, TLS). */
  dispatcher: Dispatcher;
  timeoutMs?: number;
}): FetchIamToken {
  const url = new URL(iamTokenUrl(options.iamUrl));
  const origin = url.origin;
  const path = `${url.pathname}${url.search}`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const dispatcher = options.dispatcher;

  return async function fetchIamToken(apiKey: string): Promise<IamTokenResponse> {
    const signal = AbortSignal.timeout(timeoutMs);
    let status: number;
    let bodyText: string;
    try {
      const response = await dispatcher.request({
        origin,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: GRANT_TYPE, apikey: apiKey }).toString(),
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
      throw new IamError('unreachable', `IBM Cloud IAM is unreachable: ${redact(reason, apiKey)}`, {
        cause: error,
        publicMessage: signal.aborted
          ? `IBM Cloud IAM did not answer within ${timeoutMs} ms`
          : publicReason(error, reason, url.hostname, apiKey),
      });
    }

    const body = parseJsonObject(bodyText);
    if (status >= 200 && status < 300) {
      if (body && typeof body.access_token === 'string' && body.access_token !== '') {
        return body as unknown as IamTokenResponse;
      }
      throw new IamError('unreachable', `IBM Cloud IAM answered HTTP ${status} without an access token`, {
        status,
      });
    }

    const iamCode = typeof body?.errorCode === 'string' ? body.errorCode : undefined;
    const iamMessage =
      typeof body?.errorMessage === 'string'
        ? redact(body.errorMessage, apiKey).slice(0, MAX_DETAIL_LENGTH)
        : undefined;
    const detail = [iamCode, iamMessage].filter((part) => part !== undefined && part !== '').join(': ');
    // IAM answers an unknown or malformed key with 400 (not 401), so all three mean "this key is refused".
    if (status === 400 || status === 401 || status === 403) {
      throw new IamError('rejected', `IBM Cloud IAM rejected the API key (${detail || `HTTP ${status}`})`, {
        status,
        iamCode,
      });
    }
    throw new IamError(
      'unreachable',
      `IBM Cloud IAM answered HTTP ${status}${detail ? ` (${detail})` : ''}`,
      {
        status,
        iamCode,
      },
    );
  };
}

/**
 * What a client may hear of a failure to reach IAM: a TLS or proxy problem by name ("self-signed
 * certificate in certificate chain", "Proxy response (407)"), but never a socket error code
 * (ECONNREFUSED, ENOTFOUND…), an address or a port: those tell an outsider about the internal network.
 */
function publicReason(error: unknown, reason: string, hostname: string, apiKey: string): string {
  const generic = 'IBM Cloud IAM is unreachable (the cause is in the gateway log)';
  const code = String((error as { code?: unknown } | undefined)?.code ?? '');
  if (error instanceof UpstreamError) return `IBM Cloud IAM is unreachable: ${reason}`;
  if (/^E[A-Z0-9_]+$/.test(code) || /\bE[A-Z]{4,}\b/.test(reason)) return generic;
  if (reason.includes(hostname) || ADDRESS_OR_PORT.test(reason)) return generic;
  return `IBM Cloud IAM is unreachable: ${redact(reason, apiKey)}`;
}

/** An IPv4 address, a bracketed or bare IPv6 address, or a `:port`. */
const ADDRESS_OR_PORT = /\b\d{1,3}(\.\d{1,3}){3}\b|\[?[0-9a-f]*:[0-9a-f]*:[0-9a-f:]*\]?|:\d{2,5}\b/i;

/** Belt and braces: no text that reaches an error message may carry the key, in any encoding. */
function redact(text: string, apiKey: string): string {
  if (apiKey === '') return redactCredentials(text);
  return redactCredentials(text, [
    apiKey,
    encodeURIComponent(apiKey),
    new URLSearchParams({ k: apiKey }).toString().slice(2),
  ]);
}
