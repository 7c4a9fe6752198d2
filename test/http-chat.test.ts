// HTTP tests through inject: /v1/chat/completions against the built-in simulator.
// Items refer to the conformance checklist in openai-surface.md §11.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { parseOpenAIStream } from './helpers/sse.ts';

const KEY = 'gateway-key-1';
const MODEL = 'ibm/granite-4-h-small';
let gateway: TestGateway;

before(async () => {
  gateway = await startTestGateway({
    env: { API_KEY: `${KEY}, gateway-key-2`, MODEL_MAP_GPT_4O: MODEL },
  });
});
after(() => gateway.close());

function chat(
  body: object,
  headers: Record<string, string> = { authorization: `Bearer ${KEY}` },
  url = '/v1/chat/completions',
) {
  return gateway.inject({ method: 'POST', url, headers, payload: body });
}

function lastUpstreamBody(): any {
  const requests = gateway.inferenceRequests();
  return requests[requests.length - 1]?.body;
}

const hello = { model: MODEL, messages: [{ role: 'user', content: 'hi' }] };
const addTool = {
  type: 'function',
  function: {
    name: 'add',
    description: 'Add two integers',
    parameters: {
      type: 'object',
      properties: { a: { type: 'integer' }, b: { type: 'integer' } },
      required: ['a', 'b'],
    },
  },
};

describe('transport and gateway auth', () => {
  test('1: Bearer key → 200 JSON with an x-request-id', async () => {
    const response = await chat(hello);
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    assert.match(String(response.headers['x-request-id']), /^req_[0-9a-f]{24,}$/);
  });

  test('2: api-key header (Azure style) and the second configured key work', async () => {
    assert.equal((await chat(hello, { 'api-key': KEY })).statusCode, 200);
    assert.equal((await chat(hello, { authorization: 'Bearer gateway-key-2' })).statusCode, 200);
  });

  test('3: wrong or missing key → 401 invalid_api_key, OpenAI-shaped', async () => {
    for (const headers of [{ authorization: 'Bearer nope' }, {}] as Record<string, string>[]) {
      const response = await chat(hello, headers);
      assert.equal(response.statusCode, 401);
      const { error } = response.json();
      assert.equal(error.type, 'invalid_request_error');
      assert.equal(error.code, 'invalid_api_key');
      assert.equal(error.param, null);
      assert.equal(typeof error.message, 'string');
      assert.ok(!response.body.includes(KEY));
    }
  });

  test('4: served without /v1 too', async () => {
    const response = await chat(hello, { authorization: `Bearer ${KEY}` }, '/chat/completions');
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().object, 'chat.completion');
  });

  test('5: SDK headers, unknown headers and query parameters are ignored', async () => {
    const response = await chat(
      hello,
      {
        authorization: `Bearer ${KEY}`,
        'x-stainless-lang': 'js',
        'x-stainless-retry-count': '0',
        'openai-organization': 'org-1',
        'openai-project': 'proj-1',
        'x-foo': 'bar',
      },
      '/v1/chat/completions?api-version=2024-10-21',
    );
    assert.equal(response.statusCode, 200);
  });

  test('6: CORS preflight echoes the requested headers', async () => {
    const response = await gateway.inject({
      method: 'OPTIONS',
      url: '/v1/chat/completions',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, x-stainless-os',
      },
    });
    assert.ok(response.statusCode >= 200 && response.statusCode < 300);
    assert.equal(response.headers['access-control-allow-origin'], '*');
    assert.equal(
      response.headers['access-control-allow-headers'],
      'authorization, content-type, x-stainless-os',
    );
  });

  test('7: a 5 MB body with a data-URL image is accepted', async () => {
    const image = `data:image/png;base64,${Buffer.alloc(3_900_000, 7).toString('base64')}`;
    const response = await chat({
      model: 'meta-llama/llama-3-2-11b-vision-instruct',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: image } },
          ],
        },
      ],
    });
    assert.equal(response.statusCode, 200, response.body.slice(0, 300));
    assert.equal(lastUpstreamBody().messages[0].content[1].image_url.url.length, image.length);
  });

  test('/health and / stay open with API_KEY set; unknown routes are JSON 404s', async () => {
    const health = await gateway.inject({ url: '/health' });
    assert.equal(health.statusCode, 200);
    assert.equal(health.json().status, 'ok');
    assert.equal(health.json().upstream.mode, 'ibm');
    assert.equal((await gateway.inject({ url: '/' })).json().name, 'watsonx-openai-proxy');
    const missing = await gateway.inject({
      method: 'POST',
      url: '/v1/nope',
      headers: { authorization: `Bearer ${KEY}` },
    });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.type, 'invalid_request_error');
  });

  test('/docs serves the OpenAPI UI and the document lists the chat route', async () => {
    const ui = await gateway.inject({ url: '/docs' });
    assert.ok(ui.statusCode === 200 || ui.statusCode === 302);
    const document = (await gateway.inject({ url: '/docs/json' })).json();
    assert.ok(document.paths['/v1/chat/completions'].post.requestBody);
  });

  test('request ids: an incoming x-request-id is echoed and sent upstream; a hostile one is replaced', async () => {
    const response = await chat(hello, { authorization: `Bearer ${KEY}`, 'x-request-id': 'trace-abc.123' });
    assert.equal(response.headers['x-request-id'], 'trace-abc.123');
    const upstream = gateway.inferenceRequests().at(-1)!;
    assert.equal(upstream.headers['x-global-transaction-id'], 'trace-abc.123');
    const hostile = await chat(hello, { authorization: `Bearer ${KEY}`, 'x-request-id': 'a'.repeat(300) });
    assert.match(String(hostile.headers['x-request-id']), /^req_/);
  });
});

describe('request validation and mapping', () => {
  test('8: minimal request → exact chat.completion shape', async () => {
    const response = await chat(hello);
    const body = response.json();
    assert.match(body.id, /^chatcmpl-/);
    assert.equal(body.object, 'chat.completion');
    assert.ok(Number.isInteger(body.created) && body.created > 1_600_000_000 && body.created < 4_000_000_000);
    assert.equal(body.model, MODEL);
    assert.equal(body.choices.length, 1);
    const [choice] = body.choices;
    assert.deepEqual(Object.keys(choice).sort(), ['finish_reason', 'index', 'logprobs', 'message']);
    assert.equal(choice.index, 0);
    assert.equal(choice.logprobs, null);
    assert.equal(choice.finish_reason, 'stop');
    assert.equal(choice.message.role, 'assistant');
    assert.equal(typeof choice.message.content, 'string');
    assert.ok(choice.message.content.length > 0);
    assert.equal(choice.message.refusal, null);
    assert.equal(choice.message.tool_calls, undefined);
    const usage = body.usage;
    assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
    assert.ok(usage.prompt_tokens > 0 && usage.completion_tokens > 0);
    assert.deepEqual(usage.prompt_tokens_details, { cached_tokens: 0 });
    assert.deepEqual(usage.completion_tokens_details, { reasoning_tokens: 0 });
    // upstream got the watsonx shape
    const upstream = lastUpstreamBody();
    assert.equal(upstream.model_id, MODEL);
    assert.equal(
      upstream.project_id,
      gateway.config.upstream.mode === 'ibm' ? (gateway.config.upstream.container as any).project_id : '',
    );
    assert.equal(upstream.max_completion_tokens, 4096, 'the default output cap is sent');
  });

  test('9/10: developer → system; text-part arrays on system and tool messages are flattened', async () => {
    const response = await chat({
      model: MODEL,
      messages: [
        { role: 'developer', content: 'Be terse.' },
        {
          role: 'system',
          content: [
            { type: 'text', text: 'Line one' },
            { type: 'text', text: 'Line two' },
          ],
        },
        { role: 'user', content: 'Add 2 and 3' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'add', arguments: '{"a":2,"b":3}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'text', text: '5' }] },
      ],
    });
    assert.equal(response.statusCode, 200, response.body);
    const messages = lastUpstreamBody().messages;
    assert.deepEqual(messages[0], { role: 'system', content: 'Be terse.' });
    assert.deepEqual(messages[1], { role: 'system', content: 'Line one\nLine two' });
    assert.deepEqual(messages[3], {
      role: 'assistant',
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'add', arguments: '{"a":2,"b":3}' } }],
    });
    assert.deepEqual(messages[4], { role: 'tool', tool_call_id: 'call_1', content: '5' });
    assert.match(response.json().choices[0].message.content, /5/);
  });

  test('11/12: unknown fields and stream_options without stream are accepted and never forwarded', async () => {
    const response = await chat({
      ...hello,
      store: false,
      metadata: { a: 'b' },
      service_tier: 'auto',
      prompt_cache_key: 'k',
      verbosity: 'low',
      foo: { bar: 1 },
      user: 'u-1',
      stream: false,
      stream_options: { include_usage: true },
      parallel_tool_calls: true,
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().object, 'chat.completion');
    const upstream = lastUpstreamBody();
    for (const key of [
      'store',
      'metadata',
      'service_tier',
      'prompt_cache_key',
      'verbosity',
      'foo',
      'user',
      'stream',
      'stream_options',
      'parallel_tool_calls',
    ]) {
      assert.equal(key in upstream, false, `${key} must not be forwarded`);
    }
  });

  test('13: max_completion_tokens / max_tokens cap the output (finish length); max_completion_tokens wins', async () => {
    for (const limit of [{ max_completion_tokens: 3 }, { max_tokens: 3 }]) {
      const body = (await chat({ ...hello, ...limit })).json();
      assert.equal(body.choices[0].finish_reason, 'length');
      assert.equal(body.usage.completion_tokens, 3);
    }
    await chat({ ...hello, max_tokens: 50, max_completion_tokens: 4 });
    assert.equal(lastUpstreamBody().max_completion_tokens, 4);
  });

  test('14: six stop strings (and a bare string) are accepted', async () => {
    assert.equal((await chat({ ...hello, stop: ['a', 'b', 'c', 'd', 'e', 'f'] })).statusCode, 200);
    assert.deepEqual(lastUpstreamBody().stop, ['a', 'b', 'c', 'd', 'e', 'f']);
    assert.equal((await chat({ ...hello, stop: 'END' })).statusCode, 200);
    assert.deepEqual(lastUpstreamBody().stop, ['END']);
  });

  test('15: n=2 → two choices indexed 0 and 1', async () => {
    const body = (await chat({ ...hello, n: 2 })).json();
    assert.deepEqual(
      body.choices.map((choice: any) => choice.index),
      [0, 1],
    );
  });

  test('16: a tool call → content null, id, type function, JSON-string arguments, finish tool_calls', async () => {
    const body = (
      await chat({
        model: MODEL,
        messages: [{ role: 'user', content: 'Use the add tool on 2 and 3' }],
        tools: [addTool],
      })
    ).json();
    const [choice] = body.choices;
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    const [call] = choice.message.tool_calls;
    assert.ok(call.id.length > 0);
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'add');
    assert.deepEqual(JSON.parse(call.function.arguments), { a: 2, b: 3 });
  });

  test('17/18: a no-argument tool gets "{}"; tool_choice object forces that function', async () => {
    const ping = { type: 'function', function: { name: 'ping' } };
    const body = (
      await chat({
        model: MODEL,
        messages: [{ role: 'user', content: 'hello there' }],
        tools: [addTool, ping],
        tool_choice: { type: 'function', function: { name: 'ping' } },
      })
    ).json();
    const [call] = body.choices[0].message.tool_calls;
    assert.equal(call.function.name, 'ping');
    assert.equal(call.function.arguments, '{}');
    assert.equal(body.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(lastUpstreamBody().tool_choice, { type: 'function', function: { name: 'ping' } });
  });

  test('tool_choice strings go to tool_choice_option; parallel_tool_calls false keeps one call', async () => {
    const sub = {
      type: 'function',
      function: { name: 'sub', parameters: { type: 'object', properties: { x: { type: 'number' } } } },
    };
    const parallel = (
      await chat({
        model: MODEL,
        messages: [{ role: 'user', content: 'call add and sub' }],
        tools: [addTool, sub],
        tool_choice: 'auto',
      })
    ).json();
    assert.equal(lastUpstreamBody().tool_choice_option, 'auto');
    assert.equal(parallel.choices[0].message.tool_calls.length, 2);
    const single = (
      await chat({
        model: MODEL,
        messages: [{ role: 'user', content: 'call add and sub' }],
        tools: [addTool, sub],
        parallel_tool_calls: false,
      })
    ).json();
    assert.equal(single.choices[0].message.tool_calls.length, 1);
  });

  test('19: assistant history with content null, "" and tool_calls null', async () => {
    for (const assistant of [
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'add', arguments: '{}' } }],
      },
      {
        role: 'assistant',
        content: '',
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'add', arguments: '{}' } }],
      },
    ]) {
      const response = await chat({
        model: MODEL,
        messages: [
          { role: 'user', content: 'x' },
          assistant,
          { role: 'tool', tool_call_id: 'c1', content: '0' },
        ],
      });
      assert.equal(response.statusCode, 200, response.body);
    }
    const plain = await chat({
      model: MODEL,
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: 'y', tool_calls: null },
        { role: 'user', content: 'z' },
      ],
    });
    assert.equal(plain.statusCode, 200);
    assert.deepEqual(lastUpstreamBody().messages[1], { role: 'assistant', content: 'y' });
  });

  test('20/21: response_format json_object and json_schema produce JSON content', async () => {
    const object = (await chat({ ...hello, response_format: { type: 'json_object' } })).json();
    assert.equal(typeof JSON.parse(object.choices[0].message.content), 'object');
    const schema = {
      type: 'object',
      properties: { city: { type: 'string' }, population: { type: 'integer' } },
      required: ['city', 'population'],
    };
    const structured = (
      await chat({
        ...hello,
        response_format: { type: 'json_schema', json_schema: { name: 'r', schema, strict: true } },
      })
    ).json();
    const parsed = JSON.parse(structured.choices[0].message.content);
    assert.equal(typeof parsed.city, 'string');
    assert.ok(Number.isInteger(parsed.population));
    assert.deepEqual(lastUpstreamBody().response_format, {
      type: 'json_schema',
      json_schema: { name: 'r', schema, strict: true },
    });
  });

  test('22/23: images to a text-only model and file parts are refused with 400', async () => {
    const image = await chat({
      model: MODEL,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'see' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
          ],
        },
      ],
    });
    assert.equal(image.statusCode, 400);
    assert.equal(image.json().error.type, 'invalid_request_error');
    const file = await chat({
      model: MODEL,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,AA' } },
          ],
        },
      ],
    });
    assert.equal(file.statusCode, 400);
    assert.equal(file.json().error.param, 'messages[0].content[0]');
    assert.equal(file.json().error.code, 'unsupported_content');
  });

  test('24: a prompt over the context window → 400 context_length_exceeded', async () => {
    const response = await chat({
      model: MODEL,
      messages: [{ role: 'user', content: 'word '.repeat(140_000) }],
    });
    assert.equal(response.statusCode, 400);
    const { error } = response.json();
    assert.equal(error.code, 'context_length_exceeded');
    assert.equal(error.param, 'messages');
    assert.match(error.message, /maximum context length/);
  });

  test('25: upstream 429 → 429 with retry-after and retry-after-ms', async () => {
    gateway.simulator.enqueueFault({
      kind: 'http-error',
      status: 429,
      code: 'rate_limit_reached_requests',
      message: 'Rate limit of 2 requests per 1s was reached',
      headers: { 'retry-after': '2' },
    });
    const response = await chat(hello);
    assert.equal(response.statusCode, 429);
    assert.equal(response.headers['retry-after'], '2');
    assert.equal(response.headers['retry-after-ms'], '2000');
    assert.equal(response.json().error.code, 'rate_limit_exceeded');
    assert.equal(response.json().error.type, 'requests');
  });

  test('26: watsonx refusing the gateway (403) → 502 with x-should-retry false and an operator message', async () => {
    gateway.simulator.enqueueFault({
      kind: 'http-error',
      status: 403,
      code: 'no_associated_service_instance_error',
      message: 'project_id x is not associated with a WML instance',
    });
    const response = await chat(hello);
    assert.equal(response.statusCode, 502);
    assert.equal(response.headers['x-should-retry'], 'false');
    assert.equal(response.json().error.code, 'upstream_auth_failed');
    assert.match(response.json().error.message, /WATSONX_PROJECT_ID/);
  });

  test('upstream 500 → 502 server_error; 503 stays 503', async () => {
    gateway.simulator.enqueueFault({
      kind: 'http-error',
      status: 500,
      code: 'internal_error',
      message: 'boom',
    });
    const failed = await chat(hello);
    assert.equal(failed.statusCode, 502);
    assert.equal(failed.json().error.type, 'server_error');
    gateway.simulator.enqueueFault({
      kind: 'http-error',
      status: 503,
      code: 'service_unavailable',
      message: 'busy',
    });
    assert.equal((await chat(hello)).statusCode, 503);
  });

  test('27: unknown model → 404 model_not_found', async () => {
    const response = await chat({ ...hello, model: 'acme/nope' });
    assert.equal(response.statusCode, 404);
    assert.equal(response.json().error.code, 'model_not_found');
    assert.equal(response.json().error.param, 'model');
  });

  test('MODEL_MAP: gpt-4o goes upstream as the mapped id and is echoed back as asked', async () => {
    const body = (await chat({ ...hello, model: 'gpt-4o' })).json();
    assert.equal(lastUpstreamBody().model_id, MODEL);
    assert.equal(body.model, 'gpt-4o');
  });

  test('validation: missing messages, wrong types, malformed JSON → 400 with param', async () => {
    const missing = await chat({ model: MODEL });
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json().error.param, 'messages');
    const wrongType = await chat({ ...hello, temperature: 'hot' });
    assert.equal(wrongType.statusCode, 400);
    assert.equal(wrongType.json().error.param, 'temperature');
    const badRole = await chat({ model: MODEL, messages: [{ role: 'wizard', content: 'x' }] });
    assert.equal(badRole.statusCode, 400);
    assert.equal(badRole.json().error.param, 'messages[0].role');
    assert.match(badRole.json().error.message, /"developer".*"tool"/);
    const malformed = await gateway.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      payload: '{"model": "x", "messages": [',
    });
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().error.code, 'invalid_json');
  });
});

describe('streaming', () => {
  async function stream(body: object) {
    const response = await chat({ ...body, stream: true });
    return { response, parsed: parseOpenAIStream(response.body) };
  }

  test('28–32, 41: SSE headers, role first, shared id, one finish, [DONE], no usage chunk unless asked', async () => {
    const { response, parsed } = await stream(hello);
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/event-stream/);
    assert.equal(response.headers['cache-control'], 'no-cache');
    assert.equal(response.headers['x-accel-buffering'], 'no');
    assert.equal(response.headers['content-encoding'], undefined);
    assert.ok(parsed.done);
    const { chunks } = parsed;
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    for (const chunk of chunks) {
      assert.equal(chunk.id, chunks[0].id);
      assert.equal(chunk.created, chunks[0].created);
      assert.equal(chunk.model, MODEL);
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.equal(chunk.choices.length, 1, 'no empty-choices chunk without include_usage');
      assert.equal('usage' in chunk, false);
    }
    assert.equal(chunks.filter((chunk) => chunk.choices[0].finish_reason !== null).length, 1);
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
    const text = chunks.map((chunk) => chunk.choices[0].delta.content ?? '').join('');
    const nonStream = (await chat(hello)).json();
    assert.equal(text, nonStream.choices[0].message.content);
  });

  test('31: include_usage → usage null on every chunk and one final choices:[] usage chunk', async () => {
    const { parsed } = await stream({ ...hello, stream_options: { include_usage: true } });
    const last = parsed.chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.ok(last.usage.prompt_tokens > 0);
    assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
    for (const chunk of parsed.chunks.slice(0, -1)) assert.equal(chunk.usage, null);
    assert.equal(parsed.chunks.filter((chunk) => chunk.choices.length === 0).length, 1);
  });

  test('33/34: streamed tool calls: index everywhere, id/type/name first, then arguments only', async () => {
    const sub = {
      type: 'function',
      function: { name: 'sub', parameters: { type: 'object', properties: { x: { type: 'number' } } } },
    };
    const { parsed } = await stream({
      model: MODEL,
      messages: [{ role: 'user', content: 'call add and sub with 4 and 5' }],
      tools: [addTool, sub],
    });
    const calls = new Map<number, { id: string; name: string; args: string }>();
    for (const chunk of parsed.chunks) {
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
        assert.equal(typeof delta.index, 'number');
        assert.equal(typeof delta.function, 'object');
        const known = calls.get(delta.index);
        if (!known) {
          assert.ok(delta.id, 'first delta has an id');
          assert.equal(delta.type, 'function');
          assert.ok(delta.function.name, 'first delta has the name');
          calls.set(delta.index, {
            id: delta.id,
            name: delta.function.name,
            args: delta.function.arguments ?? '',
          });
        } else {
          assert.deepEqual(Object.keys(delta).sort(), ['function', 'index']);
          assert.deepEqual(Object.keys(delta.function), ['arguments']);
          known.args += delta.function.arguments;
        }
      }
    }
    assert.deepEqual([...calls.keys()], [0, 1]);
    assert.notEqual(calls.get(0)!.id, calls.get(1)!.id);
    assert.deepEqual(JSON.parse(calls.get(0)!.args), { a: 4, b: 5 });
    assert.equal(calls.get(1)!.name, 'sub');
    JSON.parse(calls.get(1)!.args);
    assert.equal(parsed.chunks.at(-1).choices[0].finish_reason, 'tool_calls');
  });

  test('n=2 streams interleave into two finished choices', async () => {
    const { parsed } = await stream({ ...hello, n: 2 });
    const finishes = parsed.chunks
      .filter((chunk) => chunk.choices[0].finish_reason)
      .map((chunk) => chunk.choices[0].index);
    assert.deepEqual(finishes.sort(), [0, 1]);
    const roles = parsed.chunks
      .filter((chunk) => chunk.choices[0].delta.role)
      .map((chunk) => chunk.choices[0].index);
    assert.deepEqual(roles, [0, 1]);
  });

  test('2024 framing (running usage, event: close, name in the second delta) gives the same OpenAI stream', async () => {
    const { parsed } = await stream({
      model: MODEL,
      messages: [{ role: 'user', content: 'use the add tool on 1 and 2 [[sim:framing=2024]]' }],
      tools: [addTool],
      stream_options: { include_usage: true },
    });
    assert.ok(parsed.done);
    const first = parsed.chunks.find((chunk) => chunk.choices[0]?.delta.tool_calls)!;
    assert.equal(first.choices[0].delta.tool_calls[0].function.name, 'add');
    const args = parsed.chunks
      .flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? [])
      .map((delta: any) => delta.function.arguments)
      .join('');
    assert.deepEqual(JSON.parse(args), { a: 1, b: 2 });
    assert.ok(parsed.chunks.at(-1).usage.completion_tokens > 0);
  });

  test('reasoning models stream reasoning_content deltas before content', async () => {
    const { parsed } = await stream({
      model: 'openai/gpt-oss-120b',
      messages: [{ role: 'user', content: 'think' }],
    });
    const reasoning = parsed.chunks.map((chunk) => chunk.choices[0].delta.reasoning_content ?? '').join('');
    const content = parsed.chunks.map((chunk) => chunk.choices[0].delta.content ?? '').join('');
    assert.ok(reasoning.length > 0);
    assert.ok(content.length > 0);
    for (const chunk of parsed.chunks) {
      const delta = chunk.choices[0].delta;
      assert.ok(delta.reasoning_content !== '', 'empty reasoning deltas are dropped');
    }
  });

  test('upstream error before streaming → JSON error with the upstream status', async () => {
    const response = await chat({
      ...hello,
      stream: true,
      messages: [{ role: 'user', content: 'hi [[sim:error=429]]' }],
    });
    assert.equal(response.statusCode, 429);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    assert.equal(response.json().error.code, 'rate_limit_exceeded');
  });

  test('39: failure after the first byte → an error frame, then [DONE]', async () => {
    const { response, parsed } = await stream({
      ...hello,
      messages: [{ role: 'user', content: 'hello there friend [[sim:stream-error-after=3]]' }],
    });
    assert.equal(response.statusCode, 200);
    assert.ok(parsed.done);
    const last = parsed.chunks.at(-1);
    assert.equal(typeof last.error.message, 'string');
    assert.equal(last.error.type, 'server_error');
    assert.equal(parsed.chunks.filter((chunk) => chunk.choices?.[0]?.finish_reason).length, 0);
  });

  test('a stream that ends before the answer finished is an error, never a normal end', async () => {
    const { parsed } = await stream({
      ...hello,
      messages: [{ role: 'user', content: 'hello there friend [[sim:truncate-after=3]]' }],
    });
    const last = parsed.chunks.at(-1);
    assert.equal(last.error.code, 'upstream_stream_incomplete');
    assert.ok(parsed.done);
  });

  test('finish_reason time_limit → length; error → error frame', async () => {
    const { parsed } = await stream({
      ...hello,
      messages: [{ role: 'user', content: 'hi [[sim:finish=time_limit]]' }],
    });
    assert.equal(parsed.chunks.at(-1).choices[0].finish_reason, 'length');
    const failed = await stream({
      ...hello,
      messages: [{ role: 'user', content: 'hi [[sim:finish=error]]' }],
    });
    assert.equal(failed.parsed.chunks.at(-1).error.code, 'upstream_generation_failed');
  });
});

describe('IBM authentication', () => {
  test('a watsonx 401 (expired token) → one fresh token and one retry, invisible to the client', async () => {
    const before = gateway.simulator.issuedTokens();
    gateway.simulator.expireTokens();
    const response = await chat(hello);
    assert.equal(response.statusCode, 200);
    assert.equal(gateway.simulator.issuedTokens(), before + 1);
  });

  test('20 concurrent requests at a cold start cause exactly one IAM call', async () => {
    const cold = await startTestGateway();
    try {
      const responses = await Promise.all(
        Array.from({ length: 20 }, () =>
          cold.inject({ method: 'POST', url: '/v1/chat/completions', payload: hello }),
        ),
      );
      for (const response of responses) assert.equal(response.statusCode, 200);
      assert.equal(cold.simulator.issuedTokens(), 1);
      assert.equal(cold.simulator.requests.filter((request) => request.path === '/identity/token').length, 1);
    } finally {
      await cold.close();
    }
  });

  test('IAM rejecting the key → 502 naming the cause, without the key', async () => {
    const rejected = await startTestGateway({ apiKey: 'invalid-secret-key-123' });
    try {
      const response = await rejected.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        payload: hello,
      });
      assert.equal(response.statusCode, 502);
      assert.equal(response.json().error.code, 'upstream_auth_failed');
      assert.match(response.json().error.message, /IAM rejected/);
      assert.match(response.json().error.message, /BXNIM0415E/);
      assert.ok(!response.body.includes('invalid-secret-key-123'));
      assert.equal(rejected.inferenceRequests().length, 0);
    } finally {
      await rejected.close();
    }
  });

  test('IAM unreachable → 503 iam_unavailable', async () => {
    const unreachable = await startTestGateway({ env: { IBM_IAM_URL: 'http://127.0.0.1:9' } });
    try {
      const response = await unreachable.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        payload: hello,
      });
      assert.equal(response.statusCode, 503);
      assert.equal(response.json().error.code, 'iam_unavailable');
      const health = (await unreachable.inject({ url: '/health' })).json();
      assert.equal(health.upstream.token.status, 'failed');
    } finally {
      await unreachable.close();
    }
  });
});

describe('limits', () => {
  test('a body over BODY_LIMIT_MB → 413 OpenAI-shaped', async () => {
    const small = await startTestGateway({ env: { BODY_LIMIT_MB: '0.01' } });
    try {
      const response = await small.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        payload: { model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(20_000) }] },
      });
      assert.equal(response.statusCode, 413);
      assert.equal(response.json().error.code, 'request_too_large');
    } finally {
      await small.close();
    }
  });
});
