// Upstream error text reaches the client (watsonx's messages are useful), but never a credential:
// an upstream, or a proxy in front of it, that echoes the request's Authorization header (or the
// token alone) in an error, before or during a stream, must not hand the IAM token to the client.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { redactCredentials } from '../src/watsonx/errors.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const MODEL = 'ibm/granite-4-h-small';
const hello = { model: MODEL, messages: [{ role: 'user', content: 'hi' }] };
const CATALOGUE = `{"total_count":1,"limit":200,"resources":[{"model_id":"${MODEL}","functions":[{"id":"text_chat"}]}]}`;

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

/** watsonx on loopback that answers every inference call with an error quoting its Authorization. */
async function echoingUpstream(): Promise<{ url: string; tokens: string[] }> {
  const tokens: string[] = [];
  const server = createServer((request, response) => {
    request.resume();
    const path = (request.url ?? '').split('?')[0]!;
    if (path.endsWith('/foundation_model_specs')) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(CATALOGUE);
      return;
    }
    const authorization = request.headers.authorization ?? '';
    const token = authorization.replace(/^Bearer /, '');
    tokens.push(token);
    const message = `invalid request; headers were authorization=${authorization}; token ${token} refused`;
    if (path.endsWith('/text/chat_stream')) {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(
        `event: error\ndata: ${JSON.stringify({ errors: [{ code: 'bad', message }], status_code: 400 })}\n\n`,
      );
      return;
    }
    response
      .writeHead(400, { 'content-type': 'application/json' })
      .end(JSON.stringify({ errors: [{ code: 'invalid_input', message }], status_code: 400 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, tokens };
}

async function gateway(env: Record<string, string>): Promise<TestGateway> {
  const started = await startTestGateway({ env });
  closers.push(() => started.close());
  return started;
}

test('a watsonx error quoting the Authorization header: the message reaches the client without the token', async () => {
  const upstream = await echoingUpstream();
  const target = await gateway({ WATSONX_URL: upstream.url });
  for (const surface of [
    { url: '/v1/chat/completions', payload: hello },
    { url: '/v1/chat/completions', payload: { ...hello, stream: true } },
    { url: '/v1/messages', payload: { ...hello, max_tokens: 10 } },
    { url: '/v1/responses', payload: { model: MODEL, input: 'hi' } },
  ]) {
    const response = await target.inject({ method: 'POST', ...surface });
    const token = upstream.tokens.at(-1)!;
    assert.ok(token.length > 20, 'the upstream saw a token');
    assert.ok(!response.body.includes(token), `${surface.url}: the IAM token reached the client`);
    assert.ok(
      !response.body.includes(token.slice(0, 40)),
      `${surface.url}: part of the token reached the client`,
    );
    assert.match(response.body, /invalid request; headers were authorization=Bearer \[redacted\]/);
  }
});

test('redactCredentials: bearer and basic credentials, JWTs, the secrets given; other text kept', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
  assert.equal(redactCredentials(`Authorization: Bearer ${jwt}`), 'Authorization: Bearer [redacted]');
  assert.equal(redactCredentials('authorization: basic dXNlcjpwYXNz=='), 'authorization: basic [redacted]');
  assert.equal(redactCredentials(`token=${jwt}.`), 'token=[redacted].');
  assert.equal(redactCredentials('opaque-token-1234 refused', ['opaque-token-1234']), '[redacted] refused');
  assert.equal(redactCredentials('model not found'), 'model not found');
});
