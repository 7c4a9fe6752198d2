// POST /ml/v1/text/generation: body validation, the pure answer plan (text, stop reason, token
// details) and the non-streaming body (docs/watsonx-api.md §4, sample #11). generation-stream.ts
// turns the same plan into stream events.
import { createHash } from 'node:crypto';
import type { WatsonxGenerationParameters, WatsonxGenerationRequest } from '../watsonx/types.ts';
import {
  checkEnvelope,
  invalid,
  isObject,
  isSimulatedError,
  optionalCount,
  optionalNumber,
} from './body-checks.ts';
import { parseDirectives, type Directives } from './directives.ts';
import type { SimulatedError } from './errors.ts';
import {
  checkContext,
  modelWarnings,
  resolveModel,
  type SimulatedModel,
  type SimulatedWarning,
} from './models.ts';
import { estimateTokens, splitIntoPieces } from './tokens.ts';

/** Sample #11's wording; IBM sends it on every text generation answer. */
export const API_LEGACY_WARNING: SimulatedWarning = {
  message: "This API is legacy. Please consider using '/ml/v1/text/chat_stream' instead.",
  id: 'api_legacy',
};

/** What watsonx generates when `max_new_tokens` is absent (historically 20, docs §4.1). */
export const DEFAULT_MAX_NEW_TOKENS = 20;

export type StopReason =
  'eos_token' | 'max_tokens' | 'stop_sequence' | 'time_limit' | 'token_limit' | 'cancelled' | 'error';

export interface GeneratedToken {
  text: string;
  logprob?: number;
  rank?: number;
  top_tokens?: Array<{ text: string; logprob: number }>;
}

export interface GenerationPlan {
  model: SimulatedModel;
  /** What each generated token adds to generated_text; the last one may be cut by a stop sequence. */
  pieces: string[];
  /** One entry per generated token when return_options asks for token details. */
  tokens: GeneratedToken[] | undefined;
  inputTokenCount: number;
  stopReason: StopReason;
  /** Echoed when sampling (random_seed, else one derived from the request). */
  seed: number | undefined;
  /** return_options.input_text */
  inputText: string | undefined;
  directives: Directives;
}

export type ValidatedGeneration = { request: WatsonxGenerationRequest; model: SimulatedModel };

function checkParameters(parameters: Record<string, unknown>): SimulatedError | undefined {
  const method = parameters.decoding_method;
  if (method !== undefined && method !== 'greedy' && method !== 'sample') {
    return invalid("parameters.decoding_method: value must be one of 'greedy', 'sample'");
  }
  const stops = parameters.stop_sequences;
  if (stops !== undefined && (!Array.isArray(stops) || stops.some((stop) => typeof stop !== 'string'))) {
    return invalid('parameters.stop_sequences: must be an array of strings');
  }
  const include = parameters.include_stop_sequence;
  if (include !== undefined && typeof include !== 'boolean') {
    return invalid('parameters.include_stop_sequence: must be a boolean');
  }
  const options = parameters.return_options;
  if (options !== undefined && !isObject(options))
    return invalid('parameters.return_options: must be an object');
  const count = (field: string, minimum: number, maximum?: number) =>
    optionalCount(parameters, field, minimum, maximum, `parameters.${field}`);
  const number = (field: string, minimum: number, maximum: number) =>
    optionalNumber(parameters, field, minimum, maximum, `parameters.${field}`);
  return (
    count('max_new_tokens', 0) ??
    count('min_new_tokens', 0) ??
    count('random_seed', 0) ??
    count('top_k', 1, 100) ??
    count('truncate_input_tokens', 0) ??
    number('time_limit', 0, Number.MAX_SAFE_INTEGER) ??
    number('temperature', 0, 2) ??
    number('top_p', 0, 1) ??
    number('repetition_penalty', 1, 2) ??
    (options
      ? optionalCount(options, 'top_n_tokens', 0, 5, 'parameters.return_options.top_n_tokens')
      : undefined)
  );
}

/** Checks in the order: container, model_id, input, parameters, model, function. */
export function validateGenerationBody(input: unknown): ValidatedGeneration | SimulatedError {
  const body = checkEnvelope(input);
  if (isSimulatedError(body)) return body;
  if (typeof body.input !== 'string') return invalid("'input' is required");
  if (body.parameters !== undefined) {
    if (!isObject(body.parameters)) return invalid('parameters: must be an object');
    const parameterError = checkParameters(body.parameters);
    if (parameterError) return parameterError;
  }
  const model = resolveModel(body.model_id, 'text_generation');
  if (isSimulatedError(model)) return model;
  return { request: body as unknown as WatsonxGenerationRequest, model };
}

/** The continuation text: quotes the last words of the input (without directives). */
export function continuationText(input: string): string {
  const words = input.trim().split(/\s+/).filter(Boolean).slice(-5).join(' ');
  return ` Simulated continuation of "${words.length > 60 ? `${words.slice(0, 60)}...` : words}".`;
}

function hash32(...parts: Array<string | number>): number {
  return createHash('sha256').update(parts.join('\u0000')).digest().readUInt32BE(0);
}

/** The stop sequence that appears first in the text (earliest end), with where it starts and ends. */
function firstStop(text: string, stops: string[]): { start: number; end: number } | undefined {
  let best: { start: number; end: number } | undefined;
  for (const stop of stops) {
    const start = stop === '' ? -1 : text.indexOf(stop);
    if (start < 0) continue;
    const end = start + stop.length;
    if (!best || end < best.end) best = { start, end };
  }
  return best;
}

/** How many leading pieces it takes to cover `length` characters. */
function piecesCovering(pieces: string[], length: number): number {
  let covered = 0;
  for (const [index, piece] of pieces.entries()) {
    covered += piece.length;
    if (covered >= length) return index + 1;
  }
  return pieces.length;
}

/** Cuts pieces so that together they hold exactly `length` characters. */
function cutPieces(pieces: string[], length: number): string[] {
  let left = length;
  return pieces.map((piece) => {
    const kept = piece.slice(0, Math.max(0, left));
    left -= kept.length;
    return kept;
  });
}

const ALTERNATIVES = [' the', ' a', ',', '.', ' and', ' of', ' to', ' is', ' in', ' it'];

function round4(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

/** Deterministic token details: the chosen token is always the most likely one (rank 1). */
function tokenDetails(
  pieces: string[],
  request: WatsonxGenerationRequest,
  options: NonNullable<WatsonxGenerationParameters['return_options']>,
): GeneratedToken[] {
  const topN = options.top_n_tokens ?? 0;
  return pieces.map((text, position) => {
    const seed = hash32(request.model_id, request.input, position);
    const logprob = -round4(0.001 + (seed / 2 ** 32) * 1.5);
    const alternatives = ALTERNATIVES.filter((alternative) => alternative !== text);
    const top = Array.from({ length: topN }, (_, rank) =>
      rank === 0
        ? { text, logprob }
        : {
            text: alternatives[(seed + rank) % alternatives.length]!,
            logprob: round4(logprob - 0.75 * rank - ((seed >>> rank) % 100) / 1000),
          },
    );
    return {
      text,
      ...(options.token_logprobs ? { logprob } : {}),
      ...(options.token_ranks ? { rank: 1 } : {}),
      ...(topN > 0 ? { top_tokens: top } : {}),
    };
  });
}

function wantsTokens(options: WatsonxGenerationParameters['return_options']): boolean {
  return Boolean(
    options &&
    (options.generated_tokens ||
      options.token_logprobs ||
      options.token_ranks ||
      (options.top_n_tokens ?? 0) > 0),
  );
}

export function planGeneration(
  request: WatsonxGenerationRequest,
  model: SimulatedModel,
): GenerationPlan | SimulatedError {
  const parameters = request.parameters ?? {};
  const rawInputTokens = estimateTokens(request.input);
  // truncate_input_tokens cuts generation input from the left (docs §4.1), so the last words stay
  const truncate = parameters.truncate_input_tokens;
  const inputTokenCount = truncate ? Math.min(rawInputTokens, truncate) : rawInputTokens;
  const contextError = checkContext(inputTokenCount, model);
  if (contextError) return contextError;

  const { directives, text } = parseDirectives(request.input);
  const full = continuationText(text);
  const all = splitIntoPieces(full);
  const maxNewTokens = parameters.max_new_tokens ?? DEFAULT_MAX_NEW_TOKENS;
  let count = Math.min(all.length, maxNewTokens);
  let length = all.slice(0, count).join('').length;
  let stopReason: StopReason = all.length > maxNewTokens ? 'max_tokens' : 'eos_token';
  if (typeof parameters.time_limit === 'number' && parameters.time_limit <= 1) {
    count = Math.min(1, count);
    length = all.slice(0, count).join('').length;
    stopReason = 'time_limit';
  } else {
    const stop = firstStop(full, parameters.stop_sequences ?? []);
    const needed = stop && piecesCovering(all, stop.end);
    if (stop && needed !== undefined && needed <= maxNewTokens) {
      count = needed;
      length = parameters.include_stop_sequence === false ? stop.start : stop.end;
      stopReason = 'stop_sequence';
    }
  }
  const generated = all.slice(0, count);
  const options = parameters.return_options;
  return {
    model,
    pieces: cutPieces(generated, length),
    tokens: wantsTokens(options) ? tokenDetails(generated, request, options ?? {}) : undefined,
    inputTokenCount,
    stopReason: directives.finish ?? stopReason,
    seed:
      parameters.decoding_method === 'sample'
        ? (parameters.random_seed ?? hash32(request.model_id, request.input))
        : undefined,
    inputText: options?.input_text ? request.input : undefined,
    directives,
  };
}

/** `system.warnings` of every generation answer (first stream event): model warnings, then api_legacy. */
export function generationWarnings(model: SimulatedModel): SimulatedWarning[] {
  return [...(modelWarnings(model) ?? []), API_LEGACY_WARNING];
}

export function generationHeader(plan: GenerationPlan, nowMs: number) {
  return {
    model_id: plan.model.model_id,
    ...(plan.model.version === undefined ? {} : { model_version: plan.model.version }),
    created_at: new Date(nowMs).toISOString(),
  };
}

export function toGenerationResponse(plan: GenerationPlan, meta: { nowMs: number }) {
  return {
    ...generationHeader(plan, meta.nowMs),
    results: [
      {
        generated_text: plan.pieces.join(''),
        generated_token_count: plan.pieces.length,
        input_token_count: plan.inputTokenCount,
        stop_reason: plan.stopReason,
        ...(plan.seed === undefined ? {} : { seed: plan.seed }),
        ...(plan.tokens ? { generated_tokens: plan.tokens } : {}),
        ...(plan.inputText === undefined ? {} : { input_text: plan.inputText }),
      },
    ],
    system: { warnings: generationWarnings(plan.model) },
  };
}
