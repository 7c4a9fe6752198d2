// The gateway's own API keys (API_KEY): which key a request presents and whether it is one of them.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from './errors.ts';

export class GatewayKeys {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** The key presented (for per-key limits), or the 401 to answer. Compares in constant time. */
  check(headers: IncomingHttpHeaders): string | GatewayError {
    const presented = presentedKey(headers);
    if (presented === undefined) {
      return new GatewayError(
        401,
        'You did not provide an API key. Send it as "Authorization: Bearer <key>" (or an "api-key" header).',
        { code: 'invalid_api_key' },
      );
    }
    const presentedDigest = digest(presented);
    let valid = false;
    for (const key of this.digests) valid = timingSafeEqual(key, presentedDigest) || valid;
    if (!valid) {
      return new GatewayError(401, 'Incorrect API key provided.', {
        code: 'invalid_api_key',
      });
    }
    return presented;
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match?.[1]) return match[1].trim();
  }
  for (const name of ['api-key', 'x-api-key']) {
    const value = headers[name];
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  return undefined;
}
