// POST /v1/responses and GET/DELETE /v1/responses/{id} through app.inject: the front door's hooks
// (key, schema validation), the Responses error envelope, what watsonx is sent (the simulator's
// request log), stored responses and item references, and the stream's terminal events.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { checkResponseEvents, type StreamEvent } from './helpers/responses-events.ts';

const KEY = 'http-responses-key';
const MODEL = 'ibm/granite-4-h-small';
const headers = { authorization: `Bearer ${KEY}` };
let gateway: TestGateway;
const logLines: Array<Record<string, unknown>> = [];

before(async () => {
  gateway = await startTestGateway({
    env: { API_KEY: KEY },
    logger: {
      level: 'info',
      stream: new Writable({
        write(chunk: Buffer, _encoding, callback) {
          for (const line of chunk.toString('utf8').split('\n')) if (line) logLines.push(JSON.parse(line));
          callback();
        },
      }),
    },
  });
});
after(() => gateway.close());

const post = (payload: object, url = '/v1/responses') =>
  gateway.inject({ method: 'POST', url, headers, payload });
const upstreamBody = () => gateway.inferenceRequests().at(-1)!.body as Record<string, unknown>;

function events(body: string): StreamEvent[] {
  return body
    .split('\n\n')
    .filter((frame) => frame.startsWith('event: '))
    .map((frame) => JSON.parse(frame.split('\n')[1]!.slice(6)) as StreamEvent);
}

describe('POST /v1/responses', () => {
  test('needs the gateway key; answers in the error envelope', async () => {
    const response = await gateway.inject({
      method: 'POST',
      url: '/v1/responses',
      payload: { model: MODEL },
    });
    assert.equal(response.statusCode, 401);
    assert.equal(response.json().error.type, 'invalid_request_error');
  });

  test('a body without model is a 400 naming it; the bare path works too', async () => {
    const missing = await post({ input: 'hi' });
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json().error.param, 'model');
    const bare = await post({ model: MODEL, input: 'hi' }, '/responses');
    assert.equal(bare.statusCode, 200);
    assert.equal(bare.json().object, 'response');
  });

  test('conversation, background and prompt are refused with a 400 naming the field; unknown fields are ignored', async () => {
    for (const field of ['conversation', 'background', 'prompt']) {
      const value = field === 'background' ? true : { id: 'x' };
      const response = await post({ model: MODEL, input: 'hi', [field]: value });
      assert.equal(response.statusCode, 400, field);
      assert.equal(response.json().error.param, field);
    }
    const extra = await post({
      model: MODEL,
      input: 'hi',
      prompt_cache_key: 'k',
      client_metadata: { a: 'b' },
    });
    assert.equal(extra.statusCode, 200);
  });

  test('the recorded Codex request streams to response.completed; web_search is dropped with a log line', async () => {
    const recorded = JSON.parse(
      readFileSync(new URL('./fixtures/responses/client-requests.json', import.meta.url), 'utf8'),
    ) as Array<{ client: string; op: string; body: object }>;
    const codex = recorded.find((entry) => entry.client.includes('codex') && entry.op === 'say-hi')!.body;
    const response = await post(codex);
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/event-stream/);
    const final = checkResponseEvents(events(response.body));
    assert.equal(final.status, 'completed');
    const sent = upstreamBody();
    assert.equal(
      (sent.tools as Array<{ function: { name: string } }>).some(
        (tool) => tool.function.name === 'web_search',
      ),
      false,
    );
    const logged = logLines.find((line) => line.msg === 'responses: left out what watsonx chat cannot serve');
    assert.deepEqual(logged?.dropped, ['tools[8]: web_search']);
  });

  test('Codex’s two turns (recorded): exec_command called with the marker’s arguments, then the answer quotes its output', async () => {
    const { turns } = JSON.parse(
      readFileSync(new URL('./fixtures/responses/codex-turns.json', import.meta.url), 'utf8'),
    ) as { turns: object[] };
    const first = checkResponseEvents(events((await post(turns[0]!)).body));
    assert.deepEqual(
      first.output.map((item) => {
        const { type, name, arguments: args } = item as Record<string, unknown>;
        return { type, name, args };
      }),
      [{ type: 'function_call', name: 'exec_command', args: '{"cmd":"echo hello-from-watsonx"}' }],
    );
    const second = checkResponseEvents(events((await post(turns[1]!)).body));
    assert.equal(second.status, 'completed');
    assert.match(String(second.output_text), /^The tool returned: [\s\S]*hello-from-watsonx/);
  });

  test('the output budget: max_output_tokens when sent, else the catalogue’s limit of the model', async () => {
    await post({ model: MODEL, input: 'hi', max_output_tokens: 5 });
    assert.equal(upstreamBody().max_completion_tokens, 5);
    await post({ model: 'ibm/granite-3-3-8b-instruct', input: 'hi' });
    assert.equal(upstreamBody().max_completion_tokens, 8192);
  });

  test('cut by max_output_tokens: status incomplete, incomplete_details.reason max_output_tokens', async () => {
    const response = (await post({ model: MODEL, input: 'hello there', max_output_tokens: 3 })).json();
    assert.equal(response.status, 'incomplete');
    assert.deepEqual(response.incomplete_details, { reason: 'max_output_tokens' });
    assert.equal(response.output_text, 'Simulated answer from');
    const streamed = await post({ model: MODEL, input: 'hello there', max_output_tokens: 3, stream: true });
    assert.equal(events(streamed.body).at(-1)!.type, 'response.incomplete');
  });

  test('watsonx ending with cancelled: a 502 without stream, response.failed in a stream', async () => {
    const plain = await post({ model: MODEL, input: 'hi [[sim:finish=cancelled]]' });
    assert.equal(plain.statusCode, 502);
    assert.equal(plain.json().error.code, 'upstream_generation_failed');
    const streamed = await post({ model: MODEL, input: 'hi [[sim:finish=cancelled]]', stream: true });
    assert.equal(events(streamed.body).at(-1)!.type, 'response.failed');
  });

  test('a stream watsonx cuts before its finish ends with error + response.failed, never silently', async () => {
    const response = await post({ model: MODEL, input: 'hi [[sim:truncate-after=3]]', stream: true });
    const all = events(response.body);
    checkResponseEvents(all);
    assert.deepEqual(
      all.slice(-2).map((event) => event.type),
      ['error', 'response.failed'],
    );
    assert.equal((all.at(-1)!.response as { error: { code: string } }).error.code, 'server_error');
  });

  test('an image to a model without vision is a 400; a vision model gets image_url parts', async () => {
    const input = [
      {
        role: 'user',
        content: [
          { type: 'input_text', text: 'What is it?' },
          { type: 'input_image', image_url: 'data:image/png;base64,iVBORw0KGgo=' },
        ],
      },
    ];
    const refused = await post({ model: MODEL, input });
    assert.equal(refused.statusCode, 400);
    assert.equal(refused.json().error.code, 'unsupported_content');
    const vision = await post({ model: 'meta-llama/llama-3-2-11b-vision-instruct', input });
    assert.equal(vision.statusCode, 200);
    const sent = upstreamBody().messages as Array<{ content: Array<{ type: string }> }>;
    assert.deepEqual(
      sent[0]!.content.map((part) => part.type),
      ['text', 'image_url'],
    );
  });

  test('item_reference (the AI SDK with store on) is replaced by the stored item', async () => {
    const first = (await post({ model: MODEL, input: 'Remember me' })).json();
    const second = await post({
      model: MODEL,
      input: [
        { role: 'user', content: 'Remember me' },
        { type: 'item_reference', id: first.output[0].id },
        { role: 'user', content: 'Now what?' },
      ],
    });
    assert.equal(second.statusCode, 200);
    assert.deepEqual(
      (upstreamBody().messages as Array<{ role: string; content: string }>).map((message) => message.content),
      ['Remember me', first.output_text, 'Now what?'],
    );
    const unknown = await post({ model: MODEL, input: [{ type: 'item_reference', id: 'msg_gone' }] });
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().error.param, 'input[0].id');
  });

  test('usage is counted for the request (metrics by route and model)', async () => {
    await post({ model: MODEL, input: 'count me', stream: true });
    const metrics = await gateway.inject({ url: '/metrics' });
    assert.match(
      metrics.body,
      /gateway_requests_total\{route="\/v1\/responses",status="200",model="ibm\/granite-4-h-small"\}/,
    );
    assert.match(metrics.body, /gateway_stream_time_to_first_token_seconds_count\{route="\/v1\/responses"\}/);
  });
});

describe('GET and DELETE /v1/responses/{response_id}', () => {
  test('an unknown id is a 404 response_not_found in the error envelope; the key is needed', async () => {
    for (const method of ['GET', 'DELETE'] as const) {
      const missing = await gateway.inject({ method, url: '/v1/responses/resp_nothing', headers });
      assert.equal(missing.statusCode, 404, method);
      assert.deepEqual(missing.json().error, {
        message:
          "No response with id 'resp_nothing': it expired, was deleted, or was created with store: false.",
        type: 'invalid_request_error',
        param: 'response_id',
        code: 'response_not_found',
      });
      const anonymous = await gateway.inject({ method, url: '/v1/responses/resp_nothing' });
      assert.equal(anonymous.statusCode, 401);
    }
  });

  test('a streamed response is stored as its terminal event showed it; delete answers deleted: true', async () => {
    const streamed = await post({ model: MODEL, input: 'keep this', stream: true });
    const final = events(streamed.body).at(-1)!.response as { id: string };
    const got = await gateway.inject({ url: `/responses/${final.id}`, headers });
    assert.equal(got.statusCode, 200);
    assert.deepEqual(got.json(), final);
    const deleted = await gateway.inject({ method: 'DELETE', url: `/v1/responses/${final.id}`, headers });
    assert.deepEqual(deleted.json(), { id: final.id, object: 'response', deleted: true });
  });

  test('POST /v1/responses/input_tokens is not served: a 404 in the error envelope', async () => {
    const response = await post({ model: MODEL, input: 'x' }, '/v1/responses/input_tokens');
    assert.equal(response.statusCode, 404);
    assert.equal(response.json().error.code, 'unknown_url');
  });
});

test('the surface imports nothing from another surface, and src/watsonx nothing from it', () => {
  const root = new URL('../src/', import.meta.url);
  const files = (folder: string) =>
    readdirSync(new URL(folder, root), { recursive: true, encoding: 'utf8' })
      .filter((name) => name.endsWith('.ts'))
      .map((name) => readFileSync(new URL(`${folder}/${name}`, root), 'utf8'));
  const sources = files('responses');
  assert.ok(sources.length > 5);
  for (const source of sources) assert.doesNotMatch(source, /from '(\.\.\/)+(openai|anthropic)\//);
  for (const source of files('watsonx')) assert.doesNotMatch(source, /responses\//);
});
