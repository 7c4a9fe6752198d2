// watsonx chat stream → Anthropic stream events (src/anthropic/translate/messages-stream.ts) and a
// watsonx answer → a Message (messages-response.ts), on recorded streams and hand-split chunks. Every
// stream is read back as the Anthropic SDK reads it (test/helpers/anthropic-sse.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { sseEvent } from '../src/anthropic/sse.ts';
import { toMessage, thinkingSignature } from '../src/anthropic/translate/messages-response.ts';
import { MessageStreamTranslator } from '../src/anthropic/translate/messages-stream.ts';
import { GatewayError } from '../src/server/errors.ts';
import { ChatEventReader, readChatAnswer } from '../src/watsonx/chat-events.ts';
import type { WatsonxChatChunk, WatsonxChatResponse } from '../src/watsonx/types.ts';
import { parseAnthropicStream } from './helpers/anthropic-sse.ts';

function recorded(name: string): WatsonxChatChunk[] {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as WatsonxChatChunk);
}

/** The relay's loop without HTTP: chunks → events → frames, read back as the SDK does. */
function translate(chunks: WatsonxChatChunk[], options: { thinking?: boolean; stopSequence?: string } = {}) {
  let ids = 0;
  const reader = new ChatEventReader({ newToolCallId: () => `toolu_new_${++ids}` });
  const translator = new MessageStreamTranslator({
    id: 'msg_test',
    model: 'claude-sonnet-4-5',
    thinking: options.thinking ?? false,
    estimatedInputTokens: 11,
  });
  let body = translator.start().map(sseEvent).join('');
  for (const chunk of chunks) {
    body += translator.push(reader.push(chunk)).map(sseEvent).join('');
    if (reader.complete) break;
  }
  reader.end();
  body += translator
    .end(reader.usage, options.stopSequence ?? null)
    .map(sseEvent)
    .join('');
  return parseAnthropicStream(body);
}

const delta = (value: object, finish: string | null = null): WatsonxChatChunk => ({
  choices: [{ index: 0, delta: value, finish_reason: finish }],
});
const usage = (prompt: number, completion: number): WatsonxChatChunk => ({
  choices: [],
  usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
});
const call = (index: number, fields: { id?: string; name?: string; arguments?: string }) =>
  delta({
    tool_calls: [
      {
        index,
        ...(fields.id && { id: fields.id }),
        function: { name: fields.name ?? '', arguments: fields.arguments ?? '' },
      },
    ],
  });

describe('stream: text', () => {
  test('message_start (estimated input, output 1) → one text block → message_delta with usage → message_stop', () => {
    const stream = translate([
      delta({ role: 'assistant', content: '' }),
      delta({ content: 'Hel' }),
      delta({ content: 'lo' }),
      delta({}, 'stop'),
      usage(9, 2),
    ]);
    assert.equal(stream.events[0].message.usage.input_tokens, 11);
    assert.equal(stream.events[0].message.usage.output_tokens, 1);
    assert.equal(stream.events[0].message.model, 'claude-sonnet-4-5');
    assert.deepEqual(stream.message.content, [{ type: 'text', text: 'Hello', citations: null }]);
    assert.equal(stream.message.stop_reason, 'end_turn');
    assert.deepEqual(stream.events.at(-2).usage, {
      input_tokens: 9,
      output_tokens: 2,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    });
    assert.equal(stream.stopped, true);
  });

  test('length → max_tokens; a stop sequence watsonx named → stop_sequence with the string', () => {
    assert.equal(
      translate([delta({ content: 'a' }, 'length'), usage(1, 1)]).message.stop_reason,
      'max_tokens',
    );
    const stopped = translate([delta({ content: 'a' }, 'stop'), usage(1, 1)], { stopSequence: 'END' });
    assert.equal(stopped.message.stop_reason, 'stop_sequence');
    assert.equal(stopped.message.stop_sequence, 'END');
  });

  test('the stop reason waits for the usage chunk: without one (the stream just ends) usage counts the deltas', () => {
    const stream = translate([delta({ content: 'a' }), delta({ content: 'b' }, 'stop')]);
    assert.equal(stream.message.usage.output_tokens, 2);
    assert.equal(stream.message.usage.input_tokens, 11);
  });

  test("watsonx's cancelled/error finish is no answer: end() throws an upstream error (the relay sends an error event)", () => {
    assert.throws(
      () => translate([delta({ content: 'a' }, 'error'), usage(1, 1)]),
      (error: unknown) => error instanceof GatewayError && error.status === 502,
    );
  });
});

describe('stream: reasoning', () => {
  const chunks = recorded('watsonx-stream-reasoning.jsonl');

  test('thinking asked for: a thinking block (signed just before it closes), then the text block', () => {
    const stream = translate(chunks, { thinking: true });
    const [thinking, text] = stream.message.content;
    assert.equal(stream.message.content.length, 2);
    assert.equal(thinking.type, 'thinking');
    assert.ok(thinking.thinking.length > 0);
    assert.equal(thinking.signature, thinkingSignature(thinking.thinking));
    assert.equal(text.type, 'text');
    const signature = stream.events.findIndex((event) => event.delta?.type === 'signature_delta');
    assert.equal(stream.events[signature + 1].type, 'content_block_stop');
    assert.equal(stream.events[signature + 1].index, 0);
  });

  test('thinking not asked for: the reasoning is dropped, never put in a text block', () => {
    const stream = translate(chunks);
    assert.deepEqual(
      stream.message.content.map((block: { type: string }) => block.type),
      ['text'],
    );
    assert.doesNotMatch(stream.message.content[0].text, /User wants translation/);
  });
});

describe('stream: tool calls', () => {
  test('2024 framing (name in the second delta, running usage): one tool_use block, input_json_delta, stop_reason tool_use', () => {
    const stream = translate(recorded('watsonx-stream-2024-tools.jsonl'));
    assert.equal(stream.message.content.length, 1);
    const [block] = stream.message.content;
    assert.equal(block.type, 'tool_use');
    assert.equal(block.name, 'sum');
    assert.equal(block.id, 'chatcmpl-tool-7cf5dfd7c52441e59a7585243b22a86a');
    assert.ok(Object.keys(block.input).length > 0);
    assert.equal(stream.message.stop_reason, 'tool_use');
    assert.ok(stream.events.filter((event) => event.delta?.type === 'input_json_delta').length > 1);
  });

  test('finish "stop" on a tool-call turn still says tool_use; no empty text block before the call', () => {
    const stream = translate([
      delta({ role: 'assistant', content: '' }),
      call(0, { id: 'c1', name: 'Bash', arguments: '{"comm' }),
      call(0, { arguments: 'and":"ls"}' }),
      delta({}, 'stop'),
      usage(5, 5),
    ]);
    assert.deepEqual(stream.message.content, [
      { type: 'tool_use', id: 'c1', name: 'Bash', input: { command: 'ls' } },
    ]);
    assert.equal(stream.message.stop_reason, 'tool_use');
  });

  test('text, then two calls: blocks 0, 1, 2 in order; double-encoded arguments arrive whole at the end', () => {
    const stream = translate([
      delta({ content: 'Let me look.' }),
      call(0, { id: 'c1', name: 'Bash', arguments: '{"command":"ls"}' }),
      call(1, { id: 'c2', name: 'Read', arguments: '"{\\"file_path\\":\\"/a\\"}"' }),
      delta({}, 'tool_calls'),
      usage(5, 5),
    ]);
    assert.deepEqual(stream.message.content, [
      { type: 'text', text: 'Let me look.', citations: null },
      { type: 'tool_use', id: 'c1', name: 'Bash', input: { command: 'ls' } },
      { type: 'tool_use', id: 'c2', name: 'Read', input: { file_path: '/a' } },
    ]);
  });

  test('interleaved calls: each block stays open until its call ends, the other call waits and loses nothing', () => {
    const stream = translate([
      call(0, { id: 'c1', name: 'A', arguments: '{"x":' }),
      call(1, { id: 'c2', name: 'B', arguments: '{"y":' }),
      call(0, { arguments: '1}' }),
      call(1, { arguments: '2}' }),
      delta({}, 'tool_calls'),
      usage(5, 5),
    ]);
    assert.deepEqual(
      stream.message.content.map((block: { input: object }) => block.input),
      [{ x: 1 }, { y: 2 }],
    );
  });

  test('a call without an id gets a toolu_ id; a call without arguments gets input {}', () => {
    const stream = translate([call(0, { name: 'Now' }), delta({}, 'tool_calls'), usage(1, 1)]);
    assert.deepEqual(stream.message.content, [
      { type: 'tool_use', id: 'toolu_new_1', name: 'Now', input: {} },
    ]);
  });
});

describe('non-stream answer → Message', () => {
  const context = {
    id: 'msg_1',
    model: 'claude-haiku-4-5',
    thinking: false,
    stopSequence: null,
    estimatedInputTokens: 3,
  };
  const answer = (message: object, finish = 'stop', usage = { prompt_tokens: 7, completion_tokens: 4 }) =>
    readChatAnswer(
      { choices: [{ index: 0, message, finish_reason: finish }], usage } as WatsonxChatResponse,
      () => 'toolu_x',
    );

  test('text → one text block, end_turn, usage with cache fields 0, the model as sent', () => {
    assert.deepEqual(toMessage(answer({ content: 'Hi' }), context), {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-haiku-4-5',
      content: [{ type: 'text', text: 'Hi', citations: null }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: 7,
        output_tokens: 4,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    });
  });

  test('reasoning + text + tool call: thinking (only when asked) → text → tool_use, stop_reason tool_use', () => {
    const reply = answer(
      {
        content: 'Let me look.',
        reasoning_content: 'List first.',
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'Bash', arguments: '{"command":"ls"}' } },
        ],
      },
      'stop',
    );
    const withThinking = toMessage(reply, { ...context, thinking: true });
    assert.deepEqual(withThinking.content, [
      { type: 'thinking', thinking: 'List first.', signature: thinkingSignature('List first.') },
      { type: 'text', text: 'Let me look.', citations: null },
      { type: 'tool_use', id: 'c1', name: 'Bash', input: { command: 'ls' } },
    ]);
    assert.equal(withThinking.stop_reason, 'tool_use');
    assert.deepEqual(
      toMessage(reply, context).content.map((block) => block.type),
      ['text', 'tool_use'],
    );
  });

  test('no empty text block; arguments that are not a JSON object → input {}; length → max_tokens', () => {
    const message = toMessage(
      answer({ content: '', tool_calls: [{ function: { name: 'A', arguments: 'not json' } }] }, 'length'),
      context,
    );
    assert.deepEqual(message.content, [{ type: 'tool_use', id: 'toolu_x', name: 'A', input: {} }]);
    assert.equal(message.stop_reason, 'tool_use');
    assert.equal(toMessage(answer({ content: 'a' }, 'length'), context).stop_reason, 'max_tokens');
  });

  test('no usage from watsonx: the estimate for input, 0 for output', () => {
    const message = toMessage(
      readChatAnswer({ choices: [{ message: { content: 'a' }, finish_reason: 'stop' }] }, () => 'x'),
      context,
    );
    assert.deepEqual([message.usage.input_tokens, message.usage.output_tokens], [3, 0]);
  });
});
