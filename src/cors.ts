// CORS for browser clients (ALLOWED_ORIGINS). A request without an Origin header (every SDK and
// server-side client) passes untouched; the header values for the others are built once.
import type { FastifyInstance } from 'fastify';
import { ProxyError } from './errors.ts';

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
const ALLOWED_METHODS = 'GET, POST, OPTIONS';
/** Seconds a browser may cache a preflight answer. */
const PREFLIGHT_MAX_AGE = '600';

/**
 * `*`: any origin gets `Access-Control-Allow-Origin: *`. A list: a listed origin is echoed (with
 * `Vary: Origin`), any other gets no CORS headers, so the browser refuses the answer. Preflights
 * (OPTIONS with Origin and Access-Control-Request-Method) get 204 with the methods, the headers the
 * browser asked for (x-stainless-*, api-key…) and a max age; other OPTIONS requests get a 400.
 */
export function registerCors(app: FastifyInstance, allowedOrigins: '*' | readonly string[]): void {
  const anyOrigin = allowedOrigins === '*';
  const listed = new Set(anyOrigin ? [] : allowedOrigins);
  app.addHook('onRequest', (request, reply, done) => {
    const origin = request.headers.origin;
    if (origin === undefined) return done();
    if (!anyOrigin) {
      reply.header('vary', 'Origin');
      if (!listed.has(origin)) return done();
    }
    reply.header('access-control-allow-origin', anyOrigin ? '*' : origin);
    reply.header('access-control-expose-headers', EXPOSED_HEADERS);
    if (request.method !== 'OPTIONS' || request.headers['access-control-request-method'] === undefined) {
      return done();
    }
    reply.header('access-control-allow-methods', ALLOWED_METHODS);
    const requested = request.headers['access-control-request-headers'];
    if (requested !== undefined) reply.header('access-control-allow-headers', requested);
    reply.header(
      'vary',
      anyOrigin ? 'Access-Control-Request-Headers' : 'Origin, Access-Control-Request-Headers',
    );
    reply.header('access-control-max-age', PREFLIGHT_MAX_AGE);
    void reply.code(204).header('content-length', '0').send();
  });
  // Routes OPTIONS for every path to the hook above; what reaches the handler is not a preflight
  // the gateway answers (no Origin, no Access-Control-Request-Method, or an origin not listed).
  app.options('*', { schema: { hide: true } }, async () => {
    throw new ProxyError(400, 'OPTIONS is only answered as a CORS preflight from an allowed origin.', {
      type: 'invalid_request_error',
      code: 'invalid_preflight',
    });
  });
}
