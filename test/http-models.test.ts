// /v1/models and /v1/models/{id} against the simulator's paginated catalogue; model checks before requests.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

let gateway: TestGateway;

before(async () => {
  gateway = await startTestGateway({
    listen: true,
    simulator: { modelPageSize: 4 },
    env: {
      MODEL_MAP_GPT_4O: 'ibm/granite-4-h-small',
      MODEL_MAP_EMBED: 'ibm/granite-embedding-278m-multilingual',
    },
  });
});
after(() => gateway.close());

const catalogueCalls = () =>
  gateway.simulator.requests.filter((request) => request.path === '/ml/v1/foundation_model_specs');

describe('/v1/models', () => {
  test('55: the list has every available model from every page, aliases, and no withdrawn model', async () => {
    const response = await gateway.inject({ url: '/v1/models' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    const body = response.json();
    assert.equal(body.object, 'list');
    const ids: string[] = body.data.map((model: any) => model.id);
    for (const id of [
      'ibm/granite-4-h-small',
      'openai/gpt-oss-120b',
      'ibm/slate-30m-english-rtrvr-v2',
      'cross-encoder/ms-marco-minilm-l-12-v2',
      'ibm/granite-13b-instruct-v2',
    ]) {
      assert.ok(ids.includes(id), id);
    }
    assert.equal(ids.includes('ibm/granite-20b-multilingual'), false, 'withdrawn models are left out');
    assert.ok(catalogueCalls().length >= 3, 'all pages were read');
    for (const model of body.data) {
      assert.equal(model.object, 'model');
      assert.ok(Number.isInteger(model.created));
      assert.equal(typeof model.owned_by, 'string');
    }
    const alias = body.data.find((model: any) => model.id === 'gpt-4o');
    assert.equal(alias.watsonx.alias_of, 'ibm/granite-4-h-small');
    assert.ok(body.data.find((model: any) => model.id === 'embed'));
  });

  test('capabilities, limits and lifecycle are shown under watsonx', async () => {
    const data = (await gateway.inject({ url: '/v1/models' })).json().data as any[];
    const byId = new Map(data.map((model) => [model.id, model]));
    const vision = byId.get('meta-llama/llama-3-2-11b-vision-instruct').watsonx;
    assert.equal(vision.vision, true);
    assert.equal(vision.tool_calling, true);
    assert.ok(vision.context_length > 0);
    const embedding = byId.get('ibm/slate-30m-english-rtrvr-v2').watsonx;
    assert.equal(embedding.embedding_dimension, 384);
    assert.equal(embedding.max_output_tokens, null);
    assert.ok(embedding.functions.includes('embedding'));
    const rerank = byId.get('cross-encoder/ms-marco-minilm-l-12-v2').watsonx;
    assert.equal(rerank.context_length, null, 'a model without model_limits does not break the list');
    const deprecated = byId.get('ibm/granite-13b-instruct-v2').watsonx.lifecycle;
    assert.equal(deprecated.status, 'deprecated');
    assert.deepEqual(deprecated.alternatives, ['ibm/granite-3-3-8b-instruct']);
    assert.equal(byId.get('ibm/granite-4-h-small').watsonx.lifecycle.status, 'available');
  });

  test('56: ids with slashes work raw and %2F-encoded; the SDK retrieves them', async () => {
    const raw = (await gateway.inject({ url: '/v1/models/ibm/granite-4-h-small' })).json();
    const encoded = (await gateway.inject({ url: '/v1/models/ibm%2Fgranite-4-h-small' })).json();
    assert.deepEqual(raw, encoded);
    assert.equal(raw.id, 'ibm/granite-4-h-small');
    const client = new OpenAI({ apiKey: 'x', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    const model = await client.models.retrieve('ibm/granite-4-h-small');
    assert.equal(model.id, 'ibm/granite-4-h-small');
    const listed = [];
    for await (const entry of client.models.list()) listed.push(entry.id);
    assert.ok(listed.includes('openai/gpt-oss-120b'));
    const alias = (await gateway.inject({ url: '/v1/models/gpt-4o' })).json();
    assert.equal(alias.id, 'gpt-4o');
    assert.equal(alias.watsonx.model_id, 'ibm/granite-4-h-small');
  });

  test('57: unknown → 404 model_not_found (also withdrawn ones)', async () => {
    for (const url of ['/v1/models/nope', '/v1/models/ibm/granite-20b-multilingual', '/models/acme%2Fx']) {
      const response = await gateway.inject({ url });
      assert.equal(response.statusCode, 404, url);
      assert.equal(response.json().error.code, 'model_not_found');
    }
  });

  test('the catalogue is cached: repeated lists do not refetch it', async () => {
    await gateway.inject({ url: '/v1/models' });
    const before = catalogueCalls().length;
    for (let index = 0; index < 5; index++) await gateway.inject({ url: '/v1/models' });
    assert.equal(catalogueCalls().length, before);
  });
});

describe('model checks before a request', () => {
  test('chat with an embedding model → 400 model_not_supported, no upstream call', async () => {
    const before = gateway.inferenceRequests().length;
    const response = await gateway.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: { model: 'ibm/slate-30m-english-rtrvr-v2', messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(response.statusCode, 400);
    assert.equal(response.json().error.code, 'model_not_supported');
    assert.match(response.json().error.message, /supports embeddings/);
    assert.equal(gateway.inferenceRequests().length, before);
  });

  test('an image to a model without vision → 400 naming the message part, no upstream call', async () => {
    const before = gateway.inferenceRequests().length;
    const response = await gateway.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: {
        model: 'ibm/granite-4-h-small',
        messages: [
          { role: 'system', content: 'x' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'see' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } },
            ],
          },
        ],
      },
    });
    assert.equal(response.statusCode, 400);
    assert.equal(response.json().error.param, 'messages[1].content[1]');
    assert.equal(gateway.inferenceRequests().length, before);
  });

  test('the default output cap is clamped to the model limit', async () => {
    const small = await startTestGateway({ env: { DEFAULT_MAX_TOKENS: '1000000' } });
    try {
      await small.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        payload: { model: 'ibm/granite-4-h-small', messages: [{ role: 'user', content: 'hi' }] },
      });
      const sent = (small.inferenceRequests().at(-1)!.body as any).max_completion_tokens;
      const limit = (await small.inject({ url: '/v1/models/ibm/granite-4-h-small' })).json().watsonx
        .max_output_tokens;
      assert.equal(sent, limit);
    } finally {
      await small.close();
    }
  });

  test('MODEL_VALIDATION=false lets unknown models through to watsonx', async () => {
    const open = await startTestGateway({ env: { MODEL_VALIDATION: 'false' } });
    try {
      const response = await open.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        payload: { model: 'acme/private-deployment', messages: [{ role: 'user', content: 'hi' }] },
      });
      assert.equal(response.statusCode, 404, 'watsonx itself refused it');
      assert.equal(open.inferenceRequests().length, 1);
      assert.equal(
        open.simulator.requests.filter((request) => request.path === '/ml/v1/foundation_model_specs').length,
        0,
      );
    } finally {
      await open.close();
    }
  });
});
