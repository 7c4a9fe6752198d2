// The OpenAPI document (/docs/json) is what a newcomer meets first: every endpoint is in it with
// tags, a 200 schema, an error schema and its security; the example of every POST route (the body
// "Try it out" on /docs starts with) is answered 200 by the gateway on its simulator; and the
// answers match the response schemas the document shows.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
// ajv comes with Fastify (@fastify/ajv-compiler validates the request bodies with it).
import { Ajv } from 'ajv';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const KEY = 'sk-openapi-test';

/** Every endpoint: method, documented path, and whether it needs the gateway key. */
const ENDPOINTS = [
  { method: 'post', path: '/v1/chat/completions', key: true },
  { method: 'post', path: '/v1/completions', key: true },
  { method: 'post', path: '/v1/embeddings', key: true },
  { method: 'post', path: '/v1/responses', key: true },
  { method: 'get', path: '/v1/responses/{response_id}', key: true },
  { method: 'delete', path: '/v1/responses/{response_id}', key: true },
  { method: 'post', path: '/v1/messages', key: true },
  { method: 'post', path: '/v1/messages/count_tokens', key: true },
  { method: 'post', path: '/v1/rerank', key: true },
  { method: 'post', path: '/v2/rerank', key: true },
  { method: 'get', path: '/v1/models', key: true },
  { method: 'get', path: '/v1/models/{model}', key: true },
  { method: 'get', path: '/health', key: false },
  { method: 'get', path: '/ready', key: false },
  { method: 'get', path: '/metrics', key: false },
  { method: 'get', path: '/', key: false },
] as const;

interface Operation {
  summary?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string; required?: boolean; example?: unknown }>;
  requestBody?: { content: Record<string, { schema: object; example?: Record<string, unknown> }> };
  responses: Record<string, { description?: string; content?: Record<string, { schema?: object }> }>;
}

interface OpenAPIDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  tags?: Array<{ name: string }>;
  components: { securitySchemes: Record<string, { type: string; scheme?: string }> };
}

const ajv = new Ajv({ strict: false, allErrors: true });

/** The documented schema of an answer, by status and media type. */
function responseSchema(operation: Operation, status: string, mediaType = 'application/json'): object {
  const schema = operation.responses[status]?.content?.[mediaType]?.schema;
  assert.ok(schema, `no ${status} ${mediaType} schema`);
  return schema;
}

function assertMatches(schema: object, value: unknown, what: string): void {
  const validate = ajv.compile(schema);
  assert.ok(validate(value), `${what}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`);
}

/** What swagger-ui sends for a path: the path parameters' examples, URI-encoded as it does. */
function exampleUrl(path: string, operation: Operation): string {
  return path.replace(/\{(\w+)\}/g, (_text, name: string) => {
    const parameter = operation.parameters?.find((candidate) => candidate.name === name);
    assert.equal(typeof parameter?.example, 'string', `${path}: no example for {${name}}`);
    return encodeURIComponent(String(parameter!.example));
  });
}

describe('the OpenAPI document, with API_KEY and METRICS_REQUIRE_KEY=true', () => {
  let gateway: TestGateway;
  let document: OpenAPIDocument;
  const operation = (method: string, path: string): Operation => {
    const found = document.paths[path]?.[method];
    assert.ok(found, `${method.toUpperCase()} ${path} is not in the document`);
    return found;
  };

  before(async () => {
    gateway = await startTestGateway({ env: { API_KEY: KEY, METRICS_REQUIRE_KEY: 'true' } });
    const response = await gateway.inject({ url: '/docs/json' });
    assert.equal(response.statusCode, 200);
    document = response.json();
  });
  after(() => gateway.close());

  test('/docs (the UI) answers 200 with HTML', async () => {
    const response = await gateway.inject({ url: '/docs' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/html/);
  });

  test('lists every endpoint and nothing else: the bare aliases without /v1 stay hidden', () => {
    assert.match(document.openapi, /^3\.1\./);
    assert.deepEqual(
      Object.keys(document.paths).sort(),
      [...new Set(ENDPOINTS.map((endpoint) => endpoint.path))].sort(),
    );
    for (const endpoint of ENDPOINTS) {
      const methods = ENDPOINTS.filter((other) => other.path === endpoint.path).map((other) => other.method);
      assert.deepEqual(Object.keys(document.paths[endpoint.path]!).sort(), methods.sort(), endpoint.path);
    }
  });

  test('every endpoint has a summary, a declared tag, a 200 schema and the error schema', () => {
    const declared = new Set(document.tags?.map((tag) => tag.name));
    for (const { method, path } of ENDPOINTS) {
      const found = operation(method, path);
      assert.ok(found.summary, `${path}: summary`);
      assert.ok(found.tags?.length, `${path}: tags`);
      for (const tag of found.tags!) assert.ok(declared.has(tag), `${path}: tag ${tag} is not declared`);
      const mediaType = path === '/metrics' ? 'text/plain' : 'application/json';
      assert.ok(responseSchema(found, '200', mediaType), path);
      const error = responseSchema(found, 'default') as { properties?: Record<string, unknown> };
      assert.ok(error.properties?.error, `${path}: the default answer is the error envelope`);
    }
    assert.deepEqual(operation('post', '/v1/chat/completions').tags, ['OpenAI']);
    assert.deepEqual(operation('get', '/health').tags, ['Operations']);
  });

  test('chat and completions document their event stream next to the JSON answer', () => {
    for (const path of ['/v1/chat/completions', '/v1/completions']) {
      const answer = operation('post', path).responses['200']!;
      assert.deepEqual(Object.keys(answer.content!).sort(), ['application/json', 'text/event-stream'], path);
      assert.match(answer.description ?? '', /stream: true/);
    }
  });

  test('the protected routes declare the bearer key (Authorize works), and the open ones do not', async () => {
    assert.deepEqual(document.components.securitySchemes.bearer, {
      type: 'http',
      scheme: 'bearer',
      description: 'The gateway key (API_KEY); any value when unset.',
    });
    for (const { method, path, key } of ENDPOINTS) {
      const found = operation(method, path);
      const protectedRoute = key || path === '/metrics';
      assert.deepEqual(found.security, protectedRoute ? [{ bearer: [] }] : undefined, path);
      // What the document says is what the gateway does.
      const response = await gateway.inject({
        method: method.toUpperCase() as 'GET' | 'POST' | 'DELETE',
        url: exampleUrl(path, found),
        ...(method === 'post' && { payload: {} }),
      });
      if (protectedRoute) assert.equal(response.statusCode, 401, path);
      else assert.notEqual(response.statusCode, 401, path);
    }
  });

  test('the model-by-id parameter is `model`, and its example is served (as swagger-ui encodes it)', async () => {
    const found = operation('get', '/v1/models/{model}');
    assert.deepEqual(
      found.parameters?.map(({ name, in: where, required }) => ({ name, in: where, required })),
      [{ name: 'model', in: 'path', required: true }],
    );
    const url = exampleUrl('/v1/models/{model}', found);
    assert.equal(url, '/v1/models/ibm%2Fgranite-4-h-small');
    const response = await gateway.inject({ url, headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().id, 'ibm/granite-4-h-small');
    assertMatches(responseSchema(found, '200'), response.json(), url);
  });

  test('each POST example ("Try it out" on /docs) is a real model, not streamed, and answered 200', async () => {
    const models = await gateway.inject({ url: '/v1/models', headers: { authorization: `Bearer ${KEY}` } });
    const functions = new Map<string, string[]>(
      models
        .json()
        .data.map((model: { id: string; watsonx: { functions: string[] } }) => [
          model.id,
          model.watsonx.functions,
        ]),
    );
    const needs: Record<string, string> = {
      '/v1/chat/completions': 'text_chat',
      '/v1/completions': 'text_generation',
      '/v1/embeddings': 'embedding',
      '/v1/responses': 'text_chat',
      '/v1/messages': 'text_chat',
      '/v1/messages/count_tokens': 'text_chat',
      '/v1/rerank': 'rerank',
      '/v2/rerank': 'rerank',
    };
    for (const { method, path } of ENDPOINTS.filter((endpoint) => endpoint.method === 'post')) {
      const found = operation(method, path);
      const media = found.requestBody?.content['application/json'];
      // swagger-ui fills the body with the media type's example.
      const example = media?.example;
      assert.ok(example, `${path}: no example body`);
      assert.ok(functions.get(String(example.model))?.includes(needs[path]!), `${path}: ${example.model}`);
      if (!['/v1/embeddings', '/v1/messages/count_tokens', '/v1/rerank', '/v2/rerank'].includes(path)) {
        assert.equal(example.stream, false, path);
      }
      if (path === '/v1/chat/completions') {
        assert.deepEqual(
          (example.messages as Array<{ role: string }>).map((message) => message.role),
          ['user'],
        );
      }
      assertMatches(media!.schema, example, `${path}: the example fits the request schema`);

      const response = await gateway.inject({
        method: 'POST',
        url: path,
        headers: { authorization: `Bearer ${KEY}` },
        payload: example,
      });
      assert.equal(response.statusCode, 200, `${path}: ${response.body}`);
      assert.match(String(response.headers['content-type']), /^application\/json/);
      assertMatches(responseSchema(found, '200'), response.json(), `${path}: the answer fits its schema`);
    }
  });

  test('the GET answers fit their documented schemas, errors the error envelope', async () => {
    const authorization = `Bearer ${KEY}`;
    for (const path of ['/v1/models', '/health', '/ready', '/']) {
      const response = await gateway.inject({ url: path, headers: { authorization } });
      assert.equal(response.statusCode, 200, path);
      assertMatches(responseSchema(operation('get', path), '200'), response.json(), path);
    }
    const metrics = await gateway.inject({ url: '/metrics', headers: { authorization } });
    assert.equal(metrics.statusCode, 200);
    assert.match(String(metrics.headers['content-type']), /^text\/plain/);
    const missing = await gateway.inject({ url: '/v1/models/nobody%2Fnothing', headers: { authorization } });
    assert.equal(missing.statusCode, 404);
    assertMatches(responseSchema(operation('get', '/v1/models/{model}'), 'default'), missing.json(), '404');
  });
});

describe('the OpenAPI document without API_KEY', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway();
  });
  after(() => gateway.close());

  test('/metrics declares no security when METRICS_REQUIRE_KEY is false', async () => {
    const document: OpenAPIDocument = (await gateway.inject({ url: '/docs/json' })).json();
    assert.equal(document.paths['/metrics']?.get?.security, undefined);
    assert.deepEqual(document.paths['/v1/models']?.get?.security, [{ bearer: [] }]);
  });

  test('the examples are answered 200 without any key', async () => {
    const document: OpenAPIDocument = (await gateway.inject({ url: '/docs/json' })).json();
    for (const path of ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/responses']) {
      const example = document.paths[path]?.post?.requestBody?.content['application/json']?.example;
      const response = await gateway.inject({ method: 'POST', url: path, payload: example });
      assert.equal(response.statusCode, 200, `${path}: ${response.body}`);
    }
  });
});
