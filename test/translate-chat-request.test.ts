import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../src/server/errors.ts';
import type { ChatCompletionRequest, ChatMessage } from '../src/openai/schemas/chat.ts';
import { toWatsonxChatRequest, type ChatRequestContext } from '../src/openai/translate/chat-request.ts';
import type { WatsonxChatRequest } from '../src/watsonx/types.ts';

const CONTEXT: ChatRequestContext = { modelId: 'ibm/granite-4-h-small', defaultMaxTokens: 0 };
const USER_HI: ChatMessage = { role: 'user', content: 'hi' };

/** Translates a minimal valid request with `fields` laid over it. Fields are cast: tests send what clients send. */
function translate(
  fields: Record<string, unknown>,
  context: ChatRequestContext = CONTEXT,
): WatsonxChatRequest {
  const request = { model: 'gpt-4o', messages: [USER_HI], ...fields } as ChatCompletionRequest;
  return toWatsonxChatRequest(request, context);
}

function translateMessages(messages: unknown[]): WatsonxChatRequest['messages'] {
  return translate({ messages }).messages;
}

/** Asserts a 400 invalid_request_error naming `param`. */
function assertRejected(fields: Record<string, unknown>, param: string, code?: string): void {
  assert.throws(
    () => translate(fields),
    (error: unknown) => {
      assert.ok(error instanceof GatewayError, `expected a GatewayError, got ${String(error)}`);
      assert.equal(error.status, 400);
      assert.equal(error.kind, 'invalid_request');
      assert.equal(error.param, param);
      if (code !== undefined) assert.equal(error.code, code);
      return true;
    },
  );
}

test('a minimal request becomes model_id + messages and nothing else', () => {
  assert.deepEqual(translate({}), {
    model_id: 'ibm/granite-4-h-small',
    messages: [{ role: 'user', content: 'hi' }],
  });
});

test('developer messages are sent as system messages, name kept', () => {
  assert.deepEqual(
    translateMessages([
      { role: 'developer', content: 'Be terse.' },
      { role: 'developer', content: 'Be kind.', name: 'policy' },
      USER_HI,
    ]),
    [
      { role: 'system', content: 'Be terse.' },
      { role: 'system', content: 'Be kind.', name: 'policy' },
      { role: 'user', content: 'hi' },
    ],
  );
});

test('system and tool messages with arrays of text parts are flattened to one string', () => {
  const messages = translateMessages([
    {
      role: 'system',
      content: [
        { type: 'text', text: 'You are terse.' },
        { type: 'text', text: 'Answer in French.' },
      ],
    },
    USER_HI,
    {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'add', arguments: '{}' } }],
    },
    { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'text', text: '5' }] },
  ]);
  assert.deepEqual(messages[0], { role: 'system', content: 'You are terse.\nAnswer in French.' });
  assert.deepEqual(messages[3], { role: 'tool', tool_call_id: 'call_1', content: '5' });
});

test('a non-text part in a system message is refused with the part as param', () => {
  assertRejected(
    {
      messages: [
        {
          role: 'system',
          content: [
            { type: 'text', text: 'x' },
            { type: 'image_url', image_url: { url: 'https://example.org/a.png' } },
          ],
        },
        USER_HI,
      ],
    },
    'messages[0].content[1]',
    'unsupported_content',
  );
});

test('user messages: text-only arrays become a string, image parts are kept with their detail', () => {
  const messages = translateMessages([
    { role: 'user', content: [{ type: 'text', text: 'Describe' }] },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'Describe the chart.' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0', detail: 'low' } },
        { type: 'image_url', image_url: { url: 'https://example.org/chart.png' } },
      ],
    },
  ]);
  assert.deepEqual(messages[0], { role: 'user', content: 'Describe' });
  assert.deepEqual(messages[1], {
    role: 'user',
    content: [
      { type: 'text', text: 'Describe the chart.' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0', detail: 'low' } },
      { type: 'image_url', image_url: { url: 'https://example.org/chart.png' } },
    ],
  });
  assert.ok(!('detail' in (messages[1]!.content[2] as { image_url: object }).image_url));
});

test('user messages: a file part is refused as 400 naming messages[i].content[j]', () => {
  assertRejected(
    {
      messages: [
        { role: 'system', content: 'x' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Summarise' },
            {
              type: 'file',
              file: { filename: 'spec.pdf', file_data: 'data:application/pdf;base64,JVBERi0' },
            },
          ],
        },
      ],
    },
    'messages[1].content[1]',
    'unsupported_content',
  );
});

test('assistant tool-call turns: content null or "" is omitted, arguments objects become strings', () => {
  const toolCall = (id: string, args: unknown) => ({
    id,
    type: 'function',
    function: { name: 'read_file', arguments: args },
  });
  const messages = translateMessages([
    USER_HI,
    { role: 'assistant', content: null, tool_calls: [toolCall('call_a', '{"path":"a.txt"}')] },
    { role: 'tool', tool_call_id: 'call_a', content: 'A' },
    { role: 'assistant', content: '', tool_calls: [toolCall('call_b', { path: 'b.txt' })] },
    { role: 'tool', tool_call_id: 'call_b', content: 'B' },
    { role: 'assistant', tool_calls: [toolCall('call_c', undefined)] },
    { role: 'tool', tool_call_id: 'call_c', content: 'C' },
    { role: 'assistant', content: 'Reading d.', tool_calls: [toolCall('call_d', '{}')] },
  ]);
  const expectedCall = (id: string, args: string) => ({
    id,
    type: 'function',
    function: { name: 'read_file', arguments: args },
  });
  assert.deepEqual(messages[1], {
    role: 'assistant',
    tool_calls: [expectedCall('call_a', '{"path":"a.txt"}')],
  });
  assert.deepEqual(messages[3], {
    role: 'assistant',
    tool_calls: [expectedCall('call_b', '{"path":"b.txt"}')],
  });
  assert.deepEqual(messages[5], { role: 'assistant', tool_calls: [expectedCall('call_c', '{}')] });
  assert.deepEqual(messages[7], {
    role: 'assistant',
    content: 'Reading d.',
    tool_calls: [expectedCall('call_d', '{}')],
  });
});

test('a plain assistant turn with tool_calls: null is a plain text turn', () => {
  const messages = translateMessages([
    USER_HI,
    { role: 'assistant', content: 'Hello!', tool_calls: null },
    { role: 'assistant', content: [{ type: 'text', text: 'Again.' }], tool_calls: [] },
    { role: 'user', content: 'bye' },
  ]);
  assert.deepEqual(messages[1], { role: 'assistant', content: 'Hello!' });
  assert.deepEqual(messages[2], { role: 'assistant', content: 'Again.' });
});

test('tool messages keep tool_call_id and need one', () => {
  assert.deepEqual(translateMessages([{ role: 'tool', tool_call_id: 'call_9', content: 'ok' }]), [
    { role: 'tool', tool_call_id: 'call_9', content: 'ok' },
  ]);
  assertRejected({ messages: [USER_HI, { role: 'tool', content: 'ok' }] }, 'messages[1].tool_call_id');
});

test('tools: function tools are forwarded without strict; other tool types are refused', () => {
  const parameters = {
    type: 'object',
    properties: { path: { type: 'string' } },
    required: ['path'],
    additionalProperties: false,
  };
  const body = translate({
    tools: [
      {
        type: 'function',
        function: { name: 'read_file', description: 'Read a file', parameters, strict: true },
      },
      { type: 'function', function: { name: 'now', strict: null } },
    ],
  });
  assert.deepEqual(body.tools, [
    { type: 'function', function: { name: 'read_file', description: 'Read a file', parameters } },
    { type: 'function', function: { name: 'now' } },
  ]);
  assertRejected(
    {
      tools: [
        { type: 'function', function: { name: 'now' } },
        { type: 'custom', custom: { name: 'shell' } },
      ],
    },
    'tools[1].type',
  );
});

test('tool_choice: strings go to tool_choice_option, a function object to tool_choice', () => {
  for (const choice of ['none', 'auto', 'required'] as const) {
    const body = translate({ tool_choice: choice });
    assert.equal(body.tool_choice_option, choice);
    assert.ok(!('tool_choice' in body));
  }
  const body = translate({ tool_choice: { type: 'function', function: { name: 'read_file' } } });
  assert.deepEqual(body.tool_choice, { type: 'function', function: { name: 'read_file' } });
  assert.ok(!('tool_choice_option' in body));
});

test('tool_choice: allowed_tools and unknown strings are refused', () => {
  assertRejected(
    {
      tool_choice: {
        type: 'allowed_tools',
        allowed_tools: { mode: 'auto', tools: [{ type: 'function', function: { name: 'a' } }] },
      },
    },
    'tool_choice',
  );
  assertRejected({ tool_choice: 'any' }, 'tool_choice');
});

test('response_format: text, json_object and json_schema are forwarded', () => {
  assert.deepEqual(translate({ response_format: { type: 'text' } }).response_format, { type: 'text' });
  assert.deepEqual(translate({ response_format: { type: 'json_object' } }).response_format, {
    type: 'json_object',
  });
  const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
  assert.deepEqual(
    translate({
      response_format: { type: 'json_schema', json_schema: { name: 'r', schema, strict: true } },
    }).response_format,
    { type: 'json_schema', json_schema: { name: 'r', schema, strict: true } },
  );
  assert.deepEqual(
    translate({
      response_format: { type: 'json_schema', json_schema: { name: 'r', description: 'd', strict: null } },
    }).response_format,
    { type: 'json_schema', json_schema: { name: 'r', description: 'd' } },
  );
  assertRejected({ response_format: { type: 'grammar' } }, 'response_format.type');
});

test('max_completion_tokens wins over max_tokens; either one is sent as max_completion_tokens', () => {
  const both = translate({ max_tokens: 100, max_completion_tokens: 5 });
  assert.equal(both.max_completion_tokens, 5);
  assert.ok(!('max_tokens' in both));
  assert.equal(translate({ max_tokens: 100 }).max_completion_tokens, 100);
  assert.equal(translate({ max_completion_tokens: 7, max_tokens: null }).max_completion_tokens, 7);
});

test('defaultMaxTokens is used when the client sends no limit, and not sent when 0', () => {
  const withDefault = { ...CONTEXT, defaultMaxTokens: 4096 };
  assert.equal(translate({}, withDefault).max_completion_tokens, 4096);
  assert.equal(translate({ max_tokens: 12 }, withDefault).max_completion_tokens, 12);
  assert.ok(!('max_completion_tokens' in translate({})));
});

test('stop: a string becomes an array; six stops are all kept', () => {
  assert.deepEqual(translate({ stop: 'END' }).stop, ['END']);
  const six = ['a', 'b', 'c', 'd', 'e', 'f'];
  assert.deepEqual(translate({ stop: six }).stop, six);
  assert.ok(!('stop' in translate({ stop: [] })));
  assert.ok(!('stop' in translate({ stop: null })));
});

test('n: 1 is not sent, 2 is', () => {
  assert.ok(!('n' in translate({ n: 1 })));
  assert.equal(translate({ n: 2 }).n, 2);
});

test('sampling parameters are forwarded, zero values included', () => {
  const body = translate({
    temperature: 0,
    top_p: 0.9,
    frequency_penalty: 0,
    presence_penalty: -1,
    seed: 0,
    logprobs: false,
    top_logprobs: 0,
    logit_bias: { '42': -100 },
  });
  assert.deepEqual(body, {
    model_id: 'ibm/granite-4-h-small',
    messages: [{ role: 'user', content: 'hi' }],
    temperature: 0,
    top_p: 0.9,
    frequency_penalty: 0,
    presence_penalty: -1,
    seed: 0,
    logprobs: false,
    top_logprobs: 0,
    logit_bias: { '42': -100 },
  });
});

test('reasoning_effort maps onto low/medium/high; none turns reasoning output off', () => {
  const expected = { minimal: 'low', low: 'low', medium: 'medium', high: 'high', xhigh: 'high', max: 'high' };
  for (const [effort, sent] of Object.entries(expected)) {
    const body = translate({ reasoning_effort: effort });
    assert.equal(body.reasoning_effort, sent, effort);
    assert.ok(!('include_reasoning' in body), effort);
  }
  const none = translate({ reasoning_effort: 'none' });
  assert.equal(none.include_reasoning, false);
  assert.ok(!('reasoning_effort' in none));
  assertRejected({ reasoning_effort: 'extreme' }, 'reasoning_effort');
});

test('client-only and unknown fields never reach watsonx', () => {
  const body = translate({
    stream: true,
    stream_options: { include_usage: true },
    user: 'u-1',
    store: false,
    metadata: { chat_id: 'c1' },
    parallel_tool_calls: false,
    service_tier: 'auto',
    prompt_cache_key: 'k',
    safety_identifier: 's',
    verbosity: 'low',
    foo: 'bar',
    temperature: 0.2,
    max_tokens: 64,
  });
  assert.deepEqual(Object.keys(body).sort(), [
    'max_completion_tokens',
    'messages',
    'model_id',
    'temperature',
  ]);
});

test('legacy functions and audio output are refused', () => {
  assertRejected({ functions: [{ name: 'f' }] }, 'functions');
  assertRejected({ function_call: 'auto' }, 'function_call');
  assertRejected({ modalities: ['text', 'audio'] }, 'modalities');
});

test('the request object is not modified', () => {
  const request = {
    model: 'gpt-4o',
    messages: [
      { role: 'developer', content: [{ type: 'text', text: 'x' }] },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: { a: 1 } } }],
      },
    ],
    stop: 'END',
    tools: [{ type: 'function', function: { name: 'f', strict: true } }],
  } as ChatCompletionRequest;
  const before = structuredClone(request);
  toWatsonxChatRequest(request, CONTEXT);
  assert.deepEqual(request, before);
});

test('a function tool without its function object is refused naming the missing part', () => {
  assert.throws(
    () =>
      toWatsonxChatRequest(
        { model: 'm', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function' }] },
        { modelId: 'm', defaultMaxTokens: 0 },
      ),
    (error) =>
      error instanceof GatewayError &&
      error.param === 'tools[0].function' &&
      error.code === 'missing_required_parameter',
  );
});
