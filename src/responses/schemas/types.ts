// The Responses API objects the gateway reads (input items, tools) and writes (the response, its
// output items, usage), as TypeScript types. Input types are loose: every field a client may leave
// out is optional, and the translator checks what it needs.

export interface InputContentPart {
  type: string;
  text?: string;
  refusal?: string;
  /** input_image: a data URL or an https URL (a plain string in the Responses API). */
  image_url?: string | { url?: string } | null;
  detail?: string;
  file_id?: string | null;
}

export interface InputItem {
  type?: string;
  id?: string;
  role?: string;
  content?: string | InputContentPart[] | null;
  // function_call / custom_tool_call
  call_id?: string;
  name?: string;
  namespace?: string;
  arguments?: string;
  input?: string;
  // *_output
  output?: string | InputContentPart[];
  // reasoning
  summary?: Array<{ type: string; text: string }>;
  encrypted_content?: string | null;
  status?: string;
}

export interface RequestTool {
  type?: string;
  name?: string;
  description?: string | null;
  parameters?: Record<string, unknown> | null;
  strict?: boolean | null;
  format?: { type?: string; syntax?: string; definition?: string } | null;
  tools?: RequestTool[];
}

export interface OutputText {
  type: 'output_text';
  text: string;
  annotations: unknown[];
  logprobs: unknown[];
}

export interface SummaryText {
  type: 'summary_text';
  text: string;
}

export type ItemStatus = 'in_progress' | 'completed' | 'incomplete';

export interface MessageItem {
  type: 'message';
  id: string;
  role: 'assistant';
  status: ItemStatus;
  content: OutputText[];
}

export interface ReasoningItem {
  type: 'reasoning';
  id: string;
  summary: SummaryText[];
  encrypted_content?: string | null;
  status?: ItemStatus;
}

export interface FunctionCallItem {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  namespace?: string;
  arguments: string;
  status: ItemStatus;
}

export interface CustomToolCallItem {
  type: 'custom_tool_call';
  id: string;
  call_id: string;
  name: string;
  input: string;
  status: ItemStatus;
}

export type OutputItem = MessageItem | ReasoningItem | FunctionCallItem | CustomToolCallItem;

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

export interface ResponseError {
  code: string;
  message: string;
}

/** The response object (`GET /v1/responses/{id}`, the non-stream answer, every lifecycle event). */
export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponseStatus;
  background: false;
  error: ResponseError | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  model: string;
  output: OutputItem[];
  output_text: string;
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  reasoning: { effort: string | null; summary: string | null };
  store: boolean;
  temperature: number;
  text: { format: Record<string, unknown> };
  tool_choice: unknown;
  tools: unknown[];
  top_p: number;
  truncation: 'disabled';
  usage: ResponseUsage | null;
  metadata: Record<string, string>;
}
