// Builds the gateway: Fastify for every route but the inference calls, which the inference server
// (inference.ts) answers on the same node:http server first. No listen: main.ts does that; tests
// inject through `app.gatewayHandler`.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply, LogController } from 'fastify';
import { ModelCatalogue } from '../models/catalogue.ts';
import type { Config } from '../process/config.ts';
import { Cors, registerCors } from './cors.ts';
import { logFailure, ProxyError, toProxyError } from './errors.ts';
import { GatewayKeys } from './gateway-keys.ts';
import { randomHex } from './ids.ts';
import { type InferenceRoute, InferenceServer } from './inference.ts';
import { type GatewayRequestState, RequestLifecycle, UNKNOWN_ROUTE } from './lifecycle.ts';
import { GatewayLimits, registerLimitHooks } from './limits.ts';
import { Metrics } from './metrics.ts';
import { chatCompletionsRoute } from '../openai/routes/chat-completions.ts';
import { completionsRoute } from '../openai/routes/completions.ts';
import type { RouteContext } from '../openai/routes/context.ts';
import { embeddingsRoute } from '../openai/routes/embeddings.ts';
import { registerMeta } from './meta.ts';
import { registerModels } from '../openai/routes/models.ts';
import type { Upstream } from '../process/upstream.ts';
import { http } from './node-http.ts';

const { createServer, STATUS_CODES } = http;

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
  }
  interface FastifyInstance {
    /** The server's request listener: inference calls first, then Fastify. */
    gatewayHandler: (request: IncomingMessage, response: ServerResponse) => void;
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
  // Set once the routes exist (below): until then nothing is an inference call.
  let dispatchInference = (_request: IncomingMessage, _response: ServerResponse) => false;
  let gatewayHandler: ((request: IncomingMessage, response: ServerResponse) => void) | undefined;
  const app = Fastify({
    logger: loggerOptions(options.logger, config.logLevel),
    bodyLimit: config.bodyLimitBytes,
    // One line per request is written at accounting (lifecycle.ts) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: (request) => requestId(request.headers['x-request-id']),
    return503OnClosing: true,
    serverFactory: (fastifyHandler) => {
      gatewayHandler = (request, response) => {
        if (!dispatchInference(request, response)) fastifyHandler(request, response);
      };
      const server = createServer(gatewayHandler);
      server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
      server.requestTimeout = REQUEST_TIMEOUT_MS;
      return server;
    },
    // Requests refused before routing (bad %-encoding) and bytes that are not HTTP at all still get
    // the OpenAI error shape, not Fastify's own.
    frameworkErrors: (error, _request, reply) => {
      const proxyError = toProxyError(error);
      void (reply as FastifyReply).status(proxyError.status).send(proxyError.toBody());
    },
    clientErrorHandler: replyToClientError,
    ajv: { customOptions: AJV_OPTIONS },
  });
  app.decorate('gatewayHandler', gatewayHandler!);

  // Connections opened but never used (clients pre-connect) are not "idle" to Node, so server.close()
  // would wait ~60 s for them; they carry no request, so closing drops nothing.
  const connections = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });

  const metrics = options.metrics ?? new Metrics();
  const limits = new GatewayLimits(config, metrics);
  const lifecycle = new RequestLifecycle({
    metrics,
    finished: (state) => limits.finished(state),
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
    request.gateway = lifecycle.begin(route.url ?? UNKNOWN_ROUTE, route.config.requiresKey === true);
    reply.header('x-request-id', request.id);
    lifecycle.track(request.gateway, reply.raw, {
      method: request.method,
      url: request.url,
      log: request.log,
    });
    done();
  });

  const cors = new Cors(config.allowedOrigins);
  registerCors(app, cors);

  const keys = new GatewayKeys(config.gatewayApiKeys);
  if (keys.enabled) {
    app.addHook('onRequest', (request, _reply, done) => {
      if (!request.gateway.requiresKey) return done();
      const key = keys.check(request.headers);
      if (key instanceof ProxyError) return done(key);
      request.gateway.rateKey = key;
      done();
    });
  }
  registerLimitHooks(app, limits);

  app.setErrorHandler((error, request, reply) => {
    const proxyError = toProxyError(error);
    logFailure(request.log, error, proxyError, request.gateway?.abort.signal.aborted === true);
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
    streamOpened: (state) => lifecycle.streamOpened(state),
    now: options.now ?? (() => Math.floor(Date.now() / 1000)),
  };
  const inferenceRoutes = [
    chatCompletionsRoute(context),
    completionsRoute(context),
    embeddingsRoute(context),
  ];
  const inference = new InferenceServer({
    routes: inferenceRoutes as InferenceRoute<never>[],
    lifecycle,
    cors,
    keys,
    limits,
    log: app.log,
    bodyLimitBytes: config.bodyLimitBytes,
    newRequestId: requestId,
    ajvOptions: AJV_OPTIONS,
  });
  dispatchInference = (request, response) => inference.dispatch(request, response);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'watsonx-openai-proxy',
        version: PACKAGE_VERSION,
        description: 'OpenAI-compatible API in front of IBM watsonx.ai',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    // The inference routes are not Fastify's: their entries come from the same schemas.
    transformObject: (documents) => withInferencePaths(documents, inferenceRoutes),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  registerMeta(app, {
    upstream,
    version: PACKAGE_VERSION,
    metrics,
    metricsRequireKey: config.metricsRequireKey,
  });
  registerModels(app, context);
  return app;
}

/** Adds the inference routes (served by inference.ts) to the OpenAPI document Fastify's routes make. */
function withInferencePaths(
  documents: { openapiObject?: Record<string, unknown>; swaggerObject?: Record<string, unknown> },
  routes: readonly InferenceRoute<never>[],
): Record<string, unknown> {
  const document = (documents.openapiObject ?? documents.swaggerObject ?? {}) as {
    paths?: Record<string, unknown>;
  };
  const paths: Record<string, unknown> = { ...document.paths };
  for (const route of routes) {
    paths[`/v1${route.path}`] = {
      post: {
        summary: route.summary,
        security: [{ bearer: [] }],
        requestBody: { required: true, content: { 'application/json': { schema: route.schema } } },
        responses: {
          200: { description: 'The OpenAI-shaped answer: JSON, or text/event-stream when `stream` is true.' },
          default: { description: 'An OpenAI-shaped error: {"error":{"message","type","param","code"}}.' },
        },
      },
    };
  }
  return { ...document, paths };
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
 * upstream), else req_ + 16 random hex digits per app + a counter: unique, and cheaper than a UUID.
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
