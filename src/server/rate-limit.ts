// Per-gateway-key request and token budgets, in memory for one process: fixed one-minute windows.
// Tokens are counted after each answer (watsonx reports them), so a window may overshoot by one
// request's tokens; the next request in that window is refused.

export interface Limits {
  requestsPerMinute: number;
  tokensPerMinute: number;
}

interface Window {
  startedAt: number;
  requests: number;
  tokens: number;
}

export interface RateDecision {
  /** undefined when allowed; otherwise which budget is spent. */
  exceeded: 'requests' | 'tokens' | undefined;
  /** Seconds until the window resets. */
  resetSeconds: number;
  /** OpenAI-style x-ratelimit-* headers (only for the budgets that are set). */
  headers: Record<string, string>;
}

const WINDOW_MS = 60_000;

export class RateLimiter {
  private readonly defaults: Limits;
  private readonly perKey: ReadonlyMap<string, Limits>;
  private readonly now: () => number;
  private readonly windows = new Map<string, Window>();

  constructor(defaults: Limits, perKey: ReadonlyMap<string, Limits>, now: () => number = Date.now) {
    this.defaults = defaults;
    this.perKey = perKey;
    this.now = now;
  }

  /** True when no key has any budget: the limiter can be skipped entirely. */
  get disabled(): boolean {
    return (
      this.defaults.requestsPerMinute === 0 &&
      this.defaults.tokensPerMinute === 0 &&
      [...this.perKey.values()].every(
        (limits) => limits.requestsPerMinute === 0 && limits.tokensPerMinute === 0,
      )
    );
  }

  /** Counts one request for `key` if its budgets allow it. */
  take(key: string): RateDecision {
    const limits = this.perKey.get(key) ?? this.defaults;
    const window = this.window(key);
    const resetSeconds = Math.max(1, Math.ceil((window.startedAt + WINDOW_MS - this.now()) / 1000));
    let exceeded: RateDecision['exceeded'];
    if (limits.requestsPerMinute > 0 && window.requests >= limits.requestsPerMinute) exceeded = 'requests';
    else if (limits.tokensPerMinute > 0 && window.tokens >= limits.tokensPerMinute) exceeded = 'tokens';
    else window.requests += 1;
    const headers: Record<string, string> = {};
    if (limits.requestsPerMinute > 0) {
      headers['x-ratelimit-limit-requests'] = String(limits.requestsPerMinute);
      headers['x-ratelimit-remaining-requests'] = String(
        Math.max(0, limits.requestsPerMinute - window.requests),
      );
      headers['x-ratelimit-reset-requests'] = `${resetSeconds}s`;
    }
    if (limits.tokensPerMinute > 0) {
      headers['x-ratelimit-limit-tokens'] = String(limits.tokensPerMinute);
      headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, limits.tokensPerMinute - window.tokens));
      headers['x-ratelimit-reset-tokens'] = `${resetSeconds}s`;
    }
    return { exceeded, resetSeconds, headers };
  }

  /** Adds the tokens an answer used to the key's current window. */
  addTokens(key: string, tokens: number): void {
    if (tokens > 0) this.window(key).tokens += tokens;
  }

  private window(key: string): Window {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || now - window.startedAt >= WINDOW_MS) {
      window = { startedAt: now, requests: 0, tokens: 0 };
      this.windows.set(key, window);
    }
    return window;
  }
}
