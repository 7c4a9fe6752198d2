// Reads an Anthropic Messages SSE body as the Anthropic SDK's MessageStream does, and fails on what
// it (or Claude Code) chokes on: an event name that differs from the JSON type, a second or late
// message_start, blocks out of order or two open at once, deltas of the wrong kind for their block,
// anything after message_stop.
import assert from 'node:assert/strict';

export interface AnthropicStream {
  /** Every event's JSON, pings and errors included, in order. */
  events: any[];
  /** The message as the SDK accumulates it (input of tool_use blocks parsed at their stop). */
  message: any;
  pings: number;
  error: any;
  stopped: boolean;
}

export function parseAnthropicStream(text: string): AnthropicStream {
  assert.ok(text.endsWith('\n\n'), 'every event, including the last, ends with a blank line');
  const result: AnthropicStream = {
    events: [],
    message: undefined,
    pings: 0,
    error: undefined,
    stopped: false,
  };
  const open = new Map<number, { type: string; json: string }>();
  for (const frame of text.slice(0, -2).split('\n\n')) {
    const lines = frame.split('\n');
    assert.equal(
      lines.length,
      2,
      `an event is one event: line and one data: line, got ${JSON.stringify(frame)}`,
    );
    assert.ok(lines[0]!.startsWith('event: ') && lines[1]!.startsWith('data: '), frame);
    const name = lines[0]!.slice('event: '.length);
    const data = JSON.parse(lines[1]!.slice('data: '.length));
    assert.equal(data.type, name, 'the event name equals the JSON type');
    assert.equal(result.stopped, false, 'nothing follows message_stop');
    assert.equal(result.error, undefined, 'nothing follows an error event');
    result.events.push(data);
    switch (name) {
      case 'ping':
        result.pings += 1;
        break;
      case 'error':
        result.error = data.error;
        break;
      case 'message_start':
        assert.equal(result.message, undefined, 'message_start comes once');
        assert.deepEqual(data.message.content, []);
        assert.ok(data.message.usage.input_tokens > 0, 'message_start carries an input token count');
        result.message = structuredClone(data.message);
        break;
      case 'content_block_start':
        assert.ok(result.message, 'message_start first');
        assert.equal(open.size, 0, 'one block open at a time');
        assert.equal(data.index, result.message.content.length, 'blocks are indexed 0, 1, 2… in start order');
        result.message.content.push(structuredClone(data.content_block));
        open.set(data.index, { type: data.content_block.type, json: '' });
        break;
      case 'content_block_delta': {
        const block = result.message.content[data.index];
        const state = open.get(data.index);
        assert.ok(block && state, 'deltas go to the open block');
        const delta = data.delta;
        if (delta.type === 'text_delta') {
          assert.equal(block.type, 'text');
          block.text += delta.text;
        } else if (delta.type === 'thinking_delta') {
          assert.equal(block.type, 'thinking', 'thinking only in thinking blocks');
          block.thinking += delta.thinking;
        } else if (delta.type === 'signature_delta') {
          assert.equal(block.type, 'thinking');
          block.signature += delta.signature;
        } else if (delta.type === 'input_json_delta') {
          assert.equal(block.type, 'tool_use');
          state.json += delta.partial_json;
        } else assert.fail(`unknown delta ${delta.type}`);
        break;
      }
      case 'content_block_stop': {
        const state = open.get(data.index);
        assert.ok(state, 'content_block_stop closes the open block');
        const block = result.message.content[data.index];
        if (block.type === 'tool_use') block.input = state.json === '' ? {} : JSON.parse(state.json);
        if (block.type === 'text') assert.notEqual(block.text, '', 'no empty text block');
        if (block.type === 'thinking') assert.notEqual(block.signature, '', 'a thinking block is signed');
        open.delete(data.index);
        break;
      }
      case 'message_delta':
        assert.equal(open.size, 0, 'blocks are closed before message_delta');
        result.message.stop_reason = data.delta.stop_reason;
        result.message.stop_sequence = data.delta.stop_sequence;
        result.message.usage = { ...result.message.usage, ...data.usage };
        break;
      case 'message_stop':
        assert.ok(result.message?.stop_reason, 'message_delta before message_stop');
        result.stopped = true;
        break;
      default:
        assert.fail(`unknown event ${name}`);
    }
  }
  return result;
}
