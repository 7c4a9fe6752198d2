// The watsonx stream decoding layer (src/watsonx/sse-decoder.ts: TextDecoder + eventsource-parser):
// the recorded stream cut anywhere, and the event-stream rules one by one. Text chunks are sent as
// their UTF-8 bytes, each in its own push, as network reads arrive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SseDecoder, type SseEvent } from '../src/watsonx/sse-decoder.ts';

const fixtureBytes = readFileSync(new URL('./fixtures/watsonx-chat-stream-reasoning.sse', import.meta.url));
const encoder = new TextEncoder();

function decodeChunks(chunks: (Uint8Array | string)[]): SseEvent[] {
  const decoder = new SseDecoder();
  const events: SseEvent[] = [];
  for (const chunk of chunks) events.push(...decoder.push(toBytes(chunk)));
  events.push(...decoder.end());
  return events;
}

function toBytes(chunk: Uint8Array | string): Uint8Array {
  return typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
}

function message(data: string, id?: string): SseEvent {
  return { event: 'message', data, id };
}

/** Every way of cutting `text` (as UTF-8 bytes) into two chunks, including empty ones. */
function everyTwoChunkSplit(text: string): Uint8Array[][] {
  const bytes = encoder.encode(text);
  const splits: Uint8Array[][] = [];
  for (let offset = 0; offset <= bytes.length; offset++) {
    splits.push([bytes.subarray(0, offset), bytes.subarray(offset)]);
  }
  return splits;
}

// Built without the decoder: the fixture is regular, one `id`/`event`/`data` triple per block.
const expectedFixtureEvents: SseEvent[] = fixtureBytes
  .toString('utf8')
  .split('\n\n')
  .map((block) => {
    const [idLine, eventLine, dataLine, ...rest] = block.split('\n');
    assert.equal(rest.length, 0);
    assert.equal(eventLine, 'event: message');
    return message(dataLine!.slice('data: '.length), idLine!.slice('id: '.length));
  });

test('the fixture has 29 blocks and no trailing blank line', () => {
  assert.equal(expectedFixtureEvents.length, 29);
  assert.equal(fixtureBytes.at(-1), '}'.charCodeAt(0));
});

test('decodes the whole recorded watsonx stream, including the last event without a closing blank line', () => {
  const events = decodeChunks([fixtureBytes]);
  assert.deepEqual(events, expectedFixtureEvents);
  assert.deepEqual(
    events.map((event) => event.id),
    Array.from({ length: 29 }, (_, index) => String(index + 1)),
  );
  for (const event of events) {
    assert.equal(event.event, 'message');
    assert.equal(JSON.parse(event.data).object, 'chat.completion.chunk');
  }
  assert.deepEqual(JSON.parse(events[4]!.data).choices[0].delta, { reasoning_content: 'User' });
  assert.deepEqual(JSON.parse(events[28]!.data).usage, {
    completion_tokens: 27,
    prompt_tokens: 85,
    total_tokens: 112,
  });
});

test('the recorded stream gives the same events when split into two chunks at every byte offset', () => {
  for (let offset = 0; offset <= fixtureBytes.length; offset++) {
    const events = decodeChunks([fixtureBytes.subarray(0, offset), fixtureBytes.subarray(offset)]);
    assert.deepEqual(events, expectedFixtureEvents, `split at byte ${offset}`);
  }
});

test('the recorded stream gives the same events when fed one byte at a time', () => {
  const chunks = Array.from({ length: fixtureBytes.length }, (_, index) =>
    fixtureBytes.subarray(index, index + 1),
  );
  assert.deepEqual(decodeChunks(chunks), expectedFixtureEvents);
});

test('push returns each event as soon as its blank line arrives', () => {
  const decoder = new SseDecoder();
  assert.deepEqual(decoder.push(toBytes('data: a\n')), []);
  assert.deepEqual(decoder.push(toBytes('\ndata: b\n\ndata: c')), [message('a'), message('b')]);
  assert.deepEqual(decoder.end(), [message('c')]);
  assert.deepEqual(decoder.end(), []);
});

test('CRLF line endings', () => {
  assert.deepEqual(decodeChunks(['id: 7\r\ndata: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n']), [
    message('a\nb', '7'),
    message('c', '7'),
  ]);
});

test('lone CR line endings', () => {
  assert.deepEqual(decodeChunks(['event: x\rdata: a\rdata: b\r\rdata: c\r\r']), [
    { event: 'x', data: 'a\nb', id: undefined },
    message('c'),
  ]);
});

test('a CRLF split across chunks is one line ending, not a blank line', () => {
  // A spurious blank line after "data: a" would dispatch "a" and "b" as two events.
  const expected = [message('a\nb')];
  assert.deepEqual(decodeChunks(['data: a\r', '\ndata: b\r\n\r\n']), expected);
  assert.deepEqual(decodeChunks(['data: a\r', '', '\ndata: b\r\n\r\n']), expected);
  for (const chunks of everyTwoChunkSplit('data: a\r\ndata: b\r\n\r\n')) {
    assert.deepEqual(decodeChunks(chunks), expected);
  }
});

test('a CR at the end of a chunk followed by a CR is a blank line', () => {
  assert.deepEqual(decodeChunks(['data: a\r', '\rdata: b\r\r']), [message('a'), message('b')]);
});

test('comment lines are ignored', () => {
  assert.deepEqual(decodeChunks([': keep-alive\n\ndata: a\n: inside an event\ndata: b\n\n:\n\n']), [
    message('a\nb'),
  ]);
});

test('multi-line data is joined with "\\n", and an empty data line contributes an empty line', () => {
  assert.deepEqual(decodeChunks(['data: {\ndata:   "a": 1\ndata\ndata: }\n\n']), [
    message('{\n  "a": 1\n\n}'),
  ]);
});

test('only one space after the colon is removed, and none is required', () => {
  assert.deepEqual(decodeChunks(['data:x\n\ndata:  y \n\ndata:\n\n']), [
    message('x'),
    message(' y '),
    message(''),
  ]);
});

test('a line without a colon is a field name with an empty value', () => {
  assert.deepEqual(decodeChunks(['data\n\nevent: custom\nevent\ndata: x\n\n']), [message(''), message('x')]);
});

test('event: error followed by data', () => {
  const body = '{"errors":[{"code":"internal_error","message":"boom"}],"trace":"abc","status_code":500}';
  assert.deepEqual(decodeChunks([`id: 3\nevent: error\ndata: ${body}\n\n`]), [
    { event: 'error', data: body, id: '3' },
  ]);
});

test('a trailing close event, with or without its final blank line', () => {
  const expected = [message('{"a":1}', '1'), { event: 'close', data: '{}', id: '1' }];
  assert.deepEqual(
    decodeChunks(['id: 1\nevent: message\ndata: {"a":1}\n\nevent: close\ndata: {}\n\n']),
    expected,
  );
  assert.deepEqual(
    decodeChunks(['id: 1\nevent: message\ndata: {"a":1}\n\nevent: close\ndata: {}']),
    expected,
  );
});

test('a missing final blank line still dispatches the last event at end(), whatever the line ending', () => {
  for (const tail of ['', '\n', '\r', '\r\n']) {
    const decoder = new SseDecoder();
    assert.deepEqual(decoder.push(toBytes(`event: last\ndata: z${tail}`)), []);
    assert.deepEqual(decoder.end(), [{ event: 'last', data: 'z', id: undefined }], JSON.stringify(tail));
  }
});

test('end() with nothing pending returns no event', () => {
  assert.deepEqual(decodeChunks([]), []);
  assert.deepEqual(decodeChunks(['data: a\n\n']), [message('a')]);
  assert.deepEqual(decodeChunks(['event: x\nid: 2\n: comment']), []);
});

test('a leading BOM is ignored, split anywhere', () => {
  const withBom = new Uint8Array([0xef, 0xbb, 0xbf, ...encoder.encode('data: a\n\n')]);
  for (let offset = 0; offset <= withBom.length; offset++) {
    assert.deepEqual(decodeChunks([withBom.subarray(0, offset), withBom.subarray(offset)]), [message('a')]);
  }
  assert.deepEqual(decodeChunks(['\uFEFFdata: a\n\n']), [message('a')]);
});

test('only the first BOM is ignored: a second one becomes part of the field name', () => {
  assert.deepEqual(decodeChunks(['\uFEFF\uFEFFdata: a\n\ndata: b\n\n']), [message('b')]);
  assert.deepEqual(decodeChunks(['data: a\n\n\uFEFFdata: b\n\n']), [message('a')]);
  const twoBoms = new Uint8Array([
    0xef,
    0xbb,
    0xbf,
    0xef,
    0xbb,
    0xbf,
    ...encoder.encode('data: a\n\ndata: b\n\n'),
  ]);
  assert.deepEqual(decodeChunks([twoBoms]), [message('b')]);
});

test('multi-byte characters split across chunks are decoded intact', () => {
  const text = 'data: caffè 🙂 漢字\n\n';
  for (const chunks of everyTwoChunkSplit(text)) {
    assert.deepEqual(decodeChunks(chunks), [message('caffè 🙂 漢字')]);
  }
  const bytes = encoder.encode(text);
  const oneByteChunks = Array.from(bytes, (_, index) => bytes.subarray(index, index + 1));
  assert.deepEqual(decodeChunks(oneByteChunks), [message('caffè 🙂 漢字')]);
});

test('invalid UTF-8 becomes U+FFFD, including a character cut off by the next read or by the end', () => {
  assert.deepEqual(decodeChunks([new Uint8Array([0x64, 0x61, 0x74, 0x61, 0x3a, 0xff, 0x0a, 0x0a])]), [
    message('\uFFFD'),
  ]);
  assert.deepEqual(decodeChunks([encoder.encode('data: '), new Uint8Array([0xf0, 0x9f]), '\n\n']), [
    message('\uFFFD'),
  ]);
  assert.deepEqual(decodeChunks([encoder.encode('data: a'), new Uint8Array([0xf0, 0x9f])]), [
    message('a\uFFFD'),
  ]);
});

test('blank lines without data dispatch nothing but reset the event type', () => {
  assert.deepEqual(decodeChunks(['\n\n\r\n\r\r\nevent: ping\n\ndata: a\n\n\n\n']), [message('a')]);
});

test('the id persists across events, an id with NUL is ignored, an empty id clears it', () => {
  assert.deepEqual(decodeChunks(['id: 1\ndata: a\n\ndata: b\n\nid: 2\0x\ndata: c\n\nid\ndata: d\n\n']), [
    message('a', '1'),
    message('b', '1'),
    message('c', '1'),
    message('d', ''),
  ]);
});

test('retry and unknown fields are ignored, and field names are case-sensitive', () => {
  assert.deepEqual(decodeChunks(['retry: 1000\nfoo: bar\nData: no\nEVENT: no\ndata: a\n\n']), [message('a')]);
});
