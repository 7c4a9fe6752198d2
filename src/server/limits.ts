// Gateway limits on the /v1 routes: a cap on requests served at once (503 past it, instead of
// unbounded queuing) and per-gateway-key request/token budgets (429 with x-ratelimit-* headers).
// Applied to every route that needs the gateway key through registerLimitHooks (Fastify hooks).
// The budgets are counted in this process, or in Redis for every replica when REDIS_URL is set.
import type { FastifyInstance } from 'fastify';
import type { Config } from '../process/config.ts';
import { GatewayError } from './errors.ts';
import type { GatewayRequestState } from './lifecycle.ts';
import type { Metrics } from './metrics.ts';
import { MemoryRateLimiter, type RateLimiter } from './rate-limit.ts';
import { RedisRateLimiter } from './redis-rate-limit.ts';
import type { SharedRedis } from './redis.ts';

/** Requests without a gateway key (API_KEY unset) share one budget. */
const OPEN_KEY = '';

export class GatewayLimits {
  private readonly maxConcurrent: number;
  private inFlight = 0;
  private readonly limiter: RateLimiter;
  private readonly metrics: Metrics;

  constructor(config: Config, metrics: Metrics, redis?: SharedRedis) {
    this.maxConcurrent = config.maxConcurrentRequests;
    this.metrics = metrics;
    const defaults = {
      requestsPerMinute: config.rateLimits.requestsPerMinute,
      tokensPerMinute: config.rateLimits.tokensPerMinute,
    };
    this.limiter = redis
      ? new RedisRateLimiter(defaults, config.rateLimits.perKey, redis)
      : new MemoryRateLimiter(defaults, config.rateLimits.perKey);
  }

  /** No key has a budget: admit() need not be called. */
  get unlimited(): boolean {
    return this.limiter.disabled;
  }

  /**
   * Spends one request of the key's budget when the request arrives. `setHeader` receives the
   * x-ratelimit-* headers; a spent budget is the 429 to answer (503 when the shared budgets cannot
   * be read and REDIS_FAILURE_POLICY=closed).
   */
  async admit(
    state: GatewayRequestState,
    setHeader: (name: string, value: string) => void,
  ): Promise<GatewayError | undefined> {
    if (this.limiter.disabled) return undefined;
    const decision = await this.limiter.take(state.rateKey ?? OPEN_KEY);
    for (const name in decision.headers) setHeader(name, decision.headers[name] as string);
    if (!decision.exceeded) return undefined;
    if (decision.exceeded === 'unavailable') {
      this.metrics.rejected.inc({ reason: 'rate_limit_unavailable' });
      return new GatewayError(
        503,
        'The gateway cannot reach the store of its rate limits (Redis); retry shortly.',
        { kind: 'unavailable', code: 'rate_limit_unavailable', headers: { 'retry-after': '1' } },
      );
    }
    this.metrics.rejected.inc({ reason: decision.exceeded });
    const what = decision.exceeded === 'requests' ? 'requests per minute' : 'tokens per minute';
    return new GatewayError(
      429,
      `Rate limit reached for ${what} on this gateway key. Please try again in ${decision.resetSeconds}s.`,
      {
        kind: decision.exceeded === 'requests' ? 'rate_limit_requests' : 'rate_limit_tokens',
        code: 'rate_limit_exceeded',
        headers: { ...decision.headers, 'retry-after': String(decision.resetSeconds) },
      },
    );
  }

  /**
   * Takes a slot once the body arrived (slow uploads must not hold slots); given back by
   * `finished`, when what the request started upstream has let go. Past the cap: the 503 to answer.
   */
  acquire(state: GatewayRequestState): GatewayError | undefined {
    if (this.maxConcurrent <= 0) return undefined;
    if (this.inFlight >= this.maxConcurrent) {
      this.metrics.rejected.inc({ reason: 'concurrency' });
      return new GatewayError(
        503,
        `The gateway is serving its maximum of ${this.maxConcurrent} requests; retry shortly.`,
        { kind: 'overloaded', code: 'server_overloaded', headers: { 'retry-after': '1' } },
      );
    }
    this.inFlight += 1;
    state.holdsSlot = true;
    return undefined;
  }

  /** Once per request, also for aborted ones: a client cannot spend tokens and hang up to avoid the count. */
  finished(state: GatewayRequestState): void {
    if (state.holdsSlot) this.inFlight -= 1;
    if (this.limiter.disabled) return;
    const usage = state.usage ?? state.upstreamUsage;
    if (usage) this.limiter.addTokens(state.rateKey ?? OPEN_KEY, usage.total_tokens ?? 0);
  }
}

/** The same limits for Fastify's routes that need the gateway key (GET /v1/models, /metrics). */
export function registerLimitHooks(app: FastifyInstance, limits: GatewayLimits): void {
  app.addHook('onRequest', (request, reply, done) => {
    if (!request.gateway.requiresKey || limits.unlimited) return done();
    limits.admit(request.gateway, (name, value) => void reply.header(name, value)).then(done, done);
  });
  app.addHook('preHandler', (request, _reply, done) => {
    if (!request.gateway.requiresKey) return done();
    done(limits.acquire(request.gateway));
  });
}
