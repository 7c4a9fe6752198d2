// End to end: embeddings through the official `openai` package against the gateway on a real port
// and the simulator. The SDK asks for base64 when the caller gives no format and decodes it itself,
// so a fetch wrapper records the wire bodies to prove which path was taken. Loopback only.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { simulatedEmbedding } from '../src/simulator/index.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const KEY = 'e2e-gateway-key';
const MODEL = 'ibm/granite-embedding-278m-multilingual';
const DIMENSION = 768;
let gateway: TestGateway;
let client: OpenAI;
let wire: Array<{ request: any; response: any }> = [];

before(async () => {
  gateway = await startTestGateway({ listen: true, env: { API_KEY: KEY } });
  const recordingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    wire.push({ request: JSON.parse(String(init?.body)), response: await response.clone().json() });
    return response;
  };
  client = new OpenAI({ apiKey: KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0, fetch: recordingFetch });
});
after(() => gateway.close());

const float32 = (vector: readonly number[]) => vector.map((value) => Math.fround(value));

describe('openai SDK embeddings.create', () => {
  test('50: without encoding_format → base64 on the wire, decoded to the simulator vector as float32', async () => {
    wire = [];
    const input = ['hello world', 'second input'];
    const result = await client.embeddings.create({ model: MODEL, input });
    assert.equal(wire[0]?.request.encoding_format, 'base64');
    assert.equal(typeof wire[0]?.response.data[0].embedding, 'string');

    assert.equal(result.object, 'list');
    assert.equal(result.model, MODEL);
    assert.equal(result.data.length, 2);
    for (const [index, text] of input.entries()) {
      const item = result.data[index]!;
      assert.equal(item.index, index);
      assert.equal(item.embedding.length, DIMENSION);
      assert.deepEqual(item.embedding, float32(simulatedEmbedding(MODEL, text)));
    }
    assert.ok(result.usage.prompt_tokens > 0);
    assert.equal(result.usage.total_tokens, result.usage.prompt_tokens);
  });

  test("a 1024-dimension model's vectors keep their length through base64", async () => {
    const model = 'intfloat/multilingual-e5-large';
    const result = await client.embeddings.create({ model, input: 'query: what is watsonx?' });
    assert.equal(result.data[0]!.embedding.length, 1024);
    assert.deepEqual(
      result.data[0]!.embedding,
      float32(simulatedEmbedding(model, 'query: what is watsonx?')),
    );
  });

  test("encoding_format 'float' → floats on the wire, the same values", async () => {
    wire = [];
    const text = 'hello world';
    const floats = await client.embeddings.create({ model: MODEL, input: text, encoding_format: 'float' });
    assert.ok(Array.isArray(wire[0]?.response.data[0].embedding));
    assert.deepEqual(floats.data[0]!.embedding, simulatedEmbedding(MODEL, text));
    const decoded = await client.embeddings.create({ model: MODEL, input: text });
    assert.deepEqual(decoded.data[0]!.embedding, float32(floats.data[0]!.embedding));
  });

  test('over 1000 inputs: split upstream, every vector back in input order', async () => {
    const input = Array.from(
      { length: 1234 },
      (_, index) => `passage ${index}: ${'lorem '.repeat(index % 7)}`,
    );
    const before = gateway.inferenceRequests().length;
    const result = await client.embeddings.create({ model: MODEL, input });
    const calls = gateway
      .inferenceRequests()
      .slice(before)
      .map((request) => (request.body as { inputs: string[] }).inputs.length)
      .sort((a, b) => b - a);
    assert.deepEqual(calls, [1000, 234]);
    assert.equal(result.data.length, input.length);
    for (const [index, item] of result.data.entries()) {
      assert.equal(item.index, index);
      assert.deepEqual(item.embedding, float32(simulatedEmbedding(MODEL, input[index]!)), `item ${index}`);
    }
  });

  test('dimensions other than the native size → BadRequestError with param dimensions', async () => {
    await assert.rejects(
      client.embeddings.create({ model: MODEL, input: 'a', dimensions: 256 }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.BadRequestError);
        assert.equal(error.param, 'dimensions');
        return true;
      },
    );
  });
});
