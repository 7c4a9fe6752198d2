// Catalogue models → OpenAI model objects. Pure.
import type { CatalogueModel } from '../../models/catalogue.ts';
import { type Deployment, deploymentModelName } from '../../models/deployments.ts';

export interface OpenAIModel {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  /** What OpenAI's shape cannot say: capabilities, limits and lifecycle from watsonx. */
  watsonx: {
    model_id: string;
    alias_of?: string;
    /** A watsonx deployment: `model_id` is then its base model (or the deployment's own name). */
    deployment?: {
      id: string;
      serving_name: string | null;
      name: string | null;
      base_model_id: string | null;
      prompt_template: boolean;
      asset_type: string | null;
    };
    functions: readonly string[];
    tool_calling: boolean;
    vision: boolean;
    context_length: number | null;
    max_output_tokens: number | null;
    embedding_dimension: number | null;
    lifecycle: {
      status: 'available' | 'deprecated';
      deprecated_since?: string;
      alternatives?: readonly string[];
    };
  };
}

export function toOpenAIModel(model: CatalogueModel, alias?: string): OpenAIModel {
  return {
    id: alias ?? model.id,
    object: 'model',
    created: model.created,
    owned_by: model.provider,
    watsonx: {
      model_id: model.id,
      ...(alias !== undefined && { alias_of: model.id }),
      functions: model.functions,
      tool_calling: model.tasks.includes('function_calling'),
      vision: model.functions.includes('image_chat'),
      context_length: model.contextLength ?? null,
      max_output_tokens: model.maxOutputTokens ?? null,
      embedding_dimension: model.embeddingDimension ?? null,
      lifecycle: model.deprecated
        ? {
            status: 'deprecated',
            ...(model.deprecated.since !== undefined && { deprecated_since: model.deprecated.since }),
            alternatives: model.deprecated.alternatives,
          }
        : { status: 'available' },
    },
  };
}

/** Deployment functions: chat and text generation, as far as the base model can (both when unknown). */
const DEPLOYMENT_FUNCTIONS = new Set(['text_chat', 'text_generation', 'image_chat']);

/**
 * A ready deployment as `deployment/<serving name or id>` (or a DEPLOYMENT_ALIASES name), with its
 * base model's capabilities and limits when the catalogue knows it.
 */
export function toOpenAIDeploymentModel(
  deployment: Deployment,
  base: CatalogueModel | undefined,
  alias?: string,
): OpenAIModel {
  const name = deploymentModelName(deployment);
  return {
    id: alias ?? name,
    object: 'model',
    created: deployment.created,
    owned_by: base?.provider ?? 'deployment',
    watsonx: {
      model_id: deployment.baseModelId ?? name,
      ...(alias !== undefined && { alias_of: name }),
      deployment: {
        id: deployment.id,
        serving_name: deployment.servingName ?? null,
        name: deployment.name ?? null,
        base_model_id: deployment.baseModelId ?? null,
        prompt_template: deployment.promptTemplate,
        asset_type: deployment.assetType ?? null,
      },
      functions: base
        ? base.functions.filter((fn) => DEPLOYMENT_FUNCTIONS.has(fn))
        : ['text_chat', 'text_generation'],
      tool_calling: base?.tasks.includes('function_calling') ?? false,
      vision: base?.functions.includes('image_chat') ?? false,
      context_length: base?.contextLength ?? null,
      max_output_tokens: base?.maxOutputTokens ?? null,
      embedding_dimension: null,
      lifecycle: { status: 'available' },
    },
  };
}

/** A client-facing name that maps back to MODEL_MAP_<KEY> (GPT_4O → gpt-4o). */
export function aliasName(key: string): string {
  return key.toLowerCase().replaceAll('_', '-');
}
