// Relaying watsonx's own text of the vectors (src/watsonx/embedding-text.ts, serializeFloatEmbeddings)
// and, through HTTP, that a float answer carries the numbers as watsonx spelled them.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { serializeFloatEmbeddings, toEmbeddingResponse } from '../src/translate/embeddings.ts';
import { embeddingTexts } from '../src/watsonx/embedding-text.ts';
import { startTestGateway } from './helpers/gateway.ts';

const MODEL_ID = 'ibm/granite-embedding-278m-multilingual';

test('embeddingTexts: each vector in order, whatever the spacing; "embedding" inside a string is not a key', () => {
  const body =
    '{"model_id":"m","results":[{"embedding":[1e-7, -0.5,2]},{"input":"say \\"embedding\\":[9]",' +
    '"embedding" : [0.25,3]}],"input_token_count":4}';
  assert.deepEqual(embeddingTexts(body, 2), ['[1e-7, -0.5,2]', '[0.25,3]']);
  assert.equal(embeddingTexts(body, 3), undefined, 'a count other than expected is refused');
  assert.equal(embeddingTexts('{"results":[{"embedding":[1,2', 1), undefined, 'unterminated');
});

test('serializeFloatEmbeddings: the JSON of the result, numbers spelled as given; mismatches refused', () => {
  const request = { model_id: MODEL_ID, inputs: ['a', 'b'] };
  const response = {
    model_id: MODEL_ID,
    results: [{ embedding: [1e-7, -0.5, 2] }, { embedding: [0.25, 3, 4] }],
    input_token_count: 4,
  };
  const result = toEmbeddingResponse([request], [response], { model: 'alias', encodingFormat: 'float' });
  const plain = ['[1e-7,-0.5,2]', '[0.25,3,4]'];
  assert.deepEqual(JSON.parse(serializeFloatEmbeddings(result, plain)!), JSON.parse(JSON.stringify(result)));
  const spelled = serializeFloatEmbeddings(result, ['[1.0E-7, -0.50, 2]', '[0.25,3,4]'])!;
  assert.match(spelled, /"embedding":\[1\.0E-7, -0\.50, 2\]/);
  assert.deepEqual(JSON.parse(spelled), JSON.parse(JSON.stringify(result)));
  assert.equal(serializeFloatEmbeddings(result, ['[1,2]', '[0.25,3,4]']), undefined, 'length differs');
  assert.equal(serializeFloatEmbeddings(result, [undefined, '[0.25,3,4]']), undefined, 'text missing');
  assert.equal(serializeFloatEmbeddings(result, plain.slice(0, 1)), undefined, 'count differs');
});

test('through HTTP: float answers carry watsonx spelling; base64 answers are unchanged', async () => {
  const watsonx = createServer((request, response) => {
    let body = '';
    request.on('data', (part: Buffer) => (body += part));
    request.on('end', () => {
      const inputs = (JSON.parse(body) as { inputs: string[] }).inputs;
      const results = inputs.map((_, index) => `{"embedding":[1.5E-7,${index},-0.25]}`).join(',');
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(`{"model_id":"${MODEL_ID}","results":[${results}],"input_token_count":${inputs.length}}`);
    });
  });
  await new Promise<void>((resolve) => watsonx.listen(0, '127.0.0.1', resolve));
  const { port } = watsonx.address() as { port: number };
  const gateway = await startTestGateway({
    env: { WATSONX_URL: `http://127.0.0.1:${port}`, MODEL_VALIDATION: 'false' },
  });
  try {
    const post = (payload: object) =>
      gateway.inject({ method: 'POST', url: '/v1/embeddings', payload: payload as Record<string, unknown> });
    const float = await post({ model: MODEL_ID, input: ['a', 'b'] });
    assert.equal(float.statusCode, 200);
    assert.match(float.body, /"embedding":\[1\.5E-7,1,-0\.25\]/);
    assert.deepEqual(float.json().data[1].embedding, [1.5e-7, 1, -0.25]);
    assert.deepEqual(float.json().usage, { prompt_tokens: 2, total_tokens: 2 });
    const base64 = await post({ model: MODEL_ID, input: ['a'], encoding_format: 'base64' });
    const bytes = Uint8Array.from(Buffer.from(base64.json().data[0].embedding, 'base64'));
    const floats = new Float32Array(bytes.buffer);
    assert.deepEqual([...floats], [Math.fround(1.5e-7), 0, -0.25]);
  } finally {
    await gateway.close();
    watsonx.close();
  }
});
