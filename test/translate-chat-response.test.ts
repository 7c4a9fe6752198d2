import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { GatewayError } from '../src/server/errors.ts';
import {
  mapFinishReason,
  toChatCompletion,
  toOpenAIUsage,
  type ChatResponseContext,
} from '../src/openai/translate/chat-response.ts';
import type { WatsonxChatResponse, WatsonxResponseToolCall } from '../src/watsonx/types.ts';

function fixture(name: string): WatsonxChatResponse {
  return JSON.parse(
    readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'),
  ) as WatsonxChatResponse;
}

function context(overrides: Partial<ChatResponseContext> = {}): ChatResponseContext {
  let next = 0;
  return {
    model: 'my-granite',
    parallelToolCalls: true,
    now: () => 1_800_000_000,
    newCompletionId: () => 'chatcmpl-generated',
    newId: () => `call_generated_${++next}`,
    ...overrides,
  };
}

const ZERO_DETAILS = {
  prompt_tokens_details: { cached_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0 },
};

/** A one-choice watsonx answer carrying `toolCalls`. */
function toolAnswer(toolCalls: WatsonxResponseToolCall[], finishReason = 'tool_calls'): WatsonxChatResponse {
  return {
    id: 'chatcmpl-tools',
    created: 1767225600,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: '', tool_calls: toolCalls },
        finish_reason: finishReason,
      },
    ],
    usage: { completion_tokens: 23, prompt_tokens: 812, total_tokens: 835 },
  };
}

test('n=2 capture (#4) becomes an OpenAI chat.completion with two choices', () => {
  const upstream = fixture('watsonx-chat-n2.json');
  const completion = toChatCompletion(upstream, context());
  assert.deepEqual(completion, {
    id: 'chatcmpl-d22a589d644b430db7f316aac05186df',
    object: 'chat.completion',
    created: 1766914663,
    model: 'my-granite',
    system_fingerprint: null,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content:
            "The capital of Italy is Rome. It is also the country's largest city and a significant center of history, art, and culture.",
          refusal: null,
        },
        logprobs: null,
        finish_reason: 'stop',
      },
      {
        index: 1,
        message: { role: 'assistant', content: 'The capital of Italy is Rome.', refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 34, completion_tokens: 36, total_tokens: 70, ...ZERO_DETAILS },
  });
  // Unix seconds, as clients multiply by 1000 themselves.
  assert.ok(Number.isInteger(completion.created) && completion.created < 10_000_000_000);
});

test('choices come out ordered by index; a missing index is the position', () => {
  const upstream = fixture('watsonx-chat-n2.json');
  const reversed = { ...upstream, choices: [...upstream.choices!].reverse() };
  assert.deepEqual(
    toChatCompletion(reversed, context()).choices.map((choice) => choice.index),
    [0, 1],
  );
  const unindexed = {
    ...upstream,
    choices: upstream.choices!.map(({ index: _index, ...choice }) => choice),
  };
  assert.deepEqual(
    toChatCompletion(unindexed, context()).choices.map((choice) => choice.message.content),
    upstream.choices!.map((choice) => choice.message!.content),
  );
});

test('reasoning capture (#6): reasoning_content is passed through, never mixed into content', () => {
  const completion = toChatCompletion(fixture('watsonx-chat-reasoning.json'), context());
  assert.deepEqual(completion.choices[0]!.message, {
    role: 'assistant',
    content: 'Aries Daily Horoscope',
    refusal: null,
    reasoning_content: 'Need to give horoscope for Aries.',
  });
  assert.equal(completion.choices[0]!.finish_reason, 'stop');
  assert.deepEqual(completion.usage, {
    prompt_tokens: 89,
    completion_tokens: 522,
    total_tokens: 611,
    ...ZERO_DETAILS,
  });
});

test('tool calls: content null, type function, arguments always a JSON string', () => {
  const completion = toChatCompletion(
    toolAnswer([
      { id: 'chatcmpl-tool-aa11', type: 'function', function: { name: 'add', arguments: '{"a":2,"b":3}' } },
      { id: 'chatcmpl-tool-bb22', type: 'function', function: { name: 'now', arguments: '' } },
      { id: 'chatcmpl-tool-cc33', type: 'function', function: { name: 'ping' } },
      { id: 'chatcmpl-tool-dd44', type: 'function', function: { name: 'add', arguments: { a: 1, b: 1 } } },
      // Granite sometimes double-encodes the arguments.
      {
        id: 'chatcmpl-tool-ee55',
        type: 'function',
        function: { name: 'add', arguments: JSON.stringify('{\n  "a": 4,\n  "b": 5\n}') },
      },
    ]),
    context(),
  );
  const [choice] = completion.choices;
  assert.equal(choice!.message.content, null);
  assert.equal(choice!.message.refusal, null);
  assert.equal(choice!.finish_reason, 'tool_calls');
  const calls = choice!.message.tool_calls!;
  assert.deepEqual(
    calls.map((call) => [call.id, call.type, call.function.name]),
    [
      ['chatcmpl-tool-aa11', 'function', 'add'],
      ['chatcmpl-tool-bb22', 'function', 'now'],
      ['chatcmpl-tool-cc33', 'function', 'ping'],
      ['chatcmpl-tool-dd44', 'function', 'add'],
      ['chatcmpl-tool-ee55', 'function', 'add'],
    ],
  );
  for (const call of calls) assert.equal(typeof call.function.arguments, 'string');
  assert.equal(calls[1]!.function.arguments, '{}');
  assert.equal(calls[2]!.function.arguments, '{}');
  assert.deepEqual(
    calls.map((call) => JSON.parse(call.function.arguments) as unknown),
    [{ a: 2, b: 3 }, {}, {}, { a: 1, b: 1 }, { a: 4, b: 5 }],
  );
});

test('tool calls without an id get a generated one, distinct per call', () => {
  const completion = toChatCompletion(
    toolAnswer([
      { type: 'function', function: { name: 'a', arguments: '{}' } },
      { id: '', type: 'function', function: { name: 'b', arguments: '{}' } },
    ]),
    context(),
  );
  assert.deepEqual(
    completion.choices[0]!.message.tool_calls!.map((call) => call.id),
    ['call_generated_1', 'call_generated_2'],
  );
});

test('a tool-call turn that watsonx ended with stop finishes with tool_calls; text is kept', () => {
  const answer = toolAnswer(
    [{ id: 't1', type: 'function', function: { name: 'a', arguments: '{}' } }],
    'stop',
  );
  answer.choices![0]!.message!.content = 'Let me check.';
  const [choice] = toChatCompletion(answer, context()).choices;
  assert.equal(choice!.finish_reason, 'tool_calls');
  assert.equal(choice!.message.content, 'Let me check.');
});

test('parallelToolCalls false keeps only the first call', () => {
  const answer = toolAnswer([
    { id: 't1', type: 'function', function: { name: 'read_file', arguments: '{"path":"a"}' } },
    { id: 't2', type: 'function', function: { name: 'read_file', arguments: '{"path":"b"}' } },
  ]);
  const sequential = toChatCompletion(answer, context({ parallelToolCalls: false })).choices[0]!;
  assert.deepEqual(sequential.message.tool_calls, [
    { id: 't1', type: 'function', function: { name: 'read_file', arguments: '{"path":"a"}' } },
  ]);
  assert.equal(sequential.finish_reason, 'tool_calls');
  assert.equal(toChatCompletion(answer, context()).choices[0]!.message.tool_calls!.length, 2);
});

test('mapFinishReason: watsonx reasons become OpenAI reasons', () => {
  const cases: Array<[string | null | undefined, string]> = [
    ['stop', 'stop'],
    ['length', 'length'],
    ['time_limit', 'length'],
    ['content_filter', 'content_filter'],
    [null, 'stop'],
    [undefined, 'stop'],
  ];
  for (const [reason, expected] of cases)
    assert.equal(mapFinishReason(reason, false), expected, String(reason));
  for (const reason of ['stop', 'tool_calls', null])
    assert.equal(mapFinishReason(reason, true), 'tool_calls');
  // Cut-off tool calls keep saying so: their arguments may be incomplete JSON.
  assert.equal(mapFinishReason('length', true), 'length');
  assert.equal(mapFinishReason('time_limit', true), 'length');
  assert.throws(() => mapFinishReason('error', true), GatewayError);
});

test('cancelled and error finish reasons become a 502, in the mapper and in a whole response', () => {
  const isUpstreamFailure = (error: unknown) => {
    assert.ok(error instanceof GatewayError);
    assert.equal(error.status, 502);
    assert.equal(error.kind, 'upstream');
    assert.equal(error.code, 'upstream_generation_failed');
    return true;
  };
  for (const reason of ['cancelled', 'error']) {
    assert.throws(() => mapFinishReason(reason, false), isUpstreamFailure);
    const upstream = fixture('watsonx-chat-n2.json');
    upstream.choices![1]!.finish_reason = reason;
    assert.throws(() => toChatCompletion(upstream, context()), isUpstreamFailure);
  }
});

test('time_limit on a text answer finishes with length', () => {
  const upstream = fixture('watsonx-chat-reasoning.json');
  upstream.choices![0]!.finish_reason = 'time_limit';
  assert.equal(toChatCompletion(upstream, context()).choices[0]!.finish_reason, 'length');
});

test('a 2024-style response without id, object or created gets the fallbacks', () => {
  const completion = toChatCompletion(
    {
      model_id: 'mistralai/mistral-large',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
    },
    context(),
  );
  assert.equal(completion.id, 'chatcmpl-generated');
  assert.equal(completion.object, 'chat.completion');
  assert.equal(completion.created, 1_800_000_000);
  assert.equal(completion.model, 'my-granite');
  assert.deepEqual(completion.usage, {
    prompt_tokens: 0,
    completion_tokens: 0,
    total_tokens: 0,
    ...ZERO_DETAILS,
  });
});

test('a response without choices is a 502', () => {
  assert.throws(
    () => toChatCompletion({ id: 'x', choices: [] }, context()),
    (error: unknown) =>
      error instanceof GatewayError && error.status === 502 && error.code === 'upstream_invalid_response',
  );
});

test('toOpenAIUsage: missing total is summed; reasoning tokens are passed through', () => {
  assert.deepEqual(toOpenAIUsage({ prompt_tokens: 10, completion_tokens: 5 }), {
    prompt_tokens: 10,
    completion_tokens: 5,
    total_tokens: 15,
    ...ZERO_DETAILS,
  });
  assert.deepEqual(
    toOpenAIUsage({
      prompt_tokens: 1,
      completion_tokens: 9,
      total_tokens: 10,
      completion_tokens_details: { reasoning_tokens: 7 },
    }).completion_tokens_details,
    { reasoning_tokens: 7 },
  );
  assert.deepEqual(toOpenAIUsage(undefined), {
    prompt_tokens: 0,
    completion_tokens: 0,
    total_tokens: 0,
    ...ZERO_DETAILS,
  });
});

test('logprobs in OpenAI shape are passed through, anything else becomes null', () => {
  const upstream = fixture('watsonx-chat-reasoning.json');
  const content = [{ token: 'Aries', logprob: -0.1, bytes: [65], top_logprobs: [] }];
  upstream.choices![0]!.logprobs = { content };
  assert.deepEqual(toChatCompletion(upstream, context()).choices[0]!.logprobs, { refusal: null, content });
  upstream.choices![0]!.logprobs = [-0.1, -0.2];
  assert.equal(toChatCompletion(upstream, context()).choices[0]!.logprobs, null);
});
