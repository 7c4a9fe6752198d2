// The watsonx client against a scripted fake server: stream endings (close event, [DONE], error
// event in the same read as data, unreadable data), the 401 refresh and what it sends.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Authenticator } from '../src/watsonx/auth.ts';
import { WatsonxClient } from '../src/watsonx/client.ts';
import { Http1Pool } from '../src/watsonx/http1.ts';
import { UpstreamError, WatsonxApiError } from '../src/watsonx/errors.ts';

let server: Server;
let client: WatsonxClient;
let nextBody = '';
const seen: Array<{ url: string; headers: IncomingMessage['headers']; body: string }> = [];
let unauthorizedOnce = false;

before(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (data) => (body += data));
    request.on('end', () => {
      seen.push({ url: request.url ?? '', headers: request.headers, body });
      if (unauthorizedOnce && request.headers.authorization === 'Bearer old') {
        response.writeHead(401, { 'content-type': 'application/json' });
        response.end(
          '{"errors":[{"code":"authentication_token_expired","message":"expired"}],"status_code":401}',
        );
        return;
      }
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(nextBody); // everything in one write: one network read on the client side
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = new WatsonxClient({
    baseUrl: `http://127.0.0.1:${port}`,
    apiVersion: '2026-01-01',
    dispatcher: new Http1Pool(),
    requestTimeoutMs: 5000,
  });
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function auth(tokens: string[]): Authenticator & { invalidated: string[] } {
  const invalidated: string[] = [];
  return {
    invalidated,
    authorization: async () => `Bearer ${tokens[0]}`,
    invalidate: (header) => {
      invalidated.push(header);
      tokens.shift();
    },
    state: () => ({ status: 'valid' }),
  };
}

async function collect(body: string) {
  nextBody = body;
  const stream = await client.chatStream(
    { model_id: 'm', messages: [] },
    { auth: auth(['t']), container: { project_id: 'p' } },
  );
  const chunks: unknown[] = [];
  for await (const batch of stream) chunks.push(...batch);
  return chunks;
}

const event = (data: string, name = 'message') => `event: ${name}\ndata: ${data}\n\n`;

test('2024 framing: a trailing close event with {} ends the stream; one carrying usage is kept', async () => {
  assert.deepEqual(
    await collect(event('{"choices":[]}') + event('{}', 'close') + event('{"ignored":true}')),
    [{ choices: [] }],
  );
  assert.deepEqual(await collect(event('{"choices":[],"usage":{"total_tokens":3}}', 'close')), [
    { choices: [], usage: { total_tokens: 3 } },
  ]);
});

test('data: [DONE] ends the stream', async () => {
  assert.deepEqual(await collect(event('{"a":1}') + 'data: [DONE]\n\n' + event('{"b":2}')), [{ a: 1 }]);
});

test('chunks before an error event in the same read are delivered, then the error is thrown', async () => {
  nextBody =
    event('{"a":1}') + event('{"errors":[{"code":"boom","message":"broken"}],"status_code":503}', 'error');
  const stream = await client.chatStream(
    { model_id: 'm', messages: [] },
    { auth: auth(['t']), container: { project_id: 'p' } },
  );
  const received: unknown[] = [];
  await assert.rejects(
    async () => {
      for await (const batch of stream) received.push(...batch);
    },
    (error) =>
      error instanceof WatsonxApiError && error.status === 503 && error.midStream && error.code === 'boom',
  );
  assert.deepEqual(received, [{ a: 1 }]);
});

test('an unreadable event is a protocol error', async () => {
  await assert.rejects(
    collect(event('{not json')),
    (error) => error instanceof UpstreamError && error.kind === 'protocol',
  );
});

test('a 401 gets one fresh token and one retry; the body carries the container, the URL the version', async () => {
  unauthorizedOnce = true;
  try {
    nextBody = event('{"ok":true}');
    const credentials = auth(['old', 'new']);
    const stream = await client.chatStream(
      { model_id: 'm', messages: [] },
      { auth: credentials, container: { space_id: 's' }, requestId: 'req-1' },
    );
    for await (const _batch of stream) {
      // drain
    }
    assert.deepEqual(credentials.invalidated, ['Bearer old']);
    const last = seen.at(-1)!;
    assert.equal(last.headers.authorization, 'Bearer new');
    assert.equal(last.url, '/ml/v1/text/chat_stream?version=2026-01-01');
    assert.equal(last.headers['x-global-transaction-id'], 'req-1');
    assert.equal(last.headers.accept, 'text/event-stream');
    assert.deepEqual(JSON.parse(last.body), { model_id: 'm', messages: [], space_id: 's' });
  } finally {
    unauthorizedOnce = false;
  }
});

test('a non-stream answer cut off mid-body is retried like a refused connection (UPSTREAM_MAX_RETRIES)', async () => {
  let calls = 0;
  const cutting = createServer((request, response) => {
    request.resume();
    calls += 1;
    const body = '{"id":"chat-1","choices":[]}';
    if (calls === 1) {
      // The head and half the body, then the connection dies.
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      response.write(body.slice(0, 10));
      setTimeout(() => response.socket?.destroy(), 10);
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(body);
  });
  await new Promise<void>((resolve) => cutting.listen(0, '127.0.0.1', resolve));
  const { port } = cutting.address() as AddressInfo;
  const options = { baseUrl: `http://127.0.0.1:${port}`, apiVersion: '2026-01-01', requestTimeoutMs: 5000 };
  try {
    const retrying = new WatsonxClient({ ...options, dispatcher: new Http1Pool(), maxRetries: 1 });
    const answer = await retrying.chat(
      { model_id: 'm', messages: [] },
      { auth: auth(['t']), container: { project_id: 'p' } },
    );
    assert.equal(answer.id, 'chat-1');
    assert.equal(calls, 2);
    calls = 0;
    const once = new WatsonxClient({ ...options, dispatcher: new Http1Pool(), maxRetries: 0 });
    await assert.rejects(
      once.chat({ model_id: 'm', messages: [] }, { auth: auth(['t']), container: { project_id: 'p' } }),
      (error) => error instanceof UpstreamError && error.kind === 'connection',
    );
    assert.equal(calls, 1);
  } finally {
    cutting.close();
  }
});

test('a token or request id with a line break is refused before anything is sent (502 upstream_invalid_response)', async () => {
  const before = seen.length;
  const broken: Authenticator = {
    authorization: async () => 'Bearer t\r\nx-injected: 1',
    invalidate: () => {},
    state: () => ({ status: 'valid' }),
  };
  await assert.rejects(
    client.chat({ model_id: 'm', messages: [] }, { auth: broken, container: { project_id: 'p' } }),
    (error) => error instanceof UpstreamError && error.kind === 'protocol',
  );
  await assert.rejects(
    client.chat(
      { model_id: 'm', messages: [] },
      { auth: auth(['t']), container: { project_id: 'p' }, requestId: 'req\nx-injected: 1' },
    ),
    (error) => error instanceof UpstreamError && error.kind === 'protocol',
  );
  assert.equal(seen.length, before, 'nothing reached watsonx');
});
