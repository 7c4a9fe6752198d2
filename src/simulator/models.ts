// The simulator's model table. Limits and versions are illustrative (after the public catalogue
// captures in docs/watsonx-api.md §7, §10.1), not a copy of IBM's live catalogue.

export interface SimulatedModel {
  model_id: string;
  /** `provider` in foundation_model_specs; anything but IBM gets a `disclaimer_warning`. */
  provider: string;
  /** Omitted on the wire when absent (gpt-oss captures carry no `model_version`). */
  version?: string;
  /** `model_limits.max_sequence_length`. */
  contextLength: number;
  /** `model_limits.max_output_tokens`; also the default completion budget. */
  maxOutputTokens: number;
  tools: boolean;
  vision: boolean;
  /** Answers carry `reasoning_content` (gpt-oss style). */
  reasoning: boolean;
}

export const SIMULATED_MODELS: readonly SimulatedModel[] = [
  {
    model_id: 'ibm/granite-4-h-small',
    provider: 'IBM',
    version: '4.0.0',
    contextLength: 131072,
    maxOutputTokens: 16384,
    tools: true,
    vision: false,
    reasoning: false,
  },
  {
    model_id: 'ibm/granite-3-3-8b-instruct',
    provider: 'IBM',
    version: '3.3.0',
    contextLength: 131072,
    maxOutputTokens: 8192,
    tools: true,
    vision: false,
    reasoning: false,
  },
  {
    model_id: 'meta-llama/llama-3-2-11b-vision-instruct',
    provider: 'Meta',
    version: '3.2.0',
    contextLength: 131072,
    maxOutputTokens: 8192,
    tools: true,
    vision: true,
    reasoning: false,
  },
  {
    model_id: 'mistralai/mistral-large',
    provider: 'Mistral AI',
    version: '2.0.0',
    contextLength: 131072,
    maxOutputTokens: 16384,
    tools: true,
    vision: false,
    reasoning: false,
  },
  {
    model_id: 'openai/gpt-oss-120b',
    provider: 'OpenAI',
    contextLength: 131072,
    maxOutputTokens: 16384,
    tools: true,
    vision: false,
    reasoning: true,
  },
];

export function findModel(modelId: string): SimulatedModel | undefined {
  return SIMULATED_MODELS.find((model) => model.model_id === modelId);
}

export const DISCLAIMER_WARNING = {
  message:
    'This model is a Non-IBM Product governed by a third-party license that may impose use restrictions and other obligations. By using this model you agree to its terms as identified in the following URL.',
  id: 'disclaimer_warning',
  more_info: 'https://dataplatform.cloud.ibm.com/docs/content/wsj/analyze-data/fm-models.html?context=wx',
};

/** `system.warnings` for a response or the first stream chunk; undefined when there are none. */
export function modelWarnings(model: SimulatedModel): (typeof DISCLAIMER_WARNING)[] | undefined {
  return model.provider === 'IBM' ? undefined : [DISCLAIMER_WARNING];
}
