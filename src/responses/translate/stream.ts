// watsonx chat events (src/watsonx/chat-events.ts) → Responses API stream events. The one stateful
// translator of this surface; the non-stream answer is built by the same code (response.ts), so
// both carry the same items. Rules (docs/responses.md): one output item open at a time, each
// closed with its `.done` events and `response.output_item.done` (the complete item: Codex acts
// only on those) before the next opens; every delta names the open item's id; tool calls watsonx
// streams side by side are emitted one after the other; exactly one terminal event.
import type { ChatEvent, ChatFinishReason } from '../../watsonx/chat-events.ts';
import type { WatsonxUsage } from '../../watsonx/types.ts';
import type {
  CustomToolCallItem,
  FunctionCallItem,
  ItemStatus,
  MessageItem,
  OutputItem,
  ReasoningItem,
  ResponseError,
  ResponseObject,
  ResponseUsage,
} from '../schemas/types.ts';
import { customInput, type ToolOrigin } from './tools.ts';

export interface ResponseEvent {
  type: string;
  sequence_number: number;
  [field: string]: unknown;
}

export interface ResponseTranslatorOptions {
  /** The response as created: id, created_at and the echoed request settings; status and output are set here. */
  response: ResponseObject;
  /** watsonx tool name → the request's tool (custom and namespace tools map back). */
  tools: ReadonlyMap<string, ToolOrigin>;
  /** A new output item id with the given prefix (`msg`, `rs`, `fc`, `ctc`). */
  newItemId: (prefix: string) => string;
}

type OpenItem =
  | { kind: 'message'; index: number; item: MessageItem; text: string }
  | { kind: 'reasoning'; index: number; item: ReasoningItem; text: string }
  | {
      kind: 'call';
      index: number;
      item: FunctionCallItem | CustomToolCallItem;
      toolIndex: number;
      arguments: string;
    };

export function toResponseUsage(usage: WatsonxUsage | undefined): ResponseUsage {
  const input = usage?.prompt_tokens ?? 0;
  const output = usage?.completion_tokens ?? 0;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: usage?.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: usage?.total_tokens ?? input + output,
  };
}

export class ResponseStreamTranslator {
  readonly #options: ResponseTranslatorOptions;
  readonly #response: ResponseObject;
  #sequence = 0;
  #open: OpenItem | undefined;
  /** Events held back while a tool call is open (the next call, text after it). */
  #held: ChatEvent[] = [];
  #finish: { reason: ChatFinishReason; raw: string } | undefined;
  #terminal = false;

  constructor(options: ResponseTranslatorOptions) {
    this.#options = options;
    this.#response = { ...options.response, status: 'in_progress', output: [], output_text: '', usage: null };
  }

  /** The response as it stands (the final one once a terminal event was made). */
  get response(): ResponseObject {
    return this.#response;
  }

  /** Whether the answer's finish arrived (the terminal event still waits for the usage). */
  get finished(): boolean {
    return this.#finish !== undefined;
  }

  /** `response.created` and `response.in_progress`, sent before watsonx answers. */
  start(): ResponseEvent[] {
    const snapshot = this.#snapshot();
    return [
      this.#event('response.created', { response: snapshot }),
      this.#event('response.in_progress', { response: snapshot }),
    ];
  }

  push(event: ChatEvent): ResponseEvent[] {
    const out: ResponseEvent[] = [];
    this.#handle(event, out);
    return out;
  }

  /** The terminal event after the answer's finish: completed, incomplete or failed. */
  finish(usage: WatsonxUsage | undefined): ResponseEvent[] {
    const finish = this.#finish ?? { reason: 'failed' as const, raw: '' };
    const out: ResponseEvent[] = [];
    this.#closeOpen(
      out,
      finish.reason === 'stop' || finish.reason === 'tool_calls' ? 'completed' : 'incomplete',
    );
    this.#response.usage = toResponseUsage(usage);
    this.#terminal = true;
    switch (finish.reason) {
      case 'length':
        this.#response.status = 'incomplete';
        this.#response.incomplete_details = { reason: 'max_output_tokens' };
        out.push(this.#event('response.incomplete', { response: this.#snapshot() }));
        break;
      case 'content_filter':
        this.#response.status = 'incomplete';
        this.#response.incomplete_details = { reason: 'content_filter' };
        out.push(this.#event('response.incomplete', { response: this.#snapshot() }));
        break;
      case 'failed':
        this.#response.status = 'failed';
        this.#response.error = {
          code: 'server_error',
          message: `watsonx.ai ended the generation with finish_reason '${finish.raw}'`,
        };
        out.push(this.#event('response.failed', { response: this.#snapshot() }));
        break;
      default:
        this.#response.status = 'completed';
        out.push(this.#event('response.completed', { response: this.#snapshot() }));
    }
    return out;
  }

  /**
   * The stream failed after its first byte: open items end `incomplete`, then an `error` event and
   * `response.failed` (Codex reads only the latter; openai-node raises the former as an APIError).
   */
  fail(error: ResponseError & { param?: string | null }, usage: WatsonxUsage | undefined): ResponseEvent[] {
    if (this.#terminal) return [];
    const out: ResponseEvent[] = [];
    this.#closeOpen(out, 'incomplete');
    this.#terminal = true;
    this.#response.status = 'failed';
    this.#response.error = { code: error.code, message: error.message };
    this.#response.usage = toResponseUsage(usage);
    out.push(this.#event('error', { code: error.code, message: error.message, param: error.param ?? null }));
    out.push(this.#event('response.failed', { response: this.#snapshot() }));
    return out;
  }

  #handle(event: ChatEvent, out: ResponseEvent[]): void {
    const open = this.#open;
    // A tool call stays open until its end: whatever else comes meanwhile waits its turn.
    if (open?.kind === 'call' && !('index' in event && event.index === open.toolIndex)) {
      this.#held.push(event);
      return;
    }
    switch (event.type) {
      case 'text': {
        const message = open?.kind === 'message' ? open : this.#openMessage(out);
        message.text += event.text;
        out.push(
          this.#event('response.output_text.delta', {
            ...this.#at(message),
            content_index: 0,
            delta: event.text,
            logprobs: [],
          }),
        );
        return;
      }
      case 'reasoning': {
        const reasoning = open?.kind === 'reasoning' ? open : this.#openReasoning(out);
        reasoning.text += event.text;
        out.push(
          this.#event('response.reasoning_summary_text.delta', {
            ...this.#at(reasoning),
            summary_index: 0,
            delta: event.text,
          }),
        );
        return;
      }
      case 'tool_call_start':
        this.#openCall(event, out);
        return;
      case 'tool_call_arguments': {
        const call = this.#open as Extract<OpenItem, { kind: 'call' }>;
        call.arguments += event.delta;
        if (call.item.type === 'function_call') {
          out.push(
            this.#event('response.function_call_arguments.delta', { ...this.#at(call), delta: event.delta }),
          );
        }
        return;
      }
      case 'tool_call_end': {
        const call = this.#open as Extract<OpenItem, { kind: 'call' }>;
        if (call.item.type === 'function_call' && event.unsent !== '') {
          out.push(
            this.#event('response.function_call_arguments.delta', { ...this.#at(call), delta: event.unsent }),
          );
        }
        call.arguments = event.arguments;
        this.#closeOpen(out, 'completed');
        const held = this.#held;
        this.#held = [];
        for (const next of held) this.#handle(next, out);
        return;
      }
      case 'finish':
        this.#finish = { reason: event.reason, raw: event.raw };
        return;
    }
  }

  #at(open: OpenItem): { item_id: string; output_index: number } {
    return { item_id: open.item.id, output_index: open.index };
  }

  #add(out: ResponseEvent[], open: OpenItem): void {
    this.#closeOpen(out, 'completed');
    this.#open = open;
    out.push(
      this.#event('response.output_item.added', {
        output_index: open.index,
        item: structuredClone(open.item),
      }),
    );
  }

  #openMessage(out: ResponseEvent[]): Extract<OpenItem, { kind: 'message' }> {
    const item: MessageItem = {
      type: 'message',
      id: this.#options.newItemId('msg'),
      role: 'assistant',
      status: 'in_progress',
      content: [],
    };
    const open = { kind: 'message' as const, index: this.#nextIndex(out), item, text: '' };
    this.#add(out, open);
    out.push(
      this.#event('response.content_part.added', {
        ...this.#at(open),
        content_index: 0,
        part: outputText(''),
      }),
    );
    return open;
  }

  #openReasoning(out: ResponseEvent[]): Extract<OpenItem, { kind: 'reasoning' }> {
    const item: ReasoningItem = { type: 'reasoning', id: this.#options.newItemId('rs'), summary: [] };
    const open = { kind: 'reasoning' as const, index: this.#nextIndex(out), item, text: '' };
    this.#add(out, open);
    out.push(
      this.#event('response.reasoning_summary_part.added', {
        ...this.#at(open),
        summary_index: 0,
        part: { type: 'summary_text', text: '' },
      }),
    );
    return open;
  }

  #openCall(event: Extract<ChatEvent, { type: 'tool_call_start' }>, out: ResponseEvent[]): void {
    const origin = this.#options.tools.get(event.name) ?? unknownOrigin(event.name);
    const item: FunctionCallItem | CustomToolCallItem =
      origin.kind === 'custom'
        ? {
            type: 'custom_tool_call',
            id: this.#options.newItemId('ctc'),
            call_id: event.id,
            name: origin.name,
            input: '',
            status: 'in_progress',
          }
        : {
            type: 'function_call',
            id: this.#options.newItemId('fc'),
            call_id: event.id,
            name: origin.name,
            ...(origin.kind === 'namespace' && { namespace: origin.namespace }),
            arguments: '',
            status: 'in_progress',
          };
    this.#add(out, {
      kind: 'call',
      index: this.#nextIndex(out),
      item,
      toolIndex: event.index,
      arguments: '',
    });
  }

  /** The output index of the next item: the items done so far, once the open one is closed. */
  #nextIndex(out: ResponseEvent[]): number {
    this.#closeOpen(out, 'completed');
    return this.#response.output.length;
  }

  #closeOpen(out: ResponseEvent[], status: ItemStatus): void {
    const open = this.#open;
    if (!open) return;
    this.#open = undefined;
    const at = this.#at(open);
    let item: OutputItem;
    switch (open.kind) {
      case 'message': {
        const part = outputText(open.text);
        out.push(
          this.#event('response.output_text.done', {
            ...at,
            content_index: 0,
            text: open.text,
            logprobs: [],
          }),
        );
        out.push(this.#event('response.content_part.done', { ...at, content_index: 0, part }));
        item = { ...open.item, status, content: [part] };
        this.#response.output_text += open.text;
        break;
      }
      case 'reasoning': {
        const part = { type: 'summary_text' as const, text: open.text };
        out.push(
          this.#event('response.reasoning_summary_text.done', { ...at, summary_index: 0, text: open.text }),
        );
        out.push(this.#event('response.reasoning_summary_part.done', { ...at, summary_index: 0, part }));
        item = { ...open.item, summary: [part] };
        break;
      }
      case 'call':
        if (open.item.type === 'custom_tool_call') {
          const input = customInput(open.arguments);
          out.push(this.#event('response.custom_tool_call_input.delta', { ...at, delta: input }));
          out.push(this.#event('response.custom_tool_call_input.done', { ...at, input }));
          item = { ...open.item, input, status };
        } else {
          const args = open.arguments === '' ? '{}' : open.arguments;
          out.push(
            this.#event('response.function_call_arguments.done', {
              ...at,
              name: open.item.name,
              arguments: args,
            }),
          );
          item = { ...open.item, arguments: args, status };
        }
        break;
    }
    this.#response.output.push(item);
    out.push(this.#event('response.output_item.done', { output_index: open.index, item }));
  }

  #snapshot(): ResponseObject {
    return structuredClone(this.#response);
  }

  #event(type: string, fields: Record<string, unknown>): ResponseEvent {
    return { type, sequence_number: this.#sequence++, ...fields };
  }
}

function outputText(text: string) {
  return { type: 'output_text' as const, text, annotations: [], logprobs: [] };
}

/** A tool name watsonx made up (not in the request): a function call of that name. */
function unknownOrigin(name: string): ToolOrigin {
  return { kind: 'function', name };
}
