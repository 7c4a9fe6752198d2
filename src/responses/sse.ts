// Stream framing of the Responses API: `event: <type>` and `data: <json>` per event (the type is in
// the JSON too, with its sequence_number), no [DONE]. Keep-alives are SSE comments, which every
// client skips (an unknown event type would throw in openai-node's stream helper).
import type { ResponseEvent } from './translate/stream.ts';

export function sseEvent(event: ResponseEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

export function sseEvents(events: readonly ResponseEvent[]): string {
  let frames = '';
  for (const event of events) frames += sseEvent(event);
  return frames;
}

export const SSE_KEEP_ALIVE = ': keep-alive\n\n';
