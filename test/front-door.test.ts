// The front door: every route, inference calls included, is a Fastify route behind the same hooks
// (bodies, schemas, ids, keys, limits, shutdown), driven here through `inject` and real HTTP.
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { parseOpenAIStream } from './helpers/sse.ts';

const KEY = 'gateway-key-1';
const MODEL = 'ibm/granite-4-h-small';
const hello = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] });
const auth = { authorization: `Bearer ${KEY}` };

describe('the front door (every route is a Fastify route)', () => {
  let gateway: TestGateway;
  before(async () => (gateway = await startTestGateway({ env: { API_KEY: KEY } })));
  after(() => gateway.close());

  const post = (headers: Record<string, string>, payload?: string, url = '/v1/chat/completions') =>
    gateway.inject({ method: 'POST', url, headers: { ...auth, ...headers }, payload });

  test('served with and without /v1 and with a query string; other methods are 404 unknown_url', async () => {
    for (const url of ['/v1/chat/completions', '/chat/completions', '/v1/chat/completions?api-version=1']) {
      const response = await post({ 'content-type': 'application/json' }, hello, url);
      assert.equal(response.statusCode, 200, url);
      assert.equal(response.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(response.json().object, 'chat.completion');
    }
    const get = await gateway.inject({ method: 'GET', url: '/v1/embeddings', headers: auth });
    assert.equal(get.statusCode, 404);
    assert.equal(get.json().error.code, 'unknown_url');
    const trailing = await post({ 'content-type': 'application/json' }, hello, '/v1/chat/completions/');
    assert.equal(trailing.statusCode, 404);
  });

  test('content types: JSON with parameters in any case is read; anything else → 415', async () => {
    const upper = await post({ 'content-type': 'Application/JSON; charset=UTF-8' }, hello);
    assert.equal(upper.statusCode, 200);
    const text = await post({ 'content-type': 'text/plain' }, hello);
    assert.equal(text.statusCode, 415);
    assert.equal(text.json().error.code, 'unsupported_media_type');
    const none = await gateway.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: auth,
      payload: Buffer.from(hello),
    });
    assert.equal(none.statusCode, 415);
  });

  test('empty, missing, malformed and poisoned bodies → 400 in the OpenAI shape', async () => {
    const empty = await post({ 'content-type': 'application/json' }, '');
    assert.deepEqual([empty.statusCode, empty.json().error.code], [400, 'invalid_json']);
    const missing = await gateway.inject({ method: 'POST', url: '/v1/chat/completions', headers: auth });
    assert.equal(missing.statusCode, 400);
    assert.match(missing.json().error.message, /'body' must be object/);
    const malformed = await post({ 'content-type': 'application/json' }, '{"model":');
    assert.deepEqual([malformed.statusCode, malformed.json().error.code], [400, 'invalid_json']);
    const poisoned = await post(
      { 'content-type': 'application/json' },
      '{"model":"m","messages":[],"__proto__":{"admin":true}}',
    );
    assert.deepEqual([poisoned.statusCode, poisoned.json().error.code], [400, 'invalid_json']);
    const invalid = await post({ 'content-type': 'application/json' }, JSON.stringify({ messages: [] }));
    assert.deepEqual([invalid.statusCode, invalid.json().error.param], [400, 'model']);
  });

  test('a Content-Length that does not match the body → 400 invalid_body', async () => {
    const response = await post({ 'content-type': 'application/json', 'content-length': '5000' }, hello);
    assert.equal(response.statusCode, 400);
    assert.equal(response.json().error.code, 'invalid_body');
  });

  test('the key is checked before the body is read; errors carry the request id', async () => {
    const response = await gateway.inject({
      method: 'POST',
      url: '/v1/completions',
      headers: { 'content-type': 'application/json', 'x-request-id': 'trace-1' },
      payload: 'not even JSON',
    });
    assert.equal(response.statusCode, 401);
    assert.equal(response.json().error.code, 'invalid_api_key');
    assert.equal(response.headers['x-request-id'], 'trace-1');
  });

  test('the OpenAPI document lists the three routes with their request schemas', async () => {
    const document = (await gateway.inject({ url: '/docs/json' })).json();
    for (const path of ['/v1/chat/completions', '/v1/completions', '/v1/embeddings']) {
      const schema = document.paths[path].post.requestBody.content['application/json'].schema;
      assert.ok(schema.properties.model, path);
    }
  });
});

test('Host: an HTTP/1.1 request without it is a 400 in the error shape; HTTP/1.0 needs none', async () => {
  const gateway = await startTestGateway({ listen: true });
  const { port } = new URL(gateway.url);
  const raw = async (request: string) => {
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    let answer = '';
    socket.setEncoding('utf8').on('data', (text: string) => (answer += text));
    socket.write(request);
    await once(socket, 'close');
    return answer;
  };
  try {
    const missing = await raw(
      `POST /v1/chat/completions HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(hello)}\r\n\r\n${hello}`,
    );
    assert.match(missing, /^HTTP\/1\.1 400 /);
    assert.match(missing, /\r\nconnection: close\r\n/i);
    const body = JSON.parse(missing.slice(missing.indexOf('\r\n\r\n') + 4)) as {
      error: Record<string, unknown>;
    };
    assert.equal(body.error.code, 'invalid_http_request');
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(String(body.error.message), /Host header/);
    // Nothing reached watsonx.
    assert.equal(gateway.inferenceRequests().length, 0);
    const old = await raw('GET /health HTTP/1.0\r\n\r\n');
    assert.match(old, /^HTTP\/1\.1 200 /);
  } finally {
    await gateway.close();
  }
});

test('while the gateway shuts down, a request that was still arriving gets 503 server_shutting_down', async () => {
  const gateway = await startTestGateway({ listen: true });
  const { port } = new URL(gateway.url);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  // Half a request is on the wire when the drain starts: the connection is busy, not idle.
  socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n');
  await new Promise((resolve) => setTimeout(resolve, 50));
  const closing = gateway.app.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  let answer = '';
  socket.setEncoding('utf8').on('data', (text: string) => (answer += text));
  socket.write(
    `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(hello)}\r\n\r\n${hello}`,
  );
  await once(socket, 'close');
  await closing;
  await gateway.upstream.close();
  await gateway.simulator.close();
  assert.match(answer, /^HTTP\/1\.1 503 /);
  assert.match(answer, /\r\nconnection: close\r\n/i);
  assert.match(answer, /"code":"server_shutting_down"/);
});

test('a client that stops reading for a while still gets a long stream whole (backpressure, no stall)', async () => {
  // A watsonx stand-in sending ~10 MB of SSE, more than the loopback socket buffers hold: the
  // gateway's writes and then its upstream reads must pause and resume. A lost resume would end the
  // stream with the idle timeout's error frame.
  const events = 20_000;
  const padding = 'x'.repeat(400);
  const event = (index: number, choice: object, usage?: object) =>
    `id: ${index}\nevent: message\ndata: ${JSON.stringify({
      id: 'chatcmpl-long',
      object: 'chat.completion.chunk',
      model_id: MODEL,
      model: MODEL,
      created: 1,
      choices: [choice],
      ...(usage && { usage }),
    })}\n\n`;
  const watsonx = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      let sent = 0;
      const write = () => {
        while (sent < events) {
          sent += 1;
          const delta = { index: 0, finish_reason: null, delta: { content: `${sent}:${padding}` } };
          if (!response.write(event(sent, delta))) return void response.once('drain', write);
        }
        const usage = { prompt_tokens: 1, completion_tokens: events, total_tokens: events + 1 };
        response.end(event(events + 1, { index: 0, finish_reason: 'stop', delta: {} }, usage));
      };
      write();
    });
  });
  await new Promise<void>((resolve) => watsonx.listen(0, '127.0.0.1', resolve));
  const { port } = watsonx.address() as { port: number };
  const gateway = await startTestGateway({
    listen: true,
    env: { WATSONX_URL: `http://127.0.0.1:${port}`, MODEL_VALIDATION: 'false', STREAM_IDLE_TIMEOUT: '3' },
  });
  try {
    const body = JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const text = await new Promise<string>((resolve, reject) => {
      const request = httpRequest(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      request.on('error', reject);
      request.on('response', (response) => {
        const parts: Buffer[] = [];
        response.pause();
        setTimeout(() => {
          response.on('data', (part: Buffer) => parts.push(part));
          response.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
          response.resume();
        }, 1500);
      });
      request.end(body);
    });
    const stream = parseOpenAIStream(text);
    assert.equal(stream.done, true);
    assert.ok(!stream.chunks.some((chunk) => chunk.error), 'no error frame');
    const contents = stream.chunks.map((chunk) => chunk.choices?.[0]?.delta?.content).filter(Boolean);
    assert.equal(contents.length, events);
    assert.equal(contents.at(-1), `${events}:${padding}`);
    assert.equal(
      stream.chunks.find((chunk) => chunk.choices?.[0]?.finish_reason)?.choices[0].finish_reason,
      'stop',
    );
  } finally {
    await gateway.close();
    watsonx.close();
  }
});
