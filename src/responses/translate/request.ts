// Responses API request → watsonx /ml/v1/text/chat body. Pure: the stored history and item lookups
// come in as arguments. Every rule here is also a bullet in docs/responses.md.
import { GatewayError, invalidRequest } from '../../server/errors.ts';
import type {
  WatsonxChatMessage,
  WatsonxChatRequest,
  WatsonxToolCall,
  WatsonxUserContentPart,
} from '../../watsonx/types.ts';
import type { CreateResponseRequest } from '../schemas/request.ts';
import type { InputContentPart, InputItem, RequestTool } from '../schemas/types.ts';
import { CUSTOM_INPUT, type ToolOrigin, translateTools, watsonxToolName } from './tools.ts';

export interface ResponsesRequestContext {
  /** watsonx model id after MODEL_MAP. */
  modelId: string;
  /** Output cap when the request has none (the model's own limit); 0 sends none. */
  defaultMaxOutputTokens: number;
  /** The conversation before this request (previous_response_id): its input and output items. */
  history: readonly InputItem[];
  /** A stored item by id (item_reference), or undefined. */
  resolveItem: (id: string) => InputItem | undefined;
}

export interface TranslatedRequest {
  body: WatsonxChatRequest;
  /** watsonx tool name → the request's tool, for mapping calls back. */
  tools: Map<string, ToolOrigin>;
  /** The whole conversation this request continues, as items (history + input, references resolved). */
  items: InputItem[];
  /** What was left out (hosted tools, item types watsonx chat cannot take), for the log. */
  dropped: string[];
}

const REASONING_EFFORT: Record<string, 'low' | 'medium' | 'high' | undefined> = {
  minimal: 'low',
  low: 'low',
  medium: 'medium',
  high: 'high',
  xhigh: 'high',
  max: 'high',
};

/** The placeholder for a tool call the conversation never answered (interrupted by the user). */
export const NO_OUTPUT = '(no output: the call was not run)';

export function toWatsonxChatRequest(
  request: CreateResponseRequest,
  context: ResponsesRequestContext,
): TranslatedRequest {
  const dropped: string[] = [];
  const input = inputItems(request.input, context.resolveItem);
  const items = [...context.history, ...input];
  const tools = translateTools(request.tools as RequestTool[] | null | undefined);
  dropped.push(...tools.dropped);

  const messages: WatsonxChatMessage[] = [];
  if (typeof request.instructions === 'string' && request.instructions !== '') {
    messages.push({ role: 'system', content: request.instructions });
  }
  const historyLength = context.history.length;
  items.forEach((item, position) => {
    // Errors name the request's own items; history items were checked when they were sent.
    const param = position >= historyLength ? `input[${position - historyLength}]` : `previous_response_id`;
    addItem(messages, item, param, dropped);
  });

  const body: WatsonxChatRequest = { model_id: context.modelId, messages: closeToolCalls(messages) };
  if (tools.tools.length > 0) {
    body.tools = tools.tools;
    applyToolChoice(body, request.tool_choice, tools.origins, dropped);
  }
  applyFormat(body, request.text?.format);

  const maxTokens = request.max_output_tokens ?? undefined;
  if (maxTokens !== undefined) body.max_completion_tokens = maxTokens;
  else if (context.defaultMaxOutputTokens > 0) body.max_completion_tokens = context.defaultMaxOutputTokens;
  if (request.temperature != null) body.temperature = request.temperature;
  if (request.top_p != null) body.top_p = request.top_p;

  const effort = request.reasoning?.effort;
  if (effort != null) {
    if (effort === 'none') body.include_reasoning = false;
    else {
      const mapped = REASONING_EFFORT[effort];
      if (!mapped) {
        throw invalidRequest(
          'reasoning.effort must be one of none, minimal, low, medium, high, xhigh, max',
          'reasoning.effort',
          'invalid_value',
        );
      }
      body.reasoning_effort = mapped;
    }
  }
  return { body, tools: tools.origins, items, dropped };
}

/** `input` as items: a string is one user message; item references are replaced by the items. */
function inputItems(
  input: CreateResponseRequest['input'],
  resolveItem: (id: string) => InputItem | undefined,
): InputItem[] {
  if (input === undefined) return [];
  if (typeof input === 'string') return [{ type: 'message', role: 'user', content: input }];
  return (input as InputItem[]).map((item, index) => {
    if (item.type !== 'item_reference') return item;
    const found = typeof item.id === 'string' ? resolveItem(item.id) : undefined;
    if (!found) {
      throw new GatewayError(
        404,
        `input[${index}]: no stored item with id '${String(item.id)}' (expired, or stored with store: false)`,
        {
          code: 'item_not_found',
          param: `input[${index}].id`,
        },
      );
    }
    return found;
  });
}

function addItem(messages: WatsonxChatMessage[], item: InputItem, param: string, dropped: string[]): void {
  const type = item.type ?? (item.role ? 'message' : undefined);
  switch (type) {
    case 'message':
      addMessage(messages, item, param);
      return;
    case 'function_call':
    case 'custom_tool_call': {
      if (typeof item.call_id !== 'string' || typeof item.name !== 'string') {
        throw invalidRequest(
          `${param}: a ${type} item needs call_id and name`,
          param,
          'missing_required_parameter',
        );
      }
      const call: WatsonxToolCall = {
        id: item.call_id,
        type: 'function',
        function: {
          name: watsonxToolName(item.name, item.namespace),
          arguments:
            type === 'custom_tool_call'
              ? JSON.stringify({ [CUSTOM_INPUT]: item.input ?? '' })
              : typeof item.arguments === 'string' && item.arguments !== ''
                ? item.arguments
                : '{}',
        },
      };
      // watsonx takes a turn's calls as one assistant message, with the text said before them.
      const last = messages.at(-1);
      if (last?.role === 'assistant') (last.tool_calls ??= []).push(call);
      else messages.push({ role: 'assistant', tool_calls: [call] });
      return;
    }
    case 'function_call_output':
    case 'custom_tool_call_output':
      if (typeof item.call_id !== 'string') {
        throw invalidRequest(
          `${param}: a ${type} item needs call_id`,
          `${param}.call_id`,
          'missing_required_parameter',
        );
      }
      messages.push({ role: 'tool', tool_call_id: item.call_id, content: outputText(item.output) });
      return;
    case 'reasoning':
      // watsonx chat has no input for earlier reasoning: the model sees its answers, not its thoughts.
      return;
    default:
      dropped.push(`${param}: ${String(type)}`);
  }
}

function addMessage(messages: WatsonxChatMessage[], item: InputItem, param: string): void {
  switch (item.role) {
    case 'system':
    case 'developer': {
      // watsonx has no developer role; consecutive instructions become one system message, since
      // some model templates take a single one.
      const text = textOf(item.content, param);
      const last = messages.at(-1);
      if (last?.role === 'system') last.content = `${last.content}\n\n${text}`;
      else messages.push({ role: 'system', content: text });
      return;
    }
    case 'user':
      messages.push({ role: 'user', content: userContent(item.content, param) });
      return;
    case 'assistant':
      messages.push({ role: 'assistant', content: textOf(item.content, param) });
      return;
    default:
      throw invalidRequest(
        `${param}: role must be user, assistant, system or developer (got '${String(item.role)}')`,
        `${param}.role`,
        'invalid_value',
      );
  }
}

const TEXT_PARTS = new Set(['input_text', 'output_text', 'text', 'summary_text', 'reasoning_text']);

function textOf(content: InputItem['content'], param: string): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content
    .map((part, index) => {
      if (TEXT_PARTS.has(part.type) && typeof part.text === 'string') return part.text;
      if (part.type === 'refusal' && typeof part.refusal === 'string') return part.refusal;
      throw invalidRequest(
        `${param}.content[${index}]: only text parts are accepted here (got '${part.type}')`,
        `${param}.content[${index}]`,
        'unsupported_content',
      );
    })
    .join('\n');
}

function userContent(content: InputItem['content'], param: string): string | WatsonxUserContentPart[] {
  if (content == null || typeof content === 'string') return content ?? '';
  // Some watsonx models reject content arrays: text only becomes one string.
  if (content.every((part) => part.type !== 'input_image')) return textOf(content, param);
  return content.map((part, index) => userPart(part, `${param}.content[${index}]`));
}

function userPart(part: InputContentPart, param: string): WatsonxUserContentPart {
  if (part.type === 'input_image') {
    const url = typeof part.image_url === 'string' ? part.image_url : part.image_url?.url;
    if (!url) {
      throw invalidRequest(
        `${param}: input_image parts need image_url (file_id needs the Files API, which the gateway does not serve)`,
        `${param}.image_url`,
        'unsupported_content',
      );
    }
    // watsonx knows low, high and auto; `original` asks for the most detail.
    const detail = part.detail === 'original' ? 'high' : part.detail;
    return {
      type: 'image_url',
      image_url: { url, ...((detail === 'low' || detail === 'high' || detail === 'auto') && { detail }) },
    };
  }
  if (TEXT_PARTS.has(part.type) && typeof part.text === 'string') return { type: 'text', text: part.text };
  throw invalidRequest(
    `${param}: content parts of type '${part.type}' are not supported (input_text and input_image are)`,
    param,
    'unsupported_content',
  );
}

/** A tool output as the string watsonx takes: text parts joined, images named but not sent. */
function outputText(output: InputItem['output']): string {
  if (output == null) return '';
  if (typeof output === 'string') return output;
  return output
    .map((part) =>
      typeof part.text === 'string' ? part.text : part.type === 'input_image' ? '[image not forwarded]' : '',
    )
    .filter((text) => text !== '')
    .join('\n');
}

/**
 * watsonx (vLLM templates) wants every tool call answered right after its assistant message: an
 * answer whose call is unknown is dropped, and a call never answered (the user interrupted it) gets
 * a placeholder answer. Assistant messages left empty (no text, no calls) are dropped.
 */
function closeToolCalls(messages: WatsonxChatMessage[]): WatsonxChatMessage[] {
  const result: WatsonxChatMessage[] = [];
  let open: string[] = [];
  const flush = () => {
    for (const id of open) result.push({ role: 'tool', tool_call_id: id, content: NO_OUTPUT });
    open = [];
  };
  for (const message of messages) {
    if (message.role === 'tool') {
      const at = open.indexOf(message.tool_call_id);
      if (at < 0) continue;
      open.splice(at, 1);
      result.push(message);
      continue;
    }
    flush();
    if (message.role === 'assistant') {
      const calls = message.tool_calls ?? [];
      if (calls.length === 0 && !message.content) continue;
      if (calls.length > 0 && !message.content) delete message.content;
      open = calls.map((call) => call.id);
    }
    result.push(message);
  }
  flush();
  return result;
}

const HOSTED_CHOICES =
  /^(web_search|file_search|code_interpreter|computer|image_generation|mcp|local_shell|shell|apply_patch)/;

function applyToolChoice(
  body: WatsonxChatRequest,
  choice: CreateResponseRequest['tool_choice'],
  origins: Map<string, ToolOrigin>,
  dropped: string[],
): void {
  if (choice == null) return;
  if (typeof choice === 'string') {
    if (choice !== 'none' && choice !== 'auto' && choice !== 'required') {
      throw invalidRequest(
        'tool_choice must be none, auto, required or an object',
        'tool_choice',
        'invalid_value',
      );
    }
    body.tool_choice_option = choice;
    return;
  }
  const object = choice as {
    type?: string;
    name?: string;
    namespace?: string;
    mode?: string;
    tools?: RequestTool[];
  };
  if (object.type === 'function' || object.type === 'custom') {
    const name = typeof object.name === 'string' ? watsonxToolName(object.name, object.namespace) : '';
    if (!origins.has(name)) {
      throw invalidRequest(
        `tool_choice names '${String(object.name)}', which is not in tools`,
        'tool_choice.name',
        'invalid_value',
      );
    }
    body.tool_choice = { type: 'function', function: { name } };
    return;
  }
  if (object.type === 'allowed_tools') {
    const allowed = new Set(
      (object.tools ?? [])
        .filter((tool) => typeof tool.name === 'string')
        .map((tool) => watsonxToolName(tool.name!, (tool as { namespace?: string }).namespace)),
    );
    body.tools = (body.tools ?? []).filter((tool) => allowed.has(tool.function.name));
    if (body.tools.length === 0) delete body.tools;
    else if (object.mode === 'required' || object.mode === 'auto') body.tool_choice_option = object.mode;
    return;
  }
  if (typeof object.type === 'string' && HOSTED_CHOICES.test(object.type)) {
    // The hosted tool was dropped: let the model choose among the others.
    dropped.push(`tool_choice: ${object.type}`);
    return;
  }
  throw invalidRequest(
    `tool_choice of type '${String(object.type)}' is not supported`,
    'tool_choice.type',
    'invalid_value',
  );
}

function applyFormat(body: WatsonxChatRequest, format: unknown): void {
  if (format == null) return;
  const value = format as {
    type?: string;
    name?: string;
    schema?: Record<string, unknown>;
    strict?: boolean | null;
    description?: string;
  };
  switch (value.type) {
    case 'text':
      return;
    case 'json_object':
      body.response_format = { type: 'json_object' };
      return;
    case 'json_schema':
      body.response_format = {
        type: 'json_schema',
        json_schema: {
          name: value.name || 'response',
          ...(typeof value.description === 'string' && { description: value.description }),
          ...(value.schema !== undefined && { schema: value.schema }),
          ...(value.strict != null && { strict: value.strict }),
        },
      };
      return;
    default:
      throw invalidRequest(
        `text.format.type must be text, json_object or json_schema (got '${String(value.type)}')`,
        'text.format.type',
        'invalid_value',
      );
  }
}
