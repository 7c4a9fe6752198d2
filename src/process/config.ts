// The one place configuration is read: environment variables, plus an optional `.env` file
// (real environment variables win over the file). Every problem is reported at once and no
// secret value is ever echoed.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import tls from 'node:tls';
import { parseEnv } from 'node:util';
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
      iamUrl: string;
      apiKey: string;
      container: WatsonxContainer;
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
  upstream: UpstreamConfig;
  apiVersion: string;
  requestTimeoutMs: number;
  /** Output cap sent when the client gives none; 0 sends none (watsonx then caps near 1024 tokens). */
  defaultMaxTokens: number;
  bodyLimitBytes: number;
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

  const apiKey = text('IBM_CLOUD_API_KEY');
  const projectId = text('WATSONX_PROJECT_ID');
  const spaceId = text('WATSONX_SPACE_ID');
  const anyIbmSetting = apiKey !== undefined || projectId !== undefined || spaceId !== undefined;

  let upstream: UpstreamConfig = { mode: 'simulator' };
  if (!forceSimulator && anyIbmSetting) {
    if (apiKey === undefined) problems.push('IBM_CLOUD_API_KEY is required (an IBM Cloud API key)');
    if (projectId === undefined && spaceId === undefined) {
      problems.push('WATSONX_PROJECT_ID or WATSONX_SPACE_ID is required');
    }
    if (projectId !== undefined && spaceId !== undefined) {
      problems.push('set only one of WATSONX_PROJECT_ID and WATSONX_SPACE_ID');
    }
    const cluster = text('WATSONX_CLUSTER') ?? 'us-south';
    if (!/^[a-z0-9-]+$/.test(cluster)) {
      problems.push(`WATSONX_CLUSTER must be a region such as us-south or eu-de (got "${cluster}")`);
    }
    const watsonxUrl = url('WATSONX_URL', `https://${cluster}.ml.cloud.ibm.com`);
    const iamUrl = url('IBM_IAM_URL', 'https://iam.cloud.ibm.com');
    upstream = {
      mode: 'ibm',
      watsonxUrl,
      iamUrl,
      apiKey: apiKey ?? '',
      container: projectId !== undefined ? { project_id: projectId } : { space_id: spaceId ?? '' },
    };
  } else if (production && !forceSimulator) {
    problems.push(
      'NODE_ENV=production but no IBM credentials are set: set IBM_CLOUD_API_KEY and WATSONX_PROJECT_ID ' +
        '(or WATSONX_SPACE_ID), or set WATSONX_SIMULATOR=true to serve from the built-in simulator on purpose',
    );
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    host,
    port,
    logLevel,
    gatewayApiKeys: Object.freeze(gatewayApiKeys),
    allowedOrigins: allowedOrigins === '*' ? '*' : Object.freeze(allowedOrigins),
    modelMap,
    upstream: Object.freeze(upstream),
    apiVersion,
    requestTimeoutMs,
    defaultMaxTokens,
    bodyLimitBytes,
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
  });
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
  { name: 'WATSONX_PROJECT_ID', default: '(none)', meaning: 'watsonx.ai project id sent with every request' },
  { name: 'WATSONX_SPACE_ID', default: '(none)', meaning: 'deployment space id, instead of a project' },
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
];
