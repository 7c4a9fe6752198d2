// A watsonx chat answer read as protocol-neutral events, for the API surfaces built on the chat path
// (the Responses API, Anthropic Messages). It smooths watsonx's quirks once (docs/translation.md):
// tool-call continuation deltas with `"name": ""` and no id, the tool name arriving only in a later
// delta (2024 framing), double-encoded or object arguments, usage on a final `choices: []` chunk
// (2025) or on every chunk (2024), finish reasons on a chunk that still carries text, empty
// `reasoning_content` deltas. One choice: these protocols have no `n`.
import { UpstreamError } from './errors.ts';
import { normalizeToolArguments } from './tool-arguments.ts';
import type {
  WatsonxChatChunk,
  WatsonxChatResponse,
  WatsonxResponseToolCall,
  WatsonxUsage,
} from './types.ts';

/**
 * Why the answer ended. `tool_calls` whenever it holds a tool call (watsonx sometimes says `stop`
 * on tool-call turns), unless it was cut short; `failed`: watsonx's `cancelled` or `error`, not a
 * real answer.
 */
export type ChatFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'failed';

export type ChatEvent =
  | { type: 'text'; text: string }
  | { type: 'reasoning'; text: string }
  | { type: 'tool_call_start'; index: number; id: string; name: string }
  | { type: 'tool_call_arguments'; index: number; delta: string }
  | {
      type: 'tool_call_end';
      index: number;
      id: string;
      name: string;
      /** The whole arguments JSON text (`{}` when none). */
      arguments: string;
      /** The part of `arguments` not given yet as `tool_call_arguments` deltas. */
      unsent: string;
    }
  /** After every `tool_call_end`; the last event of an answer. */
  | { type: 'finish'; reason: ChatFinishReason; raw: string };

export function mapChatFinishReason(raw: string | null | undefined, hasToolCalls: boolean): ChatFinishReason {
  switch (raw) {
    case 'length':
    case 'time_limit':
    case 'max_tokens':
    case 'token_limit':
      return 'length';
    case 'content_filter':
      return 'content_filter';
    case 'cancelled':
    case 'error':
      return 'failed';
    default:
      return hasToolCalls ? 'tool_calls' : 'stop';
  }
}

interface ToolCallState {
  index: number;
  id: string;
  name: string;
  started: boolean;
  /** Arguments received but not yet given out. */
  pending: string;
  /** Arguments given out as deltas. */
  sent: string;
  /** streaming: fragments are relayed; buffered: double-encoded, decoded at the end; undecided: only whitespace so far. */
  mode: 'undecided' | 'streaming' | 'buffered';
}

export class ChatEventReader {
  readonly #newToolCallId: () => string;
  readonly #toolCalls = new Map<number, ToolCallState>();
  #finished = false;
  #sawUsageChunk = false;
  #usage: WatsonxUsage | undefined;

  constructor(options: { newToolCallId: () => string }) {
    this.#newToolCallId = options.newToolCallId;
  }

  /** The answer finished and the final usage chunk arrived: nothing more is expected upstream. */
  get complete(): boolean {
    return this.#finished && this.#sawUsageChunk;
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** The latest usage watsonx reported. */
  get usage(): WatsonxUsage | undefined {
    return this.#usage;
  }

  push(chunk: WatsonxChatChunk): ChatEvent[] {
    if (chunk.usage) this.#usage = chunk.usage;
    const choices = chunk.choices ?? [];
    if (choices.length === 0 && chunk.usage) this.#sawUsageChunk = true;
    const events: ChatEvent[] = [];
    for (const choice of choices) {
      if ((choice.index ?? 0) !== 0 || this.#finished) continue;
      const delta = choice.delta ?? {};
      if (typeof delta.reasoning_content === 'string' && delta.reasoning_content !== '') {
        events.push({ type: 'reasoning', text: delta.reasoning_content });
      }
      if (typeof delta.content === 'string' && delta.content !== '') {
        events.push({ type: 'text', text: delta.content });
      }
      for (const call of delta.tool_calls ?? []) this.#toolCallDelta(call, events);
      if (choice.finish_reason != null) this.#finish(choice.finish_reason, events);
    }
    return events;
  }

  /** Upstream ended. An answer without a finish reason is incomplete: an upstream fault. */
  end(): ChatEvent[] {
    if (!this.#finished) {
      throw new UpstreamError('protocol', 'watsonx.ai ended the stream before the answer was complete');
    }
    return [];
  }

  #toolCallDelta(call: WatsonxResponseToolCall, events: ChatEvent[]): void {
    const index = call.index ?? 0;
    let tool = this.#toolCalls.get(index);
    if (!tool) {
      tool = { index, id: '', name: '', started: false, pending: '', sent: '', mode: 'undecided' };
      this.#toolCalls.set(index, tool);
    }
    if (call.id && !tool.id) tool.id = call.id;
    // Continuation deltas carry "name": "": only a non-empty name before the call started counts.
    if (call.function?.name && !tool.started) tool.name = call.function.name;
    const fragment = call.function?.arguments;
    tool.pending += typeof fragment === 'string' ? fragment : fragment ? JSON.stringify(fragment) : '';
    if (tool.mode === 'undecided' && tool.pending.trim() !== '') {
      tool.mode = tool.pending.trimStart().startsWith('"') ? 'buffered' : 'streaming';
    }
    if (!tool.started && tool.name) this.#start(tool, events);
    if (tool.started && tool.mode === 'streaming' && tool.pending !== '') {
      events.push({ type: 'tool_call_arguments', index, delta: tool.pending });
      tool.sent += tool.pending;
      tool.pending = '';
    }
  }

  #start(tool: ToolCallState, events: ChatEvent[]): void {
    tool.started = true;
    tool.id ||= this.#newToolCallId();
    events.push({ type: 'tool_call_start', index: tool.index, id: tool.id, name: tool.name });
  }

  #finish(raw: string, events: ChatEvent[]): void {
    const tools = [...this.#toolCalls.values()].sort((left, right) => left.index - right.index);
    for (const tool of tools) {
      if (!tool.started) this.#start(tool, events);
      let whole: string;
      let unsent: string;
      if (tool.sent === '') {
        // Buffered double-encoded arguments are decoded here; a call that never got arguments gets "{}".
        whole = unsent = normalizeToolArguments(tool.pending);
      } else {
        whole = tool.sent + tool.pending;
        unsent = tool.pending;
      }
      tool.pending = '';
      events.push({
        type: 'tool_call_end',
        index: tool.index,
        id: tool.id,
        name: tool.name,
        arguments: whole,
        unsent,
      });
    }
    this.#finished = true;
    events.push({ type: 'finish', reason: mapChatFinishReason(raw, tools.length > 0), raw });
  }
}

/** A non-stream watsonx chat answer, read the same way (choice 0). */
export interface ChatAnswer {
  text: string;
  reasoning: string;
  toolCalls: Array<{ id: string; name: string; arguments: string }>;
  finishReason: ChatFinishReason;
  rawFinishReason: string;
  usage: WatsonxUsage | undefined;
}

export function readChatAnswer(response: WatsonxChatResponse, newToolCallId: () => string): ChatAnswer {
  const choices = response.choices ?? [];
  const choice = choices.find((candidate) => (candidate.index ?? 0) === 0) ?? choices[0];
  if (!choice) throw new UpstreamError('protocol', 'watsonx.ai returned no choices');
  const message = choice.message ?? {};
  const toolCalls = (message.tool_calls ?? []).map((call) => ({
    id: call.id || newToolCallId(),
    name: call.function?.name ?? '',
    arguments: normalizeToolArguments(call.function?.arguments),
  }));
  const raw = choice.finish_reason ?? '';
  return {
    text: typeof message.content === 'string' ? message.content : '',
    reasoning: typeof message.reasoning_content === 'string' ? message.reasoning_content : '',
    toolCalls,
    finishReason: mapChatFinishReason(raw, toolCalls.length > 0),
    rawFinishReason: raw,
    usage: response.usage,
  };
}
