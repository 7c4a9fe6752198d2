// Bounded memory against a hostile upstream, through the gateway's HTTP: watsonx, the catalogue and
// IAM on loopback send answers that do not stop (a non-stream body past UPSTREAM_MAX_RESPONSE_MB, a
// stream line that never ends, an endless error body, a huge catalogue page or IAM answer). The
// gateway must answer the client and close the upstream connection long before the upstream is done.
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const MIB = 1024 * 1024;
const MODEL = 'ibm/granite-4-h-small';
const hello = { model: MODEL, messages: [{ role: 'user', content: 'hi' }] };
const CHAT_HEAD =
  '{"id":"x","model_id":"ibm/granite-4-h-small","created":1,"choices":[{"index":0,"message":' +
  '{"role":"assistant","content":"hi"},"finish_reason":"stop"}],' +
  '"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2},"pad":"';
const TOKEN_HEAD = '{"access_token":"t","expires_in":3600,"expiration":9999999999,"pad":"';

interface Answer {
  status: number;
  contentType: string;
  head: string;
  /** Bytes of padding after `head`, then `tail`: the whole is valid when it is all sent. */
  padding: number;
  tail: string;
}

interface Hostile {
  url: string;
  /** Per path (no query): bytes written, and whether the gateway closed the connection first. */
  sent: Map<string, { bytes: number; cutByPeer: boolean }>;
}

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

/** A server that writes `head`, then padding as fast as the reader takes it, then `tail`. */
async function hostile(answerFor: (path: string) => Answer | undefined): Promise<Hostile> {
  const sent: Hostile['sent'] = new Map();
  const server = createServer((request, response) => {
    request.resume();
    const path = (request.url ?? '').split('?')[0]!;
    const answer = answerFor(path) ?? {
      status: 200,
      contentType: 'application/json',
      head: `{"total_count":1,"limit":200,"resources":[{"model_id":"${MODEL}","functions":[{"id":"text_chat"}]}]}`,
      padding: 0,
      tail: '',
    };
    const record = { bytes: 0, cutByPeer: false };
    sent.set(path, record);
    response.writeHead(answer.status, { 'content-type': answer.contentType });
    void pour(response, answer, record);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sent };
}

async function pour(
  response: ServerResponse,
  answer: Answer,
  record: { bytes: number; cutByPeer: boolean },
): Promise<void> {
  let closed = false;
  response.on('close', () => {
    closed = true;
    if (!response.writableFinished) record.cutByPeer = true;
  });
  const write = async (chunk: string) => {
    record.bytes += Buffer.byteLength(chunk);
    if (!response.write(chunk))
      await new Promise<void>((resolve) => {
        response.once('drain', resolve);
        response.once('close', resolve);
      });
  };
  await write(answer.head);
  const block = 'a'.repeat(64 * 1024);
  for (let left = answer.padding; left > 0 && !closed; left -= block.length) {
    await write(left >= block.length ? block : block.slice(0, left));
  }
  if (!closed) response.end(answer.tail);
}

async function gateway(env: Record<string, string>): Promise<TestGateway> {
  const started = await startTestGateway({ env });
  closers.push(() => started.close());
  return started;
}

test('a non-stream answer over UPSTREAM_MAX_RESPONSE_MB: 502 upstream_invalid_response, connection closed', async () => {
  const upstream = await hostile((path) =>
    path.endsWith('/text/chat')
      ? { status: 200, contentType: 'application/json', head: CHAT_HEAD, padding: 64 * MIB, tail: '"}' }
      : undefined,
  );
  const target = await gateway({ WATSONX_URL: upstream.url, UPSTREAM_MAX_RESPONSE_MB: '1' });
  const response = await target.inject({ method: 'POST', url: '/v1/chat/completions', payload: hello });
  assert.equal(response.statusCode, 502);
  const error = response.json().error;
  assert.equal(error.code, 'upstream_invalid_response');
  assert.match(error.message, /larger than 1 MiB/);
  const record = upstream.sent.get('/ml/v1/text/chat')!;
  await waitFor(() => record.cutByPeer);
  assert.ok(record.bytes < 16 * MIB, `the upstream wrote ${record.bytes} bytes before the gateway left`);

  // Within the limit, the same answer is served.
  const small = await hostile((path) =>
    path.endsWith('/text/chat')
      ? { status: 200, contentType: 'application/json', head: CHAT_HEAD, padding: 1000, tail: '"}' }
      : undefined,
  );
  const served = await gateway({ WATSONX_URL: small.url, UPSTREAM_MAX_RESPONSE_MB: '1' });
  const ok = await served.inject({ method: 'POST', url: '/v1/chat/completions', payload: hello });
  assert.equal(ok.statusCode, 200, ok.body);
});

test('a stream line that never ends: an upstream_invalid_response error frame, connection closed', async () => {
  const upstream = await hostile((path) =>
    path.endsWith('/text/chat_stream')
      ? {
          status: 200,
          contentType: 'text/event-stream',
          head: 'data: {"pad":"',
          padding: 64 * MIB,
          tail: '"}\n\n',
        }
      : undefined,
  );
  const target = await gateway({ WATSONX_URL: upstream.url });
  const response = await target.inject({
    method: 'POST',
    url: '/v1/chat/completions',
    payload: { ...hello, stream: true },
  });
  assert.match(response.body, /upstream_invalid_response/);
  assert.match(response.body, /stream event larger than 1 MiB/);
  const record = upstream.sent.get('/ml/v1/text/chat_stream')!;
  await waitFor(() => record.cutByPeer);
  assert.ok(record.bytes < 16 * MIB, `the upstream wrote ${record.bytes} bytes before the gateway left`);
});

test('an endless error body: the error is answered from its start, connection closed', async () => {
  const upstream = await hostile((path) =>
    path.endsWith('/text/chat')
      ? {
          status: 500,
          contentType: 'application/json',
          head: '{"errors":[{"code":"boom","message":"it broke"}],"pad":"',
          padding: 64 * MIB,
          tail: '"}',
        }
      : undefined,
  );
  const target = await gateway({ WATSONX_URL: upstream.url });
  const response = await target.inject({ method: 'POST', url: '/v1/chat/completions', payload: hello });
  assert.equal(response.statusCode, 502);
  assert.equal(response.json().error.code, 'upstream_error');
  const record = upstream.sent.get('/ml/v1/text/chat')!;
  await waitFor(() => record.cutByPeer);
  assert.ok(record.bytes < 16 * MIB, `the upstream wrote ${record.bytes} bytes before the gateway left`);
});

test('a catalogue page over 16 MiB is not held: the connection is closed', async () => {
  const upstream = await hostile((path) =>
    path.endsWith('/foundation_model_specs')
      ? {
          status: 200,
          contentType: 'application/json',
          head: '{"total_count":0,"limit":200,"resources":[],"pad":"',
          padding: 128 * MIB,
          tail: '"}',
        }
      : undefined,
  );
  const target = await gateway({ WATSONX_URL: upstream.url });
  await target.inject({ method: 'GET', url: '/v1/models' });
  const record = upstream.sent.get('/ml/v1/foundation_model_specs')!;
  await waitFor(() => record.cutByPeer);
  assert.ok(record.bytes < 32 * MIB, `the upstream wrote ${record.bytes} bytes before the gateway left`);
});

test('an IAM answer over 1 MiB: 503 iam_unavailable, connection closed', async () => {
  const iam = await hostile((path) =>
    path === '/identity/token'
      ? { status: 200, contentType: 'application/json', head: TOKEN_HEAD, padding: 64 * MIB, tail: '"}' }
      : undefined,
  );
  const target = await gateway({ IBM_IAM_URL: iam.url });
  const response = await target.inject({ method: 'POST', url: '/v1/chat/completions', payload: hello });
  assert.equal(response.statusCode, 503);
  assert.equal(response.json().error.code, 'iam_unavailable');
  const record = iam.sent.get('/identity/token')!;
  await waitFor(() => record.cutByPeer);
  assert.ok(record.bytes < 16 * MIB, `IAM wrote ${record.bytes} bytes before the gateway left`);
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let tries = 0; tries < 100 && !condition(); tries++) await new Promise((r) => setTimeout(r, 20));
}
