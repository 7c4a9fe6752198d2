// Prometheus metrics (GET /metrics), all prom-client's. One registry per gateway instance: no
// module-level state.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'gateway_requests_total',
    help: 'Requests answered, by route, status and client model name',
    labelNames: ['route', 'status', 'model'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'gateway_request_duration_seconds',
    help: 'Time from request to the end of the response, by route',
    labelNames: ['route'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly timeToFirstToken = new Histogram({
    name: 'gateway_stream_time_to_first_token_seconds',
    help: 'Time from request to the first generated text of a stream, by route',
    labelNames: ['route'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: 'gateway_tokens_total',
    help: 'Tokens reported by watsonx, by model and kind (prompt or completion)',
    labelNames: ['model', 'kind'] as const,
    registers: [this.registry],
  });
  readonly upstreamErrors = new Counter({
    name: 'gateway_upstream_errors_total',
    help: 'Error answers from watsonx, by HTTP status and watsonx error code',
    labelNames: ['status', 'code'] as const,
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: 'gateway_upstream_retries_total',
    help: 'Retried watsonx calls, by operation and reason (status or connection)',
    labelNames: ['operation', 'reason'] as const,
    registers: [this.registry],
  });
  readonly iamFetches = new Counter({
    name: 'gateway_iam_token_fetches_total',
    help: 'IBM Cloud IAM token exchanges, by outcome (success or failure)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  /**
   * Per-user requests and tokens (UPSTREAM_CREDENTIALS=client / WATSONX_AUTH_TYPE=none): one series
   * per credential that had a request succeed (userLabel), at most MAX_USER_SERIES; `other` for the rest.
   */
  readonly userRequests = new Counter({
    name: 'gateway_user_requests_total',
    help:
      "Requests answered per user (the first 16 hex digits of the SHA-256 of the user's IBM credential, " +
      'once a request with it succeeded; else "other") and status',
    labelNames: ['user', 'status'] as const,
    registers: [this.registry],
  });
  readonly userTokens = new Counter({
    name: 'gateway_user_tokens_total',
    help: 'Tokens per user (credential hash prefix) and kind (prompt, completion)',
    labelNames: ['user', 'kind'] as const,
    registers: [this.registry],
  });
  readonly streamsInFlight = new Gauge({
    name: 'gateway_streams_in_flight',
    help: 'Streaming responses currently open',
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'gateway_rejected_requests_total',
    help: 'Requests refused by the gateway limits, by reason (concurrency, requests, tokens, rate_limit_unavailable)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly redisFailures = new Counter({
    name: 'gateway_redis_failures_total',
    help: 'Redis calls that failed, or were skipped while Redis was unreachable, by use (rate_limit, tokens, response_store)',
    labelNames: ['use'] as const,
    registers: [this.registry],
  });

  /** The users with series of their own (bounded: labels come from what clients send). */
  readonly #users = new Set<string>();
  readonly #maxUserSeries: number;

  constructor(options: { defaultMetrics?: boolean; maxUserSeries?: number } = {}) {
    this.#maxUserSeries = options.maxUserSeries ?? MAX_USER_SERIES;
    // Event-loop delay sampled every 1 ms (prom-client's default, 10 ms, adds 10 ms to every
    // nodejs_eventloop_lag_* sample); the histogram covers the time since the previous scrape.
    if (options.defaultMetrics !== false)
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 1 });
  }

  /**
   * The `user` label of a request's per-user series: the user's own once a request with that
   * credential succeeded (status below 400), so that refused or random credentials, which anyone can
   * send, add no series; `other` for those and past MAX_USER_SERIES users.
   */
  userLabel(user: string, status: number): string {
    if (this.#users.has(user)) return user;
    if (status >= 400 || this.#users.size >= this.#maxUserSeries) return OTHER_USER;
    this.#users.add(user);
    return user;
  }
}

/** Most users with metric series of their own. */
export const MAX_USER_SERIES = 10_000;
const OTHER_USER = 'other';
