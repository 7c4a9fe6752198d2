// OpenAI chat completion request → watsonx /ml/v1/text/chat body. Pure: no I/O, no config reads.
// Every rule here is also a bullet in docs/translation.md.
import { invalidRequest } from '../../server/errors.ts';
import type { ChatCompletionRequest, ChatMessage, ContentPart } from '../schemas/chat.ts';
import type {
  WatsonxChatMessage,
  WatsonxChatRequest,
  WatsonxTool,
  WatsonxToolCall,
  WatsonxUserContentPart,
} from '../../watsonx/types.ts';

export interface ChatRequestContext {
  /** watsonx model id after MODEL_MAP. */
  modelId: string;
  /** Output cap when the client sends none; 0 sends none. */
  defaultMaxTokens: number;
}

const REASONING_EFFORT: Record<string, 'low' | 'medium' | 'high' | undefined> = {
  minimal: 'low',
  low: 'low',
  medium: 'medium',
  high: 'high',
  xhigh: 'high',
  max: 'high',
};

export function toWatsonxChatRequest(
  request: ChatCompletionRequest,
  context: ChatRequestContext,
): WatsonxChatRequest {
  const body: WatsonxChatRequest = {
    model_id: context.modelId,
    messages: request.messages.map((message, index) => toWatsonxMessage(message, index)),
  };

  if (request.functions != null || request.function_call != null) {
    throw invalidRequest(
      'The legacy `functions`/`function_call` parameters are not supported; send `tools`/`tool_choice` instead.',
      request.functions != null ? 'functions' : 'function_call',
      'unsupported_parameter',
    );
  }
  if (request.audio != null || request.modalities?.some((modality) => modality !== 'text')) {
    throw invalidRequest(
      'Audio output is not supported by watsonx.ai chat models.',
      request.audio != null ? 'audio' : 'modalities',
      'unsupported_parameter',
    );
  }

  if (request.tools != null && request.tools.length > 0) {
    body.tools = request.tools.map(toWatsonxTool);
  }
  const toolChoice = request.tool_choice;
  if (typeof toolChoice === 'string') {
    if (toolChoice !== 'none' && toolChoice !== 'auto' && toolChoice !== 'required') {
      throw invalidRequest(
        `tool_choice must be none, auto, required or a function object`,
        'tool_choice',
        'invalid_value',
      );
    }
    body.tool_choice_option = toolChoice;
  } else if (toolChoice != null) {
    if (toolChoice.type !== 'function' || !toolChoice.function?.name) {
      throw invalidRequest(
        `tool_choice of type '${toolChoice.type}' is not supported; use {"type":"function","function":{"name":...}}`,
        'tool_choice',
        'unsupported_value',
      );
    }
    body.tool_choice = { type: 'function', function: { name: toolChoice.function.name } };
  }

  const format = request.response_format;
  if (format != null) {
    if (format.type === 'text' || format.type === 'json_object') {
      body.response_format = { type: format.type };
    } else if (format.type === 'json_schema') {
      if (!format.json_schema?.name) {
        throw invalidRequest(
          'response_format.json_schema.name is required',
          'response_format.json_schema',
          'invalid_value',
        );
      }
      const { name, description, schema, strict } = format.json_schema;
      body.response_format = {
        type: 'json_schema',
        json_schema: {
          name,
          ...(description !== undefined && { description }),
          ...(schema !== undefined && { schema }),
          ...(strict != null && { strict }),
        },
      };
    } else {
      throw invalidRequest(
        `response_format type '${format.type}' is not supported; use text, json_object or json_schema`,
        'response_format.type',
        'invalid_value',
      );
    }
  }

  // max_completion_tokens wins over the deprecated max_tokens, as in OpenAI's API.
  const maxTokens = request.max_completion_tokens ?? request.max_tokens ?? undefined;
  if (maxTokens !== undefined) body.max_completion_tokens = maxTokens;
  else if (context.defaultMaxTokens > 0) body.max_completion_tokens = context.defaultMaxTokens;

  if (request.temperature != null) body.temperature = request.temperature;
  if (request.top_p != null) body.top_p = request.top_p;
  if (request.frequency_penalty != null) body.frequency_penalty = request.frequency_penalty;
  if (request.presence_penalty != null) body.presence_penalty = request.presence_penalty;
  if (request.logit_bias != null) body.logit_bias = request.logit_bias;
  if (request.logprobs != null) body.logprobs = request.logprobs;
  if (request.top_logprobs != null) body.top_logprobs = request.top_logprobs;
  if (request.n != null && request.n !== 1) body.n = request.n;
  if (request.seed != null) body.seed = request.seed;
  if (request.stop != null) {
    const stop = typeof request.stop === 'string' ? [request.stop] : request.stop;
    if (stop.length > 0) body.stop = stop;
  }
  if (request.reasoning_effort != null) {
    if (request.reasoning_effort === 'none') {
      body.include_reasoning = false;
    } else {
      const effort = REASONING_EFFORT[request.reasoning_effort];
      if (!effort) {
        throw invalidRequest(
          `reasoning_effort must be one of none, minimal, low, medium, high, xhigh, max`,
          'reasoning_effort',
          'invalid_value',
        );
      }
      body.reasoning_effort = effort;
    }
  }
  return body;
}

function toWatsonxTool(
  tool: NonNullable<ChatCompletionRequest['tools']>[number],
  index: number,
): WatsonxTool {
  if (tool.type === 'function' && !tool.function) {
    throw invalidRequest(
      `tools[${index}]: a function tool needs a 'function' object with a name`,
      `tools[${index}].function`,
      'missing_required_parameter',
    );
  }
  if (tool.type !== 'function' || !tool.function) {
    throw invalidRequest(
      `tools[${index}]: only tools of type 'function' are supported (got '${tool.type}')`,
      `tools[${index}].type`,
      'unsupported_value',
    );
  }
  const { name, description, parameters } = tool.function;
  // `strict` is OpenAI-only; watsonx validates the schema itself.
  return {
    type: 'function',
    function: {
      name,
      ...(description !== undefined && { description }),
      ...(parameters !== undefined && { parameters }),
    },
  };
}

function toWatsonxMessage(message: ChatMessage, index: number): WatsonxChatMessage {
  const param = `messages[${index}]`;
  switch (message.role) {
    case 'system':
    case 'developer':
      // watsonx /text/chat has no developer role; it is the same instruction channel as system.
      return withName({ role: 'system', content: textContent(message, param) }, message.name);
    case 'user':
      return withName({ role: 'user', content: userContent(message, param) }, message.name);
    case 'assistant': {
      const toolCalls = (message.tool_calls ?? []).map((call, callIndex) =>
        toWatsonxToolCall(call, `${param}.tool_calls[${callIndex}]`),
      );
      const content = message.content == null ? '' : textContent(message, param);
      if (toolCalls.length > 0) {
        // watsonx requires content unless tool_calls are given; null/"" are dropped on tool-call turns.
        return withName(
          { role: 'assistant', ...(content !== '' && { content }), tool_calls: toolCalls },
          message.name,
        );
      }
      return withName({ role: 'assistant', content }, message.name);
    }
    case 'tool':
      if (!message.tool_call_id) {
        throw invalidRequest(
          `${param}: tool messages need a tool_call_id`,
          `${param}.tool_call_id`,
          'missing_required_parameter',
        );
      }
      return { role: 'tool', content: textContent(message, param), tool_call_id: message.tool_call_id };
    case 'function':
      throw invalidRequest(
        `${param}: the legacy 'function' role is not supported; use 'tool' messages`,
        `${param}.role`,
        'unsupported_value',
      );
  }
}

function withName<T extends WatsonxChatMessage>(message: T, name: string | undefined): T {
  return name ? { ...message, name } : message;
}

function toWatsonxToolCall(
  call: NonNullable<ChatMessage['tool_calls']>[number],
  param: string,
): WatsonxToolCall {
  if (!call.id)
    throw invalidRequest(`${param}: tool calls need an id`, `${param}.id`, 'missing_required_parameter');
  const args = call.function.arguments;
  return {
    id: call.id,
    type: 'function',
    function: {
      name: call.function.name,
      arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}),
    },
  };
}

/** Content that watsonx needs as a string: text-only part arrays are joined with newlines. */
function textContent(message: ChatMessage, param: string): string {
  const content = message.content;
  if (content == null) {
    throw invalidRequest(
      `${param}: ${message.role} messages need content`,
      `${param}.content`,
      'missing_required_parameter',
    );
  }
  if (typeof content === 'string') return content;
  return content
    .map((part, partIndex) => {
      if (part.type === 'text' && typeof part.text === 'string') return part.text;
      if (part.type === 'refusal' && message.role === 'assistant' && typeof part.refusal === 'string') {
        return part.refusal;
      }
      throw invalidRequest(
        `${param}.content[${partIndex}]: ${message.role} messages accept only text parts (got '${part.type}')`,
        `${param}.content[${partIndex}]`,
        'unsupported_content',
      );
    })
    .join('\n');
}

function userContent(message: ChatMessage, param: string): string | WatsonxUserContentPart[] {
  const content = message.content;
  if (content == null) {
    throw invalidRequest(
      `${param}: user messages need content`,
      `${param}.content`,
      'missing_required_parameter',
    );
  }
  if (typeof content === 'string') return content;
  if (content.every((part) => part.type === 'text')) {
    // Some watsonx models reject content arrays; a text-only array becomes one string.
    return textContent(message, param);
  }
  return content.map((part, partIndex) => toUserPart(part, `${param}.content[${partIndex}]`));
}

function toUserPart(part: ContentPart, param: string): WatsonxUserContentPart {
  switch (part.type) {
    case 'text':
      if (typeof part.text !== 'string')
        throw invalidRequest(`${param}: text parts need text`, `${param}.text`, 'invalid_value');
      return { type: 'text', text: part.text };
    case 'image_url': {
      const url = part.image_url?.url;
      if (!url)
        throw invalidRequest(
          `${param}: image_url parts need image_url.url`,
          `${param}.image_url`,
          'invalid_value',
        );
      const detail = part.image_url?.detail;
      return {
        type: 'image_url',
        image_url: {
          url,
          ...((detail === 'low' || detail === 'high' || detail === 'auto') && { detail }),
        },
      };
    }
    case 'input_audio': {
      if (!part.input_audio) {
        throw invalidRequest(
          `${param}: input_audio parts need input_audio`,
          `${param}.input_audio`,
          'invalid_value',
        );
      }
      return {
        type: 'input_audio',
        input_audio: { data: part.input_audio.data, format: part.input_audio.format },
      };
    }
    default:
      throw invalidRequest(
        `${param}: content parts of type '${part.type}' are not supported by watsonx.ai chat (text, image_url and input_audio are)`,
        param,
        'unsupported_content',
      );
  }
}

/** `messages[i].content[j]` of the first image part, for refusing images to text-only models. */
export function firstImagePart(messages: readonly ChatMessage[]): string | undefined {
  for (const [index, message] of messages.entries()) {
    if (!Array.isArray(message.content)) continue;
    const part = message.content.findIndex((entry) => entry.type === 'image_url');
    if (part >= 0) return `messages[${index}].content[${part}]`;
  }
  return undefined;
}
