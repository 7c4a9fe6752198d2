/**
 * Server-Sent-Events decoding for watsonx streams, following the WHATWG event-stream
 * interpretation rules: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */

export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

const LINE_FEED = 0x0a;
const SPACE = 0x20;
const BYTE_ORDER_MARK = 0xfeff;

/** Incremental decoder: feed bytes or strings in arbitrary pieces, get whole events back. */
export class SseDecoder {
  // The BOM is stripped by hand rather than by TextDecoder so that it is handled the same
  // whether the stream starts with bytes or with a string.
  readonly #textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
  #textDecoderHoldsBytes = false;
  #streamStarted = false;
  /** The previous input ended with CR: a LF at the start of the next input belongs to that line ending. */
  #skipLeadingLineFeed = false;
  /** Pieces of the current, not yet terminated line; joined once, when its line ending arrives. */
  readonly #unfinishedLine: string[] = [];
  /** The spec's data buffer, kept as one entry per `data` line and joined with "\n" on dispatch. */
  #dataLines: string[] = [];
  #eventType = '';
  #lastEventId: string | undefined = undefined;

  push(chunk: Uint8Array | string): SseEvent[] {
    const events: SseEvent[] = [];
    if (typeof chunk === 'string') {
      if (this.#textDecoderHoldsBytes) {
        this.#consume(this.#textDecoder.decode(), events);
        this.#textDecoderHoldsBytes = false;
      }
      this.#consume(chunk, events);
    } else {
      this.#consume(this.#textDecoder.decode(chunk, { stream: true }), events);
      this.#textDecoderHoldsBytes = true;
    }
    return events;
  }

  /** End of input: returns a last pending event even when the final blank line is missing. */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    if (this.#textDecoderHoldsBytes) {
      this.#consume(this.#textDecoder.decode(), events);
      this.#textDecoderHoldsBytes = false;
    }
    if (this.#unfinishedLine.length > 0) {
      const line = this.#unfinishedLine.join('');
      this.#unfinishedLine.length = 0;
      this.#processLine(line, events);
    }
    // Deviation from the spec, which drops an event without its closing blank line: recorded
    // watsonx streams end right after the last `data:` line, and that last event carries the usage.
    this.#dispatch(events);
    this.#skipLeadingLineFeed = false;
    return events;
  }

  #consume(input: string, events: SseEvent[]): void {
    if (input.length === 0) return;
    let text = input;
    if (!this.#streamStarted) {
      this.#streamStarted = true;
      if (text.charCodeAt(0) === BYTE_ORDER_MARK) text = text.slice(1);
    }
    let start = 0;
    if (this.#skipLeadingLineFeed) {
      this.#skipLeadingLineFeed = false;
      if (text.charCodeAt(0) === LINE_FEED) start = 1;
    }
    const length = text.length;
    // Each input character is looked at once: both searches only ever move forward.
    let carriageReturnIndex = text.indexOf('\r', start);
    let lineFeedIndex = text.indexOf('\n', start);
    while (carriageReturnIndex !== -1 || lineFeedIndex !== -1) {
      let lineEnd: number;
      let nextStart: number;
      if (carriageReturnIndex !== -1 && (lineFeedIndex === -1 || carriageReturnIndex < lineFeedIndex)) {
        lineEnd = carriageReturnIndex;
        if (carriageReturnIndex + 1 === length) {
          this.#skipLeadingLineFeed = true;
          nextStart = length;
        } else {
          nextStart = text.charCodeAt(carriageReturnIndex + 1) === LINE_FEED ? lineEnd + 2 : lineEnd + 1;
        }
      } else {
        lineEnd = lineFeedIndex;
        nextStart = lineEnd + 1;
      }
      let line: string;
      if (this.#unfinishedLine.length === 0) {
        line = text.slice(start, lineEnd);
      } else {
        this.#unfinishedLine.push(text.slice(start, lineEnd));
        line = this.#unfinishedLine.join('');
        this.#unfinishedLine.length = 0;
      }
      this.#processLine(line, events);
      start = nextStart;
      if (carriageReturnIndex !== -1 && carriageReturnIndex < start) {
        carriageReturnIndex = text.indexOf('\r', start);
      }
      if (lineFeedIndex !== -1 && lineFeedIndex < start) lineFeedIndex = text.indexOf('\n', start);
    }
    if (start < length) this.#unfinishedLine.push(text.slice(start));
  }

  #processLine(line: string, events: SseEvent[]): void {
    if (line.length === 0) {
      this.#dispatch(events);
      return;
    }
    const colonIndex = line.indexOf(':');
    if (colonIndex === 0) return;
    let field: string;
    let value: string;
    if (colonIndex === -1) {
      field = line;
      value = '';
    } else {
      field = line.slice(0, colonIndex);
      const valueStart = line.charCodeAt(colonIndex + 1) === SPACE ? colonIndex + 2 : colonIndex + 1;
      value = line.slice(valueStart);
    }
    switch (field) {
      case 'data':
        this.#dataLines.push(value);
        break;
      case 'event':
        this.#eventType = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.#lastEventId = value;
        break;
      // `retry` only matters to a reconnecting browser EventSource; it and unknown fields are ignored.
    }
  }

  #dispatch(events: SseEvent[]): void {
    if (this.#dataLines.length > 0) {
      const data = this.#dataLines.length === 1 ? this.#dataLines[0]! : this.#dataLines.join('\n');
      events.push({
        event: this.#eventType === '' ? 'message' : this.#eventType,
        data,
        id: this.#lastEventId,
      });
      this.#dataLines = [];
    }
    this.#eventType = '';
  }
}
