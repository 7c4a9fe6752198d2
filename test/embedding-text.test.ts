// Relaying watsonx's own bytes of the vectors (src/watsonx/embedding-text.ts, toEmbeddingBody)
// and, through HTTP, that a float answer carries the numbers as watsonx spelled them.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { ProxyError } from '../src/server/errors.ts';
import { encodeFloat32Base64, toEmbeddingBody } from '../src/openai/translate/embeddings.ts';
import { numberArrayLength, skeletonFits, splitEmbeddingVectors } from '../src/watsonx/embedding-text.ts';
import type { WatsonxEmbeddingsResponse } from '../src/watsonx/types.ts';
import { startTestGateway } from './helpers/gateway.ts';

const MODEL_ID = 'ibm/granite-embedding-278m-multilingual';

test('splitEmbeddingVectors: each vector in order, whatever the spacing; "embedding" as a value or inside a string is not a key', () => {
  const body = Buffer.from(
    '{"model_id":"m","results":[{"embedding":[1e-7, -0.5,2]},{"input":"say \\"embedding\\":[9]",' +
      '"kind":"embedding","embedding" :\n [0.25,3, 4]}],"input_token_count":4}',
  );
  const split = splitEmbeddingVectors(body)!;
  assert.deepEqual(
    split.vectors.map((vector) => [vector.json.toString(), vector.length]),
    [
      ['[1e-7, -0.5,2]', 3],
      ['[0.25,3, 4]', 3],
    ],
  );
  const skeleton = JSON.parse(split.skeleton) as WatsonxEmbeddingsResponse;
  assert.deepEqual(skeleton.results, [
    { embedding: [0] },
    { input: 'say "embedding":[9]', kind: 'embedding', embedding: [1] },
  ]);
  assert.equal(skeletonFits(skeleton, split.vectors), true);
  assert.equal(skeletonFits(skeleton, split.vectors.slice(1)), false, 'a count other than the results');
  // A key JSON.parse reads as "embedding" but spelled otherwise, or a repeated key: the vectors
  // found are not the results' own, and the whole answer is parsed instead.
  for (const tricky of [
    '{"results":[{"embedding":[1,2]},{"embedd\\u0069ng":[]}],"extra":{"embedding":[3,4]}}',
    '{"results":[{"embedding":[1,2],"embedding":[5,6]}],"extra":{"embedding":[3,4]}}',
  ]) {
    const trickySplit = splitEmbeddingVectors(Buffer.from(tricky))!;
    assert.equal(skeletonFits(JSON.parse(trickySplit.skeleton), trickySplit.vectors), false, tricky);
  }
  assert.equal(
    splitEmbeddingVectors(Buffer.from('{"results":[{"embedding":[1,2')),
    undefined,
    'unterminated',
  );
  assert.equal(splitEmbeddingVectors(Buffer.from('{"results":[{"embedding":[1,null]}]}')), undefined);
  assert.equal(splitEmbeddingVectors(Buffer.from('{"results":[{"embedding":null}]}')), undefined);
});

test('numberArrayLength: JSON numbers only (RFC 8259), separated by commas; an expected length is enforced', () => {
  const valid: Array<[string, number]> = [
    ['', 0],
    [' ', 0],
    ['0', 1],
    ['-0.5', 1],
    ['1e-7, -0.50 ,2', 3],
    ['1.5E+10,0e0,-12.25e-3', 3],
    [' 7 , 8 ', 2],
  ];
  for (const [inside, count] of valid) {
    assert.equal(numberArrayLength(`[${inside}]`), count, inside);
    assert.equal(numberArrayLength(`[${inside}]`, count), count, `${inside}, expected ${count}`);
    assert.equal(numberArrayLength(`[${inside}]`, count + 1), -1, `${inside}, expected ${count + 1}`);
  }
  for (const inside of [
    '1,',
    ',1',
    '01',
    '1.',
    '.5',
    '-',
    '1e',
    '1e+',
    '+1',
    '1.5.2',
    '1ee2',
    '1,\f2',
    '1,\v2',
    '1,\u00a02',
    '\u00a0',
    'NaN',
    'null',
    '1 2',
    '"1"',
    '[1]',
  ]) {
    assert.equal(numberArrayLength(`[${inside}]`), -1, inside);
  }
  const split = splitEmbeddingVectors(Buffer.from('{"results":[{"embedding":[1,2]},{"embedding":[3]}]}'));
  assert.equal(split, undefined, 'vectors of different lengths are left to the whole parse');
});

test('toEmbeddingBody: the OpenAI list, parsed vectors or raw ones spelled as watsonx wrote them', () => {
  const request = { model_id: MODEL_ID, inputs: ['a', 'b'] };
  const response = {
    model_id: MODEL_ID,
    results: [{ embedding: [1e-7, -0.5, 2] }, { embedding: [0.25, 3, 4] }],
    input_token_count: 4,
  };
  const join = (parts: Array<string | Buffer>) => parts.map((part) => part.toString()).join('');
  for (const encodingFormat of ['float', 'base64'] as const) {
    const context = { model: 'alias', encodingFormat };
    const vector = (numbers: number[]) =>
      encodingFormat === 'base64' ? encodeFloat32Base64(numbers) : numbers;
    const expected = JSON.stringify({
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: vector([1e-7, -0.5, 2]) },
        { object: 'embedding', index: 1, embedding: vector([0.25, 3, 4]) },
      ],
      model: 'alias',
      usage: { prompt_tokens: 4, total_tokens: 4 },
    });
    const parsed = toEmbeddingBody([request], [{ response, vectors: undefined }], context);
    assert.equal(join(parsed.parts), expected, `${encodingFormat}, parsed answer`);
    assert.deepEqual(parsed.usage, { prompt_tokens: 4, total_tokens: 4 });
    const body = Buffer.from(
      `{"model_id":"${MODEL_ID}","results":[{"embedding":[1.0E-7, -0.50, 2]},{"embedding":[0.25,3,4]}],"input_token_count":4}`,
    );
    const split = splitEmbeddingVectors(body)!;
    const raw = toEmbeddingBody(
      [request],
      [{ response: JSON.parse(split.skeleton), vectors: split.vectors }],
      context,
    );
    const text = join(raw.parts);
    assert.deepEqual(JSON.parse(text), JSON.parse(expected), `${encodingFormat}, raw answer`);
    if (encodingFormat === 'float') assert.match(text, /"embedding":\[1\.0E-7, -0\.50, 2\]/);
    else assert.equal(text, expected);
  }
  // Parsed whole, anything may be where a vector should be: only arrays of finite numbers pass (502).
  const unusable = [
    [{ embedding: [1, 2] }, { embedding: [3] }],
    [{ embedding: { json: ']}<x>', length: 2 } }, { embedding: [3, 4] }],
    [{ embedding: null }, { embedding: [3, 4] }],
    [{ embedding: ['a', 'b'] }, { embedding: [3, 4] }],
    [{ embedding: [[1], [2]] }, { embedding: [3, 4] }],
  ];
  for (const results of unusable) {
    for (const encodingFormat of ['float', 'base64'] as const) {
      assert.throws(
        () =>
          toEmbeddingBody([request], [{ response: { results } as never, vectors: undefined }], {
            model: 'm',
            encodingFormat,
          }),
        (error: unknown) => error instanceof ProxyError && error.status === 502,
        `${JSON.stringify(results)} ${encodingFormat}`,
      );
    }
  }
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
