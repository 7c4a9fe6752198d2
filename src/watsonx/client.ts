// The watsonx.ai HTTP client. Knows nothing of OpenAI: it sends watsonx bodies and returns watsonx
// bodies (or parsed stream chunks), and throws WatsonxApiError / UpstreamError / IamError. The
// requests go through the undici dispatcher it is given (pooling, proxies and TLS are set there).
import { type Dispatcher, errors } from 'undici';
import type { Authenticator } from './auth.ts';
import {
  MAX_ANSWER_BYTES,
  MAX_CATALOGUE_PAGE_BYTES,
  MAX_ERROR_BODY_BYTES,
  readBounded,
  readPrefix,
} from './bounded-body.ts';
import {
  type DeploymentCall,
  deploymentChatBody,
  deploymentGenerationBody,
  type WatsonxDeploymentsPage,
} from './deployments.ts';
import { describeNetworkError, RETRYABLE_STATUSES, UpstreamError, WatsonxApiError } from './errors.ts';
import { parseJsonObject, parseJsonOrUndefined } from './json.ts';
import { retryAfterMs } from './retry-after.ts';
import { SseDecoder, type SseEvent } from './sse-decoder.ts';
import type {
  WatsonxChatChunk,
  WatsonxChatRequest,
  WatsonxChatResponse,
  WatsonxContainer,
  WatsonxEmbeddingsRequest,
  WatsonxEmbeddingsResponse,
  WatsonxFoundationModelsPage,
  WatsonxGenerationRequest,
  WatsonxGenerationResponse,
  WatsonxRerankRequest,
  WatsonxRerankResponse,
} from './types.ts';

export interface WatsonxClientOptions {
  /** e.g. https://us-south.ml.cloud.ibm.com (no trailing slash). */
  baseUrl: string;
  /** The `version` query date sent on every call. */
  apiVersion: string;
  /** The undici dispatcher (keep-alive pool, proxies, TLS) shared by all calls. */
  dispatcher: Dispatcher;
  /** Longest wait for the first byte: response headers, then the first stream chunk. Retries stay inside it. */
  requestTimeoutMs: number;
  /** Longest silence between stream chunks once the first arrived (default 60 s). */
  idleTimeoutMs?: number;
  /** Longest a whole call may take, stream included (default 30 min). */
  totalTimeoutMs?: number;
  /** Largest non-stream answer held in memory (UPSTREAM_MAX_RESPONSE_MB; default 128 MiB); past it, a protocol error. */
  maxAnswerBytes?: number;
  /** Retries of 429/503/504/520 and connection errors before any byte reached the client (default 0). */
  maxRetries?: number;
  userAgent?: string;
  observer?: ClientObserver;
}

/** Hooks for metrics; the client itself keeps no counters. */
export interface ClientObserver {
  upstreamError?(status: number, code: string): void;
  retry?(operation: string, reason: string): void;
}

export interface CallOptions {
  auth: Authenticator;
  /** The project or space the body names; left out of calls to a deployment (which fixes its own). */
  container?: WatsonxContainer;
  /**
   * Set: the call goes to /ml/v1/deployments/{id_or_name}/text/…, with the deployment body rules
   * (no model_id, project_id or space_id; no system message for a prompt template). Chat and
   * generation only: watsonx serves no embeddings (nor rerank) from deployments.
   */
  deployment?: DeploymentCall;
  signal?: AbortSignal;
  /** Sent as X-Global-Transaction-Id for tracing across IBM's side. */
  requestId?: string;
}

const OPERATIONS = [
  'text/chat',
  'text/chat_stream',
  'text/generation',
  'text/generation_stream',
  'text/embeddings',
  'text/rerank',
] as const;
type Operation = (typeof OPERATIONS)[number];

/** foundation_model_specs page size (the API's maximum is 200). */
const MODEL_PAGE_LIMIT = 200;
/** Operations watsonx serves from a deployment too, at /ml/v1/deployments/{id_or_name}/<operation>. */
const DEPLOYMENT_OPERATIONS: ReadonlySet<Operation> = new Set([
  'text/chat',
  'text/chat_stream',
  'text/generation',
  'text/generation_stream',
]);

export class WatsonxClient {
  private readonly options: WatsonxClientOptions;
  private readonly origin: string;
  private readonly basePath: string;
  private readonly paths: Record<Operation, string>;
  private readonly userAgent: string;
  private readonly observer: ClientObserver;
  /** `options.container` as JSON members (`"project_id":"…"`), for the last container seen. */
  private containerJson = { container: undefined as WatsonxContainer | undefined, json: '' };

  constructor(options: WatsonxClientOptions) {
    this.options = options;
    this.userAgent = options.userAgent ?? 'watsonx-openai-proxy';
    if (UNSAFE_HEADER_VALUE.test(this.userAgent)) throw new TypeError('the user agent contains a line break');
    this.observer = options.observer ?? {};
    const base = new URL(options.baseUrl);
    this.origin = base.origin;
    this.basePath = base.pathname.replace(/\/$/, '');
    const version = encodeURIComponent(options.apiVersion);
    // Built once: no per-request URL work on the hot path.
    this.paths = Object.fromEntries(
      OPERATIONS.map((operation) => [operation, `${this.basePath}/ml/v1/${operation}?version=${version}`]),
    ) as Record<Operation, string>;
  }

  async generation(body: WatsonxGenerationRequest, options: CallOptions): Promise<WatsonxGenerationResponse> {
    return parseJson(await this.send('text/generation', body, options)) as WatsonxGenerationResponse;
  }

  generationStream(
    body: WatsonxGenerationRequest,
    options: CallOptions,
  ): Promise<AsyncGenerator<WatsonxGenerationResponse[]>> {
    return this.stream<WatsonxGenerationResponse>('text/generation_stream', body, options);
  }

  async embeddings(body: WatsonxEmbeddingsRequest, options: CallOptions): Promise<WatsonxEmbeddingsResponse> {
    return parseJson(await this.send('text/embeddings', body, options)) as WatsonxEmbeddingsResponse;
  }

  /** Ranks `inputs` by relevance to `query`: results best first, with the model's raw scores. */
  async rerank(body: WatsonxRerankRequest, options: CallOptions): Promise<WatsonxRerankResponse> {
    return parseJson(await this.send('text/rerank', body, options)) as WatsonxRerankResponse;
  }

  /**
   * One page of the model catalogue. No credentials are sent: IBM serves it without them.
   * `start` is the opaque token from the previous page's `next.href`.
   */
  async listModels(
    options: { start?: string; signal?: AbortSignal } = {},
  ): Promise<WatsonxFoundationModelsPage> {
    const query = new URLSearchParams({ version: this.options.apiVersion, limit: String(MODEL_PAGE_LIMIT) });
    if (options.start) query.set('start', options.start);
    let response: Dispatcher.ResponseData;
    let text: string;
    try {
      response = await this.options.dispatcher.request({
        origin: this.origin,
        path: `${this.basePath}/ml/v1/foundation_model_specs?${query}`,
        method: 'GET',
        headers: { accept: JSON_TYPE, 'user-agent': this.userAgent },
        signal: options.signal,
        headersTimeout: this.options.requestTimeoutMs,
        bodyTimeout: this.options.requestTimeoutMs,
      });
      text = await readPage(response, 'a model catalogue page');
    } catch (error) {
      throw toUpstreamError(error, options.signal, undefined);
    }
    return parsePage(response, text) as WatsonxFoundationModelsPage;
  }

  /**
   * One page of the deployments of a project or space (GET /ml/v4/deployments), with credentials
   * (a 401 gets one retry with a fresh token). `start` is the token from the previous page's
   * `next.href`.
   */
  async listDeployments(options: {
    auth: Authenticator;
    container: WatsonxContainer;
    start?: string;
    signal?: AbortSignal;
  }): Promise<WatsonxDeploymentsPage> {
    const query = new URLSearchParams({ version: this.options.apiVersion });
    if ('space_id' in options.container) query.set('space_id', options.container.space_id);
    else query.set('project_id', options.container.project_id);
    if (options.start) query.set('start', options.start);
    let authorization = options.auth.cachedAuthorization?.() ?? (await options.auth.authorization());
    for (let attempt = 0; ; attempt++) {
      if (UNSAFE_HEADER_VALUE.test(authorization)) {
        throw new UpstreamError('protocol', 'a token would break the upstream request headers');
      }
      let response: Dispatcher.ResponseData;
      let text: string;
      try {
        response = await this.options.dispatcher.request({
          origin: this.origin,
          path: `${this.basePath}/ml/v4/deployments?${query}`,
          method: 'GET',
          headers: { accept: JSON_TYPE, 'user-agent': this.userAgent, authorization },
          signal: options.signal,
          headersTimeout: this.options.requestTimeoutMs,
          bodyTimeout: this.options.requestTimeoutMs,
        });
        // As in attempts(): a fixed credential (a token, a ZenApiKey, the client's header) would only fail again.
        if (response.statusCode === 401 && attempt === 0 && options.auth.refreshable !== false) {
          discard(response.body);
          options.auth.invalidate(authorization);
          authorization = await options.auth.authorization();
          continue;
        }
        text = await readPage(response, 'a page of deployments');
      } catch (error) {
        throw toUpstreamError(error, options.signal, undefined);
      }
      return parsePage(response, text, [
        authorization,
        authorization.replace(/^\S+\s+/, ''),
      ]) as WatsonxDeploymentsPage;
    }
  }

  async chat(body: WatsonxChatRequest, options: CallOptions): Promise<WatsonxChatResponse> {
    return parseJson(await this.send('text/chat', body, options)) as WatsonxChatResponse;
  }

  /**
   * Resolves once watsonx answered 200 (errors before that reject, so the caller can still choose
   * the HTTP status); the generator then yields parsed chunks, a batch per body chunk, until the
   * stream ends.
   */
  // Not async: handing on stream()'s promise spares the ticks of a second promise before the first byte.
  chatStream(body: WatsonxChatRequest, options: CallOptions): Promise<AsyncGenerator<WatsonxChatChunk[]>> {
    return this.stream<WatsonxChatChunk>('text/chat_stream', body, options);
  }

  /** A non-stream call: resolves with the body of the 2xx answer, read whole. */
  private async send(operation: Operation, body: object, options: CallOptions): Promise<string> {
    const { path, payload } = this.request(operation, body, options);
    const deadline = Date.now() + this.options.requestTimeoutMs;
    // The body timeout restarts with every byte: an upstream that trickles an answer would hold the
    // call for ever without the total budget (REQUEST_TOTAL_TIMEOUT), which covers retries too.
    const total = new TotalTimeout(this.options.totalTimeoutMs ?? DEFAULT_TOTAL_TIMEOUT_MS, options.signal);
    try {
      return await this.attempts(
        operation,
        path,
        payload,
        options,
        JSON_TYPE,
        total.signal,
        deadline,
        total,
        (response) =>
          readBounded(
            response.body,
            this.options.maxAnswerBytes ?? MAX_ANSWER_BYTES,
            'the watsonx.ai answer',
          ),
      );
    } finally {
      total.dispose();
    }
  }

  /** A stream call: resolves once watsonx answered 200, with the generator of chunk batches. */
  private async stream<T>(
    operation: Operation,
    body: object,
    options: CallOptions,
  ): Promise<AsyncGenerator<T[]>> {
    const { path, payload } = this.request(operation, body, options);
    const deadline = Date.now() + this.options.requestTimeoutMs;
    const total = new TotalTimeout(this.options.totalTimeoutMs ?? DEFAULT_TOTAL_TIMEOUT_MS, options.signal);
    try {
      const response = await this.attempts(
        operation,
        path,
        payload,
        options,
        SSE,
        total.signal,
        deadline,
        total,
        (answer) => answer,
      );
      return readBatches<T>(response.body, {
        total,
        clientSignal: options.signal,
        firstChunkMs: this.options.requestTimeoutMs,
        idleMs: this.options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      });
    } catch (error) {
      total.dispose();
      throw error;
    }
  }

  /**
   * Sends the call until it succeeds or the retry policy gives up; `read` takes the 2xx answer. A
   * failure while reading it is a failure of the attempt: a non-stream answer cut off mid-body is
   * retried like a refused connection, since no byte of it has reached the client.
   */
  private async attempts<T>(
    operation: Operation,
    path: string,
    payload: string,
    options: CallOptions,
    accept: string,
    signal: AbortSignal | undefined,
    deadline: number,
    total: TotalTimeout | undefined,
    read: (response: Dispatcher.ResponseData) => T | Promise<T>,
  ): Promise<T> {
    const maxRetries = this.options.maxRetries ?? 0;
    let authorization = options.auth.cachedAuthorization?.() ?? (await options.auth.authorization());
    let refreshedToken = false;
    for (let attempt = 0; ; attempt++) {
      let response: Dispatcher.ResponseData;
      try {
        response = await this.post(path, payload, authorization, accept, options.requestId, signal, deadline);
        if (response.statusCode >= 200 && response.statusCode < 300) return await read(response);
      } catch (error) {
        const failure = toUpstreamError(error, options.signal, total);
        if (failure instanceof UpstreamError && failure.kind === 'connection' && attempt < maxRetries) {
          const delay = backoffMs(attempt);
          if (Date.now() + delay < deadline) {
            this.observer.retry?.(operation, 'connection');
            await sleep(delay, signal);
            continue;
          }
        }
        throw failure;
      }
      if (response.statusCode === 401 && !refreshedToken && options.auth.refreshable !== false) {
        // The token may have been revoked or expired early: drop it, get a fresh one, retry once.
        // (A fixed credential, such as a ZenApiKey or the client's own header, would only fail again.)
        refreshedToken = true;
        discard(response.body);
        options.auth.invalidate(authorization);
        authorization = await options.auth.authorization();
        attempt -= 1;
        continue;
      }
      const retryAfter = header(response.headers['retry-after']);
      if (RETRYABLE_STATUSES.has(response.statusCode) && attempt < maxRetries) {
        const delay = retryDelayMs(attempt, retryAfter, header(response.headers['x-requests-limit-reset']));
        if (delay !== undefined && Date.now() + delay < deadline) {
          discard(response.body);
          this.observer.retry?.(operation, String(response.statusCode));
          await sleep(delay, signal);
          continue;
        }
      }
      const text = await readPrefix(response.body, MAX_ERROR_BODY_BYTES);
      const error = WatsonxApiError.fromBody(response.statusCode, text, {
        retryAfter,
        secrets: [authorization, authorization.replace(/^\S+\s+/, '')],
        credentialOwner: options.auth.owner,
      });
      this.observer.upstreamError?.(error.status, error.code ?? 'none');
      throw error;
    }
  }

  /**
   * Where a call goes and what it sends: the foundation-model path with the container in the body,
   * or, for a deployment, its path with the deployment's body rules (deployments.ts).
   */
  private request(
    operation: Operation,
    body: object,
    options: CallOptions,
  ): { path: string; payload: string } {
    const deployment = options.deployment;
    if (deployment === undefined) {
      return { path: this.paths[operation], payload: this.payload(body, options.container) };
    }
    if (!DEPLOYMENT_OPERATIONS.has(operation)) {
      throw new TypeError(`watsonx.ai serves no ${operation} from deployments`);
    }
    const chat = operation === 'text/chat' || operation === 'text/chat_stream';
    const deploymentBody = chat
      ? deploymentChatBody(body as WatsonxChatRequest, deployment.promptTemplate)
      : deploymentGenerationBody(body);
    return {
      path:
        `${this.basePath}/ml/v1/deployments/${encodeURIComponent(deployment.idOrName)}/${operation}` +
        `?version=${encodeURIComponent(this.options.apiVersion)}`,
      payload: JSON.stringify(deploymentBody),
    };
  }

  /**
   * The watsonx body with the container's members appended: the same JSON as
   * `JSON.stringify({ ...body, ...container })` for bodies that do not carry the container's keys
   * (the translators never set project_id or space_id), without copying the body.
   */
  private payload(body: object, container: WatsonxContainer | undefined): string {
    if (container === undefined) return JSON.stringify(body);
    if (this.containerJson.container !== container) {
      this.containerJson = { container, json: JSON.stringify(container).slice(1, -1) };
    }
    const text = JSON.stringify(body);
    const members = this.containerJson.json;
    if (members === '') return text;
    return text === '{}' ? `{${members}}` : `${text.slice(0, -1)},${members}}`;
  }

  private post(
    path: string,
    payload: string,
    authorization: string,
    accept: string,
    requestId: string | undefined,
    signal: AbortSignal | undefined,
    deadline: number,
  ): Promise<Dispatcher.ResponseData> {
    // Refused here, before anything is sent, whatever the HTTP client would make of a line break.
    if (UNSAFE_HEADER_VALUE.test(authorization) || (requestId && UNSAFE_HEADER_VALUE.test(requestId))) {
      throw new UpstreamError('protocol', 'a token or request id would break the upstream request headers');
    }
    const headers: Record<string, string> = {
      'content-type': JSON_TYPE,
      accept,
      'user-agent': this.userAgent,
      authorization,
    };
    if (requestId) headers['x-global-transaction-id'] = requestId;
    return this.options.dispatcher.request({
      origin: this.origin,
      path,
      method: 'POST',
      headers,
      body: payload,
      signal,
      // Headers within what is left of REQUEST_TIMEOUT (retries included); then a stream's first
      // chunk within REQUEST_TIMEOUT again, and STREAM_IDLE_TIMEOUT between chunks: readBatches
      // times both (undici's bodyTimeout would apply one limit to every gap).
      headersTimeout: Math.max(1, deadline - Date.now()),
      bodyTimeout: accept === SSE ? 0 : this.options.requestTimeoutMs,
    });
  }
}

const DEFAULT_TOTAL_TIMEOUT_MS = 30 * 60_000;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** A Retry-After longer than this is not waited for: the client gets the 429/503 and decides. */
const MAX_RETRY_AFTER_MS = 60_000;

/** Exponential backoff with jitter: about 0.5 s, 1 s, 2 s … capped at 8 s. */
function backoffMs(attempt: number): number {
  return Math.min(500 * 2 ** attempt, 8000) * (0.75 + Math.random() * 0.5);
}

/** Retry-After (seconds or an HTTP date) or x-requests-limit-reset (seconds) win over the backoff. */
function retryDelayMs(attempt: number, retryAfter?: string, limitReset?: string): number | undefined {
  for (const value of [retryAfter, limitReset]) {
    const ms = retryAfterMs(value);
    if (ms !== undefined) return ms > MAX_RETRY_AFTER_MS ? undefined : ms;
  }
  return backoffMs(attempt);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!signal) {
      setTimeout(resolve, ms);
      return;
    }
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

const SSE = 'text/event-stream';
const JSON_TYPE = 'application/json';
const UNSAFE_HEADER_VALUE = /[\r\n\0]/;

/** A stream's total budget: one timer and one controller that also follows the client's signal. */
class TotalTimeout {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly clientSignal: AbortSignal | undefined;
  // The client left: nothing is left to time (a relay that never started reading never disposes).
  private readonly onClientAbort = () => {
    clearTimeout(this.timer);
    this.controller.abort(this.clientSignal?.reason);
  };

  constructor(ms: number, clientSignal: AbortSignal | undefined) {
    this.clientSignal = clientSignal;
    this.timer = setTimeout(() => this.controller.abort(), ms);
    this.timer.unref();
    if (clientSignal?.aborted) this.onClientAbort();
    else clientSignal?.addEventListener('abort', this.onClientAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The budget ran out (as opposed to the client going away). */
  get expired(): boolean {
    return this.controller.signal.aborted && !this.clientSignal?.aborted;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.clientSignal?.removeEventListener('abort', this.onClientAbort);
  }
}

interface TimeoutContext {
  total: TotalTimeout;
  clientSignal: AbortSignal | undefined;
  /** Longest wait for the first chunk (REQUEST_TIMEOUT). */
  firstChunkMs: number;
  idleMs: number;
}

type Body = Dispatcher.ResponseData['body'];

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The rest of a body is not wanted: drained so the connection is reused (closed past 128 KiB). */
function discard(body: Body): void {
  body.dump().catch(() => {});
}

/** The body is not wanted and may never end: the connection is closed. */
function close(body: Body): void {
  // The reader has gone: the error that destroying an unfinished body raises has no one to reach.
  body.on('error', () => {});
  body.destroy();
}

/** A listing page (models, deployments): a 2xx body read whole (bounded), else the start of the error body. */
function readPage(response: Dispatcher.ResponseData, what: string): Promise<string> {
  return response.statusCode >= 200 && response.statusCode < 300
    ? readBounded(response.body, MAX_CATALOGUE_PAGE_BYTES, what)
    : readPrefix(response.body, MAX_ERROR_BODY_BYTES);
}

/** A listing page's JSON, or the WatsonxApiError of a non-2xx answer (`secrets` redacted from it). */
function parsePage(response: Dispatcher.ResponseData, text: string, secrets?: readonly string[]): unknown {
  if (response.statusCode < 200 || response.statusCode >= 300) {
    throw WatsonxApiError.fromBody(response.statusCode, text, {
      retryAfter: header(response.headers['retry-after']),
      secrets,
    });
  }
  return parseJson(text);
}

function parseJson(text: string): unknown {
  const parsed = parseJsonOrUndefined(text);
  if (parsed === undefined)
    throw new UpstreamError('protocol', 'watsonx.ai answered with a body that is not JSON');
  return parsed;
}

/**
 * Parsed stream chunks, one batch per body chunk (a network read, or what arrived while the reader
 * was busy): a whole batch becomes one downstream write, which keeps per-chunk work low.
 *
 * After the first chunk, watsonx must send something at least every idle timeout: one timer per
 * stream, refreshed per chunk, rather than a new timer per chunk.
 */
async function* readBatches<T>(body: Body, context: TimeoutContext): AsyncGenerator<T[]> {
  const decoder = new SseDecoder();
  const firstMs = context.firstChunkMs;
  // The first chunk within REQUEST_TIMEOUT (reasoning models may think for minutes), then at most
  // STREAM_IDLE_TIMEOUT between chunks: two timers of its own, since undici's bodyTimeout (off for
  // streams) would apply one limit to every gap.
  let timer: NodeJS.Timeout | undefined = setTimeout(() => {
    body.destroy(new UpstreamError('timeout', `watsonx.ai sent no stream data within ${firstMs / 1000} s`));
  }, firstMs);
  timer.unref();
  let first = true;
  /** watsonx ended the stream: [DONE], a close or error event, or the end of the body. */
  let over = false;
  try {
    // Not destroyed on an early return: a stream that is over is drained in `finally` instead.
    for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      if (!first) timer?.refresh();
      else {
        first = false;
        clearTimeout(timer);
        const idleMs = context.idleMs;
        timer = setTimeout(() => {
          body.destroy(
            new UpstreamError('timeout', `watsonx.ai sent nothing for ${idleMs / 1000} s mid-stream`),
          );
        }, idleMs);
        timer.unref();
      }
      const batch: T[] = [];
      const end = collect(decoder.push(chunk), batch);
      over = end !== false;
      // What came before an error in the same read is still relayed, then the error.
      if (batch.length > 0) yield batch;
      if (end instanceof Error) throw end;
      if (end) return;
    }
    over = true;
    const batch: T[] = [];
    const end = collect(decoder.end(), batch);
    if (batch.length > 0) yield batch;
    if (end instanceof Error) throw end;
  } catch (error) {
    if (error instanceof WatsonxApiError || error instanceof UpstreamError) throw error;
    throw toUpstreamError(error, context.clientSignal, context.total);
  } finally {
    clearTimeout(timer);
    context.total.dispose();
    // Over: what is left is drained, so the connection goes back to the pool. Stopped by the reader
    // (the client left) or by a failure: the connection is closed, which also stops watsonx generating.
    if (over) discard(body);
    else close(body);
  }
}

/**
 * Appends the chunks of `events` to `batch`. Returns true when the stream is over (close event or
 * [DONE]), the error that ends it (`event: error`, unreadable data), or false.
 */
function collect<T>(events: readonly SseEvent[], batch: T[]): boolean | Error {
  for (const event of events) {
    if (event.event === 'error') return streamError(event.data);
    if (event.data === '[DONE]') return true;
    const parsed = parseJsonOrUndefined(event.data);
    if (parsed === undefined)
      return new UpstreamError('protocol', 'watsonx.ai sent a stream event that is not JSON');
    if (event.event === 'close') {
      // A trailing close event (2024 framing) may be empty `{}` or carry the final usage chunk.
      if (parsed && typeof parsed === 'object' && ('choices' in parsed || 'usage' in parsed))
        batch.push(parsed as T);
      return true;
    }
    batch.push(parsed as T);
  }
  return false;
}

function streamError(data: string): WatsonxApiError {
  // 500 unless the payload says otherwise: the payload of a mid-stream error is not documented.
  const statusCode = parseJsonObject(data)?.status_code;
  const status = typeof statusCode === 'number' ? statusCode : 500;
  return WatsonxApiError.fromBody(status, data, { midStream: true });
}

/** undici's codes for an answer that is not HTTP/1.1 as RFC 9112 has it (besides its parser's errors). */
const PROTOCOL_CODES = new Set([
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_HEADERS_OVERFLOW',
  'UND_ERR_RES_EXCEEDED_MAX_SIZE',
  'UND_ERR_INFO',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function toUpstreamError(
  error: unknown,
  clientSignal: AbortSignal | undefined,
  total: TotalTimeout | undefined,
): unknown {
  if (clientSignal?.aborted) return error; // the client went away; nothing to report to it
  if (error instanceof UpstreamError || error instanceof WatsonxApiError) return error;
  if (total?.expired) {
    return new UpstreamError('timeout', 'the request took longer than the total timeout', { cause: error });
  }
  const code = String((error as { code?: unknown } | undefined)?.code ?? '');
  const kind = TIMEOUT_CODES.has(code)
    ? 'timeout'
    : PROTOCOL_CODES.has(code) || error instanceof errors.HTTPParserError
      ? 'protocol'
      : 'connection';
  return new UpstreamError(kind, describeNetworkError(error), { cause: error });
}
