// Builds the upstream side once per process: the connection pools, the IAM token manager, the
// authenticator and the watsonx client. main.ts and the tests both use it.
import type { Config } from './config.ts';
import type { Metrics } from '../server/metrics.ts';
import { type Authenticator, iamApiKeyAuthenticator } from '../watsonx/auth.ts';
import { WatsonxClient } from '../watsonx/client.ts';
import { Http1Pool } from '../watsonx/http1.ts';
import { createIamTokenFetcher } from '../watsonx/iam.ts';
import { TokenManager } from '../watsonx/token-manager.ts';
import type { WatsonxContainer } from '../watsonx/types.ts';

export interface Upstream {
  mode: 'ibm' | 'simulator';
  /** Base URL of watsonx, for /health (never contains credentials). */
  watsonxUrl: string;
  client: WatsonxClient;
  auth: Authenticator;
  container: WatsonxContainer;
  /** The keep-alive connections to watsonx.ai and IBM Cloud IAM. */
  pool: Http1Pool;
  close(): Promise<void>;
}

export interface UpstreamSettings {
  mode: 'ibm' | 'simulator';
  watsonxUrl: string;
  iamUrl: string;
  apiKey: string;
  container: WatsonxContainer;
  apiVersion: string;
  requestTimeoutMs: number;
  userAgent?: string;
  onTokenError?: (error: unknown) => void;
  maxRetries?: number;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  totalTimeoutMs?: number;
  /** Counters for IAM fetches, retries and upstream errors. */
  metrics?: Metrics;
}

export function createUpstream(settings: UpstreamSettings): Upstream {
  // No per-origin connection cap: every open stream holds one upstream connection, so a cap would
  // queue streams silently; MAX_CONCURRENT_REQUESTS bounds the load instead.
  const pool = new Http1Pool({
    keepAliveTimeoutMs: 30_000,
    keepAliveMaxTimeoutMs: 600_000,
    connectTimeoutMs: settings.connectTimeoutMs ?? 10_000,
  });
  const metrics = settings.metrics;
  const tokens = new TokenManager({
    fetchToken: createIamTokenFetcher({ iamUrl: settings.iamUrl, dispatcher: pool }),
    onBackgroundError: settings.onTokenError,
    onFetch: metrics ? (outcome) => metrics.iamFetches.inc({ outcome }) : undefined,
  });
  const auth = iamApiKeyAuthenticator(tokens, settings.apiKey);
  // The first token is fetched at start-up in the background; failures surface on first use.
  tokens.prefetch(settings.apiKey);
  const client = new WatsonxClient({
    baseUrl: settings.watsonxUrl,
    apiVersion: settings.apiVersion,
    dispatcher: pool,
    requestTimeoutMs: settings.requestTimeoutMs,
    userAgent: settings.userAgent,
    maxRetries: settings.maxRetries,
    idleTimeoutMs: settings.idleTimeoutMs,
    totalTimeoutMs: settings.totalTimeoutMs,
    observer: metrics && {
      upstreamError: (status, code) => metrics.upstreamErrors.inc({ status: String(status), code }),
      retry: (operation, reason) => metrics.retries.inc({ operation, reason }),
    },
  });
  return {
    mode: settings.mode,
    watsonxUrl: settings.watsonxUrl,
    client,
    auth,
    container: settings.container,
    pool,
    close: () => pool.close(),
  };
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
  } satisfies Partial<UpstreamSettings>;
}
