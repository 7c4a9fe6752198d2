// Gateway limits on the /v1 routes: a cap on requests served at once (503 past it, instead of
// unbounded queuing) and per-gateway-key request/token budgets (429 with x-ratelimit-* headers).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from './config.ts';
import { ProxyError } from './errors.ts';
import type { Metrics } from './metrics.ts';
import { RateLimiter } from './rate-limit.ts';

/** Requests without a gateway key (API_KEY unset) share one budget. */
const OPEN_KEY = '';

/** Registers the limit hooks; `finished` must be called once when each request ends. */
export function registerLimits(
  app: FastifyInstance,
  config: Config,
  metrics: Metrics,
): { finished: (request: FastifyRequest) => void } {
  const maxConcurrent = config.maxConcurrentRequests;
  let inFlight = 0;
  if (maxConcurrent > 0) {
    // preHandler, after the body arrived: slow uploads must not hold the slots. The slot is given
    // back in `finished`, when what the request started upstream has let go.
    app.addHook('preHandler', (request, _reply, done) => {
      if (!request.gateway.requiresKey) return done();
      if (inFlight >= maxConcurrent) {
        metrics.rejected.inc({ reason: 'concurrency' });
        return done(
          new ProxyError(
            503,
            `The gateway is serving its maximum of ${maxConcurrent} requests; retry shortly.`,
            {
              type: 'server_error',
              code: 'server_overloaded',
              headers: { 'retry-after': '1' },
            },
          ),
        );
      }
      inFlight += 1;
      request.gateway.holdsSlot = true;
      done();
    });
  }
  const release = (request: FastifyRequest) => {
    if (request.gateway.holdsSlot) inFlight -= 1;
  };

  const limiter = new RateLimiter(
    {
      requestsPerMinute: config.rateLimits.requestsPerMinute,
      tokensPerMinute: config.rateLimits.tokensPerMinute,
    },
    config.rateLimits.perKey,
  );
  if (limiter.disabled) return { finished: release };
  app.addHook('onRequest', (request, reply, done) => {
    if (!request.gateway.requiresKey) return done();
    const key = request.gateway.rateKey ?? OPEN_KEY;
    const decision = limiter.take(key);
    reply.headers(decision.headers);
    if (decision.exceeded) {
      metrics.rejected.inc({ reason: decision.exceeded });
      const what = decision.exceeded === 'requests' ? 'requests per minute' : 'tokens per minute';
      return done(
        new ProxyError(
          429,
          `Rate limit reached for ${what} on this gateway key. Please try again in ${decision.resetSeconds}s.`,
          {
            type: decision.exceeded,
            code: 'rate_limit_exceeded',
            headers: { ...decision.headers, 'retry-after': String(decision.resetSeconds) },
          },
        ),
      );
    }
    done();
  });
  return {
    // Also for aborted requests: a client cannot spend tokens and hang up to avoid the count.
    finished(request) {
      release(request);
      const usage = request.gateway.usage ?? request.gateway.upstreamUsage;
      if (usage) limiter.addTokens(request.gateway.rateKey ?? OPEN_KEY, usage.total_tokens ?? 0);
    },
  };
}
