// Retry-After (RFC 9110 §10.2.3: delay-seconds or an HTTP date), read in one place for the client's
// retries and for the wait the gateway tells its own clients.

/** The wait a Retry-After value asks for, in ms (≥ 0); undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
