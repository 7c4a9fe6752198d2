// POST /v1/rerank, /rerank and /v2/rerank against the built-in simulator: through app.inject, over a
// real socket with raw fetch (the shape LiteLLM, vLLM, Jina clients and Continue send), and with
// Cohere's own SDK (cohere-ai) pointed at the gateway. Scores are recomputed with the simulator's
// simulatedRerankScore, so every number is checked, not just its type.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CohereClient, CohereClientV2, CohereError } from 'cohere-ai';
import { RERANK_MAX_INPUT_TOKENS, simulatedRerankScore } from '../src/simulator/index.ts';
import { estimateTokens } from '../src/simulator/tokens.ts';
import { PROJECT_ID, startTestGateway, type TestGateway } from './helpers/gateway.ts';

const KEY = 'gateway-key-rerank';
const MODEL = 'cross-encoder/ms-marco-minilm-l-12-v2';
const QUERY = 'How do I reset my password?';
const DOCUMENTS = [
  'Billing happens on the first day of each month.',
  "Use 'Forgot password' on the login page to reset your password.",
  'Passwords must have at least twelve characters.',
  'The office is closed on public holidays.',
];

/** The simulator's ranking of DOCUMENTS for QUERY: what every answer below must show. */
function expectedRanking(query = QUERY, documents = DOCUMENTS) {
  return documents
    .map((text, index) => ({ index, relevance_score: simulatedRerankScore(MODEL, query, text) }))
    .sort((a, b) => b.relevance_score - a.relevance_score);
}

let gateway: TestGateway;

before(async () => {
  gateway = await startTestGateway({
    listen: true,
    env: { API_KEY: KEY, MODEL_MAP_RERANK_ENGLISH_V3_0: MODEL },
  });
});
after(() => gateway.close());

function rerank(body: object, url = '/v1/rerank', headers: Record<string, string> = {}) {
  return gateway.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${KEY}`, ...headers },
    payload: body,
  });
}

/** Bodies of the text/rerank calls the simulator received after `since` requests. */
function rerankCalls(since = 0): any[] {
  return gateway
    .inferenceRequests()
    .slice(since)
    .filter((request) => request.path === '/ml/v1/text/rerank')
    .map((request) => request.body);
}

function assertError(response: { statusCode: number; json(): any }, status: number, param: string | null) {
  assert.equal(response.statusCode, status, JSON.stringify(response.json()).slice(0, 500));
  const body = response.json();
  assert.equal(typeof body.error.message, 'string');
  assert.equal(body.message, body.error.message, 'the Cohere-style top-level message');
  assert.equal(body.error.param, param);
  return body.error;
}

describe('POST /v1/rerank', () => {
  test('strings: every document ranked best first with raw scores (negative ones too) and its text', async () => {
    const since = gateway.inferenceRequests().length;
    const response = await rerank({ model: MODEL, query: QUERY, documents: DOCUMENTS });
    assert.equal(response.statusCode, 200, response.body);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    const body = response.json();
    const ranking = expectedRanking();
    assert.deepEqual(
      body.results,
      ranking.map((result) => ({ ...result, document: { text: DOCUMENTS[result.index] } })),
    );
    assert.equal(body.results[0].index, 1);
    assert.ok(body.results.at(-1).relevance_score < 0, 'raw watsonx scores are passed through, not 0-1');
    assert.match(body.id, /^rerank-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(body.model, MODEL);
    assert.equal(body.object, 'list');
    assert.deepEqual(body.data, ranking);
    const tokens = DOCUMENTS.reduce((sum, text) => sum + estimateTokens(QUERY) + estimateTokens(text), 0);
    assert.deepEqual(body.usage, { prompt_tokens: tokens, total_tokens: tokens });
    assert.deepEqual(body.meta, {
      api_version: { version: '1' },
      billed_units: { search_units: 1 },
      tokens: { input_tokens: tokens, output_tokens: 0 },
    });
    // What watsonx got: the project, the texts as {text}, nothing to echo, no top_n (all asked for).
    assert.deepEqual(rerankCalls(since), [
      {
        model_id: MODEL,
        project_id: PROJECT_ID,
        query: QUERY,
        inputs: DOCUMENTS.map((text) => ({ text })),
      },
    ]);
  });

  test('top_n: the best N, asked of watsonx as return_options.top_n; more than the documents: all', async () => {
    const since = gateway.inferenceRequests().length;
    const response = await rerank({ model: MODEL, query: QUERY, documents: DOCUMENTS, top_n: 2 });
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json().data, expectedRanking().slice(0, 2));
    assert.deepEqual(rerankCalls(since)[0].parameters, { return_options: { top_n: 2 } });
    const all = await rerank({ model: MODEL, query: QUERY, documents: DOCUMENTS, top_n: 10 });
    assert.equal(all.json().results.length, DOCUMENTS.length);
    assert.equal(rerankCalls(since)[1].parameters, undefined);
  });

  test('{text} objects: only the text reaches watsonx; return_documents false leaves documents out', async () => {
    const since = gateway.inferenceRequests().length;
    const documents = DOCUMENTS.map((text, id) => ({ text, id, source: 'kb' }));
    const response = await rerank({ model: MODEL, query: QUERY, documents, return_documents: false });
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json().results, expectedRanking());
    assert.deepEqual(
      rerankCalls(since)[0].inputs,
      DOCUMENTS.map((text) => ({ text })),
    );
  });

  test('/rerank (a bare base URL) is the same route', async () => {
    const response = await rerank({ model: MODEL, query: QUERY, documents: DOCUMENTS, top_n: 1 }, '/rerank');
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(response.json().results, [
      { ...expectedRanking()[0], document: { text: DOCUMENTS[1] } },
    ]);
  });

  test("Continue's call: top_k, the key in x-api-key too, the ranking read from `data`", async () => {
    const response = await gateway.inject({
      method: 'POST',
      url: '/rerank',
      headers: { 'x-api-key': KEY, accept: 'application/json' },
      payload: { query: QUERY, documents: DOCUMENTS, model: MODEL, top_k: 3 },
    });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json();
    assert.equal(body.object, 'list');
    assert.equal(body.model, MODEL);
    assert.deepEqual(body.data, expectedRanking().slice(0, 3));
    assert.equal(typeof body.usage.total_tokens, 'number');
  });

  test('a MODEL_MAP alias reaches its watsonx model and is echoed as sent', async () => {
    const since = gateway.inferenceRequests().length;
    const response = await rerank({ model: 'rerank-english-v3.0', query: QUERY, documents: DOCUMENTS });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.json().model, 'rerank-english-v3.0');
    assert.equal(rerankCalls(since)[0].model_id, MODEL);
  });

  test('long documents: watsonx refuses them (400 passed on) unless max_tokens_per_doc truncates them', async () => {
    const long = `reset password ${'filler '.repeat(RERANK_MAX_INPUT_TOKENS)}`;
    const refused = await rerank({ model: MODEL, query: QUERY, documents: ['short', long] });
    const error = assertError(refused, 400, null);
    assert.equal(error.code, 'invalid_input_argument');
    assert.match(error.message, /^watsonx\.ai: inputs\[1\] has \d+ tokens/);

    const since = gateway.inferenceRequests().length;
    const cut = await rerank({
      model: MODEL,
      query: QUERY,
      documents: ['short', long],
      max_tokens_per_doc: 100,
    });
    assert.equal(cut.statusCode, 200, cut.body);
    assert.equal(rerankCalls(since)[0].parameters.truncate_input_tokens, 100);
    assert.equal(cut.json().results[0].document.text, long, 'the document is returned whole');
    const vllm = await rerank({ model: MODEL, query: QUERY, documents: [long], truncate_prompt_tokens: 50 });
    assert.equal(vllm.statusCode, 200, vllm.body);
    assert.equal(rerankCalls(since)[1].parameters.truncate_input_tokens, 50);
  });
});

describe('POST /v2/rerank', () => {
  test('Cohere v2: documents only when asked for, api_version 2', async () => {
    const response = await rerank(
      { model: MODEL, query: QUERY, documents: DOCUMENTS, top_n: 2 },
      '/v2/rerank',
    );
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json();
    assert.deepEqual(body.results, expectedRanking().slice(0, 2));
    assert.equal(body.meta.api_version.version, '2');
    const withDocuments = await rerank(
      { model: MODEL, query: QUERY, documents: DOCUMENTS, top_n: 1, return_documents: true },
      '/v2/rerank',
    );
    assert.deepEqual(withDocuments.json().results[0].document, { text: DOCUMENTS[1] });
  });

  test('is served at /v2/rerank only: no /v1/v2/rerank', async () => {
    const response = await rerank({ model: MODEL, query: QUERY, documents: DOCUMENTS }, '/v1/v2/rerank');
    assert.equal(response.statusCode, 404);
  });
});

describe('rerank errors', () => {
  test('bad bodies are 400s naming the field, before any watsonx call', async () => {
    const since = gateway.inferenceRequests().length;
    const cases: Array<[object, string | null, RegExp, string?]> = [
      [{ model: MODEL, query: QUERY, documents: [] }, 'documents', /must not be an empty array/],
      [
        { model: MODEL, query: QUERY, documents: Array.from({ length: 1001 }, (_, index) => `doc ${index}`) },
        'documents',
        /at most 1000 items \(got 1001\)/,
        'too_many_documents',
      ],
      [{ model: MODEL, query: '', documents: DOCUMENTS }, 'query', /must not be an empty string/],
      [{ model: MODEL, query: QUERY, documents: ['a', ''] }, 'documents[1]', /must not be empty/],
      [
        { model: MODEL, query: QUERY, documents: ['a', 42] },
        'documents[1]',
        /must be a string or an object with a string 'text'/,
      ],
      [{ model: MODEL, query: QUERY, documents: [{ title: 'no text' }] }, 'documents[0]', /string 'text'/],
      [{ model: MODEL, query: QUERY, documents: 'one string' }, 'documents', /must be array/],
      [{ model: MODEL, query: 7, documents: DOCUMENTS }, 'query', /must be string/],
      [{ query: QUERY, documents: DOCUMENTS }, 'model', /required/],
      [{ model: MODEL, query: QUERY, documents: DOCUMENTS, top_n: -1 }, 'top_n', /must be >= 0/],
      [{ model: MODEL, query: QUERY, documents: DOCUMENTS, top_n: 1.5 }, 'top_n', /integer/],
      [
        { model: MODEL, query: QUERY, documents: DOCUMENTS, truncate_prompt_tokens: 1e20 },
        'truncate_prompt_tokens',
        /must be <= 2147483647/,
      ],
      [
        { model: MODEL, query: QUERY, documents: DOCUMENTS, max_tokens_per_doc: 0 },
        'max_tokens_per_doc',
        />= 1/,
      ],
      [
        { model: MODEL, query: QUERY, documents: DOCUMENTS, return_documents: 'yes' },
        'return_documents',
        /boolean/,
      ],
    ];
    for (const [body, param, message, code] of cases) {
      for (const url of ['/v1/rerank', '/v2/rerank']) {
        const error = assertError(await rerank(body, url), 400, param);
        assert.match(error.message, message, `${url} ${JSON.stringify(body).slice(0, 80)}`);
        if (code) assert.equal(error.code, code);
        assert.equal(error.type, 'invalid_request_error');
      }
    }
    assert.deepEqual(rerankCalls(since), []);
  });

  test('a model that cannot rerank is a 400 model_not_supported, an unknown one 404, both without a call', async () => {
    const since = gateway.inferenceRequests().length;
    const chat = assertError(
      await rerank({ model: 'ibm/granite-4-h-small', query: QUERY, documents: DOCUMENTS }),
      400,
      'model',
    );
    assert.equal(chat.code, 'model_not_supported');
    assert.match(chat.message, /does not support rerank \(\/v1\/rerank\); it supports chat/);
    const embedding = assertError(
      await rerank({ model: 'ibm/granite-embedding-278m-multilingual', query: QUERY, documents: DOCUMENTS }),
      400,
      'model',
    );
    assert.match(embedding.message, /it supports embeddings/);
    const unknown = assertError(
      await rerank({ model: 'nobody/nothing', query: QUERY, documents: DOCUMENTS }),
      404,
      'model',
    );
    assert.equal(unknown.code, 'model_not_found');
    assert.deepEqual(rerankCalls(since), []);
  });

  test('the gateway key is required', async () => {
    const response = await gateway.inject({
      method: 'POST',
      url: '/v1/rerank',
      payload: { model: MODEL, query: QUERY, documents: DOCUMENTS },
    });
    const error = assertError(response, 401, null);
    assert.equal(error.code, 'invalid_api_key');
  });

  test('a watsonx 429 is a 429 with retry-after, in the rerank error body', async () => {
    gateway.simulator.enqueueFault({
      kind: 'http-error',
      status: 429,
      code: 'rate_limit_reached_requests',
      message: 'Rate limit reached',
    });
    const response = await rerank({ model: MODEL, query: QUERY, documents: DOCUMENTS });
    const error = assertError(response, 429, null);
    assert.equal(error.code, 'rate_limit_exceeded');
    assert.equal(error.type, 'requests');
    assert.equal(response.headers['retry-after'], '1');
  });
});

describe('rerank over a real socket', () => {
  test('raw fetch: /v1/rerank, /rerank and /v2/rerank answer the same ranking', async () => {
    for (const path of ['/v1/rerank', '/rerank', '/v2/rerank']) {
      const response = await fetch(`${gateway.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify({
          model: MODEL,
          query: QUERY,
          documents: DOCUMENTS,
          top_n: 3,
          return_documents: true,
        }),
      });
      assert.equal(response.status, 200, path);
      const body = (await response.json()) as any;
      assert.deepEqual(
        body.results,
        expectedRanking()
          .slice(0, 3)
          .map((result) => ({ ...result, document: { text: DOCUMENTS[result.index] } })),
        path,
      );
    }
  });

  test("Cohere's SDK (v1 client): rerank with documents, strings and {text} objects", async () => {
    const cohere = new CohereClient({ token: KEY, environment: gateway.url });
    const documents = [DOCUMENTS[0]!, { text: DOCUMENTS[1]! }, DOCUMENTS[2]!, { text: DOCUMENTS[3]! }];
    const response = await cohere.rerank({
      model: 'rerank-english-v3.0',
      query: QUERY,
      documents,
      topN: 2,
      returnDocuments: true,
    });
    assert.deepEqual(
      response.results.map((result) => [result.index, result.relevanceScore, result.document?.text]),
      expectedRanking()
        .slice(0, 2)
        .map((result) => [result.index, result.relevance_score, DOCUMENTS[result.index]]),
    );
    assert.match(String(response.id), /^rerank-/);
    assert.equal(response.meta?.apiVersion?.version, '1');
    assert.equal(response.meta?.billedUnits?.searchUnits, 1);
  });

  test("Cohere's SDK (CohereClientV2): /v2/rerank, and a refusal surfaces as a CohereError 400", async () => {
    const cohere = new CohereClientV2({ token: KEY, environment: gateway.url });
    const response = await cohere.rerank({ model: MODEL, query: QUERY, documents: DOCUMENTS, topN: 3 });
    assert.deepEqual(
      response.results.map((result) => [result.index, result.relevanceScore]),
      expectedRanking()
        .slice(0, 3)
        .map((result) => [result.index, result.relevance_score]),
    );
    assert.equal((response.results[0] as { document?: unknown } | undefined)?.document, undefined);
    await assert.rejects(
      cohere.rerank({ model: MODEL, query: QUERY, documents: [] }, { maxRetries: 0 }),
      (error: unknown) => {
        assert.ok(error instanceof CohereError, String(error));
        assert.equal(error.statusCode, 400);
        assert.match(
          String((error.body as { message?: string }).message),
          /'documents' must not be an empty array/,
        );
        return true;
      },
    );
    const wrongKey = new CohereClientV2({ token: 'not-the-key', environment: gateway.url });
    await assert.rejects(
      wrongKey.rerank({ model: MODEL, query: QUERY, documents: DOCUMENTS }, { maxRetries: 0 }),
      (error: unknown) => error instanceof CohereError && error.statusCode === 401,
    );
  });
});

describe('rerank accounting', () => {
  test('requests and prompt tokens are counted per route label and watsonx model', async () => {
    const own = await startTestGateway({});
    try {
      for (const url of ['/v1/rerank', '/rerank', '/v2/rerank']) {
        const response = await own.inject({
          method: 'POST',
          url,
          payload: { model: MODEL, query: QUERY, documents: DOCUMENTS },
        });
        assert.equal(response.statusCode, 200, response.body);
      }
      const text = (await own.inject({ url: '/metrics' })).body;
      const model = MODEL.replace(/[/.]/g, (character) => `\\${character}`);
      assert.match(
        text,
        new RegExp(`gateway_requests_total\\{route="/v1/rerank",status="200",model="${model}"\\} 2\\n`),
      );
      assert.match(
        text,
        new RegExp(`gateway_requests_total\\{route="/v2/rerank",status="200",model="${model}"\\} 1\\n`),
      );
      const tokens = DOCUMENTS.reduce((sum, text) => sum + estimateTokens(QUERY) + estimateTokens(text), 0);
      assert.match(
        text,
        new RegExp(`gateway_tokens_total\\{model="${model}",kind="prompt"\\} ${3 * tokens}\\n`),
      );
    } finally {
      await own.close();
    }
  });
});
