// The watsonx client on undici against loopback servers: stream endings (close event, [DONE], error
// event in the same read as data, unreadable data), the 401 refresh and what it sends; and, through
// servers that write raw bytes, what the wire may bring: answers split anywhere, chunked framing,
// connections reused or not, answers that are not HTTP/1.1, connections cut or refused, timeouts,
// backpressure, the caller leaving mid-stream, and close().
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import type { Authenticator } from '../src/watsonx/auth.ts';
import { WatsonxClient, type WatsonxClientOptions } from '../src/watsonx/client.ts';
import { UpstreamError, WatsonxApiError } from '../src/watsonx/errors.ts';

let server: Server;
let client: WatsonxClient;
let nextBody = '';
const seen: Array<{ url: string; headers: IncomingMessage['headers']; body: string }> = [];
let unauthorizedOnce = false;
const dispatchers: Agent[] = [];
const servers: net.Server[] = [];

/** A client of its own (closed after the tests) for a server of its own. */
function clientFor(origin: string, options: Partial<WatsonxClientOptions> = {}) {
  const dispatcher = new Agent();
  dispatchers.push(dispatcher);
  return new WatsonxClient({
    baseUrl: origin,
    apiVersion: '2026-01-01',
    dispatcher,
    requestTimeoutMs: 5000,
    ...options,
  });
}

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
  client = clientFor(`http://127.0.0.1:${port}`);
});
after(async () => {
  await Promise.all(dispatchers.map((dispatcher) => dispatcher.close()));
  for (const raw of servers) raw.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

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

const CALL = { auth: auth(['t']), container: { project_id: 'p' } };
const CHAT = { model_id: 'm', messages: [] };

async function collect(body: string) {
  nextBody = body;
  const stream = await client.chatStream(CHAT, { auth: auth(['t']), container: { project_id: 'p' } });
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

test('the last event is delivered even without its closing blank line', async () => {
  assert.deepEqual(await collect('data: {"a":1}\n\ndata: {"usage":{"total_tokens":3}}'), [
    { a: 1 },
    { usage: { total_tokens: 3 } },
  ]);
});

test('chunks before an error event in the same read are delivered, then the error is thrown', async () => {
  nextBody =
    event('{"a":1}') + event('{"errors":[{"code":"boom","message":"broken"}],"status_code":503}', 'error');
  const stream = await client.chatStream(CHAT, CALL);
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
    const stream = await client.chatStream(CHAT, {
      auth: credentials,
      container: { space_id: 's' },
      requestId: 'req-1',
    });
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
  try {
    const retrying = clientFor(`http://127.0.0.1:${port}`, { maxRetries: 1 });
    const answer = await retrying.chat(CHAT, CALL);
    assert.equal(answer.id, 'chat-1');
    assert.equal(calls, 2);
    calls = 0;
    const once = clientFor(`http://127.0.0.1:${port}`, { maxRetries: 0 });
    await assert.rejects(
      once.chat(CHAT, CALL),
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
    client.chat(CHAT, { auth: broken, container: { project_id: 'p' } }),
    (error) => error instanceof UpstreamError && error.kind === 'protocol',
  );
  await assert.rejects(
    client.chat(CHAT, { ...CALL, requestId: 'req\nx-injected: 1' }),
    (error) => error instanceof UpstreamError && error.kind === 'protocol',
  );
  assert.equal(seen.length, before, 'nothing reached watsonx');
});

// ---- the wire, through servers that write raw bytes ----

interface SeenRequest {
  connection: number;
  head: string;
  body: string;
}

/** A server that reads each request (head + Content-Length body) and lets `answer` write raw bytes. */
async function rawServer(answer: (socket: net.Socket, request: SeenRequest) => void | Promise<void>) {
  const requests: SeenRequest[] = [];
  let connections = 0;
  const server = net.createServer((socket) => {
    const connection = ++connections;
    let pending = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = pending.toString('latin1', 0, end);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        const body = pending.toString('utf8', end + 4, end + 4 + length);
        pending = pending.subarray(end + 4 + length);
        const request = { connection, head, body };
        requests.push(request);
        void answer(socket, request);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    get connections() {
      return connections;
    },
  };
}

/** Writes the pieces one at a time, each in its own network write. */
async function writeApart(socket: net.Socket, pieces: Array<string | Buffer>) {
  for (const piece of pieces) {
    socket.write(piece);
    await sleep(2);
  }
}

/** undici hands a connection back to its pool a turn after the answer was read. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

const OK_HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nkeep-alive: timeout=5\r\n';
const ANSWER = '{"id":"chat-1","choices":[]}';

test('the request goes out whole; an answer split over several writes is read whole; the connection is reused', async () => {
  const watsonx = await rawServer((socket) =>
    writeApart(socket, [
      `${OK_HEAD}content-length: ${ANSWER.length}\r\n`,
      '\r\n{"id"',
      ':"chat-1",',
      '"choices":[]}',
    ]),
  );
  const chat = clientFor(watsonx.origin, { userAgent: 'test-agent/1' });
  const body = { model_id: 'm', messages: [{ role: 'user' as const, content: 'é' }] };
  assert.equal((await chat.chat(body, { ...CALL, requestId: 'req-7' })).id, 'chat-1');
  const request = watsonx.requests[0]!;
  const payload = JSON.stringify({ ...body, project_id: 'p' });
  assert.match(request.head, /^POST \/ml\/v1\/text\/chat\?version=2026-01-01 HTTP\/1\.1\r\n/);
  for (const line of [
    `host: ${watsonx.origin.slice('http://'.length)}`,
    'authorization: Bearer t',
    'content-type: application/json',
    'accept: application/json',
    'user-agent: test-agent/1',
    'x-global-transaction-id: req-7',
    `content-length: ${Buffer.byteLength(payload)}`,
  ]) {
    assert.ok(request.head.toLowerCase().includes(`\r\n${line.toLowerCase()}`), line);
  }
  assert.equal(request.body, payload);
  await nextTurn();
  assert.equal((await chat.chat(CHAT, CALL)).id, 'chat-1');
  assert.equal(watsonx.connections, 1, 'the second call reused the first connection');
});

test('a chunked answer cut at every byte, after a 103 head, with chunk extensions and trailers, is read whole; the connection is reused', async () => {
  const chunked = `0${ANSWER.length.toString(16)};ext=1\r\n${ANSWER}\r\n0\r\nx-trailer: t\r\n\r\n`;
  const wire =
    'HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n' +
    `${OK_HEAD}transfer-encoding: chunked\r\n\r\n${chunked}`;
  const watsonx = await rawServer((socket) => writeApart(socket, [...wire]));
  const chat = clientFor(watsonx.origin);
  assert.equal((await chat.chat(CHAT, CALL)).id, 'chat-1');
  await nextTurn();
  assert.equal((await chat.chat(CHAT, CALL)).id, 'chat-1');
  assert.equal(watsonx.connections, 1);
});

test('Connection: close, an answer read until the server closes, an idle connection the server closed: each next call opens a new connection', async () => {
  const answers = [
    `${OK_HEAD}connection: close\r\ncontent-length: ${ANSWER.length}\r\n\r\n${ANSWER}`,
    `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n${ANSWER}`,
    `${OK_HEAD}content-length: ${ANSWER.length}\r\n\r\n${ANSWER}`,
    `${OK_HEAD}content-length: ${ANSWER.length}\r\n\r\n${ANSWER}`,
  ];
  let index = 0;
  const watsonx = await rawServer((socket) => {
    const wire = answers[index++]!;
    if (index <= 2) socket.end(wire);
    else {
      socket.write(wire);
      // The server drops the idle connection soon after answering.
      setTimeout(() => socket.destroy(), 5);
    }
  });
  const chat = clientFor(watsonx.origin);
  for (let call = 0; call < 3; call++) assert.equal((await chat.chat(CHAT, CALL)).id, 'chat-1');
  await sleep(50);
  assert.equal((await chat.chat(CHAT, CALL)).id, 'chat-1');
  assert.equal(watsonx.connections, 4);
});

test('answers that are not HTTP/1.1 as RFC 9112 has it are protocol errors (502 upstream_invalid_response)', async () => {
  const wires = [
    'HTTP/1.1 200 OK\r\ncontent-length: 2, 3\r\n\r\nok',
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
    'ICY 200 OK\r\n\r\n',
    'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok',
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokX',
    `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(70_000)}\r\n\r\n`,
  ];
  let index = 0;
  const watsonx = await rawServer((socket) => void socket.write(wires[index++]!));
  const chat = clientFor(watsonx.origin);
  for (const wire of wires) {
    await assert.rejects(
      chat.chat(CHAT, CALL),
      (error) => error instanceof UpstreamError && error.kind === 'protocol',
      wire.slice(0, 40),
    );
  }
  assert.equal(watsonx.connections, wires.length, 'no connection was reused after a framing error');
});

test('a connection cut mid-answer, or a port nobody listens on: connection errors that name the cause', async () => {
  const watsonx = await rawServer((socket) => void socket.end(`${OK_HEAD}content-length: 100\r\n\r\n{"id"`));
  await assert.rejects(clientFor(watsonx.origin).chat(CHAT, CALL), (error) => {
    assert.ok(error instanceof UpstreamError && error.kind === 'connection', String(error));
    assert.match(error.message, /closed/);
    return true;
  });
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as AddressInfo;
  closed.close();
  await assert.rejects(clientFor(`http://127.0.0.1:${port}`).chat(CHAT, CALL), (error) => {
    assert.ok(error instanceof UpstreamError && error.kind === 'connection', String(error));
    assert.match(error.message, /ECONNREFUSED/);
    return true;
  });
});

test('no answer within REQUEST_TIMEOUT, or a stream silent past STREAM_IDLE_TIMEOUT: timeouts', async () => {
  const watsonx = await rawServer((socket, request) => {
    if (request.head.includes('chat_stream')) {
      socket.write(
        `HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n`,
      );
      const data = 'data: {"a":1}\n\n';
      socket.write(`${data.length.toString(16)}\r\n${data}\r\n`); // then silence
    }
  });
  const chat = clientFor(watsonx.origin, { requestTimeoutMs: 100, idleTimeoutMs: 100 });
  const started = performance.now();
  await assert.rejects(
    chat.chat(CHAT, CALL),
    (error) => error instanceof UpstreamError && error.kind === 'timeout',
  );
  assert.ok(performance.now() - started < 3000);
  const stream = await chat.chatStream(CHAT, CALL);
  const received: unknown[] = [];
  await assert.rejects(
    async () => {
      for await (const batch of stream) received.push(...batch);
    },
    (error) => error instanceof UpstreamError && error.kind === 'timeout' && /mid-stream/.test(error.message),
  );
  assert.deepEqual(received, [{ a: 1 }]);
});

test('a reader slower than watsonx gets every event of a 2 MiB stream (backpressure, no stall)', async () => {
  const EVENTS = 2000;
  const data = `data: {"pad":"${'x'.repeat(1000)}"}\n\n`;
  const watsonx = createServer((request, response) => {
    request.resume();
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    let sent = 0;
    const write = () => {
      while (sent < EVENTS) {
        sent += 1;
        if (!response.write(data)) return void response.once('drain', write);
      }
      response.end();
    };
    write();
  });
  await new Promise<void>((resolve) => watsonx.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = watsonx.address() as AddressInfo;
    const stream = await clientFor(`http://127.0.0.1:${port}`).chatStream(CHAT, CALL);
    let received = 0;
    let batches = 0;
    for await (const batch of stream) {
      received += batch.length;
      batches += 1;
      await sleep(1);
    }
    assert.equal(received, EVENTS);
    assert.ok(batches < EVENTS, 'events that arrived together came as one batch');
  } finally {
    watsonx.close();
  }
});

/** A watsonx that streams an event every 10 ms until the connection closes; `closed` resolves then. */
async function endlessStream() {
  let resolve!: () => void;
  const closed = new Promise<void>((done) => (resolve = done));
  const watsonx = createServer((request, response) => {
    request.resume();
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    const timer = setInterval(() => response.write('data: {"a":1}\n\n'), 10);
    response.on('close', () => {
      clearInterval(timer);
      resolve();
    });
  });
  await new Promise<void>((done) => watsonx.listen(0, '127.0.0.1', done));
  const { port } = watsonx.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, closed, close: () => watsonx.close() };
}

test("the caller's signal ends a stream: the reader gets the abort, the upstream connection is closed", async () => {
  const watsonx = await endlessStream();
  try {
    const controller = new AbortController();
    const stream = await clientFor(watsonx.origin).chatStream(CHAT, { ...CALL, signal: controller.signal });
    await assert.rejects(async () => {
      for await (const _batch of stream) controller.abort(new Error('client left'));
    }, /client left/);
    await watsonx.closed;
  } finally {
    watsonx.close();
  }
});

test('a reader that stops early closes the upstream connection too (watsonx stops generating)', async () => {
  const watsonx = await endlessStream();
  try {
    const stream = await clientFor(watsonx.origin).chatStream(CHAT, CALL);
    for await (const _batch of stream) break;
    await watsonx.closed;
  } finally {
    watsonx.close();
  }
});

test('a stream that ended with [DONE] leaves its connection for the next call', async () => {
  const wire = 'data: {"a":1}\n\ndata: [DONE]\n\n';
  const watsonx = await rawServer(
    (socket) =>
      void socket.write(
        `HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: ${wire.length}\r\n\r\n${wire}`,
      ),
  );
  const chat = clientFor(watsonx.origin);
  for (let call = 0; call < 2; call++) {
    const chunks: unknown[] = [];
    for await (const batch of await chat.chatStream(CHAT, CALL)) chunks.push(...batch);
    assert.deepEqual(chunks, [{ a: 1 }]);
    await sleep(10);
  }
  assert.equal(watsonx.connections, 1);
});

test('close(): the call in flight completes, later calls are refused', async () => {
  const watsonx = await rawServer(async () => {});
  const slowAnswers: net.Socket[] = [];
  const slow = await rawServer((socket) => void slowAnswers.push(socket));
  const dispatcher = new Agent();
  const chat = new WatsonxClient({
    baseUrl: slow.origin,
    apiVersion: '2026-01-01',
    dispatcher,
    requestTimeoutMs: 5000,
  });
  const pending = chat.chat(CHAT, CALL);
  await sleep(30);
  let closed = false;
  const closing = dispatcher.close().then(() => (closed = true));
  await sleep(20);
  assert.equal(closed, false, 'close() waits for the call in flight');
  slowAnswers[0]!.write(`${OK_HEAD}content-length: ${ANSWER.length}\r\n\r\n${ANSWER}`);
  assert.equal((await pending).id, 'chat-1');
  await closing;
  const later = new WatsonxClient({
    baseUrl: watsonx.origin,
    apiVersion: '2026-01-01',
    dispatcher,
    requestTimeoutMs: 5000,
  });
  await assert.rejects(
    later.chat(CHAT, CALL),
    (error) => error instanceof UpstreamError && error.kind === 'connection',
  );
  assert.equal(watsonx.connections, 0);
});
