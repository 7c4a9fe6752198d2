// IAM unreachable: clients (every API surface) and the open endpoints (/ready, /health) hear that
// IBM Cloud IAM is unreachable, never its host, port or socket error code; the log keeps them.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { startTestGateway } from './helpers/gateway.ts';

const MODEL = 'ibm/granite-4-h-small';

/** A loopback port with nothing listening on it (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const lines: string[] = [];
const logger = {
  level: 'warn',
  stream: new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  }),
};

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers) await close();
});

test('IAM refusing connections: a generic 503 and /ready reason, the detail only in the log', async () => {
  const port = await closedPort();
  const target = await startTestGateway({ env: { IBM_IAM_URL: `http://127.0.0.1:${port}` }, logger });
  closers.push(() => target.close());
  const internal = new RegExp(`127\\.0\\.0\\.1|:${port}\\b|${port}|ECONNREFUSED|connect `);

  for (const [url, payload] of [
    ['/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'hi' }] }],
    ['/v1/messages', { model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }],
    ['/v1/responses', { model: MODEL, input: 'hi' }],
  ] as const) {
    const response = await target.inject({ method: 'POST', url, payload });
    assert.equal(response.statusCode, 503, `${url}: ${response.body}`);
    assert.match(response.body, /IBM Cloud IAM is unreachable/);
    assert.doesNotMatch(response.body, internal, url);
  }

  const ready = await target.inject({ method: 'GET', url: '/ready' });
  assert.equal(ready.statusCode, 503);
  assert.equal(ready.json().status, 'not_ready');
  assert.match(ready.json().reason, /IBM Cloud IAM is unreachable/);
  assert.doesNotMatch(ready.body, internal);

  // /health names the watsonx URL by design (127.0.0.1 here), never IAM's address or error.
  const health = await target.inject({ method: 'GET', url: '/health' });
  assert.doesNotMatch(health.body, new RegExp(`:${port}\\b|ECONNREFUSED`));

  // The operator still finds the cause.
  assert.ok(
    lines.some((line) => line.includes('ECONNREFUSED') && line.includes(String(port))),
    'the log names the socket error and the address',
  );
});
