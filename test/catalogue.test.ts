// ModelCatalogue with a fake client and a fake clock: pages, TTL, single-flight, stale-while-refresh,
// miss refresh at most once a minute, withdrawn models, the require() checks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ModelCatalogue, toCatalogueModel } from '../src/models/catalogue.ts';
import { GatewayError } from '../src/server/errors.ts';
import type { WatsonxFoundationModel, WatsonxFoundationModelsPage } from '../src/watsonx/types.ts';

const chat = (id: string): WatsonxFoundationModel => ({
  model_id: id,
  provider: 'IBM',
  functions: [{ id: 'text_chat' }, { id: 'text_generation' }],
  lifecycle: [{ id: 'available', start_date: '2025-10-02' }],
});
const embedding: WatsonxFoundationModel = {
  model_id: 'ibm/slate-30m-english-rtrvr-v2',
  provider: 'IBM',
  functions: [{ id: 'embedding' }],
  model_limits: { max_sequence_length: 512, embedding_dimension: 384 },
  lifecycle: [{ id: 'available', start_date: '2024-05-01' }],
};

function fakeClient(pages: WatsonxFoundationModel[][]) {
  const calls: Array<string | undefined> = [];
  let pending: Array<() => void> = [];
  let hold = false;
  const client = {
    calls,
    hold(value: boolean) {
      hold = value;
      if (!value) {
        for (const release of pending) release();
        pending = [];
      }
    },
    pages,
    async listModels(options: { start?: string } = {}): Promise<WatsonxFoundationModelsPage> {
      calls.push(options.start);
      if (hold) await new Promise<void>((resolve) => pending.push(resolve));
      const index = options.start ? Number(options.start) : 0;
      const next =
        index + 1 < client.pages.length
          ? { href: `https://x/ml/v1/foundation_model_specs?start=${index + 1}` }
          : undefined;
      return { total_count: 0, resources: client.pages[index], ...(next && { next }) };
    },
  };
  return client;
}

test('all pages are read; withdrawn models are left out', async () => {
  const withdrawn: WatsonxFoundationModel = {
    ...chat('old/model'),
    lifecycle: [
      { id: 'available', start_date: '2020-01-01' },
      { id: 'withdrawn', start_date: '2021-01-01' },
    ],
  };
  const client = fakeClient([[chat('a/one'), chat('a/two')], [embedding, withdrawn], [chat('a/three')]]);
  const catalogue = new ModelCatalogue({ client, ttlMs: 600_000 });
  const ids = (await catalogue.list()).map((model) => model.id);
  assert.deepEqual(ids, ['a/one', 'a/two', 'ibm/slate-30m-english-rtrvr-v2', 'a/three']);
  assert.deepEqual(client.calls, [undefined, '1', '2']);
  assert.equal(await catalogue.get('old/model'), undefined);
});

test('concurrent first calls share one fetch; within the TTL nothing is fetched again', async () => {
  const client = fakeClient([[chat('a/one')]]);
  let now = 0;
  const catalogue = new ModelCatalogue({ client, ttlMs: 1000, now: () => now });
  client.hold(true);
  const waiting = Promise.all(Array.from({ length: 10 }, () => catalogue.list()));
  client.hold(false);
  await waiting;
  assert.equal(client.calls.length, 1);
  now = 999;
  await catalogue.list();
  assert.equal(client.calls.length, 1);
});

test('past the TTL the stale list is served at once while one refresh runs', async () => {
  const client = fakeClient([[chat('a/one')]]);
  let now = 0;
  const catalogue = new ModelCatalogue({ client, ttlMs: 1000, now: () => now });
  await catalogue.list();
  client.pages = [[chat('a/one'), chat('a/new')]];
  now = 5000;
  client.hold(true);
  const stale = await Promise.all([catalogue.list(), catalogue.list()]);
  assert.deepEqual(
    stale[0].map((model) => model.id),
    ['a/one'],
  );
  assert.equal(client.calls.length, 2, 'one background refresh for both callers');
  client.hold(false);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    (await catalogue.list()).map((model) => model.id),
    ['a/one', 'a/new'],
  );
});

test('an unknown model triggers at most one refresh per minute before it is refused', async () => {
  const client = fakeClient([[chat('a/one')]]);
  let now = 0;
  const catalogue = new ModelCatalogue({ client, ttlMs: 600_000, now: () => now });
  await catalogue.list();
  assert.equal(await catalogue.get('a/late'), undefined);
  assert.equal(client.calls.length, 2);
  now = 30_000;
  assert.equal(await catalogue.get('a/late'), undefined);
  assert.equal(client.calls.length, 2, 'no second refresh within a minute');
  client.pages = [[chat('a/one'), chat('a/late')]];
  now = 61_000;
  assert.equal((await catalogue.get('a/late'))?.id, 'a/late');
  assert.equal(client.calls.length, 3);
});

test('require(): unknown → 404 model_not_found; wrong function → 400 naming what the model can do', async () => {
  const catalogue = new ModelCatalogue({ client: fakeClient([[chat('a/one'), embedding]]), ttlMs: 600_000 });
  await assert.rejects(catalogue.require('a/none', 'text_chat'), (error) => {
    assert.ok(error instanceof GatewayError);
    assert.deepEqual([error.status, error.code, error.param], [404, 'model_not_found', 'model']);
    return true;
  });
  await assert.rejects(catalogue.require('ibm/slate-30m-english-rtrvr-v2', 'text_chat'), (error) => {
    assert.ok(error instanceof GatewayError);
    assert.equal(error.status, 400);
    assert.match(error.message, /does not support chat.*supports embeddings/);
    return true;
  });
  await assert.rejects(catalogue.require('a/one', 'embedding'), /does not support embeddings/);
  assert.equal((await catalogue.require('a/one', 'text_chat'))?.id, 'a/one');
});

test('require() lets requests through when the catalogue cannot be read', async () => {
  const errors: unknown[] = [];
  const catalogue = new ModelCatalogue({
    client: { listModels: async () => Promise.reject(new Error('down')) },
    ttlMs: 1000,
    onError: (error) => errors.push(error),
  });
  assert.equal(await catalogue.require('a/any', 'text_chat'), undefined);
  assert.equal(errors.length, 1);
});

test('toCatalogueModel: limits may be missing; lifecycle and dates are read', () => {
  const rerank = toCatalogueModel({
    model_id: 'cross-encoder/ms-marco-minilm-l-12-v2',
    functions: [{ id: 'rerank' }],
  });
  assert.equal(rerank.contextLength, undefined);
  assert.equal(rerank.maxOutputTokens, undefined);
  assert.equal(rerank.provider, 'cross-encoder');
  assert.equal(rerank.created, 0);
  const deprecated = toCatalogueModel({
    ...chat('ibm/granite-13b-instruct-v2'),
    tasks: [{ id: 'function_calling' }],
    model_limits: { max_sequence_length: 8192, max_output_tokens: 4096 },
    lifecycle: [
      { id: 'available', start_date: '2024-01-01' },
      { id: 'deprecated', start_date: '2025-06-18', alternative_model_ids: ['ibm/granite-3-3-8b-instruct'] },
    ],
  });
  assert.equal(deprecated.created, Date.UTC(2024, 0, 1) / 1000);
  assert.deepEqual(deprecated.deprecated, {
    since: '2025-06-18',
    alternatives: ['ibm/granite-3-3-8b-instruct'],
  });
  assert.deepEqual(deprecated.tasks, ['function_calling']);
  assert.equal(deprecated.maxOutputTokens, 4096);
  const future = toCatalogueModel({
    ...chat('a/b'),
    lifecycle: [{ id: 'withdrawn', start_date: '2999-01-01' }],
  });
  assert.equal(future.withdrawn, false);
});

test('a failed fetch is remembered for 30 s: requests go through without waiting on the catalogue again', async () => {
  let now = 0;
  let calls = 0;
  const catalogue = new ModelCatalogue({
    client: {
      listModels: async () => {
        calls += 1;
        throw new Error('down');
      },
    },
    ttlMs: 600_000,
    now: () => now,
  });
  for (let index = 0; index < 5; index++)
    assert.equal(await catalogue.require('a/any', 'text_chat'), undefined);
  assert.equal(calls, 1);
  now = 30_000;
  await catalogue.require('a/any', 'text_chat');
  assert.equal(calls, 2);
});

test('requireCached: answers from a fresh catalogue without awaiting; defers when stale or unknown', async () => {
  let now = 0;
  const catalogue = new ModelCatalogue({
    client: fakeClient([[chat('a/one'), embedding]]),
    ttlMs: 1000,
    now: () => now,
  });
  assert.equal(catalogue.requireCached('a/one', 'text_chat'), undefined, 'nothing loaded yet');
  await catalogue.list();
  assert.equal(catalogue.requireCached('a/one', 'text_chat')?.id, 'a/one');
  assert.equal(catalogue.requireCached('a/none', 'text_chat'), undefined, 'unknown ids take the slow path');
  assert.throws(() => catalogue.requireCached('ibm/slate-30m-english-rtrvr-v2', 'text_chat'), GatewayError);
  now = 1000;
  assert.equal(catalogue.requireCached('a/one', 'text_chat'), undefined, 'stale: the slow path refreshes');
});
