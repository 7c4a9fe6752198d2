// Security properties (issue 5, "Bad input and security"): a client-chosen model name can never
// change where the gateway sends its upstream requests, a `/v1/models/<id>` lookup reaches only the
// catalogue, and client header values are never echoed or forwarded unless they are plain.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { RecordedRequest } from '../src/simulator/index.ts';
import { PROJECT_ID, startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { parseOpenAIStream } from './helpers/sse.ts';

const CHAT_MODEL = 'ibm/granite-4-h-small';
const GATEWAY_KEY = 'security-gateway-key';
const IBM_KEY = 'security-ibm-key';

/** Model names that would move a naively built URL (`/ml/v1/${model}/…`, `?model=${model}`). */
const HOSTILE_MODELS = [
  '../../ml/v1/foundation_model_specs',
  '../../../identity/token',
  'ibm/granite-4-h-small/../../../../identity/token',
  '..%2F..%2Fidentity%2Ftoken',
  '%2e%2e%2f%2e%2e%2fidentity%2ftoken',
  'ibm%2Fgranite-4-h-small',
  'ibm/granite-4-h-small?version=1999-01-01&project_id=evil',
  '?version=1999-01-01',
  'ibm/granite-4-h-small#fragment',
  '#',
  'ibm/granite-4-h-small&project_id=evil',
  'ibm/granite 4 h small',
  ' ibm/granite-4-h-small ',
  'ibm/granite-4-h-small\r\nX-Injected: 1',
  'ibm/granite-4-h-small\nHost: evil.example',
  'ibm/granite-4-h-small\r\n\r\nGET /identity/token HTTP/1.1',
  'ibm/granite-4-h-small\u0000',
  '\u0000\u0001\u0002\u001f\u007f',
  'ibm/\tgranite',
  'http://evil.example/ml/v1/text/chat',
  '//evil.example/x',
  'user:pass@evil.example',
  '\\..\\..\\identity\\token',
  'ibm/granite-4-h-small;version=1999-01-01',
  'ibm/granite\u2028-4\u202e-h-small',
  'x","project_id":"evil',
  '{{model}}/${env.IBM_CLOUD_API_KEY}',
];

const INFERENCE_PATHS = new Set([
  '/ml/v1/text/chat',
  '/ml/v1/text/chat_stream',
  '/ml/v1/text/generation',
  '/ml/v1/text/generation_stream',
  '/ml/v1/text/embeddings',
]);
const CATALOGUE_PATH = '/ml/v1/foundation_model_specs';
const CATALOGUE_QUERY_KEYS = new Set(['version', 'limit', 'start']);
const UNSAFE_HEADER_CHARACTERS = /[\r\n\0]/;

/** Every request the simulator received, each checked to be an expected call. */
function assertOnlyExpectedUpstreamCalls(target: TestGateway, allowInference: boolean): void {
  const version = target.config.apiVersion;
  for (const recorded of target.simulator.requests) {
    const where = `${recorded.method} ${recorded.path} ${JSON.stringify(recorded.query)}`;
    if (recorded.path === '/identity/token') {
      assert.equal(recorded.method, 'POST', where);
      assert.deepEqual(recorded.query, {}, where);
    } else if (recorded.path === CATALOGUE_PATH) {
      assert.equal(recorded.method, 'GET', where);
      assert.equal(recorded.query.version, version, where);
      for (const key of Object.keys(recorded.query)) assert.ok(CATALOGUE_QUERY_KEYS.has(key), where);
    } else {
      assert.ok(allowInference, `unexpected inference call: ${where}`);
      assert.ok(INFERENCE_PATHS.has(recorded.path), `unexpected path: ${where}`);
      assert.equal(recorded.method, 'POST', where);
      assert.deepEqual(recorded.query, { version }, where);
      assert.equal((recorded.body as { project_id?: unknown }).project_id, PROJECT_ID, where);
    }
    for (const [name, value] of Object.entries(recorded.headers)) {
      for (const item of [value ?? ''].flat()) {
        assert.ok(!UNSAFE_HEADER_CHARACTERS.test(item), `${where}: header ${name} carries CR/LF/NUL`);
      }
    }
  }
}

function inference(target: TestGateway): RecordedRequest[] {
  return target.simulator.requests.filter(
    (recorded) => !['/identity/token', CATALOGUE_PATH].includes(recorded.path),
  );
}

describe('model names cannot steer the upstream URL', () => {
  let gateway: TestGateway;
  before(async () => {
    // MODEL_VALIDATION=false: every hostile name goes on to watsonx, which is what is being checked.
    gateway = await startTestGateway({ env: { MODEL_VALIDATION: 'false', MODEL_MAP_GPT_4O: CHAT_MODEL } });
  });
  after(() => gateway.close());

  const calls = [
    { route: 'chat', url: '/v1/chat/completions', path: '/ml/v1/text/chat', stream: false },
    { route: 'chat', url: '/chat/completions', path: '/ml/v1/text/chat_stream', stream: true },
    { route: 'completions', url: '/v1/completions', path: '/ml/v1/text/generation', stream: false },
    { route: 'completions', url: '/completions', path: '/ml/v1/text/generation_stream', stream: true },
    { route: 'embeddings', url: '/v1/embeddings', path: '/ml/v1/text/embeddings', stream: false },
  ] as const;

  for (const call of calls) {
    test(`${call.url}${call.stream ? ' (stream)' : ''}: the name stays in model_id, the URL is fixed`, async () => {
      for (const model of HOSTILE_MODELS) {
        const before = gateway.simulator.requests.length;
        const body =
          call.route === 'chat'
            ? { model, messages: [{ role: 'user', content: 'hi' }], stream: call.stream }
            : call.route === 'completions'
              ? { model, prompt: 'Once', stream: call.stream }
              : { model, input: 'hello' };
        const response = await gateway.inject({ method: 'POST', url: call.url, payload: body });
        assert.ok(
          response.statusCode < 500,
          `${JSON.stringify(model)}: ${response.statusCode} ${response.body}`,
        );
        if (call.stream && response.statusCode === 200) parseOpenAIStream(response.body);
        const sent = gateway.simulator.requests
          .slice(before)
          .filter((recorded) => recorded.path !== '/identity/token');
        assert.equal(sent.length, 1, `${JSON.stringify(model)}: one upstream call`);
        const upstream = sent[0]!;
        assert.equal(upstream.path, call.path, JSON.stringify(model));
        assert.deepEqual(upstream.query, { version: gateway.config.apiVersion }, JSON.stringify(model));
        assert.equal((upstream.body as { model_id: string }).model_id, model);
      }
      assertOnlyExpectedUpstreamCalls(gateway, true);
    });
  }

  test('an alias maps by name only: a hostile suffix is not an alias', async () => {
    const before = inference(gateway).length;
    const response = await gateway.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: { model: 'gpt-4o/../../identity/token', messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.ok(response.statusCode < 500);
    const sent = inference(gateway).slice(before);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.path, '/ml/v1/text/chat');
    assert.equal((sent[0]!.body as { model_id: string }).model_id, 'gpt-4o/../../identity/token');
  });
});

describe('with model validation on, hostile names stop at the catalogue', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway({ listen: true });
  });
  after(() => gateway.close());

  test('chat, completions and embeddings answer 404 model_not_found without calling watsonx', async () => {
    for (const model of HOSTILE_MODELS) {
      for (const [url, body] of [
        ['/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }] }],
        ['/v1/completions', { model, prompt: 'Once' }],
        ['/v1/embeddings', { model, input: 'hello' }],
      ] as const) {
        const response = await gateway.inject({ method: 'POST', url, payload: body });
        assert.equal(response.statusCode, 404, `${url} ${JSON.stringify(model)}: ${response.body}`);
        assert.equal(response.json().error.code, 'model_not_found');
      }
    }
    assert.equal(inference(gateway).length, 0);
    assertOnlyExpectedUpstreamCalls(gateway, false);
  });

  /** GET with the path exactly as given (fetch and inject would normalise `..`). */
  function rawGet(path: string): Promise<{ status: number; body: string }> {
    const { port } = new URL(gateway.url);
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest({ host: '127.0.0.1', port, path, method: 'GET' }, (incoming) => {
        let body = '';
        incoming.setEncoding('utf8');
        incoming.on('data', (chunk: string) => (body += chunk));
        incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, body }));
      });
      outgoing.on('error', reject);
      outgoing.end();
    });
  }

  test('/v1/models/<id>: traversal, encoded slashes and query tricks reach only the catalogue', async () => {
    const paths = [
      '/v1/models/../../health',
      '/v1/models/..%2F..%2Fhealth',
      '/v1/models/%2e%2e/%2e%2e/health',
      '/v1/models/..%252F..%252Fhealth',
      '/v1/models/ibm%2Fgranite-4-h-small%3Fversion%3D1999-01-01',
      '/v1/models/ibm%2Fgranite-4-h-small%23x',
      '/v1/models/..%2F..%2F..%2Fidentity%2Ftoken',
      '/v1/models/%2F%2Fevil.example%2Fx',
      '/v1/models/http:%2F%2Fevil.example%2F',
      '/v1/models/x%0d%0aX-Injected:%201',
      '/v1/models/x%00',
      '/v1/models/%20',
      '/models/../../../package.json',
      '/models/..%5c..%5cpackage.json',
    ];
    for (const path of paths) {
      const response = await rawGet(path);
      assert.ok(
        response.status === 404 || response.status === 400,
        `${path}: ${response.status} ${response.body.slice(0, 200)}`,
      );
      const { error } = JSON.parse(response.body) as { error: { code: string } };
      assert.ok(['model_not_found', 'invalid_url'].includes(error.code), `${path}: ${error.code}`);
      assert.ok(!response.body.includes('"status":"ok"'), `${path} reached /health`);
    }
    // A query string on the lookup is the client's own and never reaches watsonx.
    const queried = await rawGet('/v1/models/ibm/granite-4-h-small?version=1999-01-01&project_id=evil');
    assert.equal(queried.status, 200);
    assert.equal(JSON.parse(queried.body).id, CHAT_MODEL);
    assert.equal(inference(gateway).length, 0);
    assertOnlyExpectedUpstreamCalls(gateway, false);
  });
});

describe('header injection', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway({ listen: true, apiKey: IBM_KEY, env: { API_KEY: GATEWAY_KEY } });
  });
  after(() => gateway.close());

  const hello = { model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }] };
  const GENERATED_ID = /^req_[0-9a-f]{24,}$/;

  async function chatWithRequestId(requestId: string | string[]) {
    const before = inference(gateway).length;
    const response = await gateway.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${GATEWAY_KEY}`, 'x-request-id': requestId },
      payload: hello,
    });
    const sent = inference(gateway).slice(before);
    return { response, sent };
  }

  test('an unsafe x-request-id is replaced, neither echoed nor forwarded', async () => {
    const unsafe: Array<string | string[]> = [
      'abc\r\nX-Injected: 1',
      'abc\nSet-Cookie: session=evil',
      'abc\rdef',
      'abc\u0000def',
      'abc\tdef',
      'abc def',
      '"quoted"',
      '<script>alert(1)</script>',
      'a;b=c',
      'a,b',
      'caf\u00e9',
      '\u202eevil',
      'x'.repeat(129),
      '',
      ['first', 'second'],
    ];
    for (const requestId of unsafe) {
      const { response, sent } = await chatWithRequestId(requestId);
      const label = JSON.stringify(requestId);
      assert.equal(response.statusCode, 200, `${label}: ${response.body.slice(0, 200)}`);
      const echoed = String(response.headers['x-request-id']);
      assert.match(echoed, GENERATED_ID, label);
      assert.equal(response.headers['x-injected'], undefined, label);
      assert.equal(response.headers['set-cookie'], undefined, label);
      assert.equal(sent.length, 1, label);
      assert.equal(sent[0]!.headers['x-global-transaction-id'], echoed, label);
      assert.equal(sent[0]!.headers['x-injected'], undefined, label);
    }
  });

  test('a plain x-request-id is echoed and forwarded unchanged (the check above can tell)', async () => {
    for (const requestId of ['trace-123', 'A.b_c:d-9', 'x'.repeat(128)]) {
      const { response, sent } = await chatWithRequestId(requestId);
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['x-request-id'], requestId);
      assert.equal(sent[0]!.headers['x-global-transaction-id'], requestId);
    }
  });

  test('the same holds over a real socket, on errors too', async () => {
    const { port } = new URL(gateway.url);
    const cases = [
      { id: 'has space', status: 401, path: '/v1/chat/completions', key: false },
      { id: 'semi;colon', status: 404, path: '/v1/nowhere', key: true },
      { id: 'x'.repeat(300), status: 200, path: '/v1/chat/completions', key: true },
    ];
    for (const entry of cases) {
      const before = inference(gateway).length;
      const answer = await new Promise<{ status: number; requestId: string | undefined; body: string }>(
        (resolve, reject) => {
          const outgoing = httpRequest(
            {
              host: '127.0.0.1',
              port,
              path: entry.path,
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                'x-request-id': entry.id,
                ...(entry.key && { authorization: `Bearer ${GATEWAY_KEY}` }),
              },
            },
            (incoming) => {
              let body = '';
              incoming.on('data', (chunk: Buffer) => (body += chunk.toString()));
              incoming.on('end', () =>
                resolve({
                  status: incoming.statusCode ?? 0,
                  requestId: incoming.headers['x-request-id'] as string | undefined,
                  body,
                }),
              );
            },
          );
          outgoing.on('error', reject);
          outgoing.end(JSON.stringify(hello));
        },
      );
      assert.equal(answer.status, entry.status, answer.body.slice(0, 200));
      assert.match(answer.requestId ?? '', GENERATED_ID);
      const sent = inference(gateway).slice(before);
      for (const recorded of sent)
        assert.equal(recorded.headers['x-global-transaction-id'], answer.requestId);
    }
  });

  test('client credentials and headers are not forwarded; upstream headers carry no CR/LF', async () => {
    const before = inference(gateway).length;
    const response = await gateway.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: {
        authorization: `Bearer ${GATEWAY_KEY}`,
        'api-key': GATEWAY_KEY,
        cookie: 'session=client',
        'x-forwarded-host': 'evil.example',
        'x-title': 'line1\r\nX-Injected: 1',
        'user-agent': 'client\r\nX-Injected: 1',
      },
      payload: { ...hello, user: 'user\r\nX-Injected: 1' },
    });
    assert.equal(response.statusCode, 200, response.body.slice(0, 200));
    const sent = inference(gateway).slice(before);
    assert.equal(sent.length, 1);
    const headers = sent[0]!.headers;
    assert.match(String(headers.authorization), /^Bearer \S+$/);
    assert.ok(!String(headers.authorization).includes(GATEWAY_KEY));
    assert.ok(!JSON.stringify(headers).includes(IBM_KEY));
    for (const name of ['api-key', 'cookie', 'x-forwarded-host', 'x-title', 'x-injected']) {
      assert.equal(headers[name], undefined, name);
    }
    assert.ok(!String(headers['user-agent']).includes('client'));
    assertOnlyExpectedUpstreamCalls(gateway, true);
  });
});
