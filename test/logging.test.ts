// Logs (issue #2 §6): one "request completed" line per request with method, route, status,
// duration, model and token usage, tagged with the request id; no gateway key, IBM API key, IAM
// access token or message content anywhere in the log text, even at level trace.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { before, describe, test } from 'node:test';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { parseOpenAIStream } from './helpers/sse.ts';

const GATEWAY_KEYS = ['gw-log-secret-Ak4Rz8', 'gw-log-secret-Mb7Tq2'];
const WRONG_KEY = 'gw-log-wrong-Xc5Vn3';
const IBM_KEY = 'ibm-log-secret-Hd9Lp6';
const REJECTED_IBM_KEY = 'invalid-ibm-log-secret-Qs3Wy1';
const PROMPT = 'purple-elephant-prompt-7731';
const MODEL = 'ibm/granite-4-h-small';

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  [field: string]: unknown;
}

interface Sent {
  name: string;
  status: number;
  requestId: string;
  body: string;
}

const text: string[] = [];
const sent = new Map<string, Sent>();
const accessTokens = new Set<string>();
let lines: LogLine[] = [];

function collector(): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text.push(chunk.toString('utf8'));
      callback();
    },
  });
}

const logger = {
  level: 'trace',
  stream: collector(),
  // A debugging setup that prints request headers: buildApp's redaction must still apply.
  serializers: {
    req: (request: { method?: string; url?: string; headers?: unknown }) => ({
      method: request.method,
      url: request.url,
      headers: request.headers,
    }),
  },
};

function chatBody(content: string, extra: object = {}) {
  return { model: MODEL, messages: [{ role: 'user', content: `${PROMPT} ${content}` }], ...extra };
}

async function send(
  gateway: TestGateway,
  name: string,
  options: { method?: 'GET' | 'POST'; url?: string; headers?: Record<string, string>; payload?: object },
) {
  const response = await gateway.inject({
    method: options.method ?? 'POST',
    url: options.url ?? '/v1/chat/completions',
    headers: options.headers ?? {},
    ...(options.payload && { payload: options.payload }),
  });
  sent.set(name, {
    name,
    status: response.statusCode,
    requestId: String(response.headers['x-request-id']),
    body: response.body,
  });
}

function tokensSeenBy(gateway: TestGateway) {
  for (const request of gateway.simulator.requests) {
    const match = /^Bearer\s+(\S+)$/i.exec(String(request.headers.authorization ?? ''));
    if (match?.[1]) accessTokens.add(match[1]);
  }
}

before(async () => {
  const bearer = { authorization: `Bearer ${GATEWAY_KEYS[0]}` };
  const gateway = await startTestGateway({
    apiKey: IBM_KEY,
    env: { API_KEY: GATEWAY_KEYS.join(', ') },
    logger,
  });
  const rejected = await startTestGateway({
    apiKey: REJECTED_IBM_KEY,
    env: { API_KEY: GATEWAY_KEYS[0]! },
    logger,
  });
  try {
    await send(gateway, 'bearer', {
      headers: { ...bearer, 'x-request-id': 'log-test-bearer' },
      payload: chatBody('first'),
    });
    await send(gateway, 'api-key', { headers: { 'api-key': GATEWAY_KEYS[1]! }, payload: chatBody('second') });
    await send(gateway, 'wrong-key', {
      headers: { authorization: `Bearer ${WRONG_KEY}` },
      payload: chatBody('third'),
    });
    await send(gateway, 'stream', {
      headers: bearer,
      payload: chatBody('streamed', { stream: true, stream_options: { include_usage: true } }),
    });
    await send(gateway, 'upstream-error', { headers: bearer, payload: chatBody('[[sim:error=500]]') });
    await send(gateway, 'mid-stream-error', {
      headers: bearer,
      payload: chatBody('one two three four [[sim:stream-error-after=3]]', { stream: true }),
    });
    await send(gateway, 'health', { method: 'GET', url: '/health' });
    await send(rejected, 'iam-rejected', { headers: bearer, payload: chatBody('fourth') });
    // the same headers as a request would carry, through the logger the app was built with
    gateway.app.log.info(
      {
        req: {
          method: 'POST',
          url: '/v1/chat/completions',
          headers: {
            authorization: `Bearer ${GATEWAY_KEYS[0]}`,
            'api-key': GATEWAY_KEYS[1],
            'x-api-key': WRONG_KEY,
            cookie: `session=${GATEWAY_KEYS[0]}`,
          },
        },
      },
      'header probe',
    );
  } finally {
    await gateway.close();
    await rejected.close();
  }
  tokensSeenBy(gateway);
  tokensSeenBy(rejected);
  lines = text
    .join('')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as LogLine);
});

function sentAs(name: string): Sent {
  const request = sent.get(name);
  assert.ok(request, `request ${name} was not sent`);
  return request;
}

function completedLine(name: string): LogLine {
  const { requestId } = sentAs(name);
  const found = lines.filter((line) => line.msg === 'request completed' && line.reqId === requestId);
  assert.equal(found.length, 1, `one "request completed" line for ${name} (${requestId})`);
  return found[0]!;
}

describe('the requests did what the log should describe', () => {
  test('statuses', () => {
    const statuses = Object.fromEntries([...sent.values()].map((request) => [request.name, request.status]));
    assert.deepEqual(statuses, {
      bearer: 200,
      'api-key': 200,
      'wrong-key': 401,
      stream: 200,
      'upstream-error': 502,
      'mid-stream-error': 200,
      health: 200,
      'iam-rejected': 502,
    });
    assert.equal(JSON.parse(sentAs('iam-rejected').body).error.code, 'upstream_auth_failed');
    assert.match(sentAs('mid-stream-error').body, /"error"/);
  });
});

describe('one line per request', () => {
  test('exactly one "request completed" line for each request, under its request id', () => {
    const completed = lines.filter((line) => line.msg === 'request completed');
    assert.equal(completed.length, sent.size);
    for (const name of sent.keys()) completedLine(name);
    assert.equal(sentAs('bearer').requestId, 'log-test-bearer', 'an incoming x-request-id is kept');
    assert.match(sentAs('api-key').requestId, /^req_[0-9a-f]{24,}$/);
  });

  test('every line: method, route, status, durationMs', () => {
    for (const request of sent.values()) {
      const line = completedLine(request.name);
      assert.equal(line.method, request.name === 'health' ? 'GET' : 'POST');
      assert.equal(line.route, request.name === 'health' ? '/health' : '/v1/chat/completions');
      assert.equal(line.status, request.status);
      assert.equal(typeof line.durationMs, 'number');
      assert.ok((line.durationMs as number) >= 0);
      assert.equal(line.level, 30, 'info');
    }
  });

  test('chat answers: model and the token counts the client got', () => {
    for (const name of ['bearer', 'api-key']) {
      const line = completedLine(name);
      const { usage } = JSON.parse(sentAs(name).body);
      assert.equal(line.model, MODEL);
      assert.equal(line.upstreamModel, MODEL);
      assert.ok(usage.prompt_tokens > 0 && usage.completion_tokens > 0);
      assert.equal(line.promptTokens, usage.prompt_tokens);
      assert.equal(line.completionTokens, usage.completion_tokens);
      assert.equal(line.stream, undefined);
    }
  });

  test('a stream: stream true and the usage of its usage chunk', () => {
    const line = completedLine('stream');
    const { chunks } = parseOpenAIStream(sentAs('stream').body);
    const usage = chunks.at(-1).usage;
    assert.equal(line.stream, true);
    assert.equal(line.model, MODEL);
    assert.equal(line.promptTokens, usage.prompt_tokens);
    assert.equal(line.completionTokens, usage.completion_tokens);
  });

  test('failures: the status, the model when it was known, the stream error code', () => {
    assert.equal(completedLine('upstream-error').model, MODEL);
    assert.equal(completedLine('upstream-error').promptTokens, undefined);
    assert.equal(completedLine('iam-rejected').model, MODEL);
    assert.equal(completedLine('mid-stream-error').stream, true);
    assert.equal(typeof completedLine('mid-stream-error').streamError, 'string');
  });

  test('lines logged while serving a request carry its request id', () => {
    const ids = new Set([...sent.values()].map((request) => request.requestId));
    const errorLines = lines.filter((line) => line.level >= 50);
    assert.ok(errorLines.length >= 2, 'the 502s are logged as errors');
    for (const line of errorLines) assert.ok(line.reqId && ids.has(line.reqId), JSON.stringify(line));
  });
});

describe('nothing secret or private in the log', () => {
  test('no gateway key, wrong key, IBM API key or IAM access token anywhere', () => {
    assert.ok(accessTokens.size >= 1, 'the simulator saw the access tokens the gateway used');
    const log = text.join('');
    const secrets = [...GATEWAY_KEYS, WRONG_KEY, IBM_KEY, REJECTED_IBM_KEY];
    for (const token of accessTokens) secrets.push(token, token.split('.').at(-1)!);
    for (const secret of secrets) {
      assert.ok(!log.includes(secret), `the log contains "${secret.slice(0, 12)}…"`);
    }
  });

  test('credential headers are redacted even with a logger that prints headers', () => {
    const probe = lines.find((line) => line.msg === 'header probe');
    assert.ok(probe, 'the probe line was written');
    assert.deepEqual((probe.req as { headers: unknown }).headers, {
      authorization: '[redacted]',
      'api-key': '[redacted]',
      'x-api-key': '[redacted]',
      cookie: '[redacted]',
    });
  });

  test('no message content: neither the prompt nor the answer', () => {
    const log = text.join('');
    assert.match(sentAs('bearer').body, new RegExp(PROMPT), 'the answer quotes the prompt');
    assert.ok(!log.includes(PROMPT), 'the prompt text is logged');
    assert.ok(!log.includes('Simulated answer'), 'model output is logged');
  });
});
