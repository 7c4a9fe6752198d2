// watsonx chat answer (read by src/watsonx/chat-events.ts) → an Anthropic Message. Pure.
import { createHash } from 'node:crypto';
import { GatewayError } from '../../server/errors.ts';
import type { ChatAnswer, ChatFinishReason } from '../../watsonx/chat-events.ts';
import type { WatsonxUsage } from '../../watsonx/types.ts';
import type { ContentBlock, Message, StopReason, Usage } from '../schemas/types.ts';

export interface MessageContext {
  id: string;
  /** The model name the client sent. */
  model: string;
  /** The request asked for thinking: reasoning becomes thinking blocks, else it is dropped. */
  thinking: boolean;
  /** The stop sequence watsonx said it stopped at, if it said so. */
  stopSequence: string | null;
  /** input_tokens when watsonx reports no usage. */
  estimatedInputTokens: number;
}

export function toMessage(answer: ChatAnswer, context: MessageContext): Message {
  const content: ContentBlock[] = [];
  if (context.thinking && answer.reasoning !== '') {
    content.push({
      type: 'thinking',
      thinking: answer.reasoning,
      signature: thinkingSignature(answer.reasoning),
    });
  }
  if (answer.text !== '') content.push({ type: 'text', text: answer.text, citations: null });
  for (const call of answer.toolCalls) {
    content.push({ type: 'tool_use', id: call.id, name: call.name, input: toolInput(call.arguments) });
  }
  const stopReason = toStopReason(answer.finishReason, answer.rawFinishReason, {
    sawToolUse: answer.toolCalls.length > 0,
    stopSequence: context.stopSequence,
  });
  return {
    id: context.id,
    type: 'message',
    role: 'assistant',
    model: context.model,
    content,
    stop_reason: stopReason,
    stop_sequence: stopReason === 'stop_sequence' ? context.stopSequence : null,
    usage: toUsage(answer.usage, context.estimatedInputTokens, 0),
  };
}

/**
 * watsonx's finish → Anthropic's stop_reason. A tool call always means `tool_use` (Claude Code runs
 * the tools only then); `failed` (watsonx's `cancelled`/`error`) is no answer: an upstream error.
 */
export function toStopReason(
  reason: ChatFinishReason,
  raw: string,
  seen: { sawToolUse: boolean; stopSequence: string | null },
): StopReason {
  if (reason === 'failed') {
    throw new GatewayError(502, `watsonx.ai stopped the answer with finish_reason '${raw}'`, {
      code: 'upstream_error',
    });
  }
  if (seen.sawToolUse || reason === 'tool_calls') return 'tool_use';
  if (reason === 'length') return 'max_tokens';
  if (reason === 'content_filter') return 'refusal';
  return seen.stopSequence !== null ? 'stop_sequence' : 'end_turn';
}

export function toUsage(
  usage: WatsonxUsage | undefined,
  estimatedInput: number,
  countedOutput: number,
): Usage {
  return {
    input_tokens: usage?.prompt_tokens ?? estimatedInput,
    output_tokens: usage?.completion_tokens ?? countedOutput,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
}

/** Tool arguments JSON → the `input` object; anything but a JSON object becomes `{}`. */
export function toolInput(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // not JSON: no input the client could use
  }
  return {};
}

/**
 * An opaque signature for a thinking block, so the block is well-formed when a client sends it back
 * (the gateway ignores signatures it receives: watsonx has nothing to verify).
 */
export function thinkingSignature(text: string): string {
  return `wx.${createHash('sha256').update(text).digest('base64url')}`;
}

/**
 * The stop sequence a choice says it stopped at (vLLM's `stop_reason`, when watsonx passes it on),
 * if it is one the request gave.
 */
export function matchedStopSequence(
  choice: unknown,
  stopSequences: readonly string[] | undefined,
): string | null {
  if (!stopSequences || stopSequences.length === 0 || choice === null || typeof choice !== 'object')
    return null;
  const value = (choice as { stop_reason?: unknown }).stop_reason;
  return typeof value === 'string' && stopSequences.includes(value) ? value : null;
}
