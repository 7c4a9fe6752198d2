// Pure: a validated chat request → a deterministic answer plan (what every choice says, and why it
// stops). The same plan feeds the JSON answer (chat-response.ts) and the stream (chat-stream.ts).
import { createHash } from 'node:crypto';
import type { WatsonxChatMessage, WatsonxChatRequest, WatsonxTool } from '../watsonx/types.ts';
import { parseDirectives, type Directives } from './directives.ts';
import type { SimulatedError } from './errors.ts';
import { checkContext, type SimulatedModel } from './models.ts';
import { argumentsFromSchema, NumberSource, valueFromSchema } from './schema-value.ts';
import { estimateTokens, splitIntoPieces } from './tokens.ts';

export interface PlannedToolCall {
  id: string;
  name: string;
  /** The arguments JSON split into stream pieces (one token each). */
  argumentPieces: string[];
}

export interface PlannedChoice {
  index: number;
  reasoning: string[];
  /** Undefined when the choice answers with tool calls only (no `content` in the message). */
  content: string[] | undefined;
  toolCalls: PlannedToolCall[];
  finishReason: 'stop' | 'length' | 'tool_calls' | 'time_limit' | 'cancelled' | 'error';
}

export interface ChatPlan {
  model: SimulatedModel;
  choices: PlannedChoice[];
  usage: { completion_tokens: number; prompt_tokens: number; total_tokens: number };
  directives: Directives;
}

// tolerant of odd shapes: validation checks roles only, and any text must still be countable
function messageText(message: WatsonxChatMessage): string {
  if (message.role === 'assistant') {
    const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
    const callTexts = calls.map((call) => `${call.function?.name ?? ''} ${call.function?.arguments ?? ''}`);
    return [typeof message.content === 'string' ? message.content : '', ...callTexts].join(' ');
  }
  if (typeof message.content === 'string') return message.content;
  if (!Array.isArray(message.content)) return '';
  return message.content.map((part) => (part?.type === 'text' ? String(part.text) : '')).join('\n');
}

/** 3 tokens per message plus its text, plus the tools' JSON (see tokens.ts for the token rule). */
export function estimatePromptTokens(request: WatsonxChatRequest): number {
  const messages = request.messages.reduce(
    (sum, message) => sum + 3 + estimateTokens(messageText(message)),
    0,
  );
  return messages + (request.tools?.length ? estimateTokens(JSON.stringify(request.tools)) : 0);
}

function mentionIndex(text: string, name: string): number {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.search(new RegExp(`(?<![\\w])${escaped}(?![\\w])`, 'i'));
}

/** Which tools the simulated model calls (see README), or none. */
function chooseTools(request: WatsonxChatRequest, userText: string): WatsonxTool[] {
  const tools = request.tools ?? [];
  const last = request.messages.at(-1);
  if (tools.length === 0 || request.tool_choice_option === 'none' || last?.role === 'tool') return [];
  const named = request.tool_choice?.function.name;
  if (named !== undefined) return tools.filter((tool) => tool.function.name === named).slice(0, 1);
  if (request.tool_choice_option === 'required') return tools.slice(0, 1);
  const mentioned = tools
    .map((tool) => ({ tool, at: mentionIndex(userText, tool.function.name) }))
    .filter((entry) => entry.at >= 0)
    .sort((left, right) => left.at - right.at)
    .map((entry) => entry.tool);
  if (mentioned.length > 0) return mentioned;
  return /\b(call|use)/i.test(userText) && /\btools?\b/i.test(userText) ? tools.slice(0, 1) : [];
}

function quote(text: string, limit: number): string {
  return text.length > limit ? `${text.slice(0, limit)}...` : text;
}

function textAnswer(request: WatsonxChatRequest, model: SimulatedModel, userText: string): string {
  const trailingTools: string[] = [];
  for (let index = request.messages.length - 1; index >= 0; index -= 1) {
    const message = request.messages[index]!;
    if (message.role !== 'tool') break;
    trailingTools.unshift(messageText(message));
  }
  if (trailingTools.length === 1) return `The tool returned: ${trailingTools[0]}`;
  if (trailingTools.length > 1) return `The tools returned: ${trailingTools.join('; ')}`;
  return `Simulated answer from ${model.model_id}: you said "${quote(userText, 200)}"`;
}

function reasoningText(request: WatsonxChatRequest, tools: WatsonxTool[], userText: string): string {
  if (tools.length > 0)
    return `The request needs ${tools.map((tool) => tool.function.name).join(', ')}. I will call it.`;
  if (request.messages.at(-1)?.role === 'tool') return 'The tool has answered. I will report its result.';
  return `The user said "${quote(userText, 60)}". I will answer directly.`;
}

function formatted(request: WatsonxChatRequest, text: string, userText: string): string | undefined {
  const format = request.response_format;
  if (format?.type === 'json_object') return JSON.stringify({ answer: text });
  if (format?.type === 'json_schema') {
    return JSON.stringify(valueFromSchema(format.json_schema?.schema ?? {}, new NumberSource(userText)));
  }
  return undefined;
}

/** Cuts a choice to `budget` tokens in the order reasoning, content, tool calls (name + arguments). */
function truncate(choice: PlannedChoice, budget: number): PlannedChoice {
  let left = budget;
  const take = (pieces: string[]) => {
    const kept = pieces.slice(0, Math.max(0, left));
    left -= kept.length;
    return kept;
  };
  const reasoning = take(choice.reasoning);
  const content = choice.content && take(choice.content);
  const toolCalls: PlannedToolCall[] = [];
  for (const call of choice.toolCalls) {
    if (left <= 0) break;
    left -= 1;
    toolCalls.push({ ...call, argumentPieces: take(call.argumentPieces) });
  }
  return { ...choice, reasoning, content, toolCalls };
}

export function choiceTokens(choice: PlannedChoice): number {
  const calls = choice.toolCalls.reduce((sum, call) => sum + 1 + call.argumentPieces.length, 0);
  return choice.reasoning.length + (choice.content?.length ?? 0) + calls;
}

/** Context an agent adds to the user's turn (Claude Code's `<system-reminder>` blocks), not what the user said. */
const SYSTEM_REMINDER = /<system-reminder>[\s\S]*?<\/system-reminder>\s*/g;

function lastUserText(messages: WatsonxChatMessage[]): string {
  const user = messages.findLast((message) => message.role === 'user');
  return user ? messageText(user).replace(SYSTEM_REMINDER, '').trim() : '';
}

export function planChat(request: WatsonxChatRequest, model: SimulatedModel): ChatPlan | SimulatedError {
  const promptTokens = estimatePromptTokens(request);
  const contextError = checkContext(promptTokens, model);
  if (contextError) return contextError;
  const { directives, text: userText } = parseDirectives(lastUserText(request.messages));
  const tools = chooseTools(request, userText);
  const requestHash = createHash('sha256').update(JSON.stringify(request)).digest('hex');
  // max_tokens is deprecated but still honoured when max_completion_tokens is absent (0 = model maximum)
  const maxTokens = request.max_completion_tokens ?? (request as { max_tokens?: number }).max_tokens;
  const budget = maxTokens ? maxTokens : (model.limits?.maxOutputTokens ?? Infinity);
  const timeLimited = typeof request.time_limit === 'number' && request.time_limit <= 1;

  const choices = Array.from({ length: request.n ?? 1 }, (_, index): PlannedChoice => {
    const numbers = new NumberSource(userText);
    const toolCalls = tools.map((tool, call) => ({
      id: `chatcmpl-tool-${createHash('sha256').update(`${requestHash}:${index}:${call}`).digest('hex').slice(0, 32)}`,
      name: tool.function.name,
      argumentPieces: splitIntoPieces(
        directives.toolArguments ?? JSON.stringify(argumentsFromSchema(tool.function.parameters, numbers)),
      ),
    }));
    const text = textAnswer(request, model, userText);
    const content = formatted(request, text, userText) ?? (index > 0 ? `${text} (choice ${index})` : text);
    const planned: PlannedChoice = {
      index,
      reasoning:
        model.reasoning && request.include_reasoning !== false
          ? splitIntoPieces(reasoningText(request, tools, userText))
          : [],
      content: toolCalls.length > 0 ? undefined : splitIntoPieces(content),
      toolCalls,
      finishReason: toolCalls.length > 0 ? 'tool_calls' : 'stop',
    };
    let result = planned;
    if (timeLimited) result = { ...truncate(planned, 1), finishReason: 'time_limit' };
    else if (choiceTokens(planned) > budget)
      result = { ...truncate(planned, budget), finishReason: 'length' };
    // token_limit is a text-generation stop_reason; chat has no such finish_reason
    const finish = directives.finish === 'token_limit' ? undefined : directives.finish;
    return finish ? { ...result, finishReason: finish } : result;
  });

  const completionTokens = choices.reduce((sum, choice) => sum + choiceTokens(choice), 0);
  return {
    model,
    choices,
    usage: {
      completion_tokens: completionTokens,
      prompt_tokens: promptTokens,
      total_tokens: promptTokens + completionTokens,
    },
    directives,
  };
}
