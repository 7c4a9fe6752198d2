// Cloud Pak for Data / IBM Software Hub (watsonx.ai software): `POST {cpd}/icp4d-api/v1/authorize`
// with a username and a password or a platform API key, answered with a JWT (`token`; cp-data 5.2's
// sample shows `accessToken`: both are read). docs/ibm-auth-and-deployments.md §2.1.
import type { Dispatcher } from 'undici';
import type { FetchIamToken } from './iam.ts';
import { jwtTokenResponse, requestToken, secretForms } from './token-endpoint.ts';

const AUTHORIZE_PATH = '/icp4d-api/v1/authorize';

/** The authorize URL from the cluster URL: the path is appended unless the URL already ends in /authorize. */
export function cp4dAuthorizeUrl(clusterUrl: string): string {
  const base = clusterUrl.trim().replace(/\/+$/, '');
  return base.endsWith('/authorize') ? base : `${base}${AUTHORIZE_PATH}`;
}

export interface Cp4dCredentials {
  username: string;
  /** Exactly one of password and apiKey. */
  password?: string;
  apiKey?: string;
}

/** A fetcher for one user; the argument it is called with is ignored (the cache key). */
export function createCp4dTokenFetcher(options: {
  url: string;
  credentials: Cp4dCredentials;
  dispatcher: Dispatcher;
  timeoutMs?: number;
  hint?: string;
}): FetchIamToken {
  const { username, password, apiKey } = options.credentials;
  const secret = password ?? apiKey ?? '';
  const endpoint = {
    url: cp4dAuthorizeUrl(options.url),
    dispatcher: options.dispatcher,
    timeoutMs: options.timeoutMs,
    mode: 'cp4d',
    service: 'Cloud Pak for Data (/icp4d-api/v1/authorize)',
    hint: options.hint,
  } as const;
  const body = JSON.stringify(
    password !== undefined ? { username, password } : { username, api_key: apiKey },
  );
  return () =>
    requestToken(endpoint, {
      contentType: 'application/json',
      body,
      what: password !== undefined ? 'the username and password' : 'the username and API key',
      secrets: [...secretForms(secret), JSON.stringify(secret).slice(1, -1)],
      readToken: (answer) => {
        const token = answer.token ?? answer.accessToken;
        return typeof token === 'string' && token !== '' ? jwtTokenResponse(token) : undefined;
      },
    });
}
