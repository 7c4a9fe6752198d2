// Server-Sent-Events decoding for watsonx streams: bytes → UTF-8 text → events. The event-stream
// rules (line endings, comments, multi-line data, one leading BOM, ids) are eventsource-parser's;
// this layer adds the byte decoding, the spec's default event type and the end of the stream.
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { describeBytes } from './bounded-body.ts';
import { UpstreamError } from './errors.ts';

/**
 * The most text one event may hold before it is complete (a line that never ends, or `data:` lines
 * without the blank line): the parser buffers it all, so an endless one would fill the heap.
 */
export const MAX_PENDING_EVENT_CHARS = 1024 * 1024;

export interface SseEvent {
  /** `message` when the event named none. */
  event: string;
  data: string;
  /** The last event id seen so far (it persists across events, as the spec has it). */
  id: string | undefined;
}

/** Incremental decoder: feed network reads cut anywhere, get whole events back. */
export class SseDecoder {
  // The BOM is left in the text: the parser strips exactly one, as the spec asks.
  readonly #text = new TextDecoder('utf-8', { ignoreBOM: true });
  readonly #parser: EventSourceParser;
  #events: SseEvent[] = [];
  #lastEventId: string | undefined;
  readonly #maxPending: number;
  /** Text fed since the last event completed (counted from the last line break of a read that completed one). */
  #pending = 0;

  constructor(options: { maxPendingChars?: number } = {}) {
    this.#maxPending = options.maxPendingChars ?? MAX_PENDING_EVENT_CHARS;
    this.#parser = createParser({
      onId: (id) => (this.#lastEventId = id),
      onEvent: (event) =>
        this.#events.push({ event: event.event ?? 'message', data: event.data, id: this.#lastEventId }),
    });
  }

  /** The events completed by `bytes`. */
  push(bytes: Uint8Array): readonly SseEvent[] {
    const text = this.#text.decode(bytes, { stream: true });
    this.#parser.feed(text);
    if (this.#events.length > 0) {
      const lineEnd = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
      this.#pending = text.length - lineEnd - 1;
    } else {
      this.#pending += text.length;
    }
    if (this.#pending > this.#maxPending) {
      this.#parser.reset({ consume: false });
      this.#events = [];
      throw new UpstreamError(
        'protocol',
        `watsonx.ai sent a stream event larger than ${describeBytes(this.#maxPending)}`,
      );
    }
    return this.#take();
  }

  /** End of input: returns a last pending event even when the final blank line is missing. */
  end(): readonly SseEvent[] {
    // Deviation from the spec, which drops an event without its closing blank line: recorded
    // watsonx streams end right after the last `data:` line, and that last event carries the usage.
    this.#parser.feed(`${this.#text.decode()}\n\n`);
    this.#parser.reset();
    return this.#take();
  }

  #take(): readonly SseEvent[] {
    if (this.#events.length === 0) return NO_EVENTS;
    const events = this.#events;
    this.#events = [];
    return events;
  }
}

const NO_EVENTS: readonly SseEvent[] = Object.freeze([]);
