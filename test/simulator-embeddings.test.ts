// The simulator's /ml/v1/text/embeddings (docs/watsonx-api.md §5, sample #13).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  SIMULATED_MODELS,
  simulatedEmbedding,
  startSimulator,
  truncateToTokens,
  type Simulator,
} from '../src/simulator/index.ts';
import { estimateTokens } from '../src/simulator/tokens.ts';
import { accessToken } from './helpers/simulator.ts';

const VERSION = '2025-10-15';
const NOW = 1_767_225_600_123;
const PROJECT = '0b6d9c1e-1111-2222-3333-444455556666';
const MODEL = 'ibm/slate-30m-english-rtrvr-v2';
const DIMENSIONS: Record<string, number> = {
  'ibm/granite-embedding-278m-multilingual': 768,
  'ibm/slate-30m-english-rtrvr-v2': 384,
  'intfloat/multilingual-e5-large': 1024,
  'sentence-transformers/all-minilm-l6-v2': 384,
};

function embeddingsBody(inputs: unknown, extra: Record<string, unknown> = {}) {
  return { model_id: MODEL, project_id: PROJECT, inputs, ...extra };
}

async function call(
  simulator: Simulator,
  body: unknown,
  options: { token?: string | null; version?: string | null } = {},
): Promise<Response> {
  const token = options.token === undefined ? await accessToken(simulator) : options.token;
  const version = options.version === undefined ? VERSION : options.version;
  return fetch(`${simulator.url}/ml/v1/text/embeddings${version === null ? '' : `?version=${version}`}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  });
}

async function embed(simulator: Simulator, body: unknown): Promise<any> {
  const response = await call(simulator, body);
  assert.equal(response.status, 200);
  return response.json();
}

async function expectError(response: Response, status: number, code: string): Promise<any> {
  assert.equal(response.status, status);
  const body = (await response.json()) as any;
  assert.equal(body.status_code, status);
  assert.match(body.trace, /^[0-9a-f]{32}$/);
  assert.equal(body.errors[0].code, code);
  assert.equal(body.errors[0].more_info, 'https://cloud.ibm.com/apidocs/watsonx-ai#text-embeddings');
  return body;
}

describe('simulator: simulatedEmbedding', () => {
  it('is deterministic, depends on model and text, and has unit length', () => {
    const vector = simulatedEmbedding(MODEL, 'hello world');
    assert.deepEqual(simulatedEmbedding(MODEL, 'hello world'), vector);
    assert.notDeepEqual(simulatedEmbedding(MODEL, 'hello world!'), vector);
    // same dimension, other model: another vector
    assert.notDeepEqual(simulatedEmbedding('sentence-transformers/all-minilm-l6-v2', 'hello world'), vector);
    const norm = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));
    assert.ok(Math.abs(norm - 1) < 1e-5, `norm ${norm}`);
    assert.ok(vector.every((value) => value >= -1 && value <= 1));
    assert.ok(new Set(vector).size > vector.length / 2);
  });

  it('gives float32-representable values, so a little-endian float32 encoding round-trips exactly', () => {
    const vector = simulatedEmbedding('intfloat/multilingual-e5-large', 'round trip');
    assert.ok(vector.every((value) => Math.fround(value) === value));
    const base64 = Buffer.from(new Float32Array(vector).buffer).toString('base64');
    const decoded = new Float32Array(new Uint8Array(Buffer.from(base64, 'base64')).buffer);
    assert.deepEqual(Array.from(decoded), vector);
    // JSON keeps them too
    assert.deepEqual(JSON.parse(JSON.stringify(vector)), vector);
  });

  it('refuses a model without embedding_dimension', () => {
    assert.throws(() => simulatedEmbedding('ibm/granite-4-h-small', 'x'), /not a simulated embedding model/);
    assert.throws(() => simulatedEmbedding('acme/nope', 'x'), /not a simulated embedding model/);
  });
});

describe('simulator: text embeddings', () => {
  let simulator: Simulator;
  before(async () => {
    simulator = await startSimulator({ now: () => NOW });
  });
  after(() => simulator.close());

  it('answers the §5 shape: vectors in input order, summed input_token_count, no warnings for IBM', async () => {
    const inputs = ['first text', 'second, longer text', ''];
    const body = await embed(simulator, embeddingsBody(inputs));
    assert.deepEqual(Object.keys(body), ['model_id', 'results', 'created_at', 'input_token_count']);
    assert.equal(body.model_id, MODEL);
    assert.equal(body.created_at, '2026-01-01T00:00:00.123Z');
    assert.deepEqual(
      body.results,
      inputs.map((text) => ({ embedding: simulatedEmbedding(MODEL, text) })),
    );
    assert.equal(body.input_token_count, 2 + 4 + 0);
    const recorded = simulator.requests.at(-1)!;
    assert.equal(recorded.path, '/ml/v1/text/embeddings');
    assert.deepEqual((recorded.body as any).inputs, inputs);
  });

  it('answers each embedding model with its own dimension', async () => {
    const embeddingModels = SIMULATED_MODELS.filter((model) => model.functions.includes('embedding'));
    assert.deepEqual(embeddingModels.map((model) => model.model_id).sort(), Object.keys(DIMENSIONS).sort());
    for (const [modelId, dimension] of Object.entries(DIMENSIONS)) {
      const body = await embed(simulator, embeddingsBody(['dimension check'], { model_id: modelId }));
      assert.equal(body.results[0].embedding.length, dimension, modelId);
      assert.deepEqual(body.results[0].embedding, simulatedEmbedding(modelId, 'dimension check'));
    }
  });

  it('adds the disclaimer warning for a non-IBM model', async () => {
    const body = await embed(
      simulator,
      embeddingsBody(['x'], { model_id: 'intfloat/multilingual-e5-large' }),
    );
    assert.deepEqual(
      body.system.warnings.map((warning: any) => warning.id),
      ['disclaimer_warning'],
    );
  });

  it('echoes the inputs with return_options.input_text', async () => {
    const body = await embed(
      simulator,
      embeddingsBody(['one', 'two'], { parameters: { return_options: { input_text: true } } }),
    );
    assert.deepEqual(
      body.results.map((item: any) => [Object.keys(item), item.input]),
      [
        [['embedding', 'input'], 'one'],
        [['embedding', 'input'], 'two'],
      ],
    );
  });

  it('takes 1000 inputs and refuses 1001 with invalid_input_argument', async () => {
    const inputs = Array.from({ length: 1000 }, (_, index) => `text ${index}`);
    const body = await embed(simulator, embeddingsBody(inputs));
    assert.equal(body.results.length, 1000);
    assert.deepEqual(body.results[999].embedding, simulatedEmbedding(MODEL, 'text 999'));
    assert.equal(body.input_token_count, 2000);
    const error = await expectError(
      await call(simulator, embeddingsBody([...inputs, 'one more'])),
      400,
      'invalid_input_argument',
    );
    assert.match(error.errors[0].message, /maximum of 1000/);
  });

  it('refuses an input over max_sequence_length unless truncate_input_tokens is set', async () => {
    const long = Array.from({ length: 600 }, (_, index) => `w${index}`).join(' ');
    assert.equal(estimateTokens(long), 600);
    const error = await expectError(
      await call(simulator, embeddingsBody(['short', long])),
      400,
      'invalid_input_argument',
    );
    assert.match(error.errors[0].message, /inputs\[1\]/);
    assert.match(error.errors[0].message, /512/);
    const body = await embed(
      simulator,
      embeddingsBody(['short', long], { parameters: { truncate_input_tokens: 512 } }),
    );
    assert.equal(body.input_token_count, 1 + 512);
    const kept = truncateToTokens(long, 512);
    assert.ok(kept.endsWith(' w511'));
    assert.deepEqual(body.results[1].embedding, simulatedEmbedding(MODEL, kept));
    assert.notDeepEqual(body.results[1].embedding, simulatedEmbedding(MODEL, long));
    assert.deepEqual(body.results[0].embedding, simulatedEmbedding(MODEL, 'short'));
  });

  it('truncates on the right to a smaller truncate_input_tokens, and a larger one does not lift the limit', async () => {
    const body = await embed(
      simulator,
      embeddingsBody(['a b c d e f'], { parameters: { truncate_input_tokens: 3 } }),
    );
    assert.equal(body.input_token_count, 3);
    assert.deepEqual(body.results[0].embedding, simulatedEmbedding(MODEL, 'a b c'));
    const long = 'x '.repeat(700);
    await expectError(
      await call(simulator, embeddingsBody([long], { parameters: { truncate_input_tokens: 1000 } })),
      400,
      'invalid_input_argument',
    );
    // the minilm model has a 256-token limit
    await expectError(
      await call(
        simulator,
        embeddingsBody(['x '.repeat(300)], { model_id: 'sentence-transformers/all-minilm-l6-v2' }),
      ),
      400,
      'invalid_input_argument',
    );
  });

  it('checks version, token, container, inputs and the model', async () => {
    await expectError(
      await call(simulator, embeddingsBody(['x']), { version: null }),
      400,
      'invalid_input_argument',
    );
    await expectError(
      await call(simulator, embeddingsBody(['x']), { token: null }),
      401,
      'authentication_token_not_valid',
    );
    const { project_id: _project, ...noContainer } = embeddingsBody(['x']);
    await expectError(await call(simulator, noContainer), 400, 'json_validation_error');
    for (const inputs of [undefined, 'text', [], ['ok', 3]]) {
      const error = await expectError(
        await call(simulator, embeddingsBody(inputs)),
        400,
        'json_validation_error',
      );
      assert.match(error.errors[0].message, /inputs/);
    }
    await expectError(
      await call(simulator, embeddingsBody(['x'], { parameters: { truncate_input_tokens: -1 } })),
      400,
      'json_validation_error',
    );
    await expectError(
      await call(simulator, embeddingsBody(['x'], { model_id: 'acme/nope' })),
      404,
      'model_not_supported',
    );
    for (const modelId of ['ibm/granite-4-h-small', 'cross-encoder/ms-marco-minilm-l-12-v2']) {
      const error = await expectError(
        await call(simulator, embeddingsBody(['x'], { model_id: modelId })),
        400,
        'model_no_support_for_function',
      );
      assert.match(error.errors[0].message, /embedding/);
    }
  });

  it('answers http-error faults and stalls', async () => {
    simulator.enqueueFault({ kind: 'http-error', status: 500, code: 'internal_server_error', message: 'x' });
    await expectError(await call(simulator, embeddingsBody(['x'])), 500, 'internal_server_error');
    simulator.enqueueFault({ kind: 'stall', ms: 200 });
    const started = performance.now();
    await embed(simulator, embeddingsBody(['x']));
    assert.ok(performance.now() - started >= 180);
  });
});
