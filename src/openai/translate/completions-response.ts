// watsonx /ml/v1/text/generation responses (one per choice) → OpenAI text_completion. Pure.
import { upstreamInvalidResponse } from '../../server/errors.ts';
import type { CompletionChoice, CompletionLogprobs, TextCompletion } from '../schemas/completions.ts';
import type { OpenAIFinishReason, OpenAIUsage } from '../schemas/types.ts';
import type {
  WatsonxGeneratedToken,
  WatsonxGenerationResponse,
  WatsonxGenerationResult,
} from '../../watsonx/types.ts';
import { mapFinishReason, toOpenAIUsage } from './chat-response.ts';

export interface CompletionResponseContext {
  id: string;
  created: number;
  /** The model name the client asked for (echoed back, as OpenAI does). */
  model: string;
  /** echo: prepend each choice's prompt to its text. */
  echo: boolean;
  /** logprobs was asked for: every choice carries a logprobs object. */
  logprobs: boolean;
}

/** One watsonx call: the prompt it was sent and what it answered. */
export interface Generation {
  prompt: string;
  response: WatsonxGenerationResponse;
}

/**
 * watsonx stop_reason → OpenAI finish_reason: eos_token/stop_sequence → stop;
 * max_tokens/token_limit/time_limit → length; cancelled/error → 502 upstream_generation_failed
 * (the chat rule, shared so the two endpoints cannot drift apart).
 */
export function mapStopReason(reason: string | undefined): OpenAIFinishReason {
  return mapFinishReason(reason?.toLowerCase(), false);
}

/**
 * watsonx generated_tokens → OpenAI's legacy logprobs. `offset` is where the first token starts in
 * the choice's text (after an echoed prompt and earlier stream fragments).
 */
export function toCompletionLogprobs(
  tokens: readonly WatsonxGeneratedToken[] | undefined,
  offset: number,
): CompletionLogprobs {
  const logprobs: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let position = offset;
  for (const token of tokens ?? []) {
    const text = token.text ?? '';
    logprobs.tokens.push(text);
    logprobs.token_logprobs.push(typeof token.logprob === 'number' ? token.logprob : null);
    const top: Record<string, number> = {};
    for (const candidate of token.top_tokens ?? []) {
      if (typeof candidate.text === 'string' && typeof candidate.logprob === 'number') {
        top[candidate.text] = candidate.logprob;
      }
    }
    logprobs.top_logprobs.push(top);
    logprobs.text_offset.push(position);
    position += text.length;
  }
  return logprobs;
}

/** The single result of a generation response, or a 502 when watsonx sent none. */
export function generationResult(response: WatsonxGenerationResponse): WatsonxGenerationResult {
  const result = response.results?.[0];
  if (!result) {
    throw upstreamInvalidResponse('watsonx.ai returned no generation result');
  }
  return result;
}

export function toCompletionChoice(
  generation: Generation,
  index: number,
  context: Pick<CompletionResponseContext, 'echo' | 'logprobs'>,
): CompletionChoice {
  const result = generationResult(generation.response);
  const prefix = context.echo ? generation.prompt : '';
  return {
    text: prefix + (result.generated_text ?? ''),
    index,
    logprobs: context.logprobs ? toCompletionLogprobs(result.generated_tokens, prefix.length) : null,
    finish_reason: mapStopReason(result.stop_reason),
  };
}

/** Usage summed over every watsonx call (each call reads its prompt, so n > 1 counts it n times). */
export function toCompletionUsage(results: readonly WatsonxGenerationResult[]): OpenAIUsage {
  let prompt = 0;
  let completion = 0;
  for (const result of results) {
    prompt += result.input_token_count ?? 0;
    completion += result.generated_token_count ?? 0;
  }
  return toOpenAIUsage({ prompt_tokens: prompt, completion_tokens: completion });
}

/** Generations in choice order → one text_completion; choice i is generations[i]. */
export function toTextCompletion(
  generations: readonly Generation[],
  context: CompletionResponseContext,
): TextCompletion {
  const choices = generations.map((generation, index) => toCompletionChoice(generation, index, context));
  return {
    id: context.id,
    object: 'text_completion',
    created: context.created,
    model: context.model,
    system_fingerprint: null,
    choices,
    usage: toCompletionUsage(generations.map((generation) => generationResult(generation.response))),
  };
}
