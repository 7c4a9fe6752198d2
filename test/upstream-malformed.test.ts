// Malformed HTTP from upstream fails at once: an answer with bare-LF line endings, an HTTP/2 preface
// or a binary HTTP/2 frame on the HTTP/1.1 connection is a 502 upstream_invalid_response (an error
// frame on a stream) as soon as it arrives, not after REQUEST_TIMEOUT (set to 5 minutes here) and
// not a retry loop. A raw node:net server stands in for watsonx and IAM; the catalogue and the
// token are well-formed so that only the inference answer is broken.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const MODEL = 'ibm/granite-4-h-small';
const CHAT =
  `{"id":"x","model_id":"${MODEL}","created":1,"choices":[{"index":0,"message":` +
  '{"role":"assistant","content":"hi"},"finish_reason":"stop"}],' +
  '"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}';
const CATALOGUE = `{"total_count":1,"limit":200,"resources":[{"model_id":"${MODEL}","functions":[{"id":"text_chat"}]}]}`;
const TOKEN = '{"access_token":"t","expires_in":3600,"expiration":9999999999}';
/** Well above how long these cases may take: failing fast means far less than this. */
const FIRST_BYTE_TIMEOUT_S = 300;

const BROKEN: ReadonlyArray<readonly [string, string]> = [
  [
    'bare-LF line endings',
    `HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: ${CHAT.length}\n\n${CHAT}`,
  ],
  ['an HTTP/2 connection preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
  ['a binary HTTP/2 SETTINGS frame', '\x00\x00\x00\x04\x00\x00\x00\x00\x00'],
];

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

/** Answers IAM and the catalogue properly and every inference call with `broken`; counts those calls. */
async function upstream(broken: string): Promise<{ url: string; inferenceCalls: () => number }> {
  let inference = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    socket.on('data', (data) => {
      pending += data.toString('latin1');
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = /content-length: *(\d+)/i.exec(pending.slice(0, end))?.[1];
      if (pending.length < end + 4 + Number(length ?? 0)) return;
      const path = pending.split(' ')[1] ?? '';
      pending = '';
      const proper = path.includes('foundation_model_specs')
        ? CATALOGUE
        : path.includes('/identity/')
          ? TOKEN
          : undefined;
      if (proper === undefined) {
        inference += 1;
        socket.write(broken);
        return;
      }
      socket.write(
        `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${proper.length}\r\n\r\n${proper}`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    inferenceCalls: () => inference,
  };
}

async function gateway(url: string): Promise<TestGateway> {
  const started = await startTestGateway({
    env: {
      WATSONX_URL: url,
      IBM_IAM_URL: url,
      REQUEST_TIMEOUT: String(FIRST_BYTE_TIMEOUT_S),
      // A malformed answer is not a connection error: it must not be retried either.
      UPSTREAM_MAX_RETRIES: '3',
    },
  });
  closers.push(() => started.close());
  return started;
}

for (const [label, broken] of BROKEN) {
  test(`an upstream answer with ${label}: 502 upstream_invalid_response at once, not retried`, async () => {
    const target = await upstream(broken);
    const gw = await gateway(target.url);
    const started = Date.now();
    const response = await gw.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: { model: MODEL, messages: [{ role: 'user', content: 'hi' }] },
    });
    const seconds = (Date.now() - started) / 1000;
    assert.equal(response.statusCode, 502, response.body);
    const error = response.json().error;
    assert.equal(error.code, 'upstream_invalid_response');
    assert.match(error.message, /does not match the HTTP\/1\.1 protocol/);
    assert.ok(seconds < FIRST_BYTE_TIMEOUT_S / 10, `answered after ${seconds} s`);
    assert.equal(target.inferenceCalls(), 1);
  });

  test(`a stream whose upstream answers with ${label}: the stream fails at once`, async () => {
    const target = await upstream(broken);
    const gw = await gateway(target.url);
    const started = Date.now();
    const response = await gw.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: { model: MODEL, stream: true, messages: [{ role: 'user', content: 'hi' }] },
    });
    const seconds = (Date.now() - started) / 1000;
    // Nothing was relayed yet, so the failure is still an HTTP status, not an error frame.
    assert.equal(response.statusCode, 502, response.body);
    assert.equal(response.json().error.code, 'upstream_invalid_response');
    assert.ok(seconds < FIRST_BYTE_TIMEOUT_S / 10, `answered after ${seconds} s`);
  });
}
