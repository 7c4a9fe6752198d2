// The gateway's own HTTP/1.1 client for watsonx.ai: a keep-alive connection pool per origin that
// writes each request in one write and parses answers in plain JS. It speaks to one kind of
// server (IBM's API gateway, or the simulator) and needs only what those send: Content-Length,
// chunked or read-until-close bodies, 1xx answers skipped, no pipelining, no upgrades.
//
// Why not undici: on the hot path undici's request queue, wasm parser and handler wrappers cost
// ~25 µs of CPU per call on the benchmark machine, a fifth of the whole request, and loading it
// ~6 MB of memory (bench/README.md). The handler interface follows undici's dispatch API.
import type { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import tls from 'node:tls';

/** What a response handler receives to steer its exchange (the subset of undici's controller). */
export interface ExchangeController {
  /** Stop reading from the socket once the current network read has been handed over. */
  pause(): void;
  resume(): void;
  /** End the exchange now: the connection is closed and `onResponseError(reason)` follows. */
  abort(reason: Error): void;
}

export interface ExchangeHandler {
  onRequestStart?(controller: ExchangeController, context: unknown): void;
  onResponseStart?(
    controller: ExchangeController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void;
  onResponseData?(controller: ExchangeController, chunk: Buffer): void;
  onResponseEnd?(controller: ExchangeController, trailers: IncomingHttpHeaders): void;
  onResponseError?(controller: ExchangeController, error: Error): void;
}

export interface DispatchRequest {
  origin: string;
  path: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  /**
   * Header lines built once by the caller (`name: value\r\n` each, names and values already
   * checked), written before `headers`: no per-request header object on the hot path.
   */
  headerBlock?: string;
  body?: string;
  /** From the request's start to the end of the response head. */
  headersTimeout: number;
  /** Longest silence between two reads of the body. */
  bodyTimeout: number;
}

/** Anything that can carry an exchange (this pool; an undici Dispatcher fits too). */
export interface UpstreamDispatcher {
  dispatch(request: DispatchRequest, handler: ExchangeHandler): unknown;
}

export interface Http1PoolOptions {
  /** Longest wait for a TCP (and TLS) connection (default 10 s). */
  connectTimeoutMs?: number;
  /** How long an idle connection is kept when the server gives no Keep-Alive hint (default 30 s). */
  keepAliveTimeoutMs?: number;
  /** Cap on a server's Keep-Alive hint (default 10 min). */
  keepAliveMaxTimeoutMs?: number;
  /** Largest response head accepted (default 64 KiB). */
  maxHeaderBytes?: number;
  /** Extra TLS options (tests pass their own `ca`). */
  tls?: tls.ConnectionOptions;
}

/** The connection failed, closed or was refused before the answer was complete. */
export class UpstreamSocketError extends Error {
  readonly code = 'UPSTREAM_SOCKET';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpstreamSocketError';
  }
}

/** A connect, headers or body timeout of the pool ran out. */
export class UpstreamTimeoutError extends Error {
  readonly code = 'UPSTREAM_TIMEOUT';
  readonly phase: 'connect' | 'headers' | 'body';
  constructor(phase: 'connect' | 'headers' | 'body', ms: number) {
    super(
      phase === 'connect'
        ? `no connection within ${ms} ms`
        : phase === 'headers'
          ? `no response headers within ${ms} ms`
          : `no body data for ${ms} ms`,
    );
    this.name = 'UpstreamTimeoutError';
    this.phase = phase;
  }
}

/** The server's answer is not HTTP/1.1 as this client reads it. */
export class UpstreamProtocolError extends Error {
  readonly code = 'UPSTREAM_PROTOCOL';
  constructor(message: string) {
    super(message);
    this.name = 'UpstreamProtocolError';
  }
}

type ResolvedOptions = Required<Omit<Http1PoolOptions, 'tls'>> & { tls: tls.ConnectionOptions };

const UNSAFE_HEADER_VALUE = /[\r\n\0]/;
/** An HTTP token (RFC 9110 §5.6.2): header names. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** An origin-form request target: printable ASCII (RFC 3986 characters) only, no spaces. */
const SAFE_PATH = /^\/[!-~]*$/;
/** Headers the pool writes or that decide the framing: never taken from the caller. */
const POOL_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection']);
/** A server hint of `timeout=N` is trusted for N s minus this much (it may close at N exactly). */
const KEEP_ALIVE_MARGIN_MS = 1000;

export class Http1Pool implements UpstreamDispatcher {
  readonly #options: ResolvedOptions;
  readonly #origins = new Map<string, Origin>();
  #closing: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(options: Http1PoolOptions = {}) {
    this.#options = {
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 30_000,
      keepAliveMaxTimeoutMs: options.keepAliveMaxTimeoutMs ?? 600_000,
      maxHeaderBytes: options.maxHeaderBytes ?? 64 * 1024,
      tls: options.tls ?? {},
    };
  }

  dispatch(request: DispatchRequest, handler: ExchangeHandler): boolean {
    const exchange = new Exchange(request, handler);
    handler.onRequestStart?.(exchange, {});
    if (exchange.done) return false;
    if (this.#closing) {
      exchange.fail(new UpstreamSocketError('the upstream connection pool is closed'));
      return false;
    }
    let origin = this.#origins.get(request.origin);
    if (!origin) {
      origin = new Origin(request.origin, this.#options, () => this.#maybeClosed());
      this.#origins.set(request.origin, origin);
    }
    const head = requestHead(request, origin.hostHeader);
    if (head instanceof Error) {
      exchange.fail(head);
      return false;
    }
    origin.send(exchange, head);
    return true;
  }

  /** Open connections (busy and idle), for tests and diagnostics. */
  get connections(): { busy: number; idle: number } {
    let busy = 0;
    let idle = 0;
    for (const origin of this.#origins.values()) {
      busy += origin.busy;
      idle += origin.idle.length;
    }
    return { busy, idle };
  }

  /** Takes no new requests, closes idle connections and resolves when the busy ones are done. */
  close(): Promise<void> {
    if (!this.#closing) {
      let resolve!: () => void;
      const promise = new Promise<void>((done) => (resolve = done));
      this.#closing = { promise, resolve };
      for (const origin of this.#origins.values()) origin.closing = true;
      this.#maybeClosed();
    }
    return this.#closing.promise;
  }

  #maybeClosed(): void {
    if (!this.#closing) return;
    let busy = 0;
    for (const origin of this.#origins.values()) {
      origin.closeIdle();
      busy += origin.busy;
    }
    if (busy === 0) this.#closing.resolve();
  }
}

/**
 * The request line and headers, or an error when the path or a header would break the framing.
 * Host and Content-Length are the pool's own; framing headers from the caller are refused.
 */
function requestHead(request: DispatchRequest, hostHeader: string): string | Error {
  if (!SAFE_PATH.test(request.path))
    return new UpstreamProtocolError('the upstream request path is not a valid target');
  let head = `${request.method} ${request.path} HTTP/1.1\r\nhost: ${hostHeader}\r\n${request.headerBlock ?? ''}`;
  for (const name in request.headers) {
    const value = request.headers[name] as string;
    if (!TOKEN.test(name) || POOL_HEADERS.has(name.toLowerCase())) {
      return new UpstreamProtocolError(
        `the upstream request header name ${JSON.stringify(name)} is not allowed`,
      );
    }
    if (UNSAFE_HEADER_VALUE.test(value)) {
      return new UpstreamProtocolError(`the upstream request header ${name} would contain a line break`);
    }
    head += `${name}: ${value}\r\n`;
  }
  if (request.body !== undefined) head += `content-length: ${Buffer.byteLength(request.body)}\r\n`;
  return `${head}\r\n${request.body ?? ''}`;
}

class Origin {
  readonly hostHeader: string;
  readonly options: ResolvedOptions;
  readonly idle: Connection[] = [];
  busy = 0;
  closing = false;
  /** The last TLS session, offered on the next connect (a shorter handshake). */
  tlsSession: Buffer | undefined;
  readonly #secure: boolean;
  readonly #host: string;
  readonly #port: number;
  readonly #onDone: () => void;

  constructor(origin: string, options: ResolvedOptions, onDone: () => void) {
    const url = new URL(origin);
    this.#secure = url.protocol === 'https:';
    this.#host = url.hostname.replace(/^\[|\]$/g, '');
    this.#port = Number(url.port) || (this.#secure ? 443 : 80);
    this.hostHeader = url.host;
    this.options = options;
    this.#onDone = onDone;
  }

  send(exchange: Exchange, head: string): void {
    let connection = this.idle.pop();
    while (connection && !connection.reusable) connection = this.idle.pop();
    if (!connection) connection = this.#connect();
    this.busy += 1;
    connection.start(exchange, head);
  }

  /** A connection let go of its exchange; `keep` puts it back on the idle list. */
  done(connection: Connection, keep: boolean): void {
    this.busy -= 1;
    if (keep && !this.closing) this.idle.push(connection);
    else connection.drop(undefined);
    this.#onDone();
  }

  /** A connection that closed: off the idle list, if it was there. */
  forget(connection: Connection): void {
    const index = this.idle.lastIndexOf(connection);
    if (index >= 0) this.idle.splice(index, 1);
  }

  closeIdle(): void {
    for (const connection of this.idle.splice(0)) connection.drop(undefined);
  }

  #connect(): Connection {
    const options = this.options;
    const socket = this.#secure
      ? tls.connect({
          host: this.#host,
          port: this.#port,
          servername: net.isIP(this.#host) ? undefined : this.#host,
          ALPNProtocols: ['http/1.1'],
          session: this.tlsSession,
          ...options.tls,
        })
      : net.connect({ host: this.#host, port: this.#port });
    if (this.#secure) socket.on('session', (session: Buffer) => (this.tlsSession = session));
    return new Connection(this, socket, this.#secure);
  }
}

/** How the response body is delimited. */
const Framing = { None: 0, Length: 1, Chunked: 2, UntilClose: 3 } as const;
type Framing = (typeof Framing)[keyof typeof Framing];

/** Where a chunked body's reader is. */
const ChunkState = { Size: 0, Data: 1, DataEnd: 2, Trailers: 3 } as const;
type ChunkState = (typeof ChunkState)[keyof typeof ChunkState];

/** One socket, one exchange at a time. */
class Connection {
  readonly #origin: Origin;
  readonly #socket: net.Socket;
  #exchange: Exchange | undefined;
  #connected = false;
  #gone = false;
  #paused = false;
  #parked = false;
  #connectTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  /** How long this connection may idle once its exchange is done (0: not reused). */
  #keepAliveMs = 0;
  // Response parsing state.
  #head: Buffer | undefined;
  #framing: Framing = Framing.None;
  #remaining = 0;
  #chunkState: ChunkState = ChunkState.Size;
  #line = '';

  constructor(origin: Origin, socket: net.Socket, secure: boolean) {
    this.#origin = origin;
    this.#socket = socket;
    const connectMs = origin.options.connectTimeoutMs;
    this.#connectTimer = setTimeout(
      () => this.drop(new UpstreamTimeoutError('connect', connectMs)),
      connectMs,
    );
    this.#connectTimer.unref();
    socket.setNoDelay(true);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      this.#connected = true;
      clearTimeout(this.#connectTimer);
      socket.setKeepAlive(true, 60_000);
    });
    socket.on('data', (data: Buffer) => this.#onData(data));
    socket.on('end', () => this.#onEnd());
    socket.on('error', (error: Error) => this.drop(new UpstreamSocketError(error.message, { cause: error })));
    socket.on('close', () => this.drop(undefined));
  }

  /** Still open, and past its connect (an idle connection that closed is dropped at once). */
  get reusable(): boolean {
    return !this.#gone && this.#connected;
  }

  start(exchange: Exchange, head: string): void {
    clearTimeout(this.#idleTimer);
    if (this.#parked) {
      this.#parked = false;
      this.#socket.ref();
    }
    this.#exchange = exchange;
    this.#head = undefined;
    this.#framing = Framing.None;
    exchange.attach(this);
    this.#socket.write(head);
  }

  pause(): void {
    this.#paused = true;
    this.#socket.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#socket.resume();
  }

  /** The connection is gone (closed, failed, timed out or not wanted): its exchange, if any, fails. */
  drop(error: Error | undefined): void {
    if (this.#gone) return;
    this.#gone = true;
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#idleTimer);
    this.#socket.destroy();
    this.#origin.forget(this);
    const exchange = this.#detach(false);
    exchange?.fail(error ?? new UpstreamSocketError('the connection closed before the answer was complete'));
  }

  /** The exchange was aborted by its handler: the connection cannot be reused mid-answer. */
  abandon(exchange: Exchange): void {
    if (this.#exchange === exchange) this.drop(undefined);
  }

  /** Lets go of the exchange (once): back to the pool when `keep`, else closed. */
  #detach(keep: boolean): Exchange | undefined {
    const exchange = this.#exchange;
    if (!exchange) return undefined;
    this.#exchange = undefined;
    if (keep) {
      if (this.#paused) this.resume();
      // An idle connection does not keep the process alive.
      this.#parked = true;
      this.#socket.unref();
      this.#idleTimer = setTimeout(() => this.drop(undefined), this.#keepAliveMs);
      this.#idleTimer.unref();
    }
    this.#origin.done(this, keep);
    return exchange;
  }

  #onData(data: Buffer): void {
    const exchange = this.#exchange;
    if (!exchange) {
      // Bytes nobody asked for (on an idle connection): the framing is lost.
      this.drop(undefined);
      return;
    }
    let body = data;
    if (exchange.statusCode === 0) {
      const rest = this.#readHead(exchange, data);
      if (rest === undefined || this.#exchange !== exchange) return;
      body = rest;
    }
    this.#readBody(exchange, body);
    if (this.#exchange === exchange) exchange.waitForBody();
  }

  /** Parses the response head; returns the bytes after it, or undefined when more must come. */
  #readHead(exchange: Exchange, data: Buffer): Buffer | undefined {
    let buffer = data;
    let from = 0;
    if (this.#head) {
      from = Math.max(0, this.#head.length - 3);
      buffer = Buffer.concat([this.#head, data]);
      this.#head = undefined;
    }
    for (;;) {
      const end = buffer.indexOf('\r\n\r\n', from, 'latin1');
      if (end < 0 || end > this.#origin.options.maxHeaderBytes) {
        if (end >= 0 || buffer.length > this.#origin.options.maxHeaderBytes) {
          this.drop(
            new UpstreamProtocolError(`response headers over ${this.#origin.options.maxHeaderBytes} bytes`),
          );
        } else {
          this.#head = buffer;
        }
        return undefined;
      }
      const parsed = parseHead(buffer.toString('latin1', 0, end));
      if (parsed instanceof Error) {
        this.drop(new UpstreamProtocolError(parsed.message));
        return undefined;
      }
      const rest = buffer.subarray(end + 4);
      if (parsed.statusCode >= 200) {
        this.#beginBody(exchange, parsed);
        return rest;
      }
      if (parsed.statusCode === 101) {
        this.drop(new UpstreamProtocolError('an unexpected 101 Switching Protocols'));
        return undefined;
      }
      // 100 Continue, 103 Early Hints: another head follows.
      if (rest.length === 0) return undefined;
      buffer = rest;
      from = 0;
    }
  }

  #beginBody(exchange: Exchange, head: ParsedHead): void {
    const headers = head.headers;
    const connection = headers.connection;
    let keepAlive =
      head.http11 && !(typeof connection === 'string' && /(?:^|,)\s*close\s*(?:,|$)/i.test(connection));
    const transferEncoding = headers['transfer-encoding'];
    const contentLength = headers['content-length'];
    this.#framing = Framing.None;
    if (head.statusCode === 204 || head.statusCode === 304) {
      // no body
    } else if (transferEncoding !== undefined) {
      // With Transfer-Encoding, any Content-Length is ignored, and the connection is not reused
      // after such an answer (RFC 9112 §6.3).
      if (contentLength !== undefined) keepAlive = false;
      this.#framing = /(?:^|,)\s*chunked\s*$/i.test(String(transferEncoding))
        ? Framing.Chunked
        : Framing.UntilClose;
      this.#chunkState = ChunkState.Size;
      this.#line = '';
    } else if (contentLength !== undefined) {
      const length = parseContentLength(contentLength);
      if (length < 0) {
        this.drop(new UpstreamProtocolError('an invalid Content-Length'));
        return;
      }
      if (length > 0) this.#framing = Framing.Length;
      this.#remaining = length;
    } else {
      this.#framing = Framing.UntilClose;
    }
    if (this.#framing === Framing.UntilClose) keepAlive = false;
    this.#keepAliveMs = keepAlive ? keepAliveMs(headers['keep-alive'], this.#origin.options) : 0;
    exchange.head(head.statusCode, headers, head.statusMessage);
  }

  #readBody(exchange: Exchange, data: Buffer): void {
    switch (this.#framing) {
      case Framing.None:
        this.#finish(exchange, data.length > 0);
        return;
      case Framing.Length: {
        if (data.length === 0) return;
        const take = Math.min(data.length, this.#remaining);
        this.#remaining -= take;
        exchange.data(take === data.length ? data : data.subarray(0, take));
        if (this.#remaining === 0 && this.#exchange === exchange) this.#finish(exchange, take < data.length);
        return;
      }
      case Framing.Chunked:
        this.#readChunked(exchange, data);
        return;
      case Framing.UntilClose:
        if (data.length > 0) exchange.data(data);
        return;
    }
  }

  #readChunked(exchange: Exchange, data: Buffer): void {
    let position = 0;
    while (position < data.length && this.#exchange === exchange) {
      switch (this.#chunkState) {
        case ChunkState.Size:
        case ChunkState.Trailers: {
          const newline = data.indexOf(10, position);
          const end = newline < 0 ? data.length : newline;
          this.#line += data.toString('latin1', position, end);
          if (this.#line.length > 8192) {
            this.drop(new UpstreamProtocolError('a chunk-size line over 8192 bytes'));
            return;
          }
          if (newline < 0) return;
          position = newline + 1;
          const line = this.#line.endsWith('\r') ? this.#line.slice(0, -1) : this.#line;
          this.#line = '';
          if (this.#chunkState === ChunkState.Trailers) {
            if (line === '') {
              this.#finish(exchange, position < data.length);
              return;
            }
            continue;
          }
          const semicolon = line.indexOf(';');
          const sizeText = (semicolon < 0 ? line : line.slice(0, semicolon)).trim();
          if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) {
            this.drop(new UpstreamProtocolError('an invalid chunk size'));
            return;
          }
          this.#remaining = parseInt(sizeText, 16);
          this.#chunkState = this.#remaining === 0 ? ChunkState.Trailers : ChunkState.Data;
          break;
        }
        case ChunkState.Data: {
          const take = Math.min(data.length - position, this.#remaining);
          this.#remaining -= take;
          exchange.data(data.subarray(position, position + take));
          position += take;
          if (this.#remaining === 0) {
            this.#chunkState = ChunkState.DataEnd;
            this.#remaining = 2;
          }
          break;
        }
        case ChunkState.DataEnd: {
          // The CRLF after a chunk's data (a bare LF is tolerated).
          const byte = data[position] as number;
          position += 1;
          if (this.#remaining === 2 && byte === 13) this.#remaining = 1;
          else if (byte === 10) this.#chunkState = ChunkState.Size;
          else {
            this.drop(new UpstreamProtocolError('a chunk without its CRLF'));
            return;
          }
          break;
        }
      }
    }
  }

  /** The body is complete; `leftover` when the read went on past it (the framing is then lost). */
  #finish(exchange: Exchange, leftover: boolean): void {
    this.#detach(this.#keepAliveMs > 0 && !leftover && !this.#gone);
    exchange.end();
  }

  #onEnd(): void {
    const exchange = this.#exchange;
    if (exchange && exchange.statusCode !== 0 && this.#framing === Framing.UntilClose) {
      this.#detach(false);
      exchange.end();
      return;
    }
    this.drop(undefined);
  }
}

interface ParsedHead {
  statusCode: number;
  statusMessage: string;
  http11: boolean;
  headers: IncomingHttpHeaders;
}

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;

function parseHead(text: string): ParsedHead | Error {
  const lines = text.split('\r\n');
  const status = STATUS_LINE.exec(lines[0] as string);
  if (!status) return new Error('not an HTTP/1.x response');
  const headers: Record<string, string | string[]> = Object.create(null);
  for (let index = 1; index < lines.length; index++) {
    const line = lines[index] as string;
    const colon = line.indexOf(':');
    const raw = colon > 0 ? line.slice(0, colon) : '';
    // No name, a folded line, or whitespace before the colon (RFC 9112 §5.1): refused.
    if (!TOKEN.test(raw)) return new Error('a malformed response header');
    const name = raw.toLowerCase();
    const value = line.slice(colon + 1).trim();
    const previous = headers[name];
    if (previous === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(previous)) previous.push(value);
    else headers[name] = `${previous}, ${value}`;
  }
  return {
    statusCode: Number(status[2]),
    statusMessage: status[3] ?? '',
    http11: status[1] === '1',
    headers: headers as IncomingHttpHeaders,
  };
}

/** A Content-Length (repeated identical values allowed), or -1 when it is not one number. */
function parseContentLength(value: string | string[]): number {
  const parts = String(value).split(',');
  let length = -1;
  for (const part of parts) {
    const text = part.trim();
    if (!/^\d{1,15}$/.test(text)) return -1;
    const number = Number(text);
    if (length >= 0 && number !== length) return -1;
    length = number;
  }
  return length;
}

/** How long a connection may idle: the server's `Keep-Alive: timeout=N` hint (less a margin) or the default. */
function keepAliveMs(
  hint: string | string[] | undefined,
  options: { keepAliveTimeoutMs: number; keepAliveMaxTimeoutMs: number },
): number {
  if (typeof hint === 'string') {
    const match = /timeout=(\d+)/i.exec(hint);
    if (match) return Math.min(Number(match[1]) * 1000 - KEEP_ALIVE_MARGIN_MS, options.keepAliveMaxTimeoutMs);
  }
  return options.keepAliveTimeoutMs;
}

/** One request and its answer: the controller its handler steers it with. */
class Exchange implements ExchangeController {
  statusCode = 0;
  done = false;
  readonly #handler: ExchangeHandler;
  readonly #headersTimeout: number;
  readonly #bodyTimeout: number;
  #connection: Connection | undefined;
  #timer: NodeJS.Timeout | undefined;
  #paused = false;

  constructor(request: DispatchRequest, handler: ExchangeHandler) {
    this.#handler = handler;
    this.#headersTimeout = request.headersTimeout;
    this.#bodyTimeout = request.bodyTimeout;
  }

  attach(connection: Connection): void {
    this.#connection = connection;
    const ms = this.#headersTimeout;
    this.#timer = setTimeout(() => this.abort(new UpstreamTimeoutError('headers', ms)), ms);
    this.#timer.unref();
  }

  head(statusCode: number, headers: IncomingHttpHeaders, statusMessage: string): void {
    this.statusCode = statusCode;
    clearTimeout(this.#timer);
    // The body timer starts once a read ends with the body incomplete (waitForBody): most answers
    // arrive whole with their head, and then need no second timer.
    this.#timer = undefined;
    try {
      this.#handler.onResponseStart?.(this, statusCode, headers, statusMessage);
    } catch (error) {
      this.abort(error as Error);
    }
  }

  /** A read ended and the body is not complete: the server's silence is timed from here. */
  waitForBody(): void {
    if (this.done || this.#paused) return;
    if (this.#timer) this.#timer.refresh();
    else this.#armBodyTimer();
  }

  data(chunk: Buffer): void {
    try {
      this.#handler.onResponseData?.(this, chunk);
    } catch (error) {
      this.abort(error as Error);
    }
  }

  /** The body timeout: the server's silence between two reads (not counted while paused). */
  #armBodyTimer(): void {
    const ms = this.#bodyTimeout;
    this.#timer = setTimeout(() => this.abort(new UpstreamTimeoutError('body', ms)), ms);
    this.#timer.unref();
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.#timer);
    this.#handler.onResponseEnd?.(this, {});
  }

  fail(error: Error): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.#timer);
    this.#handler.onResponseError?.(this, error);
  }

  // ---- the handler's side ----

  pause(): void {
    if (this.done || this.#paused) return;
    this.#paused = true;
    // The body timeout measures the server's silence, not the reader's: stopped while paused, and
    // a new one on resume (a cleared Node timer cannot be refreshed back to life).
    if (this.statusCode !== 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#connection?.pause();
  }

  resume(): void {
    if (this.done || !this.#paused) return;
    this.#paused = false;
    if (this.statusCode !== 0) this.#armBodyTimer();
    this.#connection?.resume();
  }

  abort(reason: Error): void {
    if (this.done) return;
    this.fail(reason);
    this.#connection?.abandon(this);
  }
}
