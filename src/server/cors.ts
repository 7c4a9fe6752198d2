// CORS for browser clients (ALLOWED_ORIGINS). A request without an Origin header (every SDK and
// server-side client) passes untouched; the header values for the others are built once.
import type { FastifyInstance } from 'fastify';
import { GatewayError } from './errors.ts';

/** Response headers a browser script may read (request id, retry and rate-limit information). */
const EXPOSED_HEADERS = [
  'x-request-id',
  'retry-after',
  'retry-after-ms',
  'x-should-retry',
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-reset-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-tokens',
].join(', ');
const ALLOWED_METHODS = 'GET, POST, DELETE, OPTIONS';
/** Seconds a browser may cache a preflight answer. */
const PREFLIGHT_MAX_AGE = '600';

/**
 * `*`: any origin gets `Access-Control-Allow-Origin: *`. A list: a listed origin is echoed (with
 * `Vary: Origin`), any other gets no CORS headers, so the browser refuses the answer.
 */
export class Cors {
  private readonly anyOrigin: boolean;
  private readonly listed: ReadonlySet<string>;

  constructor(allowedOrigins: '*' | readonly string[]) {
    this.anyOrigin = allowedOrigins === '*';
    this.listed = new Set(allowedOrigins === '*' ? [] : allowedOrigins);
  }

  /** Sets the headers of an answer to `origin` (none without one); false when it is not allowed. */
  apply(origin: string | undefined, setHeader: (name: string, value: string) => void): boolean {
    if (origin === undefined) return false;
    if (!this.anyOrigin) {
      setHeader('vary', 'Origin');
      if (!this.listed.has(origin)) return false;
    }
    setHeader('access-control-allow-origin', this.anyOrigin ? '*' : origin);
    setHeader('access-control-expose-headers', EXPOSED_HEADERS);
    return true;
  }

  /** The extra headers of a preflight answer. */
  preflight(requestedHeaders: string | undefined, setHeader: (name: string, value: string) => void): void {
    setHeader('access-control-allow-methods', ALLOWED_METHODS);
    if (requestedHeaders !== undefined) setHeader('access-control-allow-headers', requestedHeaders);
    setHeader(
      'vary',
      this.anyOrigin ? 'Access-Control-Request-Headers' : 'Origin, Access-Control-Request-Headers',
    );
    setHeader('access-control-max-age', PREFLIGHT_MAX_AGE);
  }
}

/**
 * CORS on Fastify's routes. Preflights (OPTIONS with Origin and Access-Control-Request-Method)
 * get 204 with the methods, the headers the browser asked for (x-stainless-*, api-key…) and a max
 * age; other OPTIONS requests get a 400.
 */
export function registerCors(app: FastifyInstance, cors: Cors): void {
  app.addHook('onRequest', (request, reply, done) => {
    // Every SDK and server-side client: no Origin, nothing to do (no closure built per request).
    const origin = request.headers.origin;
    if (origin === undefined) return done();
    const setHeader = (name: string, value: string) => void reply.header(name, value);
    const allowed = cors.apply(origin, setHeader);
    if (
      !allowed ||
      request.method !== 'OPTIONS' ||
      request.headers['access-control-request-method'] === undefined
    ) {
      return done();
    }
    cors.preflight(request.headers['access-control-request-headers'], setHeader);
    void reply.code(204).header('content-length', '0').send();
  });
  // Routes OPTIONS for every path to the hook above; what reaches the handler is not a preflight
  // the gateway answers (no Origin, no Access-Control-Request-Method, or an origin not listed).
  app.options('*', { schema: { hide: true } }, async () => {
    throw new GatewayError(400, 'OPTIONS is only answered as a CORS preflight from an allowed origin.', {
      code: 'invalid_preflight',
    });
  });
}
