// Builds the Fastify application (no listen: main.ts does that, tests use inject).
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { ModelCatalogue } from './catalogue.ts';
import { registerCors } from './cors.ts';
import type { Config } from './config.ts';
import { ProxyError, toProxyError } from './errors.ts';
import { randomHex } from './ids.ts';
import { registerChatCompletions } from './routes/chat-completions.ts';
import { registerCompletions } from './routes/completions.ts';
import { registerLimits } from './limits.ts';
import { Metrics } from './metrics.ts';
import type { RouteContext } from './routes/context.ts';
import { registerEmbeddings } from './routes/embeddings.ts';
import { registerMeta } from './routes/meta.ts';
import { registerModels } from './routes/models.ts';
import type { Upstream } from './upstream.ts';

/** nginx's status for a request whose client closed the connection before the answer was complete. */
const CLIENT_CLOSED = 499;
/** The metrics label of requests that matched no route. */
const UNKNOWN_ROUTE = 'unknown';

export const PACKAGE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Per-request facts gathered for the one log line written when the reply is done. */
export interface GatewayRequestState {
  /** The route's URL pattern (`unknown` for a 404) and whether it needs the gateway key. */
  route: string;
  requiresKey: boolean;
  model?: string;
  upstreamModel?: string;
  stream?: boolean;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  upstreamUsage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number };
  streamError?: ProxyError;
  /** performance.now() when the request arrived; firstTokenAt when a stream sent its first text. */
  startedAt?: number;
  firstTokenAt?: number;
  /** The gateway key presented (memory only, never logged), for per-key rate limits. */
  rateKey?: string;
  /** Aborted when the client goes away before the reply finished: cancels upstream calls. */
  abort: AbortController;
  /** The upstream model id once the catalogue knew it (a bounded metrics label). */
  metricModel?: string;
  streamCounted?: boolean;
  /** Counted against MAX_CONCURRENT_REQUESTS until the request is accounted for. */
  holdsSlot?: boolean;
  /** Settles when a stream's relay has cleaned up (its usage is then final). */
  streamSettled?: Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    gateway: GatewayRequestState;
  }
  interface FastifyContextConfig {
    /** The route needs the gateway key when API_KEY is set. */
    requiresKey?: boolean;
  }
}

export interface AppOptions {
  config: Config;
  upstream: Upstream;
  /** A pino logger config or instance; default from config.logLevel. */
  logger?: boolean | object;
  /** SSE keep-alive interval, ms (default 15000). */
  keepAliveMs?: number;
  /** Seconds clock for `created` (default: wall clock). */
  now?: () => number;
  /** Prometheus metrics; one per app by default. Pass the one given to createUpstream to see its counters. */
  metrics?: Metrics;
}

const REDACTED_HEADERS = [
  'req.headers.authorization',
  'req.headers["api-key"]',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
];

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, upstream } = options;
  const newRequestId = requestIds();
  const app = Fastify({
    logger: loggerOptions(options.logger, config.logLevel),
    bodyLimit: config.bodyLimitBytes,
    // One line per request is written by our onResponse hook instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: (request) => acceptedRequestId(request.headers['x-request-id']) ?? newRequestId(),
    return503OnClosing: true,
    // A client must finish sending its request within 5 minutes (slow-loris bodies are cut off);
    // answering may take longer: that is bounded by the upstream timeouts.
    requestTimeout: 300_000,
    // Requests refused before routing (bad %-encoding) and bytes that are not HTTP at all still get
    // the OpenAI error shape, not Fastify's own.
    frameworkErrors: (error, _request, reply) => {
      const proxyError = toProxyError(error);
      void (reply as FastifyReply).status(proxyError.status).send(proxyError.toBody());
    },
    clientErrorHandler: replyToClientError,
    ajv: {
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false },
    },
  });

  // Connections opened but never used (clients pre-connect) are not "idle" to Node, so server.close()
  // would wait ~60 s for them; they carry no request, so closing drops nothing.
  const connections = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    for (const socket of connections) if (socket.bytesRead === 0) socket.destroy();
  });

  app.decorateRequest('gateway', null as unknown as GatewayRequestState);

  const metrics = options.metrics ?? new Metrics();
  // The per-request log line is built only when it would be written.
  const logsRequests =
    (app.log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.('info') === true;
  let limits: { finished: (request: FastifyRequest) => void } = { finished: () => undefined };
  // Every request ends here exactly once, when its connection closes the response: after a normal
  // finish, or when the client went away first (logged as 499, and upstream calls are aborted).
  const finish = (request: FastifyRequest, reply: FastifyReply, aborted: boolean) => {
    const state = request.gateway;
    const usage = state.usage ?? state.upstreamUsage;
    const route = state.route;
    const status = aborted ? CLIENT_CLOSED : reply.statusCode;
    // server.close() drops only the connections idle at that moment; a keep-alive connection whose
    // response (a long stream) ends later would hold close() until the keep-alive timeout.
    if (closing) app.server.closeIdleConnections();
    if (state.streamCounted) metrics.streamsInFlight.dec();
    metrics.requests.inc({ route, status: String(status), model: state.metricModel ?? '' });
    metrics.duration.observe({ route }, reply.elapsedTime / 1000);
    if (state.firstTokenAt !== undefined && state.startedAt !== undefined) {
      metrics.timeToFirstToken.observe({ route }, (state.firstTokenAt - state.startedAt) / 1000);
    }
    if (usage && state.upstreamModel) {
      metrics.tokens.inc({ model: state.upstreamModel, kind: 'prompt' }, usage.prompt_tokens ?? 0);
      metrics.tokens.inc({ model: state.upstreamModel, kind: 'completion' }, usage.completion_tokens ?? 0);
    }
    limits.finished(request);
    if (!logsRequests) return;
    request.log.info(
      {
        method: request.method,
        route: route === UNKNOWN_ROUTE ? request.url : route,
        status,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        ...(state.model !== undefined && { model: state.model, upstreamModel: state.upstreamModel }),
        ...(state.stream && { stream: true }),
        ...(usage && {
          promptTokens: usage.prompt_tokens,
          completionTokens: usage.completion_tokens,
        }),
        ...(state.streamError && { streamError: state.streamError.code }),
        ...(aborted && { clientClosed: true }),
      },
      'request completed',
    );
  };

  app.addHook('onRequest', (request, reply, done) => {
    const abort = new AbortController();
    // Read once: Fastify builds a new routeOptions object on every access.
    const route = request.routeOptions;
    request.gateway = {
      route: route.url ?? UNKNOWN_ROUTE,
      requiresKey: route.config.requiresKey === true,
      startedAt: performance.now(),
      abort,
    };
    reply.header('x-request-id', request.id);
    reply.raw.once('close', () => {
      const aborted = !reply.raw.writableEnded;
      if (!aborted) return finish(request, reply, false);
      abort.abort();
      // Account after the relay let go of upstream, when what the stream used is known.
      const settled = request.gateway.streamSettled;
      if (!settled) return finish(request, reply, true);
      // A relay that never started never settles: account after a second at the latest.
      let accounted = false;
      const account = () => {
        if (accounted) return;
        accounted = true;
        clearTimeout(fallback);
        finish(request, reply, true);
      };
      const fallback = setTimeout(account, 1000);
      fallback.unref();
      void settled.then(account);
    });
    done();
  });

  registerCors(app, config.allowedOrigins);

  const keys = config.gatewayApiKeys.map(digest);
  if (keys.length > 0) {
    app.addHook('onRequest', (request, _reply, done) => {
      if (!request.gateway.requiresKey) return done();
      const presented = presentedKey(request);
      if (presented === undefined) {
        return done(
          new ProxyError(
            401,
            'You did not provide an API key. Send it as "Authorization: Bearer <key>" (or an "api-key" header).',
            { type: 'invalid_request_error', code: 'invalid_api_key' },
          ),
        );
      }
      const presentedDigest = digest(presented);
      let valid = false;
      for (const key of keys) valid = timingSafeEqual(key, presentedDigest) || valid;
      if (!valid) {
        return done(
          new ProxyError(401, 'Incorrect API key provided.', {
            type: 'invalid_request_error',
            code: 'invalid_api_key',
          }),
        );
      }
      request.gateway.rateKey = presented;
      done();
    });
  }

  limits = registerLimits(app, config, metrics);

  app.setErrorHandler((error, request, reply) => {
    const proxyError = toProxyError(error);
    if (request.gateway?.abort.signal.aborted) {
      // The client went away: what failed afterwards (an aborted upstream call) is nobody's error.
      request.log.info({ err: { message: (error as Error).message } }, 'client closed the connection');
    } else if (proxyError.status >= 500) request.log.error({ err: error }, proxyError.message);
    else request.log.info({ err: { message: proxyError.message, code: proxyError.code } }, 'request refused');
    return reply.status(proxyError.status).headers(proxyError.headers).send(proxyError.toBody());
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new ProxyError(
      404,
      `Unknown request URL: ${request.method} ${request.url.split('?')[0]}.`,
      {
        type: 'invalid_request_error',
        code: 'unknown_url',
      },
    );
    return reply.status(404).send(error.toBody());
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'watsonx-openai-proxy',
        version: PACKAGE_VERSION,
        description: 'OpenAI-compatible API in front of IBM watsonx.ai',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const catalogue = new ModelCatalogue({
    client: upstream.client,
    ttlMs: config.modelsCacheTtlMs,
    onError: (error) => app.log.warn({ err: error }, 'could not read the watsonx model catalogue'),
  });
  const context: RouteContext = {
    upstream,
    catalogue,
    modelMap: config.modelMap,
    modelValidation: config.modelValidation,
    defaultMaxTokens: config.defaultMaxTokens,
    embeddingsTruncateInputTokens: config.embeddingsTruncateInputTokens,
    keepAliveMs: options.keepAliveMs ?? 15_000,
    streamOpened: (request) => {
      request.gateway.streamCounted = true;
      metrics.streamsInFlight.inc();
    },
    now: options.now ?? (() => Math.floor(Date.now() / 1000)),
  };
  registerMeta(app, {
    upstream,
    version: PACKAGE_VERSION,
    metrics,
    metricsRequireKey: config.metricsRequireKey,
  });
  registerChatCompletions(app, context);
  registerCompletions(app, context);
  registerEmbeddings(app, context);
  registerModels(app, context);
  return app;
}

/** A caller's logger settings (level, stream, serializers) are merged so credentials stay redacted. */
function loggerOptions(logger: boolean | object | undefined, level: string): false | object {
  if (logger === false) return false;
  const base: { redact?: unknown } = typeof logger === 'object' ? logger : { level };
  const extra = Array.isArray(base.redact)
    ? (base.redact as string[])
    : ((base.redact as { paths?: string[] } | undefined)?.paths ?? []);
  return { ...base, redact: { paths: [...REDACTED_HEADERS, ...extra], censor: '[redacted]' } };
}

/** req_ + 16 random hex digits per app + a counter: unique, and cheaper than a UUID per request. */
function requestIds(): () => string {
  const prefix = `req_${randomHex(8)}`;
  let counter = 0;
  return () => {
    counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
    return `${prefix}${counter.toString(16).padStart(8, '0')}`;
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function presentedKey(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match?.[1]) return match[1].trim();
  }
  for (const name of ['api-key', 'x-api-key']) {
    const value = request.headers[name];
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  return undefined;
}

/** An incoming x-request-id is reused when it is short and plain (it is echoed and sent upstream). */
function acceptedRequestId(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  return /^[A-Za-z0-9._:-]{1,128}$/.test(value) ? value : undefined;
}

/** Mirrors Fastify's default client-error handler (same statuses), with an OpenAI-shaped body. */
function replyToClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status =
    error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const message =
    status === 431
      ? 'The request headers are larger than the gateway accepts.'
      : status === 408
        ? 'The request was not received in time.'
        : 'The request is not valid HTTP.';
  const body = JSON.stringify(
    new ProxyError(status, message, { type: 'invalid_request_error', code: 'invalid_http_request' }).toBody(),
  );
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
