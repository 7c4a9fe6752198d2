// POST /identity/token: IBM Cloud IAM's API-key grant (docs/watsonx-api.md §1.1, samples #1–#2).
// IAM errors use IAM's own body shape ({context, errorCode, errorMessage}), not watsonx's.
import { randomBytes } from 'node:crypto';
import { createAccessToken } from './jwt.ts';
import http from 'node:http';

const { STATUS_CODES } = http;

export const APIKEY_GRANT = 'urn:ibm:params:oauth:grant-type:apikey';

export interface IamReply {
  status: number;
  contentType: string;
  body: string;
}

export interface IamSettings {
  acceptedApiKeys: string[] | undefined;
  ttlSeconds: number;
  now: () => number;
  issuer: string;
  /** Called for every token handed out, so the watsonx routes can recognise it. */
  remember: (token: string, expiresAtMs: number) => void;
}

function iamError(status: number, errorCode: string, errorMessage: string, url: string): IamReply {
  const context = {
    requestId: randomBytes(16).toString('hex'),
    requestType: 'incoming.Identity_Token',
    url,
    locale: 'en_US',
  };
  return {
    status,
    contentType: 'application/json',
    body: JSON.stringify({ context, errorCode, errorMessage }),
  };
}

export function keyNotFound(url: string): IamReply {
  return iamError(400, 'BXNIM0415E', 'Provided API key could not be found.', url);
}

/** A forced IAM failure: 400 is the unknown-key answer, anything else a plain-text error. */
export function iamFault(status: number, url: string): IamReply {
  if (status === 400) return keyNotFound(url);
  return { status, contentType: 'text/plain', body: `${status} ${STATUS_CODES[status] ?? 'Error'}` };
}

/** With a list, only its keys; without, any non-empty key that does not start with "invalid". */
export function iamKeyAccepted(apiKey: string, acceptedApiKeys: readonly string[] | undefined): boolean {
  if (acceptedApiKeys) return acceptedApiKeys.includes(apiKey);
  return apiKey !== '' && !apiKey.startsWith('invalid');
}

export function handleIamToken(formText: string, settings: IamSettings): IamReply {
  const form = new URLSearchParams(formText);
  const grantType = form.get('grant_type');
  const apiKey = form.get('apikey');
  // codes for these two cases are not confirmed against IBM; the shape is IAM's
  if (!grantType)
    return iamError(400, 'BXNIM0109E', "Property 'grant_type' missing or empty.", settings.issuer);
  if (grantType !== APIKEY_GRANT)
    return iamError(400, 'BXNIM0103E', 'Unsupported grant type.', settings.issuer);
  if (apiKey === null || apiKey === '') {
    return iamError(400, 'BXNIM0109E', "Property 'apikey' missing or empty.", settings.issuer);
  }
  if (!iamKeyAccepted(apiKey, settings.acceptedApiKeys)) return keyNotFound(settings.issuer);

  const issuedAt = Math.floor(settings.now() / 1000);
  const { token, claims } = createAccessToken(apiKey, issuedAt, settings.ttlSeconds, settings.issuer);
  settings.remember(token, claims.exp * 1000);
  const body = {
    access_token: token,
    refresh_token: 'not_supported',
    token_type: 'Bearer',
    expires_in: settings.ttlSeconds,
    expiration: claims.exp,
    scope: 'ibm openid',
  };
  return { status: 200, contentType: 'application/json', body: JSON.stringify(body) };
}
