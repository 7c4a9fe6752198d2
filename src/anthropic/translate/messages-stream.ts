// watsonx chat events (src/watsonx/chat-events.ts) → Anthropic stream events. The one stateful
// translator: it sees protocol-neutral events (never SSE text) and returns the events to send.
//
// The event grammar Claude Code and the SDKs hold a bridge to (docs/anthropic.md): `message_start`
// once and first; blocks indexed 0, 1, 2… in the order they start, one open at a time (closed
// before the next starts); thinking only in thinking blocks, with its signature just before it
// closes; no empty text block; `stop_reason: "tool_use"` whenever a tool_use block was sent; the
// stop reason and usage held until watsonx's final usage chunk (or its end), then `message_stop`.
import type { ChatEvent, ChatFinishReason } from '../../watsonx/chat-events.ts';
import type { WatsonxUsage } from '../../watsonx/types.ts';
import type { Message, StreamEvent } from '../schemas/types.ts';
import { thinkingSignature, toStopReason, toUsage } from './messages-response.ts';

export interface MessageStreamContext {
  id: string;
  model: string;
  /** Reasoning becomes thinking blocks (the request asked for thinking); else it is dropped. */
  thinking: boolean;
  /** `message_start`'s input_tokens (watsonx tells the real count only at the end). */
  estimatedInputTokens: number;
}

type OpenBlock =
  | { kind: 'none' }
  | { kind: 'thinking'; index: number; text: string }
  | { kind: 'text'; index: number }
  | { kind: 'tool'; index: number; toolIndex: number };

export class MessageStreamTranslator {
  private readonly context: MessageStreamContext;
  private nextIndex = 0;
  private open: OpenBlock = { kind: 'none' };
  /** Events that arrived while a tool_use block was open: replayed once it closes. */
  private held: ChatEvent[] = [];
  private sawToolUse = false;
  private finish: { reason: ChatFinishReason; raw: string } | undefined;
  /** Deltas sent: output_tokens if watsonx never reports usage. */
  private deltas = 0;

  constructor(context: MessageStreamContext) {
    this.context = context;
  }

  /** Sent as soon as watsonx accepted the request, before its first chunk. */
  start(): StreamEvent[] {
    const message: Message = {
      id: this.context.id,
      type: 'message',
      role: 'assistant',
      model: this.context.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: this.context.estimatedInputTokens,
        output_tokens: 1,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    };
    return [{ type: 'message_start', message }];
  }

  push(events: readonly ChatEvent[]): StreamEvent[] {
    const out: StreamEvent[] = [];
    for (const event of events) {
      if (this.blocked(event)) this.held.push(event);
      else {
        this.handle(event, out);
        this.replay(out);
      }
    }
    return out;
  }

  /** Content deltas sent so far. */
  get sentDeltas(): number {
    return this.deltas;
  }

  /** The finish arrived: `end` may be called (once the usage is known). */
  get finished(): boolean {
    return this.finish !== undefined;
  }

  /**
   * The answer's end (after watsonx's usage chunk, or the end of its stream): `message_delta` with
   * the stop reason and usage, then `message_stop`. Throws (an upstream error) when watsonx failed
   * the answer; callers check `finished` first.
   */
  end(usage: WatsonxUsage | undefined, stopSequence: string | null): StreamEvent[] {
    const finish = this.finish ?? { reason: 'stop' as const, raw: '' };
    const stopReason = toStopReason(finish.reason, finish.raw, { sawToolUse: this.sawToolUse, stopSequence });
    return [
      {
        type: 'message_delta',
        delta: {
          stop_reason: stopReason,
          stop_sequence: stopReason === 'stop_sequence' ? stopSequence : null,
        },
        usage: toUsage(usage, this.context.estimatedInputTokens, this.deltas),
      },
      { type: 'message_stop' },
    ];
  }

  /** A tool_use block stays open until its call ends (its arguments may still come): the rest waits. */
  private blocked(event: ChatEvent): boolean {
    const open = this.open;
    if (open.kind !== 'tool') return false;
    const forOpenCall =
      (event.type === 'tool_call_arguments' || event.type === 'tool_call_end') &&
      event.index === open.toolIndex;
    return !forOpenCall;
  }

  /** Held events, in order, as far as the open block lets them through. */
  private replay(out: StreamEvent[]): void {
    for (let position = 0; position < this.held.length;) {
      const event = this.held[position]!;
      if (this.blocked(event)) {
        position += 1;
        continue;
      }
      this.held.splice(position, 1);
      this.handle(event, out);
      position = 0;
    }
  }

  private handle(event: ChatEvent, out: StreamEvent[]): void {
    switch (event.type) {
      case 'reasoning':
        if (!this.context.thinking) return;
        if (this.open.kind !== 'thinking') {
          this.close(out);
          this.open = {
            kind: 'thinking',
            index: this.begin(out, { type: 'thinking', thinking: '', signature: '' }),
            text: '',
          };
        }
        this.open.text += event.text;
        this.delta(out, this.open.index, { type: 'thinking_delta', thinking: event.text });
        return;
      case 'text':
        if (this.open.kind !== 'text') {
          this.close(out);
          this.open = { kind: 'text', index: this.begin(out, { type: 'text', text: '', citations: null }) };
        }
        this.delta(out, this.open.index, { type: 'text_delta', text: event.text });
        return;
      case 'tool_call_start':
        this.close(out);
        this.sawToolUse = true;
        this.open = {
          kind: 'tool',
          toolIndex: event.index,
          index: this.begin(out, { type: 'tool_use', id: event.id, name: event.name, input: {} }),
        };
        return;
      case 'tool_call_arguments':
        if (this.open.kind === 'tool' && event.delta !== '') {
          this.delta(out, this.open.index, { type: 'input_json_delta', partial_json: event.delta });
        }
        return;
      case 'tool_call_end':
        if (this.open.kind !== 'tool') {
          // Not expected (the reader starts every call before ending it): open it rather than lose it.
          this.handle({ type: 'tool_call_start', index: event.index, id: event.id, name: event.name }, out);
        }
        if (this.open.kind === 'tool' && event.unsent !== '') {
          this.delta(out, this.open.index, { type: 'input_json_delta', partial_json: event.unsent });
        }
        this.close(out);
        return;
      case 'finish':
        this.close(out);
        this.finish = { reason: event.reason, raw: event.raw };
        return;
    }
  }

  private begin(
    out: StreamEvent[],
    block: Extract<StreamEvent, { type: 'content_block_start' }>['content_block'],
  ): number {
    const index = this.nextIndex++;
    out.push({ type: 'content_block_start', index, content_block: block });
    return index;
  }

  private delta(
    out: StreamEvent[],
    index: number,
    delta: Extract<StreamEvent, { type: 'content_block_delta' }>['delta'],
  ): void {
    this.deltas += 1;
    out.push({ type: 'content_block_delta', index, delta });
  }

  private close(out: StreamEvent[]): void {
    const open = this.open;
    if (open.kind === 'none') return;
    if (open.kind === 'thinking') {
      out.push({
        type: 'content_block_delta',
        index: open.index,
        delta: { type: 'signature_delta', signature: thinkingSignature(open.text) },
      });
    }
    out.push({ type: 'content_block_stop', index: open.index });
    this.open = { kind: 'none' };
  }
}
