// The rerank translators on their own (src/rerank/translate/rerank.ts): the watsonx body each client
// request becomes, and the checks on watsonx's answer, which comes straight from the network.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayError } from '../src/server/errors.ts';
import type { RerankRequest } from '../src/rerank/schemas/rerank.ts';
import {
  MAX_RERANK_DOCUMENTS,
  toRerankResponse,
  toWatsonxRerankRequest,
  type RerankResponseContext,
} from '../src/rerank/translate/rerank.ts';

const MODEL = 'cross-encoder/ms-marco-minilm-l-12-v2';

function translate(request: Partial<RerankRequest>, contextLength?: number, returnDocumentsDefault = true) {
  return toWatsonxRerankRequest(
    { model: MODEL, query: 'q', documents: ['a', 'b', 'c'], ...request } as RerankRequest,
    { modelId: MODEL, contextLength, returnDocumentsDefault },
  );
}

function refused(run: () => unknown, param: string | null, code: string | null = null): GatewayError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof GatewayError, String(error));
    assert.equal(error.status, 400);
    assert.equal(error.param, param);
    assert.equal(error.code, code);
    return error;
  }
  assert.fail('expected a 400');
}

describe('toWatsonxRerankRequest', () => {
  test('strings and {text} objects become inputs of {text} only; no parameters when none are needed', () => {
    const translated = translate({ documents: ['one', { text: 'two', id: 'x', title: 't' } as never] });
    assert.deepEqual(translated.body, {
      model_id: MODEL,
      query: 'q',
      inputs: [{ text: 'one' }, { text: 'two' }],
    });
    assert.deepEqual(translated.texts, ['one', 'two']);
    assert.equal(translated.topN, 2);
  });

  test('top_n, then top_k, becomes return_options.top_n; 0, absent or more than the documents: all', () => {
    assert.deepEqual(translate({ top_n: 2 }).body.parameters, { return_options: { top_n: 2 } });
    assert.deepEqual(translate({ top_k: 1 }).body.parameters, { return_options: { top_n: 1 } });
    assert.equal(translate({ top_n: 2, top_k: 1 }).topN, 2);
    for (const top of [{ top_n: 0 }, { top_n: 3 }, { top_n: 50 }, { top_n: null }, {}]) {
      const translated = translate(top);
      assert.equal(translated.body.parameters, undefined, JSON.stringify(top));
      assert.equal(translated.topN, 3);
    }
  });

  test('truncate_input_tokens: the client’s per-document limit, else the model length, never above it', () => {
    assert.equal(translate({}).body.parameters, undefined, 'nothing known: nothing sent');
    assert.equal(translate({}, 512).body.parameters?.truncate_input_tokens, 512);
    assert.equal(translate({ max_tokens_per_doc: 100 }, 512).body.parameters?.truncate_input_tokens, 100);
    assert.equal(translate({ max_tokens_per_doc: 9000 }, 512).body.parameters?.truncate_input_tokens, 512);
    assert.equal(translate({ max_tokens_per_doc: 9000 }).body.parameters?.truncate_input_tokens, 9000);
    assert.equal(translate({ truncate_prompt_tokens: 64 }).body.parameters?.truncate_input_tokens, 64);
    assert.equal(translate({ truncate_prompt_tokens: -1 }, 512).body.parameters?.truncate_input_tokens, 512);
  });

  test('return_documents: the client’s choice, else the route’s default', () => {
    assert.equal(translate({}).returnDocuments, true);
    assert.equal(translate({}, undefined, false).returnDocuments, false);
    assert.equal(translate({ return_documents: false }).returnDocuments, false);
    assert.equal(translate({ return_documents: true }, undefined, false).returnDocuments, true);
  });

  test('clear 400s: empty query, no documents, too many, an empty or mistyped document', () => {
    refused(() => translate({ query: '' }), 'query');
    assert.match(refused(() => translate({ documents: [] }), 'documents').message, /empty array/);
    const many = Array.from({ length: MAX_RERANK_DOCUMENTS + 1 }, () => 'x');
    assert.match(
      refused(() => translate({ documents: many }), 'documents', 'too_many_documents').message,
      /at most 1000 items \(got 1001\)/,
    );
    assert.equal(translate({ documents: many.slice(1) }).texts.length, MAX_RERANK_DOCUMENTS);
    refused(() => translate({ documents: ['a', ''] }), 'documents[1]');
    refused(() => translate({ documents: ['a', { text: '' }] as never }), 'documents[1]');
    for (const bad of [5, null, ['a'], {}, { text: 5 }, true]) {
      const error = refused(() => translate({ documents: ['a', bad] as never }), 'documents[1]');
      assert.match(error.message, /must be a string or an object with a string 'text'/);
    }
  });
});

describe('toRerankResponse', () => {
  const context: RerankResponseContext = {
    texts: ['zero', 'one', 'two'],
    topN: 3,
    returnDocuments: true,
    model: 'my-reranker',
    id: 'rerank-test',
    apiVersion: '1',
  };

  test('raw scores pass through as relevance_score, best first, with documents from the request', () => {
    const response = toRerankResponse(
      {
        input_token_count: 41,
        results: [
          { index: 2, score: 8.13 },
          { index: 0, score: -2.58 },
          { index: 1, score: -10.7 },
        ],
      },
      context,
    );
    assert.deepEqual(response, {
      id: 'rerank-test',
      model: 'my-reranker',
      results: [
        { index: 2, relevance_score: 8.13, document: { text: 'two' } },
        { index: 0, relevance_score: -2.58, document: { text: 'zero' } },
        { index: 1, relevance_score: -10.7, document: { text: 'one' } },
      ],
      object: 'list',
      data: [
        { index: 2, relevance_score: 8.13 },
        { index: 0, relevance_score: -2.58 },
        { index: 1, relevance_score: -10.7 },
      ],
      usage: { prompt_tokens: 41, total_tokens: 41 },
      meta: {
        api_version: { version: '1' },
        billed_units: { search_units: 1 },
        tokens: { input_tokens: 41, output_tokens: 0 },
      },
    });
  });

  test('an unsorted answer is sorted (equal scores in document order) and cut to top_n', () => {
    const response = toRerankResponse(
      {
        results: [
          { index: 2, score: 1 },
          { index: 0, score: 3 },
          { index: 1, score: 1 },
        ],
      },
      { ...context, topN: 2, returnDocuments: false },
    );
    assert.deepEqual(response.results, [
      { index: 0, relevance_score: 3 },
      { index: 1, relevance_score: 1 },
    ]);
    assert.deepEqual(response.usage, { prompt_tokens: 0, total_tokens: 0 });
  });

  test('an answer the gateway cannot trust is a 502 upstream_invalid_response', () => {
    const broken: unknown[] = [
      {},
      { results: 'x' },
      { results: [{ index: 3, score: 1 }] },
      { results: [{ index: -1, score: 1 }] },
      { results: [{ index: 0.5, score: 1 }] },
      { results: [{ index: '0', score: 1 }] },
      { results: [null] },
      { results: [{ index: 0, score: 'high' }] },
      { results: [{ index: 0, score: Number.NaN }] },
      {
        results: [
          { index: 0, score: 1 },
          { index: 0, score: 2 },
          { index: 1, score: 0 },
        ],
      },
      { results: [{ index: 0, score: 1 }] }, // fewer results than the top_n asked for
    ];
    for (const answer of broken) {
      try {
        toRerankResponse(answer as never, context);
        assert.fail(`accepted ${JSON.stringify(answer)}`);
      } catch (error) {
        assert.ok(error instanceof GatewayError, String(error));
        assert.equal(error.status, 502, JSON.stringify(answer));
        assert.equal(error.code, 'upstream_invalid_response');
      }
    }
  });
});
