// A new API surface is a folder plus one registration: its routes get every hook of the front door,
// its errors are rendered in its own envelope (the policy's status, kind, code and headers), and its
// streams carry its own framing (`event:` lines here). Checked with a small surface made in the test,
// shaped like the Anthropic Messages API's envelope and the Responses API's framing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { GatewayError } from '../src/server/errors.ts';
import { sendEventStream, streamFailure } from '../src/server/sse.ts';
import { type ErrorRenderer, surfaceRoute } from '../src/server/surface.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const KEY = 'surface-key';

const envelope: ErrorRenderer = {
  errorBody: (error, requestId) => ({
    type: 'error',
    error: { type: error.kind, message: error.message, code: error.code },
    request_id: requestId,
  }),
  schema: Type.Object({ type: Type.Literal('error') }, { additionalProperties: true }),
  // As Anthropic's SDKs expect: an overloaded gateway is 529.
  status: (error) => (error.kind === 'overloaded' ? 529 : error.status),
};

const event = (name: string, data: object) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

interface ToyBody {
  model: string;
  fail?: 'before' | 'during' | 'overloaded';
  stream?: boolean;
}

async function* frames(fail: boolean, request: FastifyRequest): AsyncGenerator<string> {
  try {
    yield event('start', { type: 'start' });
    if (fail) throw new GatewayError(502, 'upstream broke', { code: 'upstream_error' });
    yield event('stop', { type: 'stop' });
  } catch (error) {
    const failure = streamFailure(request, error);
    yield event('error', envelope.errorBody(failure, request.id));
  }
}

describe('an API surface registered in a test', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway({
      env: { API_KEY: KEY },
      extend: (app) =>
        surfaceRoute<ToyBody>(app, {
          path: '/toy',
          summary: 'A test surface',
          tags: ['Test'],
          schema: Type.Object({
            model: Type.String(),
            fail: Type.Optional(
              Type.Union([Type.Literal('before'), Type.Literal('during'), Type.Literal('overloaded')]),
            ),
            stream: Type.Optional(Type.Boolean()),
          }),
          response: { 200: Type.Object({}, { additionalProperties: true }) },
          errors: envelope,
          async handle(request: FastifyRequest<{ Body: ToyBody }>, reply: FastifyReply) {
            if (request.body.fail === 'overloaded') {
              throw new GatewayError(503, 'busy', { kind: 'overloaded', code: 'server_overloaded' });
            }
            if (request.body.fail === 'before') {
              throw new GatewayError(429, 'slow down', {
                kind: 'rate_limit_tokens',
                code: 'rate_limit_exceeded',
                headers: { 'retry-after': '3' },
              });
            }
            if (!request.body.stream) return { ok: true, model: request.body.model };
            return sendEventStream(
              reply,
              frames(request.body.fail === 'during', request),
              event('ping', { type: 'ping' }),
              { keepAliveMs: 15_000, stallMs: 60_000, opened: () => {} },
              request.gateway,
            );
          },
        }),
    });
  });
  after(() => gateway.close());

  const post = (payload: unknown, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }) =>
    gateway.inject({ method: 'POST', url: '/v1/toy', headers, payload: payload as object });

  test('its route is served at /v1<path> and <path>, behind the gateway key and the request id', async () => {
    const ok = await post({ model: 'm' });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { ok: true, model: 'm' });
    assert.ok(ok.headers['x-request-id']);
    const bare = await gateway.inject({
      method: 'POST',
      url: '/toy',
      headers: { authorization: `Bearer ${KEY}` },
      payload: { model: 'm' },
    });
    assert.equal(bare.statusCode, 200);
    const noKey = await post({ model: 'm' }, {});
    assert.equal(noKey.statusCode, 401);
    assert.deepEqual(noKey.json().error.type, 'authentication');
    assert.equal(noKey.json().request_id, noKey.headers['x-request-id']);
  });

  test("the front door's refusals and the route's own errors come in the surface's envelope", async () => {
    const invalid = await post({ model: 7 });
    assert.equal(invalid.statusCode, 400);
    assert.equal(invalid.json().type, 'error');
    assert.equal(invalid.json().error.type, 'invalid_request');
    assert.equal(invalid.json().error.code, 'invalid_value');
    const limited = await post({ model: 'm', fail: 'before' });
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.headers['retry-after'], '3');
    assert.deepEqual(limited.json().error, {
      type: 'rate_limit_tokens',
      message: 'slow down',
      code: 'rate_limit_exceeded',
    });
    const overloaded = await post({ model: 'm', fail: 'overloaded' });
    assert.equal(overloaded.statusCode, 529, 'the surface may choose the status its clients expect');
    assert.equal(overloaded.json().error.type, 'overloaded');
    // Other surfaces keep theirs: an unknown URL and the OpenAI routes answer in OpenAI's shape.
    const openai = await gateway.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${KEY}` },
      payload: {},
    });
    assert.equal(openai.json().error.type, 'invalid_request_error');
  });

  test("streams carry the surface's framing, a failure after the first byte included", async () => {
    const streamed = await post({ model: 'm', stream: true });
    assert.equal(streamed.statusCode, 200);
    assert.match(String(streamed.headers['content-type']), /^text\/event-stream/);
    assert.equal(streamed.body, event('start', { type: 'start' }) + event('stop', { type: 'stop' }));
    const failed = await post({ model: 'm', stream: true, fail: 'during' });
    assert.equal(failed.statusCode, 200);
    const [first, second] = failed.body.split('\n\n');
    assert.equal(`${first}\n\n`, event('start', { type: 'start' }));
    assert.match(second ?? '', /^event: error\ndata: \{"type":"error","error":\{"type":"upstream"/);
  });

  test('the OpenAPI document lists the route with its tag and the surface error schema', async () => {
    const document = (await gateway.inject({ url: '/docs/json' })).json();
    const operation = document.paths['/v1/toy'].post;
    assert.deepEqual(operation.tags, ['Test']);
    assert.ok(operation.responses.default);
    assert.equal(document.paths['/toy'], undefined);
  });
});
