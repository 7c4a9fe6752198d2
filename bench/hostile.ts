// Hostile upstream answers and hostile clients (issue 15), measured from outside: for each case a
// fresh gateway process, the hostile input, and what comes back — the client's status, the seconds
// until the answer (capped by a deadline), the gateway process's peak RSS, and whether it is still
// alive and serving a normal request afterwards. A measurement, not a test: nothing is asserted.
// See bench/README.md, "Hostile inputs".
//
//   node bench/hostile.ts [--gateway-root DIR] [--no-build] [--case 1,2a,…] [--deadline 60]
//                         [--json FILE.json] [--label before|after]
//   node bench/hostile.ts --report --before A.json --after B.json [--markdown FILE.md]
//
// The gateway is started as `npm start` starts it (node options and entry from the root's
// package.json start script), in an empty working directory, with WATSONX_URL and IBM_IAM_URL
// pointed at a loopback upstream that this script runs: normal answers by default, one path made
// hostile per upstream case. Client cases use the same upstream in its normal mode, so the RSS
// measured is the gateway's own.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import {
  Agent,
  createServer,
  type IncomingMessage,
  request as httpRequest,
  type ServerResponse,
} from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MIB = 1024 * 1024;
const MODEL = 'ibm/granite-4-h-small';
const GATEWAY_KEY = 'hostile-bench-gateway-key';
/** What the upstream pours into an answer that never ends, at most, before it trickles. */
const POUR_BYTES = 256 * MIB;
/** An answer that never ends: after the pour, one byte this often (inside every idle timeout). */
const TRICKLE_MS = 5000;

const { values: flags } = parseArgs({
  options: {
    'gateway-root': { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    case: { type: 'string', multiple: true, default: [] },
    deadline: { type: 'string', default: '60' },
    json: { type: 'string' },
    label: { type: 'string' },
    report: { type: 'boolean', default: false },
    before: { type: 'string' },
    after: { type: 'string' },
    markdown: { type: 'string' },
  },
});
const DEADLINE_MS = Number(flags.deadline) * 1000;

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
const log = (line: string) => console.log(line);

// ---- the result of one case ----------------------------------------------------------------------

interface Outcome {
  /** "200", "502 upstream_invalid_response", "connection reset", "process died", "still waiting"… */
  status: string;
  /** Seconds until the answer was complete; undefined when the deadline passed first. */
  seconds: number | undefined;
  /** Extra facts for the notes: bytes poured, what leaked, latencies. */
  notes: string[];
}

interface CaseResult {
  id: string;
  title: string;
  env: Record<string, string>;
  status: string;
  seconds: number | undefined;
  deadlineSeconds: number;
  idleRssMb: number;
  peakRssMb: number;
  /** The process's state after the case, then a normal request's status. */
  alive: boolean;
  exit?: string;
  afterStatus: string;
  upstreamMbWritten: number;
  upstreamMbReceived: number;
  clientMbSent: number;
  notes: string[];
  stderrTail?: string;
}

interface RunResult {
  label: string;
  root: string;
  commit: string;
  date: string;
  load: string;
  node: string;
  command: string;
  deadlineSeconds: number;
  cases: CaseResult[];
}

// ---- the gateway process ------------------------------------------------------------------------

interface GatewayCommand {
  root: string;
  entry: string;
  nodeOptions: string[];
  env: Record<string, string>;
  start: string;
}

/** `[NAME=value…] node [options…] <entry>` from the root's start script, as bench/run.ts reads it. */
function gatewayCommand(root: string): GatewayCommand {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
  };
  const start = manifest.scripts?.start ?? '';
  const tokens = start.trim().split(/\s+/).filter(Boolean);
  const env: Record<string, string> = {};
  while (tokens[0] && /^[A-Z_][A-Z0-9_]*=/.test(tokens[0])) {
    const assignment = tokens.shift()!;
    env[assignment.slice(0, assignment.indexOf('='))] = assignment.slice(assignment.indexOf('=') + 1);
  }
  if (tokens.shift() !== 'node') throw new Error(`${root}/package.json: start is not "node …": ${start}`);
  const nodeOptions: string[] = [];
  while (tokens[0]?.startsWith('-')) nodeOptions.push(tokens.shift()!);
  const entry = tokens.shift();
  if (!entry) throw new Error(`${root}/package.json: no entry in the start script: ${start}`);
  return { root, entry, nodeOptions, env, start };
}

interface Gateway {
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  stderr: () => string;
  exit: () => string | undefined;
}

const workDirectory = mkdtempSync(join(tmpdir(), 'bench-hostile-'));
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  rmSync(workDirectory, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

async function startGateway(
  command: GatewayCommand,
  upstreamUrl: string,
  caseEnv: Record<string, string>,
): Promise<Gateway> {
  const port = await freePort();
  // A clean environment (nothing from this shell) and no .env: what the case sets, nothing else.
  const env: Record<string, string> = {
    ...command.env,
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    HOST: '127.0.0.1',
    PORT: String(port),
    WATSONX_URL: upstreamUrl,
    IBM_IAM_URL: upstreamUrl,
    IBM_CLOUD_API_KEY: 'hostile-bench-api-key',
    WATSONX_PROJECT_ID: 'hostile-bench',
    LOG_LEVEL: 'warn',
    ...caseEnv,
  };
  const child = spawn(process.execPath, [...command.nodeOptions, join(command.root, command.entry)], {
    env,
    cwd: mkdtempSync(join(workDirectory, 'gateway-')),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  let exit: string | undefined;
  child.once('exit', (code, signal) => {
    exit = signal ? `killed by ${signal}` : `exit code ${code}`;
    children.delete(child);
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (stderr.length > 64_000) stderr = stderr.slice(-32_000);
  });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 300; attempt++) {
    if (exit) throw new Error(`the gateway ended at start (${exit}):\n${stderr}`);
    try {
      const response = await fetch(`${url}/health`);
      await response.text();
      if (response.ok) return { url, port, pid: child.pid!, child, stderr: () => stderr, exit: () => exit };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`the gateway did not answer /health within 30 s:\n${stderr}`);
}

async function stopGateway(gateway: Gateway): Promise<void> {
  if (gateway.exit()) return;
  const ended = new Promise((done) => gateway.child.once('exit', done));
  gateway.child.kill('SIGKILL');
  await ended;
}

/** VmHWM and VmRSS (MB) sampled every 50 ms: the last VmHWM read survives the process's death. */
function memorySampler(pid: number) {
  let peak = 0;
  const read = () => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const hwm = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
      const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
      peak = Math.max(peak, hwm, rss);
      return rss;
    } catch {
      return 0; // the process has ended
    }
  };
  const idle = read();
  const timer = setInterval(read, 50);
  return {
    idle,
    stop() {
      clearInterval(timer);
      read();
      return peak;
    },
  };
}

// ---- the loopback upstream (watsonx + IAM) ------------------------------------------------------

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

const now = Math.floor(Date.now() / 1000);
/** An IAM-like JWT, unique to this run, so that the client's answer can be searched for it. */
const TOKEN = `${base64url({ kid: 'hostile', alg: 'RS256', typ: 'JWT' })}.${base64url({
  iam_id: 'iam-ServiceId-hostile',
  sub: 'ServiceId-hostile',
  iss: 'https://iam.cloud.ibm.com/identity',
  scope: 'ibm openid',
  iat: now,
  exp: now + 7200,
})}.${randomBytes(32).toString('base64url')}`;
const TOKEN_BODY = JSON.stringify({
  access_token: TOKEN,
  refresh_token: 'not_supported',
  token_type: 'Bearer',
  expires_in: 7200,
  expiration: now + 7200,
  scope: 'ibm openid',
});
const SPECS_BODY = JSON.stringify({
  total_count: 1,
  limit: 200,
  first: { href: 'http://127.0.0.1/ml/v1/foundation_model_specs?version=2026-08-05' },
  resources: [
    {
      model_id: MODEL,
      label: 'granite-4-h-small',
      provider: 'IBM',
      source: 'IBM',
      functions: [{ id: 'text_chat' }, { id: 'text_generation' }],
      task_ids: ['generation', 'function_calling'],
      tasks: [{ id: 'generation' }, { id: 'function_calling' }],
      model_limits: { max_sequence_length: 131072, max_output_tokens: 16384 },
      lifecycle: [{ id: 'available', start_date: '2025-10-02' }],
    },
  ],
});
const CHAT_BODY = JSON.stringify({
  id: 'chatcmpl-hostile',
  object: 'chat.completion',
  model_id: MODEL,
  model: MODEL,
  created: now,
  model_version: '4.0.0',
  created_at: new Date().toISOString(),
  choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Paris.' } }],
  usage: { completion_tokens: 2, prompt_tokens: 10, total_tokens: 12 },
});
/** The start of a valid chat answer whose last string never closes. */
const CHAT_HEAD = CHAT_BODY.slice(0, -1) + ',"pad":"';

type Hostile = (request: IncomingMessage, response: ServerResponse) => void;

interface Upstream {
  url: string;
  /** One path answered by `hostile` until disarmed; everything else answered normally. */
  arm(path: string, hostile: Hostile): void;
  disarm(): void;
  /** Bytes written by the upstream since the last reset, and whether the gateway cut a hostile answer. */
  written(): number;
  /** Request bytes the gateway sent to the upstream since the last reset. */
  received(): number;
  cutByGateway(): boolean;
  reset(): void;
  close(): Promise<void>;
}

async function startUpstream(): Promise<Upstream> {
  let armed: { path: string; hostile: Hostile } | undefined;
  let written = 0;
  let received = 0;
  let cut = false;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0]!;
    request.on('data', (chunk: Buffer) => (received += chunk.length));
    request.once('end', () => {
      if (armed && armed.path === path) {
        response.once('close', () => {
          if (!response.writableFinished) cut = true;
        });
        armed.hostile(request, response);
        return;
      }
      const body =
        path === '/identity/token'
          ? TOKEN_BODY
          : path === '/ml/v1/foundation_model_specs'
            ? SPECS_BODY
            : path === '/ml/v1/text/chat'
              ? CHAT_BODY
              : undefined;
      if (body === undefined) {
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end(
          '{"errors":[{"code":"not_found","message":"not in the hostile bench"}],"status_code":404}',
        );
        return;
      }
      written += Buffer.byteLength(body);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(body);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  upstreamTimers = timers;
  upstreamCount = (bytes: number) => (written += bytes);
  return {
    url,
    arm: (path, hostile) => (armed = { path, hostile }),
    disarm: () => (armed = undefined),
    written: () => written,
    received: () => received,
    cutByGateway: () => cut,
    reset() {
      armed = undefined;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of sockets) socket.destroy();
      written = 0;
      received = 0;
      cut = false;
    },
    close: () =>
      new Promise((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      }),
  };
}
let upstreamTimers = new Set<NodeJS.Timeout>();
let upstreamCount = (bytes: number): number => bytes;

function later(ms: number, action: () => void) {
  const timer = setTimeout(() => {
    upstreamTimers.delete(timer);
    action();
  }, ms);
  upstreamTimers.add(timer);
}

const BLOCK = Buffer.alloc(64 * 1024, 'a');

/**
 * An answer that never ends: `head`, then padding as fast as the gateway reads it up to
 * POUR_BYTES, then one byte every TRICKLE_MS until the gateway closes the connection.
 */
function pour(status: number, contentType: string, head: string): Hostile {
  return (_request, response) => {
    let closed = false;
    response.once('close', () => (closed = true));
    response.writeHead(status, { 'content-type': contentType });
    response.write(head);
    upstreamCount(head.length);
    let poured = 0;
    const next = () => {
      while (!closed && poured < POUR_BYTES) {
        poured += BLOCK.length;
        upstreamCount(BLOCK.length);
        if (!response.write(BLOCK)) {
          response.once('drain', next);
          return;
        }
      }
      const trickle = () => {
        if (closed) return;
        response.write('a');
        upstreamCount(1);
        later(TRICKLE_MS, trickle);
      };
      if (!closed) later(TRICKLE_MS, trickle);
    };
    next();
  };
}

/** Raw bytes on the socket instead of an HTTP/1.1 answer; the connection is then left open. */
function raw(bytes: Buffer): Hostile {
  return (_request, response) => {
    response.socket!.write(bytes);
    upstreamCount(bytes.length);
  };
}

// ---- the client side -----------------------------------------------------------------------------

interface Answer {
  kind: 'answered' | 'reset' | 'timeout';
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  seconds: number;
  /** The first and last 16 KB of the body. */
  head: string;
  tail: string;
  bytes: number;
  error?: string;
}

const keepAlive = new Agent({ keepAlive: true, maxSockets: 64 });

function call(
  url: string,
  options: {
    method?: string;
    path: string;
    body?: string | Buffer;
    headers?: Record<string, string>;
    deadlineMs?: number;
    agent?: Agent | false;
  },
): Promise<Answer> {
  const started = performance.now();
  let resolve: (answer: Answer) => void = () => {};
  const promise = new Promise<Answer>((done) => (resolve = done));
  const answer: Answer = { kind: 'timeout', seconds: 0, head: '', tail: '', bytes: 0 };
  const finish = (kind: Answer['kind'], error?: string) => {
    if (answer.seconds) return;
    answer.kind = kind;
    answer.seconds = (performance.now() - started) / 1000;
    if (error) answer.error = error;
    clearTimeout(timer);
    resolve(answer);
  };
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(options.body));
  }
  const outgoing = httpRequest(
    `${url}${options.path}`,
    {
      method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
      headers,
      agent: options.agent ?? false,
    },
    (response) => {
      answer.status = response.statusCode;
      answer.headers = response.headers;
      response.on('data', (chunk: Buffer) => {
        answer.bytes += chunk.length;
        if (answer.head.length < 16_384)
          answer.head += chunk.toString('utf8', 0, Math.min(chunk.length, 16_384));
        answer.tail = (answer.tail + chunk.toString('utf8', Math.max(0, chunk.length - 16_384))).slice(
          -16_384,
        );
      });
      response.on('end', () => finish('answered'));
      response.on('error', (error) => finish('reset', error.message));
      response.on('aborted', () => finish('reset', 'aborted'));
    },
  );
  outgoing.on('error', (error) => finish('reset', (error as NodeJS.ErrnoException).code ?? error.message));
  const timer = setTimeout(() => {
    answer.seconds = (performance.now() - started) / 1000;
    answer.kind = 'timeout';
    resolve(answer);
    outgoing.destroy();
  }, options.deadlineMs ?? DEADLINE_MS);
  outgoing.end(options.body);
  return promise;
}

const chat = (content: string, extra: object = {}) =>
  JSON.stringify({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content }], ...extra });

/** The error code (or type) of an OpenAI/Anthropic error body, or of the error event in a stream. */
function errorCode(text: string): string | undefined {
  const match = /"code"\s*:\s*"([^"]+)"/.exec(text) ?? /"type"\s*:\s*"([a-z_]+_error)"/.exec(text);
  return match?.[1];
}

/** How the answer reads in the table. */
function describe(answer: Answer, gateway: Gateway): string {
  if (gateway.exit()) return `process died (${gateway.exit()})`;
  if (answer.kind === 'timeout')
    return answer.status ? `${answer.status} headers, body still open` : 'no answer (still waiting)';
  if (answer.kind === 'reset' && answer.status === undefined) return `connection reset (${answer.error})`;
  const stream = String(answer.headers?.['content-type'] ?? '').includes('event-stream');
  const code = errorCode(
    answer.status !== undefined && answer.status < 400 && !stream ? '' : answer.head + answer.tail,
  );
  let text = String(answer.status);
  if (stream) text += code ? ` + error event ${code}` : ' stream';
  else if (code) text += ` ${code}`;
  if (answer.kind === 'reset') text += ', then connection reset';
  return text;
}

// ---- the cases -----------------------------------------------------------------------------------

interface Context {
  gateway: Gateway;
  upstream: Upstream;
  /** Bytes the client side sent in this case. */
  sent: (bytes: number) => void;
}

interface Case {
  id: string;
  title: string;
  env: Record<string, string>;
  /** For a path of the upstream made hostile before the gateway starts. */
  arm?: { path: string; hostile: Hostile };
  run(context: Context): Promise<Outcome>;
  /** The normal request afterwards (a small chat by default). */
  after?: (context: Context) => Promise<string>;
}

/** `{"a":{"a":…{}…}}`, `levels` objects deep. */
const nested = (levels: number) => '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);

function poured(context: Context): string {
  return `upstream wrote ${(context.upstream.written() / MIB).toFixed(1)} MiB${context.upstream.cutByGateway() ? ', then the gateway closed the connection' : ''}`;
}

/** One request, described; for the upstream cases the note says how much the upstream wrote. */
async function single(
  context: Context,
  options: Parameters<typeof call>[1],
  noteUpstream = true,
): Promise<Outcome> {
  if (options.body !== undefined) context.sent(Buffer.byteLength(options.body));
  const answer = await call(context.gateway.url, options);
  const notes: string[] = [];
  if (noteUpstream) notes.push(poured(context));
  if (answer.kind === 'answered' && (answer.status ?? 0) >= 400)
    notes.push(
      `answer: ${(answer.head.length > 300 ? answer.head.slice(0, 300) + '…' : answer.head).replaceAll('\n', ' ')}`,
    );
  if (answer.kind === 'answered' && String(answer.headers?.['content-type']).includes('event-stream')) {
    const error = /data: (\{"error".*)/.exec(answer.head + answer.tail)?.[1];
    notes.push(error ? `error event: ${error.slice(0, 300)}` : `stream of ${answer.bytes} bytes`);
  }
  return {
    status: describe(answer, context.gateway),
    seconds: answer.kind === 'timeout' ? undefined : answer.seconds,
    notes,
  };
}

const STREAM_HEAD =
  'id: 1\nevent: message\ndata: {"id":"x","model_id":"' +
  MODEL +
  '","choices":[{"index":0,"delta":{"content":"';

/** 200 with headers, a chat answer declared whole by Content-Length, then one byte every `everyMs`. */
function trickle(everyMs: number): Hostile {
  return (_request, response) => {
    let closed = false;
    response.once('close', () => (closed = true));
    response.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(CHAT_BODY),
    });
    let sent = 0;
    const next = () => {
      if (closed || sent >= CHAT_BODY.length) return;
      response.write(CHAT_BODY[sent++]!);
      upstreamCount(1);
      later(everyMs, next);
    };
    next();
  };
}

const BARE_LF = Buffer.from(
  `HTTP/1.1 200 OK\ncontent-type: application/json\ncontent-length: ${Buffer.byteLength(CHAT_BODY)}\n\n${CHAT_BODY}`,
);
// The HTTP/2 connection preface, then an empty SETTINGS frame (length 0, type 4, flags 0, stream 0).
const HTTP2 = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

/** Does `text` show an internal address: the host, the port, an errno code? */
function addressLeaks(text: string, port: number): string {
  const found = [
    text.includes('127.0.0.1') ? 'host 127.0.0.1' : '',
    text.includes(String(port)) ? `port ${port}` : '',
    /E[A-Z]{3,}/.exec(text)?.[0] ?? '',
  ].filter(Boolean);
  return found.length > 0 ? `shows ${found.join(', ')}` : 'no host/port/errno';
}

let closedIamPort = 0;

const CASES: Case[] = [
  {
    id: '1',
    title: 'Stream: an SSE line that never ends',
    env: {},
    arm: { path: '/ml/v1/text/chat_stream', hostile: pour(200, 'text/event-stream', STREAM_HEAD) },
    run: (context) => single(context, { path: '/v1/chat/completions', body: chat('hi', { stream: true }) }),
  },
  {
    id: '2a',
    title: 'Non-stream 200 body that never ends',
    env: {},
    arm: { path: '/ml/v1/text/chat', hostile: pour(200, 'application/json', CHAT_HEAD) },
    run: (context) => single(context, { path: '/v1/chat/completions', body: chat('hi') }),
  },
  {
    id: '2b',
    title: 'Error (500) body that never ends',
    env: {},
    arm: {
      path: '/ml/v1/text/chat',
      hostile: pour(500, 'application/json', '{"errors":[{"code":"boom","message":"it broke"}],"pad":"'),
    },
    run: (context) => single(context, { path: '/v1/chat/completions', body: chat('hi') }),
  },
  {
    id: '2c',
    title: 'Model catalogue page that never ends (GET /v1/models)',
    env: {},
    arm: {
      path: '/ml/v1/foundation_model_specs',
      hostile: pour(200, 'application/json', '{"total_count":0,"limit":200,"resources":[],"pad":"'),
    },
    run: (context) => single(context, { path: '/v1/models' }),
  },
  {
    id: '2d',
    title: 'IAM token answer that never ends',
    env: {},
    arm: {
      path: '/identity/token',
      hostile: pour(200, 'application/json', TOKEN_BODY.slice(0, -1) + ',"pad":"'),
    },
    run: (context) => single(context, { path: '/v1/chat/completions', body: chat('hi') }),
  },
  {
    id: '3a',
    title: 'Non-stream answer trickled one byte every 5 s (REQUEST_TIMEOUT=20, REQUEST_TOTAL_TIMEOUT=10)',
    env: { REQUEST_TIMEOUT: '20', REQUEST_TOTAL_TIMEOUT: '10' },
    arm: { path: '/ml/v1/text/chat', hostile: trickle(5000) },
    run: (context) => single(context, { path: '/v1/chat/completions', body: chat('hi') }),
  },
  {
    id: '3b',
    title: 'Bare-LF answer (default REQUEST_TIMEOUT 300 s)',
    env: {},
    arm: { path: '/ml/v1/text/chat', hostile: raw(BARE_LF) },
    run: (context) => single(context, { path: '/v1/chat/completions', body: chat('hi') }),
  },
  {
    id: '3c',
    title: 'The HTTP/2 client preface (PRI * HTTP/2.0…) and a SETTINGS frame instead of HTTP/1.1',
    env: {},
    arm: { path: '/ml/v1/text/chat', hostile: raw(HTTP2) },
    run: (context) => single(context, { path: '/v1/chat/completions', body: chat('hi') }),
  },
  {
    id: '3d',
    title: 'A binary HTTP/2 SETTINGS frame alone (what an HTTP/2-only server sends first)',
    env: {},
    arm: { path: '/ml/v1/text/chat', hostile: raw(HTTP2.subarray(HTTP2.length - 9)) },
    run: (context) => single(context, { path: '/v1/chat/completions', body: chat('hi') }),
  },
  {
    id: '4a',
    title: 'JSON 100,000 levels deep in tools[].function.parameters',
    env: {},
    run: (context) =>
      single(
        context,
        {
          path: '/v1/chat/completions',
          body: `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${nested(100_000)}}}]}`,
        },
        false,
      ),
  },
  {
    id: '4b',
    title: 'JSON 100,000 levels deep in response_format.json_schema.schema',
    env: {},
    run: (context) =>
      single(
        context,
        {
          path: '/v1/chat/completions',
          body: `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":${nested(100_000)}}}}`,
        },
        false,
      ),
  },
  {
    id: '4c',
    title: 'JSON 100,000 levels deep as assistant tool_calls[].function.arguments (an object)',
    env: {},
    run: (context) =>
      single(
        context,
        {
          path: '/v1/chat/completions',
          body: `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":${nested(100_000)}}}]},{"role":"tool","tool_call_id":"c1","content":"ok"}]}`,
        },
        false,
      ),
  },
  {
    id: '5',
    title: 'watsonx 400 whose message echoes the Authorization header',
    env: {},
    arm: {
      path: '/ml/v1/text/chat',
      hostile: (request, response) => {
        const body = JSON.stringify({
          errors: [
            {
              code: 'json_validation_error',
              message: `Invalid request; headers received: Authorization: ${request.headers.authorization}; token ${TOKEN}`,
            },
          ],
          trace: 'hostile',
          status_code: 400,
        });
        upstreamCount(body.length);
        response.writeHead(400, { 'content-type': 'application/json' });
        response.end(body);
      },
    },
    async run(context) {
      context.sent(chat('hi').length);
      const answer = await call(context.gateway.url, { path: '/v1/chat/completions', body: chat('hi') });
      const text = answer.head + answer.tail;
      const signature = TOKEN.split('.')[2]!;
      return {
        status: describe(answer, context.gateway),
        seconds: answer.kind === 'timeout' ? undefined : answer.seconds,
        notes: [
          text.includes(TOKEN)
            ? 'the IAM bearer token reaches the client'
            : text.includes(signature)
              ? 'part of the IAM token (its signature) reaches the client'
              : 'no part of the IAM token reaches the client',
          `answer: ${answer.head.slice(0, 400)}`,
        ],
      };
    },
  },
  {
    id: '6',
    title: 'IAM unreachable (IBM_IAM_URL on a closed loopback port): chat, then /ready',
    env: {},
    async run(context) {
      context.sent(chat('hi').length);
      const answer = await call(context.gateway.url, { path: '/v1/chat/completions', body: chat('hi') });
      const ready = await call(context.gateway.url, { path: '/ready', deadlineMs: 30_000 });
      return {
        status: `${describe(answer, context.gateway)}; /ready ${describe(ready, context.gateway)}`,
        seconds: answer.kind === 'timeout' ? undefined : answer.seconds,
        notes: [
          `client answer ${addressLeaks(answer.head, closedIamPort)}: ${answer.head.slice(0, 300)}`,
          `/ready (${ready.seconds.toFixed(2)} s) ${addressLeaks(ready.head, closedIamPort)}: ${ready.head.slice(0, 300)}`,
        ],
      };
    },
    after: async (context) => {
      const health = await call(context.gateway.url, { path: '/health', deadlineMs: 15_000 });
      return `/health ${describe(health, context.gateway)} (chat needs IAM)`;
    },
  },
  {
    id: '7a',
    title: '/docs and /docs/json without a key, API_KEY set',
    env: { API_KEY: GATEWAY_KEY },
    run: docs,
    after: afterWithKey,
  },
  {
    id: '7b',
    title: '/docs and /docs/json without a key, API_KEY set and DOCS_REQUIRE_KEY=true',
    env: { API_KEY: GATEWAY_KEY, DOCS_REQUIRE_KEY: 'true' },
    run: docs,
    after: afterWithKey,
  },
  {
    id: '8',
    title: '10 concurrent 20 MiB chat bodies (200 MiB; 20 × 49 MB would pass the byte budget)',
    env: {},
    async run(context) {
      const body = Buffer.from(chat('a'.repeat(20 * MIB - chat('').length)));
      const started = performance.now();
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => {
          context.sent(body.length);
          return call(context.gateway.url, { path: '/v1/chat/completions', body });
        }),
      );
      const counts = new Map<string, number>();
      for (const answer of answers) {
        const text = describe(answer, context.gateway);
        counts.set(text, (counts.get(text) ?? 0) + 1);
      }
      const late = answers.some((answer) => answer.kind === 'timeout');
      return {
        status: [...counts].map(([text, count]) => `${count} × ${text}`).join(', '),
        seconds: late ? undefined : (performance.now() - started) / 1000,
        notes: [`answer times: ${answers.map((answer) => answer.seconds.toFixed(1)).join(', ')} s`],
      };
    },
  },
  {
    id: '9',
    title: 'One valid 44 MB body with a million tools, small chats sent alongside',
    env: {},
    async run(context) {
      const tools = '{"type":"function","function":{"name":"t"}},'.repeat(1_000_000).slice(0, -1);
      const body = Buffer.from(
        `{"model":"${MODEL}","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[${tools}]}`,
      );
      // Small requests one after another on a keep-alive connection, before, during and after.
      const small = chat('hi');
      const latencies: Array<{ at: number; seconds: number; status: string }> = [];
      let running = true;
      const started = performance.now();
      const loop = (async () => {
        while (running && !context.gateway.exit()) {
          const at = (performance.now() - started) / 1000;
          const answer = await call(context.gateway.url, {
            path: '/v1/chat/completions',
            body: small,
            agent: keepAlive,
            deadlineMs: DEADLINE_MS,
          });
          context.sent(small.length);
          latencies.push({ at, seconds: answer.seconds, status: describe(answer, context.gateway) });
          await sleep(5);
        }
      })();
      await sleep(1000);
      const baseline = latencies.map((entry) => entry.seconds).sort((a, b) => a - b);
      context.sent(body.length);
      const big = await call(context.gateway.url, { path: '/v1/chat/completions', body });
      await sleep(1000);
      running = false;
      await loop;
      const during = latencies.filter((entry) => entry.at >= 1 && entry.at <= 1 + big.seconds + 0.05);
      const worst = Math.max(0, ...during.map((entry) => entry.seconds));
      return {
        status: describe(big, context.gateway),
        seconds: big.kind === 'timeout' ? undefined : big.seconds,
        notes: [
          `a concurrent small chat took at most ${worst.toFixed(3)} s while the large body was handled (${during.length} sent meanwhile; median before: ${(baseline[Math.floor(baseline.length / 2)] ?? 0).toFixed(3)} s)`,
          `small chats' statuses: ${[...new Set(latencies.map((entry) => entry.status))].join(', ')}`,
          `body: ${(body.length / 1e6).toFixed(1)} MB`,
        ],
      };
    },
  },
  {
    id: '10',
    title: 'A request without a Host header (raw socket)',
    env: {},
    async run(context) {
      const started = performance.now();
      const socket = connect(context.gateway.port, '127.0.0.1');
      let text = '';
      socket.setEncoding('utf8').on('data', (part: string) => (text += part));
      socket.on('error', () => {});
      socket.write('GET /v1/models HTTP/1.1\r\nconnection: close\r\n\r\n');
      await Promise.race([new Promise((done) => socket.once('close', done)), sleep(DEADLINE_MS)]);
      socket.destroy();
      const seconds = (performance.now() - started) / 1000;
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      // Node's own 400 is an empty chunked body ("0" and the blank line).
      const body = text.slice(text.indexOf('\r\n\r\n') + 4).replace(/^0\r\n\r\n$/, '');
      return {
        status: status
          ? `${status} ${body.trim() ? (errorCode(body) ?? 'non-JSON body') : '(empty body)'}`
          : 'connection closed without an answer',
        seconds,
        notes: [`answer: ${text.slice(0, 400).replaceAll('\r\n', ' | ')}`],
      };
    },
  },
];

async function docs(context: Context): Promise<Outcome> {
  const started = performance.now();
  const json = await call(context.gateway.url, { path: '/docs/json' });
  const page = await call(context.gateway.url, { path: '/docs' });
  const asset = await call(context.gateway.url, { path: '/docs/static/index.html' });
  return {
    status: `/docs/json ${describe(json, context.gateway)}, /docs ${describe(page, context.gateway)}, /docs/static/index.html ${describe(asset, context.gateway)}`,
    seconds: (performance.now() - started) / 1000,
    notes: [`/docs/json holds ${json.bytes} bytes`],
  };
}

async function afterWithKey(context: Context): Promise<string> {
  const answer = await call(context.gateway.url, {
    path: '/v1/chat/completions',
    body: chat('hi'),
    headers: { authorization: `Bearer ${GATEWAY_KEY}` },
    deadlineMs: 15_000,
  });
  return describe(answer, context.gateway);
}

// ---- the run ---------------------------------------------------------------------------------------

function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

function gitDescription(root: string): string {
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  const status = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' });
  const hash = commit.stdout?.trim() || 'unknown';
  return status.stdout?.trim() ? `${hash} + uncommitted changes in src/` : hash;
}

async function runCase(command: GatewayCommand, upstream: Upstream, entry: Case): Promise<CaseResult> {
  upstream.reset();
  const env = { ...entry.env };
  if (entry.id === '6') {
    closedIamPort = await freePort();
    env.IBM_IAM_URL = `http://127.0.0.1:${closedIamPort}`;
  }
  if (entry.arm) upstream.arm(entry.arm.path, entry.arm.hostile);
  const gateway = await startGateway(command, upstream.url, env);
  let clientBytes = 0;
  const context: Context = { gateway, upstream, sent: (bytes) => (clientBytes += bytes) };
  const sampler = memorySampler(gateway.pid);
  let outcome: Outcome;
  try {
    outcome = await entry.run(context);
  } catch (error) {
    outcome = { status: `bench error: ${(error as Error).message}`, seconds: undefined, notes: [] };
  }
  // Let a dying process finish dying before it is judged.
  await sleep(500);
  const peak = sampler.stop();
  const upstreamWritten = upstream.written();
  const upstreamReceived = upstream.received();
  upstream.disarm();
  const alive = !gateway.exit();
  let afterStatus = 'not tried (the process is gone)';
  if (alive) {
    const next = () =>
      entry.after
        ? entry.after(context)
        : call(gateway.url, { path: '/v1/chat/completions', body: chat('hi'), deadlineMs: 15_000 }).then(
            (answer) => describe(answer, gateway),
          );
    try {
      afterStatus = await next();
      // A failure the gateway remembers for a while (IAM's backoff): once more, 3 s later.
      if (!afterStatus.startsWith('200') && !entry.after) {
        await sleep(3000);
        afterStatus += `, 3 s later ${await next()}`;
      }
    } catch (error) {
      afterStatus = `bench error: ${(error as Error).message}`;
    }
  }
  await stopGateway(gateway);
  const stderr = gateway.stderr().trim();
  return {
    id: entry.id,
    title: entry.title,
    env,
    status: outcome.status,
    seconds: outcome.seconds,
    deadlineSeconds: DEADLINE_MS / 1000,
    idleRssMb: Math.round(sampler.idle),
    peakRssMb: Math.round(peak),
    alive,
    ...(alive ? {} : { exit: gateway.exit() }),
    afterStatus,
    upstreamMbWritten: Math.round((upstreamWritten / MIB) * 10) / 10,
    upstreamMbReceived: Math.round((upstreamReceived / MIB) * 10) / 10,
    clientMbSent: Math.round((clientBytes / MIB) * 10) / 10,
    notes: outcome.notes,
    ...(stderr ? { stderrTail: stderr.slice(-1500) } : {}),
  };
}

function seconds(result: CaseResult): string {
  return result.seconds === undefined
    ? `> ${result.deadlineSeconds} s (still waiting)`
    : result.seconds < 1
      ? `${(result.seconds * 1000).toFixed(0)} ms`
      : `${result.seconds.toFixed(1)} s`;
}

function processAfter(result: CaseResult): string {
  return result.alive ? `alive; next request: ${result.afterStatus}` : `dead (${result.exit})`;
}

async function measure() {
  const root = resolve(flags['gateway-root'] ?? ROOT);
  const command = gatewayCommand(root);
  if (!flags['no-build']) {
    log(`building ${root} (npm run build)…`);
    const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
    if (build.status !== 0) throw new Error('npm run build failed');
  }
  const chosen = flags.case.flatMap((value) => value.split(','));
  const cases = chosen.length > 0 ? CASES.filter((entry) => chosen.includes(entry.id)) : CASES;
  const result: RunResult = {
    label: flags.label ?? gitDescription(root),
    root,
    commit: gitDescription(root),
    date: new Date().toISOString(),
    load: loadAverage(),
    node: process.version,
    command: `package.json start: ${command.start}`,
    deadlineSeconds: DEADLINE_MS / 1000,
    cases: [],
  };
  log(`gateway ${result.commit} at ${root}; ${result.command}; load average ${result.load}`);
  const upstream = await startUpstream();
  try {
    for (const entry of cases) {
      log(`case ${entry.id}: ${entry.title}…`);
      const caseResult = await runCase(command, upstream, entry);
      result.cases.push(caseResult);
      log(
        `  ${caseResult.status} | ${seconds(caseResult)} | peak ${caseResult.peakRssMb} MB (idle ${caseResult.idleRssMb}) | ${processAfter(caseResult)} | upstream wrote ${caseResult.upstreamMbWritten} MiB, received ${caseResult.upstreamMbReceived} MiB, client ${caseResult.clientMbSent} MiB`,
      );
      for (const note of caseResult.notes) log(`    ${note}`);
    }
  } finally {
    upstream.reset();
    await upstream.close();
    keepAlive.destroy();
  }
  if (flags.json) {
    writeFileSync(flags.json, JSON.stringify(result, null, 2) + '\n');
    log(`wrote ${flags.json}`);
  }
}

// ---- the before/after report -------------------------------------------------------------------------

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** Case 9's figure that matters, the stall seen by the small requests, for the table. */
function stall(result: CaseResult): string {
  const found = result.notes
    .map((note) => /small chat took at most ([\d.]+) s/.exec(note)?.[1])
    .find(Boolean);
  return found ? `; a small chat alongside waited up to ${Number(found).toFixed(2)} s` : '';
}

function report(before: RunResult, after: RunResult): string {
  const lines: string[] = [];
  lines.push('# Hostile upstream answers and hostile clients (issue 15): before / after', '');
  lines.push(
    `Measured with \`node bench/hostile.ts\` (bench/README.md, "Hostile inputs"): a fresh gateway process per case, started as its \`npm start\` starts it, with WATSONX_URL and IBM_IAM_URL on a loopback upstream run by the script (normal answers, one path made hostile per upstream case; \`IBM_CLOUD_API_KEY\`, \`WATSONX_PROJECT_ID\`, \`LOG_LEVEL=warn\`, everything else default unless the case says). Time: from sending the request to the end of the answer (a case's first request also fetches the IAM token and the catalogue), capped at ${after.deadlineSeconds} s. Peak RSS: the gateway process's VmHWM since its start (sampled every 50 ms, so it survives the process's death); the idle figure is in the notes. "Next request": a small chat sent after the case, the upstream normal again. An answer that never ends is ${POUR_BYTES / MIB} MiB as fast as the gateway reads, then one byte every ${TRICKLE_MS / 1000} s; no case sends more than ${POUR_BYTES / MIB} MiB, so the old code's ~3 GB crash of case 1 is not reached here.`,
    '',
    "Environment: the variables of each case (notes) existed in both versions except `DOCS_REQUIRE_KEY` (7b), which the old code ignores. The old entry `dist/cli.js` re-executes itself in the same process with `--max-semi-space-size=8` and `MALLOC_ARENA_MAX=2` (V8's default heap limit, ~4 GB on this machine); the new start script gives `--max-semi-space-size=16 --max-old-space-size=512`.",
    '',
  );
  for (const [name, run] of [
    ['Before', before],
    ['After', after],
  ] as const) {
    lines.push(
      `- **${name}**: \`${run.commit}\` (worktree ${run.root}), ${run.command}; started ${run.date}; Node ${run.node}; load average at start ${run.load} (2 cores, shared with other engineers' test runs).`,
    );
  }
  lines.push('');
  lines.push(
    '| Case | Before: status | Before: time | Before: peak RSS | After: status | After: time | After: peak RSS |',
    '| ---- | -------------- | -----------: | ---------------: | ------------- | ----------: | --------------: |',
  );
  const byId = new Map(before.cases.map((entry) => [entry.id, entry]));
  for (const entry of after.cases) {
    const old = byId.get(entry.id);
    const side = (result: CaseResult | undefined) =>
      result
        ? [
            `${cell(result.status)}${stall(result)}; ${cell(processAfter(result))}`,
            seconds(result),
            `${result.peakRssMb} MB`,
          ]
        : ['not measured', '', ''];
    lines.push(`| ${entry.id}. ${cell(entry.title)} | ${[...side(old), ...side(entry)].join(' | ')} |`);
  }
  lines.push('', '## Notes per case', '');
  for (const entry of after.cases) {
    const old = byId.get(entry.id);
    const env = Object.entries(entry.env).map(([name, value]) =>
      name === 'IBM_IAM_URL' ? `\`${name}=http://127.0.0.1:<a closed port>\`` : `\`${name}=${value}\``,
    );
    lines.push(
      `- **${entry.id}. ${entry.title}** — environment: ${env.length > 0 ? env.join(' ') : 'defaults'}.`,
    );
    for (const [name, result] of [
      ['before', old],
      ['after', entry],
    ] as const) {
      if (!result) continue;
      const facts = [
        ...result.notes,
        `idle RSS ${result.idleRssMb} MB`,
        `the upstream received ${result.upstreamMbReceived} MiB, the client sent ${result.clientMbSent} MiB`,
      ];
      lines.push(`  - ${name}: ${cell(facts.join('; '))}`);
    }
  }
  lines.push('');
  return lines.join('\n');
}

if (flags.report) {
  if (!flags.before || !flags.after) throw new Error('--report needs --before A.json and --after B.json');
  const text = report(
    JSON.parse(readFileSync(flags.before, 'utf8')) as RunResult,
    JSON.parse(readFileSync(flags.after, 'utf8')) as RunResult,
  );
  if (flags.markdown) writeFileSync(flags.markdown, text);
  else process.stdout.write(text);
} else {
  await measure();
  process.exit(0);
}
