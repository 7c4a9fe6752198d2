// One upstream HTTP exchange on a dispatcher (http1.ts's pool; the handler interface follows
// undici's). The response body is handed over as the Buffers parsed from each network read: no
// Readable stream, no per-chunk promise unless the reader is already waiting.
import type { IncomingHttpHeaders } from 'node:http';
import type { ExchangeController, ExchangeHandler, UpstreamDispatcher } from './http1.ts';

/** Unread body past which the dispatcher is asked to stop reading from the socket (backpressure). */
const HIGH_WATER_BYTES = 64 * 1024;
/** Past this much unread body, a body nobody wants closes the connection instead of draining it. */
const DRAIN_LIMIT_BYTES = 256 * 1024;

export interface ExchangeOptions {
  origin: string;
  path: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  /** Prebuilt header lines (http1.ts DispatchRequest.headerBlock). */
  headerBlock?: string;
  /**
   * `head` settles once the whole answer is in (`body()` then returns it): one wait instead of two
   * for answers read whole anyway (non-stream calls).
   */
  whole?: boolean;
  body?: string;
  signal?: AbortSignal;
  headersTimeout: number;
  bodyTimeout: number;
}

/** Why a body read was given up (a caller's decision, not an upstream failure). */
class BodyDiscarded extends Error {
  constructor() {
    super('the upstream body was not wanted');
    this.name = 'BodyDiscarded';
  }
}

/**
 * Sends the request; `head` settles when the status and headers arrived (or the exchange failed
 * first). The body is then read with `read()` (what arrived since the last call), `text()` or
 * `buffer()` (all of it), or given up with `discard()` / `destroy()`.
 */
export class UpstreamExchange implements ExchangeHandler {
  statusCode = 0;
  headers: IncomingHttpHeaders = {};
  readonly head: Promise<void>;

  #settleHead: ((error?: unknown) => void) | undefined;
  #controller: ExchangeController | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;
  #chunks: Buffer[] = [];
  #queued = 0;
  #ended = false;
  #failure: { error: unknown } | undefined;
  #waiter: { resolve: (chunks: Buffer[] | null) => void; reject: (error: unknown) => void } | undefined;
  /** A `buffer()` call waiting for the end: chunks are then kept without backpressure. */
  #collector: { resolve: (body: Buffer) => void; reject: (error: unknown) => void } | undefined;
  #discarded = -1;
  readonly #whole: boolean;

  constructor(dispatcher: UpstreamDispatcher, options: ExchangeOptions) {
    this.#whole = options.whole === true;
    this.head = new Promise<void>((resolve, reject) => {
      this.#settleHead = (error) => {
        this.#settleHead = undefined;
        if (error === undefined) resolve();
        else reject(error);
      };
    });
    const signal = options.signal;
    if (signal) {
      if (signal.aborted) {
        this.#fail(signal.reason);
        return;
      }
      this.#signal = signal;
      this.#onAbort = () => this.destroy(signal.reason);
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    dispatcher.dispatch(
      {
        origin: options.origin,
        path: options.path,
        method: options.method,
        headers: options.headers,
        headerBlock: options.headerBlock,
        body: options.body,
        headersTimeout: options.headersTimeout,
        bodyTimeout: options.bodyTimeout,
      },
      this,
    );
  }

  // ---- the dispatcher's side ----

  onRequestStart(controller: ExchangeController): void {
    this.#controller = controller;
    if (this.#failure) controller.abort(this.#failure.error as Error);
  }

  onResponseStart(_controller: ExchangeController, statusCode: number, headers: IncomingHttpHeaders) {
    if (statusCode < 200) return;
    this.statusCode = statusCode;
    this.headers = headers;
    if (!this.#whole) this.#settleHead?.();
  }

  onResponseData(controller: ExchangeController, chunk: Buffer): void {
    if (this.#discarded >= 0) {
      this.#discarded += chunk.length;
      if (this.#discarded > DRAIN_LIMIT_BYTES) controller.abort(new BodyDiscarded());
      return;
    }
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter.resolve([chunk]);
      return;
    }
    this.#chunks.push(chunk);
    this.#queued += chunk.length;
    if (this.#queued > HIGH_WATER_BYTES && !this.#collector && !this.#whole) controller.pause();
  }

  onResponseEnd(): void {
    this.#ended = true;
    this.#release();
    this.#settleHead?.();
    if (this.#collector) {
      const collector = this.#collector;
      this.#collector = undefined;
      collector.resolve(concat(this.#take()));
    }
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter.resolve(this.#take());
    }
  }

  onResponseError(_controller: ExchangeController, error: Error): void {
    this.#fail(error);
  }

  // ---- the reader's side ----

  /** The body Buffers that arrived since the last call (waiting for one), or null at the end. */
  read(): Promise<Buffer[] | null> {
    if (this.#chunks.length > 0 || this.#ended) return Promise.resolve(this.#take());
    if (this.#failure) return Promise.reject(this.#failure.error);
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  /** The whole body, in one promise (settled at once when the body is already complete). */
  buffer(): Promise<Buffer> {
    if (this.#ended) return Promise.resolve(concat(this.#take()));
    if (this.#failure) return Promise.reject(this.#failure.error);
    return new Promise((resolve, reject) => {
      this.#collector = { resolve, reject };
      this.#controller?.resume();
    });
  }

  async text(): Promise<string> {
    return (await this.buffer()).toString('utf8');
  }

  /** The whole body, once it is all in (a `whole` exchange after `head`); else undefined. */
  body(): Buffer | undefined {
    return this.#ended ? concat(this.#take()) : undefined;
  }

  /** The rest of the body is not wanted: drain it (the connection is reused) unless it is large. */
  discard(): void {
    if (this.#ended || this.#failure) return;
    this.#discarded = this.#queued;
    this.#chunks = [];
    this.#queued = 0;
    if (this.#discarded > DRAIN_LIMIT_BYTES) this.#controller?.abort(new BodyDiscarded());
    else this.#controller?.resume();
  }

  /** Ends the exchange now (the connection is closed if the response was still coming). */
  destroy(error: unknown): void {
    if (this.#ended || this.#failure) return;
    this.#fail(error);
    this.#controller?.abort(error as Error);
  }

  get ended(): boolean {
    return this.#ended || this.#failure !== undefined;
  }

  #take(): Buffer[] | null {
    if (this.#chunks.length === 0) return null;
    const chunks = this.#chunks;
    this.#chunks = [];
    // Reset before resuming: a dispatcher may deliver buffered data within resume() (undici did),
    // which may queue (and pause) again; a reset after it would forget that pause and stall the stream.
    const paused = this.#queued > HIGH_WATER_BYTES;
    this.#queued = 0;
    if (paused) this.#controller?.resume();
    return chunks;
  }

  #fail(error: unknown): void {
    if (this.#failure) return;
    this.#failure = { error };
    this.#release();
    this.#settleHead?.(error);
    if (this.#collector) {
      const collector = this.#collector;
      this.#collector = undefined;
      collector.reject(error);
    }
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter.reject(error);
    }
  }

  #release(): void {
    if (this.#onAbort) this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#onAbort = undefined;
  }
}

function concat(chunks: Buffer[] | null): Buffer {
  if (chunks === null) return Buffer.alloc(0);
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}
