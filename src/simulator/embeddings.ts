// POST /ml/v1/text/embeddings (docs/watsonx-api.md §5, sample #13): validation, and deterministic
// vectors derived from model + text, so a test can recompute them with simulatedEmbedding().
import { createHash } from 'node:crypto';
import type { WatsonxEmbeddingsRequest } from '../watsonx/types.ts';
import { checkEnvelope, invalid, isObject, isSimulatedError, optionalCount } from './body-checks.ts';
import type { SimulatedError } from './errors.ts';
import { findModel, modelWarnings, resolveModel, type SimulatedModel } from './models.ts';
import { estimateTokens, truncateToTokens } from './tokens.ts';

/** watsonx's per-request cap (the Java SDK: "a maximum of 1000 elements per request"). */
export const MAX_EMBEDDING_INPUTS = 1000;

/** sfc32: a small seeded generator, so a vector costs one hash however long it is. */
function generator(seed: Buffer): () => number {
  let a = seed.readUInt32BE(0);
  let b = seed.readUInt32BE(4);
  let c = seed.readUInt32BE(8);
  let d = seed.readUInt32BE(12);
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4_294_967_296;
  };
}

/**
 * The vector the simulator answers for `text` (after any truncation) with an embedding model: unit
 * length, every value float32-representable (so a base64 float32 encoding round-trips exactly).
 */
export function simulatedEmbedding(modelId: string, text: string): number[] {
  const dimension = findModel(modelId)?.limits?.embeddingDimension;
  if (dimension === undefined) throw new Error(`'${modelId}' is not a simulated embedding model`);
  const next = generator(createHash('sha256').update(`${modelId}\u0000${text}`).digest());
  const raw = Array.from({ length: dimension }, () => next() * 2 - 1);
  const norm = Math.sqrt(raw.reduce((sum, value) => sum + value * value, 0)) || 1;
  return raw.map((value) => Math.fround(value / norm));
}

/** watsonx's 400 for more inputs than a call takes (embeddings; rerank answers the same). */
export function tooManyInputs(count: number, max: number): SimulatedError {
  return {
    status: 400,
    code: 'invalid_input_argument',
    message: `The number of inputs (${count}) exceeds the maximum of ${max} inputs per request`,
  };
}

export type ValidatedEmbeddings = { request: WatsonxEmbeddingsRequest; model: SimulatedModel };

/** Checks in the order: container, model_id, inputs, parameters, model, function. */
export function validateEmbeddingsBody(input: unknown): ValidatedEmbeddings | SimulatedError {
  const body = checkEnvelope(input);
  if (isSimulatedError(body)) return body;
  const inputs = body.inputs;
  if (!Array.isArray(inputs)) return invalid("'inputs' is required");
  const nonString = inputs.findIndex((item) => typeof item !== 'string');
  if (nonString >= 0) return invalid(`inputs[${nonString}]: must be a string`);
  if (inputs.length === 0) return invalid('inputs: must contain at least 1 item');
  if (inputs.length > MAX_EMBEDDING_INPUTS) return tooManyInputs(inputs.length, MAX_EMBEDDING_INPUTS);
  const parameters = body.parameters;
  if (parameters !== undefined) {
    if (!isObject(parameters)) return invalid('parameters: must be an object');
    const countError = optionalCount(
      parameters,
      'truncate_input_tokens',
      0,
      undefined,
      'parameters.truncate_input_tokens',
    );
    if (countError) return countError;
    if (parameters.return_options !== undefined && !isObject(parameters.return_options)) {
      return invalid('parameters.return_options: must be an object');
    }
  }
  const model = resolveModel(body.model_id, 'embedding');
  if (isSimulatedError(model)) return model;
  return { request: body as unknown as WatsonxEmbeddingsRequest, model };
}

export interface EmbeddingsPlan {
  model: SimulatedModel;
  results: Array<{ embedding: number[]; input?: string }>;
  inputTokenCount: number;
}

/** Inputs over the model's limit fail unless truncate_input_tokens is set (then cut on the right). */
export function planEmbeddings(
  request: WatsonxEmbeddingsRequest,
  model: SimulatedModel,
): EmbeddingsPlan | SimulatedError {
  const maximum = model.limits?.maxSequenceLength ?? Infinity;
  const truncate = request.parameters?.truncate_input_tokens || undefined;
  const echo = request.parameters?.return_options?.input_text === true;
  let inputTokenCount = 0;
  const results: EmbeddingsPlan['results'] = [];
  for (const [index, text] of request.inputs.entries()) {
    const tokens = estimateTokens(text);
    const kept = truncate === undefined ? tokens : Math.min(tokens, truncate);
    // a truncate_input_tokens above the model's maximum does not lift the maximum
    if (kept > maximum) {
      return {
        status: 400,
        code: 'invalid_input_argument',
        message: `inputs[${index}] has ${kept} tokens, which exceeds the maximum sequence length of ${maximum} tokens of model '${model.model_id}'; set parameters.truncate_input_tokens to truncate it`,
      };
    }
    inputTokenCount += kept;
    const embedded = kept < tokens ? truncateToTokens(text, kept) : text;
    results.push({
      embedding: simulatedEmbedding(model.model_id, embedded),
      ...(echo ? { input: text } : {}),
    });
  }
  return { model, results, inputTokenCount };
}

export function toEmbeddingsResponse(plan: EmbeddingsPlan, meta: { nowMs: number }) {
  const warnings = modelWarnings(plan.model);
  return {
    model_id: plan.model.model_id,
    results: plan.results,
    created_at: new Date(meta.nowMs).toISOString(),
    input_token_count: plan.inputTokenCount,
    ...(warnings ? { system: { warnings } } : {}),
  };
}
