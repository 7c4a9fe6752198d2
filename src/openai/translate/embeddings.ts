// OpenAI embeddings ⇄ watsonx text/embeddings, as pure functions: the request becomes one watsonx
// body per batch of at most 1000 inputs, the batches' answers become one OpenAI list in input order.
import { invalidRequest, GatewayError } from '../../server/errors.ts';
import type { EmbeddingRequest, EmbeddingResponse } from '../schemas/embeddings.ts';
import type { WatsonxEmbeddingsRequest, WatsonxEmbeddingsResponse } from '../../watsonx/types.ts';

/** watsonx refuses more inputs than this in one text/embeddings call. */
export const WATSONX_MAX_EMBEDDING_INPUTS = 1000;

/** EMBEDDINGS_TRUNCATE_INPUT_TOKENS: `max` (the model's context length), a token count, or 0 (off). */
export type TruncateInputTokensSetting = number | 'max';

export interface EmbeddingsRequestContext {
  /** The watsonx model id (after MODEL_MAP). */
  modelId: string;
  /** The model's native vector length, when the catalogue knows it. */
  embeddingDimension?: number | undefined;
  /** The model's max_sequence_length, when the catalogue knows it. */
  contextLength?: number | undefined;
  truncateInputTokens: TruncateInputTokensSetting;
  /** Inputs per watsonx call (default and maximum: 1000). */
  batchSize?: number;
}

/** The client's request → one watsonx body per batch, in input order. Throws a 400 GatewayError. */
export function toWatsonxEmbeddingsRequests(
  request: EmbeddingRequest,
  context: EmbeddingsRequestContext,
): WatsonxEmbeddingsRequest[] {
  const inputs = embeddingInputs(request.input);
  checkDimensions(request.dimensions, context);
  const truncate = truncateInputTokens(context.truncateInputTokens, context.contextLength);
  const parameters = truncate === undefined ? undefined : { truncate_input_tokens: truncate };
  const batchSize = Math.min(context.batchSize ?? WATSONX_MAX_EMBEDDING_INPUTS, WATSONX_MAX_EMBEDDING_INPUTS);
  const requests: WatsonxEmbeddingsRequest[] = [];
  for (let start = 0; start < inputs.length; start += batchSize) {
    const batch: WatsonxEmbeddingsRequest = {
      model_id: context.modelId,
      inputs: inputs.slice(start, start + batchSize),
    };
    if (parameters) batch.parameters = parameters;
    requests.push(batch);
  }
  return requests;
}

/** Most inputs one /v1/embeddings request may carry (as OpenAI). */
export const MAX_EMBEDDING_INPUTS = 2048;

/** `input` → the list of texts. Token ids and empty texts are refused. */
export function embeddingInputs(input: EmbeddingRequest['input']): string[] {
  if (typeof input === 'string') {
    if (input.length === 0) throw invalidRequest("'input' must not be an empty string.", 'input');
    return [input];
  }
  if (input.length === 0) throw invalidRequest("'input' must not be an empty array.", 'input');
  if (input.length > MAX_EMBEDDING_INPUTS) {
    // OpenAI's own limit; without one, a small body of tiny inputs could ask for gigabytes of vectors.
    throw invalidRequest(
      `'input' may hold at most ${MAX_EMBEDDING_INPUTS} items (got ${input.length}); split the request.`,
      'input',
      'too_many_inputs',
    );
  }
  const texts: string[] = [];
  for (let index = 0; index < input.length; index++) {
    const item = input[index];
    if (typeof item !== 'string') {
      // watsonx embeds text with its own tokenizer; OpenAI token ids mean nothing to it.
      throw invalidRequest(
        "'input' as token ids is not supported by watsonx.ai models: send the text as a string or an array of strings.",
        'input',
        'unsupported_value',
      );
    }
    if (item.length === 0) {
      throw invalidRequest(`'input[${index}]' must not be an empty string.`, 'input');
    }
    texts.push(item);
  }
  return texts;
}

/**
 * watsonx models have one output size and are not trained for truncation (no Matryoshka training),
 * so a cut vector would embed badly: only the native size is accepted. When the size is unknown
 * here, the vectors in the answer are checked instead (toEmbeddingResponse).
 */
function checkDimensions(dimensions: number | null | undefined, context: EmbeddingsRequestContext): void {
  if (dimensions == null || context.embeddingDimension === undefined) return;
  if (dimensions !== context.embeddingDimension) {
    throw dimensionsError(context.modelId, dimensions, context.embeddingDimension);
  }
}

function dimensionsError(modelId: string, requested: number, native: number): GatewayError {
  return invalidRequest(
    `'dimensions' ${requested} is not supported by '${modelId}': its embeddings have ${native} dimensions ` +
      'and watsonx.ai models are not trained for truncation. Omit dimensions or send ' +
      `${native}, or choose a model with ${requested} dimensions.`,
    'dimensions',
    'unsupported_value',
  );
}

/** The truncate_input_tokens to send, or undefined to send none. */
export function truncateInputTokens(
  setting: TruncateInputTokensSetting,
  contextLength: number | undefined,
): number | undefined {
  if (setting === 'max') return contextLength;
  if (setting <= 0) return undefined;
  // More than the model can read would be refused by watsonx rather than truncated.
  return contextLength === undefined ? setting : Math.min(setting, contextLength);
}

export interface EmbeddingsResponseContext {
  /** The model name as the client sent it. */
  model: string;
  encodingFormat: 'float' | 'base64';
  /** `dimensions` as requested; checked against the vectors (the catalogue may not have known the size). */
  dimensions?: number | null | undefined;
}

/**
 * The watsonx answers (one per request batch, in the same order) → the OpenAI list. Checked: a
 * batch with a result count other than its input count is an upstream fault (502, the order could
 * not be trusted), and so are a result without a vector of finite numbers and vectors of different
 * lengths; `dimensions` is checked against the vectors (the catalogue may not have known the size).
 */
export function toEmbeddingResponse(
  requests: readonly WatsonxEmbeddingsRequest[],
  answers: readonly WatsonxEmbeddingsResponse[],
  context: EmbeddingsResponseContext,
): EmbeddingResponse {
  if (answers.length !== requests.length) {
    throw invalidUpstream(`${answers.length} answers to ${requests.length} embedding requests`);
  }
  const data: EmbeddingResponse['data'] = [];
  let promptTokens = 0;
  let dimension: number | undefined;
  for (let batch = 0; batch < requests.length; batch++) {
    const expected = requests[batch]?.inputs.length ?? 0;
    const response = answers[batch];
    const results = response?.results;
    if (!Array.isArray(results) || results.length !== expected) {
      const got = Array.isArray(results) ? results.length : 'no';
      throw invalidUpstream(`${got} embeddings for ${expected} inputs`);
    }
    for (const result of results) {
      // Straight from watsonx's JSON: anything may be there, so only a non-empty array of finite numbers passes.
      const vector: unknown = (result as { embedding?: unknown } | null)?.embedding;
      if (!isNumberArray(vector) || vector.length === 0) {
        throw invalidUpstream(`result ${data.length} has no embedding`);
      }
      dimension ??= vector.length;
      if (vector.length !== dimension) {
        throw invalidUpstream(`embeddings of ${dimension} and ${vector.length} dimensions in one answer`);
      }
      data.push({
        object: 'embedding',
        index: data.length,
        embedding: context.encodingFormat === 'base64' ? encodeFloat32Base64(vector) : vector,
      });
    }
    promptTokens += response?.input_token_count ?? 0;
  }
  if (context.dimensions != null && dimension !== undefined && dimension !== context.dimensions) {
    throw dimensionsError(requests[0]?.model_id ?? context.model, context.dimensions, dimension);
  }
  return {
    object: 'list',
    data,
    model: context.model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}

function isNumberArray(value: unknown): value is number[] {
  if (!Array.isArray(value)) return false;
  for (let index = 0; index < value.length; index++) {
    const item: unknown = value[index];
    if (typeof item !== 'number' || !Number.isFinite(item)) return false;
  }
  return true;
}

function invalidUpstream(detail: string): GatewayError {
  return new GatewayError(502, `watsonx.ai sent an embeddings answer the gateway could not use: ${detail}.`, {
    code: 'upstream_invalid_response',
  });
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A vector as the base64 of its little-endian float32 bytes: what the openai SDKs send
 * `encoding_format: "base64"` for and decode. One typed array and one Buffer per vector.
 */
export function encodeFloat32Base64(vector: readonly number[]): string {
  const floats = new Float32Array(vector);
  if (!LITTLE_ENDIAN) {
    const view = new DataView(floats.buffer);
    for (let index = 0; index < vector.length; index++) view.setFloat32(index * 4, vector[index] ?? 0, true);
  }
  return Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).toString('base64');
}
