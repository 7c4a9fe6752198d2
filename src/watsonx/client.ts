// The watsonx.ai HTTP client. Knows nothing of OpenAI: it sends watsonx bodies and returns watsonx
// bodies (or parsed stream chunks), and throws WatsonxApiError / UpstreamError / IamError.
import type { Authenticator } from './auth.ts';
import { RETRYABLE_STATUSES, UpstreamError, WatsonxApiError } from './errors.ts';
import { skeletonFits, splitEmbeddingVectors } from './embedding-text.ts';
import { SseDecoder, type SseEvent } from './sse-decoder.ts';
import { UpstreamProtocolError, UpstreamTimeoutError, type UpstreamDispatcher } from './http1.ts';
import { UpstreamExchange } from './transport.ts';
import type {
  WatsonxChatChunk,
  WatsonxChatRequest,
  WatsonxChatResponse,
  WatsonxContainer,
  WatsonxEmbeddingsAnswer,
  WatsonxEmbeddingsRequest,
  WatsonxEmbeddingsResponse,
  WatsonxFoundationModelsPage,
  WatsonxGenerationRequest,
  WatsonxGenerationResponse,
} from './types.ts';

export interface WatsonxClientOptions {
  /** e.g. https://us-south.ml.cloud.ibm.com (no trailing slash). */
  baseUrl: string;
  /** The `version` query date sent on every call. */
  apiVersion: string;
  /** Pooled keep-alive dispatcher (http1.ts's Http1Pool), shared by all calls. */
  dispatcher: UpstreamDispatcher;
  /** Longest wait for the first byte: response headers, then the first stream chunk. Retries stay inside it. */
  requestTimeoutMs: number;
  /** Longest silence between stream chunks once the first arrived (default 60 s). */
  idleTimeoutMs?: number;
  /** Longest a whole call may take, stream included (default 30 min). */
  totalTimeoutMs?: number;
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
  container: WatsonxContainer;
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
] as const;
type Operation = (typeof OPERATIONS)[number];

/** foundation_model_specs page size (the API's maximum is 200). */
const MODEL_PAGE_LIMIT = 200;

export class WatsonxClient {
  private readonly options: WatsonxClientOptions;
  private readonly origin: string;
  private readonly basePath: string;
  private readonly paths: Record<Operation, string>;
  private readonly userAgent: string;
  private readonly observer: ClientObserver;
  /** The header lines every POST carries, per Accept value: built once. */
  private readonly headerBlocks: Record<string, string>;
  /** `options.container` as JSON members (`"project_id":"…"`), for the last container seen. */
  private containerJson = { container: undefined as WatsonxContainer | undefined, json: '' };

  constructor(options: WatsonxClientOptions) {
    this.options = options;
    this.userAgent = options.userAgent ?? 'watsonx-openai-proxy';
    if (UNSAFE_HEADER_VALUE.test(this.userAgent)) throw new TypeError('the user agent contains a line break');
    this.observer = options.observer ?? {};
    this.headerBlocks = Object.fromEntries(
      [JSON_TYPE, SSE].map((accept) => [
        accept,
        `content-type: application/json\r\naccept: ${accept}\r\nuser-agent: ${this.userAgent}\r\n`,
      ]),
    );
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
    const exchange = await this.send('text/generation', body, options);
    return parseJson(wholeBody(exchange).toString('utf8')) as WatsonxGenerationResponse;
  }

  generationStream(
    body: WatsonxGenerationRequest,
    options: CallOptions,
  ): Promise<AsyncGenerator<WatsonxGenerationResponse[]>> {
    return this.stream<WatsonxGenerationResponse>('text/generation_stream', body, options);
  }

  /**
   * The answer; with `rawVectors`, its vectors left as bytes when they are plain arrays of numbers
   * of one length (embedding-text.ts), else parsed whole (cheaper when every number is needed).
   */
  async embeddings(
    body: WatsonxEmbeddingsRequest,
    options: CallOptions,
    rawVectors = false,
  ): Promise<WatsonxEmbeddingsAnswer> {
    const exchange = await this.send('text/embeddings', body, options);
    const bytes = wholeBody(exchange);
    const split = rawVectors ? splitEmbeddingVectors(bytes) : undefined;
    if (split) {
      const response = parseJson(split.skeleton) as WatsonxEmbeddingsResponse;
      if (skeletonFits(response, split.vectors)) return { response, vectors: split.vectors };
    }
    return { response: parseJson(bytes.toString('utf8')) as WatsonxEmbeddingsResponse, vectors: undefined };
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
    const exchange = new UpstreamExchange(this.options.dispatcher, {
      origin: this.origin,
      path: `${this.basePath}/ml/v1/foundation_model_specs?${query}`,
      method: 'GET',
      headers: { accept: 'application/json', 'user-agent': this.userAgent },
      signal: options.signal,
      headersTimeout: this.options.requestTimeoutMs,
      bodyTimeout: this.options.requestTimeoutMs,
    });
    try {
      await exchange.head;
    } catch (error) {
      throw toUpstreamError(error, options.signal, undefined);
    }
    if (exchange.statusCode < 200 || exchange.statusCode >= 300) {
      const text = await exchange.text().catch(() => '');
      throw WatsonxApiError.fromBody(exchange.statusCode, text, {
        retryAfter: header(exchange.headers['retry-after']),
      });
    }
    return (await readJson(exchange)) as WatsonxFoundationModelsPage;
  }

  async chat(body: WatsonxChatRequest, options: CallOptions): Promise<WatsonxChatResponse> {
    const exchange = await this.send('text/chat', body, options);
    return parseJson(wholeBody(exchange).toString('utf8')) as WatsonxChatResponse;
  }

  /**
   * Resolves once watsonx answered 200 (errors before that reject, so the caller can still choose
   * the HTTP status); the generator then yields parsed chunks, a batch per network read, until the
   * stream ends.
   */
  // Not async: handing on stream()'s promise spares the ticks of a second promise before the first byte.
  chatStream(body: WatsonxChatRequest, options: CallOptions): Promise<AsyncGenerator<WatsonxChatChunk[]>> {
    return this.stream<WatsonxChatChunk>('text/chat_stream', body, options);
  }

  /** A non-stream call: resolves with the 2xx exchange once its whole body is in (`wholeBody`). */
  private send(operation: Operation, body: object, options: CallOptions): Promise<UpstreamExchange> {
    const payload = this.payload(body, options.container);
    const deadline = Date.now() + this.options.requestTimeoutMs;
    // A non-stream answer is bounded by the first-byte and body timeouts; sparing it a total timer
    // and a combined signal keeps the hot path short.
    return this.attempts(operation, payload, options, JSON_TYPE, options.signal, deadline, undefined);
  }

  /** A stream call: resolves once watsonx answered 200, with the generator of chunk batches. */
  private async stream<T>(
    operation: Operation,
    body: object,
    options: CallOptions,
  ): Promise<AsyncGenerator<T[]>> {
    const payload = this.payload(body, options.container);
    const deadline = Date.now() + this.options.requestTimeoutMs;
    const total = new TotalTimeout(this.options.totalTimeoutMs ?? DEFAULT_TOTAL_TIMEOUT_MS, options.signal);
    try {
      const exchange = await this.attempts(operation, payload, options, SSE, total.signal, deadline, total);
      return readBatches<T>(exchange, {
        total,
        clientSignal: options.signal,
        idleMs: this.options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      });
    } catch (error) {
      total.dispose();
      throw error;
    }
  }

  private async attempts(
    operation: Operation,
    payload: string,
    options: CallOptions,
    accept: string,
    signal: AbortSignal | undefined,
    deadline: number,
    total: TotalTimeout | undefined,
  ): Promise<UpstreamExchange> {
    const maxRetries = this.options.maxRetries ?? 0;
    let authorization = options.auth.cachedAuthorization?.() ?? (await options.auth.authorization());
    let refreshedToken = false;
    for (let attempt = 0; ; attempt++) {
      const response = this.post(
        operation,
        payload,
        authorization,
        accept,
        options.requestId,
        signal,
        deadline,
      );
      try {
        await response.head;
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
      if (response.statusCode === 401 && !refreshedToken) {
        // The token may have been revoked or expired early: drop it, get a fresh one, retry once.
        refreshedToken = true;
        response.discard();
        options.auth.invalidate(authorization);
        authorization = await options.auth.authorization();
        attempt -= 1;
        continue;
      }
      if (response.statusCode >= 200 && response.statusCode < 300) return response;
      const retryAfter = header(response.headers['retry-after']);
      if (RETRYABLE_STATUSES.has(response.statusCode) && attempt < maxRetries) {
        const delay = retryDelayMs(attempt, retryAfter, header(response.headers['x-requests-limit-reset']));
        if (delay !== undefined && Date.now() + delay < deadline) {
          response.discard();
          this.observer.retry?.(operation, String(response.statusCode));
          await sleep(delay, signal);
          continue;
        }
      }
      const text = await response.text().catch(() => '');
      const error = WatsonxApiError.fromBody(response.statusCode, text, { retryAfter });
      this.observer.upstreamError?.(error.status, error.code ?? 'none');
      throw error;
    }
  }

  /**
   * The watsonx body with the container's members appended: the same JSON as
   * `JSON.stringify({ ...body, ...container })` for bodies that do not carry the container's keys
   * (the translators never set project_id or space_id), without copying the body.
   */
  private payload(body: object, container: WatsonxContainer): string {
    if (this.containerJson.container !== container) {
      this.containerJson = { container, json: JSON.stringify(container).slice(1, -1) };
    }
    const text = JSON.stringify(body);
    const members = this.containerJson.json;
    if (members === '') return text;
    return text === '{}' ? `{${members}}` : `${text.slice(0, -1)},${members}}`;
  }

  private post(
    operation: Operation,
    payload: string,
    authorization: string,
    accept: string,
    requestId: string | undefined,
    signal: AbortSignal | undefined,
    deadline: number,
  ): UpstreamExchange {
    // The two values that vary are checked here; the rest of the block was checked when built.
    if (UNSAFE_HEADER_VALUE.test(authorization) || (requestId && UNSAFE_HEADER_VALUE.test(requestId))) {
      throw new UpstreamError('protocol', 'a token or request id would break the upstream request headers');
    }
    let headerBlock = `${this.headerBlocks[accept]}authorization: ${authorization}\r\n`;
    if (requestId) headerBlock += `x-global-transaction-id: ${requestId}\r\n`;
    return new UpstreamExchange(this.options.dispatcher, {
      origin: this.origin,
      path: this.paths[operation],
      method: 'POST',
      headers: NO_HEADERS,
      headerBlock,
      body: payload,
      // A JSON answer is read whole: `head` then settles at its end (one wait, not two).
      whole: accept === JSON_TYPE,
      signal,
      // Headers within what is left of REQUEST_TIMEOUT (retries included); then a stream's first
      // chunk within REQUEST_TIMEOUT again, since reasoning models may think for minutes.
      headersTimeout: Math.max(1, deadline - Date.now()),
      bodyTimeout: this.options.requestTimeoutMs,
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
    if (!value) continue;
    const seconds = Number(value);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
    if (Number.isFinite(ms)) return ms > MAX_RETRY_AFTER_MS ? undefined : Math.max(0, ms);
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
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const UNSAFE_HEADER_VALUE = /[\r\n\0]/;

/** A stream's total budget: one timer and one controller that also follows the client's signal. */
class TotalTimeout {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly clientSignal: AbortSignal | undefined;
  private readonly onClientAbort = () => this.controller.abort(this.clientSignal?.reason);

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
  idleMs: number;
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

async function readJson(exchange: UpstreamExchange): Promise<unknown> {
  return parseJson(await readText(exchange));
}

async function readText(exchange: UpstreamExchange): Promise<string> {
  try {
    return (await exchange.buffer()).toString('utf8');
  } catch (error) {
    throw toUpstreamError(error, undefined, undefined);
  }
}

/** The body of a `whole` exchange that `attempts` returned: complete by then. */
function wholeBody(exchange: UpstreamExchange): Buffer {
  const body = exchange.body();
  if (body === undefined) throw new UpstreamError('protocol', 'the watsonx.ai answer ended early');
  return body;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UpstreamError('protocol', 'watsonx.ai answered with a body that is not JSON');
  }
}

/**
 * Parsed stream chunks, one batch per network read: a whole batch becomes one downstream write,
 * which keeps per-chunk work (and syscalls) low on the relay path.
 *
 * After the first chunk, watsonx must send something at least every idle timeout: one timer per
 * stream, refreshed per read, rather than a new timer per chunk.
 */
async function* readBatches<T>(exchange: UpstreamExchange, context: TimeoutContext): AsyncGenerator<T[]> {
  const decoder = new SseDecoder();
  let timer: NodeJS.Timeout | undefined;
  try {
    for (let reads = await exchange.read(); reads !== null; reads = await exchange.read()) {
      if (timer) timer.refresh();
      else {
        const idleMs = context.idleMs;
        timer = setTimeout(() => {
          exchange.destroy(
            new UpstreamError('timeout', `watsonx.ai sent nothing for ${idleMs / 1000} s mid-stream`),
          );
        }, idleMs);
        timer.unref();
      }
      const batch: T[] = [];
      let end: boolean | Error = false;
      for (const data of reads) {
        end = collect(decoder.push(data), batch);
        if (end) break;
      }
      // What came before an error in the same read is still relayed, then the error.
      if (batch.length > 0) yield batch;
      if (end instanceof Error) throw end;
      if (end) return;
    }
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
    // Stopped early (the answer was complete, or the client left): drain the rest so that the
    // connection goes back to the pool, or close it when much is left.
    exchange.discard();
  }
}

/**
 * Appends the chunks of `events` to `batch`. Returns true when the stream is over (close event or
 * [DONE]), the error that ends it (`event: error`, unreadable data), or false.
 */
function collect<T>(events: SseEvent[], batch: T[]): boolean | Error {
  for (const event of events) {
    if (event.event === 'error') return streamError(event.data);
    if (event.data === '[DONE]') return true;
    let parsed: unknown;
    try {
      parsed = JSON.parse(event.data);
    } catch {
      return new UpstreamError('protocol', 'watsonx.ai sent a stream event that is not JSON');
    }
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
  let status = 500;
  try {
    const parsed = JSON.parse(data) as { status_code?: unknown };
    if (typeof parsed.status_code === 'number') status = parsed.status_code;
  } catch {
    // keep 500: the payload of a mid-stream error is not documented
  }
  return WatsonxApiError.fromBody(status, data, { midStream: true });
}

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
  if (error instanceof UpstreamProtocolError) {
    return new UpstreamError('protocol', error.message, { cause: error });
  }
  if (error instanceof UpstreamTimeoutError) {
    return new UpstreamError('timeout', (error as Error).message, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new UpstreamError('connection', message, { cause: error });
}
