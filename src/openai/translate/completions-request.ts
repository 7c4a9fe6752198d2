// OpenAI text completion request → watsonx /ml/v1/text/generation bodies, one per choice. Pure.
// Every rule here is also written in the /v1/completions section of the translation notes.
import { invalidRequest } from '../../server/errors.ts';
import type { CompletionRequest } from '../schemas/completions.ts';
import type { WatsonxGenerationParameters, WatsonxGenerationRequest } from '../../watsonx/types.ts';

export interface CompletionRequestContext {
  /** watsonx model id after MODEL_MAP. */
  modelId: string;
  /** max_new_tokens when the client sends no max_tokens; 0 sends none (watsonx's own default). */
  defaultMaxTokens: number;
}

/** watsonx's accepted range for repetition_penalty (1.0 = no penalty). */
const MIN_REPETITION_PENALTY = 1;
const MAX_REPETITION_PENALTY = 2;

/** The prompts of a request, refusing what watsonx cannot take (token ids, an empty list). */
export function completionPrompts(prompt: CompletionRequest['prompt']): string[] {
  if (typeof prompt === 'string') return [prompt];
  if (prompt.length === 0) {
    throw invalidRequest(
      'prompt must be a string or a non-empty array of strings',
      'prompt',
      'invalid_value',
    );
  }
  const prompts: string[] = [];
  for (const item of prompt) {
    if (typeof item !== 'string') {
      // Token ids only mean something to the tokenizer they came from, which the gateway does not have.
      throw invalidRequest(
        'Token-id prompts are not supported by watsonx.ai: send the prompt as a string or an array of strings.',
        'prompt',
        'unsupported_value',
      );
    }
    prompts.push(item);
  }
  return prompts;
}

/**
 * OpenAI's presence/frequency penalties (−2…2, additive on logits) → watsonx's single
 * multiplicative repetition_penalty (1…2): `1 + max(presence, frequency, 0) / 2`, clamped to 1…2.
 * A negative penalty (encouraging repetition) has no watsonx equivalent and becomes 1.0.
 */
export function toRepetitionPenalty(
  presence: number | null | undefined,
  frequency: number | null | undefined,
): number {
  const strongest = Math.max(presence ?? 0, frequency ?? 0, 0);
  return Math.min(MAX_REPETITION_PENALTY, Math.max(MIN_REPETITION_PENALTY, 1 + strongest / 2));
}

/**
 * The generation parameters shared by every choice. Exported for tests; the route uses
 * toWatsonxGenerationRequests.
 */
export function toWatsonxGenerationParameters(
  request: CompletionRequest,
  context: CompletionRequestContext,
): WatsonxGenerationParameters {
  const parameters: WatsonxGenerationParameters = {};

  // max_tokens 0 is forwarded as is: watsonx then generates nothing, as OpenAI does.
  if (request.max_tokens != null) parameters.max_new_tokens = request.max_tokens;
  else if (context.defaultMaxTokens > 0) parameters.max_new_tokens = context.defaultMaxTokens;

  // OpenAI samples unless temperature is 0 (default 1). watsonx decodes greedily unless told to
  // sample, so `sample` is always sent; an absent temperature (and top_p, top_k) is left to
  // watsonx's sampling defaults.
  // Greedy decoding is deterministic: top_p and the seed mean nothing to it and are not sent.
  if (request.temperature === 0) {
    parameters.decoding_method = 'greedy';
  } else {
    parameters.decoding_method = 'sample';
    if (request.temperature != null) parameters.temperature = request.temperature;
    if (request.top_p != null) parameters.top_p = request.top_p;
    if (request.seed != null) parameters.random_seed = request.seed;
  }

  if (request.presence_penalty != null || request.frequency_penalty != null) {
    parameters.repetition_penalty = toRepetitionPenalty(request.presence_penalty, request.frequency_penalty);
  }

  if (request.stop != null) {
    const stop = typeof request.stop === 'string' ? [request.stop] : request.stop;
    if (stop.length > 0) {
      parameters.stop_sequences = stop;
      // OpenAI never includes the stop sequence in the text; watsonx does by default.
      parameters.include_stop_sequence = false;
    }
  }

  if (request.logprobs != null) {
    parameters.return_options = {
      generated_tokens: true,
      token_logprobs: true,
      top_n_tokens: request.logprobs,
    };
  }
  return parameters;
}

/**
 * One watsonx body per choice, in choice order: choice `promptIndex * n + k` is the k-th sample of
 * prompt `promptIndex`. watsonx generates one text per call, so `n` and prompt arrays become calls.
 */
/** Most choices (prompts × n) one /v1/completions request may ask for. */
export const MAX_CHOICES_PER_REQUEST = 128;

export function toWatsonxGenerationRequests(
  request: CompletionRequest,
  context: CompletionRequestContext,
): WatsonxGenerationRequest[] {
  refuseUnsupported(request);
  const prompts = completionPrompts(request.prompt);
  const parameters = toWatsonxGenerationParameters(request, context);
  const n = request.n ?? 1;
  if (prompts.length * n > MAX_CHOICES_PER_REQUEST) {
    // Each choice is one watsonx call: a bound keeps one request from flooding the upstream quota.
    throw invalidRequest(
      `prompts × n may be at most ${MAX_CHOICES_PER_REQUEST} (got ${prompts.length} × ${n}); split the request.`,
      'prompt',
      'too_many_choices',
    );
  }
  const bodies: WatsonxGenerationRequest[] = [];
  for (const prompt of prompts) {
    for (let sample = 0; sample < n; sample++) {
      // The same seed would make the n samples identical; OpenAI's n samples differ under one seed.
      const sampleParameters =
        sample > 0 && parameters.random_seed !== undefined
          ? { ...parameters, random_seed: parameters.random_seed + sample }
          : parameters;
      bodies.push({ model_id: context.modelId, input: prompt, parameters: sampleParameters });
    }
  }
  return bodies;
}

function refuseUnsupported(request: CompletionRequest): void {
  if (request.suffix != null && request.suffix !== '') {
    // Fill-in-the-middle needs a model-specific template watsonx does not apply; silently dropping
    // the suffix would return plausible but wrong code, so it is refused.
    throw invalidRequest(
      'suffix (fill-in-the-middle) is not supported by watsonx.ai text generation; send the whole prompt instead.',
      'suffix',
      'unsupported_parameter',
    );
  }
  const n = request.n ?? 1;
  if (request.best_of != null && request.best_of !== 1 && request.best_of !== n) {
    // best_of > n needs the server to rank candidates by logprob; watsonx cannot.
    throw invalidRequest(
      `best_of must be 1 or equal to n (${n}): watsonx.ai cannot generate extra candidates and keep the best.`,
      'best_of',
      'unsupported_value',
    );
  }
  if (request.logit_bias != null && Object.keys(request.logit_bias).length > 0) {
    // Text generation has no logit_bias, and token ids are tokenizer-specific: refused rather than
    // ignored, because a client banning tokens would silently get them.
    throw invalidRequest(
      'logit_bias is not supported by watsonx.ai text generation.',
      'logit_bias',
      'unsupported_parameter',
    );
  }
}
