import { IamError } from './errors.ts';
import type { FetchIamToken } from './iam.ts';
import type { IamTokenResponse } from './types.ts';

export interface TokenState {
  /**
   * The token's life; `static`: a fixed credential (bearer token, ZenApiKey); `per-request`: each
   * request brings its own (UPSTREAM_CREDENTIALS=client, WATSONX_AUTH_TYPE=none).
   */
  status: 'empty' | 'fetching' | 'valid' | 'refreshing' | 'expired' | 'failed' | 'static' | 'per-request';
  /** Expiry announced by IAM, ms epoch. */
  expiresAt?: number;
  /** When a background refresh becomes due, ms epoch. */
  refreshAt?: number;
  /** Message of the last failed attempt (never contains the key or a token). */
  lastError?: string;
}

export interface TokenManagerOptions {
  fetchToken: FetchIamToken;
  /** ms epoch; default Date.now */
  now?: () => number;
  /** Most credentials cached at once; default 1000. */
  maxEntries?: number;
  /** Failures of fetches nobody awaits (background refresh, prefetch). */
  onBackgroundError?: (error: unknown) => void;
  /** Every IAM exchange's outcome (for metrics). */
  onFetch?: (outcome: 'success' | 'failure') => void;
}

const DEFAULT_LIFETIME_MS = 3600_000;
/** Stop using a token this long before its expiry, for clock skew and the request's own travel time. */
const EXPIRY_SKEW_MS = 30_000;
const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
const REFRESH_AT_FRACTION = 0.8;
const BACKGROUND_RETRY_MS = 30_000;
/** After a failed fetch with no usable token, callers fail fast for 1 s, 2 s, 4 s … up to 30 s. */
const FAILURE_BACKOFF_BASE_MS = 1000;
const FAILURE_BACKOFF_MAX_MS = 30_000;

interface CachedToken {
  accessToken: string;
  expiresAt: number;
  usableUntil: number;
  refreshAt: number;
}

interface InFlight {
  promise: Promise<string>;
  /** Nobody awaits it: failures go to onBackgroundError. */
  background: boolean;
}

interface Entry {
  token: CachedToken | undefined;
  inFlight: InFlight | undefined;
  /** Bumped by invalidate(); a fetch started under an older generation may not write its result. */
  generation: number;
  lastError: string | undefined;
  /** No background refresh before this time (set after one failed). */
  backgroundRetryAt: number | undefined;
  hadToken: boolean;
  /** Consecutive failed fetches; during the backoff callers get `lastFailure` without a new IAM call. */
  failures: number;
  retryAt: number | undefined;
  lastFailure: unknown;
}

/**
 * Caches tokens per credential, refreshes them ahead of expiry in the background and shares one
 * fetch between concurrent callers. Entries are found by a `key` and fetched with a `secret` (by
 * default the key itself): per-user credentials are kept under a hash of the API key, which itself
 * is held only while its fetch runs.
 */
export class TokenManager {
  readonly #fetchToken: FetchIamToken;
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #onBackgroundError: (error: unknown) => void;
  readonly #onFetch: (outcome: 'success' | 'failure') => void;
  /** Map order is recency order: the first entry is the least recently used. */
  readonly #entries = new Map<string, Entry>();
  /** The key of the most recently used entry (no reordering needed to use it again). */
  #recent: string | undefined;

  constructor(options: TokenManagerOptions) {
    const maxEntries = options.maxEntries ?? 1000;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError('maxEntries must be a positive integer');
    }
    this.#fetchToken = options.fetchToken;
    this.#now = options.now ?? Date.now;
    this.#maxEntries = maxEntries;
    this.#onBackgroundError = options.onBackgroundError ?? (() => {});
    this.#onFetch = options.onFetch ?? (() => {});
  }

  /** The access token (no "Bearer " prefix), fetched or refreshed as needed. */
  async getToken(apiKey: string, secret: string = apiKey): Promise<string> {
    const entry = this.#use(apiKey);
    const token = entry.token;
    const now = this.#now();
    if (token && now < token.usableUntil) {
      if (now >= token.refreshAt) this.#maybeRefreshInBackground(apiKey, secret, entry, now);
      return token.accessToken;
    }
    if (entry.inFlight) return entry.inFlight.promise;
    // IAM just failed: do not hammer it; fail fast until the backoff ends.
    if (entry.retryAt !== undefined && now < entry.retryAt) throw entry.lastFailure;
    return this.#startFetch(apiKey, secret, entry, false).promise;
  }

  /**
   * The cached token when it is usable and not yet due for refresh, synchronously and without
   * starting anything; undefined otherwise (then call getToken). Counts as use for the LRU bound.
   */
  peek(apiKey: string): string | undefined {
    const entry = this.#entries.get(apiKey);
    const token = entry?.token;
    if (!token) return undefined;
    const now = this.#now();
    if (now >= token.refreshAt || now >= token.usableUntil) return undefined;
    if (this.#recent !== apiKey) {
      this.#entries.delete(apiKey);
      this.#entries.set(apiKey, entry);
      this.#recent = apiKey;
    }
    return token.accessToken;
  }

  /** Drops the cached token, but only if `token` is still the current one (a stale 401 changes nothing). */
  invalidate(apiKey: string, token: string): void {
    const entry = this.#entries.get(apiKey);
    if (!entry?.token || entry.token.accessToken !== token) return;
    entry.token = undefined;
    entry.generation += 1;
    // A fetch already running was started before the token was found bad: let it finish, not count.
    entry.inFlight = undefined;
    entry.backgroundRetryAt = undefined;
    entry.lastError = undefined;
    entry.retryAt = undefined;
  }

  /** Starts fetching in the background (e.g. at start-up); failures go to onBackgroundError only. */
  prefetch(apiKey: string, secret: string = apiKey): void {
    const entry = this.#use(apiKey);
    const now = this.#now();
    if (entry.inFlight) return;
    if (entry.token && now < entry.token.usableUntil) {
      if (now >= entry.token.refreshAt) this.#maybeRefreshInBackground(apiKey, secret, entry, now);
      return;
    }
    this.#startFetch(apiKey, secret, entry, true);
  }

  /** How many credentials are cached (bounded by maxEntries). */
  get size(): number {
    return this.#entries.size;
  }

  /** For /health: never includes the token. */
  state(apiKey: string): TokenState {
    const entry = this.#entries.get(apiKey);
    if (!entry) return { status: 'empty' };
    const token = entry.token;
    const state: TokenState = { status: this.#status(entry) };
    if (token) {
      state.expiresAt = token.expiresAt;
      state.refreshAt = token.refreshAt;
    }
    if (entry.lastError !== undefined) state.lastError = entry.lastError;
    return state;
  }

  #status(entry: Entry): TokenState['status'] {
    const usable = entry.token !== undefined && this.#now() < entry.token.usableUntil;
    if (usable) return entry.inFlight ? 'refreshing' : 'valid';
    if (entry.inFlight) return 'fetching';
    if (entry.lastError !== undefined) return 'failed';
    return entry.hadToken ? 'expired' : 'empty';
  }

  #maybeRefreshInBackground(apiKey: string, secret: string, entry: Entry, now: number): void {
    if (entry.inFlight) return;
    if (entry.backgroundRetryAt !== undefined && now < entry.backgroundRetryAt) return;
    this.#startFetch(apiKey, secret, entry, true);
  }

  #startFetch(apiKey: string, secret: string, entry: Entry, background: boolean): InFlight {
    const generation = entry.generation;
    const startedAt = this.#now();
    // Deferred by a microtask so `flight` is in place before any settle handler can look at it,
    // even when fetchToken throws synchronously.
    const flight: InFlight = {
      background,
      promise: Promise.resolve()
        .then(() => this.#fetchToken(secret))
        .then(
          (response) => this.#settleSuccess(apiKey, secret, entry, flight, generation, startedAt, response),
          (error: unknown) => this.#settleFailure(apiKey, secret, entry, flight, generation, error),
        ),
    };
    entry.inFlight = flight;
    if (background) flight.promise.catch((error: unknown) => this.#onBackgroundError(error));
    return flight;
  }

  #settleSuccess(
    apiKey: string,
    secret: string,
    entry: Entry,
    flight: InFlight,
    generation: number,
    startedAt: number,
    response: IamTokenResponse,
  ): string {
    if (entry.inFlight === flight) entry.inFlight = undefined;
    if (typeof response?.access_token !== 'string' || response.access_token === '') {
      const error = new IamError('unreachable', 'IBM Cloud IAM returned no access token');
      this.#recordFailure(apiKey, secret, entry, flight, generation, error);
      throw error;
    }
    this.#onFetch('success');
    if (this.#isCurrent(apiKey, entry, generation)) {
      entry.token = cachedToken(response, startedAt);
      entry.hadToken = true;
      entry.lastError = undefined;
      entry.backgroundRetryAt = undefined;
      entry.failures = 0;
      entry.retryAt = undefined;
      entry.lastFailure = undefined;
    }
    return response.access_token;
  }

  #settleFailure(
    apiKey: string,
    secret: string,
    entry: Entry,
    flight: InFlight,
    generation: number,
    error: unknown,
  ): never {
    if (entry.inFlight === flight) entry.inFlight = undefined;
    this.#recordFailure(apiKey, secret, entry, flight, generation, error);
    throw error;
  }

  #recordFailure(
    apiKey: string,
    secret: string,
    entry: Entry,
    flight: InFlight,
    generation: number,
    error: unknown,
  ): void {
    this.#onFetch('failure');
    if (!this.#isCurrent(apiKey, entry, generation)) return;
    entry.lastError = errorMessage(error, secret);
    if (flight.background) {
      entry.backgroundRetryAt = this.#now() + BACKGROUND_RETRY_MS;
      return;
    }
    entry.lastFailure = error;
    entry.failures += 1;
    const backoff = Math.min(FAILURE_BACKOFF_BASE_MS * 2 ** (entry.failures - 1), FAILURE_BACKOFF_MAX_MS);
    entry.retryAt = this.#now() + backoff;
  }

  /** Evicted-and-recreated entries and invalidated generations both make a result stale. */
  #isCurrent(apiKey: string, entry: Entry, generation: number): boolean {
    return this.#entries.get(apiKey) === entry && entry.generation === generation;
  }

  /** The entry for a key, created if needed and marked most recently used. */
  #use(apiKey: string): Entry {
    const existing = this.#entries.get(apiKey);
    this.#recent = apiKey;
    if (existing) {
      this.#entries.delete(apiKey);
      this.#entries.set(apiKey, existing);
      return existing;
    }
    if (this.#entries.size >= this.#maxEntries) this.#evict();
    const entry: Entry = {
      token: undefined,
      inFlight: undefined,
      generation: 0,
      lastError: undefined,
      backgroundRetryAt: undefined,
      hadToken: false,
      failures: 0,
      retryAt: undefined,
      lastFailure: undefined,
    };
    this.#entries.set(apiKey, entry);
    return entry;
  }

  /** Makes room for one entry: first everything without a usable token or a fetch, then the LRU. */
  #evict(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      const usable = entry.token !== undefined && now < entry.token.usableUntil;
      if (!usable && !entry.inFlight) this.#entries.delete(key);
    }
    for (const key of this.#entries.keys()) {
      if (this.#entries.size < this.#maxEntries) break;
      this.#entries.delete(key);
    }
  }
}

function cachedToken(response: IamTokenResponse, fetchedAt: number): CachedToken {
  // The fetch start time stands in for the issue time: earlier is the safe side.
  let expiresAt: number;
  if (isPositiveNumber(response.expiration)) expiresAt = response.expiration * 1000;
  else if (isPositiveNumber(response.expires_in)) expiresAt = fetchedAt + response.expires_in * 1000;
  else expiresAt = fetchedAt + DEFAULT_LIFETIME_MS;
  const lifetime = expiresAt - fetchedAt;
  const refreshAt = Math.max(
    fetchedAt,
    Math.min(fetchedAt + REFRESH_AT_FRACTION * lifetime, expiresAt - REFRESH_BEFORE_EXPIRY_MS),
  );
  return {
    accessToken: response.access_token,
    expiresAt,
    usableUntil: expiresAt - EXPIRY_SKEW_MS,
    refreshAt,
  };
}

function isPositiveNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

function errorMessage(error: unknown, apiKey: string): string {
  // /health is open: the IAM host, port and socket error stay in the log.
  const message =
    error instanceof IamError ? error.publicMessage : error instanceof Error ? error.message : String(error);
  return apiKey === '' ? message : message.split(apiKey).join('[redacted]');
}
