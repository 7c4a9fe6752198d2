// Catalogue models → OpenAI model objects. Pure.
import type { CatalogueModel } from '../../models/catalogue.ts';

export interface OpenAIModel {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  /** What OpenAI's shape cannot say: capabilities, limits and lifecycle from watsonx. */
  watsonx: {
    model_id: string;
    alias_of?: string;
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

/** A client-facing name that maps back to MODEL_MAP_<KEY> (GPT_4O → gpt-4o). */
export function aliasName(key: string): string {
  return key.toLowerCase().replaceAll('_', '-');
}
