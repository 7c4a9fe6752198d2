// What every OpenAI route needs, built once by buildApp and passed to each register function.
import type { FastifyRequest } from 'fastify';
import type { CatalogueModel, ModelCatalogue, ModelFunction } from '../catalogue.ts';
import { resolveModel } from '../translate/model-map.ts';
import type { Upstream } from '../upstream.ts';

export interface RouteContext {
  upstream: Upstream;
  catalogue: ModelCatalogue;
  modelMap: ReadonlyMap<string, string>;
  /** Check each request's model against the catalogue (MODEL_VALIDATION). */
  modelValidation: boolean;
  defaultMaxTokens: number;
  /** truncate_input_tokens for embeddings (EMBEDDINGS_TRUNCATE_INPUT_TOKENS). */
  embeddingsTruncateInputTokens: number | 'max';
  keepAliveMs: number;
  /** Seconds clock for `created`. */
  now: () => number;
}

/**
 * The client's model name → the watsonx model id (MODEL_MAP), checked against the catalogue:
 * unknown → 404 model_not_found, lacking `fn` → 400, before any upstream call.
 */
export async function targetModel(
  context: RouteContext,
  request: FastifyRequest,
  requested: string,
  fn: ModelFunction,
): Promise<{ modelId: string; model: CatalogueModel | undefined }> {
  request.gateway.model = requested;
  const modelId = resolveModel(requested, context.modelMap);
  request.gateway.upstreamModel = modelId;
  const model = context.modelValidation
    ? (context.catalogue.requireCached(modelId, fn) ?? (await context.catalogue.require(modelId, fn)))
    : undefined;
  // Metrics label only names the catalogue knows: any other string would add a series forever.
  request.gateway.metricModel = model ? modelId : 'unlisted';
  return { modelId, model };
}
