// The other ways in besides IBM Cloud IAM (docs/ibm-auth-and-deployments.md §1-§3): Cloud Pak for
// Data's POST /icp4d-api/v1/authorize (username + password or username + api_key), the ZenApiKey
// header, fixed bearer tokens, and watsonx on AWS's POST /api/2.0/apikeys/token. Pure functions:
// server.ts routes to them and keeps the tokens they hand out.
import { createAccessToken } from './jwt.ts';

export interface Cp4dUser {
  username: string;
  /** Accepted by /authorize as `password`. */
  password?: string;
  /** Accepted by /authorize as `api_key`, and inside a ZenApiKey header. */
  apiKey?: string;
}

export interface AuthReply {
  status: number;
  body: unknown;
}

export interface TokenSettings {
  ttlSeconds: number;
  now: () => number;
  issuer: string;
  remember: (token: string, expiresAtMs: number) => void;
}

/** When no user list is given: any username, any secret not starting with "invalid" (as for IAM keys). */
function cp4dAccepts(
  users: readonly Cp4dUser[] | undefined,
  username: string,
  secret: { password?: string; apiKey?: string },
): boolean {
  if (!users) {
    const value = secret.password ?? secret.apiKey ?? '';
    return username !== '' && value !== '' && !value.startsWith('invalid');
  }
  return users.some(
    (user) =>
      user.username === username &&
      (secret.password !== undefined
        ? user.password !== undefined && user.password === secret.password
        : user.apiKey !== undefined && user.apiKey === secret.apiKey),
  );
}

/**
 * POST /icp4d-api/v1/authorize. The 200 body is the 4.x one (`_messageCode_`, `message`, `token`);
 * `tokenField: 'accessToken'` answers as cp-data 5.2's API-key sample shows. The refusal's body is
 * not documented by IBM (UNCONFIRMED): 401 with `_messageCode_` and `message` here.
 */
export function handleCp4dAuthorize(
  text: string,
  settings: TokenSettings & { users: readonly Cp4dUser[] | undefined; tokenField: 'token' | 'accessToken' },
): AuthReply {
  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    body = parsed as Record<string, unknown>;
  } catch {
    return refusal(400, 'Invalid JSON body');
  }
  const username = typeof body.username === 'string' ? body.username : '';
  const password = typeof body.password === 'string' ? body.password : undefined;
  const apiKey = typeof body.api_key === 'string' ? body.api_key : undefined;
  if (username === '') return refusal(400, 'username is required');
  if ((password === undefined) === (apiKey === undefined)) {
    return refusal(400, 'Exactly one of password or api_key is required');
  }
  if (!cp4dAccepts(settings.users, username, { password, apiKey })) {
    return refusal(401, 'Invalid user credentials');
  }
  const token = issue(`cp4d:${username}`, settings, { username, auth: password ? 'password' : 'api_key' });
  return {
    status: 200,
    body: { _messageCode_: '200', message: 'Success', [settings.tokenField]: token },
  };
}

/** POST /api/2.0/apikeys/token (watsonx on AWS): JSON `{apikey}` → `{token}`. */
export function handleAwsToken(
  text: string,
  settings: TokenSettings & { accepts: (apiKey: string) => boolean },
): AuthReply {
  let apiKey: unknown;
  try {
    apiKey = (JSON.parse(text) as { apikey?: unknown } | null)?.apikey;
  } catch {
    return { status: 400, body: { errors: [{ code: 'bad_request', message: 'Invalid JSON body' }] } };
  }
  if (typeof apiKey !== 'string' || apiKey === '') {
    return { status: 400, body: { errors: [{ code: 'bad_request', message: 'apikey is required' }] } };
  }
  // The refusal's shape is not documented (UNCONFIRMED): an `errors` list like the platform's APIs.
  if (!settings.accepts(apiKey)) {
    return {
      status: 401,
      body: { errors: [{ code: 'invalid_apikey', message: 'The API key is not valid.' }] },
    };
  }
  return { status: 200, body: { token: issue(`aws:${apiKey}`, settings, {}) } };
}

/** `ZenApiKey base64(username:api_key)`: the user it names, when the key is one of theirs. */
export function zenApiKeyAccepted(credential: string, users: readonly Cp4dUser[] | undefined): boolean {
  let decoded: string;
  try {
    decoded = Buffer.from(credential, 'base64').toString('utf8');
  } catch {
    return false;
  }
  // A round trip catches text that is not base64 at all (Buffer.from skips what it cannot read).
  if (Buffer.from(decoded, 'utf8').toString('base64').replace(/=+$/, '') !== credential.replace(/=+$/, '')) {
    return false;
  }
  const colon = decoded.indexOf(':');
  if (colon <= 0) return false;
  return cp4dAccepts(users, decoded.slice(0, colon), { apiKey: decoded.slice(colon + 1) });
}

function issue(subject: string, settings: TokenSettings, claims: Record<string, unknown>): string {
  const issuedAt = Math.floor(settings.now() / 1000);
  const { token, claims: issued } = createAccessToken(
    subject,
    issuedAt,
    settings.ttlSeconds,
    settings.issuer,
    claims,
  );
  settings.remember(token, issued.exp * 1000);
  return token;
}

function refusal(status: number, message: string): AuthReply {
  return { status, body: { _messageCode_: String(status), message } };
}
