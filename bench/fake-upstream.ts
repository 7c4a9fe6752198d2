// A fast fake watsonx.ai + IAM for the benchmark: every body is rendered once, up front, so the
// requests it serves cost it almost nothing and the gateway's own cost stands out. Unlike
// src/simulator it checks nothing and varies nothing; it only has to be quick and speak the wire
// formats of docs/watsonx-api.md (§1.1 IAM, §3 chat, §3.3 2025 stream framing, §5, §7).
//
//   node bench/fake-upstream.ts --port 0 --chunks 50 --delay-ms 0
//
// Prints one JSON line `{"port":…}` once it listens. Loopback only.
// Control endpoints for bench/run.ts (not watsonx):
//   POST /_bench/config?chunks=N&delay_ms=D   re-renders the stream (N content chunks, D ms apart)
//   GET  /_bench/stats                        {requests, streams, activeStreams, maxActiveStreams}
//   POST /_bench/stats/reset
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';

export const BENCH_CHAT_MODEL = 'ibm/granite-4-h-small';
export const BENCH_EMBEDDING_MODEL = 'ibm/granite-embedding-278m-multilingual';
export const EMBEDDING_INPUTS = 100;
export const EMBEDDING_DIMENSION = 768;

interface StreamConfig {
  chunks: number;
  delayMs: number;
}

interface Rendered {
  token: Buffer;
  specs: Buffer;
  chat: Buffer;
  embeddings: Buffer;
  /** One SSE event per element: role, `chunks` content chunks, finish, usage. */
  frames: Buffer[];
  /** The same events as one buffer, written at once when there is no delay. */
  wholeStream: Buffer;
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function renderToken(nowSeconds: number): Buffer {
  const claims = {
    iam_id: 'iam-ServiceId-bench',
    sub: 'ServiceId-bench',
    sub_type: 'ServiceId',
    iss: 'https://iam.cloud.ibm.com/identity',
    grant_type: 'urn:ibm:params:oauth:grant-type:apikey',
    scope: 'ibm openid',
    iat: nowSeconds,
    exp: nowSeconds + 3600,
  };
  const token = `${base64url({ kid: 'bench', alg: 'RS256', typ: 'JWT' })}.${base64url(claims)}.${randomBytes(32).toString('base64url')}`;
  return Buffer.from(
    JSON.stringify({
      access_token: token,
      refresh_token: 'not_supported',
      token_type: 'Bearer',
      expires_in: 3600,
      expiration: claims.exp,
      scope: 'ibm openid',
    }),
  );
}

function renderSpecs(): Buffer {
  const lifecycle = [{ id: 'available', start_date: '2025-10-02' }];
  return Buffer.from(
    JSON.stringify({
      total_count: 2,
      limit: 200,
      first: { href: 'http://127.0.0.1/ml/v1/foundation_model_specs?version=2026-08-05' },
      resources: [
        {
          model_id: BENCH_CHAT_MODEL,
          label: 'granite-4-h-small',
          provider: 'IBM',
          source: 'IBM',
          functions: [{ id: 'text_chat' }, { id: 'text_generation' }],
          task_ids: ['generation', 'function_calling'],
          tasks: [{ id: 'generation' }, { id: 'function_calling' }],
          model_limits: { max_sequence_length: 131072, max_output_tokens: 16384 },
          lifecycle,
        },
        {
          model_id: BENCH_EMBEDDING_MODEL,
          label: 'granite-embedding-278m-multilingual',
          provider: 'IBM',
          source: 'IBM',
          functions: [{ id: 'embedding' }],
          task_ids: ['embedding'],
          tasks: [{ id: 'embedding' }],
          model_limits: { max_sequence_length: 512, embedding_dimension: EMBEDDING_DIMENSION },
          lifecycle,
        },
      ],
    }),
  );
}

const CREATED = 1767225600;
const CREATED_AT = '2026-01-01T00:00:00.100Z';
const RESPONSE_ID = 'chatcmpl-8f2c0d0e5b7a4f7e9c1d2e3f4a5b6c7d';
const TIMES = { created: CREATED, model_version: '4.0.0', created_at: CREATED_AT };

function renderChat(): Buffer {
  return Buffer.from(
    JSON.stringify({
      id: RESPONSE_ID,
      object: 'chat.completion',
      model_id: BENCH_CHAT_MODEL,
      model: BENCH_CHAT_MODEL,
      ...TIMES,
      choices: [
        {
          index: 0,
          finish_reason: 'stop',
          message: {
            role: 'assistant',
            content: 'The capital of France is Paris. It has been the capital since the 10th century.',
          },
        },
      ],
      usage: { completion_tokens: 19, prompt_tokens: 41, total_tokens: 60 },
    }),
  );
}

function renderFrames(chunks: number): Buffer[] {
  const event = (id: number, data: unknown) =>
    Buffer.from(`id: ${id}\nevent: message\ndata: ${JSON.stringify(data)}\n\n`);
  const chunk = (choices: unknown[], extra: object = {}) => ({
    id: RESPONSE_ID,
    object: 'chat.completion.chunk',
    model_id: BENCH_CHAT_MODEL,
    model: BENCH_CHAT_MODEL,
    choices,
    ...TIMES,
    ...extra,
  });
  const frames = [
    event(1, chunk([{ index: 0, finish_reason: null, delta: { role: 'assistant', content: '' } }])),
  ];
  for (let index = 0; index < chunks; index++) {
    frames.push(
      event(
        frames.length + 1,
        chunk([{ index: 0, finish_reason: null, delta: { content: ` tok${index % 10}` } }]),
      ),
    );
  }
  frames.push(event(frames.length + 1, chunk([{ index: 0, finish_reason: 'stop', delta: { content: '' } }])));
  frames.push(
    event(
      frames.length + 1,
      chunk([], { usage: { completion_tokens: chunks, prompt_tokens: 12, total_tokens: chunks + 12 } }),
    ),
  );
  return frames;
}

/** 100 × 768 floats with 8 significant digits, about 1 MB of JSON (deterministic). */
function renderEmbeddings(): Buffer {
  let seed = 42;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const results = [];
  for (let input = 0; input < EMBEDDING_INPUTS; input++) {
    const embedding = new Array<number>(EMBEDDING_DIMENSION);
    for (let index = 0; index < EMBEDDING_DIMENSION; index++)
      embedding[index] = Number((next() * 0.2 - 0.1).toPrecision(8));
    results.push({ embedding });
  }
  return Buffer.from(
    JSON.stringify({
      model_id: BENCH_EMBEDDING_MODEL,
      results,
      created_at: CREATED_AT,
      input_token_count: EMBEDDING_INPUTS * 8,
    }),
  );
}

function render(config: StreamConfig, nowSeconds: number, previous?: Rendered): Rendered {
  const frames = renderFrames(config.chunks);
  return {
    token: previous?.token ?? renderToken(nowSeconds),
    specs: previous?.specs ?? renderSpecs(),
    chat: previous?.chat ?? renderChat(),
    embeddings: previous?.embeddings ?? renderEmbeddings(),
    frames,
    wholeStream: Buffer.concat(frames),
  };
}

export async function startFakeUpstream(options: { port: number; stream: StreamConfig }) {
  const config: StreamConfig = { ...options.stream };
  let rendered = render(config, Math.floor(Date.now() / 1000));
  const stats = { requests: 0, streams: 0, activeStreams: 0, maxActiveStreams: 0 };

  const sendFixed = (response: ServerResponse, status: number, headers: object, body: Buffer) => {
    response.writeHead(status, { ...headers, 'content-length': body.length });
    response.end(body);
  };

  const sendStream = (response: ServerResponse) => {
    const { frames, wholeStream } = rendered;
    const delayMs = config.delayMs;
    stats.streams++;
    stats.activeStreams++;
    if (stats.activeStreams > stats.maxActiveStreams) stats.maxActiveStreams = stats.activeStreams;
    let timer: NodeJS.Timeout | undefined;
    response.once('close', () => {
      stats.activeStreams--;
      if (timer) clearTimeout(timer);
    });
    response.writeHead(200, SSE_HEADERS);
    if (delayMs <= 0) {
      response.end(wholeStream);
      return;
    }
    // Paced: one write per event (each its own TCP segment, as watsonx sends tokens), due every
    // delayMs from the stream's start, so that a fake running late catches up instead of drifting
    // below the intended rate.
    const started = performance.now();
    let position = 0;
    const writeNext = () => {
      timer = undefined;
      if (response.destroyed) return;
      response.write(frames[position++]);
      if (position >= frames.length) response.end();
      else timer = setTimeout(writeNext, Math.max(0, started + position * delayMs - performance.now()));
    };
    writeNext();
  };

  const control = (request: IncomingMessage, response: ServerResponse, path: string) => {
    const query = new URL(request.url ?? '/', 'http://fake').searchParams;
    if (path === '/_bench/config') {
      config.chunks = Number(query.get('chunks') ?? config.chunks);
      config.delayMs = Number(query.get('delay_ms') ?? config.delayMs);
      rendered = render(config, 0, rendered);
      sendFixed(response, 200, JSON_HEADERS, Buffer.from(JSON.stringify(config)));
    } else if (path === '/_bench/stats') {
      sendFixed(response, 200, JSON_HEADERS, Buffer.from(JSON.stringify(stats)));
    } else if (path === '/_bench/stats/reset') {
      stats.requests = 0;
      stats.streams = 0;
      stats.maxActiveStreams = stats.activeStreams;
      sendFixed(response, 200, JSON_HEADERS, Buffer.from('{}'));
    } else {
      sendFixed(response, 404, JSON_HEADERS, Buffer.from('{"errors":[{"code":"not_found"}]}'));
    }
  };

  const respond = (request: IncomingMessage, response: ServerResponse) => {
    const url = request.url ?? '/';
    const queryStart = url.indexOf('?');
    const path = queryStart < 0 ? url : url.slice(0, queryStart);
    stats.requests++;
    switch (path) {
      case '/identity/token':
        return sendFixed(response, 200, JSON_HEADERS, rendered.token);
      case '/ml/v1/foundation_model_specs':
        return sendFixed(response, 200, JSON_HEADERS, rendered.specs);
      case '/ml/v1/text/chat':
        return sendFixed(response, 200, JSON_HEADERS, rendered.chat);
      case '/ml/v1/text/chat_stream':
        return sendStream(response);
      case '/ml/v1/text/embeddings':
        return sendFixed(response, 200, JSON_HEADERS, rendered.embeddings);
      default:
        return control(request, response, path);
    }
  };

  const server = createServer((request, response) => {
    // Answer once the whole body is read, as a real server would; the body itself is thrown away.
    request.on('end', () => respond(request, response));
    request.resume();
  });
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve) =>
    server.listen({ port: options.port, host: '127.0.0.1', backlog: 4096 }, resolve),
  );
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      chunks: { type: 'string', default: '50' },
      'delay-ms': { type: 'string', default: '0' },
    },
  });
  const fake = await startFakeUpstream({
    port: Number(values.port),
    stream: { chunks: Number(values.chunks), delayMs: Number(values['delay-ms']) },
  });
  process.stdout.write(`${JSON.stringify({ port: fake.port })}\n`);
  const stop = () => void fake.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
