// Answer plan → the non-streaming /text/chat body (docs/watsonx-api.md §3.2, samples #4–#6).
import type { ChatPlan } from './chat.ts';
import { modelWarnings } from './models.ts';

export interface ResponseMeta {
  /** 32 hex characters; prefixed `chatcmpl-` (2025) or `chat-` (2024 framing). */
  idHex: string;
  nowMs: number;
}

export function completionId(plan: ChatPlan, idHex: string): string {
  return plan.directives.framing === 2024 ? `chat-${idHex}` : `chatcmpl-${idHex}`;
}

/** The fields every 2025 body starts with; 2024 bodies had neither `object` nor `model`. */
export function headerFields(plan: ChatPlan, idHex: string, object: string) {
  const id = completionId(plan, idHex);
  const modelId = plan.model.model_id;
  return plan.directives.framing === 2024
    ? { id, model_id: modelId }
    : { id, object, model_id: modelId, model: modelId };
}

export function timeFields(plan: ChatPlan, nowMs: number) {
  return {
    created: Math.floor(nowMs / 1000),
    ...(plan.model.version === undefined ? {} : { model_version: plan.model.version }),
    created_at: new Date(nowMs).toISOString(),
  };
}

export function toChatResponse(plan: ChatPlan, meta: ResponseMeta) {
  const warnings = modelWarnings(plan.model);
  return {
    ...headerFields(plan, meta.idHex, 'chat.completion'),
    choices: plan.choices.map((choice) => ({
      index: choice.index,
      message: {
        role: 'assistant',
        ...(choice.content === undefined ? {} : { content: choice.content.join('') }),
        ...(choice.reasoning.length > 0 ? { reasoning_content: choice.reasoning.join('') } : {}),
        ...(choice.toolCalls.length > 0
          ? {
              tool_calls: choice.toolCalls.map((call) => ({
                id: call.id,
                type: 'function',
                function: { name: call.name, arguments: call.argumentPieces.join('') },
              })),
            }
          : {}),
      },
      finish_reason: choice.finishReason,
    })),
    ...timeFields(plan, meta.nowMs),
    usage: plan.usage,
    ...(warnings ? { system: { warnings } } : {}),
  };
}
