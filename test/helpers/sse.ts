// Reads an OpenAI-style SSE body as the strictest clients do, and fails on anything they choke on.
import assert from 'node:assert/strict';

export interface ParsedStream {
  /** JSON payloads of every `data:` frame except [DONE], in order. */
  chunks: any[];
  /** Comment lines (keep-alives). */
  comments: string[];
  done: boolean;
}

export function parseOpenAIStream(text: string): ParsedStream {
  assert.ok(text.endsWith('\n\n'), 'every frame, including the last, ends with a blank line');
  const frames = text.slice(0, -2).split('\n\n');
  const result: ParsedStream = { chunks: [], comments: [], done: false };
  for (const frame of frames) {
    assert.notEqual(frame, '', 'no double blank lines / empty events');
    for (const line of frame.split('\n')) {
      if (line.startsWith(':')) {
        result.comments.push(line);
        continue;
      }
      assert.ok(
        line.startsWith('data: '),
        `only data: lines and comments are allowed, got ${JSON.stringify(line)}`,
      );
      assert.equal(result.done, false, 'nothing may follow data: [DONE]');
      const data = line.slice('data: '.length);
      if (data === '[DONE]') result.done = true;
      else result.chunks.push(JSON.parse(data));
    }
  }
  return result;
}
