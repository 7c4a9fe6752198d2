// The Responses stream translator (src/responses/translate/stream.ts) on recorded watsonx streams
// (test/fixtures, samples #7, #8, #10) and hand-split chunks, read through src/watsonx/chat-events.ts
// as the route does; and the non-stream answer built by the same translator. Every event sequence
// is checked by checkResponseEvents (openai-node's and Codex's rules).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { streamError } from '../src/responses/errors.ts';
import type { CreateResponseRequest } from '../src/responses/schemas/request.ts';
import { responseShell, toResponse } from '../src/responses/translate/response.ts';
import { ResponseStreamTranslator, type ResponseEvent } from '../src/responses/translate/stream.ts';
import { translateTools } from '../src/responses/translate/tools.ts';
import { GatewayError } from '../src/server/errors.ts';
import { ChatEventReader, readChatAnswer } from '../src/watsonx/chat-events.ts';
import type { WatsonxChatChunk, WatsonxChatResponse } from '../src/watsonx/types.ts';
import { checkResponseEvents } from './helpers/responses-events.ts';

function fixture(name: string): WatsonxChatChunk[] {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as WatsonxChatChunk);
}

const chunk = (delta: Record<string, unknown>, finish: string | null = null): WatsonxChatChunk => ({
  choices: [{ index: 0, delta, finish_reason: finish }],
});
const usageChunk: WatsonxChatChunk = {
  choices: [],
  usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
};

function translator(request: Partial<CreateResponseRequest> = {}) {
  let counter = 0;
  const full = { model: 'm', ...request } as CreateResponseRequest;
  return new ResponseStreamTranslator({
    response: responseShell(full, { id: 'resp_test', createdAt: 1700000000 }),
    tools: translateTools(full.tools as never).origins,
    newItemId: (prefix) => `${prefix}_${++counter}`,
  });
}

/** chunks → events, as the route's relay does (ids for calls watsonx sent without one: call_n). */
function run(chunks: WatsonxChatChunk[], request: Partial<CreateResponseRequest> = {}) {
  let calls = 0;
  const reader = new ChatEventReader({ newToolCallId: () => `call_${++calls}` });
  const stream = translator(request);
  const events: ResponseEvent[] = [...stream.start()];
  for (const piece of chunks) for (const event of reader.push(piece)) events.push(...stream.push(event));
  for (const event of reader.end()) events.push(...stream.push(event));
  events.push(...stream.finish(reader.usage));
  const response = checkResponseEvents(events);
  assertDeltasMatchDone(events);
  return { events, response, types: events.map((event) => event.type) };
}

/** The deltas of each item add up to its .done text (clients accumulate deltas). */
function assertDeltasMatchDone(events: ResponseEvent[]): void {
  const sums = new Map<string, string>();
  for (const event of events) {
    const key = `${String(event.item_id)}:${event.type.replace(/\.(delta|done)$/, '')}`;
    if (event.type.endsWith('.delta')) sums.set(key, (sums.get(key) ?? '') + String(event.delta));
    if (event.type.endsWith('.done') && !/output_item|part\.done/.test(event.type)) {
      const whole = event.text ?? event.arguments ?? event.input;
      assert.equal(sums.get(key) ?? '', whole, `${event.type} of ${String(event.item_id)}`);
    }
  }
}

const tools = [
  { type: 'function', name: 'get_weather', parameters: { type: 'object' } },
  { type: 'custom', name: 'apply_patch' },
  { type: 'namespace', name: 'agents', tools: [{ type: 'function', name: 'spawn', parameters: {} }] },
];

describe('recorded watsonx streams', () => {
  test('#7 reasoning then text: a reasoning item with one summary part, then a message; usage mapped', () => {
    const { response, types } = run(fixture('watsonx-stream-reasoning.jsonl'));
    const output = response.output as Array<Record<string, unknown>>;
    assert.deepEqual(
      output.map((item) => item.type),
      ['reasoning', 'message'],
    );
    assert.equal(types[2], 'response.output_item.added');
    assert.equal(types[3], 'response.reasoning_summary_part.added');
    assert.ok(types.includes('response.reasoning_summary_text.delta'));
    assert.equal(types.at(-1), 'response.completed');
    const summary = (output[0]!.summary as Array<{ text: string }>)[0]!.text;
    assert.ok(summary.length > 0);
    const text = (output[1]!.content as Array<{ text: string }>)[0]!.text;
    assert.equal(response.output_text, text);
    const last = fixture('watsonx-stream-reasoning.jsonl').findLast((piece) => piece.usage)!.usage!;
    assert.deepEqual(response.usage, {
      input_tokens: last.prompt_tokens,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: last.completion_tokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: last.total_tokens,
    });
  });

  test('#10 2024 tool call, the name in the second delta: one function_call with the whole arguments', () => {
    const chunks = fixture('watsonx-stream-2024-tools.jsonl');
    const { response } = run(chunks);
    const call = response.output[0] as Record<string, unknown>;
    assert.equal(call.type, 'function_call');
    assert.match(String(call.name), /\w+/);
    assert.doesNotThrow(() => JSON.parse(String(call.arguments)));
    assert.equal(call.status, 'completed');
    assert.equal(response.status, 'completed');
  });

  test('#8 n=2 tool calls: only choice 0 is read, its calls become function_call items in order', () => {
    const { response } = run(fixture('watsonx-stream-tools-n2.jsonl'));
    const types = response.output.map((item) => (item as { type: string }).type);
    assert.ok(types.includes('function_call'));
    for (const item of response.output as Array<{ type: string; arguments?: string }>) {
      if (item.type === 'function_call') assert.doesNotThrow(() => JSON.parse(item.arguments!));
    }
  });
});

describe('hand-split streams', () => {
  test('text before a call: the message closes before the call opens', () => {
    const { response } = run(
      [
        chunk({ role: 'assistant', content: '' }),
        chunk({ content: 'Let me ' }),
        chunk({ content: 'check.' }),
        chunk({
          tool_calls: [
            { index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } },
          ],
        }),
        chunk({ tool_calls: [{ index: 0, function: { name: '', arguments: '{"city":' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { name: '', arguments: '"Paris"}' } }] }),
        chunk({}, 'tool_calls'),
        usageChunk,
      ],
      { tools } as never,
    );
    assert.deepEqual(response.output, [
      {
        type: 'message',
        id: 'msg_1',
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: 'Let me check.', annotations: [], logprobs: [] }],
      },
      {
        type: 'function_call',
        id: 'fc_2',
        call_id: 'call_a',
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
        status: 'completed',
      },
    ]);
  });

  test('two calls streamed side by side are emitted one after the other, each with its own arguments', () => {
    const { response, events } = run(
      [
        chunk({
          tool_calls: [{ index: 0, id: 'a', function: { name: 'get_weather', arguments: '{"city":' } }],
        }),
        chunk({
          tool_calls: [{ index: 1, id: 'b', function: { name: 'get_weather', arguments: '{"city":' } }],
        }),
        chunk({ tool_calls: [{ index: 0, function: { name: '', arguments: '"Rome"}' } }] }),
        chunk({ tool_calls: [{ index: 1, function: { name: '', arguments: '"Oslo"}' } }] }),
        chunk({}, 'tool_calls'),
        usageChunk,
      ],
      { tools } as never,
    );
    assert.deepEqual(
      response.output.map((item) => [
        (item as { call_id: string }).call_id,
        (item as { arguments: string }).arguments,
      ]),
      [
        ['a', '{"city":"Rome"}'],
        ['b', '{"city":"Oslo"}'],
      ],
    );
    assert.equal(events.filter((event) => event.type === 'response.output_item.added').length, 2);
  });

  test('continuation deltas without index or id, and double-encoded arguments, give one call with decoded arguments', () => {
    const { response } = run(
      [
        chunk({ tool_calls: [{ function: { name: 'get_weather', arguments: '' } }] }),
        chunk({ tool_calls: [{ function: { name: '', arguments: '"{\\"city\\": ' } }] }),
        chunk({ tool_calls: [{ function: { name: '', arguments: '\\"Paris\\"}"' } }] }),
        chunk({}, 'stop'),
        usageChunk,
      ],
      { tools } as never,
    );
    assert.equal(response.output.length, 1);
    const call = response.output[0] as { call_id: string; arguments: string };
    assert.equal(call.call_id, 'call_1');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'Paris' });
  });

  test('a custom tool call comes back as custom_tool_call with the unwrapped input', () => {
    const { response, types } = run(
      [
        chunk({
          tool_calls: [{ index: 0, id: 'p', function: { name: 'apply_patch', arguments: '{"input":' } }],
        }),
        chunk({ tool_calls: [{ index: 0, function: { name: '', arguments: '"*** Begin Patch\\n"}' } }] }),
        chunk({}, 'tool_calls'),
        usageChunk,
      ],
      { tools } as never,
    );
    assert.deepEqual(response.output, [
      {
        type: 'custom_tool_call',
        id: 'ctc_1',
        call_id: 'p',
        name: 'apply_patch',
        input: '*** Begin Patch\n',
        status: 'completed',
      },
    ]);
    assert.ok(types.includes('response.custom_tool_call_input.done'));
    assert.ok(!types.includes('response.function_call_arguments.delta'));
  });

  test('a namespaced call comes back with name and namespace split again', () => {
    const { response } = run(
      [
        chunk({ tool_calls: [{ index: 0, id: 's', function: { name: 'agents__spawn', arguments: '{}' } }] }),
        chunk({}, 'tool_calls'),
        usageChunk,
      ],
      { tools } as never,
    );
    assert.deepEqual(response.output[0], {
      type: 'function_call',
      id: 'fc_1',
      call_id: 's',
      name: 'spawn',
      namespace: 'agents',
      arguments: '{}',
      status: 'completed',
    });
  });

  test('length → response.incomplete with incomplete_details max_output_tokens, the cut item incomplete', () => {
    const { response, types } = run([chunk({ content: 'Once upon' }, 'length'), usageChunk]);
    assert.equal(types.at(-1), 'response.incomplete');
    assert.equal(response.status, 'incomplete');
    assert.deepEqual(response.incomplete_details, { reason: 'max_output_tokens' });
    assert.equal((response.output[0] as { status: string }).status, 'incomplete');
  });

  test('watsonx cancelled/error → response.failed with server_error', () => {
    const { response, types } = run([chunk({ content: 'x' }, 'cancelled'), usageChunk]);
    assert.equal(types.at(-1), 'response.failed');
    assert.deepEqual(response.error, {
      code: 'server_error',
      message: "watsonx.ai ended the generation with finish_reason 'cancelled'",
    });
  });

  test('no usage from watsonx: usage is zeros, never null, on the terminal event', () => {
    const { response } = run([chunk({ content: 'x' }, 'stop')]);
    assert.equal((response.usage as { total_tokens: number }).total_tokens, 0);
  });

  test('a failure after the first byte: the open item ends incomplete, then error and response.failed', () => {
    const stream = translator();
    const reader = new ChatEventReader({ newToolCallId: () => 'call_x' });
    const events = [...stream.start()];
    for (const event of reader.push(chunk({ content: 'Hel' }))) events.push(...stream.push(event));
    const failure = new GatewayError(429, 'watsonx.ai: too many requests', {
      code: 'rate_limit_exceeded',
      headers: { 'retry-after': '2' },
    });
    events.push(...stream.fail(streamError(failure), undefined));
    const response = checkResponseEvents(events);
    assert.deepEqual(
      events.slice(-3).map((event) => event.type),
      ['response.output_item.done', 'error', 'response.failed'],
    );
    assert.deepEqual(response.error, {
      code: 'rate_limit_exceeded',
      message: 'watsonx.ai: too many requests Please try again in 2s.',
    });
    assert.equal((response.output[0] as { status: string }).status, 'incomplete');
    assert.deepEqual(stream.fail(streamError(failure), undefined), [], 'one terminal event only');
  });

  test('streamError keeps the codes Codex acts on and folds the rest into server_error', () => {
    const context = new GatewayError(400, 'too long', { code: 'context_length_exceeded' });
    assert.equal(streamError(context).code, 'context_length_exceeded');
    assert.equal(
      streamError(new GatewayError(504, 'slow', { code: 'upstream_timeout' })).code,
      'server_error',
    );
  });
});

describe('non-stream answers', () => {
  const shell = responseShell(
    { model: 'gpt-oss', metadata: { run: '7' }, store: false } as CreateResponseRequest,
    {
      id: 'resp_1',
      createdAt: 1,
    },
  );

  test('#6 reasoning answer → reasoning item (summary) + message; the request settings echoed', () => {
    const answer = readChatAnswer(
      JSON.parse(
        readFileSync(new URL('./fixtures/watsonx-chat-reasoning.json', import.meta.url), 'utf8'),
      ) as WatsonxChatResponse,
      () => 'call_0',
    );
    let counter = 0;
    const response = toResponse(answer, {
      response: shell,
      tools: new Map(),
      newItemId: (prefix) => `${prefix}_${++counter}`,
    });
    assert.deepEqual(response.output, [
      {
        type: 'reasoning',
        id: 'rs_1',
        summary: [{ type: 'summary_text', text: 'Need to give horoscope for Aries.' }],
      },
      {
        type: 'message',
        id: 'msg_2',
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: 'Aries Daily Horoscope', annotations: [], logprobs: [] }],
      },
    ]);
    assert.equal(response.status, 'completed');
    assert.equal(response.output_text, 'Aries Daily Horoscope');
    assert.deepEqual(response.metadata, { run: '7' });
    assert.equal(response.store, false);
    assert.equal(response.model, 'gpt-oss');
    assert.equal(response.usage?.input_tokens, 89);
    assert.equal(response.usage?.output_tokens, 522);
  });

  test('tool calls in a non-stream answer: function_call items with call_id = the watsonx id', () => {
    const answer = readChatAnswer(
      {
        choices: [
          {
            message: {
              content: '',
              tool_calls: [
                {
                  id: 'chatcmpl-tool-1',
                  type: 'function',
                  function: { name: 'get_weather', arguments: '"{\\"city\\":\\"Rome\\"}"' },
                },
              ],
            },
            finish_reason: 'stop',
          },
        ],
      },
      () => 'call_0',
    );
    const response = toResponse(answer, {
      response: shell,
      tools: new Map(),
      newItemId: (prefix) => `${prefix}_1`,
    });
    assert.deepEqual(response.output, [
      {
        type: 'function_call',
        id: 'fc_1',
        call_id: 'chatcmpl-tool-1',
        name: 'get_weather',
        arguments: '{"city":"Rome"}',
        status: 'completed',
      },
    ]);
  });
});
