// Anthropic Messages request → watsonx /ml/v1/text/chat body. Pure: no I/O, no config reads.
// Every rule here is also a bullet in docs/anthropic.md, with the test that pins it.
import { invalidRequest } from '../../server/errors.ts';
import type {
  WatsonxChatMessage,
  WatsonxChatRequest,
  WatsonxTool,
  WatsonxToolCall,
  WatsonxUserContentPart,
} from '../../watsonx/types.ts';
import type {
  ContentBlockParam,
  CountTokensRequest,
  MessageParam,
  MessagesRequest,
  ToolParam,
} from '../schemas/messages.ts';

export interface MessagesRequestContext {
  /** watsonx model id after MODEL_MAP. */
  modelId: string;
  /** The model's output limit from the catalogue: max_tokens is clamped to it. */
  maxOutputTokens: number | undefined;
}

export interface TranslatedRequest {
  body: WatsonxChatRequest;
  /** What was left out because watsonx cannot do it (server tools), for a log line. */
  dropped: string[];
}

/** Blocks that only exist when one of Anthropic's server tools ran: nothing to give watsonx. */
const SERVER_BLOCKS = new Set([
  'server_tool_use',
  'web_search_tool_result',
  'web_fetch_tool_result',
  'code_execution_tool_result',
  'bash_code_execution_tool_result',
  'text_editor_code_execution_tool_result',
  'tool_search_tool_result',
  'container_upload',
  'mcp_tool_use',
  'mcp_tool_result',
]);

const EFFORT: Record<string, 'low' | 'medium' | 'high' | undefined> = {
  low: 'low',
  medium: 'medium',
  high: 'high',
  xhigh: 'high',
  max: 'high',
};

export function toWatsonxChatRequest(
  request: MessagesRequest,
  context: MessagesRequestContext,
): TranslatedRequest {
  const translated = toWatsonxPrompt(request, context.modelId);
  const body = translated.body;
  body.max_completion_tokens = Math.min(request.max_tokens, context.maxOutputTokens ?? Infinity);
  if (request.stop_sequences && request.stop_sequences.length > 0) body.stop = request.stop_sequences;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.top_p !== undefined) body.top_p = request.top_p;
  // top_k: watsonx chat has no such parameter; accepted and not sent.
  return translated;
}

/** The part of the request that makes the prompt (also what count_tokens counts). */
export function toWatsonxPrompt(request: CountTokensRequest, modelId: string): TranslatedRequest {
  const dropped: string[] = [];
  const system: string[] = [];
  if (typeof request.system === 'string') {
    if (request.system !== '') system.push(request.system);
  } else if (request.system) {
    system.push(...texts(request.system, 'system'));
  }
  const messages: WatsonxChatMessage[] = [];
  request.messages.forEach((message, index) => {
    const param = `messages[${index}]`;
    if (message.role === 'system') {
      // Claude Code sends system entries inside messages; watsonx chat templates want one leading system message.
      if (typeof message.content === 'string') {
        if (message.content !== '') system.push(message.content);
      } else system.push(...texts(message.content, param));
      return;
    }
    const converted =
      message.role === 'user'
        ? userMessages(message, param, dropped)
        : assistantMessage(message, param, dropped);
    for (const entry of converted) appendMerged(messages, entry);
  });
  if (messages.length === 0) {
    throw invalidRequest('messages: at least one user or assistant message is required', 'messages');
  }
  const body: WatsonxChatRequest = {
    model_id: modelId,
    messages: system.length > 0 ? [{ role: 'system', content: system.join('\n\n') }, ...messages] : messages,
  };

  const tools: WatsonxTool[] = [];
  for (const tool of request.tools ?? []) {
    const converted = toWatsonxTool(tool);
    if (converted) tools.push(converted);
    else dropped.push(`tool ${tool.name} (${tool.type ?? 'no input_schema'})`);
  }
  if (tools.length > 0) body.tools = tools;
  applyToolChoice(body, request, tools);

  const effort = reasoningEffort(request);
  if (effort) body.reasoning_effort = effort;

  const format = request.output_config?.format;
  if (format) {
    if (format.type !== 'json_schema' || !format.schema) {
      throw invalidRequest(
        `output_config.format: only {"type":"json_schema","schema":{...}} is supported (got '${format.type}')`,
        'output_config.format',
      );
    }
    body.response_format = {
      type: 'json_schema',
      json_schema: { name: 'output', schema: format.schema, strict: true },
    };
  }
  return { body, dropped };
}

/**
 * Whether the answer carries thinking blocks: only when the request asked for thinking (enabled or
 * adaptive) and did not ask for it to be omitted.
 */
export function wantsThinking(request: CountTokensRequest): boolean {
  const thinking = request.thinking;
  if (!thinking) return false;
  return (thinking.type === 'enabled' || thinking.type === 'adaptive') && thinking.display !== 'omitted';
}

function reasoningEffort(request: CountTokensRequest): 'low' | 'medium' | 'high' | undefined {
  const thinking = request.thinking;
  if (thinking?.type === 'disabled') return undefined;
  const effort = request.output_config?.effort;
  if (effort !== undefined) {
    const mapped = EFFORT[effort];
    if (!mapped) {
      throw invalidRequest(
        `output_config.effort must be one of low, medium, high, xhigh, max (got '${effort}')`,
        'output_config.effort',
      );
    }
    return mapped;
  }
  if (thinking?.type === 'enabled') {
    const budget = thinking.budget_tokens ?? 0;
    return budget < 4096 ? 'low' : budget < 16384 ? 'medium' : 'high';
  }
  return undefined;
}

function applyToolChoice(body: WatsonxChatRequest, request: CountTokensRequest, tools: WatsonxTool[]): void {
  const choice = request.tool_choice;
  if (!choice) return;
  switch (choice.type) {
    case 'auto':
      if (tools.length > 0) body.tool_choice_option = 'auto';
      return;
    case 'any':
      if (tools.length > 0) body.tool_choice_option = 'required';
      return;
    case 'none':
      if (tools.length > 0) body.tool_choice_option = 'none';
      return;
    case 'tool': {
      const name = choice.name;
      if (!name || !tools.some((tool) => tool.function.name === name)) {
        throw invalidRequest(
          `tool_choice: the tool '${name ?? ''}' is not among the request's tools`,
          'tool_choice.name',
        );
      }
      body.tool_choice = { type: 'function', function: { name } };
      return;
    }
    default:
      throw invalidRequest(
        `tool_choice.type must be auto, any, tool or none (got '${choice.type}')`,
        'tool_choice.type',
      );
  }
}

/**
 * Client tools → watsonx functions; Anthropic's own server tools (a dated `type` such as
 * `web_search_20250305`, or no input_schema) → undefined: watsonx cannot run them. Keys watsonx has
 * no use for (cache_control, strict, input_examples, defer_loading, …) are left out.
 */
function toWatsonxTool(tool: ToolParam): WatsonxTool | undefined {
  if (tool.type !== undefined && tool.type !== 'custom') return undefined;
  if (!tool.input_schema) return undefined;
  return {
    type: 'function',
    function: {
      name: tool.name,
      ...(tool.description !== undefined && { description: tool.description }),
      parameters: tool.input_schema,
    },
  };
}

function texts(blocks: readonly ContentBlockParam[], param: string): string[] {
  const out: string[] = [];
  blocks.forEach((block, index) => {
    if (block.type !== 'text' || typeof block.text !== 'string') {
      throw invalidRequest(
        `${param}[${index}]: only text blocks are accepted here (got '${block.type}')`,
        `${param}[${index}]`,
      );
    }
    if (block.text !== '') out.push(block.text);
  });
  return out;
}

/**
 * A user turn: its tool_result blocks become watsonx tool messages, placed first (they answer the
 * previous assistant turn), then one user message with the rest.
 */
function userMessages(message: MessageParam, param: string, dropped: string[]): WatsonxChatMessage[] {
  if (typeof message.content === 'string') {
    return message.content === '' ? [] : [{ role: 'user', content: message.content }];
  }
  const toolMessages: WatsonxChatMessage[] = [];
  const parts: WatsonxUserContentPart[] = [];
  message.content.forEach((raw, index) => {
    const block = raw as ContentBlockParam;
    const at = `${param}.content[${index}]`;
    switch (block.type) {
      case 'text':
        if (typeof block.text !== 'string')
          throw invalidRequest(`${at}: text blocks need text`, `${at}.text`);
        if (block.text !== '') parts.push({ type: 'text', text: block.text });
        return;
      case 'image':
        parts.push(imagePart(block, at));
        return;
      case 'document':
        parts.push({ type: 'text', text: documentText(block, at) });
        return;
      case 'tool_result':
        toolMessages.push(toolMessage(block, at));
        return;
      case 'thinking':
      case 'redacted_thinking':
        return;
      default:
        if (
          SERVER_BLOCKS.has(block.type) ||
          block.type === 'search_result' ||
          block.type === 'tool_reference'
        ) {
          dropped.push(`${at} (${block.type})`);
          return;
        }
        throw invalidRequest(`${at}: content blocks of type '${block.type}' are not supported`, `${at}.type`);
    }
  });
  if (parts.length === 0) return toolMessages;
  // Some watsonx models reject content arrays: text-only content is sent as one string.
  const content = parts.every((part) => part.type === 'text')
    ? parts.map((part) => (part as { text: string }).text).join('\n')
    : parts;
  return [...toolMessages, { role: 'user', content }];
}

function assistantMessage(message: MessageParam, param: string, dropped: string[]): WatsonxChatMessage[] {
  if (typeof message.content === 'string') {
    return message.content === '' ? [] : [{ role: 'assistant', content: message.content }];
  }
  const text: string[] = [];
  const toolCalls: WatsonxToolCall[] = [];
  message.content.forEach((raw, index) => {
    const block = raw as ContentBlockParam;
    const at = `${param}.content[${index}]`;
    switch (block.type) {
      case 'text':
        if (typeof block.text === 'string' && block.text !== '') text.push(block.text);
        return;
      case 'tool_use': {
        if (typeof block.id !== 'string' || typeof block.name !== 'string') {
          throw invalidRequest(`${at}: tool_use blocks need an id and a name`, at);
        }
        toolCalls.push({
          id: block.id,
          type: 'function',
          function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
        });
        return;
      }
      case 'thinking':
      case 'redacted_thinking':
        // watsonx has no input field for earlier reasoning.
        return;
      default:
        if (SERVER_BLOCKS.has(block.type)) {
          dropped.push(`${at} (${block.type})`);
          return;
        }
        throw invalidRequest(
          `${at}: assistant content blocks of type '${block.type}' are not supported`,
          `${at}.type`,
        );
    }
  });
  const content = text.join('\n');
  if (toolCalls.length > 0) {
    return [{ role: 'assistant', ...(content !== '' && { content }), tool_calls: toolCalls }];
  }
  return content === '' ? [] : [{ role: 'assistant', content }];
}

function imagePart(block: ContentBlockParam, at: string): WatsonxUserContentPart {
  const source = block.source as
    { type?: string; media_type?: string; data?: string; url?: string } | undefined;
  if (source?.type === 'base64' && typeof source.data === 'string' && typeof source.media_type === 'string') {
    return { type: 'image_url', image_url: { url: `data:${source.media_type};base64,${source.data}` } };
  }
  if (source?.type === 'url' && typeof source.url === 'string') {
    return { type: 'image_url', image_url: { url: source.url } };
  }
  throw invalidRequest(
    `${at}: images need a base64 or url source (file sources are not supported)`,
    `${at}.source`,
  );
}

function documentText(block: ContentBlockParam, at: string): string {
  const source = block.source as { type?: string; data?: string; content?: unknown } | undefined;
  if (source?.type === 'text' && typeof source.data === 'string') return source.data;
  if (source?.type === 'content') {
    if (typeof source.content === 'string') return source.content;
    if (Array.isArray(source.content))
      return texts(source.content as ContentBlockParam[], `${at}.source.content`).join('\n');
  }
  throw invalidRequest(
    `${at}: only text documents are supported (PDF, URL and file documents are not)`,
    `${at}.source`,
  );
}

function toolMessage(block: ContentBlockParam, at: string): WatsonxChatMessage {
  if (typeof block.tool_use_id !== 'string' || block.tool_use_id === '') {
    throw invalidRequest(`${at}: tool_result blocks need a tool_use_id`, `${at}.tool_use_id`);
  }
  let content = '';
  if (typeof block.content === 'string') content = block.content;
  else if (Array.isArray(block.content)) {
    content = (block.content as Array<ContentBlockParam | null>)
      .map((part, index) => {
        if (part === null || typeof part !== 'object') {
          throw invalidRequest(`${at}.content[${index}] must be a content block`, `${at}.content[${index}]`);
        }
        if (part.type === 'text' && typeof part.text === 'string') return part.text;
        // watsonx tool messages carry text only.
        if (part.type === 'image') return '[image omitted]';
        if (part.type === 'document') return documentText(part, at);
        return '';
      })
      .filter((text) => text !== '')
      .join('\n');
  }
  if (block.is_error === true) content = `Error: ${content}`;
  return { role: 'tool', tool_call_id: block.tool_use_id, content };
}

/** Consecutive user (or assistant) messages are legal in Anthropic's API; chat templates want turns. */
function appendMerged(messages: WatsonxChatMessage[], next: WatsonxChatMessage): void {
  const last = messages.at(-1);
  if (last?.role === 'user' && next.role === 'user') {
    if (typeof last.content === 'string' && typeof next.content === 'string') {
      last.content = `${last.content}\n\n${next.content}`;
    } else {
      last.content = [...asParts(last.content), ...asParts(next.content)];
    }
    return;
  }
  if (last?.role === 'assistant' && next.role === 'assistant' && !last.tool_calls) {
    const content = [last.content, next.content]
      .filter((text) => text !== undefined && text !== '')
      .join('\n\n');
    messages[messages.length - 1] = {
      role: 'assistant',
      ...(content !== '' && { content }),
      ...(next.tool_calls && { tool_calls: next.tool_calls }),
    };
    return;
  }
  messages.push(next);
}

function asParts(content: string | WatsonxUserContentPart[]): WatsonxUserContentPart[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content;
}

/** `messages[i].content[j]` of the first image block, for refusing images to text-only models. */
export function firstImageBlock(messages: readonly MessageParam[]): string | undefined {
  for (const [index, message] of messages.entries()) {
    if (message.role !== 'user' || !Array.isArray(message.content)) continue;
    const block = message.content.findIndex((entry) => entry.type === 'image');
    if (block >= 0) return `messages[${index}].content[${block}]`;
  }
  return undefined;
}
