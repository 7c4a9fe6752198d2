// Builds the gateway: one Fastify application for every route. No listen: main.ts does that; tests
// use `app.inject`. The hooks below apply to every route, in this order: request id and accounting,
// refusal while shutting down and without Host, CORS, the gateway key, the client's own IBM
// credential, the rate limits, the concurrency cap and the declared body's room (onRequest); the
// body's bytes counted as they arrive (preParsing); the body limit, JSON parsing and schema
// validation (Fastify).
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
import { registerAnthropic } from '../anthropic/index.ts';
import { ModelCatalogue } from '../models/catalogue.ts';
import { DeploymentDirectory } from '../models/deployments.ts';
import { openAIErrors, registerOpenAI } from '../openai/index.ts';
import { registerResponses, responseStore } from '../responses/index.ts';
import { registerRerank } from '../rerank/index.ts';
import type { Config } from '../process/config.ts';
import type { Upstream } from '../process/upstream.ts';
import { Cors, registerCors } from './cors.ts';
import { GatewayError, logFailure, toGatewayError } from './errors.ts';
import { GatewayKeys, gatewayKeyOptions, registerRequestCredentials } from './gateway-keys.ts';
import { randomHex } from './ids.ts';
import { registerJsonBodyParser } from './json-body.ts';
import { type GatewayRequestState, RequestLifecycle, UNKNOWN_ROUTE } from './lifecycle.ts';
import { GatewayLimits, registerLimitHooks } from './limits.ts';
import { registerMeta } from './meta.ts';
import { Metrics } from './metrics.ts';
import type { RequestTracer } from './tracing.ts';
import { SharedRedis } from './redis.ts';
import type { ErrorRenderer, SurfaceContext } from './surface.ts';

export type { GatewayRequestState } from './lifecycle.ts';

export const PACKAGE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

declare module 'fastify' {
  interface FastifyRequest {
    gateway: GatewayRequestState;
  }
  interface FastifyContextConfig {
    /** The route needs the gateway key when API_KEY is set. */
    requiresKey?: boolean;
    /** The route's name in metrics and logs (both paths of a route share it); default: its URL. */
    label?: string;
    /** How the route's errors are written (its API surface's protocol); default: OpenAI's. */
    errors?: ErrorRenderer;
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
  /** Tracing (src/server/tracing.ts) when OTEL_EXPORTER_OTLP_ENDPOINT is set; undefined: off. */
  tracing?: RequestTracer;
}

const REDACTED_HEADERS = [
  'req.headers.authorization',
  'req.headers["api-key"]',
  'req.headers["x-api-key"]',
  'req.headers["x-gateway-key"]',
  'req.headers.cookie',
];

/** Validation as the OpenAI API does it: no coercion, no defaults, no removal, first error only. */
const AJV_OPTIONS = { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false };
/** Fastify's own default: longer than the common 60 s idle timeouts of load balancers. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;
/**
 * A client must finish sending its request within 5 minutes (slow-loris bodies are cut off);
 * answering may take longer: that is bounded by the upstream timeouts.
 */
const REQUEST_TIMEOUT_MS = 300_000;

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, upstream } = options;
  const requestId = requestIds();
  const app = Fastify({
    logger: loggerOptions(options.logger, config.logLevel),
    bodyLimit: config.bodyLimitBytes,
    // Bodies with __proto__ or constructor.prototype keys are refused (400), not parsed.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // One line per request is written at accounting (lifecycle.ts) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: (request) => requestId(request.headers['x-request-id']),
    // Requests that arrive while the gateway drains get the error shape (hook below), not Fastify's.
    return503OnClosing: false,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    // Requests refused before routing (bad %-encoding) and bytes that are not HTTP at all still get
    // the OpenAI error shape, not Fastify's own.
    frameworkErrors: (error, _request, reply) => {
      const gatewayError = toGatewayError(error);
      void (reply as FastifyReply).status(gatewayError.status).send(openAIErrors.errorBody(gatewayError, ''));
    },
    clientErrorHandler: replyToClientError,
    // Node would answer an HTTP/1.1 request without Host itself, with an empty 400; the first
    // onRequest hook refuses it instead, in the error shape.
    http: { requireHostHeader: false },
    ajv: { customOptions: AJV_OPTIONS },
  });
  // Request bodies are JSON only: anything else is 415, not a string for the schema to refuse.
  app.removeContentTypeParser('text/plain');
  // JSON bodies: limits on nesting and on the number of objects and arrays before parsing.
  registerJsonBodyParser(app);
  // Answers are written with JSON.stringify: the response schemas document the API (OpenAPI) but
  // never filter or reshape what a route returns.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // Connections opened but never used (clients pre-connect) are not "idle" to Node, so server.close()
  // would wait ~60 s for them; they carry no request, so closing drops nothing.
  const connections = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });

  const metrics = options.metrics ?? new Metrics();
  // REDIS_URL: the limits and stored Responses are shared by every replica (closed with the app).
  const redis = config.redis && new SharedRedis(config.redis, metrics, app.log);
  if (redis) {
    app.addHook('onClose', () => redis.close());
    await redis.ready();
  }
  const limits = new GatewayLimits(config, metrics, redis);
  const tracing = options.tracing;
  const lifecycle = new RequestLifecycle({
    metrics,
    finished: tracing
      ? (state, status) => {
          limits.finished(state);
          tracing.finish(state, status);
        }
      : (state) => limits.finished(state),
    logsRequests:
      (app.log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.('info') === true,
    onFinishWhileClosing: () => app.server.closeIdleConnections(),
  });
  app.addHook('preClose', async () => {
    lifecycle.closing = true;
    for (const socket of connections) if (socket.bytesRead === 0) socket.destroy();
  });

  app.decorateRequest('gateway', null as unknown as GatewayRequestState);
  app.addHook('onRequest', (request, reply, done) => {
    // Read once: Fastify builds a new routeOptions object on every access.
    const route = request.routeOptions;
    const label = route.config.label ?? route.url ?? UNKNOWN_ROUTE;
    request.gateway = lifecycle.begin(label, route.config.requiresKey === true);
    reply.header('x-request-id', request.id);
    lifecycle.track(request.gateway, reply.raw, {
      method: request.method,
      url: request.url,
      log: request.log,
    });
    if (lifecycle.closing) return done(shuttingDown());
    if (request.headers.host === undefined && request.raw.httpVersion === '1.1') return done(missingHost());
    done();
  });
  if (tracing) {
    // Only with tracing on: the request span that @fastify/otel opened gets the gateway's facts.
    app.addHook('onRequest', (request, _reply, done) => {
      tracing.begin(request);
      done();
    });
  }

  const cors = new Cors(config.allowedOrigins);
  registerCors(app, cors);

  // With per-request IBM credentials (gateway-keys.ts) the gateway key travels in X-Gateway-Key.
  const keys = new GatewayKeys(config.gatewayApiKeys, gatewayKeyOptions(upstream));
  if (keys.enabled) {
    app.addHook('onRequest', (request, _reply, done) => {
      if (!request.gateway.requiresKey) return done();
      const key = keys.check(request.headers);
      if (key instanceof GatewayError) return done(key);
      request.gateway.rateKey = key;
      done();
    });
  }
  registerRequestCredentials(app, upstream);
  registerLimitHooks(app, limits);

  app.setErrorHandler((error, request, reply) => {
    const gatewayError = toGatewayError(error);
    logFailure(request.log, error, gatewayError, request.gateway?.abort.signal.aborted === true);
    const errors = renderer(request);
    return reply
      .status(errors.status?.(gatewayError) ?? gatewayError.status)
      .headers(gatewayError.headers)
      .send(errors.errorBody(gatewayError, request.id));
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new GatewayError(
      404,
      `Unknown request URL: ${request.method} ${request.url.split('?')[0]}.`,
      {
        code: 'unknown_url',
      },
    );
    return reply.status(404).send(openAIErrors.errorBody(error, request.id));
  });

  const catalogue = new ModelCatalogue({
    client: upstream.client,
    ttlMs: config.modelsCacheTtlMs,
    onError: (error) => app.log.warn({ err: error }, 'could not read the watsonx model catalogue'),
  });
  const context: SurfaceContext = {
    upstream,
    catalogue,
    modelMap: config.modelMap,
    modelValidation: config.modelValidation,
    deploymentAliases: config.deploymentAliases,
    deployments: new DeploymentDirectory({
      client: upstream.client,
      ttlMs: config.modelsCacheTtlMs,
      onError: (error) => app.log.warn({ err: error }, 'could not list the watsonx deployments'),
    }),
    containers: {
      default: upstream.container,
      allowedProjects: config.allowedProjects,
      allowedSpaces: config.allowedSpaces,
    },
    defaultMaxTokens: config.defaultMaxTokens,
    embeddingsTruncateInputTokens: config.embeddingsTruncateInputTokens,
    streams: {
      keepAliveMs: options.keepAliveMs ?? 15_000,
      stallMs: config.streamIdleTimeoutMs,
      opened: (state) => lifecycle.streamOpened(state),
    },
    now: options.now ?? (() => Math.floor(Date.now() / 1000)),
  };

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'watsonx-openai-proxy',
        version: PACKAGE_VERSION,
        description: 'OpenAI-compatible API in front of IBM watsonx.ai',
      },
      tags: [
        {
          name: 'OpenAI',
          description: 'The OpenAI API (base URL /v1); each route is also served without /v1.',
        },
        {
          name: 'Anthropic',
          description:
            'The Anthropic Messages API (Claude Code, the Anthropic SDKs: base URL without /v1, they add it); each route is also served without /v1.',
        },
        {
          name: 'Rerank',
          description:
            'Rerank in the Cohere/Jina/vLLM shape (POST /v1/rerank, also /rerank; /v2/rerank), served by watsonx text/rerank.',
        },
        { name: 'Operations', description: 'Health, readiness, metrics and what this gateway is.' },
      ],
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'The gateway key (API_KEY); any value when unset.',
          },
        },
      },
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // The document lists every route and example; open by default (it holds no secret), behind the
    // gateway key when the operator says so. A browser then needs the key sent for it (a proxy).
    ...(config.docsRequireKey &&
      keys.enabled && {
        uiHooks: {
          onRequest: (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
            const key = keys.check(request.headers);
            done(key instanceof GatewayError ? key : undefined);
          },
        },
      }),
  });

  registerMeta(app, {
    upstream,
    version: PACKAGE_VERSION,
    metrics,
    metricsRequireKey: config.metricsRequireKey,
    errorSchema: openAIErrors.schema,
  });
  registerOpenAI(app, context);
  registerResponses(app, context, responseStore(redis));
  registerAnthropic(app, context);
  registerRerank(app, context);
  return app;
}

/** The route's surface renders its errors; routes of no surface (and unknown URLs) use OpenAI's. */
function renderer(request: FastifyRequest): ErrorRenderer {
  return request.routeOptions.config.errors ?? openAIErrors;
}

function shuttingDown(): GatewayError {
  return new GatewayError(503, 'The gateway is shutting down; retry on another instance.', {
    code: 'server_shutting_down',
    headers: { connection: 'close' },
  });
}

/** RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400. */
function missingHost(): GatewayError {
  return new GatewayError(400, 'HTTP/1.1 requests must carry a Host header.', {
    code: 'invalid_http_request',
    headers: { connection: 'close' },
  });
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

/**
 * The request id: an incoming x-request-id when it is short and plain (it is echoed and sent
 * upstream), else req_ + 16 random hex digits per app + a counter: unique per process.
 */
function requestIds(): (header: string | string[] | undefined) => string {
  const prefix = `req_${randomHex(8)}`;
  let counter = 0;
  return (header) => {
    if (typeof header === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(header)) return header;
    counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
    return `${prefix}${counter.toString(16).padStart(8, '0')}`;
  };
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
    openAIErrors.errorBody(new GatewayError(status, message, { code: 'invalid_http_request' }), ''),
  );
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
