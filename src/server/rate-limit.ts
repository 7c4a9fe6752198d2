// Per-key request and token budgets: fixed one-minute windows, each starting with the key's first
// request. Tokens are counted after each answer (watsonx reports them), so a window may overshoot
// by one request's tokens; the next request in that window is refused. Two implementations of one
// interface: MemoryRateLimiter (one process, the default) and RedisRateLimiter
// (src/server/redis-rate-limit.ts, shared by every replica through REDIS_URL).

export interface Limits {
  requestsPerMinute: number;
  tokensPerMinute: number;
}

export interface RateDecision {
  /**
   * undefined when allowed; otherwise which budget is spent, or `unavailable` when the shared
   * store cannot be reached and REDIS_FAILURE_POLICY=closed.
   */
  exceeded: 'requests' | 'tokens' | 'unavailable' | undefined;
  /** Seconds until the window resets. */
  resetSeconds: number;
  /** OpenAI-style x-ratelimit-* headers (only for the budgets that are set). */
  headers: Record<string, string>;
}

export interface RateLimiter {
  /** True when no key has any budget: the limiter can be skipped entirely. */
  readonly disabled: boolean;
  /** Counts one request for `key` if its budgets allow it. */
  take(key: string): Promise<RateDecision>;
  /** Adds the tokens an answer used to the key's current window. Never throws. */
  addTokens(key: string, tokens: number): void;
}

export const WINDOW_MS = 60_000;

/** Each key's limits: its RATE_LIMITS entry, else the defaults. */
export class LimitTable {
  private readonly defaults: Limits;
  private readonly perKey: ReadonlyMap<string, Limits>;
  readonly disabled: boolean;

  constructor(defaults: Limits, perKey: ReadonlyMap<string, Limits>) {
    this.defaults = defaults;
    this.perKey = perKey;
    this.disabled = [defaults, ...perKey.values()].every(
      (limits) => limits.requestsPerMinute === 0 && limits.tokensPerMinute === 0,
    );
  }

  of(key: string): Limits {
    return this.perKey.get(key) ?? this.defaults;
  }
}

/** The decision and its x-ratelimit-* headers from the counts after this request. */
export function decide(
  limits: Limits,
  requests: { used: number; resetMs: number } | undefined,
  tokens: { used: number; resetMs: number } | undefined,
  requestCounted: boolean,
): RateDecision {
  const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
  let exceeded: RateDecision['exceeded'];
  if (limits.requestsPerMinute > 0 && requests && !requestCounted) exceeded = 'requests';
  else if (limits.tokensPerMinute > 0 && tokens && tokens.used >= limits.tokensPerMinute) exceeded = 'tokens';
  const headers: Record<string, string> = {};
  if (limits.requestsPerMinute > 0 && requests) {
    headers['x-ratelimit-limit-requests'] = String(limits.requestsPerMinute);
    headers['x-ratelimit-remaining-requests'] = String(Math.max(0, limits.requestsPerMinute - requests.used));
    headers['x-ratelimit-reset-requests'] = `${seconds(requests.resetMs)}s`;
  }
  if (limits.tokensPerMinute > 0 && tokens) {
    headers['x-ratelimit-limit-tokens'] = String(limits.tokensPerMinute);
    headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, limits.tokensPerMinute - tokens.used));
    headers['x-ratelimit-reset-tokens'] = `${seconds(tokens.resetMs)}s`;
  }
  const resetSeconds =
    exceeded === 'tokens' && tokens
      ? seconds(tokens.resetMs)
      : seconds(requests?.resetMs ?? tokens?.resetMs ?? 0);
  return { exceeded, resetSeconds, headers };
}

interface Window {
  startedAt: number;
  requests: number;
  tokens: number;
}

/** The budgets of one process, in memory. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly table: LimitTable;
  private readonly now: () => number;
  private readonly windows = new Map<string, Window>();
  /**
   * When the windows that ended are next forgotten: with per-user IBM credentials every credential a
   * client makes up is a key, so keys are not a bounded set.
   */
  private sweepAt = 0;

  constructor(defaults: Limits, perKey: ReadonlyMap<string, Limits>, now: () => number = Date.now) {
    this.table = new LimitTable(defaults, perKey);
    this.now = now;
  }

  get disabled(): boolean {
    return this.table.disabled;
  }

  async take(key: string): Promise<RateDecision> {
    return this.takeNow(key);
  }

  /** take(), synchronously (the fallback of the Redis limiter uses it too). */
  takeNow(key: string): RateDecision {
    const limits = this.table.of(key);
    const window = this.window(key);
    const tokensOver = limits.tokensPerMinute > 0 && window.tokens >= limits.tokensPerMinute;
    const requestsOver = limits.requestsPerMinute > 0 && window.requests >= limits.requestsPerMinute;
    // A request refused for either budget is not counted.
    const counted = !requestsOver && !tokensOver;
    if (counted) window.requests += 1;
    const resetMs = window.startedAt + WINDOW_MS - this.now();
    return decide(
      limits,
      { used: window.requests, resetMs },
      { used: window.tokens, resetMs },
      !requestsOver,
    );
  }

  addTokens(key: string, tokens: number): void {
    if (tokens > 0) this.window(key).tokens += tokens;
  }

  /** Keys with a window held now (for tests). */
  get size(): number {
    return this.windows.size;
  }

  private window(key: string): Window {
    const now = this.now();
    if (now >= this.sweepAt) {
      for (const [held, window] of this.windows) {
        if (now - window.startedAt >= WINDOW_MS) this.windows.delete(held);
      }
      this.sweepAt = now + WINDOW_MS;
    }
    let window = this.windows.get(key);
    if (!window || now - window.startedAt >= WINDOW_MS) {
      window = { startedAt: now, requests: 0, tokens: 0 };
      this.windows.set(key, window);
    }
    return window;
  }
}
