// How the gateway proves itself to watsonx: one interface for every IBM auth mode, each ending in
// one `Authorization` value per call. Token modes (IBM Cloud IAM, Cloud Pak for Data /authorize,
// watsonx on AWS) are a TokenManager with that mode's fetcher; constant modes (a fixed bearer token,
// a ZenApiKey, the client's own header passed through) return a fixed value. Per-user credentials
// (each client's IBM API key) are one TokenManager keyed by a hash of the key.
import { createHash } from 'node:crypto';
import type { TokenManager, TokenState } from './token-manager.ts';

/** WATSONX_AUTH_TYPE. */
export type AuthMode = 'iam' | 'bearer' | 'cp4d' | 'zenapikey' | 'aws' | 'none';

export interface Authenticator {
  /** The `Authorization` header value for the next watsonx call. */
  authorization(): Promise<string>;
  /** The same, without waiting, when a current token is at hand (the hot path); else undefined. */
  cachedAuthorization?(): string | undefined;
  /** watsonx answered 401 to this header value: forget it (only if it is still the current one). */
  invalidate(authorization: string): void;
  /** For /health; never exposes a secret. */
  state(): TokenState;
  /**
   * Whose credential it is: `client` (each user's own key, or the client's header passed through)
   * makes a refusal by IBM that client's 401/403 instead of the operator's 502. Default `server`.
   */
  readonly owner?: 'server' | 'client';
  /** false: a fixed credential; after a 401 a new one cannot be had, so the call is not retried. */
  readonly refreshable?: boolean;
}

/** A credential exchanged for tokens by `tokens` (its fetcher decides where), cached under `key`. */
export function tokenAuthenticator(
  tokens: TokenManager,
  key: string,
  options: { secret?: string; owner?: 'server' | 'client' } = {},
): Authenticator {
  const secret = options.secret ?? key;
  let lastToken: string | undefined;
  let lastHeader = '';
  return {
    owner: options.owner ?? 'server',
    async authorization() {
      return `Bearer ${await tokens.getToken(key, secret)}`;
    },
    cachedAuthorization() {
      const token = tokens.peek(key);
      if (token === undefined) return undefined;
      if (token !== lastToken) {
        lastToken = token;
        lastHeader = `Bearer ${token}`;
      }
      return lastHeader;
    },
    invalidate(authorization) {
      if (authorization.startsWith('Bearer ')) tokens.invalidate(key, authorization.slice('Bearer '.length));
    },
    state() {
      return tokens.state(key);
    },
  };
}

/** IBM Cloud API key exchanged for IAM bearer tokens, cached per key by the shared TokenManager. */
export function iamApiKeyAuthenticator(tokens: TokenManager, apiKey: string): Authenticator {
  return tokenAuthenticator(tokens, apiKey);
}

/**
 * A fixed header value: `Bearer <token>` (WATSONX_TOKEN), `ZenApiKey <base64>`, or the client's own
 * `Authorization` (owner `client`). Nothing to refresh: a 401 is final.
 */
export function constantAuthenticator(
  authorization: string,
  owner: 'server' | 'client' = 'server',
): Authenticator {
  return {
    owner,
    refreshable: false,
    authorization: () => Promise.resolve(authorization),
    cachedAuthorization: () => authorization,
    invalidate() {},
    state: () => ({ status: 'static' }),
  };
}

/**
 * The server-wide authenticator of the modes where every request brings its own credential
 * (UPSTREAM_CREDENTIALS=client, WATSONX_AUTH_TYPE=none): there is nothing to fetch, so /ready is
 * ready, and /health says `per-request`. Calls never use it: each gets the request's authenticator.
 */
export function perRequestPlaceholder(): Authenticator {
  return {
    owner: 'client',
    refreshable: false,
    authorization: () => Promise.resolve(''),
    invalidate() {},
    state: () => ({ status: 'per-request' }),
  };
}

/** `ZenApiKey base64(username:apikey)`, without the newline `echo | base64` would add. */
export function zenApiKeyHeader(username: string, apiKey: string): string {
  return `ZenApiKey ${Buffer.from(`${username}:${apiKey}`, 'utf8').toString('base64')}`;
}

/** The only form in which a client's credential is kept or named: its SHA-256, hex. */
export function credentialId(credential: string): string {
  return createHash('sha256').update(credential).digest('hex');
}

/**
 * Each client's own IBM API key (UPSTREAM_CREDENTIALS=client), exchanged by `tokens` (IAM, or the
 * AWS token server) and cached under the key's SHA-256: the key itself is held only while its
 * exchange runs. The TokenManager's bound (maxEntries) is the cache size; one exchange per key at a
 * time; a refused key fails fast for a while (the manager's backoff) instead of hitting IAM again.
 */
export class ClientCredentials {
  readonly #tokens: TokenManager;

  constructor(tokens: TokenManager) {
    this.#tokens = tokens;
  }

  /** The authenticator for one request's key; `id` is credentialId(apiKey), when already computed. */
  forKey(apiKey: string, id: string = credentialId(apiKey)): Authenticator {
    return tokenAuthenticator(this.#tokens, id, { secret: apiKey, owner: 'client' });
  }

  /** Keys with a cached token or a recent failure (at most the bound). */
  get size(): number {
    return this.#tokens.size;
  }
}
