// Answer plan → the /text/chat_stream chunk sequence (docs/watsonx-api.md §3.3, samples #7–#10).
// SSE framing (ids, `event:` lines) is left to sse.ts; this file only decides the chunks.
import type { ChatPlan, PlannedChoice } from './chat.ts';
import { headerFields, timeFields, type ResponseMeta } from './chat-response.ts';
import { modelWarnings } from './models.ts';
import type { StreamEvent } from './sse.ts';

export type { StreamEvent };

interface Delta {
  delta: Record<string, unknown>;
  /** Completion tokens this delta adds to the running usage (2024 framing). */
  tokens: number;
}

function bodyDeltas(choice: PlannedChoice, nameLate: boolean): Delta[] {
  const deltas: Delta[] = [
    ...choice.reasoning.map((piece) => ({ delta: { reasoning_content: piece }, tokens: 1 })),
    ...(choice.content ?? []).map((piece) => ({ delta: { content: piece }, tokens: 1 })),
  ];
  for (const [index, call] of choice.toolCalls.entries()) {
    const start = { index, id: call.id, type: 'function' };
    // 2024 captures (mistral-large) sent the name in a second delta; 2025 ones in the first
    if (nameLate) {
      deltas.push({
        delta: { tool_calls: [{ ...start, function: { name: '', arguments: '' } }] },
        tokens: 0,
      });
      deltas.push({
        delta: { tool_calls: [{ index, function: { name: call.name, arguments: '' } }] },
        tokens: 1,
      });
    } else {
      deltas.push({
        delta: { tool_calls: [{ ...start, function: { name: call.name, arguments: '' } }] },
        tokens: 1,
      });
    }
    for (const piece of call.argumentPieces) {
      // continuation deltas: no id/type, and `name` is an empty string rather than absent
      deltas.push({
        delta: { tool_calls: [{ index, function: { name: '', arguments: piece } }] },
        tokens: 1,
      });
    }
  }
  return deltas;
}

function finishDelta(plan: ChatPlan, choice: PlannedChoice): Record<string, unknown> {
  if (choice.toolCalls.length > 0) return {};
  return plan.model.reasoning ? { reasoning_content: '' } : { content: '' };
}

/** Round-robin over the choices: with n > 1 watsonx interleaves them (0, 1, 0, 1, …). */
function interleave<T>(lists: T[][]): T[] {
  const result: T[] = [];
  const longest = Math.max(0, ...lists.map((list) => list.length));
  for (let step = 0; step < longest; step += 1) {
    for (const list of lists) if (step < list.length) result.push(list[step]!);
  }
  return result;
}

type Entry = { index: number; delta: Record<string, unknown>; finish: string | null; tokens: number };

export function chatStreamEvents(plan: ChatPlan, meta: ResponseMeta): StreamEvent[] {
  const legacy = plan.directives.framing === 2024;
  const header = headerFields(plan, meta.idHex, 'chat.completion.chunk');
  const times = timeFields(plan, meta.nowMs);
  const warnings = modelWarnings(plan.model);
  const promptTokens = plan.usage.prompt_tokens;

  const perChoice = plan.choices.map((choice): Entry[] => {
    const entries: Entry[] = bodyDeltas(choice, legacy).map((delta) => ({
      index: choice.index,
      finish: null,
      ...delta,
    }));
    const last = entries.at(-1);
    // 2024 streams put the finish_reason on the last content delta; 2025 ones add a finish chunk
    if (legacy && last) last.finish = choice.finishReason;
    else
      entries.push({
        index: choice.index,
        delta: finishDelta(plan, choice),
        finish: choice.finishReason,
        tokens: 0,
      });
    return entries;
  });
  const roles: Entry[] = plan.choices.map((choice) => ({
    index: choice.index,
    delta: legacy ? { role: 'assistant' } : { role: 'assistant', content: '' },
    finish: null,
    tokens: 0,
  }));

  let completionTokens = 0;
  const events: StreamEvent[] = [...roles, ...interleave(perChoice)].map((entry, position) => {
    completionTokens += entry.tokens;
    const runningUsage =
      position < roles.length
        ? { prompt_tokens: promptTokens, total_tokens: promptTokens }
        : {
            completion_tokens: completionTokens,
            prompt_tokens: promptTokens,
            total_tokens: promptTokens + completionTokens,
          };
    const data = {
      ...header,
      choices: [{ index: entry.index, finish_reason: entry.finish, delta: entry.delta }],
      ...times,
      ...(legacy ? { usage: runningUsage } : {}),
      ...(position === 0 && warnings ? { system: { warnings } } : {}),
    };
    return { event: 'message', data, finishes: entry.finish !== null };
  });
  events.push({ event: 'message', data: { ...header, choices: [], ...times, usage: plan.usage } });
  if (legacy || plan.directives.closeEvent) events.push({ event: 'close', data: {} });
  return events;
}
