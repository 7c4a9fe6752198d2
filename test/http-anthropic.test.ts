// POST /v1/messages, /v1/messages/count_tokens and the Anthropic-shaped GET /v1/models through the
// gateway's HTTP (app.inject) against the simulator: headers Claude Code sends, the error envelope
// and statuses the Anthropic SDKs expect, stream grammar, faults before and after the first byte.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { parseAnthropicStream } from './helpers/anthropic-sse.ts';

const KEY = 'anthropic-gateway-key';
const MODEL = 'ibm/granite-4-h-small';
/** What Claude Code 2.1.332 sends besides the body (recorded). */
const CLAUDE_CODE_HEADERS = {
  'x-api-key': KEY,
  'anthropic-version': '2023-06-01',
  'anthropic-beta':
    'claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,per-turn-control-2026-07-01',
  'anthropic-dangerous-direct-browser-access': 'true',
  'x-app': 'cli',
  'user-agent': 'claude-cli/2.1.332 (external, sdk-cli)',
};
const claudeCodeBody = JSON.parse(
  readFileSync(new URL('./fixtures/claude-code-messages-request.json', import.meta.url), 'utf8'),
);

let gateway: TestGateway;
before(async () => {
  gateway = await startTestGateway({
    env: { API_KEY: KEY, MODEL_MAP_CLAUDE_HAIKU_4_5: MODEL },
    simulator: { chunkDelayMs: 0 },
    keepAliveMs: 50,
  });
});
after(() => gateway.close());

const post = (payload: object, options: { url?: string; headers?: Record<string, string> } = {}) =>
  gateway.inject({
    method: 'POST',
    url: options.url ?? '/v1/messages?beta=true',
    headers: options.headers ?? CLAUDE_CODE_HEADERS,
    payload,
  });
const hello = { model: MODEL, max_tokens: 200, messages: [{ role: 'user', content: 'Hello there' }] };
const lastUpstreamBody = () => gateway.inferenceRequests().at(-1)!.body as Record<string, any>;

describe('POST /v1/messages', () => {
  test('Claude Code headers (x-api-key, anthropic-version, any anthropic-beta) and ?beta=true: a Message, request-id header', async () => {
    const response = await post(hello);
    assert.equal(response.statusCode, 200);
    const message = response.json();
    assert.match(message.id, /^msg_/);
    assert.equal(message.type, 'message');
    assert.equal(message.role, 'assistant');
    assert.equal(message.model, MODEL);
    assert.match(message.content[0].text, /Hello there/);
    assert.equal(message.stop_reason, 'end_turn');
    assert.ok(message.usage.input_tokens > 0 && message.usage.output_tokens > 0);
    assert.equal(response.headers['request-id'], response.headers['x-request-id']);
  });

  test('the gateway key also as Authorization: Bearer; served without /v1', async () => {
    const response = await post(hello, { url: '/messages', headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(response.statusCode, 200);
  });

  test("Claude Code's recorded request, streamed: max_tokens clamped, one system message, a well-formed stream", async () => {
    const response = await post({ ...claudeCodeBody, model: MODEL });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/event-stream/);
    const stream = parseAnthropicStream(response.body);
    assert.equal(stream.stopped, true);
    assert.equal(stream.events[1].type, 'ping', 'a ping right after message_start');
    assert.equal(stream.message.stop_reason, 'end_turn');
    const sent = lastUpstreamBody();
    assert.equal(sent.max_completion_tokens, 16384);
    assert.equal(sent.messages[0].role, 'system');
    assert.equal(sent.tools.length, 12);
    assert.equal('stream' in sent, false);
  });

  test('a streamed tool call: tool_use block with input_json_delta, stop_reason tool_use; the tool_result round trip', async () => {
    const tools = [
      {
        name: 'get_weather',
        description: 'Weather for a city',
        input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    ];
    const question = { role: 'user', content: 'Call get_weather for Rome' };
    const first = parseAnthropicStream(
      (await post({ ...hello, stream: true, tools, messages: [question] })).body,
    );
    assert.equal(first.message.stop_reason, 'tool_use');
    const toolUse = first.message.content.at(-1);
    assert.equal(toolUse.type, 'tool_use');
    assert.deepEqual(toolUse.input, { city: 'example' });
    const second = await post({
      ...hello,
      tools,
      messages: [
        question,
        { role: 'assistant', content: first.message.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: 'Sunny, 24 C' }] },
      ],
    });
    assert.equal(second.json().content[0].text, 'The tool returned: Sunny, 24 C');
    assert.equal(lastUpstreamBody().messages.at(-1).tool_call_id, toolUse.id);
  });

  test('thinking asked for on a reasoning model: thinking block first, signed; not asked for: none', async () => {
    const body = {
      ...hello,
      model: 'openai/gpt-oss-120b',
      thinking: { type: 'enabled', budget_tokens: 2048 },
    };
    const streamed = parseAnthropicStream((await post({ ...body, stream: true })).body);
    assert.deepEqual(
      streamed.message.content.map((block: { type: string }) => block.type),
      ['thinking', 'text'],
    );
    assert.equal(lastUpstreamBody().reasoning_effort, 'low');
    const plain = (await post({ ...hello, model: 'openai/gpt-oss-120b' })).json();
    assert.deepEqual(
      plain.content.map((block: { type: string }) => block.type),
      ['text'],
    );
  });

  test('ping events while watsonx is silent before its first token', async () => {
    const response = await post({
      ...hello,
      stream: true,
      messages: [{ role: 'user', content: 'think [[sim:stall=400]]' }],
    });
    const stream = parseAnthropicStream(response.body);
    assert.ok(stream.pings >= 3, `pings: ${stream.pings}`);
    assert.equal(stream.stopped, true);
  });
});

describe('errors in the Anthropic envelope, with the statuses its SDKs expect', () => {
  const envelope = (response: { json(): any }, type: string) => {
    const body = response.json();
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, type);
    assert.equal(typeof body.error.message, 'string');
    assert.match(body.request_id, /^req_/);
    return body;
  };

  test('401 authentication_error without a key or with a wrong one', async () => {
    envelope(await post(hello, { headers: { 'anthropic-version': '2023-06-01' } }), 'authentication_error');
    const wrong = await post(hello, { headers: { 'x-api-key': 'nope' } });
    assert.equal(wrong.statusCode, 401);
    envelope(wrong, 'authentication_error');
  });

  test('400 invalid_request_error: a missing max_tokens, a bad block, temperature above 1, an image to a text model', async () => {
    const missing = await post({ model: MODEL, messages: hello.messages });
    assert.equal(missing.statusCode, 400);
    assert.match(envelope(missing, 'invalid_request_error').error.message, /max_tokens/);
    const bad = await post({ ...hello, messages: [{ role: 'user', content: [{ type: 'video' }] }] });
    assert.equal(bad.statusCode, 400);
    assert.match(envelope(bad, 'invalid_request_error').error.message, /messages\[0\]\.content\[0\]/);
    const hot = await post({ ...hello, temperature: 1.5 });
    assert.equal(hot.statusCode, 400);
    const before = gateway.inferenceRequests().length;
    const image = await post({
      ...hello,
      messages: [
        {
          role: 'user',
          content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBOR' } }],
        },
      ],
    });
    assert.equal(image.statusCode, 400, 'an image to a model without image_chat');
    assert.match(envelope(image, 'invalid_request_error').error.message, /does not accept images/);
    assert.equal(gateway.inferenceRequests().length, before, 'refused before any upstream call');
  });

  test('404 not_found_error for a Claude model name, saying what to set; a MODEL_MAP alias works', async () => {
    const missing = await post({ ...hello, model: 'claude-opus-5-5' });
    assert.equal(missing.statusCode, 404);
    const message = envelope(missing, 'not_found_error').error.message;
    assert.match(message, /ANTHROPIC_MODEL/);
    assert.match(message, /MODEL_MAP_CLAUDE_OPUS_5_5=/);
    assert.equal(gateway.inferenceRequests().length > 0, true);
    const mapped = await post({ ...hello, model: 'claude-haiku-4-5' });
    assert.equal(mapped.statusCode, 200);
    assert.equal(mapped.json().model, 'claude-haiku-4-5');
    assert.equal(lastUpstreamBody().model_id, MODEL);
  });

  test('watsonx 429 → 429 rate_limit_error with retry-after; 503 → overloaded_error; 500 → api_error', async () => {
    const limited = await post({ ...hello, messages: [{ role: 'user', content: 'x [[sim:error=429]]' }] });
    assert.equal(limited.statusCode, 429);
    assert.ok(limited.headers['retry-after']);
    envelope(limited, 'rate_limit_error');
    const unavailable = await post({
      ...hello,
      messages: [{ role: 'user', content: 'x [[sim:error=503]]' }],
    });
    assert.equal(unavailable.statusCode, 503);
    envelope(unavailable, 'overloaded_error');
    const broken = await post({ ...hello, messages: [{ role: 'user', content: 'x [[sim:error=500]]' }] });
    assert.equal(broken.statusCode, 502);
    envelope(broken, 'api_error');
  });

  test('a stream that fails after the first byte ends with an error event, never message_stop', async () => {
    const response = await post({
      ...hello,
      stream: true,
      messages: [{ role: 'user', content: 'a long enough answer [[sim:stream-error-after=4]]' }],
    });
    assert.equal(response.statusCode, 200);
    const stream = parseAnthropicStream(response.body);
    assert.equal(stream.stopped, false);
    assert.equal(stream.error.type, 'api_error');
    const cut = parseAnthropicStream(
      (
        await post({
          ...hello,
          stream: true,
          messages: [{ role: 'user', content: 'a long enough answer [[sim:truncate-after=4]]' }],
        })
      ).body,
    );
    assert.equal(cut.stopped, false);
    assert.match(cut.error.message, /ended the stream before the answer was complete/);
  });

  test('the concurrency cap (overloaded) is 529 overloaded_error, as Anthropic answers', async () => {
    const capped = await startTestGateway({
      env: { MAX_CONCURRENT_REQUESTS: '1' },
      simulator: { chunkDelayMs: 0 },
    });
    try {
      const slow = capped.inject({
        method: 'POST',
        url: '/v1/messages',
        payload: { ...hello, messages: [{ role: 'user', content: 'x [[sim:stall=300]]' }] },
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const refused = await capped.inject({ method: 'POST', url: '/v1/messages', payload: hello });
      assert.equal(refused.statusCode, 529);
      assert.equal(refused.json().error.type, 'overloaded_error');
      assert.equal((await slow).statusCode, 200);
    } finally {
      await capped.close();
    }
  });
});

describe('POST /v1/messages/count_tokens', () => {
  test("a positive estimate for Claude Code's recorded request, the same with ?beta=true and without /v1", async () => {
    const { model: _model, max_tokens: _max, stream: _stream, ...rest } = claudeCodeBody;
    const counted = await post({ ...rest, model: MODEL }, { url: '/v1/messages/count_tokens?beta=true' });
    assert.equal(counted.statusCode, 200);
    const tokens = counted.json().input_tokens;
    assert.ok(tokens > 1000, `${tokens}`);
    const bare = await post({ ...rest, model: MODEL }, { url: '/messages/count_tokens' });
    assert.equal(bare.json().input_tokens, tokens);
    const small = await post(
      { model: MODEL, messages: [{ role: 'user', content: 'hi' }] },
      { url: '/v1/messages/count_tokens' },
    );
    assert.ok(small.json().input_tokens >= 1);
  });

  test('an unknown Claude name is a 404 here too (Claude Code then estimates itself)', async () => {
    const response = await post(
      { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] },
      { url: '/v1/messages/count_tokens' },
    );
    assert.equal(response.statusCode, 404);
    assert.equal(response.json().error.type, 'not_found_error');
  });
});

describe('GET /v1/models by protocol', () => {
  test('with anthropic-version: Anthropic list shape, aliases first, chat models only', async () => {
    const response = await gateway.inject({ url: '/v1/models', headers: CLAUDE_CODE_HEADERS });
    assert.equal(response.statusCode, 200);
    const list = response.json();
    assert.equal(list.has_more, false);
    assert.equal(list.data[0].id, 'claude-haiku-4-5');
    assert.equal(list.first_id, 'claude-haiku-4-5');
    assert.equal(list.last_id, list.data.at(-1).id);
    for (const model of list.data) {
      assert.deepEqual(Object.keys(model), ['type', 'id', 'display_name', 'created_at']);
      assert.equal(model.type, 'model');
      assert.ok(!Number.isNaN(Date.parse(model.created_at)));
    }
    assert.ok(list.data.some((model: { id: string }) => model.id === MODEL));
    assert.ok(!list.data.some((model: { id: string }) => model.id.includes('embedding')));
    const one = await gateway.inject({ url: `/v1/models/${MODEL}`, headers: CLAUDE_CODE_HEADERS });
    assert.deepEqual(Object.keys(one.json()), ['type', 'id', 'display_name', 'created_at']);
    const missing = await gateway.inject({ url: '/v1/models/nope', headers: CLAUDE_CODE_HEADERS });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.type, 'not_found_error');
  });

  test('without it: the OpenAI list, as before; the key is required either way', async () => {
    const response = await gateway.inject({ url: '/v1/models', headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(response.json().object, 'list');
    const noKey = await gateway.inject({ url: '/v1/models', headers: { 'anthropic-version': '2023-06-01' } });
    assert.equal(noKey.statusCode, 401);
    assert.equal(noKey.json().type, 'error');
  });
});

test('the surface imports nothing from another surface, and src/watsonx nothing from it', () => {
  const root = new URL('../src/', import.meta.url);
  const files = (folder: string) =>
    readdirSync(new URL(folder, root), { recursive: true, encoding: 'utf8' })
      .filter((name) => name.endsWith('.ts'))
      .map((name) => readFileSync(new URL(`${folder}/${name}`, root), 'utf8'));
  for (const source of files('anthropic')) {
    assert.doesNotMatch(source, /from '(\.\.\/)+(openai|responses)\//);
  }
  for (const source of files('watsonx')) assert.doesNotMatch(source, /anthropic\//);
});
