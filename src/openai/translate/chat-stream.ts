// watsonx chat_stream chunks → OpenAI chat.completion.chunk objects. The one stateful translator:
// it sees parsed JSON chunks (never SSE text) and returns the chunks to send, in order.
//
// What it smooths over (see docs/translation.md): one choice per watsonx chunk with n > 1
// interleaved; usage either on a final `choices: []` chunk (2025) or running on every chunk (2024);
// tool-call continuation deltas with `"name": ""` and no id; the tool name arriving only in the
// second delta (2024); double-encoded tool arguments; finish reasons on a chunk that still carries
// text; repeated empty `reasoning_content` deltas.
import { GatewayError } from '../../server/errors.ts';
import type {
  ChatCompletionChunk,
  ChatCompletionChunkChoice,
  ChatCompletionChunkToolCall,
} from '../schemas/types.ts';
import type { WatsonxChatChunk, WatsonxResponseToolCall, WatsonxUsage } from '../../watsonx/types.ts';
import { mapFinishReason, toOpenAILogprobs, toOpenAIUsage } from './chat-response.ts';
import { normalizeToolArguments } from '../../watsonx/tool-arguments.ts';

export interface ChatStreamContext {
  /** The response id and creation time shared by every chunk (chosen by the gateway before upstream answers). */
  id: string;
  created: number;
  model: string;
  /** Number of choices asked for (`n`); the stream is complete when each has finished. */
  choices: number;
  /** stream_options.include_usage: add `usage: null` to every chunk and a final usage chunk. */
  includeUsage: boolean;
  parallelToolCalls: boolean;
  /** Generates tool call ids watsonx did not send. */
  newId: () => string;
}

interface ToolCallState {
  id: string;
  name: string;
  started: boolean;
  /** Argument text received but not yet sent. */
  pending: string;
  /** streaming: fragments are relayed; buffered: double-encoded, decoded at the end; undecided: only whitespace so far. */
  mode: 'undecided' | 'streaming' | 'buffered';
  sentArguments: boolean;
}

interface ChoiceState {
  roleSent: boolean;
  finished: boolean;
  toolCalls: Map<number, ToolCallState>;
  /** With parallel_tool_calls false, the only tool call index relayed. */
  firstToolIndex: number | undefined;
}

export class ChatStreamTranslator {
  private readonly context: ChatStreamContext;
  private readonly states = new Map<number, ChoiceState>();
  private usage: WatsonxUsage | undefined;
  private sawUsageChunk = false;

  constructor(context: ChatStreamContext) {
    this.context = context;
  }

  /** True once every choice finished and the usage chunk arrived: nothing more is expected upstream. */
  get complete(): boolean {
    return this.sawUsageChunk && this.allFinished();
  }

  /**
   * The first chunk of every choice (`delta.role`), sent as soon as watsonx accepted the request
   * (HTTP 200), before its first event, so that clients get headers and a first event at once even
   * when a reasoning model thinks for minutes.
   */
  start(): ChatCompletionChunk[] {
    const out: ChatCompletionChunk[] = [];
    for (let index = 0; index < this.context.choices; index++) {
      this.state(index).roleSent = true;
      out.push(
        this.chunk({ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }),
      );
    }
    return out;
  }

  push(chunk: WatsonxChatChunk): ChatCompletionChunk[] {
    if (chunk.usage) this.usage = chunk.usage;
    const choices = chunk.choices ?? [];
    if (choices.length === 0 && chunk.usage) this.sawUsageChunk = true;

    const out: ChatCompletionChunk[] = [];
    for (const choice of choices) {
      const index = choice.index ?? 0;
      const state = this.state(index);
      if (state.finished) continue;
      const delta = choice.delta ?? {};
      const emitted: ChatCompletionChunkChoice['delta'] = {};
      if (!state.roleSent) {
        state.roleSent = true;
        emitted.role = 'assistant';
        emitted.content = '';
      }
      if (typeof delta.content === 'string' && delta.content !== '') emitted.content = delta.content;
      if (typeof delta.reasoning_content === 'string' && delta.reasoning_content !== '') {
        emitted.reasoning_content = delta.reasoning_content;
      }
      const toolDeltas = this.toolCallDeltas(state, delta.tool_calls ?? []);
      if (toolDeltas.length > 0) {
        if (emitted.content === '') delete emitted.content;
        emitted.tool_calls = toolDeltas;
      }
      if (Object.keys(emitted).length > 0) {
        out.push(
          this.chunk({
            index,
            delta: emitted,
            logprobs: toOpenAILogprobs(choice.logprobs),
            finish_reason: null,
          }),
        );
      }
      if (choice.finish_reason != null) out.push(...this.finishChoice(index, state, choice.finish_reason));
    }
    return out;
  }

  /** Upstream ended: the closing chunks, or a GatewayError when the answer is incomplete. */
  finish(): ChatCompletionChunk[] {
    if (!this.allFinished()) {
      throw new GatewayError(502, 'watsonx.ai ended the stream before the answer was complete', {
        code: 'upstream_stream_incomplete',
      });
    }
    if (!this.context.includeUsage) return [];
    return [{ ...this.chunk(undefined), choices: [], usage: toOpenAIUsage(this.usage) }];
  }

  private allFinished(): boolean {
    for (let index = 0; index < this.context.choices; index++) {
      if (!this.states.get(index)?.finished) return false;
    }
    for (const state of this.states.values()) if (!state.finished) return false;
    return true;
  }

  private state(index: number): ChoiceState {
    let state = this.states.get(index);
    if (!state) {
      state = { roleSent: false, finished: false, toolCalls: new Map(), firstToolIndex: undefined };
      this.states.set(index, state);
    }
    return state;
  }

  private chunk(choice: ChatCompletionChunkChoice | undefined): ChatCompletionChunk {
    const chunk: ChatCompletionChunk = {
      id: this.context.id,
      object: 'chat.completion.chunk',
      created: this.context.created,
      model: this.context.model,
      system_fingerprint: null,
      choices: choice ? [choice] : [],
    };
    if (this.context.includeUsage) chunk.usage = null;
    return chunk;
  }

  private toolCallDeltas(
    state: ChoiceState,
    calls: WatsonxResponseToolCall[],
  ): ChatCompletionChunkToolCall[] {
    const deltas: ChatCompletionChunkToolCall[] = [];
    for (const call of calls) {
      const index = call.index ?? 0;
      if (!this.context.parallelToolCalls) {
        state.firstToolIndex ??= index;
        if (index !== state.firstToolIndex) continue;
      }
      let tool = state.toolCalls.get(index);
      if (!tool) {
        tool = { id: '', name: '', started: false, pending: '', mode: 'undecided', sentArguments: false };
        state.toolCalls.set(index, tool);
      }
      if (call.id && !tool.id) tool.id = call.id;
      // Continuation deltas carry "name": "" — only a non-empty name before the call started counts.
      if (call.function?.name && !tool.started) tool.name = call.function.name;
      const fragment = call.function?.arguments;
      tool.pending += typeof fragment === 'string' ? fragment : fragment ? JSON.stringify(fragment) : '';
      if (tool.mode === 'undecided' && tool.pending.trim() !== '') {
        tool.mode = tool.pending.trimStart().startsWith('"') ? 'buffered' : 'streaming';
      }
      if (!tool.started && tool.name) {
        tool.started = true;
        tool.id ||= this.context.newId();
        const first = tool.mode === 'streaming' ? this.takePending(tool) : '';
        deltas.push({
          index,
          id: tool.id,
          type: 'function',
          function: { name: tool.name, arguments: first },
        });
      } else if (tool.started && tool.mode === 'streaming' && tool.pending !== '') {
        deltas.push({ index, function: { arguments: this.takePending(tool) } });
      }
    }
    return deltas;
  }

  private takePending(tool: ToolCallState): string {
    const text = tool.pending;
    tool.pending = '';
    if (text !== '') tool.sentArguments = true;
    return text;
  }

  private finishChoice(index: number, state: ChoiceState, reason: string): ChatCompletionChunk[] {
    const out: ChatCompletionChunk[] = [];
    const closing: ChatCompletionChunkToolCall[] = [];
    for (const [toolIndex, tool] of state.toolCalls) {
      if (!tool.started) {
        tool.started = true;
        tool.id ||= this.context.newId();
        closing.push({
          index: toolIndex,
          id: tool.id,
          type: 'function',
          function: { name: tool.name, arguments: '' },
        });
      }
      if (tool.mode === 'buffered' || !tool.sentArguments) {
        // Buffered double-encoded arguments are decoded here; a call that never got arguments gets "{}".
        closing.push({ index: toolIndex, function: { arguments: normalizeToolArguments(tool.pending) } });
        tool.pending = '';
      } else if (tool.pending !== '') {
        closing.push({ index: toolIndex, function: { arguments: tool.pending } });
        tool.pending = '';
      }
    }
    if (closing.length > 0) {
      out.push(this.chunk({ index, delta: { tool_calls: closing }, logprobs: null, finish_reason: null }));
    }
    const finishReason = mapFinishReason(reason, state.toolCalls.size > 0);
    state.finished = true;
    out.push(this.chunk({ index, delta: {}, logprobs: null, finish_reason: finishReason }));
    return out;
  }
}
