// Stream framing for the Messages API: `event: <type>` then `data: <json>` — the Anthropic SDKs
// dispatch on the event name, so it must equal the JSON `type`. Keep-alives are `ping` events
// (skipped by the SDKs); a failure after the first byte is an `error` event, and nothing follows it.
import type { GatewayError } from '../server/errors.ts';
import { toAnthropicError } from './errors.ts';
import type { StreamEvent } from './schemas/types.ts';

export function sseEvent(event: StreamEvent | { type: string }): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

export const SSE_PING = sseEvent({ type: 'ping' });

export function sseFailure(error: GatewayError, requestId: string): string {
  return sseEvent(toAnthropicError(error, requestId));
}
