// The inference routes (POST chat/completions, completions, embeddings, with or without /v1) served
// on node:http directly, ahead of Fastify, which serves everything else. On the hot path Fastify's
// request pipeline (routing, request/reply objects, hook runners, content-type parsers, reply
// serialisation) cost about as much CPU as all of the gateway's own work; see bench/README.md.
// What these routes need from a framework is here, sharing the same parts as Fastify's hooks:
// request ids, CORS, gateway keys, limits, the body limit, the route's JSON schema (compiled by
// the same ajv compiler, with the same options), one error policy and one accounting per request.
import type { IncomingMessage, ServerResponse } from 'node:http';
import AjvCompiler from '@fastify/ajv-compiler';
import type { FastifyBaseLogger } from 'fastify';
import secureJson from 'secure-json-parse';
import type { TSchema } from 'typebox';
import type { Cors } from './cors.ts';
import { bodyErrors, invalidBody, logFailure, ProxyError, toProxyError } from './errors.ts';
import type { GatewayKeys } from './gateway-keys.ts';
import type { GatewayRequestState, RequestLifecycle } from './lifecycle.ts';
import type { GatewayLimits } from './limits.ts';

/** One inference request, as its route's handler sees it. */
export interface InferenceCall<Body> {
  readonly id: string;
  /** The parsed body, valid against the route's schema. */
  readonly body: Body;
  readonly gateway: GatewayRequestState;
  readonly log: FastifyBaseLogger;
  /** For streams: the handler writes the answer itself (headers set so far included). */
  readonly response: ServerResponse;
}

/** An answer already serialised as JSON, in parts (strings and bytes), sent as is. */
export class JsonText {
  readonly json: string | Buffer;
  constructor(parts: Array<string | Buffer>) {
    this.json = parts.every((part) => typeof part === 'string')
      ? parts.join('')
      : Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)));
  }
}

export interface InferenceRoute<Body = unknown> {
  /** The OpenAI path without /v1 (`/chat/completions`); served at both, documented with /v1. */
  path: string;
  schema: TSchema;
  summary: string;
  /** The JSON answer (200), or undefined when the handler streamed the answer itself. */
  handle(call: InferenceCall<Body>): Promise<object | JsonText | undefined>;
}

export interface InferenceServerOptions {
  routes: InferenceRoute<never>[];
  lifecycle: RequestLifecycle;
  cors: Cors;
  keys: GatewayKeys;
  limits: GatewayLimits;
  log: FastifyBaseLogger;
  bodyLimitBytes: number;
  newRequestId: (header: string | string[] | undefined) => string;
  /** The same ajv options Fastify's validator compiler gets. */
  ajvOptions: Record<string, unknown>;
}

interface PreparedRoute {
  label: string;
  route: InferenceRoute<unknown>;
  validate: ((body: unknown) => boolean) & { errors?: unknown };
}

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export class InferenceServer {
  private readonly options: InferenceServerOptions;
  private readonly byPath = new Map<string, PreparedRoute>();

  constructor(options: InferenceServerOptions) {
    this.options = options;
    const compile = AjvCompiler()({}, { customOptions: options.ajvOptions });
    for (const route of options.routes) {
      const label = `/v1${route.path}`;
      const validate = compile({ schema: route.schema, method: 'POST', url: label, httpPart: 'body' });
      const prepared = { label, route: route as InferenceRoute<unknown>, validate } as PreparedRoute;
      this.byPath.set(label, prepared);
      this.byPath.set(route.path, prepared);
    }
  }

  /** Serves the request when it is an inference call (true), else leaves it alone (false). */
  dispatch(request: IncomingMessage, response: ServerResponse): boolean {
    if (request.method !== 'POST') return false;
    const url = request.url ?? '';
    const query = url.indexOf('?');
    const prepared = this.byPath.get(query < 0 ? url : url.slice(0, query));
    if (prepared === undefined) return false;
    void this.serve(prepared, request, response);
    return true;
  }

  private async serve(prepared: PreparedRoute, request: IncomingMessage, response: ServerResponse) {
    const { lifecycle, cors, keys, limits } = this.options;
    const call = new Call(
      this.options.newRequestId(request.headers['x-request-id']),
      request,
      response,
      this.options.log,
    );
    const state = (call.gateway = lifecycle.begin(prepared.label, true));
    response.setHeader('x-request-id', call.id);
    lifecycle.track(state, response, call);
    const setHeader = (name: string, value: string) => void response.setHeader(name, value);
    try {
      if (lifecycle.closing) throw shuttingDown();
      cors.apply(request.headers.origin, setHeader);
      if (keys.enabled) {
        const key = keys.check(request.headers);
        if (key instanceof ProxyError) throw key;
        state.rateKey = key;
      }
      const limited = limits.admit(state, setHeader);
      if (limited) throw limited;
      const body = await readJsonBody(request, this.options.bodyLimitBytes);
      if (!prepared.validate(body)) throw invalidBody(prepared.validate.errors as never);
      const overloaded = limits.acquire(state);
      if (overloaded) throw overloaded;
      call.body = body;
      const answer = await prepared.route.handle(call);
      if (answer !== undefined) sendJson(response, 200, answer);
    } catch (error) {
      const proxyError = toProxyError(error);
      logFailure(call.log, error, proxyError, state.abort.signal.aborted);
      if (response.headersSent || response.destroyed) {
        response.destroy();
        return;
      }
      sendJson(response, proxyError.status, proxyError.toBody(), proxyError.headers);
    }
  }
}

/** The request as handlers see it; the log child (with the request id) is made on first use. */
class Call implements InferenceCall<unknown> {
  readonly id: string;
  readonly method: string;
  readonly url: string;
  readonly response: ServerResponse;
  body: unknown;
  gateway!: GatewayRequestState;
  private readonly baseLog: FastifyBaseLogger;
  private childLog: FastifyBaseLogger | undefined;

  constructor(id: string, request: IncomingMessage, response: ServerResponse, log: FastifyBaseLogger) {
    this.id = id;
    this.method = 'POST';
    this.url = request.url ?? '';
    this.response = response;
    this.baseLog = log;
  }

  get log(): FastifyBaseLogger {
    return (this.childLog ??= this.baseLog.child({ reqId: this.id }));
  }
}

function shuttingDown(): ProxyError {
  return new ProxyError(503, 'The gateway is shutting down; retry on another instance.', {
    type: 'server_error',
    code: 'server_shutting_down',
    headers: { connection: 'close' },
  });
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: object | JsonText,
  headers?: Record<string, string>,
) {
  const payload = body instanceof JsonText ? body.json : JSON.stringify(body);
  if (headers) for (const name in headers) response.setHeader(name, headers[name] as string);
  response.writeHead(status, {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': Buffer.byteLength(payload),
  });
  response.end(payload);
}

/**
 * The body as JSON, as Fastify reads it: at most `limit` bytes (413, and the connection is closed
 * rather than the rest read), application/json only (415), declared JSON but empty or not JSON (400),
 * prototype-poisoning keys refused (400). No content type and no body: `undefined`.
 */
function readJsonBody(request: IncomingMessage, limit: number): Promise<unknown> {
  const headers = request.headers;
  const declared = headers['content-length'];
  // Nothing to parse: the schema then says the body must be an object.
  if (headers['content-type'] === undefined && headers['transfer-encoding'] === undefined) {
    if (declared === undefined || declared === '0') return Promise.resolve(undefined);
  }
  const expected = declared === undefined ? undefined : Number(declared);
  if (expected !== undefined && expected > limit) return Promise.reject(tooLarge(request));
  if (!isJson(headers['content-type'])) return Promise.reject(bodyErrors.unsupportedMediaType());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        cleanup();
        reject(tooLarge(request));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      if (expected !== undefined && received !== expected) return reject(bodyErrors.lengthMismatch());
      const text = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received)).toString(
        'utf8',
      );
      if (text === '') return reject(emptyBody());
      try {
        resolve(secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
      } catch (error) {
        reject(bodyErrors.invalidJson((error as Error).message));
      }
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
  });
}

function emptyBody(): ProxyError {
  return bodyErrors.invalidJson("Body cannot be empty when content-type is set to 'application/json'");
}

/** The rest of an oversize body is not read: the answer closes the connection. */
function tooLarge(request: IncomingMessage): ProxyError {
  request.pause();
  const error = bodyErrors.tooLarge();
  return new ProxyError(error.status, error.message, {
    type: error.type,
    code: error.code,
    headers: { connection: 'close' },
  });
}

/** `application/json`, with parameters (charset) or not, in any case. */
function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semicolon = contentType.indexOf(';');
  const type = (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  return type === 'application/json';
}
