// UpstreamExchange (src/watsonx/transport.ts) against a loopback server: backpressure, draining,
// aborting. The stream relay depends on it, so a stall here is a frozen stream for the client.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { Http1Pool } from '../src/watsonx/http1.ts';
import { UpstreamExchange } from '../src/watsonx/transport.ts';

const PIECE = Buffer.alloc(16 * 1024, 'x');
const PIECES = 128; // 2 MiB: far past the 64 KiB at which the exchange pauses the socket
let server: Server;
let origin: string;
let pool: Http1Pool;

before(async () => {
  server = createServer((request, response) => {
    request.resume();
    response.writeHead(200, { 'content-type': 'application/octet-stream' });
    let sent = 0;
    const write = () => {
      while (sent < PIECES) {
        sent += 1;
        if (!response.write(PIECE)) return void response.once('drain', write);
      }
      response.end();
    };
    write();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  origin = `http://127.0.0.1:${address.port}`;
  pool = new Http1Pool();
});
after(async () => {
  await pool.close();
  server.close();
});

const open = (signal?: AbortSignal) =>
  new UpstreamExchange(pool, {
    origin,
    path: '/',
    method: 'GET',
    headers: {},
    signal,
    headersTimeout: 5000,
    bodyTimeout: 5000,
  });

test('a reader slower than the server gets the whole body (pause and resume, no stall)', async () => {
  const exchange = open();
  await exchange.head;
  let received = 0;
  for (let chunks = await exchange.read(); chunks !== null; chunks = await exchange.read()) {
    for (const chunk of chunks) received += chunk.length;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  assert.equal(received, PIECE.length * PIECES);
  assert.equal(exchange.ended, true);
});

test('buffer() collects the whole body in one promise', async () => {
  const exchange = open();
  await exchange.head;
  assert.equal((await exchange.buffer()).length, PIECE.length * PIECES);
});

test('destroy() ends a read in progress with its reason; an aborted signal does too', async () => {
  const exchange = open();
  await exchange.head;
  await exchange.read();
  exchange.destroy(new Error('enough'));
  await assert.rejects(exchange.read(), /enough/);
  const controller = new AbortController();
  const aborted = open(controller.signal);
  await aborted.head;
  controller.abort(new Error('client left'));
  await assert.rejects(aborted.buffer(), /client left/);
});
