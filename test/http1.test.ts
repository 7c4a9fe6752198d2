// The gateway's HTTP/1.1 client (src/watsonx/http1.ts) against loopback servers that write raw
// bytes: framing (Content-Length, chunked split anywhere, read-until-close, 1xx heads), keep-alive
// reuse and its limits, every failure it names, close(), and TLS.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, test } from 'node:test';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Http1Pool,
  UpstreamProtocolError,
  UpstreamSocketError,
  UpstreamTimeoutError,
} from '../src/watsonx/http1.ts';
import { UpstreamExchange } from '../src/watsonx/transport.ts';

interface SeenRequest {
  connection: number;
  head: string;
  body: string;
}

type Answer = (socket: net.Socket, request: SeenRequest) => void | Promise<void>;

const servers: net.Server[] = [];
after(() => {
  for (const server of servers) server.close();
});

/** A server that reads each request (head + Content-Length body) and lets `answer` write raw bytes. */
async function rawServer(answer: Answer, secure = false) {
  const requests: SeenRequest[] = [];
  let connections = 0;
  const onSocket = (socket: net.Socket) => {
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
  };
  const server = secure
    ? tls.createServer(
        { key: readFileSync(fixture('key.pem')), cert: readFileSync(fixture('cert.pem')) },
        onSocket,
      )
    : net.createServer(onSocket);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    origin: `${secure ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    get connections() {
      return connections;
    },
  };
}

function fixture(name: string): URL {
  return new URL(`./fixtures/tls/${name}`, import.meta.url);
}

/** Writes the pieces one at a time, each in its own network write. */
async function writeApart(socket: net.Socket, pieces: Array<string | Buffer>) {
  for (const piece of pieces) {
    socket.write(piece);
    await sleep(2);
  }
}

function call(
  pool: Http1Pool,
  origin: string,
  options: {
    body?: string;
    headers?: Record<string, string>;
    headersTimeout?: number;
    bodyTimeout?: number;
  } = {},
) {
  return new UpstreamExchange(pool, {
    origin,
    path: '/ml/v1/text/chat?version=2025-02-11',
    method: options.body === undefined ? 'GET' : 'POST',
    headers: options.headers ?? { 'content-type': 'application/json' },
    body: options.body,
    headersTimeout: options.headersTimeout ?? 5000,
    bodyTimeout: options.bodyTimeout ?? 5000,
  });
}

async function fetchText(pool: Http1Pool, origin: string, options: Parameters<typeof call>[2] = {}) {
  const exchange = call(pool, origin, options);
  await exchange.head;
  return { status: exchange.statusCode, headers: exchange.headers, text: await exchange.text() };
}

const OK_HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nkeep-alive: timeout=5\r\n';

test('a Content-Length body split over several writes; the request goes out whole; the connection is reused', async () => {
  const server = await rawServer((socket) =>
    writeApart(socket, [`${OK_HEAD}content-length: 9\r\n`, '\r\n{"a"', ':', '123}']),
  );
  const pool = new Http1Pool();
  const body = JSON.stringify({ model_id: 'ibm/granite', note: 'é' });
  const first = await fetchText(pool, server.origin, {
    body,
    headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
  });
  assert.deepEqual([first.status, first.text], [200, '{"a":123}']);
  assert.equal(first.headers['content-type'], 'application/json');
  const request = server.requests[0]!;
  assert.match(request.head, /^POST \/ml\/v1\/text\/chat\?version=2025-02-11 HTTP\/1\.1\r\n/);
  assert.match(request.head, new RegExp(`\r\nhost: ${server.origin.slice(7)}\r\n`));
  assert.match(request.head, /\r\nauthorization: Bearer t\r\n/);
  assert.match(request.head, new RegExp(`\r\ncontent-length: ${Buffer.byteLength(body)}$`));
  assert.equal(request.body, body);
  const second = await fetchText(pool, server.origin, { body: '{}' });
  assert.equal(second.text, '{"a":123}');
  assert.equal(server.connections, 1, 'the second request reused the first connection');
  assert.deepEqual(pool.connections, { busy: 0, idle: 1 });
  await pool.close();
});

test('a chunked body cut at every byte, with chunk extensions and trailers; then reused', async () => {
  const wire = `${OK_HEAD}transfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0007\r\n, world\r\n0\r\nx-trailer: t\r\n\r\n`;
  const server = await rawServer((socket) =>
    writeApart(
      socket,
      [...wire].map((c) => c),
    ),
  );
  const pool = new Http1Pool();
  assert.equal((await fetchText(pool, server.origin, { body: '{}' })).text, 'hello, world');
  assert.equal((await fetchText(pool, server.origin, { body: '{}' })).text, 'hello, world');
  assert.equal(server.connections, 1);
  await pool.close();
});

test('100 Continue and 103 Early Hints are skipped; repeated headers are joined, set-cookie kept apart', async () => {
  const server = await rawServer((socket) =>
    writeApart(socket, [
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n',
      `${OK_HEAD}x-multi: a\r\nX-Multi: b\r\nset-cookie: c=1\r\nset-cookie: d=2\r\ncontent-length: 2\r\n\r\nok`,
    ]),
  );
  const pool = new Http1Pool();
  const answer = await fetchText(pool, server.origin, { body: '{}' });
  assert.equal(answer.status, 200);
  assert.equal(answer.text, 'ok');
  assert.equal(answer.headers['x-multi'], 'a, b');
  assert.deepEqual(answer.headers['set-cookie'], ['c=1', 'd=2']);
  assert.equal(answer.headers.link, undefined);
  await pool.close();
});

test('Connection: close, a body read until close, or a Keep-Alive hint of 1 s: the connection is not reused', async () => {
  const answers = [
    `${OK_HEAD}connection: close\r\ncontent-length: 2\r\n\r\nok`,
    'HTTP/1.1 200 OK\r\n\r\nuntil close',
    'HTTP/1.1 200 OK\r\nkeep-alive: timeout=1\r\ncontent-length: 2\r\n\r\nok',
  ];
  let index = 0;
  const server = await rawServer((socket) => {
    const wire = answers[index++]!;
    if (wire.includes('until close')) socket.end(wire);
    else socket.write(wire);
  });
  const pool = new Http1Pool();
  assert.equal((await fetchText(pool, server.origin, { body: '{}' })).text, 'ok');
  assert.equal((await fetchText(pool, server.origin, { body: '{}' })).text, 'until close');
  assert.equal((await fetchText(pool, server.origin, { body: '{}' })).text, 'ok');
  assert.equal(server.connections, 3);
  assert.equal(pool.connections.idle, 0);
  await pool.close();
});

test('bytes past the end of a body: the answer is delivered, the connection is not reused', async () => {
  const server = await rawServer((socket) => void socket.write(`${OK_HEAD}content-length: 2\r\n\r\nokEXTRA`));
  const pool = new Http1Pool();
  assert.equal((await fetchText(pool, server.origin, { body: '{}' })).text, 'ok');
  assert.equal((await fetchText(pool, server.origin, { body: '{}' })).text, 'ok');
  assert.equal(server.connections, 2);
  await pool.close();
});

test('an idle connection the server closed is dropped; the next request opens a new one', async () => {
  const server = await rawServer((socket, request) => {
    socket.write(`${OK_HEAD}content-length: 2\r\n\r\nok`);
    if (request.connection === 1) setTimeout(() => socket.destroy(), 5);
  });
  const pool = new Http1Pool();
  assert.equal((await fetchText(pool, server.origin, { body: '{}' })).text, 'ok');
  await sleep(50);
  assert.deepEqual(pool.connections, { busy: 0, idle: 0 });
  assert.equal((await fetchText(pool, server.origin, { body: '{}' })).text, 'ok');
  assert.equal(server.connections, 2);
  await pool.close();
});

test('malformed answers are protocol errors and close the connection', async () => {
  const wires = [
    'HTTP/1.1 200 OK\r\ncontent-length: 2, 3\r\n\r\nok',
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
    'ICY 200 OK\r\n\r\n',
    'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n',
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokX',
    `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(70_000)}\r\n\r\n`,
  ];
  let index = 0;
  const server = await rawServer((socket) => void socket.write(wires[index++]!));
  const pool = new Http1Pool();
  for (const wire of wires) {
    const exchange = call(pool, server.origin, { body: '{}' });
    const outcome = exchange.head.then(() => exchange.buffer());
    await assert.rejects(outcome, UpstreamProtocolError, wire.slice(0, 40));
  }
  assert.equal(server.connections, wires.length);
  assert.deepEqual(pool.connections, { busy: 0, idle: 0 });
  await pool.close();
});

test('a server that closes mid-body, or a port nobody listens on: socket errors', async () => {
  const server = await rawServer((socket) => void socket.end(`${OK_HEAD}content-length: 10\r\n\r\nonly`));
  const pool = new Http1Pool();
  const cut = call(pool, server.origin, { body: '{}' });
  await cut.head;
  await assert.rejects(cut.buffer(), (error: Error) => {
    assert.ok(error instanceof UpstreamSocketError);
    assert.match(error.message, /closed before the answer was complete/);
    return true;
  });
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as net.AddressInfo;
  closed.close();
  await assert.rejects(call(pool, `http://127.0.0.1:${port}`, { body: '{}' }).head, (error: Error) => {
    assert.ok(error instanceof UpstreamSocketError);
    assert.match(error.message, /ECONNREFUSED/);
    return true;
  });
  await pool.close();
});

test('headers and body timeouts', async () => {
  const server = await rawServer((socket, request) => {
    if (request.body === 'stall-body') socket.write(`${OK_HEAD}content-length: 10\r\n\r\nabc`);
  });
  const pool = new Http1Pool();
  await assert.rejects(
    call(pool, server.origin, { body: 'stall-head', headersTimeout: 50 }).head,
    (error: Error) => {
      assert.ok(error instanceof UpstreamTimeoutError);
      assert.equal(error.phase, 'headers');
      return true;
    },
  );
  const exchange = call(pool, server.origin, { body: 'stall-body', bodyTimeout: 50 });
  await exchange.head;
  await assert.rejects(exchange.buffer(), (error: Error) => {
    assert.ok(error instanceof UpstreamTimeoutError);
    assert.equal(error.phase, 'body');
    return true;
  });
  assert.deepEqual(pool.connections, { busy: 0, idle: 0 });
  await pool.close();
});

test('a header value with a line break is refused before anything is sent', async () => {
  const server = await rawServer((socket) => void socket.write(`${OK_HEAD}content-length: 2\r\n\r\nok`));
  const pool = new Http1Pool();
  await assert.rejects(
    call(pool, server.origin, { body: '{}', headers: { 'x-request-id': 'a\r\nx-injected: 1' } }).head,
    UpstreamProtocolError,
  );
  await sleep(20);
  assert.equal(server.connections, 0);
  await pool.close();
});

test('an abort mid-body ends the exchange with its reason and closes the connection', async () => {
  const server = await rawServer((socket) => void socket.write(`${OK_HEAD}content-length: 100\r\n\r\nabc`));
  const pool = new Http1Pool();
  const controller = new AbortController();
  const exchange = new UpstreamExchange(pool, {
    origin: server.origin,
    path: '/',
    method: 'POST',
    headers: {},
    body: '{}',
    signal: controller.signal,
    headersTimeout: 5000,
    bodyTimeout: 5000,
  });
  await exchange.head;
  controller.abort(new Error('client left'));
  await assert.rejects(exchange.buffer(), /client left/);
  assert.deepEqual(pool.connections, { busy: 0, idle: 0 });
  await pool.close();
});

test('close() waits for the exchange in flight, closes idle connections, then refuses new requests', async () => {
  const server = await rawServer(async (socket, request) => {
    if (request.body === 'slow') await sleep(100);
    socket.write(`${OK_HEAD}content-length: 2\r\n\r\nok`);
  });
  const pool = new Http1Pool();
  await fetchText(pool, server.origin, { body: 'fast' });
  const slow = fetchText(pool, server.origin, { body: 'slow' });
  await sleep(10);
  let closed = false;
  const closing = pool.close().then(() => (closed = true));
  await sleep(20);
  assert.equal(closed, false, 'close() waits for the busy connection');
  assert.equal((await slow).text, 'ok');
  await closing;
  assert.deepEqual(pool.connections, { busy: 0, idle: 0 });
  await assert.rejects(call(pool, server.origin, { body: '{}' }).head, /pool is closed/);
});

test('https: verified against the given CA, refused without it; sessions are resumed', async () => {
  const server = await rawServer(
    (socket) => void socket.write(`${OK_HEAD}content-length: 2\r\n\r\nok`),
    true,
  );
  const trusted = new Http1Pool({ tls: { ca: readFileSync(fixture('cert.pem')) } });
  assert.equal((await fetchText(trusted, server.origin, { body: '{}' })).text, 'ok');
  assert.equal((await fetchText(trusted, server.origin, { body: '{}' })).text, 'ok');
  assert.equal(server.connections, 1);
  await trusted.close();
  const untrusted = new Http1Pool();
  await assert.rejects(call(untrusted, server.origin, { body: '{}' }).head, (error: Error) => {
    assert.ok(error instanceof UpstreamSocketError);
    assert.match(error.message, /self-signed|certificate/i);
    return true;
  });
  await untrusted.close();
});

test(
  'a reader that paused and resumed still has a body timeout (the server going silent ends the exchange)',
  { timeout: 10_000 },
  async () => {
    const piece = Buffer.alloc(16 * 1024, 'x');
    const server = await rawServer(async (socket) => {
      socket.write(`${OK_HEAD}content-length: ${1024 * 1024}\r\n\r\n`);
      for (let index = 0; index < 12; index++) socket.write(piece); // 192 KiB of 1 MiB, then silence
    });
    const pool = new Http1Pool();
    const exchange = call(pool, server.origin, { body: '{}', bodyTimeout: 200 });
    await exchange.head;
    await sleep(100); // more than 64 KiB queue up: the exchange pauses the socket
    const started = performance.now();
    await assert.rejects(
      (async () => {
        for (let chunks = await exchange.read(); chunks !== null; chunks = await exchange.read())
          await sleep(1);
      })(),
      (error: Error) => error instanceof UpstreamTimeoutError && error.phase === 'body',
    );
    assert.ok(performance.now() - started < 3000);
    assert.deepEqual(pool.connections, { busy: 0, idle: 0 });
    await pool.close();
  },
);

test('close() closes the idle connections of every origin even while one origin is busy', async () => {
  const slow = await rawServer(async (socket) => {
    await sleep(150);
    socket.write(`${OK_HEAD}content-length: 2\r\n\r\nok`);
  });
  const fast = await rawServer((socket) => void socket.write(`${OK_HEAD}content-length: 2\r\n\r\nok`));
  const pool = new Http1Pool();
  await fetchText(pool, fast.origin, { body: '{}' });
  const pending = fetchText(pool, slow.origin, { body: '{}' });
  await sleep(20);
  const closing = pool.close();
  assert.deepEqual(pool.connections, { busy: 1, idle: 0 });
  await pending;
  await closing;
});

test('a handler that throws ends its exchange with that error instead of escaping', async () => {
  const server = await rawServer((socket) => void socket.write(`${OK_HEAD}content-length: 4\r\n\r\nbody`));
  const pool = new Http1Pool();
  const outcome = await new Promise<Error | 'ended'>((resolve) => {
    pool.dispatch(
      {
        origin: server.origin,
        path: '/',
        method: 'POST',
        headers: {},
        body: '{}',
        headersTimeout: 5000,
        bodyTimeout: 5000,
      },
      {
        onResponseData() {
          throw new Error('handler bug');
        },
        onResponseEnd: () => resolve('ended'),
        onResponseError: (_controller, error) => resolve(error),
      },
    );
  });
  assert.ok(outcome instanceof Error && outcome.message === 'handler bug');
  assert.deepEqual(pool.connections, { busy: 0, idle: 0 });
  await pool.close();
});

test('a path or header name that would break the request, or a framing header from the caller, is refused', async () => {
  const server = await rawServer((socket) => void socket.write(`${OK_HEAD}content-length: 2\r\n\r\nok`));
  const pool = new Http1Pool();
  const requests: Array<{ path: string; headers: Record<string, string> }> = [
    { path: '/a b', headers: {} },
    { path: '/', headers: { 'bad name': 'x' } },
    { path: '/', headers: { 'Content-Length': '5' } },
    { path: '/', headers: { host: 'elsewhere' } },
    { path: '/', headers: { 'transfer-encoding': 'chunked' } },
  ];
  for (const request of requests) {
    const exchange = new UpstreamExchange(pool, {
      origin: server.origin,
      method: 'POST',
      body: '{}',
      headersTimeout: 5000,
      bodyTimeout: 5000,
      ...request,
    });
    await assert.rejects(exchange.head, UpstreamProtocolError, JSON.stringify(request));
  }
  await sleep(20);
  assert.equal(server.connections, 0);
  await pool.close();
});

test('response headers: whitespace before the colon is refused; any name is data; TE with CL is not reused', async () => {
  const wires = [
    'HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok',
    `${OK_HEAD}constructor: x\r\n__proto__: y\r\ncontent-length: 2\r\n\r\nok`,
    `${OK_HEAD}transfer-encoding: chunked\r\ncontent-length: 99\r\n\r\n2\r\nok\r\n0\r\n\r\n`,
  ];
  let index = 0;
  const server = await rawServer((socket) => void socket.write(wires[index++]!));
  const pool = new Http1Pool();
  const first = call(pool, server.origin, { body: '{}' });
  await assert.rejects(first.head, UpstreamProtocolError);
  const second = await fetchText(pool, server.origin, { body: '{}' });
  assert.equal(second.headers.constructor, 'x');
  assert.equal(second.headers['__proto__'], 'y');
  assert.deepEqual(pool.connections, { busy: 0, idle: 1 });
  const third = await fetchText(pool, server.origin, { body: '{}' });
  assert.equal(third.text, 'ok');
  assert.deepEqual(pool.connections, { busy: 0, idle: 0 });
  await pool.close();
});
