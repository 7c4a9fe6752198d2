// CORS (src/cors.ts) through HTTP: headers only for browsers, listed origins, preflights.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const MODEL = 'ibm/granite-4-h-small';
const hello = { model: MODEL, messages: [{ role: 'user', content: 'hi' }] };
const preflight = (origin: string) => ({
  origin,
  'access-control-request-method': 'POST',
  'access-control-request-headers': 'authorization, content-type, x-stainless-os',
});

describe('ALLOWED_ORIGINS=* (the default)', () => {
  let gateway: TestGateway;
  before(async () => (gateway = await startTestGateway()));
  after(() => gateway.close());

  test('a request without Origin (an SDK, a server) gets no CORS headers', async () => {
    const response = await gateway.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: hello,
    });
    assert.equal(response.statusCode, 200);
    const cors = Object.keys(response.headers).filter((name) => name.startsWith('access-control-'));
    assert.deepEqual(cors, []);
  });

  test('a browser request gets Allow-Origin * and the readable headers', async () => {
    const response = await gateway.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { origin: 'https://app.example' },
      payload: hello,
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['access-control-allow-origin'], '*');
    const exposed = String(response.headers['access-control-expose-headers']).split(', ');
    for (const name of ['x-request-id', 'retry-after', 'x-ratelimit-remaining-requests'])
      assert.ok(exposed.includes(name), name);
  });

  test('a preflight gets 204, the methods, the requested headers echoed and a max age', async () => {
    const response = await gateway.inject({
      method: 'OPTIONS',
      url: '/v1/embeddings',
      headers: preflight('https://app.example'),
    });
    assert.equal(response.statusCode, 204);
    assert.equal(response.body, '');
    assert.equal(response.headers['access-control-allow-origin'], '*');
    assert.equal(response.headers['access-control-allow-methods'], 'GET, POST, DELETE, OPTIONS');
    assert.equal(
      response.headers['access-control-allow-headers'],
      'authorization, content-type, x-stainless-os',
    );
    assert.equal(response.headers['access-control-max-age'], '600');
    assert.equal(response.headers['vary'], 'Access-Control-Request-Headers');
  });

  test('OPTIONS that is not a preflight → 400 invalid_preflight in the OpenAI shape', async () => {
    for (const headers of [{}, { origin: 'https://app.example' }]) {
      const response = await gateway.inject({ method: 'OPTIONS', url: '/v1/models', headers });
      assert.equal(response.statusCode, 400);
      assert.equal(response.json().error.code, 'invalid_preflight');
      assert.equal(response.json().error.type, 'invalid_request_error');
    }
  });
});

describe('ALLOWED_ORIGINS=a list', () => {
  let gateway: TestGateway;
  before(
    async () =>
      (gateway = await startTestGateway({
        env: { ALLOWED_ORIGINS: 'https://app.example, http://localhost:3000' },
      })),
  );
  after(() => gateway.close());

  test('a listed origin is echoed with Vary: Origin', async () => {
    const response = await gateway.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { origin: 'http://localhost:3000' },
      payload: hello,
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['access-control-allow-origin'], 'http://localhost:3000');
    assert.equal(response.headers['vary'], 'Origin');
  });

  test('another origin gets no Allow-Origin (the browser refuses the answer), and no preflight', async () => {
    const simple = await gateway.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { origin: 'https://evil.example' },
      payload: hello,
    });
    assert.equal(simple.headers['access-control-allow-origin'], undefined);
    assert.equal(simple.headers['vary'], 'Origin');
    const denied = await gateway.inject({
      method: 'OPTIONS',
      url: '/v1/chat/completions',
      headers: preflight('https://evil.example'),
    });
    assert.equal(denied.statusCode, 400);
    assert.equal(denied.headers['access-control-allow-origin'], undefined);
    const allowed = await gateway.inject({
      method: 'OPTIONS',
      url: '/v1/chat/completions',
      headers: preflight('https://app.example'),
    });
    assert.equal(allowed.statusCode, 204);
    assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example');
    assert.equal(allowed.headers['vary'], 'Origin, Access-Control-Request-Headers');
  });
});
