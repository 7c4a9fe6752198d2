// The simulator's model table: one row per model, read by every route (chat, generation,
// embeddings) and served by foundation_model_specs (catalogue.ts). Limits, dates and versions are
// illustrative (after the public catalogue captures in docs/watsonx-api.md §7, §10.1 and sample #12),
// not a copy of IBM's live catalogue.
import type { WatsonxFoundationModel } from '../watsonx/types.ts';
import type { SimulatedError } from './errors.ts';

export type ModelFunction = 'text_chat' | 'text_generation' | 'image_chat' | 'embedding' | 'rerank';

/** `model_limits`; a rerank model has none (as in IBM's catalogue). */
export interface ModelLimits {
  maxSequenceLength: number;
  /** Chat/generation models: also the default chat completion budget. */
  maxOutputTokens?: number;
  /** Embedding models: the vector length. */
  embeddingDimension?: number;
}

/** One `lifecycle[]` entry, in wire form; entries are in date order, the last one is the current state. */
export interface LifecycleEntry {
  id: 'available' | 'deprecated' | 'constricted' | 'withdrawn';
  start_date: string;
  alternative_model_ids?: string[];
}

export interface SimulatedModel {
  model_id: string;
  /** `provider` in foundation_model_specs; anything but IBM gets a `disclaimer_warning`. */
  provider: string;
  source: string;
  /** Omitted on the wire (`model_version`, `versions`) when absent: gpt-oss captures carry none. */
  version?: string;
  functions: readonly ModelFunction[];
  /** `tasks[].id`; `function_calling` = tool support. */
  tasks: readonly string[];
  limits?: ModelLimits;
  lifecycle: readonly LifecycleEntry[];
  /** Answers carry `reasoning_content` (gpt-oss style). */
  reasoning: boolean;
}

const CHAT: readonly ModelFunction[] = ['text_chat', 'text_generation'];
const CHAT_TASKS = ['question_answering', 'summarization', 'generation'];
const TOOL_TASKS = [...CHAT_TASKS, 'function_calling'];
const available = (date: string): LifecycleEntry[] => [{ id: 'available', start_date: date }];

export const SIMULATED_MODELS: readonly SimulatedModel[] = [
  {
    model_id: 'ibm/granite-4-h-small',
    provider: 'IBM',
    source: 'IBM',
    version: '4.0.0',
    functions: CHAT,
    tasks: TOOL_TASKS,
    limits: { maxSequenceLength: 131072, maxOutputTokens: 16384 },
    lifecycle: available('2025-10-02'),
    reasoning: false,
  },
  {
    model_id: 'ibm/granite-3-3-8b-instruct',
    provider: 'IBM',
    source: 'IBM',
    version: '3.3.0',
    functions: CHAT,
    tasks: TOOL_TASKS,
    limits: { maxSequenceLength: 131072, maxOutputTokens: 8192 },
    lifecycle: available('2025-04-16'),
    reasoning: false,
  },
  {
    model_id: 'ibm/granite-3-8b-instruct',
    provider: 'IBM',
    source: 'IBM',
    version: '1.1.0',
    functions: CHAT,
    tasks: TOOL_TASKS,
    limits: { maxSequenceLength: 131072, maxOutputTokens: 8192 },
    lifecycle: available('2024-10-21'),
    reasoning: false,
  },
  {
    model_id: 'meta-llama/llama-3-2-11b-vision-instruct',
    provider: 'Meta',
    source: 'Hugging Face',
    version: '3.2.0',
    functions: [...CHAT, 'image_chat'],
    tasks: TOOL_TASKS,
    limits: { maxSequenceLength: 131072, maxOutputTokens: 8192 },
    lifecycle: available('2024-09-25'),
    reasoning: false,
  },
  {
    model_id: 'meta-llama/llama-3-3-70b-instruct',
    provider: 'Meta',
    source: 'Hugging Face',
    version: '3.3.0',
    functions: CHAT,
    tasks: TOOL_TASKS,
    limits: { maxSequenceLength: 131072, maxOutputTokens: 8192 },
    lifecycle: available('2024-12-06'),
    reasoning: false,
  },
  {
    model_id: 'mistralai/mistral-large',
    provider: 'Mistral AI',
    source: 'Mistral AI',
    version: '2.0.0',
    functions: CHAT,
    tasks: TOOL_TASKS,
    limits: { maxSequenceLength: 131072, maxOutputTokens: 16384 },
    lifecycle: available('2024-07-24'),
    reasoning: false,
  },
  {
    model_id: 'openai/gpt-oss-120b',
    provider: 'OpenAI',
    source: 'Hugging Face',
    functions: CHAT,
    tasks: TOOL_TASKS,
    limits: { maxSequenceLength: 131072, maxOutputTokens: 16384 },
    lifecycle: available('2025-08-19'),
    reasoning: true,
  },
  {
    model_id: 'ibm/granite-13b-instruct-v2',
    provider: 'IBM',
    source: 'IBM',
    version: '2.1.0',
    functions: CHAT,
    tasks: CHAT_TASKS,
    limits: { maxSequenceLength: 8192, maxOutputTokens: 8192 },
    lifecycle: [
      { id: 'available', start_date: '2023-12-01' },
      { id: 'deprecated', start_date: '2025-06-18', alternative_model_ids: ['ibm/granite-3-3-8b-instruct'] },
    ],
    reasoning: false,
  },
  {
    model_id: 'ibm/granite-20b-multilingual',
    provider: 'IBM',
    source: 'IBM',
    version: '1.1.0',
    functions: CHAT,
    tasks: CHAT_TASKS,
    limits: { maxSequenceLength: 8192, maxOutputTokens: 4096 },
    lifecycle: [
      { id: 'available', start_date: '2024-01-11' },
      { id: 'deprecated', start_date: '2024-11-21', alternative_model_ids: ['ibm/granite-3-8b-instruct'] },
      { id: 'withdrawn', start_date: '2025-02-20', alternative_model_ids: ['ibm/granite-3-8b-instruct'] },
    ],
    reasoning: false,
  },
  {
    model_id: 'ibm/granite-embedding-278m-multilingual',
    provider: 'IBM',
    source: 'IBM',
    version: '1.0.0',
    functions: ['embedding'],
    tasks: [],
    limits: { maxSequenceLength: 512, embeddingDimension: 768 },
    lifecycle: available('2025-01-15'),
    reasoning: false,
  },
  {
    model_id: 'ibm/slate-30m-english-rtrvr-v2',
    provider: 'IBM',
    source: 'IBM',
    version: '2.0.0',
    functions: ['embedding'],
    tasks: [],
    limits: { maxSequenceLength: 512, embeddingDimension: 384 },
    lifecycle: available('2024-10-08'),
    reasoning: false,
  },
  {
    model_id: 'intfloat/multilingual-e5-large',
    provider: 'intfloat',
    source: 'Hugging Face',
    version: '1.0.0',
    functions: ['embedding'],
    tasks: [],
    limits: { maxSequenceLength: 512, embeddingDimension: 1024 },
    lifecycle: available('2024-05-16'),
    reasoning: false,
  },
  {
    model_id: 'sentence-transformers/all-minilm-l6-v2',
    provider: 'sentence-transformers',
    source: 'Hugging Face',
    version: '1.0.0',
    functions: ['embedding'],
    tasks: [],
    limits: { maxSequenceLength: 256, embeddingDimension: 384 },
    lifecycle: available('2024-05-16'),
    reasoning: false,
  },
  {
    model_id: 'cross-encoder/ms-marco-minilm-l-12-v2',
    provider: 'cross-encoder',
    source: 'Hugging Face',
    version: '2.0.0',
    functions: ['rerank'],
    tasks: [],
    lifecycle: available('2024-10-18'),
    reasoning: false,
  },
];

export function findModel(modelId: string): SimulatedModel | undefined {
  return SIMULATED_MODELS.find((model) => model.model_id === modelId);
}

export function hasFunction(model: SimulatedModel, fn: ModelFunction): boolean {
  return model.functions.includes(fn);
}

export function supportsTools(model: SimulatedModel): boolean {
  return model.tasks.includes('function_calling');
}

export function lifecycleState(model: SimulatedModel): LifecycleEntry['id'] {
  return model.lifecycle.at(-1)?.id ?? 'available';
}

/** The model an inference route may use: unknown or withdrawn → 404, without `fn` → 400. */
export function resolveModel(modelId: string, fn: ModelFunction): SimulatedModel | SimulatedError {
  const model = findModel(modelId);
  if (!model)
    return { status: 404, code: 'model_not_supported', message: `Model '${modelId}' is not supported` };
  if (lifecycleState(model) === 'withdrawn') {
    // the 2026 wording IBM uses for models that are gone (docs/watsonx-api.md §9.2)
    return {
      status: 404,
      code: 'model_not_supported',
      message: `Model '${modelId}' was not found. This model may be unsupported, deprecated, or removed.`,
    };
  }
  if (!hasFunction(model, fn)) return unsupportedFunction(model, fn);
  return model;
}

/** The 400 watsonx answers for a prompt longer than the model's context (chat and generation). */
export function checkContext(promptTokens: number, model: SimulatedModel): SimulatedError | undefined {
  const context = model.limits?.maxSequenceLength ?? Infinity;
  if (promptTokens <= context) return undefined;
  return {
    status: 400,
    code: 'invalid_input_argument',
    message: `The input (${promptTokens} tokens) exceeds the model's maximum context length of ${context} tokens`,
  };
}

export function unsupportedFunction(model: SimulatedModel, fn: string): SimulatedError {
  return {
    status: 400,
    code: 'model_no_support_for_function',
    message: `Model '${model.model_id}' does not support function '${fn}'`,
  };
}

/** The model as a foundation_model_specs resource (sample #12's shape; empty lists are left out). */
export function toFoundationModel(model: SimulatedModel): WatsonxFoundationModel {
  const label = model.model_id.slice(model.model_id.indexOf('/') + 1);
  const limits = model.limits;
  return {
    model_id: model.model_id,
    label,
    provider: model.provider,
    source: model.source,
    functions: model.functions.map((id) => ({ id })),
    short_description: `${label} (simulated)`,
    ...(model.tasks.length > 0
      ? { task_ids: [...model.tasks], tasks: model.tasks.map((id) => ({ id })) }
      : {}),
    ...(limits
      ? {
          model_limits: {
            max_sequence_length: limits.maxSequenceLength,
            ...(limits.maxOutputTokens === undefined ? {} : { max_output_tokens: limits.maxOutputTokens }),
            ...(limits.embeddingDimension === undefined
              ? {}
              : { embedding_dimension: limits.embeddingDimension }),
          },
        }
      : {}),
    lifecycle: model.lifecycle.map((entry) => ({
      ...entry,
      ...(entry.alternative_model_ids ? { alternative_model_ids: [...entry.alternative_model_ids] } : {}),
    })),
    ...(model.version === undefined
      ? {}
      : { versions: [{ version: model.version, available_date: model.lifecycle[0]!.start_date }] }),
  };
}

export const DISCLAIMER_WARNING = {
  message:
    'This model is a Non-IBM Product governed by a third-party license that may impose use restrictions and other obligations. By using this model you agree to its terms as identified in the following URL.',
  id: 'disclaimer_warning',
  more_info: 'https://dataplatform.cloud.ibm.com/docs/content/wsj/analyze-data/fm-models.html?context=wx',
};

const LIFECYCLE_INFO =
  'https://dataplatform.cloud.ibm.com/docs/content/wsj/analyze-data/fm-model-lifecycle.html?context=wx&audience=wdp';

export interface SimulatedWarning {
  message: string;
  id: string;
  more_info?: string;
}

/** Sample #11's wording, without the withdrawal sentence: the table has no future withdrawal date. */
function deprecationWarning(model: SimulatedModel): SimulatedWarning | undefined {
  const entry = model.lifecycle.at(-1);
  if (entry?.id !== 'deprecated') return undefined;
  const alternatives = entry.alternative_model_ids?.length
    ? ` IDs of alternative models: ${entry.alternative_model_ids.join(', ')}.`
    : '';
  return {
    message: `Model '${model.model_id}' is in deprecated state from ${entry.start_date}.${alternatives}`,
    id: 'deprecation_warning',
    more_info: LIFECYCLE_INFO,
  };
}

/** `system.warnings` for a response or the first stream chunk; undefined when there are none. */
export function modelWarnings(model: SimulatedModel): SimulatedWarning[] | undefined {
  const deprecation = deprecationWarning(model);
  const warnings = [
    ...(model.provider === 'IBM' ? [] : [DISCLAIMER_WARNING]),
    ...(deprecation ? [deprecation] : []),
  ];
  return warnings.length > 0 ? warnings : undefined;
}
