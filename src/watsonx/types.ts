// Wire types of the watsonx.ai REST API (see docs/translation.md and the watsonx API notes).
// Field names are left exactly as they travel on the wire. Loose where watsonx varies between
// releases: everything the server may omit is optional.

export interface WatsonxWarning {
  message: string;
  id: string;
  more_info?: string;
  additional_properties?: Record<string, unknown>;
}

export interface WatsonxSystemDetails {
  warnings?: WatsonxWarning[];
}

export type WatsonxTextPart = { type: 'text'; text: string };
export type WatsonxImagePart = {
  type: 'image_url';
  image_url: { url: string; detail?: 'low' | 'high' | 'auto' };
};
export type WatsonxAudioPart = { type: 'input_audio'; input_audio: { data: string; format: string } };
export type WatsonxUserContentPart = WatsonxTextPart | WatsonxImagePart | WatsonxAudioPart;

export interface WatsonxToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type WatsonxChatMessage =
  | { role: 'system'; content: string; name?: string }
  | { role: 'user'; content: string | WatsonxUserContentPart[]; name?: string }
  | { role: 'assistant'; content?: string; name?: string; tool_calls?: WatsonxToolCall[] }
  | { role: 'tool'; content: string; tool_call_id: string };

export interface WatsonxTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export type WatsonxResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      json_schema: { name: string; schema?: Record<string, unknown>; strict?: boolean; description?: string };
    };

/** Body of POST /ml/v1/text/chat and /ml/v1/text/chat_stream, without the container (project/space). */
export interface WatsonxChatRequest {
  model_id: string;
  messages: WatsonxChatMessage[];
  tools?: WatsonxTool[];
  tool_choice_option?: 'none' | 'auto' | 'required';
  tool_choice?: { type: 'function'; function: { name: string } };
  response_format?: WatsonxResponseFormat;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  frequency_penalty?: number;
  presence_penalty?: number;
  logit_bias?: Record<string, number>;
  logprobs?: boolean;
  top_logprobs?: number;
  n?: number;
  seed?: number;
  stop?: string[];
  reasoning_effort?: 'low' | 'medium' | 'high';
  include_reasoning?: boolean;
  time_limit?: number;
}

/** Where a request goes: a model in a project or space (deployments come later). */
export type WatsonxContainer = { project_id: string } | { space_id: string };

export interface WatsonxUsage {
  completion_tokens?: number;
  prompt_tokens?: number;
  total_tokens?: number;
  completion_tokens_details?: { reasoning_tokens?: number };
}

export interface WatsonxResponseToolCall {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string | Record<string, unknown> };
}

export interface WatsonxChatResponse {
  id?: string;
  object?: string;
  model_id?: string;
  model?: string;
  model_version?: string;
  created?: number;
  created_at?: string;
  choices?: Array<{
    index?: number;
    message?: {
      role?: string;
      content?: string | null;
      tool_calls?: WatsonxResponseToolCall[] | null;
      reasoning_content?: string | null;
      refusal?: string | null;
    };
    finish_reason?: string | null;
    logprobs?: unknown;
  }>;
  usage?: WatsonxUsage;
  system?: WatsonxSystemDetails;
}

export interface WatsonxChatChunk {
  id?: string;
  object?: string;
  model_id?: string;
  model?: string;
  model_version?: string;
  created?: number;
  created_at?: string;
  choices?: Array<{
    index?: number;
    delta?: {
      role?: string;
      content?: string | null;
      reasoning_content?: string | null;
      tool_calls?: WatsonxResponseToolCall[] | null;
      refusal?: string | null;
    };
    finish_reason?: string | null;
    logprobs?: unknown;
  }>;
  usage?: WatsonxUsage | null;
  system?: WatsonxSystemDetails;
}

/** One entry of a watsonx error body: {"errors":[...],"trace":"...","status_code":400}. */
export interface WatsonxErrorEntry {
  code?: string;
  message?: string;
  more_info?: string;
  target?: { type?: string; name?: string };
}

/** 200 body of POST {IAM}/identity/token. */
export interface IamTokenResponse {
  access_token: string;
  refresh_token?: string;
  token_type?: string;
  expires_in?: number;
  /** Absolute expiry, Unix seconds. */
  expiration?: number;
  scope?: string;
}

/** `parameters` of /ml/v1/text/generation (the subset the gateway sends). */
export interface WatsonxGenerationParameters {
  decoding_method?: 'greedy' | 'sample';
  max_new_tokens?: number;
  min_new_tokens?: number;
  random_seed?: number;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  repetition_penalty?: number;
  time_limit?: number;
  truncate_input_tokens?: number;
  include_stop_sequence?: boolean;
  return_options?: {
    input_text?: boolean;
    generated_tokens?: boolean;
    input_tokens?: boolean;
    token_logprobs?: boolean;
    token_ranks?: boolean;
    top_n_tokens?: number;
  };
}

/** Body of POST /ml/v1/text/generation(_stream), without the container. */
export interface WatsonxGenerationRequest {
  model_id: string;
  input: string;
  parameters?: WatsonxGenerationParameters;
}

export interface WatsonxGeneratedToken {
  text?: string;
  logprob?: number;
  rank?: number;
  top_tokens?: Array<{ text?: string; logprob?: number }>;
}

export interface WatsonxGenerationResult {
  generated_text?: string;
  generated_token_count?: number;
  input_token_count?: number;
  stop_reason?: string;
  seed?: number;
  generated_tokens?: WatsonxGeneratedToken[];
}

/** Non-stream response and every stream chunk of text generation. */
export interface WatsonxGenerationResponse {
  model_id?: string;
  model_version?: string;
  created_at?: string;
  results?: WatsonxGenerationResult[];
  system?: WatsonxSystemDetails;
}

/** Body of POST /ml/v1/text/embeddings, without the container. */
export interface WatsonxEmbeddingsRequest {
  model_id: string;
  inputs: string[];
  parameters?: { truncate_input_tokens?: number; return_options?: { input_text?: boolean } };
}

export interface WatsonxEmbeddingsResponse {
  model_id?: string;
  results?: Array<{ embedding?: number[]; input?: string }>;
  created_at?: string;
  input_token_count?: number;
  system?: WatsonxSystemDetails;
}

/** Body of POST /ml/v1/text/rerank, without the container. */
export interface WatsonxRerankRequest {
  model_id: string;
  query: string;
  inputs: Array<{ text: string }>;
  parameters?: {
    truncate_input_tokens?: number;
    /** `top_n`: only the best N; `inputs`/`query`: echo them in the answer. */
    return_options?: { top_n?: number; inputs?: boolean; query?: boolean };
  };
}

/** Results best first; `score` is the model's raw score (cross-encoder logits can be negative). */
export interface WatsonxRerankResponse {
  model_id?: string;
  model_version?: string;
  created_at?: string;
  input_token_count?: number;
  query?: string;
  results?: Array<{ index?: number; score?: number; input?: { text?: string } }>;
  system?: WatsonxSystemDetails;
}

export interface WatsonxFoundationModel {
  model_id: string;
  label?: string;
  provider?: string;
  source?: string;
  functions?: Array<{ id: string }>;
  tasks?: Array<{ id: string }>;
  task_ids?: string[];
  short_description?: string;
  model_limits?: { max_sequence_length?: number; max_output_tokens?: number; embedding_dimension?: number };
  lifecycle?: Array<{ id: string; start_date?: string; alternative_model_ids?: string[]; label?: string }>;
  versions?: Array<{ version?: string; available_date?: string }>;
}

/** One page of GET /ml/v1/foundation_model_specs. */
export interface WatsonxFoundationModelsPage {
  total_count?: number;
  limit?: number;
  first?: { href?: string };
  next?: { href?: string };
  resources?: WatsonxFoundationModel[];
}
