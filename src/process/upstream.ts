// Builds the upstream side once per process: the undici dispatcher (keep-alive pools, proxies, TLS),
// the token manager and authenticator of the auth mode (or the per-request credentials), and the
// watsonx client. main.ts and the tests use it.
import tls from 'node:tls';
import { Agent, type Dispatcher, EnvHttpProxyAgent } from 'undici';
import type { AuthType, Config, UpstreamAuth, UpstreamNetwork } from './config.ts';
import type { Metrics } from '../server/metrics.ts';
import {
  type Authenticator,
  ClientCredentials,
  constantAuthenticator,
  perRequestPlaceholder,
  tokenAuthenticator,
} from '../watsonx/auth.ts';
import { createAwsTokenFetcher } from '../watsonx/aws.ts';
import { WatsonxClient } from '../watsonx/client.ts';
import { createCp4dTokenFetcher } from '../watsonx/cp4d.ts';
import { createIamTokenFetcher, type FetchIamToken } from '../watsonx/iam.ts';
import { TokenManager } from '../watsonx/token-manager.ts';
import type { WatsonxContainer } from '../watsonx/types.ts';

export interface Upstream {
  mode: 'ibm' | 'simulator';
  /** Base URL of watsonx, for /health (never contains credentials). */
  watsonxUrl: string;
  client: WatsonxClient;
  /**
   * The gateway's own credential (server modes). With per-request credentials, a placeholder that
   * is never sent: each request's authenticator comes from `requestCredentials`.
   */
  auth: Authenticator;
  /** WATSONX_AUTH_TYPE in effect (`iam` for the simulator). */
  authMode: AuthType;
  /**
   * Set when each request brings its credential: `key` (UPSTREAM_CREDENTIALS=client: the client's
   * IBM API key, exchanged per key) or `header` (WATSONX_AUTH_TYPE=none: the client's
   * Authorization, forwarded unchanged). `id` is the credential's SHA-256 (credentialId).
   */
  requestCredentials?: {
    kind: 'key' | 'header';
    authenticator(credential: string, id: string): Authenticator;
  };
  /** The configured project or space; undefined when every request names one (server/container.ts). */
  container: WatsonxContainer | undefined;
  /** How watsonx and IAM are reached, for /health: proxy credentials redacted. */
  network: NetworkSummary;
  /** Settings the operator must hear about at start (for example TLS verification turned off). */
  warnings: readonly string[];
  /** The connections to watsonx.ai and IBM Cloud IAM. */
  dispatcher: Dispatcher;
  close(): Promise<void>;
}

export interface NetworkSummary {
  proxy?: { http?: string; https?: string; noProxy?: string };
  /** UPSTREAM_CA_FILE adds CAs to the default ones. */
  extraCa: boolean;
  tlsVerify: boolean;
}

export interface UpstreamSettings {
  mode: 'ibm' | 'simulator';
  watsonxUrl: string;
  auth: UpstreamAuth;
  /** UPSTREAM_CREDENTIALS=client: each client's own API key (iam and aws modes), this many cached. */
  clientCredentials?: { cacheSize: number };
  container: WatsonxContainer | undefined;
  apiVersion: string;
  requestTimeoutMs: number;
  userAgent?: string;
  onTokenError?: (error: unknown) => void;
  maxRetries?: number;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  totalTimeoutMs?: number;
  maxAnswerBytes?: number;
  /** Proxies, CAs and TLS verification; not used for the simulator, which runs in this process. */
  network?: UpstreamNetwork;
  /** Counters for IAM fetches, retries and upstream errors. */
  metrics?: Metrics;
}

export function createUpstream(settings: UpstreamSettings): Upstream {
  const network = settings.mode === 'ibm' ? settings.network : undefined;
  const dispatcher = createDispatcher(network, settings.connectTimeoutMs ?? 10_000);
  const metrics = settings.metrics;
  const { auth, requestCredentials } = createAuthentication(settings, dispatcher);
  const client = new WatsonxClient({
    baseUrl: settings.watsonxUrl,
    apiVersion: settings.apiVersion,
    dispatcher,
    requestTimeoutMs: settings.requestTimeoutMs,
    userAgent: settings.userAgent,
    maxRetries: settings.maxRetries,
    idleTimeoutMs: settings.idleTimeoutMs,
    totalTimeoutMs: settings.totalTimeoutMs,
    maxAnswerBytes: settings.maxAnswerBytes,
    observer: metrics && {
      upstreamError: (status, code) => metrics.upstreamErrors.inc({ status: String(status), code }),
      retry: (operation, reason) => metrics.retries.inc({ operation, reason }),
    },
  });
  const warnings =
    network?.tlsVerify === false
      ? [
          'UPSTREAM_TLS_VERIFY=false: the TLS certificates of watsonx.ai and IBM Cloud IAM are NOT verified; ' +
            'anyone on the network path can read and change the traffic, the IBM API key and tokens included. ' +
            'Trust a private CA with UPSTREAM_CA_FILE instead.',
        ]
      : [];
  return {
    mode: settings.mode,
    watsonxUrl: settings.watsonxUrl,
    client,
    auth,
    authMode: settings.auth.type,
    ...(requestCredentials && { requestCredentials }),
    container: settings.container,
    network: summarize(network),
    warnings,
    dispatcher,
    close: () => dispatcher.close(),
  };
}

/** What the operator is told to check when a token server refuses the gateway's credential. */
const OPERATOR_HINTS: Record<'iam' | 'cp4d' | 'aws', string> = {
  iam: 'check the IBM Cloud API key (IBM_CLOUD_API_KEY, WATSONX_APIKEY or WATSONX_AI_APIKEY) and IBM_IAM_URL',
  cp4d: 'check WATSONX_USERNAME and WATSONX_PASSWORD (or the platform API key) and WATSONX_URL',
  aws: 'check the IBM SaaS API key and WATSONX_AUTH_URL',
};

/**
 * The authenticator of the auth mode: a TokenManager with the mode's fetcher (iam, cp4d, aws), a
 * constant header (bearer, zenapikey), or, when each request brings its credential (none, and
 * UPSTREAM_CREDENTIALS=client), a placeholder plus the per-request factory.
 */
function createAuthentication(
  settings: UpstreamSettings,
  dispatcher: Dispatcher,
): { auth: Authenticator; requestCredentials?: Upstream['requestCredentials'] } {
  const config = settings.auth;
  const metrics = settings.metrics;
  const perClient = settings.clientCredentials;
  const owner = perClient ? 'client' : 'server';
  const tokenManager = (fetchToken: FetchIamToken, maxEntries?: number) =>
    new TokenManager({
      fetchToken,
      maxEntries,
      onBackgroundError: settings.onTokenError,
      onFetch: metrics ? (outcome) => metrics.iamFetches.inc({ outcome }) : undefined,
    });
  let fetchToken: FetchIamToken;
  switch (config.type) {
    case 'bearer':
      return { auth: constantAuthenticator(`Bearer ${config.token}`) };
    case 'zenapikey':
      return { auth: constantAuthenticator(`ZenApiKey ${config.zenApiKey}`) };
    case 'none':
      return {
        auth: perRequestPlaceholder(),
        requestCredentials: {
          kind: 'header',
          authenticator: (authorization) => constantAuthenticator(authorization, 'client'),
        },
      };
    case 'cp4d': {
      const tokens = tokenManager(
        createCp4dTokenFetcher({
          url: config.authorizeUrl,
          credentials: { username: config.username, password: config.password, apiKey: config.apiKey },
          dispatcher,
          hint: OPERATOR_HINTS.cp4d,
        }),
      );
      // One user: the cache key names the user, the fetcher holds the secret.
      const auth = tokenAuthenticator(tokens, `cp4d:${config.username}`);
      tokens.prefetch(`cp4d:${config.username}`);
      return { auth };
    }
    case 'iam':
      fetchToken = createIamTokenFetcher({
        iamUrl: config.iamUrl,
        dispatcher,
        owner,
        hint: OPERATOR_HINTS.iam,
      });
      break;
    case 'aws':
      fetchToken = createAwsTokenFetcher({
        tokenUrl: config.tokenUrl,
        dispatcher,
        owner,
        hint: OPERATOR_HINTS.aws,
      });
      break;
  }
  if (perClient) {
    const credentials = new ClientCredentials(tokenManager(fetchToken, perClient.cacheSize));
    return {
      auth: perRequestPlaceholder(),
      requestCredentials: { kind: 'key', authenticator: (apiKey, id) => credentials.forKey(apiKey, id) },
    };
  }
  const tokens = tokenManager(fetchToken);
  // The first token is fetched at start-up in the background; failures surface on first use.
  tokens.prefetch(config.apiKey);
  return { auth: tokenAuthenticator(tokens, config.apiKey) };
}

/**
 * One dispatcher for watsonx and IAM: keep-alive pools per origin, the connect timeout, and the
 * proxies, CAs and verification of `network`. No per-origin connection cap: every open stream holds
 * one upstream connection, so a cap would queue streams silently; MAX_CONCURRENT_REQUESTS bounds
 * the load instead.
 */
function createDispatcher(network: UpstreamNetwork | undefined, connectTimeoutMs: number): Dispatcher {
  const connect = {
    timeout: connectTimeoutMs,
    // One TLS context built once, rather than a copy of the CA list parsed for every connection.
    ...(network?.ca && { secureContext: tls.createSecureContext({ ca: [...network.ca] }) }),
    ...(network?.tlsVerify === false && { rejectUnauthorized: false }),
  };
  const pooling = { keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connect };
  if (!network?.httpProxy && !network?.httpsProxy) return new Agent(pooling);
  return new EnvHttpProxyAgent({
    ...pooling,
    // Given explicitly (also when unset) so that undici does not read process.env itself.
    httpProxy: network.httpProxy ?? '',
    httpsProxy: network.httpsProxy ?? '',
    noProxy: network.noProxy ?? '',
    // The same TLS settings for the upstream through a CONNECT tunnel and for an https:// proxy.
    requestTls: connect,
    proxyTls: connect,
    // http:// upstreams go to the proxy as absolute-form requests (as curl sends them); https://
    // ones always through a CONNECT tunnel.
    proxyTunnel: false,
  });
}

function summarize(network: UpstreamNetwork | undefined): NetworkSummary {
  const proxy = {
    ...(network?.httpProxy && { http: redactUrl(network.httpProxy) }),
    ...(network?.httpsProxy && { https: redactUrl(network.httpsProxy) }),
    ...(network?.noProxy && { noProxy: network.noProxy }),
  };
  return {
    ...(Object.keys(proxy).length > 0 && { proxy }),
    extraCa: network?.ca !== undefined,
    tlsVerify: network?.tlsVerify ?? true,
  };
}

/** A URL without its credentials (`http://***@proxy:3128/`), for /health and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === '' && parsed.password === '') return parsed.href;
    parsed.username = '***';
    parsed.password = '';
    return parsed.href;
  } catch {
    return '[unparseable URL]';
  }
}

/** The upstream settings that come straight from the configuration. */
export function upstreamTuning(config: Config) {
  return {
    apiVersion: config.apiVersion,
    requestTimeoutMs: config.requestTimeoutMs,
    maxRetries: config.upstreamMaxRetries,
    connectTimeoutMs: config.upstreamConnectTimeoutMs,
    idleTimeoutMs: config.streamIdleTimeoutMs,
    totalTimeoutMs: config.requestTotalTimeoutMs,
    maxAnswerBytes: config.upstreamMaxResponseBytes,
    network: config.upstreamNetwork,
  } satisfies Partial<UpstreamSettings>;
}
