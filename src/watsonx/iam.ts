import type { Dispatcher } from 'undici';
import { requestToken, secretForms } from './token-endpoint.ts';
import type { IamTokenResponse } from './types.ts';

/** Exchanges a credential for an access token (one HTTP call, no caching): IAM, CP4D or AWS. */
export type FetchIamToken = (secret: string) => Promise<IamTokenResponse>;

const GRANT_TYPE = 'urn:ibm:params:oauth:grant-type:apikey';
const TOKEN_PATH = '/identity/token';

/**
 * `<base>/identity/token`. Like the IBM SDK core, a base that already ends in `/identity/token` is
 * accepted as is, so `WATSONX_IAM_URL` may hold either form.
 */
export function iamTokenUrl(iamBaseUrl: string): string {
  let base = iamBaseUrl.trim().replace(/\/+$/, '');
  if (base.endsWith(TOKEN_PATH)) base = base.slice(0, -TOKEN_PATH.length).replace(/\/+$/, '');
  return `${base}${TOKEN_PATH}`;
}

/** IBM Cloud IAM's API-key grant: `POST {iam}/identity/token`, form-encoded, → `access_token`. */
export function createIamTokenFetcher(options: {
  iamUrl: string;
  /** The undici dispatcher of the watsonx calls (pool, proxies, TLS). */
  dispatcher: Dispatcher;
  timeoutMs?: number;
  /** `client`: the API keys are the clients' own (UPSTREAM_CREDENTIALS=client). */
  owner?: 'server' | 'client';
  hint?: string;
}): FetchIamToken {
  const endpoint = {
    url: iamTokenUrl(options.iamUrl),
    dispatcher: options.dispatcher,
    timeoutMs: options.timeoutMs,
    mode: 'iam',
    service: 'IBM Cloud IAM',
    owner: options.owner,
    hint: options.hint,
  } as const;
  return function fetchIamToken(apiKey: string): Promise<IamTokenResponse> {
    return requestToken(endpoint, {
      contentType: 'application/x-www-form-urlencoded',
      body: new URLSearchParams({ grant_type: GRANT_TYPE, apikey: apiKey }).toString(),
      what: 'the API key',
      secrets: secretForms(apiKey),
      readToken: (body) =>
        typeof body.access_token === 'string' && body.access_token !== ''
          ? (body as unknown as IamTokenResponse)
          : undefined,
    });
  };
}
