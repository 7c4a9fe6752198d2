// Generation plan → the /text/generation_stream event sequence (docs/watsonx-api.md §4.3, sample
// #11): an empty first event with input_token_count and the warnings, then one event per token with
// the cumulative generated_token_count, `not_finished` until the last event's real stop_reason.
import { generationHeader, generationWarnings, type GenerationPlan } from './generation.ts';
import type { StreamEvent } from './sse.ts';

export function generationStreamEvents(plan: GenerationPlan, meta: { nowMs: number }): StreamEvent[] {
  const header = generationHeader(plan, meta.nowMs);
  const first: StreamEvent = {
    event: 'message',
    data: {
      ...header,
      results: [
        {
          generated_text: '',
          generated_token_count: 0,
          input_token_count: plan.inputTokenCount,
          stop_reason: 'not_finished',
          ...(plan.inputText === undefined ? {} : { input_text: plan.inputText }),
        },
      ],
      system: { warnings: generationWarnings(plan.model) },
    },
  };
  // nothing generated (max_new_tokens 0): one empty event still carries the stop_reason
  const pieces = plan.pieces.length > 0 ? plan.pieces : [''];
  const deltas = pieces.map((piece, index): StreamEvent => {
    const last = index === pieces.length - 1;
    const token = plan.tokens?.[index];
    return {
      event: 'message',
      data: {
        ...header,
        results: [
          {
            generated_text: piece,
            generated_token_count: plan.pieces.length === 0 ? 0 : index + 1,
            input_token_count: 0,
            stop_reason: last ? plan.stopReason : 'not_finished',
            ...(last && plan.seed !== undefined ? { seed: plan.seed } : {}),
            ...(token ? { generated_tokens: [token] } : {}),
          },
        ],
      },
      finishes: last,
    };
  });
  const events = [first, ...deltas];
  if (plan.directives.closeEvent) events.push({ event: 'close', data: {} });
  return events;
}
