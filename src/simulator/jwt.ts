// IAM access tokens: real JWT structure with real `iat`/`exp` claims (the Node SDK core decodes
// them), and a junk signature nobody can or should verify.
import { createHash, randomBytes, randomUUID } from 'node:crypto';

export interface SimulatedTokenClaims {
  iat: number;
  exp: number;
  sub: string;
  [claim: string]: unknown;
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A token for an API key; the key itself never appears in it (only a hash-derived id). */
export function createAccessToken(
  apiKey: string,
  issuedAtSeconds: number,
  ttlSeconds: number,
  issuer: string,
  extraClaims: Record<string, unknown> = {},
) {
  const serviceId = `ServiceId-${createHash('sha256').update(apiKey).digest('hex').slice(0, 32)}`;
  const claims: SimulatedTokenClaims = {
    iam_id: `iam-${serviceId}`,
    id: `iam-${serviceId}`,
    sub: serviceId,
    sub_type: 'ServiceId',
    iss: issuer,
    grant_type: 'urn:ibm:params:oauth:grant-type:apikey',
    scope: 'ibm openid',
    client_id: 'default',
    jti: randomUUID(),
    iat: issuedAtSeconds,
    exp: issuedAtSeconds + ttlSeconds,
    ...extraClaims,
  };
  const header = { kid: 'simulator', alg: 'RS256', typ: 'JWT' };
  const token = `${base64url(header)}.${base64url(claims)}.${randomBytes(32).toString('base64url')}`;
  return { token, claims };
}

/** The payload of a JWT, without any verification; undefined when it is not one. */
export function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
