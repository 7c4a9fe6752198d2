// The response object: the shell echoed from the request, and the non-stream answer (a watsonx
// chat answer read by readChatAnswer, replayed through the stream translator so that both paths
// give the same items). Pure.
import type { ChatAnswer, ChatEvent } from '../../watsonx/chat-events.ts';
import type { CreateResponseRequest } from '../schemas/request.ts';
import type { ResponseObject } from '../schemas/types.ts';
import { ResponseStreamTranslator } from './stream.ts';
import type { ToolOrigin } from './tools.ts';

/** A response before any output: what the request asked for, echoed as OpenAI does. */
export function responseShell(
  request: CreateResponseRequest,
  meta: { id: string; createdAt: number },
): ResponseObject {
  return {
    id: meta.id,
    object: 'response',
    created_at: meta.createdAt,
    status: 'in_progress',
    background: false,
    error: null,
    incomplete_details: null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    model: request.model,
    output: [],
    output_text: '',
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    previous_response_id: request.previous_response_id ?? null,
    reasoning: { effort: request.reasoning?.effort ?? null, summary: request.reasoning?.summary ?? null },
    store: request.store ?? true,
    temperature: request.temperature ?? 1,
    text: {
      format: (request.text?.format as Record<string, unknown> | null | undefined) ?? { type: 'text' },
    },
    tool_choice: request.tool_choice ?? 'auto',
    tools: request.tools ?? [],
    top_p: request.top_p ?? 1,
    truncation: 'disabled',
    usage: null,
    metadata: request.metadata ?? {},
  };
}

/** A whole answer as the events a stream of it would have given. */
export function answerEvents(answer: ChatAnswer): ChatEvent[] {
  const events: ChatEvent[] = [];
  if (answer.reasoning !== '') events.push({ type: 'reasoning', text: answer.reasoning });
  if (answer.text !== '') events.push({ type: 'text', text: answer.text });
  answer.toolCalls.forEach((call, index) => {
    events.push({ type: 'tool_call_start', index, id: call.id, name: call.name });
    events.push({
      type: 'tool_call_end',
      index,
      id: call.id,
      name: call.name,
      arguments: call.arguments,
      unsent: call.arguments,
    });
  });
  events.push({ type: 'finish', reason: answer.finishReason, raw: answer.rawFinishReason });
  return events;
}

export function toResponse(
  answer: ChatAnswer,
  options: {
    response: ResponseObject;
    tools: ReadonlyMap<string, ToolOrigin>;
    newItemId: (prefix: string) => string;
  },
): ResponseObject {
  const translator = new ResponseStreamTranslator(options);
  for (const event of answerEvents(answer)) translator.push(event);
  translator.finish(answer.usage);
  return translator.response;
}
