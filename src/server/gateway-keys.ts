// The gateway's own API keys (API_KEY): which key a request presents and whether it is one of them.
// And, when each client brings its own IBM credential (UPSTREAM_CREDENTIALS=client, or
// WATSONX_AUTH_TYPE=none), that credential: read from the same headers the SDKs send, turned into
// the request's watsonx authenticator, and named only by its SHA-256 (rate limits, stored
// Responses, logs and metrics). The gateway key then travels in its own header, X-Gateway-Key.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Upstream } from '../process/upstream.ts';
import { credentialId } from '../watsonx/auth.ts';
import { GatewayError } from './errors.ts';
import type { GatewayRequestState } from './lifecycle.ts';

/** Where the gateway key is read when Authorization carries the client's IBM credential. */
export const GATEWAY_KEY_HEADER = 'x-gateway-key';

export class GatewayKeys {
  private readonly digests: Buffer[];
  /** Set: the key is read from this header only (Authorization holds the IBM credential). */
  private readonly header: string | undefined;

  constructor(keys: readonly string[], options: { header?: string } = {}) {
    this.digests = keys.map(digest);
    this.header = options.header;
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** The key presented (for per-key limits), or the 401 to answer. Compares in constant time. */
  check(headers: IncomingHttpHeaders): string | GatewayError {
    const presented = this.header === undefined ? presentedKey(headers) : headerValue(headers, this.header);
    if (presented === undefined) {
      return new GatewayError(
        401,
        this.header === undefined
          ? 'You did not provide an API key. Send it as "Authorization: Bearer <key>" (or an "api-key" header).'
          : `You did not provide the gateway key. Send it in an "${this.header}" header ` +
              '(Authorization carries your own IBM credential).',
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

/** How GatewayKeys reads the gateway key for this upstream: its own header when Authorization is the client's. */
export function gatewayKeyOptions(upstream: Pick<Upstream, 'requestCredentials'>): { header?: string } {
  return upstream.requestCredentials ? { header: GATEWAY_KEY_HEADER } : {};
}

/**
 * With per-request credentials, every route that needs the gateway key needs the client's IBM
 * credential too (after the gateway key's hook, before the limits'): its authenticator goes on the
 * request state (upstream-call.ts sends it), and its hash becomes the request's identity for rate
 * limits and stored Responses (`rateKey`) and for logs and metrics (`user`).
 */
export function registerRequestCredentials(app: FastifyInstance, upstream: Upstream): void {
  const credentials = upstream.requestCredentials;
  if (!credentials) return;
  app.addHook('onRequest', (request, _reply, done) => {
    // /metrics (METRICS_REQUIRE_KEY) needs the gateway key only: a scraper holds no IBM credential.
    // Its route name is on the request state already (app.ts): Fastify's routeOptions is rebuilt per read.
    if (!request.gateway.requiresKey || request.gateway.route === METRICS_ROUTE) return done();
    const credential =
      credentials.kind === 'key' ? presentedKey(request.headers) : forwardedAuthorization(request.headers);
    if (credential === undefined) {
      return done(
        new GatewayError(
          401,
          credentials.kind === 'key'
            ? "You did not provide your IBM API key. This gateway uses each client's own key: send it as " +
                '"Authorization: Bearer <IBM API key>" (or an "x-api-key" header).'
            : 'You did not provide an IBM credential. This gateway forwards your own Authorization header ' +
                'to watsonx.ai: send "Authorization: Bearer <IBM token>" (or ZenApiKey …).',
          { code: 'invalid_api_key' },
        ),
      );
    }
    const id = credentialId(credential);
    request.gateway.upstreamAuth = credentials.authenticator(credential, id);
    request.gateway.rateKey = `user:${id}`;
    request.gateway.user = id.slice(0, USER_ID_LENGTH);
    done();
  });
}

/**
 * For routes that need no watsonx call of their own (the model list): a client's own IBM API key
 * (UPSTREAM_CREDENTIALS=client) is still exchanged (or found cached), so that a wrong key is that
 * client's 401 there as on every other route; tools test their key on /v1/models. A forwarded
 * header (WATSONX_AUTH_TYPE=none) cannot be checked without a watsonx call and is not.
 */
export async function verifyRequestCredential(gateway: GatewayRequestState): Promise<void> {
  const own = gateway.upstreamAuth;
  if (own !== undefined && own.refreshable !== false) await own.authorization();
}

const METRICS_ROUTE = '/metrics';

/** How many hex digits of the credential's SHA-256 name a user in logs and metrics. */
export const USER_ID_LENGTH = 16;

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** A key as the SDKs send it: `Authorization: Bearer <key>`, else `api-key` (Azure) or `x-api-key` (Anthropic). */
function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match?.[1]) return match[1].trim();
  }
  for (const name of ['api-key', 'x-api-key']) {
    const value = headerValue(headers, name);
    if (value !== undefined) return value;
  }
  return undefined;
}

/**
 * WATSONX_AUTH_TYPE=none: the client's Authorization as it came (`Bearer <IAM or CPD token>`,
 * `ZenApiKey …`); a client that can only send `x-api-key` (Anthropic's SDKs) or `api-key` has that
 * value sent as a Bearer token.
 */
function forwardedAuthorization(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headerValue(headers, 'authorization');
  if (authorization !== undefined) return authorization;
  for (const name of ['x-api-key', 'api-key']) {
    const value = headerValue(headers, name);
    if (value !== undefined) return `Bearer ${value}`;
  }
  return undefined;
}
