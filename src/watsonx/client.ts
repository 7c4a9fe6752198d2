// The watsonx.ai HTTP client. Knows nothing of OpenAI: it sends watsonx bodies and returns watsonx
// bodies (or parsed stream chunks), and throws WatsonxApiError / UpstreamError / IamError.
import { type Dispatcher, errors as undiciErrors, request } from 'undici';
import type { Authenticator } from './auth.ts';
import { UpstreamError, WatsonxApiError } from './errors.ts';
import { decodeSse } from './sse-decoder.ts';
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
} from './types.ts';

export interface WatsonxClientOptions {
  /** e.g. https://us-south.ml.cloud.ibm.com (no trailing slash). */
  baseUrl: string;
  /** The `version` query date sent on every call. */
  apiVersion: string;
  /** Pooled keep-alive dispatcher (an undici Agent), shared by all calls. */
  dispatcher: Dispatcher;
  /** Longest wait for response headers and for each body chunk. */
  requestTimeoutMs: number;
  userAgent?: string;
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
  private readonly urls: Record<Operation, URL>;
  private readonly userAgent: string;

  constructor(options: WatsonxClientOptions) {
    this.options = options;
    this.userAgent = options.userAgent ?? 'watsonx-openai-proxy';
    const url = (operation: Operation) =>
      new URL(`${options.baseUrl}/ml/v1/${operation}?version=${encodeURIComponent(options.apiVersion)}`);
    // Built once: no per-request URL work on the hot path.
    this.urls = Object.fromEntries(OPERATIONS.map((operation) => [operation, url(operation)])) as Record<
      Operation,
      URL
    >;
  }

  async generation(body: WatsonxGenerationRequest, options: CallOptions): Promise<WatsonxGenerationResponse> {
    const response = await this.send('text/generation', body, options, 'application/json');
    return (await readJson(response)) as WatsonxGenerationResponse;
  }

  async generationStream(
    body: WatsonxGenerationRequest,
    options: CallOptions,
  ): Promise<AsyncGenerator<WatsonxGenerationResponse>> {
    const response = await this.send('text/generation_stream', body, options, 'text/event-stream');
    return readChunks<WatsonxGenerationResponse>(response);
  }

  async embeddings(body: WatsonxEmbeddingsRequest, options: CallOptions): Promise<WatsonxEmbeddingsResponse> {
    const response = await this.send('text/embeddings', body, options, 'application/json');
    return (await readJson(response)) as WatsonxEmbeddingsResponse;
  }

  /**
   * One page of the model catalogue. No credentials are sent: IBM serves it without them.
   * `start` is the opaque token from the previous page's `next.href`.
   */
  async listModels(
    options: { start?: string; signal?: AbortSignal } = {},
  ): Promise<WatsonxFoundationModelsPage> {
    const url = new URL(`${this.options.baseUrl}/ml/v1/foundation_model_specs`);
    url.searchParams.set('version', this.options.apiVersion);
    url.searchParams.set('limit', String(MODEL_PAGE_LIMIT));
    if (options.start) url.searchParams.set('start', options.start);
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, {
        method: 'GET',
        headers: { accept: 'application/json', 'user-agent': this.userAgent },
        dispatcher: this.options.dispatcher,
        signal: options.signal,
        headersTimeout: this.options.requestTimeoutMs,
        bodyTimeout: this.options.requestTimeoutMs,
      });
    } catch (error) {
      throw toUpstreamError(error, options.signal);
    }
    if (response.statusCode < 200 || response.statusCode >= 300) {
      const text = await response.body.text().catch(() => '');
      throw WatsonxApiError.fromBody(response.statusCode, text, {
        retryAfter: header(response.headers['retry-after']),
      });
    }
    return (await readJson(response)) as WatsonxFoundationModelsPage;
  }

  async chat(body: WatsonxChatRequest, options: CallOptions): Promise<WatsonxChatResponse> {
    const response = await this.send('text/chat', body, options, 'application/json');
    return (await readJson(response)) as WatsonxChatResponse;
  }

  /**
   * Resolves once watsonx answered 200 (errors before that reject, so the caller can still choose
   * the HTTP status); the generator then yields parsed chunks until the stream ends.
   */
  async chatStream(
    body: WatsonxChatRequest,
    options: CallOptions,
  ): Promise<AsyncGenerator<WatsonxChatChunk>> {
    const response = await this.send('text/chat_stream', body, options, 'text/event-stream');
    return readChunks<WatsonxChatChunk>(response);
  }

  private async send(
    operation: Operation,
    body: object,
    options: CallOptions,
    accept: string,
  ): Promise<Dispatcher.ResponseData> {
    const payload = JSON.stringify({ ...body, ...options.container });
    let authorization = await options.auth.authorization();
    let response = await this.post(operation, payload, authorization, accept, options);
    if (response.statusCode === 401) {
      // The token may have been revoked or expired early: drop it, get a fresh one, retry once.
      await response.body.dump();
      options.auth.invalidate(authorization);
      authorization = await options.auth.authorization();
      response = await this.post(operation, payload, authorization, accept, options);
    }
    if (response.statusCode < 200 || response.statusCode >= 300) {
      const text = await response.body.text().catch(() => '');
      const retryAfter = header(response.headers['retry-after']);
      throw WatsonxApiError.fromBody(response.statusCode, text, { retryAfter });
    }
    return response;
  }

  private async post(
    operation: Operation,
    payload: string,
    authorization: string,
    accept: string,
    options: CallOptions,
  ): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = {
      authorization,
      'content-type': 'application/json',
      accept,
      'user-agent': this.userAgent,
    };
    if (options.requestId) headers['x-global-transaction-id'] = options.requestId;
    try {
      return await request(this.urls[operation], {
        method: 'POST',
        headers,
        body: payload,
        dispatcher: this.options.dispatcher,
        signal: options.signal,
        headersTimeout: this.options.requestTimeoutMs,
        bodyTimeout: this.options.requestTimeoutMs,
      });
    } catch (error) {
      throw toUpstreamError(error, options.signal);
    }
  }
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

async function readJson(response: Dispatcher.ResponseData): Promise<unknown> {
  let text: string;
  try {
    text = await response.body.text();
  } catch (error) {
    throw toUpstreamError(error, undefined);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UpstreamError('protocol', 'watsonx.ai answered with a body that is not JSON');
  }
}

async function* readChunks<T>(response: Dispatcher.ResponseData): AsyncGenerator<T> {
  try {
    for await (const event of decodeSse(response.body)) {
      if (event.event === 'error') {
        throw streamError(event.data);
      }
      if (event.data === '[DONE]') return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(event.data);
      } catch {
        throw new UpstreamError('protocol', 'watsonx.ai sent a stream event that is not JSON');
      }
      if (event.event === 'close') {
        // A trailing close event (2024 framing) may be empty `{}` or carry the final usage chunk.
        if (parsed && typeof parsed === 'object' && ('choices' in parsed || 'usage' in parsed))
          yield parsed as T;
        return;
      }
      yield parsed as T;
    }
  } catch (error) {
    if (error instanceof WatsonxApiError || error instanceof UpstreamError) throw error;
    throw toUpstreamError(error, undefined);
  } finally {
    if (!response.body.destroyed) response.body.destroy();
  }
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

function toUpstreamError(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return error; // the client went away; nothing to report to it
  if (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError
  ) {
    return new UpstreamError('timeout', (error as Error).message, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new UpstreamError('connection', message, { cause: error });
}
