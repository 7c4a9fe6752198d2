// The per-key budgets shared by every replica (REDIS_URL): rate-limiter-flexible's RateLimiterRedis
// counts each key's requests and tokens atomically in Redis (one Lua call each: increment, and
// start the one-minute window with the first count). A request increments its requests and adds
// to its tokens what this process counted since (which reads them, and starts both windows with
// the key's first request, as in memory): two calls sent together, one round trip. The tokens of
// an answer are held until the key's next request, or TOKEN_FLUSH_MS at most: a round trip per
// answer saved (on this 2-core VM one costs the gateway ~100 µs of CPU), for a lag of at most
// TOKEN_FLUSH_MS in what the other replicas see. Reading the tokens with the library's get() (a
// MULTI of GET and PTTL) instead of adding to them cost 82 µs of CPU per request against 50 µs
// (a loop of 32 at once). The same decisions and headers as the memory limiter. Keys are stored
// as SHA-256 digests, never as presented. When Redis cannot be reached, REDIS_FAILURE_POLICY
// decides: `open` counts in this process (the memory limiter) until Redis answers again,
// `closed` refuses the request (503).
import { createHash } from 'node:crypto';
import { RateLimiterRedis, type RateLimiterRes } from 'rate-limiter-flexible';
import {
  decide,
  LimitTable,
  type Limits,
  MemoryRateLimiter,
  type RateDecision,
  type RateLimiter,
  WINDOW_MS,
} from './rate-limit.ts';
import type { SharedRedis } from './redis.ts';

const WINDOW_SECONDS = WINDOW_MS / 1000;
/** Longest the tokens counted after an answer wait for the key's next request before being sent. */
export const TOKEN_FLUSH_MS = 100;

export class RedisRateLimiter implements RateLimiter {
  private readonly table: LimitTable;
  private readonly redis: SharedRedis;
  /** Counts of this process alone, used while Redis cannot be reached (policy `open`). */
  private readonly fallback: MemoryRateLimiter;
  private readonly requests: RateLimiterRedis;
  private readonly tokens: RateLimiterRedis;
  /** Tokens counted after answers, not sent yet, by gateway key. */
  private readonly pending = new Map<string, number>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(defaults: Limits, perKey: ReadonlyMap<string, Limits>, redis: SharedRedis) {
    this.table = new LimitTable(defaults, perKey);
    this.redis = redis;
    this.fallback = new MemoryRateLimiter(defaults, perKey);
    // Budgets differ per key, so the limiter never refuses by itself (`penalty` only counts) and the
    // decision is taken here from the counts; `points` is then unused.
    const options = { storeClient: redis.client, duration: WINDOW_SECONDS, points: 1 };
    this.requests = new RateLimiterRedis({ ...options, keyPrefix: `${redis.keyPrefix}rpm` });
    this.tokens = new RateLimiterRedis({ ...options, keyPrefix: `${redis.keyPrefix}tpm` });
    redis.beforeClose(() => this.flush());
  }

  get disabled(): boolean {
    return this.table.disabled;
  }

  async take(key: string): Promise<RateDecision> {
    const limits = this.table.of(key);
    if (limits.requestsPerMinute === 0 && limits.tokensPerMinute === 0) {
      return { exceeded: undefined, resetSeconds: 1, headers: {} };
    }
    if (!this.redis.usable) return this.unavailable(key);
    const id = digest(key);
    const held = this.pending.get(key) ?? 0;
    if (held > 0) this.pending.delete(key);
    try {
      const [requests, tokens] = await Promise.all([
        limits.requestsPerMinute > 0 ? this.requests.penalty(id, 1) : undefined,
        limits.tokensPerMinute > 0 ? this.tokens.penalty(id, held) : undefined,
      ]);
      this.redis.succeeded();
      const decision = decide(
        limits,
        requests && count(requests),
        tokens && count(tokens),
        requests === undefined || requests.consumedPoints <= limits.requestsPerMinute,
      );
      // As in memory, a request refused for its tokens does not spend a request.
      if (decision.exceeded === 'tokens' && requests) void this.giveBack(id);
      return decision;
    } catch (error) {
      if (held > 0) this.fallback.addTokens(key, held);
      return this.unavailable(key, error);
    }
  }

  addTokens(key: string, tokens: number): void {
    const points = Math.round(tokens);
    if (points <= 0 || this.table.of(key).tokensPerMinute === 0) return;
    if (!this.redis.usable) {
      this.redis.failed('tokens');
      this.fallback.addTokens(key, points);
      return;
    }
    this.pending.set(key, (this.pending.get(key) ?? 0) + points);
    this.flushTimer ??= setTimeout(() => void this.flush(), TOKEN_FLUSH_MS).unref();
  }

  /** Sends the tokens no request took along; on failure they count in this process. */
  private async flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const held = [...this.pending];
    this.pending.clear();
    await Promise.all(
      held.map(async ([key, points]) => {
        if (!this.redis.usable) {
          this.redis.failed('tokens');
          this.fallback.addTokens(key, points);
          return;
        }
        try {
          await this.tokens.penalty(digest(key), points);
          this.redis.succeeded();
        } catch (error) {
          this.redis.failed('tokens', error);
          this.fallback.addTokens(key, points);
        }
      }),
    );
  }

  private async giveBack(id: string): Promise<void> {
    try {
      await this.requests.reward(id, 1);
    } catch (error) {
      this.redis.failed('rate_limit', error);
    }
  }

  private unavailable(key: string, error?: unknown): RateDecision {
    this.redis.failed('rate_limit', error);
    if (this.redis.failurePolicy === 'open') return this.fallback.takeNow(key);
    return { exceeded: 'unavailable', resetSeconds: 1, headers: {} };
  }
}

function count(result: RateLimiterRes): { used: number; resetMs: number } {
  return { used: result.consumedPoints, resetMs: result.msBeforeNext };
}

/** The key as stored in Redis: a digest, so Redis never holds gateway keys. */
function digest(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}
