// The one place configuration is read: environment variables, plus an optional `.env` file
// (real environment variables win over the file). Every problem is reported at once and no
// secret value is ever echoed.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import tls from 'node:tls';
import { parseEnv } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { awsTokenServerFor } from '../watsonx/aws.ts';
import type { WatsonxContainer } from '../watsonx/types.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The watsonx.ai API `version` date sent on every call unless WATSONX_API_VERSION says otherwise. */
export const DEFAULT_WATSONX_API_VERSION = '2026-08-05';

/** Where upstream traffic goes. `simulator` is resolved to real URLs by main.ts once the simulator listens. */
export type UpstreamConfig =
  | {
      mode: 'ibm';
      watsonxUrl: string;
      /** How each call is authenticated (WATSONX_AUTH_TYPE and its credential). */
      auth: UpstreamAuth;
      /** UPSTREAM_CREDENTIALS=client: each client's own API key, cached for this many keys at most. */
      clientCredentials: { cacheSize: number } | undefined;
      /** The default project or space; undefined when every request names one (X-Watsonx-Project-Id, …). */
      container: WatsonxContainer | undefined;
    }
  | { mode: 'simulator' };

/**
 * How watsonx.ai and IAM are reached (not the simulator): proxies, trusted CAs, TLS verification.
 * Proxy URLs may hold credentials (user:password@): never log them as they are.
 */
export interface UpstreamNetwork {
  /** HTTP_PROXY (or http_proxy): for http:// upstreams, and https:// ones when HTTPS_PROXY is unset. */
  httpProxy: string | undefined;
  /** HTTPS_PROXY (or https_proxy): for https:// upstreams. */
  httpsProxy: string | undefined;
  /** NO_PROXY (or no_proxy): hosts reached directly, comma-separated (`host`, `.domain`, `host:port`, `*`). */
  noProxy: string | undefined;
  /**
   * With UPSTREAM_CA_FILE: every CA trusted for upstream TLS, Node's own list (NODE_EXTRA_CA_CERTS
   * included) plus the file's certificates, one PEM each. Undefined: Node's own list.
   */
  ca: readonly string[] | undefined;
  /** UPSTREAM_TLS_VERIFY: false turns certificate verification off. */
  tlsVerify: boolean;
}

export interface Config {
  host: string;
  port: number;
  logLevel: LogLevel;
  /** Gateway keys clients must present; empty means the gateway is open. */
  gatewayApiKeys: readonly string[];
  /** `*` or a list of exact origins. */
  allowedOrigins: '*' | readonly string[];
  /** MODEL_MAP_<KEY> entries: KEY → watsonx model id. */
  modelMap: ReadonlyMap<string, string>;
  /** DEPLOYMENT_ALIASES: client model name → deployment id or serving name. */
  deploymentAliases: ReadonlyMap<string, string>;
  /**
   * The projects and spaces a request may name in X-Watsonx-Project-Id / X-Watsonx-Space-Id
   * (WATSONX_ALLOWED_PROJECTS / WATSONX_ALLOWED_SPACES, lower-case); undefined: any.
   */
  allowedProjects: ReadonlySet<string> | undefined;
  allowedSpaces: ReadonlySet<string> | undefined;
  upstream: UpstreamConfig;
  apiVersion: string;
  requestTimeoutMs: number;
  /** Output cap sent when the client gives none; 0 sends none (watsonx then caps near 1024 tokens). */
  defaultMaxTokens: number;
  bodyLimitBytes: number;
  /**
   * Most bytes of request bodies held at once, from their first byte until their request is
   * answered (MAX_BODY_MEMORY_MB; default an eighth of the V8 heap limit, at least BODY_LIMIT_MB).
   */
  maxBodyMemoryBytes: number;
  /** Retries of 429/503/504/520 and connection errors before the first byte (UPSTREAM_MAX_RETRIES). */
  upstreamMaxRetries: number;
  upstreamConnectTimeoutMs: number;
  upstreamNetwork: UpstreamNetwork;
  /** Longest silence between stream chunks, and longest a stream client may take nothing (STREAM_IDLE_TIMEOUT). */
  streamIdleTimeoutMs: number;
  /** Longest a whole upstream call may take, stream included (REQUEST_TOTAL_TIMEOUT). */
  requestTotalTimeoutMs: number;
  /** Largest non-stream watsonx answer held in memory (UPSTREAM_MAX_RESPONSE_MB). */
  upstreamMaxResponseBytes: number;
  /** Processes serving the port (WORKERS; `auto` = one per core). */
  workers: number;
  /** Drain time for in-flight requests on SIGTERM (SHUTDOWN_TIMEOUT). */
  shutdownTimeoutMs: number;
  /** Most requests served at once on /v1 routes; more get a 503 (MAX_CONCURRENT_REQUESTS, 0 = no limit). */
  maxConcurrentRequests: number;
  /** /metrics needs the gateway key (METRICS_REQUIRE_KEY). */
  metricsRequireKey: boolean;
  /** /docs, /docs/json and the UI's files need the gateway key (DOCS_REQUIRE_KEY). */
  docsRequireKey: boolean;
  /** Per-gateway-key limits; 0 = none. */
  rateLimits: {
    requestsPerMinute: number;
    tokensPerMinute: number;
    perKey: ReadonlyMap<string, { requestsPerMinute: number; tokensPerMinute: number }>;
  };
  /** Limits and stored Responses shared through Redis or Valkey (REDIS_URL); undefined: per process. */
  redis: RedisConfig | undefined;
  /** How long the watsonx model catalogue is cached (ms). */
  modelsCacheTtlMs: number;
  /** Check each request's model against the catalogue before calling watsonx. */
  modelValidation: boolean;
  /** truncate_input_tokens sent with embeddings: `max` (the model's context length), a count, or 0 (none). */
  embeddingsTruncateInputTokens: number | 'max';
  production: boolean;
  /** OpenTelemetry tracing (OTEL_EXPORTER_OTLP_ENDPOINT …); undefined: off, nothing of OpenTelemetry is loaded. */
  tracing: TracingConfig | undefined;
}

/** What to do when Redis cannot be reached (REDIS_FAILURE_POLICY). */
export type RedisFailurePolicy = 'open' | 'closed';

export interface RedisConfig {
  /** redis:// or rediss:// (Valkey too); may hold a password: never log it. */
  url: string;
  /**
   * open: serve, counting the limits in this process meanwhile (loud warning, metric); closed:
   * refuse rate-limited requests with 503 until Redis is back.
   */
  failurePolicy: RedisFailurePolicy;
  /** Longest one Redis call may take before it counts as a failure (REDIS_TIMEOUT). */
  timeoutMs: number;
  /** Prepended to every key, so several gateways can share one Redis (REDIS_KEY_PREFIX). */
  keyPrefix: string;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export type Environment = Readonly<Record<string, string | undefined>>;

/** Reads process.env and, when present, `.env` in the working directory. */
export function readEnvironment(cwd = process.cwd(), env: Environment = process.env): Environment {
  const file = `${cwd}/.env`;
  if (!existsSync(file)) return env;
  const fromFile = parseEnv(readFileSync(file, 'utf8'));
  return { ...fromFile, ...env };
}

/** Validates an environment into a frozen Config; throws ConfigError listing every problem. */
export function parseConfig(env: Environment): Config {
  const problems: string[] = [];
  const text = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  };
  const positiveNumber = (name: string, fallback: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) {
      problems.push(`${name} must be a positive number (got "${raw}")`);
      return fallback;
    }
    return value;
  };
  const boolean = (name: string, fallback = false): boolean => {
    const raw = text(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    problems.push(`${name} must be true or false (got "${raw}")`);
    return false;
  };
  const url = (name: string, fallback: string): string => {
    const raw = text(name) ?? fallback;
    try {
      const parsed = new URL(raw);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('protocol');
      if (parsed.username || parsed.password) {
        problems.push(`${name} must not contain credentials`);
      }
    } catch {
      // a value with `@` may hold credentials (user:password@host), so it is not echoed
      problems.push(`${name} must be an http(s) URL${raw.includes('@') ? '' : ` (got "${raw}")`}`);
    }
    return raw.replace(/\/+$/, '');
  };

  const logLevel = (text('LOG_LEVEL') ?? 'info').toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  }

  const port = integer('PORT', 8000, 0, 65535);
  const host = text('HOST') ?? '0.0.0.0';
  const gatewayApiKeys = (text('API_KEY') ?? '')
    .split(',')
    .map((key) => key.trim())
    .filter((key) => key.length > 0);

  const originsRaw = text('ALLOWED_ORIGINS') ?? '*';
  const origins = originsRaw
    .split(',')
    .map((origin) => origin.trim().replace(/\/+$/, ''))
    .filter((origin) => origin.length > 0);
  const allowedOrigins: '*' | string[] = origins.includes('*') ? '*' : origins;

  const modelMap = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('MODEL_MAP_')) continue;
    const key = name.slice('MODEL_MAP_'.length);
    const target = value?.trim();
    if (!/^[A-Z0-9_]+$/.test(key)) {
      problems.push(`${name}: the part after MODEL_MAP_ must use only A-Z, 0-9 and _`);
    } else if (!target) {
      problems.push(`${name} is empty: give the watsonx model id it maps to`);
    } else {
      modelMap.set(key, target);
    }
  }

  const apiVersion = text('WATSONX_API_VERSION') ?? DEFAULT_WATSONX_API_VERSION;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(apiVersion)) {
    problems.push(
      `WATSONX_API_VERSION must be a date like ${DEFAULT_WATSONX_API_VERSION} (got "${apiVersion}")`,
    );
  }

  const requestTimeoutMs = Math.round(positiveNumber('REQUEST_TIMEOUT', 300) * 1000);
  const defaultMaxTokens = integer('DEFAULT_MAX_TOKENS', 4096, 0, 10_000_000);
  const bodyLimitBytes = Math.round(positiveNumber('BODY_LIMIT_MB', 50) * 1024 * 1024);
  // Bodies cost the heap two to four times their size once parsed: an eighth of the heap limit.
  const maxBodyMemoryBytes = ['auto', undefined].includes(text('MAX_BODY_MEMORY_MB')?.toLowerCase())
    ? Math.max(bodyLimitBytes, Math.floor(getHeapStatistics().heap_size_limit / 8))
    : Math.round(positiveNumber('MAX_BODY_MEMORY_MB', 1) * 1024 * 1024);
  if (maxBodyMemoryBytes < bodyLimitBytes) {
    problems.push('MAX_BODY_MEMORY_MB must be at least BODY_LIMIT_MB (or auto)');
  }
  const upstreamMaxRetries = integer('UPSTREAM_MAX_RETRIES', 2, 0, 10);
  const upstreamConnectTimeoutMs = Math.round(positiveNumber('UPSTREAM_CONNECT_TIMEOUT', 10) * 1000);
  const streamIdleTimeoutMs = Math.round(positiveNumber('STREAM_IDLE_TIMEOUT', 60) * 1000);
  const requestTotalTimeoutMs = Math.round(positiveNumber('REQUEST_TOTAL_TIMEOUT', 1800) * 1000);
  const upstreamMaxResponseBytes = Math.round(positiveNumber('UPSTREAM_MAX_RESPONSE_MB', 128) * 1024 * 1024);
  const shutdownTimeoutMs = Math.round(positiveNumber('SHUTDOWN_TIMEOUT', 30) * 1000);
  const workers =
    text('WORKERS')?.toLowerCase() === 'auto' ? availableParallelism() : integer('WORKERS', 1, 1, 256);
  const maxConcurrentRequests = integer('MAX_CONCURRENT_REQUESTS', 1024, 0, 1_000_000);
  const metricsRequireKey = boolean('METRICS_REQUIRE_KEY', false);
  const docsRequireKey = boolean('DOCS_REQUIRE_KEY', false);
  const requestsPerMinute = integer('RATE_LIMIT_RPM', 0, 0, 100_000_000);
  const tokensPerMinute = integer('RATE_LIMIT_TPM', 0, 0, 1_000_000_000);
  const perKey = new Map<string, { requestsPerMinute: number; tokensPerMinute: number }>();
  for (const [index, entry] of (text('RATE_LIMITS') ?? '').split(',').entries()) {
    if (entry.trim() === '') continue;
    // <gateway key>:<requests per minute>:<tokens per minute>; the key itself is never echoed.
    const match = /^(.+):(\d+):(\d+)$/.exec(entry.trim());
    if (!match) {
      problems.push(
        `RATE_LIMITS entry ${index + 1} must look like <key>:<requests per minute>:<tokens per minute>`,
      );
      continue;
    }
    perKey.set(match[1]!, { requestsPerMinute: Number(match[2]), tokensPerMinute: Number(match[3]) });
  }
  const upstreamNetwork = readUpstreamNetwork(env, text, boolean, problems);
  const redis = readRedis(text, positiveNumber, problems);
  const modelsCacheTtlMs = Math.round(positiveNumber('MODELS_CACHE_TTL', 600) * 1000);
  const modelValidation = boolean('MODEL_VALIDATION', true);
  const truncateSetting = text('EMBEDDINGS_TRUNCATE_INPUT_TOKENS')?.toLowerCase() ?? 'max';
  const embeddingsTruncateInputTokens =
    truncateSetting === 'max' ? 'max' : integer('EMBEDDINGS_TRUNCATE_INPUT_TOKENS', 0, 0, 10_000_000);
  const production = text('NODE_ENV') === 'production';
  const forceSimulator = boolean('WATSONX_SIMULATOR');

  const credentials = readCredentialSources(env);
  const projectId = text('WATSONX_PROJECT_ID');
  const spaceId = text('WATSONX_SPACE_ID');
  const anyIbmSetting = credentials.any || projectId !== undefined || spaceId !== undefined;

  let upstream: UpstreamConfig = { mode: 'simulator' };
  if (!forceSimulator && anyIbmSetting) {
    // Neither: every request names its project or space in a header (or calls a deployment).
    if (projectId !== undefined && spaceId !== undefined) {
      problems.push('set only one of WATSONX_PROJECT_ID and WATSONX_SPACE_ID');
    }
    const cluster = text('WATSONX_CLUSTER') ?? 'us-south';
    if (!/^[a-z0-9-]+$/.test(cluster)) {
      problems.push(`WATSONX_CLUSTER must be a region such as us-south or eu-de (got "${cluster}")`);
    }
    // The IBM SDK's service URL (WATSONX_AI_SERVICE_URL / WATSONX_AI_URL) stands in for WATSONX_URL.
    const sdkUrl = credentials.source?.serviceUrl;
    const watsonxUrl =
      text('WATSONX_URL') === undefined && sdkUrl
        ? url(sdkUrl.name, sdkUrl.value)
        : url('WATSONX_URL', `https://${cluster}.ml.cloud.ibm.com`);
    const perClient = readPerClient(text, integer, problems);
    const auth = resolveUpstreamAuth(credentials, {
      watsonxUrl,
      watsonxUrlGiven: text('WATSONX_URL') !== undefined || sdkUrl !== undefined,
      perClient: perClient !== undefined,
      iamUrl: iamUrlSetting(text, url, problems),
      authUrl: text('WATSONX_AUTH_URL') === undefined ? undefined : url('WATSONX_AUTH_URL', ''),
      checkUrl: url,
      problems,
    });
    upstream = {
      mode: 'ibm',
      watsonxUrl,
      auth,
      clientCredentials: perClient,
      container:
        projectId !== undefined
          ? { project_id: projectId }
          : spaceId !== undefined
            ? { space_id: spaceId }
            : undefined,
    };
  } else if (production && !forceSimulator) {
    problems.push(
      'NODE_ENV=production but no IBM credentials are set: set IBM_CLOUD_API_KEY and WATSONX_PROJECT_ID ' +
        '(or WATSONX_SPACE_ID), or set WATSONX_SIMULATOR=true to serve from the built-in simulator on purpose',
    );
  }

  const tracing = readTracing(text, problems);

  const { deploymentAliases, allowedProjects, allowedSpaces } = readContainers(text, problems);

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    host,
    port,
    logLevel,
    gatewayApiKeys: Object.freeze(gatewayApiKeys),
    allowedOrigins: allowedOrigins === '*' ? '*' : Object.freeze(allowedOrigins),
    modelMap,
    deploymentAliases,
    allowedProjects,
    allowedSpaces,
    upstream: Object.freeze(upstream),
    apiVersion,
    requestTimeoutMs,
    defaultMaxTokens,
    bodyLimitBytes,
    maxBodyMemoryBytes,
    upstreamMaxRetries,
    upstreamConnectTimeoutMs,
    upstreamNetwork: Object.freeze(upstreamNetwork),
    streamIdleTimeoutMs,
    requestTotalTimeoutMs,
    upstreamMaxResponseBytes,
    shutdownTimeoutMs,
    workers,
    maxConcurrentRequests,
    metricsRequireKey,
    docsRequireKey,
    rateLimits: { requestsPerMinute, tokensPerMinute, perKey },
    redis: redis && Object.freeze(redis),
    modelsCacheTtlMs,
    modelValidation,
    embeddingsTruncateInputTokens,
    production,
    tracing: tracing && Object.freeze(tracing),
  });
}

/** UPSTREAM_CREDENTIALS (server | client) and, for client, CLIENT_KEY_CACHE_SIZE. */
function readPerClient(
  text: (name: string) => string | undefined,
  integer: (name: string, fallback: number, min: number, max: number) => number,
  problems: string[],
): { cacheSize: number } | undefined {
  const raw = text('UPSTREAM_CREDENTIALS')?.toLowerCase() ?? 'server';
  if (raw !== 'server' && raw !== 'client') {
    problems.push(`UPSTREAM_CREDENTIALS must be server or client (got "${raw}")`);
    return undefined;
  }
  const cacheSize = integer('CLIENT_KEY_CACHE_SIZE', 1000, 1, 1_000_000);
  return raw === 'client' ? { cacheSize } : undefined;
}

/** IBM_IAM_URL or LiteLLM's WATSONX_IAM_URL (either the base or the full /identity/token URL). */
function iamUrlSetting(
  text: (name: string) => string | undefined,
  url: (name: string, fallback: string) => string,
  problems: string[],
): string | undefined {
  const given = ['IBM_IAM_URL', 'WATSONX_IAM_URL'].filter((name) => text(name) !== undefined);
  if (given.length === 2 && text('IBM_IAM_URL') !== text('WATSONX_IAM_URL')) {
    problems.push('IBM_IAM_URL and WATSONX_IAM_URL differ: set only one');
  }
  return given[0] === undefined ? undefined : url(given[0], '');
}
// --- IBM credentials: which auth mode, from which source -------------------------------------

/** WATSONX_AUTH_TYPE: how the gateway authenticates to watsonx.ai. */
export type AuthType = 'iam' | 'bearer' | 'cp4d' | 'zenapikey' | 'aws' | 'none';
const AUTH_TYPES: readonly AuthType[] = ['iam', 'bearer', 'cp4d', 'zenapikey', 'aws', 'none'];

/** The credential of each mode (secrets: never logged nor echoed). */
export type UpstreamAuth =
  /** IBM Cloud API key exchanged at IAM; apiKey is '' when each client brings its own. */
  | { type: 'iam'; iamUrl: string; apiKey: string }
  /** Cloud Pak for Data: username and exactly one of password and (platform) apiKey, at /authorize. */
  | { type: 'cp4d'; authorizeUrl: string; username: string; password?: string; apiKey?: string }
  /** watsonx on AWS: IBM SaaS API key exchanged at the account IAM; '' when each client brings its own. */
  | { type: 'aws'; tokenUrl: string; apiKey: string }
  /** A token minted elsewhere, sent as `Bearer <token>` until it expires. */
  | { type: 'bearer'; token: string }
  /** `ZenApiKey <zenApiKey>`: base64 of `username:apikey`. */
  | { type: 'zenapikey'; zenApiKey: string }
  /** The client's own Authorization header is sent to watsonx unchanged. */
  | { type: 'none' };

/** A variable as read: its name (for messages) and value (never echoed). */
interface Setting {
  name: string;
  value: string;
}

/** The credential settings of one source: the gateway's names, the IBM SDK's, or a credentials file. */
interface CredentialSource {
  /** How messages name where the settings came from. */
  where: string;
  type?: Setting;
  apiKey?: Setting;
  token?: Setting;
  zenApiKey?: Setting;
  username?: Setting;
  password?: Setting;
  /** The SDK's service URL (WATSONX_AI_SERVICE_URL / WATSONX_AI_URL): the watsonx URL. */
  serviceUrl?: Setting;
  /** The SDK's WATSONX_AI_AUTH_URL: the token server. */
  authUrl?: Setting;
}

/** What readCredentialSources found, before the mode is decided. */
export interface CredentialSources {
  /** Any credential, auth type or per-client setting: the gateway is meant to reach IBM. */
  any: boolean;
  /** The one source in use (undefined: none holds credentials). */
  source: CredentialSource | undefined;
  /** Problems found reading them, reported only when the gateway is in IBM mode. */
  problems: string[];
}

const CREDENTIAL_FIELDS = ['type', 'apiKey', 'token', 'zenApiKey', 'username', 'password'] as const;
/** The IBM SDK's names (ibm-cloud-sdk-core: service `watsonx_ai`, prefix WATSONX_AI_). */
const SDK_NAMES = {
  type: ['WATSONX_AI_AUTH_TYPE', 'WATSONX_AI_AUTHTYPE'],
  apiKey: ['WATSONX_AI_APIKEY'],
  token: ['WATSONX_AI_BEARER_TOKEN'],
  username: ['WATSONX_AI_USERNAME'],
  password: ['WATSONX_AI_PASSWORD'],
  serviceUrl: ['WATSONX_AI_SERVICE_URL', 'WATSONX_AI_URL'],
  authUrl: ['WATSONX_AI_AUTH_URL'],
} as const;

/**
 * The gateway's names (WATSONX_AUTH_TYPE, IBM_CLOUD_API_KEY / WATSONX_APIKEY / WATSONX_API_KEY,
 * WATSONX_TOKEN, WATSONX_ZENAPIKEY, WATSONX_USERNAME, WATSONX_PASSWORD), the IBM SDK's WATSONX_AI_*
 * names, and the SDK's credentials file (IBM_CREDENTIALS_FILE): like IBM's SDK core, one source
 * only. Unlike it, credentials in two sources are refused rather than one silently ignored, and
 * the file is read only when IBM_CREDENTIALS_FILE names it (no search of ./ and ~/).
 */
export function readCredentialSources(env: Environment): CredentialSources {
  const problems: string[] = [];
  const value = (source: Environment, name: string): Setting | undefined => {
    const raw = source[name]?.trim();
    return raw === undefined || raw === '' ? undefined : { name, value: raw };
  };
  const first = (source: Environment, names: readonly string[]) =>
    names.map((name) => value(source, name)).find((setting) => setting !== undefined);

  // The API key's three names (the seed's, LiteLLM's two): the same value under several is fine.
  const keys = ['IBM_CLOUD_API_KEY', 'WATSONX_APIKEY', 'WATSONX_API_KEY']
    .map((name) => value(env, name))
    .filter((setting) => setting !== undefined);
  if (new Set(keys.map((key) => key.value)).size > 1) {
    problems.push(`${keys.map((key) => key.name).join(', ')} hold different API keys: set only one`);
  }
  const own: CredentialSource = {
    where: 'the environment',
    type: value(env, 'WATSONX_AUTH_TYPE'),
    apiKey: keys[0],
    token: value(env, 'WATSONX_TOKEN'),
    zenApiKey: value(env, 'WATSONX_ZENAPIKEY'),
    username: value(env, 'WATSONX_USERNAME'),
    password: value(env, 'WATSONX_PASSWORD'),
  };
  const sdk = (source: Environment, where: string): CredentialSource => ({
    where,
    type: first(source, SDK_NAMES.type),
    apiKey: first(source, SDK_NAMES.apiKey),
    token: first(source, SDK_NAMES.token),
    username: first(source, SDK_NAMES.username),
    password: first(source, SDK_NAMES.password),
    serviceUrl: first(source, SDK_NAMES.serviceUrl),
    authUrl: first(source, SDK_NAMES.authUrl),
  });
  const sources = [own, sdk(env, 'the WATSONX_AI_* variables')];
  const filePath = env.IBM_CREDENTIALS_FILE?.trim() || undefined;
  if (filePath) {
    const file = readCredentialsFile(filePath, problems);
    if (file) {
      const fromFile = sdk(file.env, `IBM_CREDENTIALS_FILE (${file.path})`);
      if (!CREDENTIAL_FIELDS.some((field) => fromFile[field] !== undefined)) {
        problems.push(`IBM_CREDENTIALS_FILE: "${file.path}" holds no WATSONX_AI_* credentials`);
      }
      sources.push(fromFile);
    }
  }
  const holding = sources.filter((source) => CREDENTIAL_FIELDS.some((field) => source[field] !== undefined));
  if (holding.length > 1) {
    problems.push(
      `IBM credentials are set in more than one place (${holding.map(describeSource).join('; and ')}): ` +
        'keep one, the gateway does not combine them',
    );
  }
  const perClient = env.UPSTREAM_CREDENTIALS?.trim().toLowerCase() === 'client';
  return {
    any: holding.length > 0 || filePath !== undefined || perClient,
    source: holding[0],
    problems,
  };
}

function describeSource(source: CredentialSource): string {
  const names = CREDENTIAL_FIELDS.map((field) => source[field]?.name).filter((name) => name !== undefined);
  return `${names.join(', ')} in ${source.where}`;
}

/** The credentials file: a dotenv file, or a directory holding `ibm-credentials.env`. */
function readCredentialsFile(
  path: string,
  problems: string[],
): { path: string; env: Environment } | undefined {
  let file = path;
  try {
    if (statSync(path).isDirectory()) file = `${path.replace(/\/+$/, '')}/ibm-credentials.env`;
    return { path: file, env: parseEnv(readFileSync(file, 'utf8')) };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    problems.push(
      `IBM_CREDENTIALS_FILE: cannot read "${file}"${typeof code === 'string' ? ` (${code})` : ''}`,
    );
    return undefined;
  }
}

/** The IBM SDK's auth type names, mapped to the gateway's. */
const SDK_AUTH_TYPES: Readonly<Record<string, AuthType>> = {
  iam: 'iam',
  bearertoken: 'bearer',
  bearer: 'bearer',
  cp4d: 'cp4d',
  aws: 'aws',
  noauth: 'none',
  none: 'none',
  zenapikey: 'zenapikey',
};

/** Visible ASCII without spaces: what a header credential may hold. */
const DEFAULT_IAM_URL = 'https://iam.cloud.ibm.com';
const HEADER_TOKEN = /^[\x21-\x7e]+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Decides the auth mode from the source in use (WATSONX_AUTH_TYPE, or inferred: a token → bearer, a
 * ZenApiKey → zenapikey, a username → cp4d, an API key alone → iam) and checks that exactly the
 * mode's settings are there. Problems name variables, never values.
 */
export function resolveUpstreamAuth(
  sources: CredentialSources,
  options: {
    watsonxUrl: string;
    /** The watsonx URL was given (WATSONX_URL, or the SDK's URL), not derived from the region. */
    watsonxUrlGiven: boolean;
    /** UPSTREAM_CREDENTIALS=client: each client's API key, no server credential. */
    perClient: boolean;
    /** IBM_IAM_URL / WATSONX_IAM_URL when set (validated by the caller). */
    iamUrl: string | undefined;
    /** WATSONX_AUTH_URL (validated by the caller). */
    authUrl: string | undefined;
    checkUrl: (name: string, value: string) => string;
    problems: string[];
  },
): UpstreamAuth {
  const { problems, perClient } = options;
  problems.push(...sources.problems);
  const source: CredentialSource = sources.source ?? { where: 'the environment' };
  const authUrl =
    options.authUrl ?? (source.authUrl && options.checkUrl(source.authUrl.name, source.authUrl.value));
  const has = (field: (typeof CREDENTIAL_FIELDS)[number]) => source[field] !== undefined;
  const names = (...fields: Array<(typeof CREDENTIAL_FIELDS)[number]>) =>
    fields.map((field) => source[field]?.name).filter((name) => name !== undefined);
  // What the messages call the API key when it is not set: the name the source would use.
  const apiKeyName = source.where === 'the environment' ? 'IBM_CLOUD_API_KEY' : 'WATSONX_AI_APIKEY';

  let type: AuthType | undefined;
  if (source.type) {
    const raw = source.type.value.toLowerCase();
    type =
      source.type.name === 'WATSONX_AUTH_TYPE'
        ? AUTH_TYPES.find((known) => known === raw)
        : SDK_AUTH_TYPES[raw];
    if (type === undefined) {
      problems.push(
        raw === 'zen'
          ? `${source.type.name}=zen needs code (a requestToken function) in IBM's SDK: use WATSONX_ZENAPIKEY, or WATSONX_AUTH_TYPE=zenapikey with WATSONX_USERNAME and WATSONX_API_KEY`
          : `${source.type.name} must be one of ${AUTH_TYPES.join(', ')} (got "${source.type.value}")`,
      );
      return { type: 'none' };
    }
  } else {
    const inferred: AuthType[] = [];
    if (has('token')) inferred.push('bearer');
    if (has('zenApiKey')) inferred.push('zenapikey');
    if (has('username') || has('password')) inferred.push('cp4d');
    if (has('apiKey') && !has('username') && !has('password')) inferred.push('iam');
    if (inferred.length > 1) {
      problems.push(
        `${names('apiKey', 'token', 'zenApiKey', 'username', 'password').join(', ')} are set together: ` +
          `say which to use with WATSONX_AUTH_TYPE (${AUTH_TYPES.join(', ')}) or keep one credential`,
      );
      return { type: 'none' };
    }
    type = inferred[0] ?? 'iam';
    if (inferred.length === 0 && !perClient) {
      problems.push(
        `${apiKeyName} is required (an IBM Cloud API key), or another credential: WATSONX_TOKEN, ` +
          'WATSONX_ZENAPIKEY, or WATSONX_USERNAME with WATSONX_PASSWORD (see WATSONX_AUTH_TYPE)',
      );
      return { type: 'iam', iamUrl: options.iamUrl ?? DEFAULT_IAM_URL, apiKey: '' };
    }
  }

  // Settings that do not belong to the mode are refused, not ignored.
  const allowed: Record<AuthType, Array<(typeof CREDENTIAL_FIELDS)[number]>> = {
    iam: perClient ? [] : ['apiKey'],
    aws: perClient ? [] : ['apiKey'],
    bearer: ['token'],
    cp4d: ['username', 'password', 'apiKey'],
    zenapikey: ['zenApiKey', 'username', 'apiKey'],
    none: [],
  };
  const extra = names(...(['apiKey', 'token', 'zenApiKey', 'username', 'password'] as const)).filter(
    (name) => !allowed[type].some((field) => source[field]?.name === name),
  );
  if (perClient && type !== 'iam' && type !== 'aws') {
    problems.push(
      `UPSTREAM_CREDENTIALS=client exchanges each client's API key at IAM (WATSONX_AUTH_TYPE=iam) or, ` +
        `for watsonx on AWS, at its token server (aws); not with WATSONX_AUTH_TYPE=${type}` +
        (type === 'none' ? " (none already forwards each client's own Authorization header)" : ''),
    );
    return { type: 'none' };
  }
  if (extra.length > 0) {
    problems.push(
      perClient
        ? `UPSTREAM_CREDENTIALS=client takes each client's own API key: remove ${extra.join(', ')}`
        : `WATSONX_AUTH_TYPE=${type} does not use ${extra.join(', ')}: remove ${extra.length > 1 ? 'them' : 'it'} ` +
            'or choose another WATSONX_AUTH_TYPE',
    );
  }
  const needsUrl = (example: string) => {
    if (!options.watsonxUrlGiven) {
      problems.push(`WATSONX_URL is required with WATSONX_AUTH_TYPE=${type}: ${example}`);
    }
  };
  const headerValue = (setting: Setting, scheme: string): string => {
    const value = setting.value.replace(new RegExp(`^${scheme}\\s+`, 'i'), '');
    if (!HEADER_TOKEN.test(value)) {
      problems.push(`${setting.name} must be one word of visible characters (no spaces or line breaks)`);
    }
    return value;
  };

  switch (type) {
    case 'iam':
      if (!perClient && !source.apiKey)
        problems.push(`WATSONX_AUTH_TYPE=iam needs an API key: set ${apiKeyName}`);
      return {
        type: 'iam',
        iamUrl: options.iamUrl ?? authUrl ?? DEFAULT_IAM_URL,
        apiKey: perClient ? '' : (source.apiKey?.value ?? ''),
      };
    case 'aws': {
      needsUrl('the watsonx on AWS URL, such as https://us-east-1.aws.wxai.ibm.com');
      if (!perClient && !source.apiKey)
        problems.push(`WATSONX_AUTH_TYPE=aws needs an API key: set ${apiKeyName}`);
      const tokenUrl = authUrl ?? awsTokenServerFor(options.watsonxUrl);
      if (tokenUrl === undefined && options.watsonxUrlGiven) {
        problems.push(
          'WATSONX_AUTH_URL is required with WATSONX_AUTH_TYPE=aws for this WATSONX_URL (its token server is ' +
            'not known): e.g. https://account-iam.platform.saas.ibm.com',
        );
      }
      return { type: 'aws', tokenUrl: tokenUrl ?? '', apiKey: perClient ? '' : (source.apiKey?.value ?? '') };
    }
    case 'bearer':
      if (!source.token) {
        problems.push('WATSONX_AUTH_TYPE=bearer needs the token: set WATSONX_TOKEN');
        return { type: 'bearer', token: '' };
      }
      return { type: 'bearer', token: headerValue(source.token, 'Bearer') };
    case 'cp4d': {
      needsUrl("the cluster's URL, such as https://cpd-cpd.apps.cluster.example.com");
      const username = source.username?.value;
      const secrets = names('password', 'apiKey');
      if (username === undefined) {
        problems.push(
          `WATSONX_AUTH_TYPE=cp4d needs WATSONX_USERNAME${secrets.length > 0 ? ` (with ${secrets.join(' and ')})` : ' and WATSONX_PASSWORD or an API key'}`,
        );
      } else if (secrets.length !== 1) {
        problems.push(
          secrets.length === 0
            ? `${source.username?.name} needs WATSONX_PASSWORD or an API key (${apiKeyName}) for Cloud Pak for Data`
            : `${secrets.join(' and ')} are both set: Cloud Pak for Data takes exactly one of a password and an API key`,
        );
      }
      return {
        type: 'cp4d',
        authorizeUrl: authUrl ?? options.watsonxUrl,
        username: username ?? '',
        ...(source.password ? { password: source.password.value } : { apiKey: source.apiKey?.value ?? '' }),
      };
    }
    case 'zenapikey': {
      needsUrl("the cluster's URL, such as https://cpd-cpd.apps.cluster.example.com");
      if (source.zenApiKey) {
        if (source.username || source.apiKey) {
          problems.push(
            `${source.zenApiKey.name} is the encoded key already: remove ${names('username', 'apiKey').join(' and ')}`,
          );
        }
        const zenApiKey = headerValue(source.zenApiKey, 'ZenApiKey');
        if (HEADER_TOKEN.test(zenApiKey) && !BASE64.test(zenApiKey)) {
          problems.push(
            `${source.zenApiKey.name} must be base64 of <username>:<api key> ` +
              '(or set WATSONX_USERNAME and WATSONX_API_KEY with WATSONX_AUTH_TYPE=zenapikey)',
          );
        }
        return { type: 'zenapikey', zenApiKey };
      }
      if (!source.username || !source.apiKey) {
        problems.push(
          'WATSONX_AUTH_TYPE=zenapikey needs WATSONX_ZENAPIKEY, or WATSONX_USERNAME with an API key (WATSONX_API_KEY)',
        );
        return { type: 'zenapikey', zenApiKey: '' };
      }
      // base64 of `username:apikey`, without the newline `echo … | base64` adds.
      const encoded = Buffer.from(`${source.username.value}:${source.apiKey.value}`, 'utf8').toString(
        'base64',
      );
      return { type: 'zenapikey', zenApiKey: encoded };
    }
    case 'none':
      return { type: 'none' };
  }
}

/** The OTLP/HTTP JSON exporter's settings and the sampler, from the standard OTEL_* variables. */
export interface TracingConfig {
  /** Where spans are posted: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
  tracesUrl: string;
  /** OTEL_EXPORTER_OTLP_HEADERS: may hold the collector's credentials, never logged. */
  headers: Readonly<Record<string, string>>;
  serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES, e.g. k8s.pod.name from the downward API. */
  resourceAttributes: Readonly<Record<string, string>>;
  sampler: TracingSampler;
  /** OTEL_TRACES_SAMPLER_ARG: the ratio of the *traceidratio samplers. */
  samplerRatio: number;
}

export const TRACING_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type TracingSampler = (typeof TRACING_SAMPLERS)[number];

/**
 * Tracing is on when an OTLP endpoint is set (and OTEL_SDK_DISABLED is not true). Only OTLP over
 * HTTP with JSON bodies is exported; another OTEL_EXPORTER_OTLP_PROTOCOL is refused rather than
 * ignored. Header and attribute values are never echoed (headers may carry credentials).
 */
function readTracing(
  text: (name: string) => string | undefined,
  problems: string[],
): TracingConfig | undefined {
  const base = text('OTEL_EXPORTER_OTLP_ENDPOINT');
  const traces = text('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const disabled = text('OTEL_SDK_DISABLED')?.toLowerCase() === 'true';
  if (disabled || (base === undefined && traces === undefined)) return undefined;
  const endpoint = (name: string, value: string): string => {
    try {
      const parsed = new URL(value);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('protocol');
    } catch {
      problems.push(`${name} must be an http(s) URL${value.includes('@') ? '' : ` (got "${value}")`}`);
    }
    return value;
  };
  // The signal's own endpoint is used as given; the base one gets /v1/traces (the OTLP spec's rule).
  const tracesUrl =
    traces !== undefined
      ? endpoint('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', traces)
      : `${endpoint('OTEL_EXPORTER_OTLP_ENDPOINT', base!).replace(/\/+$/, '')}/v1/traces`;
  const protocol = text('OTEL_EXPORTER_OTLP_PROTOCOL') ?? 'http/json';
  if (protocol !== 'http/json') {
    problems.push(
      `OTEL_EXPORTER_OTLP_PROTOCOL must be http/json, the only protocol the gateway exports (got "${protocol}"); ` +
        'OTLP collectors take it on their HTTP port (4318)',
    );
  }
  const pairs = (name: string): Record<string, string> => {
    const result: Record<string, string> = {};
    for (const [index, entry] of (text(name) ?? '').split(',').entries()) {
      if (entry.trim() === '') continue;
      const at = entry.indexOf('=');
      const key = at > 0 ? entry.slice(0, at).trim() : '';
      let value: string | undefined;
      try {
        value = at > 0 ? decodeURIComponent(entry.slice(at + 1).trim()) : undefined;
      } catch {
        value = undefined;
      }
      if (key === '' || value === undefined) {
        problems.push(`${name} entry ${index + 1} must look like key=value (values percent-encoded)`);
        continue;
      }
      result[key] = value;
    }
    return result;
  };
  const sampler = (text('OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on').toLowerCase() as TracingSampler;
  if (!TRACING_SAMPLERS.includes(sampler)) {
    problems.push(`OTEL_TRACES_SAMPLER must be one of ${TRACING_SAMPLERS.join(', ')} (got "${sampler}")`);
  }
  const ratioRaw = text('OTEL_TRACES_SAMPLER_ARG');
  const samplerRatio = ratioRaw === undefined ? 1 : Number(ratioRaw);
  if (!Number.isFinite(samplerRatio) || samplerRatio < 0 || samplerRatio > 1) {
    problems.push(`OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1 (got "${ratioRaw}")`);
  }
  return {
    tracesUrl,
    headers: Object.freeze(pairs('OTEL_EXPORTER_OTLP_HEADERS')),
    serviceName: text('OTEL_SERVICE_NAME') ?? 'watsonx-openai-proxy',
    resourceAttributes: Object.freeze(pairs('OTEL_RESOURCE_ATTRIBUTES')),
    sampler,
    samplerRatio,
  };
}

/** A watsonx project or space id (a UUID), as WATSONX_ALLOWED_* entries must be. */
const CONTAINER_ID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** A deployment id or serving name, as DEPLOYMENT_ALIASES targets must be (watsonx/deployments.ts). */
const DEPLOYMENT_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** DEPLOYMENT_ALIASES and the allow-lists of per-request containers; problems are added to `problems`. */
function readContainers(
  text: (name: string) => string | undefined,
  problems: string[],
): {
  deploymentAliases: ReadonlyMap<string, string>;
  allowedProjects: ReadonlySet<string> | undefined;
  allowedSpaces: ReadonlySet<string> | undefined;
} {
  const idList = (name: string): ReadonlySet<string> | undefined => {
    const raw = text(name);
    if (raw === undefined) return undefined;
    const ids = raw
      .split(',')
      .map((id) => id.trim())
      .filter((id) => id !== '');
    const bad = ids.filter((id) => !CONTAINER_ID.test(id));
    if (ids.length === 0 || bad.length > 0) {
      problems.push(
        `${name} must be a comma-separated list of watsonx ids (UUIDs)` +
          (bad.length > 0 ? ` (not one: "${bad[0]}")` : ''),
      );
    }
    return new Set(ids.map((id) => id.toLowerCase()));
  };
  const deploymentAliases = new Map<string, string>();
  for (const [index, entry] of (text('DEPLOYMENT_ALIASES') ?? '').split(',').entries()) {
    if (entry.trim() === '') continue;
    // <client model name>=<deployment id or serving name>; `deployment/` before the id is optional.
    const match = /^([^=]+)=(?:deployment\/)?(.+)$/.exec(entry.trim());
    const alias = match?.[1]?.trim();
    const target = match?.[2]?.trim();
    if (!alias || !target || !DEPLOYMENT_ID.test(target)) {
      problems.push(
        `DEPLOYMENT_ALIASES entry ${index + 1} must look like <model name>=<deployment id or serving name> ` +
          '(the id: letters, digits, _ and -)',
      );
      continue;
    }
    deploymentAliases.set(alias, target);
  }
  return {
    deploymentAliases,
    allowedProjects: idList('WATSONX_ALLOWED_PROJECTS'),
    allowedSpaces: idList('WATSONX_ALLOWED_SPACES'),
  };
}

/** Proxies, CAs and TLS verification for the upstream calls; problems are added to `problems`. */
function readUpstreamNetwork(
  env: Environment,
  text: (name: string) => string | undefined,
  boolean: (name: string, fallback: boolean) => boolean,
  problems: string[],
): UpstreamNetwork {
  // The lower-case names win, as with curl and undici.
  const either = (name: string) => (text(name.toLowerCase()) !== undefined ? name.toLowerCase() : name);
  const proxy = (name: string): string | undefined => {
    const raw = text(name);
    if (raw === undefined) return undefined;
    // `proxy.example.com:3128` without a scheme means http://, as curl reads it.
    const value = raw.includes('://') ? raw : `http://${raw}`;
    try {
      const parsed = new URL(value);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('protocol');
    } catch {
      // A value with `@` may hold credentials (user:password@host), so it is not echoed.
      problems.push(
        `${name} must be an http(s) proxy URL such as http://proxy.example.com:3128` +
          (raw.includes('@') ? '' : ` (got "${raw}")`),
      );
    }
    return value;
  };
  const caFile = text('UPSTREAM_CA_FILE');
  const extraCa = caFile === undefined ? undefined : readCertificates(caFile, problems);
  return {
    httpProxy: proxy(either('HTTP_PROXY')),
    httpsProxy: proxy(either('HTTPS_PROXY')),
    noProxy: text(either('NO_PROXY')),
    ca: extraCa && Object.freeze([...defaultCaCertificates(env), ...extraCa]),
    tlsVerify: boolean('UPSTREAM_TLS_VERIFY', true),
  };
}

const REDIS_FAILURE_POLICIES: readonly RedisFailurePolicy[] = ['open', 'closed'];

/** REDIS_URL and its settings; undefined without REDIS_URL. Problems are added to `problems`. */
function readRedis(
  text: (name: string) => string | undefined,
  positiveNumber: (name: string, fallback: number) => number,
  problems: string[],
): RedisConfig | undefined {
  const url = text('REDIS_URL');
  const failurePolicy = (text('REDIS_FAILURE_POLICY') ?? 'open').toLowerCase() as RedisFailurePolicy;
  if (!REDIS_FAILURE_POLICIES.includes(failurePolicy)) {
    problems.push(`REDIS_FAILURE_POLICY must be open or closed (got "${failurePolicy}")`);
  }
  const timeoutMs = Math.max(1, Math.round(positiveNumber('REDIS_TIMEOUT', 0.5) * 1000));
  const keyPrefix = text('REDIS_KEY_PREFIX') ?? 'wxo:';
  if (url === undefined) return undefined;
  let protocol: string | undefined;
  try {
    protocol = new URL(url).protocol;
  } catch {
    // not echoed: the URL may hold a password
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    problems.push('REDIS_URL must be a redis:// or rediss:// URL, e.g. redis://redis:6379/0');
  }
  return { url, failurePolicy, timeoutMs, keyPrefix };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of UPSTREAM_CA_FILE, each checked; a problem when there is none. */
function readCertificates(path: string, problems: string[]): string[] {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    problems.push(`UPSTREAM_CA_FILE: cannot read "${path}"${typeof code === 'string' ? ` (${code})` : ''}`);
    return [];
  }
  const certificates = pem.match(PEM_CERTIFICATE) ?? [];
  if (certificates.length === 0) {
    problems.push(`UPSTREAM_CA_FILE: "${path}" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  certificates.forEach((certificate, index) => {
    try {
      new X509Certificate(certificate);
    } catch {
      problems.push(`UPSTREAM_CA_FILE: certificate ${index + 1} in "${path}" is not a valid certificate`);
    }
  });
  return certificates;
}

/**
 * The CAs Node trusts by default. Passing `ca` to TLS replaces them, so an extra CA is added to this
 * list rather than given alone.
 */
function defaultCaCertificates(env: Environment): string[] {
  // Node >= 22.15: the bundled roots with NODE_EXTRA_CA_CERTS (and the system store when enabled).
  if (typeof tls.getCACertificates === 'function') return tls.getCACertificates('default');
  // Older Node: the bundled roots; NODE_EXTRA_CA_CERTS is read here, as Node reads it for its own list.
  const extraFile = env.NODE_EXTRA_CA_CERTS;
  let extra: string[] = [];
  try {
    if (extraFile) extra = readFileSync(extraFile, 'utf8').match(PEM_CERTIFICATE) ?? [];
  } catch {
    // Node warned about the file at start-up already.
  }
  return [...tls.rootCertificates, ...extra];
}

/** Every variable the gateway reads, for `--help` and the README (kept in step by a test). */
export const ENVIRONMENT_VARIABLES: ReadonlyArray<{ name: string; default: string; meaning: string }> = [
  { name: 'IBM_CLOUD_API_KEY', default: '(none)', meaning: 'IBM Cloud API key, exchanged for IAM tokens' },
  {
    name: 'WATSONX_AUTH_TYPE',
    default: '(inferred)',
    meaning: 'iam, bearer, cp4d, zenapikey, aws or none; else from the credentials set',
  },
  {
    name: 'WATSONX_APIKEY',
    default: '(none)',
    meaning: "the API key under LiteLLM's name (or WATSONX_API_KEY)",
  },
  { name: 'WATSONX_API_KEY', default: '(none)', meaning: 'the API key (IAM, AWS, or a CP4D platform key)' },
  { name: 'WATSONX_TOKEN', default: '(none)', meaning: 'bearer: a token minted elsewhere, sent as is' },
  { name: 'WATSONX_ZENAPIKEY', default: '(none)', meaning: 'zenapikey: base64 of <username>:<api key>' },
  { name: 'WATSONX_USERNAME', default: '(none)', meaning: 'cp4d / zenapikey: the Cloud Pak for Data user' },
  {
    name: 'WATSONX_PASSWORD',
    default: '(none)',
    meaning: "cp4d: the user's password (or an API key instead)",
  },
  {
    name: 'WATSONX_AUTH_URL',
    default: '(per mode)',
    meaning: 'cp4d: authorize URL (default WATSONX_URL); aws: token server (from WATSONX_URL)',
  },
  { name: 'WATSONX_IAM_URL', default: '(IBM_IAM_URL)', meaning: "IAM URL under LiteLLM's name" },
  {
    name: 'IBM_CREDENTIALS_FILE',
    default: '(none)',
    meaning: 'IBM SDK credentials file (or its directory): its WATSONX_AI_* entries',
  },
  {
    name: 'WATSONX_AI_AUTH_TYPE',
    default: '(none)',
    meaning: 'IBM SDK name: iam, bearertoken, cp4d, aws, noauth',
  },
  { name: 'WATSONX_AI_APIKEY', default: '(none)', meaning: 'IBM SDK name of the API key' },
  { name: 'WATSONX_AI_BEARER_TOKEN', default: '(none)', meaning: 'IBM SDK name of the bearer token' },
  { name: 'WATSONX_AI_USERNAME', default: '(none)', meaning: 'IBM SDK name of the CP4D user' },
  { name: 'WATSONX_AI_PASSWORD', default: '(none)', meaning: "IBM SDK name of the CP4D user's password" },
  { name: 'WATSONX_AI_URL', default: '(none)', meaning: 'IBM SDK name of the watsonx (cluster) URL' },
  { name: 'WATSONX_AI_SERVICE_URL', default: '(none)', meaning: "the same, as IBM's IAM example names it" },
  { name: 'WATSONX_AI_AUTH_URL', default: '(none)', meaning: 'IBM SDK name of the token server URL' },
  {
    name: 'UPSTREAM_CREDENTIALS',
    default: 'server',
    meaning: "client: each client's own IBM API key (its Bearer or x-api-key), exchanged per key",
  },
  {
    name: 'CLIENT_KEY_CACHE_SIZE',
    default: '1000',
    meaning: 'client: most client keys whose tokens are cached',
  },
  {
    name: 'WATSONX_PROJECT_ID',
    default: '(none)',
    meaning: 'default watsonx.ai project id (a request may name another: X-Watsonx-Project-Id)',
  },
  {
    name: 'WATSONX_SPACE_ID',
    default: '(none)',
    meaning: 'default deployment space id, instead of a project (per request: X-Watsonx-Space-Id)',
  },
  {
    name: 'WATSONX_ALLOWED_PROJECTS',
    default: '(any)',
    meaning:
      'project ids a request may name in X-Watsonx-Project-Id; comma-separated (with only the spaces list set: none)',
  },
  {
    name: 'WATSONX_ALLOWED_SPACES',
    default: '(any)',
    meaning:
      'space ids a request may name in X-Watsonx-Space-Id; comma-separated (with only the projects list set: none)',
  },
  {
    name: 'DEPLOYMENT_ALIASES',
    default: '(none)',
    meaning: 'model names for deployments: <name>=<deployment id or serving name>,…',
  },
  { name: 'WATSONX_CLUSTER', default: 'us-south', meaning: 'region: https://{region}.ml.cloud.ibm.com' },
  {
    name: 'WATSONX_URL',
    default: '(from region)',
    meaning: 'full watsonx base URL (private endpoints, tests)',
  },
  {
    name: 'IBM_IAM_URL',
    default: 'https://iam.cloud.ibm.com',
    meaning: 'IAM base URL; posts to /identity/token',
  },
  { name: 'WATSONX_API_VERSION', default: DEFAULT_WATSONX_API_VERSION, meaning: 'the `version` date' },
  { name: 'WATSONX_SIMULATOR', default: 'false', meaning: 'true: serve from the built-in simulator' },
  { name: 'HOST', default: '0.0.0.0', meaning: 'address to listen on' },
  { name: 'PORT', default: '8000', meaning: 'port to listen on' },
  { name: 'LOG_LEVEL', default: 'info', meaning: 'fatal, error, warn, info, debug, trace or silent' },
  { name: 'API_KEY', default: '(open)', meaning: 'gateway key(s) clients must send; comma-separated' },
  { name: 'ALLOWED_ORIGINS', default: '*', meaning: 'CORS origins: * or a comma-separated list' },
  { name: 'MODEL_MAP_<NAME>', default: '(none)', meaning: 'alias: client model NAME → watsonx model id' },
  { name: 'REQUEST_TIMEOUT', default: '300', meaning: 'seconds to wait for watsonx before a 504' },
  { name: 'DEFAULT_MAX_TOKENS', default: '4096', meaning: 'output cap when the client sends none; 0: none' },
  { name: 'BODY_LIMIT_MB', default: '50', meaning: 'largest request body accepted (413 above)' },
  {
    name: 'MAX_BODY_MEMORY_MB',
    default: 'auto',
    meaning: 'request bodies held at once (503 past it); auto: 1/8 of the heap limit, at least BODY_LIMIT_MB',
  },
  {
    name: 'UPSTREAM_MAX_RETRIES',
    default: '2',
    meaning: 'retries of watsonx 429/503/504/520 and connection errors',
  },
  { name: 'UPSTREAM_CONNECT_TIMEOUT', default: '10', meaning: 'seconds to open a connection to watsonx' },
  {
    name: 'HTTPS_PROXY',
    default: '(none)',
    meaning: 'proxy for watsonx and IAM calls (or https_proxy); HTTP_PROXY for http:// ones',
  },
  {
    name: 'HTTP_PROXY',
    default: '(none)',
    meaning: 'proxy for http:// upstreams, and https:// without HTTPS_PROXY',
  },
  { name: 'NO_PROXY', default: '(none)', meaning: 'hosts reached without the proxy, comma-separated' },
  {
    name: 'UPSTREAM_CA_FILE',
    default: '(none)',
    meaning: 'PEM file of CAs trusted for watsonx and IAM, on top of the default ones',
  },
  {
    name: 'UPSTREAM_TLS_VERIFY',
    default: 'true',
    meaning: 'false: do not verify the TLS certificates of watsonx and IAM (unsafe)',
  },
  {
    name: 'STREAM_IDLE_TIMEOUT',
    default: '60',
    meaning: 'seconds of silence allowed between stream chunks (either side)',
  },
  { name: 'REQUEST_TOTAL_TIMEOUT', default: '1800', meaning: 'seconds a whole watsonx call may take' },
  {
    name: 'UPSTREAM_MAX_RESPONSE_MB',
    default: '128',
    meaning: 'largest non-stream watsonx answer held (502 above)',
  },
  {
    name: 'WORKERS',
    default: '1',
    meaning: 'processes sharing the port (node:cluster); auto = one per core',
  },
  { name: 'SHUTDOWN_TIMEOUT', default: '30', meaning: 'seconds to drain in-flight requests on SIGTERM' },
  {
    name: 'MAX_CONCURRENT_REQUESTS',
    default: '1024',
    meaning: 'requests served at once; more get 503 (0: no limit)',
  },
  { name: 'METRICS_REQUIRE_KEY', default: 'false', meaning: 'true: /metrics needs the gateway key' },
  { name: 'DOCS_REQUIRE_KEY', default: 'false', meaning: 'true: /docs and /docs/json need the gateway key' },
  { name: 'RATE_LIMIT_RPM', default: '0', meaning: 'requests per minute per gateway key (0: no limit)' },
  { name: 'RATE_LIMIT_TPM', default: '0', meaning: 'tokens per minute per gateway key (0: no limit)' },
  { name: 'RATE_LIMITS', default: '(none)', meaning: 'per-key limits: <key>:<rpm>:<tpm>, comma-separated' },
  {
    name: 'REDIS_URL',
    default: '(none)',
    meaning: 'redis:// or rediss:// (Valkey too): limits and stored Responses shared by all replicas',
  },
  {
    name: 'REDIS_FAILURE_POLICY',
    default: 'open',
    meaning: 'Redis unreachable: open = serve, limits per process; closed = 503',
  },
  { name: 'REDIS_TIMEOUT', default: '0.5', meaning: 'seconds one Redis call may take before it fails' },
  { name: 'REDIS_KEY_PREFIX', default: 'wxo:', meaning: "prefix of the gateway's Redis keys" },
  {
    name: 'MODELS_CACHE_TTL',
    default: '600',
    meaning: 'seconds the watsonx model catalogue is cached',
  },
  {
    name: 'MODEL_VALIDATION',
    default: 'true',
    meaning: 'false: skip the catalogue check of model names before a request',
  },
  {
    name: 'EMBEDDINGS_TRUNCATE_INPUT_TOKENS',
    default: 'max',
    meaning: "embeddings: truncate inputs to this many tokens; max: the model's limit; 0: off",
  },
  { name: 'NODE_ENV', default: '(none)', meaning: 'production: refuse to start without credentials' },
  {
    name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    default: '(none: tracing off)',
    meaning: 'OpenTelemetry collector (OTLP/HTTP); set: tracing on, spans posted to <url>/v1/traces',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    default: '(none)',
    meaning: 'the full traces URL, instead of OTEL_EXPORTER_OTLP_ENDPOINT',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_HEADERS',
    default: '(none)',
    meaning: 'headers for the collector: key=value, comma-separated (may be secret)',
  },
  { name: 'OTEL_EXPORTER_OTLP_PROTOCOL', default: 'http/json', meaning: 'only http/json is exported' },
  { name: 'OTEL_SERVICE_NAME', default: 'watsonx-openai-proxy', meaning: 'service.name of the spans' },
  {
    name: 'OTEL_RESOURCE_ATTRIBUTES',
    default: '(none)',
    meaning: 'more resource attributes: key=value, comma-separated',
  },
  {
    name: 'OTEL_TRACES_SAMPLER',
    default: 'parentbased_always_on',
    meaning: '(parentbased_)always_on, always_off or traceidratio',
  },
  { name: 'OTEL_TRACES_SAMPLER_ARG', default: '1', meaning: 'the ratio of the traceidratio samplers' },
  { name: 'OTEL_SDK_DISABLED', default: 'false', meaning: 'true: no tracing even with an endpoint' },
];
