// Pure translator tests: OpenAI embeddings request → watsonx batches → OpenAI list.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayError } from '../src/server/errors.ts';
import type { EmbeddingRequest } from '../src/openai/schemas/embeddings.ts';
import {
  encodeFloat32Base64,
  type EmbeddingsRequestContext,
  toEmbeddingResponse,
  toWatsonxEmbeddingsRequests,
  truncateInputTokens,
} from '../src/openai/translate/embeddings.ts';
import type { WatsonxEmbeddingsRequest, WatsonxEmbeddingsResponse } from '../src/watsonx/types.ts';

const MODEL_ID = 'ibm/granite-embedding-278m-multilingual';

const CONTEXT: EmbeddingsRequestContext = { modelId: MODEL_ID, truncateInputTokens: 0 };

/** Fields are cast: tests send what clients send, including what the schema lets through. */
function translate(fields: Record<string, unknown>, context: Partial<EmbeddingsRequestContext> = {}) {
  const request = { model: 'text-embedding-3-small', input: 'hello', ...fields } as EmbeddingRequest;
  return toWatsonxEmbeddingsRequests(request, { ...CONTEXT, ...context });
}

function assertRejected(run: () => unknown, status: number, param: string | null, code?: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof GatewayError, `expected a GatewayError, got ${String(error)}`);
    assert.equal(error.status, status);
    assert.equal(error.param, param);
    if (code !== undefined) assert.equal(error.code, code);
    return true;
  });
}

/** A watsonx answer for `request`: vector i of the batch is [offset + i, -(offset + i)]. */
function answer(request: WatsonxEmbeddingsRequest, offset: number, tokens = 0): WatsonxEmbeddingsResponse {
  return {
    model_id: request.model_id,
    results: request.inputs.map((_, index) => ({ embedding: [offset + index, -(offset + index)] })),
    created_at: '2026-01-01T00:00:00.000Z',
    input_token_count: tokens,
  };
}

describe('base64 encoding', () => {
  test('[0.5, -1.25, 2.0, 0.125] ↔ "AAAAPwAAoL8AAABAAAAAPg==" (little-endian float32)', () => {
    assert.equal(encodeFloat32Base64([0.5, -1.25, 2.0, 0.125]), 'AAAAPwAAoL8AAABAAAAAPg==');
  });

  test('decodes back to the float32 values, as the SDKs decode it', () => {
    const vector = [0.1, -0.2, 1e-7, 123.456, 0];
    const bytes = Buffer.from(encodeFloat32Base64(vector), 'base64');
    assert.equal(bytes.length, vector.length * 4);
    const decoded = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, vector.length));
    assert.deepEqual(
      decoded,
      vector.map((value) => Math.fround(value)),
    );
  });

  test('the response carries base64 strings only when asked', () => {
    const [request] = translate({ input: ['a', 'b'] });
    const floats = toEmbeddingResponse([request!], [answer(request!, 1)], {
      model: 'm',
      encodingFormat: 'float',
    });
    assert.deepEqual(floats.data[1]!.embedding, [2, -2]);
    const base64 = toEmbeddingResponse([request!], [answer(request!, 1)], {
      model: 'm',
      encodingFormat: 'base64',
    });
    assert.equal(base64.data[1]!.embedding, encodeFloat32Base64([2, -2]));
  });
});

describe('request', () => {
  test('a string becomes one input; nothing else is sent when truncation is off', () => {
    assert.deepEqual(translate({ input: 'hello', user: 'u-1', extra: true }), [
      { model_id: MODEL_ID, inputs: ['hello'] },
    ]);
  });

  test('2048 inputs → batches of 1000, 1000, 48, in input order', () => {
    const inputs = Array.from({ length: 2048 }, (_, index) => `text ${index}`);
    const batches = translate({ input: inputs });
    assert.deepEqual(
      batches.map((batch) => batch.inputs.length),
      [1000, 1000, 48],
    );
    assert.deepEqual(
      batches.flatMap((batch) => batch.inputs),
      inputs,
    );
    assert.ok(batches.every((batch) => batch.model_id === MODEL_ID));
  });

  test('exactly 1000 inputs stay one call; a smaller batch size is honoured, a larger one capped', () => {
    const inputs = Array.from({ length: 1000 }, (_, index) => `t${index}`);
    assert.equal(translate({ input: inputs }).length, 1);
    assert.deepEqual(
      translate({ input: inputs }, { batchSize: 300 }).map((batch) => batch.inputs.length),
      [300, 300, 300, 100],
    );
    assert.equal(translate({ input: [...inputs, 'one more'] }, { batchSize: 5000 }).length, 2);
  });

  test('truncate_input_tokens: max → the context length; a number, capped by it; 0 → none', () => {
    assert.equal(truncateInputTokens('max', 512), 512);
    assert.equal(truncateInputTokens('max', undefined), undefined);
    assert.equal(truncateInputTokens(256, 512), 256);
    assert.equal(truncateInputTokens(4096, 512), 512);
    assert.equal(truncateInputTokens(256, undefined), 256);
    assert.equal(truncateInputTokens(0, 512), undefined);
    const batches = translate(
      { input: Array.from({ length: 1001 }, () => 'x') },
      { truncateInputTokens: 'max', contextLength: 512 },
    );
    assert.deepEqual(
      batches.map((batch) => batch.parameters),
      [{ truncate_input_tokens: 512 }, { truncate_input_tokens: 512 }],
    );
  });

  test('token arrays → 400 input unsupported_value', () => {
    assertRejected(() => translate({ input: [1, 2, 3] }), 400, 'input', 'unsupported_value');
    assertRejected(() => translate({ input: [[1, 2], [3]] }), 400, 'input', 'unsupported_value');
  });

  test('an empty string, an empty array, or an empty string in an array → 400 input', () => {
    assertRejected(() => translate({ input: '' }), 400, 'input');
    assertRejected(() => translate({ input: [] }), 400, 'input');
    assertRejected(() => translate({ input: ['a', '', 'c'] }), 400, 'input');
  });

  test('dimensions: the native size passes, any other → 400 dimensions; unknown size → passes', () => {
    assert.equal(translate({ dimensions: 768 }, { embeddingDimension: 768 }).length, 1);
    assert.equal(translate({ dimensions: null }, { embeddingDimension: 768 }).length, 1);
    assert.equal(translate({ dimensions: 256 }).length, 1);
    assertRejected(
      () => translate({ dimensions: 256 }, { embeddingDimension: 768 }),
      400,
      'dimensions',
      'unsupported_value',
    );
  });
});

describe('response', () => {
  test('batches reassemble in order with indexes 0..n-1; usage is the sum of input_token_count', () => {
    const requests = translate(
      { input: Array.from({ length: 7 }, (_, index) => `t${index}`) },
      { batchSize: 3 },
    );
    const responses = [answer(requests[0]!, 0, 5), answer(requests[1]!, 3, 7), answer(requests[2]!, 6, 11)];
    const result = toEmbeddingResponse(requests, responses, { model: 'my-alias', encodingFormat: 'float' });
    assert.equal(result.object, 'list');
    assert.equal(result.model, 'my-alias');
    assert.deepEqual(result.usage, { prompt_tokens: 23, total_tokens: 23 });
    assert.deepEqual(
      result.data.map((item) => [item.object, item.index, item.embedding]),
      Array.from({ length: 7 }, (_, index) => ['embedding', index, [index, -index]]),
    );
  });

  test('a missing input_token_count counts as 0', () => {
    const [request] = translate({});
    const response = answer(request!, 0);
    delete response.input_token_count;
    const result = toEmbeddingResponse([request!], [response], { model: 'm', encodingFormat: 'float' });
    assert.deepEqual(result.usage, { prompt_tokens: 0, total_tokens: 0 });
  });

  test('a result count other than the input count → 502 upstream_invalid_response', () => {
    const [request] = translate({ input: ['a', 'b', 'c'] });
    const short = answer(request!, 0);
    short.results!.pop();
    assertRejected(
      () => toEmbeddingResponse([request!], [short], { model: 'm', encodingFormat: 'float' }),
      502,
      null,
      'upstream_invalid_response',
    );
    assertRejected(
      () =>
        toEmbeddingResponse([request!], [{ model_id: MODEL_ID }], { model: 'm', encodingFormat: 'float' }),
      502,
      null,
      'upstream_invalid_response',
    );
  });

  test('a result without a vector, or vectors of different sizes → 502', () => {
    const [request] = translate({ input: ['a', 'b'] });
    const missing = answer(request!, 0);
    missing.results![1] = {};
    assertRejected(
      () => toEmbeddingResponse([request!], [missing], { model: 'm', encodingFormat: 'float' }),
      502,
      null,
      'upstream_invalid_response',
    );
    const ragged = answer(request!, 0);
    ragged.results![1] = { embedding: [1, 2, 3] };
    assertRejected(
      () => toEmbeddingResponse([request!], [ragged], { model: 'm', encodingFormat: 'float' }),
      502,
      null,
      'upstream_invalid_response',
    );
  });

  test('anything but a non-empty array of finite numbers where a vector should be → 502, in both encodings', () => {
    const request = { model_id: MODEL_ID, inputs: ['a', 'b'] };
    const unusable = [
      [{ embedding: [1, 2] }, { embedding: [3] }],
      [{ embedding: { json: ']}<x>', length: 2 } }, { embedding: [3, 4] }],
      [{ embedding: null }, { embedding: [3, 4] }],
      [{ embedding: [] }, { embedding: [] }],
      [{ embedding: ['a', 'b'] }, { embedding: [3, 4] }],
      [{ embedding: [[1], [2]] }, { embedding: [3, 4] }],
      [null, { embedding: [3, 4] }],
    ];
    for (const results of unusable) {
      for (const encodingFormat of ['float', 'base64'] as const) {
        assertRejected(
          () => toEmbeddingResponse([request], [{ results } as never], { model: 'm', encodingFormat }),
          502,
          null,
          'upstream_invalid_response',
        );
      }
    }
  });

  test('the answer is the OpenAI list, whole: float vectors as numbers, base64 as float32 bytes', () => {
    const request = { model_id: MODEL_ID, inputs: ['a', 'b'] };
    const response = {
      model_id: MODEL_ID,
      results: [{ embedding: [1e-7, -0.5, 2] }, { embedding: [0.25, 3, 4] }],
      input_token_count: 4,
    };
    for (const encodingFormat of ['float', 'base64'] as const) {
      const vector = (numbers: number[]) =>
        encodingFormat === 'base64' ? encodeFloat32Base64(numbers) : numbers;
      assert.deepEqual(toEmbeddingResponse([request], [response], { model: 'alias', encodingFormat }), {
        object: 'list',
        data: [
          { object: 'embedding', index: 0, embedding: vector([1e-7, -0.5, 2]) },
          { object: 'embedding', index: 1, embedding: vector([0.25, 3, 4]) },
        ],
        model: 'alias',
        usage: { prompt_tokens: 4, total_tokens: 4 },
      });
    }
  });

  test('dimensions the catalogue could not check are checked against the vectors', () => {
    const [request] = translate({ input: ['a'] });
    const ok = toEmbeddingResponse([request!], [answer(request!, 0)], {
      model: 'm',
      encodingFormat: 'float',
      dimensions: 2,
    });
    assert.equal(ok.data.length, 1);
    assertRejected(
      () =>
        toEmbeddingResponse([request!], [answer(request!, 0)], {
          model: 'm',
          encodingFormat: 'float',
          dimensions: 256,
        }),
      400,
      'dimensions',
      'unsupported_value',
    );
  });
});
