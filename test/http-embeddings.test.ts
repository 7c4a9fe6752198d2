// HTTP tests through inject: /v1/embeddings against the built-in simulator.
// Items refer to the conformance checklist in openai-surface.md §11.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runBounded } from '../src/server/upstream-call.ts';
import { EMBEDDING_BATCH_CONCURRENCY } from '../src/openai/routes/embeddings.ts';
import { estimateTokens, simulatedEmbedding } from '../src/simulator/index.ts';
import { startTestGateway, type TestGateway, type TestGatewayOptions } from './helpers/gateway.ts';

const KEY = 'gateway-key-1';
const MODEL = 'ibm/granite-embedding-278m-multilingual';
const DIMENSION = 768;
const CONTEXT_LENGTH = 512;
let gateway: TestGateway;

before(async () => {
  gateway = await startTestGateway({
    env: { API_KEY: KEY, MODEL_MAP_TEXT_EMBEDDING_3_SMALL: 'ibm/slate-30m-english-rtrvr-v2' },
  });
});
after(() => gateway.close());

function embed(body: object, url = '/v1/embeddings', target: TestGateway = gateway) {
  return target.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${KEY}` },
    payload: body,
  });
}

/** Bodies of the text/embeddings calls the simulator received after `since` requests. */
function embeddingCalls(since = 0, target: TestGateway = gateway): any[] {
  return target
    .inferenceRequests()
    .slice(since)
    .filter((request) => request.path === '/ml/v1/text/embeddings')
    .map((request) => request.body);
}

function decodeBase64(value: string): number[] {
  const bytes = Buffer.from(value, 'base64');
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
}

function assertInvalid(response: { statusCode: number; json(): any }, status: number, param: string | null) {
  assert.equal(response.statusCode, status, JSON.stringify(response.json()).slice(0, 500));
  const { error } = response.json();
  assert.equal(error.param, param);
  assert.equal(typeof error.message, 'string');
  return error;
}

async function withGateway(options: TestGatewayOptions, run: (target: TestGateway) => Promise<void>) {
  const target = await startTestGateway(options);
  try {
    await run(target);
  } finally {
    await target.close();
  }
}

describe('/v1/embeddings', () => {
  test('48: {model, input:"hello"} without encoding_format → floats, the simulator vector', async () => {
    const response = await embed({ model: MODEL, input: 'hello' });
    assert.equal(response.statusCode, 200, response.body);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    const body = response.json();
    assert.equal(body.object, 'list');
    assert.equal(body.model, MODEL);
    assert.equal(body.data.length, 1);
    assert.deepEqual(body.data[0], {
      object: 'embedding',
      index: 0,
      embedding: simulatedEmbedding(MODEL, 'hello'),
    });
    assert.equal(body.data[0].embedding.length, DIMENSION);
    assert.ok(body.usage.prompt_tokens > 0);
    assert.equal(body.usage.total_tokens, body.usage.prompt_tokens);
  });

  test('49: encoding_format base64 → little-endian float32 that decodes to the float answer', async () => {
    const input = ['the quick brown fox', 'jumps over'];
    const floats = (await embed({ model: MODEL, input, encoding_format: 'float' })).json();
    const response = await embed({ model: MODEL, input, encoding_format: 'base64' });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json();
    assert.equal(body.data.length, 2);
    for (const [index, item] of body.data.entries()) {
      assert.equal(typeof item.embedding, 'string');
      assert.match(item.embedding, /^[A-Za-z0-9+/]+={0,2}$/);
      const expected = floats.data[index].embedding.map((value: number) => Math.fround(value));
      assert.deepEqual(decodeBase64(item.embedding), expected);
    }
    assert.deepEqual(body.usage, floats.usage);
  });

  test('52: 3 inputs → 3 items, index 0..2 in input order, usage present', async () => {
    const input = ['first', 'second text', 'third text here'];
    const response = await embed({ model: MODEL, input });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json();
    assert.deepEqual(
      body.data.map((item: any) => item.index),
      [0, 1, 2],
    );
    for (const [index, text] of input.entries()) {
      assert.deepEqual(body.data[index].embedding, simulatedEmbedding(MODEL, text));
    }
    assert.notDeepEqual(body.data[0].embedding, body.data[1].embedding);
    assert.ok(Number.isInteger(body.usage.prompt_tokens) && body.usage.prompt_tokens > 0);
    assert.equal(body.usage.total_tokens, body.usage.prompt_tokens);
  });

  test('53: dimensions equal to the native size → ok; 256 → 400 dimensions, no upstream call', async () => {
    const ok = await embed({ model: MODEL, input: 'hi', dimensions: DIMENSION });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().data[0].embedding.length, DIMENSION);

    const before = gateway.inferenceRequests().length;
    const error = assertInvalid(
      await embed({ model: MODEL, input: 'hi', dimensions: 256 }),
      400,
      'dimensions',
    );
    assert.equal(error.type, 'invalid_request_error');
    assert.match(error.message, /768/);
    assert.match(error.message, /truncation/);
    assert.equal(gateway.inferenceRequests().length, before);
  });

  test('54: token arrays, an empty string, an empty array or an empty item → 400 input, no upstream call', async () => {
    const before = gateway.inferenceRequests().length;
    for (const input of [
      [1, 2, 3],
      [[1, 2], [3]],
    ]) {
      const error = assertInvalid(await embed({ model: MODEL, input }), 400, 'input');
      assert.equal(error.code, 'unsupported_value');
      assert.match(error.message, /token/);
    }
    for (const input of ['', [], ['a', '', 'c'], ['a', 1], { text: 'a' }]) {
      assertInvalid(await embed({ model: MODEL, input }), 400, 'input');
    }
    assertInvalid(await embed({ model: MODEL }), 400, 'input');
    assert.equal(gateway.inferenceRequests().length, before);
  });

  test('encoding_format other than float or base64 → 400 encoding_format', async () => {
    assertInvalid(await embed({ model: MODEL, input: 'a', encoding_format: 'int8' }), 400, 'encoding_format');
  });

  test('served without /v1; user and unknown fields are ignored; encoding_format null → floats', async () => {
    const response = await embed(
      { model: MODEL, input: 'a', user: 'someone', encoding_format: null, vendor_field: { x: 1 } },
      '/embeddings',
    );
    assert.equal(response.statusCode, 200, response.body);
    assert.ok(Array.isArray(response.json().data[0].embedding));
    const [call] = embeddingCalls(gateway.inferenceRequests().length - 1);
    assert.deepEqual(Object.keys(call).sort(), ['inputs', 'model_id', 'parameters', 'project_id']);
  });

  test('2048 inputs (the most allowed) → 3 upstream calls of 1000, 1000 and 48, results in input order', async () => {
    const input = Array.from({ length: 2048 }, (_, index) => `document number ${index}`);
    const before = gateway.inferenceRequests().length;
    const response = await embed({ model: MODEL, input });
    assert.equal(response.statusCode, 200, response.body.slice(0, 300));

    // The batches run concurrently and may arrive in any order: sort them by their first input.
    const calls = embeddingCalls(before).sort(
      (a, b) => input.indexOf(a.inputs[0]) - input.indexOf(b.inputs[0]),
    );
    assert.deepEqual(
      calls.map((call) => call.inputs.length),
      [1000, 1000, 48],
    );
    assert.deepEqual(
      calls.flatMap((call) => call.inputs),
      input,
    );
    assert.ok(calls.every((call) => call.model_id === MODEL));

    const body = response.json();
    assert.equal(body.data.length, 2048);
    for (const [index, item] of body.data.entries()) {
      assert.equal(item.index, index);
      assert.deepEqual(item.embedding, simulatedEmbedding(MODEL, input[index]!), `item ${index}`);
    }
    // usage is summed over the three batches
    const tokens = input.reduce((sum, text) => sum + estimateTokens(text), 0);
    assert.deepEqual(body.usage, { prompt_tokens: tokens, total_tokens: tokens });
  });

  test('a chat model → 400 model_not_supported, no upstream call', async () => {
    const before = gateway.inferenceRequests().length;
    const error = assertInvalid(await embed({ model: 'ibm/granite-4-h-small', input: 'a' }), 400, 'model');
    assert.equal(error.code, 'model_not_supported');
    assert.match(error.message, /embeddings/);
    assert.equal(gateway.inferenceRequests().length, before);
  });

  test('an unknown model → 404 model_not_found, no upstream call', async () => {
    const before = gateway.inferenceRequests().length;
    const error = assertInvalid(await embed({ model: 'nope/not-a-model', input: 'a' }), 404, 'model');
    assert.equal(error.code, 'model_not_found');
    assert.equal(gateway.inferenceRequests().length, before);
  });

  test('MODEL_MAP alias → the target model upstream, the alias in the answer', async () => {
    const before = gateway.inferenceRequests().length;
    const response = await embed({ model: 'text-embedding-3-small', input: 'alias me' });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json();
    assert.equal(body.model, 'text-embedding-3-small');
    assert.deepEqual(
      body.data[0].embedding,
      simulatedEmbedding('ibm/slate-30m-english-rtrvr-v2', 'alias me'),
    );
    assert.equal(body.data[0].embedding.length, 384);
    assert.equal(embeddingCalls(before)[0].model_id, 'ibm/slate-30m-english-rtrvr-v2');
  });

  test("truncate_input_tokens: by default the model's context length", async () => {
    const before = gateway.inferenceRequests().length;
    assert.equal((await embed({ model: MODEL, input: 'a' })).statusCode, 200);
    assert.deepEqual(embeddingCalls(before)[0].parameters, { truncate_input_tokens: CONTEXT_LENGTH });
  });

  test('truncate_input_tokens: a configured number is sent (capped by the model), 0 sends none', async () => {
    await withGateway({ env: { EMBEDDINGS_TRUNCATE_INPUT_TOKENS: '128' } }, async (target) => {
      assert.equal((await embed({ model: MODEL, input: 'a' }, '/v1/embeddings', target)).statusCode, 200);
      assert.deepEqual(embeddingCalls(0, target)[0].parameters, { truncate_input_tokens: 128 });
    });
    await withGateway({ env: { EMBEDDINGS_TRUNCATE_INPUT_TOKENS: '100000' } }, async (target) => {
      assert.equal((await embed({ model: MODEL, input: 'a' }, '/v1/embeddings', target)).statusCode, 200);
      assert.deepEqual(embeddingCalls(0, target)[0].parameters, { truncate_input_tokens: CONTEXT_LENGTH });
    });
    await withGateway({ env: { EMBEDDINGS_TRUNCATE_INPUT_TOKENS: '0' } }, async (target) => {
      assert.equal((await embed({ model: MODEL, input: 'a' }, '/v1/embeddings', target)).statusCode, 200);
      assert.equal(embeddingCalls(0, target)[0].parameters, undefined);
    });
  });

  test('an input over the model limit: truncated by default, refused by watsonx with truncation off', async () => {
    const long = 'word '.repeat(CONTEXT_LENGTH + 100);
    const response = await embed({ model: MODEL, input: ['short', long] });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.json().usage.prompt_tokens, estimateTokens('short') + CONTEXT_LENGTH);
    await withGateway({ env: { EMBEDDINGS_TRUNCATE_INPUT_TOKENS: '0' } }, async (target) => {
      const refused = await embed({ model: MODEL, input: ['short', long] }, '/v1/embeddings', target);
      assert.equal(refused.statusCode, 400, refused.body);
      assert.match(refused.json().error.message, /maximum sequence length/);
    });
  });

  test('MODEL_VALIDATION=false: no truncation by default; dimensions checked against the answer', async () => {
    await withGateway({ env: { MODEL_VALIDATION: 'false' } }, async (target) => {
      const ok = await embed({ model: MODEL, input: 'a', dimensions: DIMENSION }, '/v1/embeddings', target);
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(embeddingCalls(0, target)[0].parameters, undefined);
      const error = assertInvalid(
        await embed({ model: MODEL, input: 'a', dimensions: 256 }, '/v1/embeddings', target),
        400,
        'dimensions',
      );
      assert.match(error.message, /768/);
    });
  });

  test('an upstream error in one of several batches → the mapped error for the whole request', async () => {
    const input = Array.from({ length: 2048 }, (_, index) => `t${index}`);
    const since = gateway.inferenceRequests().length;
    // Statuses the client does not retry, so exactly one of the three batches fails.
    gateway.simulator.enqueueFault({
      kind: 'http-error',
      status: 500,
      code: 'internal_error',
      message: 'boom',
    });
    const failed = await embed({ model: MODEL, input, encoding_format: 'base64' });
    const error = assertInvalid(failed, 502, null);
    assert.equal(error.code, 'upstream_error');
    assert.match(error.message, /boom/);
    // The other batches were aborted, but may reach the simulator after the answer: once they are
    // settled they can no longer take the next fault.
    for (let waited = 0; waited < 5000; waited += 10) {
      const calls = gateway.inferenceRequests().slice(since);
      if (calls.length >= 3 && calls.every((call) => call.aborted || call.finished)) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }

    gateway.simulator.enqueueFault({
      kind: 'http-error',
      status: 400,
      code: 'invalid_input_argument',
      message: 'inputs[3]: not acceptable',
    });
    const refused = await embed({ model: MODEL, input, encoding_format: 'base64' });
    assert.equal(assertInvalid(refused, 400, null).code, 'invalid_input_argument');

    // the fault is used up: the same request now succeeds
    assert.equal((await embed({ model: MODEL, input, encoding_format: 'base64' })).statusCode, 200);
  });
});

describe('runBounded (batch runner)', () => {
  const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

  test('keeps item order whatever the completion order, with at most `limit` in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const items = Array.from({ length: 11 }, (_, index) => index);
    const results = await runBounded(
      items,
      EMBEDDING_BATCH_CONCURRENCY,
      new AbortController().signal,
      async (item) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        // later items finish first
        await new Promise((resolve) => setTimeout(resolve, (11 - item) * 2));
        inFlight--;
        return item * 10;
      },
    );
    assert.deepEqual(
      results,
      items.map((item) => item * 10),
    );
    assert.equal(peak, 4);
  });

  test('the first failure aborts the calls in flight, starts no new ones, and is the error thrown', async () => {
    const parent = new AbortController();
    const started: number[] = [];
    const aborted: number[] = [];
    const failure = new Error('batch 1 failed');
    await assert.rejects(
      runBounded([0, 1, 2, 3, 4, 5, 6, 7], 4, parent.signal, async (item, signal) => {
        started.push(item);
        if (item === 1) {
          await tick();
          throw failure;
        }
        await new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, 5_000);
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            aborted.push(item);
            reject(new Error(`batch ${item} aborted`));
          });
        });
        return item;
      }),
      (error) => error === failure,
    );
    assert.equal(parent.signal.aborted, false, 'an upstream failure is not a client that went away');
    assert.deepEqual(started, [0, 1, 2, 3]);
    assert.deepEqual(aborted.sort(), [0, 2, 3]);
  });

  test('a client that went away stops the remaining batches', async () => {
    const abort = new AbortController();
    const started: number[] = [];
    await assert.rejects(
      runBounded([0, 1, 2, 3, 4, 5], 2, abort.signal, async (item) => {
        started.push(item);
        if (item === 1) abort.abort(new Error('client closed'));
        return item;
      }),
      /client closed/,
    );
    assert.ok(started.length < 6);
  });
});

test('more than 2048 inputs → 400 too_many_inputs, no upstream call', async () => {
  const before = gateway.inferenceRequests().length;
  const response = await embed({ model: MODEL, input: Array.from({ length: 2049 }, () => 'a') });
  assert.equal(response.statusCode, 400);
  assert.equal(response.json().error.code, 'too_many_inputs');
  assert.equal(response.json().error.param, 'input');
  assert.equal(gateway.inferenceRequests().length, before);
});
