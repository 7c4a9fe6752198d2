// The simulator's /ml/v1/text/rerank (docs/watsonx-api.md §6.1, sample #13, rerank-and-more.md §1),
// spoken to directly over HTTP as the gateway's watsonx client does.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  MAX_RERANK_INPUTS,
  RERANK_MAX_INPUT_TOKENS,
  simulatedRerankScore,
  startSimulator,
  truncateToTokens,
  type Simulator,
} from '../src/simulator/index.ts';
import { estimateTokens } from '../src/simulator/tokens.ts';
import { accessToken } from './helpers/simulator.ts';

const VERSION = '2026-08-05';
const NOW = 1_767_225_600_123;
const PROJECT = '0b6d9c1e-1111-2222-3333-444455556666';
const MODEL = 'cross-encoder/ms-marco-minilm-l-12-v2';
const QUERY = 'how do I reset my password?';
const TEXTS = [
  'Billing happens monthly.',
  "Use 'Forgot password' on the login page to reset your password.",
  'Passwords must have twelve characters.',
];

function rerankBody(extra: Record<string, unknown> = {}) {
  return {
    model_id: MODEL,
    project_id: PROJECT,
    query: QUERY,
    inputs: TEXTS.map((text) => ({ text })),
    ...extra,
  };
}

let simulator: Simulator;
let token: string;

before(async () => {
  simulator = await startSimulator({ now: () => NOW });
  token = await accessToken(simulator);
});
after(() => simulator.close());

function call(body: unknown, authorization: string | null = `Bearer ${token}`): Promise<Response> {
  return fetch(`${simulator.url}/ml/v1/text/rerank?version=${VERSION}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(authorization === null ? {} : { authorization }),
    },
    body: JSON.stringify(body),
  });
}

async function rerank(body: unknown): Promise<any> {
  const response = await call(body);
  const answer = (await response.json()) as any;
  assert.equal(response.status, 200, JSON.stringify(answer));
  return answer;
}

async function expectError(body: unknown, status: number, code: string, message?: RegExp): Promise<void> {
  const response = await call(body);
  assert.equal(response.status, status);
  const answer = (await response.json()) as any;
  assert.equal(answer.status_code, status);
  assert.equal(answer.errors[0].code, code);
  assert.equal(answer.errors[0].more_info, 'https://cloud.ibm.com/apidocs/watsonx-ai#text-rerank');
  if (message) assert.match(answer.errors[0].message, message);
}

describe('simulator: POST /ml/v1/text/rerank', () => {
  it('ranks every input best first with the raw scores of simulatedRerankScore, some negative', async () => {
    const answer = await rerank(rerankBody());
    const expected = TEXTS.map((text, index) => ({
      index,
      score: simulatedRerankScore(MODEL, QUERY, text),
    })).sort((a, b) => b.score - a.score);
    assert.deepEqual(answer.results, expected);
    assert.equal(answer.results[0].index, 1, 'the input sharing the most words with the query ranks first');
    assert.ok(answer.results.at(-1).score < 0, 'an input sharing no word scores below zero');
    assert.equal(answer.model_id, MODEL);
    assert.equal(answer.model_version, '2.0.0');
    assert.equal(answer.created_at, new Date(NOW).toISOString());
    const queryTokens = estimateTokens(QUERY);
    const inputTokens = TEXTS.reduce((sum, text) => sum + queryTokens + estimateTokens(text), 0);
    assert.equal(answer.input_token_count, inputTokens);
    assert.equal(answer.query, undefined);
    // a non-IBM provider: the disclaimer warning, as on every simulated answer of such a model
    assert.ok(Array.isArray(answer.system?.warnings));
  });

  it('scores are deterministic and track word overlap', () => {
    assert.equal(simulatedRerankScore(MODEL, 'a b', 'a b'), simulatedRerankScore(MODEL, 'a b', 'a b'));
    const all = simulatedRerankScore(MODEL, 'red apple', 'a red apple');
    const half = simulatedRerankScore(MODEL, 'red apple', 'a red car');
    const none = simulatedRerankScore(MODEL, 'red apple', 'blue sky');
    assert.ok(all >= 6 && all < 7, String(all));
    assert.ok(half >= 0 && half < 1, String(half));
    assert.ok(none >= -6 && none < -5, String(none));
  });

  it('return_options: top_n keeps the best N, inputs and query are echoed', async () => {
    const answer = await rerank(
      rerankBody({ parameters: { return_options: { top_n: 2, inputs: true, query: true } } }),
    );
    assert.equal(answer.results.length, 2);
    assert.equal(answer.results[0].index, 1);
    for (const result of answer.results) assert.deepEqual(result.input, { text: TEXTS[result.index] });
    assert.equal(answer.query, QUERY);
  });

  it('an input over the model length fails unless truncate_input_tokens cuts it (on the right)', async () => {
    const long = `password reset ${'word '.repeat(RERANK_MAX_INPUT_TOKENS)}`;
    await expectError(
      rerankBody({ inputs: [{ text: long }] }),
      400,
      'invalid_input_argument',
      /exceeds the maximum sequence length of 512 tokens/,
    );
    const answer = await rerank(
      rerankBody({ inputs: [{ text: long }], parameters: { truncate_input_tokens: 4 } }),
    );
    assert.equal(answer.results[0].score, simulatedRerankScore(MODEL, QUERY, truncateToTokens(long, 4)));
    assert.equal(answer.input_token_count, estimateTokens(QUERY) + 4);
  });

  it('refuses malformed bodies with watsonx error bodies', async () => {
    await expectError(rerankBody({ project_id: undefined }), 400, 'json_validation_error', /project_id/);
    await expectError(rerankBody({ query: undefined }), 400, 'json_validation_error', /'query'/);
    await expectError(rerankBody({ inputs: 'text' }), 400, 'json_validation_error', /'inputs'/);
    await expectError(rerankBody({ inputs: [] }), 400, 'json_validation_error', /at least 1/);
    await expectError(rerankBody({ inputs: ['bare string'] }), 400, 'json_validation_error', /inputs\[0\]/);
    await expectError(
      rerankBody({ inputs: [{ text: 'a', id: 7 }] }),
      400,
      'json_validation_error',
      /unknown field 'id'/,
    );
    await expectError(
      rerankBody({ inputs: Array.from({ length: MAX_RERANK_INPUTS + 1 }, () => ({ text: 'a' })) }),
      400,
      'invalid_input_argument',
      /maximum of 1000/,
    );
    await expectError(
      rerankBody({ parameters: { return_options: { top_n: 0 } } }),
      400,
      'json_validation_error',
      /top_n/,
    );
    await expectError(
      rerankBody({ parameters: { truncate_input_tokens: -1 } }),
      400,
      'json_validation_error',
      /truncate_input_tokens/,
    );
  });

  it('a model without the rerank function is a 400, an unknown one a 404', async () => {
    await expectError(
      rerankBody({ model_id: 'ibm/granite-4-h-small' }),
      400,
      'model_no_support_for_function',
    );
    await expectError(rerankBody({ model_id: 'nobody/nothing' }), 404, 'model_not_supported');
  });

  it('needs a valid token', async () => {
    const response = await call(rerankBody(), null);
    assert.equal(response.status, 401);
    const invalid = await call(rerankBody(), 'Bearer not-a-token');
    assert.equal(invalid.status, 401);
  });
});
