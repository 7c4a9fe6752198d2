// The Redis (or Valkey) connection of one gateway process (REDIS_URL): the per-key limits and the
// stored Responses that every replica shares live there. No call can hang a request: commands fail
// at once while the connection is down (no offline queue, no retries) and after REDIS_TIMEOUT when
// Redis does not answer; after a failure Redis is left alone for a second, so an outage costs the
// requests meanwhile no waiting. Each outage is logged loudly once when it starts and once when it
// ends, and every call it affects is counted in gateway_redis_failures_total{use}.
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import type { RedisConfig, RedisFailurePolicy } from '../process/config.ts';
import type { Metrics } from './metrics.ts';

/** After a failed call, Redis is not called again for this long (the failure policy applies). */
export const REDIS_RETRY_AFTER_MS = 1000;
/** What Redis is used for, the label of gateway_redis_failures_total. */
export type RedisUse = 'rate_limit' | 'tokens' | 'response_store';

export class SharedRedis {
  readonly client: Redis;
  readonly keyPrefix: string;
  readonly failurePolicy: RedisFailurePolicy;
  readonly #metrics: Metrics;
  readonly #log: FastifyBaseLogger;
  readonly #connectTimeoutMs: number;
  readonly #timeoutMs: number;
  readonly #beforeClose: Array<() => Promise<void>> = [];
  #down = false;
  #skipUntil = 0;
  #closed = false;

  constructor(config: RedisConfig, metrics: Metrics, log: FastifyBaseLogger) {
    this.keyPrefix = config.keyPrefix;
    this.failurePolicy = config.failurePolicy;
    this.#metrics = metrics;
    this.#log = log;
    this.#timeoutMs = config.timeoutMs;
    this.#connectTimeoutMs = Math.max(config.timeoutMs, 2000);
    this.client = new Redis(config.url, {
      commandTimeout: config.timeoutMs,
      connectTimeout: this.#connectTimeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Not enableAutoPipelining: measured with wrk (32 connections, RPM and TPM budgets in Redis),
      // it cost ~190 µs of CPU per request over the memory limiter against ~90 µs without.
      // Reconnects forever, at most every 2 s.
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
    });
    this.client.on('error', (error: Error) => {
      if (!this.#closed) this.#outage(error);
    });
    this.client.on('close', () => {
      if (!this.#closed) this.#outage(new Error('the connection to Redis was closed'));
    });
    this.client.on('ready', () => this.succeeded());
  }

  /**
   * Waits for the first connection: true once ready, false on the first connection error or after
   * the connect timeout (ioredis keeps trying in the background).
   */
  async ready(): Promise<boolean> {
    if (this.client.status === 'ready') return true;
    return new Promise((resolve) => {
      const done = (result: boolean) => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        this.client.off('error', onError);
        resolve(result);
      };
      const onReady = () => done(true);
      const onError = () => done(false);
      const timer = setTimeout(() => done(false), this.#connectTimeoutMs);
      this.client.once('ready', onReady);
      this.client.once('error', onError);
    });
  }

  /** Whether to call Redis now: connected, and no failure in the last second. */
  get usable(): boolean {
    return this.client.status === 'ready' && (this.#skipUntil === 0 || performance.now() >= this.#skipUntil);
  }

  /**
   * A call for `use` failed (`error`), or was skipped, Redis being unusable: counted; an outage is
   * logged once.
   */
  failed(use: RedisUse, error?: unknown): void {
    this.#metrics.redisFailures.inc({ use });
    if (error !== undefined) this.#skipUntil = performance.now() + REDIS_RETRY_AFTER_MS;
    this.#outage(error ?? new Error(`the connection to Redis is ${this.client.status}`));
  }

  /** A call succeeded: ends an outage. */
  succeeded(): void {
    this.#skipUntil = 0;
    if (!this.#down) return;
    this.#down = false;
    this.#log.warn('Redis is reachable again: the rate limits and stored Responses are shared again');
  }

  /** `work` is done (within the call timeout) before the connection closes. */
  beforeClose(work: () => Promise<void>): void {
    this.#beforeClose.push(work);
  }

  async close(): Promise<void> {
    const done = Promise.all(this.#beforeClose.map((work) => work()));
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, this.#timeoutMs).unref())]);
    this.#closed = true;
    const quit = this.client.quit().catch(() => undefined);
    const timeout = new Promise((resolve) => setTimeout(resolve, this.#timeoutMs).unref());
    await Promise.race([quit, timeout]);
    this.client.disconnect();
  }

  #outage(error: unknown): void {
    if (this.#down) return;
    this.#down = true;
    const consequence =
      this.failurePolicy === 'open'
        ? 'REDIS_FAILURE_POLICY=open: requests are served, each process counting the rate limits on its own until Redis is back'
        : 'REDIS_FAILURE_POLICY=closed: rate-limited requests get 503 until Redis is back';
    this.#log.error(
      { err: error },
      `*** Redis (REDIS_URL) is unreachable. ${consequence}; stored Responses cannot be read or kept meanwhile ***`,
    );
  }
}
