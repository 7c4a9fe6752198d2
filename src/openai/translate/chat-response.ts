// watsonx /ml/v1/text/chat response → OpenAI chat.completion. Pure.
import { GatewayError, upstreamInvalidResponse } from '../../server/errors.ts';
import type { ChatCompletion, OpenAIFinishReason, OpenAIToolCall, OpenAIUsage } from '../schemas/types.ts';
import type { WatsonxChatResponse, WatsonxResponseToolCall, WatsonxUsage } from '../../watsonx/types.ts';
import { normalizeToolArguments } from '../../watsonx/tool-arguments.ts';

export interface ChatResponseContext {
  /** The model name the client asked for (echoed back, as OpenAI does). */
  model: string;
  /** false: keep only the first tool call of each choice (watsonx has no such switch). */
  parallelToolCalls: boolean;
  /** Fallback clock, seconds. */
  now: () => number;
  /** Id for a response watsonx sent without one. */
  newCompletionId: () => string;
  /** Id for a tool call watsonx sent without one. */
  newId: () => string;
}

/**
 * watsonx finish reasons → OpenAI. `time_limit` means the answer was cut short, like `length`.
 * `cancelled` and `error` mean the answer is not a real answer: they become errors.
 */
export function mapFinishReason(
  reason: string | null | undefined,
  hasToolCalls: boolean,
): OpenAIFinishReason {
  switch (reason) {
    case 'length':
    case 'time_limit':
    case 'max_tokens':
    case 'token_limit':
      return 'length';
    case 'content_filter':
      return 'content_filter';
    case 'cancelled':
    case 'error':
      throw new GatewayError(502, `watsonx.ai ended the generation with finish_reason '${reason}'`, {
        code: 'upstream_generation_failed',
      });
    default:
      // Agents decide "run the tools" from finish_reason; watsonx sometimes says stop on tool-call turns.
      return hasToolCalls ? 'tool_calls' : 'stop';
  }
}

export function toOpenAIUsage(usage: WatsonxUsage | null | undefined): OpenAIUsage {
  const prompt = usage?.prompt_tokens ?? 0;
  const completion = usage?.completion_tokens ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: usage?.total_tokens ?? prompt + completion,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: usage?.completion_tokens_details?.reasoning_tokens ?? 0 },
  };
}

export function toOpenAIToolCall(call: WatsonxResponseToolCall, newId: () => string): OpenAIToolCall {
  return {
    id: call.id || newId(),
    type: 'function',
    function: {
      name: call.function?.name ?? '',
      arguments: normalizeToolArguments(call.function?.arguments),
    },
  };
}

/** OpenAI's logprobs object when watsonx sent one in that shape; null otherwise. */
export function toOpenAILogprobs(logprobs: unknown): unknown {
  if (
    logprobs &&
    typeof logprobs === 'object' &&
    Array.isArray((logprobs as { content?: unknown }).content)
  ) {
    return { refusal: null, ...(logprobs as object) };
  }
  return null;
}

export function toChatCompletion(
  response: WatsonxChatResponse,
  context: ChatResponseContext,
): ChatCompletion {
  const choices = (response.choices ?? []).map((choice, position) => {
    let toolCalls = (choice.message?.tool_calls ?? []).map((call) => toOpenAIToolCall(call, context.newId));
    if (!context.parallelToolCalls) toolCalls = toolCalls.slice(0, 1);
    const hasToolCalls = toolCalls.length > 0;
    const content = choice.message?.content;
    const reasoning = choice.message?.reasoning_content;
    return {
      index: choice.index ?? position,
      message: {
        role: 'assistant' as const,
        content: hasToolCalls && !content ? null : (content ?? ''),
        refusal: null,
        ...(hasToolCalls && { tool_calls: toolCalls }),
        ...(typeof reasoning === 'string' && reasoning !== '' && { reasoning_content: reasoning }),
      },
      logprobs: toOpenAILogprobs(choice.logprobs),
      finish_reason: mapFinishReason(choice.finish_reason, hasToolCalls),
    };
  });
  if (choices.length === 0) {
    throw upstreamInvalidResponse('watsonx.ai returned no choices');
  }
  choices.sort((left, right) => left.index - right.index);
  return {
    id: response.id || context.newCompletionId(),
    object: 'chat.completion',
    created: typeof response.created === 'number' ? response.created : context.now(),
    model: context.model,
    system_fingerprint: null,
    choices,
    usage: toOpenAIUsage(response.usage),
  };
}
