// REQUEST_TOTAL_TIMEOUT bounds non-stream calls too: a watsonx that trickles its answer one byte at a
// time, always inside the body timeout, must not hold the request past the total budget.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { startTestGateway } from './helpers/gateway.ts';

const MODEL = 'ibm/granite-4-h-small';
const CATALOGUE = `{"total_count":1,"limit":200,"resources":[{"model_id":"${MODEL}","functions":[{"id":"text_chat"}]}]}`;

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

test('a non-stream answer trickled byte by byte: 504 upstream_timeout at REQUEST_TOTAL_TIMEOUT', async () => {
  let cutByPeer = false;
  const server = createServer((request, response) => {
    request.resume();
    if ((request.url ?? '').includes('/foundation_model_specs')) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(CATALOGUE);
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write('{"pad":"');
    // One byte every 100 ms for 15 s: each gap far inside REQUEST_TIMEOUT (the body timeout).
    let left = 150;
    const timer = setInterval(() => {
      if (--left === 0) {
        clearInterval(timer);
        response.end('"}');
      } else response.write('a');
    }, 100);
    response.on('close', () => {
      clearInterval(timer);
      if (!response.writableFinished) cutByPeer = true;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const target = await startTestGateway({
    env: {
      WATSONX_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      REQUEST_TIMEOUT: '5',
      REQUEST_TOTAL_TIMEOUT: '1',
    },
  });
  closers.push(() => target.close());

  const started = Date.now();
  const response = await target.inject({
    method: 'POST',
    url: '/v1/chat/completions',
    payload: { model: MODEL, messages: [{ role: 'user', content: 'hi' }] },
  });
  const elapsed = Date.now() - started;
  assert.equal(response.statusCode, 504, response.body);
  assert.equal(response.json().error.code, 'upstream_timeout');
  assert.match(response.json().error.message, /total timeout/);
  assert.ok(elapsed >= 900 && elapsed < 3000, `answered after ${elapsed} ms`);
  for (let tries = 0; tries < 50 && !cutByPeer; tries++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(cutByPeer, 'the upstream connection was closed');
});
