// Gateway limits on the /v1 routes: a cap on requests served at once (503 past it, instead of
// unbounded queuing), a cap on the bytes of request bodies held at once (503 past it), and
// per-gateway-key request/token budgets (429 with x-ratelimit-* headers). All are taken when a
// request arrives, before its body is read, through registerLimitHooks (Fastify hooks) on every
// route that needs the gateway key.
// The budgets are counted in this process, or in Redis for every replica when REDIS_URL is set.
import { type Readable, Transform } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../process/config.ts';
import { GatewayError } from './errors.ts';
import type { GatewayRequestState } from './lifecycle.ts';
import type { Metrics } from './metrics.ts';
import { MemoryRateLimiter, type RateLimiter } from './rate-limit.ts';
import { RedisRateLimiter } from './redis-rate-limit.ts';
import type { SharedRedis } from './redis.ts';

/**
 * Declared bodies up to this size are held at their size when the request arrives; larger ones
 * and chunked ones are counted as their bytes arrive (a stream per body: ~4 µs).
 */
const SMALL_BODY_BYTES = 64 * 1024;

/** Requests without a gateway key (API_KEY unset) share one budget. */
const OPEN_KEY = '';

export class GatewayLimits {
  private readonly maxConcurrent: number;
  private inFlight = 0;
  private readonly maxBodyBytes: number;
  private readonly bodyLimitBytes: number;
  private bodyBytes = 0;
  /**
   * Requests already accounted for (their connection closed): nothing more is taken for them. A
   * client may leave while its rate limit is decided in Redis, or while its body is still read.
   */
  private readonly accounted = new WeakSet<GatewayRequestState>();
  private readonly limiter: RateLimiter;
  private readonly metrics: Metrics;

  constructor(config: Config, metrics: Metrics, redis?: SharedRedis) {
    this.maxConcurrent = config.maxConcurrentRequests;
    this.maxBodyBytes = config.maxBodyMemoryBytes;
    this.bodyLimitBytes = config.bodyLimitBytes;
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
   * Takes a slot when the request arrives, before its body is read (a body is memory: the cap
   * bounds it); given back by `finished`, when what the request started upstream has let go.
   * Past the cap: the 503 to answer.
   */
  acquire(state: GatewayRequestState): GatewayError | undefined {
    if (this.accounted.has(state)) return clientGone();
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

  /**
   * When a request arrives, for a declared body (Content-Length): one that would not fit beside
   * the bytes held now is refused before a byte of it is read. A small one (SMALL_BODY_BYTES, the
   * usual request) is held at its declared size at once, which spares it the counting stream; a
   * larger one is held as its bytes arrive (countBody), so a client that declares a large body and
   * sends nothing holds nothing. Sizes over BODY_LIMIT_MB (a 413) and invalid ones (a 400) are
   * left to Fastify. Past the cap: the 503 to answer.
   */
  admitDeclaredBody(state: GatewayRequestState, contentLength: string | undefined): GatewayError | undefined {
    if (contentLength === undefined) return undefined;
    const bytes = Number(contentLength);
    if (!(bytes > 0) || bytes > this.bodyLimitBytes) return undefined;
    if (bytes <= SMALL_BODY_BYTES) {
      state.bodyHeldAtOnce = true;
      return this.holdBody(state, bytes);
    }
    return this.bodyBytes + bytes > this.maxBodyBytes ? this.bodyMemoryExhausted() : undefined;
  }

  /** Every body is held as it arrives: its stream fails when a chunk would pass the cap. */
  countBody(state: GatewayRequestState, payload: Readable): Readable {
    const counter = new Transform({
      transform: (chunk: Buffer, _encoding, callback) =>
        callback(this.holdBody(state, chunk.length) ?? null, chunk),
    });
    payload.on('error', (error) => counter.destroy(error));
    return payload.pipe(counter);
  }

  private holdBody(state: GatewayRequestState, bytes: number): GatewayError | undefined {
    // Bytes still read for a request already accounted for go nowhere: not counted (nor refused:
    // an error on a body stream nobody reads any more would be an uncaught exception).
    if (this.accounted.has(state)) return undefined;
    if (this.bodyBytes + bytes > this.maxBodyBytes) return this.bodyMemoryExhausted();
    this.bodyBytes += bytes;
    state.bodyBytes = (state.bodyBytes ?? 0) + bytes;
    return undefined;
  }

  private bodyMemoryExhausted(): GatewayError {
    this.metrics.rejected.inc({ reason: 'body_memory' });
    return new GatewayError(
      503,
      `The gateway holds its maximum of ${+(this.maxBodyBytes / 1024 / 1024).toFixed(1)} MB of request bodies ` +
        '(MAX_BODY_MEMORY_MB); retry shortly.',
      {
        kind: 'overloaded',
        code: 'body_memory_exhausted',
        // No `connection: close`: Node reads the rest of the body and drops it (no memory held),
        // so the client finishes its upload and reads this answer instead of a reset.
        headers: { 'retry-after': '1' },
      },
    );
  }

  /** Bytes of request bodies held now (for tests and /metrics). */
  get heldBodyBytes(): number {
    return this.bodyBytes;
  }

  /** Once per request, also for aborted ones: a client cannot spend tokens and hang up to avoid the count. */
  finished(state: GatewayRequestState): void {
    this.accounted.add(state);
    if (state.holdsSlot) this.inFlight -= 1;
    if (state.bodyBytes !== undefined) this.bodyBytes -= state.bodyBytes;
    state.holdsSlot = false;
    state.bodyBytes = undefined;
    if (this.limiter.disabled) return;
    const usage = state.usage ?? state.upstreamUsage;
    if (usage) this.limiter.addTokens(state.rateKey ?? OPEN_KEY, usage.total_tokens ?? 0);
  }
}

/** What stops a request whose client left before its limits were taken (nobody reads it). */
function clientGone(): GatewayError {
  return new GatewayError(400, 'The client closed the connection before the request was admitted.', {
    code: 'client_closed_request',
  });
}

/**
 * The same limits for every route that needs the gateway key, in this order when the request
 * arrives: the key's rate budgets, a concurrency slot, room for the declared body; then the body's
 * bytes as they are read.
 */
export function registerLimitHooks(app: FastifyInstance, limits: GatewayLimits): void {
  app.addHook('onRequest', (request, reply, done) => {
    if (!request.gateway.requiresKey) return done();
    const admitted = () =>
      done(
        limits.acquire(request.gateway) ??
          limits.admitDeclaredBody(request.gateway, request.headers['content-length']),
      );
    if (limits.unlimited) return admitted();
    limits
      .admit(request.gateway, (name, value) => void reply.header(name, value))
      .then((refused) => (refused ? done(refused) : admitted()), done);
  });
  app.addHook('preParsing', (request, _reply, payload, done) => {
    const hasBody =
      request.headers['transfer-encoding'] !== undefined || request.headers['content-length'] !== undefined;
    if (!request.gateway.requiresKey || !hasBody || request.gateway.bodyHeldAtOnce) {
      return done(null, payload);
    }
    done(null, limits.countBody(request.gateway, payload));
  });
}
