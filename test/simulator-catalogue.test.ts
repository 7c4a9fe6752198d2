// The simulator's model table and GET /ml/v1/foundation_model_specs (docs/watsonx-api.md §7, sample #12).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SIMULATED_MODELS, startSimulator, type Simulator } from '../src/simulator/index.ts';
import { accessToken } from './helpers/simulator.ts';

const VERSION = '2025-10-15';
const PROJECT = '0b6d9c1e-1111-2222-3333-444455556666';
const SPECS = '/ml/v1/foundation_model_specs';
const ALL_IDS = SIMULATED_MODELS.map((model) => model.model_id);

function specs(simulator: Simulator, query: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${simulator.url}${SPECS}?${query}`, { headers });
}

async function page(simulator: Simulator, query: string): Promise<any> {
  const response = await specs(simulator, query);
  assert.equal(response.status, 200);
  return response.json();
}

async function ids(simulator: Simulator, filters: string): Promise<string[]> {
  const body = await page(simulator, `version=${VERSION}&filters=${encodeURIComponent(filters)}`);
  assert.equal(body.total_count, body.resources.length);
  return body.resources.map((resource: any) => resource.model_id);
}

async function expectError(response: Response, status: number, code: string): Promise<any> {
  assert.equal(response.status, status);
  const body = (await response.json()) as any;
  assert.equal(body.status_code, status);
  assert.equal(body.errors[0].code, code);
  return body;
}

/** Follows next.href from the first page; returns every page. */
async function allPages(simulator: Simulator, query: string): Promise<any[]> {
  const pages: any[] = [await page(simulator, query)];
  while (pages.at(-1).next) {
    const response = await fetch(pages.at(-1).next.href);
    assert.equal(response.status, 200);
    pages.push(await response.json());
    assert.ok(pages.length < 50, 'pagination does not end');
  }
  return pages;
}

describe('simulator: model table', () => {
  it('has the chat, embedding, rerank, deprecated and withdrawn models the gateway needs', () => {
    assert.ok(SIMULATED_MODELS.length >= 13);
    assert.equal(new Set(ALL_IDS).size, ALL_IDS.length);
    for (const id of [
      'ibm/granite-4-h-small',
      'ibm/granite-3-3-8b-instruct',
      'ibm/granite-3-8b-instruct',
      'meta-llama/llama-3-2-11b-vision-instruct',
      'mistralai/mistral-large',
      'openai/gpt-oss-120b',
      'ibm/granite-embedding-278m-multilingual',
      'ibm/slate-30m-english-rtrvr-v2',
      'intfloat/multilingual-e5-large',
      'cross-encoder/ms-marco-minilm-l-12-v2',
      'ibm/granite-13b-instruct-v2',
      'ibm/granite-20b-multilingual',
    ]) {
      assert.ok(ALL_IDS.includes(id), id);
    }
  });
});

describe('simulator: foundation_model_specs', () => {
  let simulator: Simulator;
  before(async () => {
    simulator = await startSimulator();
  });
  after(() => simulator.close());

  it('answers one page of every model in the sample #12 envelope, without a token', async () => {
    const body = await page(simulator, `version=${VERSION}`);
    assert.deepEqual(Object.keys(body), ['total_count', 'limit', 'first', 'resources']);
    assert.equal(body.total_count, SIMULATED_MODELS.length);
    assert.equal(body.limit, 100);
    assert.deepEqual(body.first, { href: `${simulator.url}${SPECS}?version=${VERSION}` });
    assert.deepEqual(
      body.resources.map((resource: any) => resource.model_id),
      ALL_IDS,
    );
    const recorded = simulator.requests.at(-1)!;
    assert.equal(recorded.method, 'GET');
    assert.equal(recorded.path, SPECS);
    assert.deepEqual(recorded.query, { version: VERSION });
    assert.equal(recorded.headers.authorization, undefined);
  });

  it('describes chat, vision, embedding, rerank, deprecated and withdrawn models', async () => {
    const resources = new Map<string, any>(
      (await page(simulator, `version=${VERSION}`)).resources.map((resource: any) => [
        resource.model_id,
        resource,
      ]),
    );
    for (const resource of resources.values()) {
      assert.equal(typeof resource.provider, 'string');
      assert.equal(typeof resource.source, 'string');
      assert.equal(resource.label, resource.model_id.split('/')[1]);
      assert.equal(resource.lifecycle[0].id, 'available');
      assert.match(resource.lifecycle[0].start_date, /^\d{4}-\d{2}-\d{2}$/);
    }
    const granite = resources.get('ibm/granite-4-h-small');
    assert.equal(granite.provider, 'IBM');
    assert.deepEqual(granite.functions, [{ id: 'text_chat' }, { id: 'text_generation' }]);
    assert.ok(granite.tasks.some((task: any) => task.id === 'function_calling'));
    assert.ok(granite.task_ids.includes('function_calling'));
    assert.deepEqual(granite.model_limits, { max_sequence_length: 131072, max_output_tokens: 16384 });
    assert.deepEqual(granite.versions, [
      { version: '4.0.0', available_date: granite.lifecycle[0].start_date },
    ]);
    const vision = resources.get('meta-llama/llama-3-2-11b-vision-instruct');
    assert.ok(vision.functions.some((fn: any) => fn.id === 'image_chat'));
    assert.equal(vision.provider, 'Meta');
    assert.deepEqual(resources.get('ibm/granite-embedding-278m-multilingual').model_limits, {
      max_sequence_length: 512,
      embedding_dimension: 768,
    });
    assert.deepEqual(resources.get('ibm/slate-30m-english-rtrvr-v2').model_limits, {
      max_sequence_length: 512,
      embedding_dimension: 384,
    });
    const e5 = resources.get('intfloat/multilingual-e5-large');
    assert.deepEqual(e5.functions, [{ id: 'embedding' }]);
    assert.deepEqual(e5.model_limits, { max_sequence_length: 512, embedding_dimension: 1024 });
    assert.equal('tasks' in e5, false);
    const rerank = resources.get('cross-encoder/ms-marco-minilm-l-12-v2');
    assert.deepEqual(rerank.functions, [{ id: 'rerank' }]);
    assert.equal('model_limits' in rerank, false);
    const deprecated = resources.get('ibm/granite-13b-instruct-v2');
    assert.deepEqual(
      deprecated.lifecycle.map((entry: any) => entry.id),
      ['available', 'deprecated'],
    );
    assert.deepEqual(deprecated.lifecycle[1], {
      id: 'deprecated',
      start_date: '2025-06-18',
      alternative_model_ids: ['ibm/granite-3-3-8b-instruct'],
    });
    assert.equal(resources.get('ibm/granite-20b-multilingual').lifecycle.at(-1).id, 'withdrawn');
    // gpt-oss answers carry no model_version, so its catalogue entry has no versions either
    assert.equal('versions' in resources.get('openai/gpt-oss-120b'), false);
  });

  it('accepts a valid, a garbage or an expired token alike, but requires version', async () => {
    const token = await accessToken(simulator);
    for (const authorization of [`Bearer ${token}`, 'Bearer garbage', 'Basic xyz']) {
      const response = await specs(simulator, `version=${VERSION}`, { authorization });
      assert.equal(response.status, 200, authorization);
      assert.equal(((await response.json()) as any).total_count, SIMULATED_MODELS.length);
    }
    simulator.expireTokens();
    assert.equal(
      (await specs(simulator, `version=${VERSION}`, { authorization: `Bearer ${token}` })).status,
      200,
    );
    await expectError(await specs(simulator, ''), 400, 'invalid_input_argument');
    await expectError(await specs(simulator, 'version=yesterday'), 400, 'invalid_input_argument');
  });

  it('honours limit (1..200) and refuses bad limits and start tokens', async () => {
    const pages = await allPages(simulator, `version=${VERSION}&limit=4`);
    assert.equal(pages.length, Math.ceil(SIMULATED_MODELS.length / 4));
    assert.ok(pages.every((item) => item.limit === 4 && item.resources.length <= 4));
    assert.deepEqual(
      pages.flatMap((item) => item.resources.map((resource: any) => resource.model_id)),
      ALL_IDS,
    );
    for (const limit of ['0', '201', 'ten', '-1']) {
      await expectError(
        await specs(simulator, `version=${VERSION}&limit=${limit}`),
        400,
        'invalid_input_argument',
      );
    }
    // 200 is allowed, but the page size stays within modelPageSize (default 100)
    assert.equal((await page(simulator, `version=${VERSION}&limit=200`)).limit, 100);
    await expectError(
      await specs(simulator, `version=${VERSION}&start=not-a-token`),
      400,
      'invalid_input_argument',
    );
  });

  it('filters by function, model id, task and lifecycle, with :and / :or and negation', async () => {
    const byFunction = (fn: string) =>
      SIMULATED_MODELS.filter((model) => (model.functions as readonly string[]).includes(fn)).map(
        (model) => model.model_id,
      );
    assert.deepEqual(await ids(simulator, 'function_embedding'), byFunction('embedding'));
    assert.equal((await ids(simulator, 'function_embedding')).length, 4);
    assert.deepEqual(await ids(simulator, 'function_rerank'), ['cross-encoder/ms-marco-minilm-l-12-v2']);
    assert.deepEqual(await ids(simulator, 'modelid_ibm/granite-4-h-small'), ['ibm/granite-4-h-small']);
    assert.deepEqual(await ids(simulator, 'modelid_ibm/granite-4-h-small,modelid_openai/gpt-oss-120b:or'), [
      'ibm/granite-4-h-small',
      'openai/gpt-oss-120b',
    ]);
    assert.deepEqual(
      await ids(simulator, 'modelid_ibm/granite-4-h-small,modelid_openai/gpt-oss-120b:and'),
      [],
    );
    const chatNotWithdrawn = await ids(simulator, 'function_text_chat,!lifecycle_withdrawn:and');
    assert.deepEqual(
      chatNotWithdrawn,
      byFunction('text_chat').filter((id) => id !== 'ibm/granite-20b-multilingual'),
    );
    assert.ok(chatNotWithdrawn.includes('ibm/granite-13b-instruct-v2'));
    // no operator: and
    assert.deepEqual(await ids(simulator, 'function_text_chat,function_image_chat'), [
      'meta-llama/llama-3-2-11b-vision-instruct',
    ]);
    assert.deepEqual(await ids(simulator, 'function_rerank,function_embedding:or'), [
      ...byFunction('embedding'),
      'cross-encoder/ms-marco-minilm-l-12-v2',
    ]);
    assert.deepEqual(await ids(simulator, 'lifecycle_deprecated'), ['ibm/granite-13b-instruct-v2']);
    assert.deepEqual(await ids(simulator, 'lifecycle_withdrawn'), ['ibm/granite-20b-multilingual']);
    const tools = await ids(simulator, 'task_function_calling');
    assert.ok(tools.includes('ibm/granite-4-h-small'));
    assert.ok(!tools.includes('ibm/granite-13b-instruct-v2'));
    assert.deepEqual(await ids(simulator, 'provider_Meta,function_image_chat:and'), [
      'meta-llama/llama-3-2-11b-vision-instruct',
    ]);
    await expectError(
      await specs(simulator, `version=${VERSION}&filters=colour_blue`),
      400,
      'invalid_input_argument',
    );
  });
});

describe('simulator: foundation_model_specs in several pages', () => {
  let simulator: Simulator;
  before(async () => {
    simulator = await startSimulator({ modelPageSize: 5 });
  });
  after(() => simulator.close());

  it('serves every model exactly once over at least 3 pages, following next.href', async () => {
    const before = simulator.requests.length;
    const pages = await allPages(simulator, `version=${VERSION}`);
    assert.ok(pages.length >= 3, `${pages.length} pages`);
    assert.equal(simulator.requests.length - before, pages.length);
    const seen = pages.flatMap((item) => item.resources.map((resource: any) => resource.model_id));
    assert.deepEqual(seen, ALL_IDS);
    for (const [index, item] of pages.entries()) {
      assert.equal(item.total_count, SIMULATED_MODELS.length);
      assert.equal(item.limit, 5);
      assert.deepEqual(item.first, { href: `${simulator.url}${SPECS}?version=${VERSION}` });
      assert.equal(item.resources.length, index < pages.length - 1 ? 5 : SIMULATED_MODELS.length - 5 * index);
      if (item.next) {
        const next = new URL(item.next.href);
        assert.equal(next.origin + next.pathname, `${simulator.url}${SPECS}`);
        assert.equal(next.searchParams.get('version'), VERSION);
        assert.ok(next.searchParams.get('start'));
      }
    }
    assert.equal(pages.at(-1).next, undefined);
    const recorded = simulator.requests.slice(before);
    assert.ok(recorded.slice(1).every((request) => request.query.start !== undefined));
  });

  it('caps a larger limit at modelPageSize and keeps the filters on the next pages', async () => {
    const pages = await allPages(simulator, `version=${VERSION}&limit=50&filters=function_text_chat`);
    const chat = SIMULATED_MODELS.filter((model) => model.functions.includes('text_chat')).map(
      (model) => model.model_id,
    );
    assert.equal(pages.length, Math.ceil(chat.length / 5));
    assert.ok(pages.length >= 2);
    assert.deepEqual(
      pages.flatMap((item) => item.resources.map((resource: any) => resource.model_id)),
      chat,
    );
    assert.ok(pages.every((item) => item.total_count === chat.length && item.limit === 5));
    assert.ok(new URL(pages[0].next.href).searchParams.get('filters') === 'function_text_chat');
  });
});

describe('simulator: lifecycle at inference time', () => {
  let simulator: Simulator;
  let token: string;
  before(async () => {
    simulator = await startSimulator();
    token = await accessToken(simulator);
  });
  after(() => simulator.close());

  function chat(modelId: string, stream = false): Promise<Response> {
    return fetch(`${simulator.url}/ml/v1/text/${stream ? 'chat_stream' : 'chat'}?version=${VERSION}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        model_id: modelId,
        project_id: PROJECT,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
  }

  it('answers 404 model_not_supported for a withdrawn model on every inference route', async () => {
    const chatError = await expectError(
      await chat('ibm/granite-20b-multilingual'),
      404,
      'model_not_supported',
    );
    assert.match(chatError.errors[0].message, /ibm\/granite-20b-multilingual/);
    await expectError(await chat('ibm/granite-20b-multilingual', true), 404, 'model_not_supported');
    const generation = await fetch(`${simulator.url}/ml/v1/text/generation?version=${VERSION}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ model_id: 'ibm/granite-20b-multilingual', project_id: PROJECT, input: 'hi' }),
    });
    await expectError(generation, 404, 'model_not_supported');
  });

  it('answers a deprecated model with a deprecation_warning (chat and chat stream)', async () => {
    const response = await chat('ibm/granite-13b-instruct-v2');
    assert.equal(response.status, 200);
    const body = (await response.json()) as any;
    assert.deepEqual(
      body.system.warnings.map((warning: any) => warning.id),
      ['deprecation_warning'],
    );
    assert.match(body.system.warnings[0].message, /deprecated state from 2025-06-18/);
    assert.match(body.system.warnings[0].message, /ibm\/granite-3-3-8b-instruct/);
    const streamed = await (await chat('ibm/granite-13b-instruct-v2', true)).text();
    const first = JSON.parse(/^data: (.*)$/m.exec(streamed)![1]!);
    assert.equal(first.system.warnings[0].id, 'deprecation_warning');
    const current = (await (await chat('ibm/granite-3-3-8b-instruct')).json()) as any;
    assert.equal(current.system, undefined);
  });

  it('refuses chat with a model that has no text_chat function', async () => {
    for (const modelId of ['ibm/slate-30m-english-rtrvr-v2', 'cross-encoder/ms-marco-minilm-l-12-v2']) {
      const error = await expectError(await chat(modelId), 400, 'model_no_support_for_function');
      assert.match(error.errors[0].message, /text_chat/);
    }
  });
});
