// How the gateway proves itself to watsonx. One interface, so that other IBM auth modes (Cloud Pak
// for Data, ZenApiKey, a fixed bearer token, a key brought by each client) slot in without
// reshaping the request path.
import type { TokenManager, TokenState } from './token-manager.ts';

export interface Authenticator {
  /** The `Authorization` header value for the next watsonx call. */
  authorization(): Promise<string>;
  /** The same, without waiting, when a current token is at hand (the hot path); else undefined. */
  cachedAuthorization?(): string | undefined;
  /** watsonx answered 401 to this header value: forget it (only if it is still the current one). */
  invalidate(authorization: string): void;
  /** For /health; never exposes a secret. */
  state(): TokenState;
}

/** IBM Cloud API key exchanged for IAM bearer tokens, cached per key by the shared TokenManager. */
export function iamApiKeyAuthenticator(tokens: TokenManager, apiKey: string): Authenticator {
  let lastToken: string | undefined;
  let lastHeader = '';
  return {
    async authorization() {
      return `Bearer ${await tokens.getToken(apiKey)}`;
    },
    cachedAuthorization() {
      const token = tokens.peek(apiKey);
      if (token === undefined) return undefined;
      if (token !== lastToken) {
        lastToken = token;
        lastHeader = `Bearer ${token}`;
      }
      return lastHeader;
    },
    invalidate(authorization) {
      if (authorization.startsWith('Bearer '))
        tokens.invalidate(apiKey, authorization.slice('Bearer '.length));
    },
    state() {
      return tokens.state(apiKey);
    },
  };
}
