// POST /ml/v1/text/rerank (docs/watsonx-api.md §6.1, sample #13; rerank-and-more.md §1): validation,
// and deterministic raw scores derived from model + query + text, so a test can recompute them with
// simulatedRerankScore(). Scores are on a cross-encoder's logit scale: documents sharing no word with
// the query score below zero, as watsonx's do.
import { createHash } from 'node:crypto';
import type { WatsonxRerankRequest } from '../watsonx/types.ts';
import { checkEnvelope, invalid, isObject, isSimulatedError, optionalCount } from './body-checks.ts';
import { MORE_INFO_BASE, type SimulatedError } from './errors.ts';
import { tooManyInputs } from './embeddings.ts';
import { modelWarnings, resolveModel, type SimulatedModel } from './models.ts';
import { estimateTokens, truncateToTokens } from './tokens.ts';

export const MORE_INFO_TEXT_RERANK = `${MORE_INFO_BASE}#text-rerank`;

/** Inputs per call: watsonx's real cap is not published (rerank-and-more.md §5); embeddings' 1000 is assumed. */
export const MAX_RERANK_INPUTS = 1000;

/**
 * Tokens one input may have once truncated. The catalogue lists rerank models without
 * `model_limits` (as IBM's does), yet the cross-encoder reads at most 512 tokens: longer inputs fail
 * unless `truncate_input_tokens` cuts them.
 */
export const RERANK_MAX_INPUT_TOKENS = 512;

const WORD = /\w+/g;

function words(text: string): Set<string> {
  return new Set(text.toLowerCase().match(WORD) ?? []);
}

/**
 * The raw score the simulator answers for `text` (after any truncation) against `query`: 12 × the
 * share of the query's distinct words found in the text, minus 6, plus a deterministic jitter in
 * [0, 1) from SHA-256(model, query, text). No shared word → a score in [-6, -5); every word → [6, 7).
 */
export function simulatedRerankScore(modelId: string, query: string, text: string): number {
  const wanted = words(query);
  const found = words(text);
  let shared = 0;
  for (const word of wanted) if (found.has(word)) shared++;
  const share = wanted.size === 0 ? 0 : shared / wanted.size;
  const digest = createHash('sha256').update(`${modelId}\u0000${query}\u0000${text}`).digest();
  const jitter = digest.readUInt32BE(0) / 4_294_967_296;
  return 12 * share - 6 + jitter;
}

export type ValidatedRerank = { request: WatsonxRerankRequest; model: SimulatedModel };

/** Checks in the order: container, model_id, query, inputs, parameters, model, function. */
export function validateRerankBody(input: unknown): ValidatedRerank | SimulatedError {
  const body = checkEnvelope(input);
  if (isSimulatedError(body)) return body;
  if (typeof body.query !== 'string') return invalid("'query' is required and must be a string");
  const inputs = body.inputs;
  if (!Array.isArray(inputs)) return invalid("'inputs' is required");
  if (inputs.length === 0) return invalid('inputs: must contain at least 1 item');
  for (const [index, item] of inputs.entries()) {
    if (!isObject(item) || typeof item.text !== 'string') {
      return invalid(`inputs[${index}]: must be an object with a string 'text'`);
    }
    // Whether IBM refuses other keys is not known; the simulator does, so a gateway that forwards a
    // client's document objects as they are is caught.
    const extra = Object.keys(item).find((key) => key !== 'text');
    if (extra !== undefined) return invalid(`inputs[${index}]: unknown field '${extra}'`);
  }
  if (inputs.length > MAX_RERANK_INPUTS) return tooManyInputs(inputs.length, MAX_RERANK_INPUTS);
  const parameters = body.parameters;
  if (parameters !== undefined) {
    if (!isObject(parameters)) return invalid('parameters: must be an object');
    const countError = optionalCount(
      parameters,
      'truncate_input_tokens',
      1,
      undefined,
      'parameters.truncate_input_tokens',
    );
    if (countError) return countError;
    const options = parameters.return_options;
    if (options !== undefined) {
      if (!isObject(options)) return invalid('parameters.return_options: must be an object');
      const topN = optionalCount(options, 'top_n', 1, undefined, 'parameters.return_options.top_n');
      if (topN) return topN;
      for (const flag of ['inputs', 'query']) {
        if (options[flag] !== undefined && typeof options[flag] !== 'boolean') {
          return invalid(`parameters.return_options.${flag}: must be a boolean`);
        }
      }
    }
  }
  const model = resolveModel(body.model_id, 'rerank');
  if (isSimulatedError(model)) return model;
  return { request: body as unknown as WatsonxRerankRequest, model };
}

export interface RerankPlan {
  model: SimulatedModel;
  results: Array<{ index: number; score: number; input?: { text: string } }>;
  inputTokenCount: number;
  query?: string;
}

/**
 * Inputs over RERANK_MAX_INPUT_TOKENS fail unless truncate_input_tokens cuts them (on the right);
 * results best first (equal scores: input order), the best `top_n` kept.
 */
export function planRerank(
  request: WatsonxRerankRequest,
  model: SimulatedModel,
): RerankPlan | SimulatedError {
  const truncate = request.parameters?.truncate_input_tokens;
  const options = request.parameters?.return_options;
  const queryTokens = estimateTokens(request.query);
  let inputTokenCount = 0;
  const scored: RerankPlan['results'] = [];
  for (const [index, input] of request.inputs.entries()) {
    const tokens = estimateTokens(input.text);
    const kept = truncate === undefined ? tokens : Math.min(tokens, truncate);
    if (kept > RERANK_MAX_INPUT_TOKENS) {
      return {
        status: 400,
        code: 'invalid_input_argument',
        message: `inputs[${index}] has ${kept} tokens, which exceeds the maximum sequence length of ${RERANK_MAX_INPUT_TOKENS} tokens of model '${model.model_id}'; set parameters.truncate_input_tokens to truncate it`,
      };
    }
    inputTokenCount += queryTokens + kept;
    const ranked = kept < tokens ? truncateToTokens(input.text, kept) : input.text;
    scored.push({
      index,
      score: simulatedRerankScore(model.model_id, request.query, ranked),
      ...(options?.inputs === true ? { input: { text: input.text } } : {}),
    });
  }
  scored.sort((a, b) => b.score - a.score || a.index - b.index);
  const results = options?.top_n === undefined ? scored : scored.slice(0, options.top_n);
  return {
    model,
    results,
    inputTokenCount,
    ...(options?.query === true ? { query: request.query } : {}),
  };
}

export function toRerankResponse(plan: RerankPlan, meta: { nowMs: number }) {
  const warnings = modelWarnings(plan.model);
  return {
    model_id: plan.model.model_id,
    ...(plan.model.version === undefined ? {} : { model_version: plan.model.version }),
    created_at: new Date(meta.nowMs).toISOString(),
    input_token_count: plan.inputTokenCount,
    results: plan.results,
    ...(plan.query === undefined ? {} : { query: plan.query }),
    ...(warnings ? { system: { warnings } } : {}),
  };
}
