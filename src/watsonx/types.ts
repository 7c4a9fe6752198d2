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
