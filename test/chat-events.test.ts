// The protocol-neutral reading of watsonx chat answers (src/watsonx/chat-events.ts), on recorded
// streams and on the quirks the recordings show, split by hand.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type ChatEvent, ChatEventReader, readChatAnswer } from '../src/watsonx/chat-events.ts';
import { UpstreamError } from '../src/watsonx/errors.ts';
import type { WatsonxChatChunk, WatsonxChatResponse } from '../src/watsonx/types.ts';

function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}

function stream(name: string): WatsonxChatChunk[] {
  return fixture(name)
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as WatsonxChatChunk);
}

function read(chunks: WatsonxChatChunk[]): { events: ChatEvent[]; reader: ChatEventReader } {
  let next = 0;
  const reader = new ChatEventReader({ newToolCallId: () => `call_new_${++next}` });
  const events = chunks.flatMap((chunk) => reader.push(chunk));
  events.push(...reader.end());
  return { events, reader };
}

const text = (events: ChatEvent[], type: 'text' | 'reasoning') =>
  events
    .filter((event) => event.type === type)
    .map((event) => (event as { text: string }).text)
    .join('');

test('a reasoning stream (gpt-oss): reasoning and text in order, finish stop, usage from the final chunk', () => {
  const { events, reader } = read(stream('watsonx-stream-reasoning.jsonl'));
  assert.ok(text(events, 'reasoning').length > 0);
  assert.ok(text(events, 'text').length > 0);
  const lastReasoning = events.findLastIndex((event) => event.type === 'reasoning');
  const firstText = events.findIndex((event) => event.type === 'text');
  assert.ok(lastReasoning < firstText, 'the reasoning comes before the answer');
  assert.deepEqual(events.at(-1), { type: 'finish', reason: 'stop', raw: 'stop' });
  assert.ok(reader.complete);
  assert.ok((reader.usage?.completion_tokens ?? 0) > 0);
  assert.ok(!events.some((event) => 'text' in event && event.text === ''), 'no empty deltas');
});

test('2024 framing, tool call whose name comes in the second delta: one call, started once, whole arguments', () => {
  const { events } = read(stream('watsonx-stream-2024-tools.jsonl'));
  const starts = events.filter((event) => event.type === 'tool_call_start');
  assert.equal(starts.length, 1);
  assert.equal((starts[0] as { name: string }).name, 'sum');
  const deltas = events
    .filter((event) => event.type === 'tool_call_arguments')
    .map((event) => (event as { delta: string }).delta)
    .join('');
  const end = events.find((event) => event.type === 'tool_call_end') as Extract<
    ChatEvent,
    { type: 'tool_call_end' }
  >;
  assert.equal(deltas + end.unsent, end.arguments);
  assert.deepEqual(Object.keys(JSON.parse(end.arguments) as object).length > 0, true);
  assert.equal(end.id, (starts[0] as { id: string }).id);
  assert.deepEqual(events.at(-1), { type: 'finish', reason: 'tool_calls', raw: 'tool_calls' });
});

test('n = 2 with tools: only choice 0 is read', () => {
  const { events } = read(stream('watsonx-stream-tools-n2.jsonl'));
  const ends = events.filter((event) => event.type === 'tool_call_end');
  assert.ok(ends.length >= 1);
  assert.equal(events.filter((event) => event.type === 'finish').length, 1);
});

test('hand-split quirks: continuation name "", no ids, double-encoded and object arguments, finish with text', () => {
  const chunk = (delta: object, finish: string | null = null): WatsonxChatChunk => ({
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  const { events } = read([
    chunk({ content: 'Checking.' }),
    chunk({ tool_calls: [{ index: 0, function: { name: 'ls', arguments: '{"path":' } }] }),
    chunk({ tool_calls: [{ index: 0, function: { name: '', arguments: '"."}' } }] }),
    chunk({ tool_calls: [{ index: 1, function: { name: 'cat', arguments: '"{\\"file\\": \\"a\\"}"' } }] }),
    chunk({
      tool_calls: [{ index: 2, id: 'call_given', function: { name: 'date', arguments: { tz: 'UTC' } } }],
    }),
    chunk({ tool_calls: [{ index: 3, function: { name: 'noop', arguments: '' } }], content: 'done' }, 'stop'),
    { choices: [], usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } },
  ]);
  const summary = events.map((event) => {
    switch (event.type) {
      case 'tool_call_start':
        return `start ${event.index} ${event.id} ${event.name}`;
      case 'tool_call_arguments':
        return `args ${event.index} ${event.delta}`;
      case 'tool_call_end':
        return `end ${event.index} ${event.arguments} unsent=${event.unsent}`;
      case 'finish':
        return `finish ${event.reason}`;
      default:
        return `${event.type} ${event.text}`;
    }
  });
  assert.deepEqual(summary, [
    'text Checking.',
    'start 0 call_new_1 ls',
    'args 0 {"path":',
    'args 0 "."}',
    'start 1 call_new_2 cat',
    'start 2 call_given date',
    'args 2 {"tz":"UTC"}',
    'text done',
    'start 3 call_new_3 noop',
    'end 0 {"path":"."} unsent=',
    'end 1 {"file": "a"} unsent={"file": "a"}',
    'end 2 {"tz":"UTC"} unsent=',
    'end 3 {} unsent={}',
    'finish tool_calls',
  ]);
});

test('finish reasons: cut short → length even with tools; cancelled → failed; no finish → an upstream fault', () => {
  const finish = (raw: string, delta: object = {}) =>
    read([{ choices: [{ index: 0, delta, finish_reason: raw }] }]).events.at(-1);
  assert.deepEqual(
    finish('length', { tool_calls: [{ index: 0, function: { name: 'f', arguments: '{' } }] }),
    {
      type: 'finish',
      reason: 'length',
      raw: 'length',
    },
  );
  assert.deepEqual(finish('time_limit'), { type: 'finish', reason: 'length', raw: 'time_limit' });
  assert.deepEqual(finish('cancelled'), { type: 'finish', reason: 'failed', raw: 'cancelled' });
  assert.throws(
    () => read([{ choices: [{ index: 0, delta: { content: 'cut' }, finish_reason: null }] }]),
    (error: unknown) => error instanceof UpstreamError && error.kind === 'protocol',
  );
});

test('readChatAnswer: the recorded reasoning answer, and tool calls with ids given or made', () => {
  const answer = readChatAnswer(
    JSON.parse(fixture('watsonx-chat-reasoning.json')) as WatsonxChatResponse,
    () => 'x',
  );
  assert.ok(answer.reasoning.length > 0);
  assert.ok(answer.text.length > 0);
  assert.equal(answer.finishReason, 'stop');
  const tools = readChatAnswer(
    {
      choices: [
        {
          index: 0,
          message: {
            content: null,
            tool_calls: [
              { id: 'call_1', function: { name: 'a', arguments: '"{\\"x\\": 1}"' } },
              { function: { name: 'b', arguments: { y: 2 } } },
            ],
          },
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    },
    () => 'call_made',
  );
  assert.deepEqual(tools.toolCalls, [
    { id: 'call_1', name: 'a', arguments: '{"x": 1}' },
    { id: 'call_made', name: 'b', arguments: '{"y":2}' },
  ]);
  assert.equal(tools.finishReason, 'tool_calls');
  assert.equal(tools.text, '');
  assert.throws(() => readChatAnswer({ choices: [] }, () => 'x'), UpstreamError);
});
